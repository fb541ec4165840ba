"""Test helper run as a real subprocess: append real clips to a dataset in a loop.

    python tests/dataset_appender.py DATASET COUNT TAG [--wait]

Uses ``VOXSTUDIO_HOME`` from the environment. Prints ``saved <clip_id>`` (flushed) after each clip is fully
written, so a test can SIGKILL it at any moment and know exactly which clips must survive. With ``--wait`` it prints
``ready`` and waits for a line on stdin, so that two writers start at the same moment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from voxstudio.data.dataset import Dataset

CLIPS = sorted((Path(__file__).resolve().parent / "fixtures" / "speech" / "clips").glob("*/stp_*.wav"))


def main(name: str, count: int, tag: str, wait: bool) -> None:
    ds = Dataset.open(name)
    if wait:
        print("ready", flush=True)
        sys.stdin.readline()
    for i in range(count):
        path = CLIPS[i % len(CLIPS)]
        clip = ds.add_clip(path, f"{tag} take {i} {path.stem}", language="en", source=tag, name=path.name)
        print("saved", clip.clip_id, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], "--wait" in sys.argv[4:])
