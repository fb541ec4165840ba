"""Test helper run as a real, long-lived subprocess: a second editor of one dataset (like the CLI or another studio).

    python tests/dataset_editor.py DATASET

Reads commands on stdin, one per line, and answers ``ok`` (flushed) once the change is on disk:
``edit CLIP_ID TEXT``, ``delete CLIP_ID``, ``restore CLIP_ID``, ``text CLIP_ID`` (answers ``ok <text>``).
It keeps one ``Dataset`` object, so its row cache is warm between commands, like a studio process's.
"""

from __future__ import annotations

import sys

from voxstudio.data.dataset import Dataset


def main(name: str) -> None:
    ds = Dataset.open(name)
    for line in sys.stdin:
        cmd, _, rest = line.rstrip("\n").partition(" ")
        if cmd == "edit":
            clip_id, _, text = rest.partition(" ")
            ds.update_clip(clip_id, text=text)
            print("ok", flush=True)
        elif cmd == "delete":
            ds.delete(rest)
            print("ok", flush=True)
        elif cmd == "restore":
            ds.restore(rest)
            print("ok", flush=True)
        elif cmd == "text":
            print("ok", ds.get(rest).text, flush=True)
        elif cmd == "quit":
            return


if __name__ == "__main__":
    main(sys.argv[1])
