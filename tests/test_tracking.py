"""tracking.py reads what the real Trackio 0.43 writes (a subprocess calls trackio.init/log/finish)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

from voxstudio import workspace
from voxstudio.runs import tracking

WRITER = textwrap.dedent(
    """
    import trackio
    # like transformers' TrackioCallback: no explicit step, the real step rides along as train/global_step
    trackio.init(project="my-voice.fr", name="run-a", space_id=None)
    for step, loss in [(5, 2.5), (10, 1.25), (15, float("nan"))]:
        trackio.log({"train/loss": loss, "train/learning_rate": 1e-3, "train/global_step": step})
    trackio.log({"eval/wer": 0.5, "eval/cer": 0.25, "train/global_step": 10})
    trackio.log({"eval/wer": 0.125, "train/global_step": 15, "note": "text is ignored"})
    trackio.finish()
    trackio.init(project="my-voice.fr", name="run-b", space_id=None)
    for step in range(3):
        trackio.log({"train/loss": 3.0 - step}, step=step)
    # a resumed run logs step 2 again: the later value wins
    trackio.log({"train/loss": 0.75}, step=2)
    trackio.finish()
    """
)


def write_real_trackio(home) -> None:
    env = dict(os.environ, TRACKIO_DIR=str(workspace.trackio_dir()), HF_HUB_OFFLINE="1")
    env.pop("TRACKIO_SPACE_ID", None)
    subprocess.run([sys.executable, "-c", WRITER], env=env, check=True, capture_output=True, timeout=120)


def test_series_from_real_trackio_database(home):
    write_real_trackio(home)
    assert "my-voicefr" in tracking.projects()
    assert tracking.runs("my-voice.fr") == ["run-a", "run-b"]

    got = tracking.series("my-voice.fr", "run-a")
    assert got["train/loss"][:2] == [(5, 2.5), (10, 1.25)]
    assert got["train/loss"][2][0] == 15 and math.isnan(got["train/loss"][2][1])
    assert got["eval/wer"] == [(10, 0.5), (15, 0.125)]
    assert got["eval/cer"] == [(10, 0.25)]
    assert list(got)[:2] == ["train/loss", "train/learning_rate"]  # the requested order

    only = tracking.series("my-voice.fr", "run-a", keys=("eval/wer",))
    assert list(only) == ["eval/wer"]
    assert "note" not in tracking.series("my-voice.fr", "run-a", keys=None)

    assert tracking.series("my-voice.fr", "run-b")["train/loss"] == [(0, 3.0), (1, 2.0), (2, 0.75)]
    assert tracking.latest("my-voice.fr", "run-a")["eval/wer"] == 0.125


def test_missing_project_or_run_gives_empty_series(home):
    assert tracking.series("nobody", "nothing") == {}
    assert tracking.runs("nobody") == []
    write_real_trackio(home)
    assert tracking.series("my-voice.fr", "no-such-run") == {}
    # a file that is not a database is shown as "no data", not a crash
    (workspace.trackio_dir() / "broken.db").write_bytes(b"not sqlite at all")
    assert tracking.series("broken", "run-a") == {}
