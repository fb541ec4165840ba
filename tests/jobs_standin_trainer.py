"""A stand-in trainer for the job state-machine tests: a real process that speaks the run-folder protocol.

``python tests/jobs_standin_trainer.py RUN_DIR [--resume]``: counts ``max_steps`` steps (checkpointing the
step number), writes status.json like the real trainer, prints a log line per step, saves and reports
``stopped`` on SIGTERM. Knobs (environment): STANDIN_STEP_S (seconds per step), STANDIN_IGNORE_TERM=1
(ignore SIGTERM so that only SIGKILL ends it). Appends "start RUN"/"end RUN" to $VOXSTUDIO_HOME/order.txt
so tests can check the queue order.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from voxstudio.runs import runfolder

folder = Path(sys.argv[1])
resume = "--resume" in sys.argv[2:]
config = json.loads((folder / "config.json").read_text())
total = config["max_steps"] if config["max_steps"] > 0 else 5
step_s = float(os.environ.get("STANDIN_STEP_S", "0.02"))
checkpoint = folder / "checkpoints" / "step.txt"
order = Path(os.environ["VOXSTUDIO_HOME"]) / "order.txt"
stop_requested = False


def on_term(signum, frame):
    global stop_requested
    stop_requested = True


signal.signal(signal.SIGTERM, signal.SIG_IGN if os.environ.get("STANDIN_IGNORE_TERM") else on_term)
with open(order, "a") as f:
    f.write(f"start {folder.name}\n")
first = int(checkpoint.read_text()) if resume and checkpoint.exists() else 0
print(f"standin: argv={sys.argv[1:]}", flush=True)
print(f"standin: token in environment: {'yes' if os.environ.get('HF_TOKEN') else 'no'}", flush=True)
if resume:
    print(f"standin: resumed from step {first}", flush=True)
runfolder.write_status(folder, state="running", phase="train", step=first, total_steps=total)
for step in range(first + 1, total + 1):
    time.sleep(step_s)
    checkpoint.parent.mkdir(exist_ok=True)
    checkpoint.write_text(str(step))
    print(f"step {step}/{total} loss {1 / step:.4f}", flush=True)
    runfolder.write_status(folder, step=step, loss=1 / step, eta_s=(total - step) * step_s)
    if stop_requested:
        print(f"standin: SIGTERM received, checkpoint at step {step}", flush=True)
        with open(order, "a") as f:  # before the final state, which is what tests wait for
            f.write(f"end {folder.name}\n")
        runfolder.write_status(folder, state="stopped", phase="stopped", message="Stopped by the user.")
        sys.exit(0)
with open(order, "a") as f:
    f.write(f"end {folder.name}\n")
runfolder.write_status(folder, state="succeeded", phase="done", message="Finished.")
