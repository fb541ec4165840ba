"""The real trainer, SIGKILLed by itself at one chosen point of a save (a test stand-in for a power cut or OOM kill).

``python tests/killing_trainer.py POINT STEP RUN_DIR [--resume]`` runs ``voxstudio.training.train.main`` with one
Trainer method wrapped so that, when the checkpoint of optimizer step STEP is being written, the process kills
itself with SIGKILL (no cleanup, no handlers) at POINT:

- ``model``: after the checkpoint's weights are written, before its optimizer state;
- ``optimizer``: after the optimizer/scheduler state, before the RNG and trainer state;
- ``marker``: after every Trainer file, before voxstudio marks the checkpoint complete;
- ``best-swap``: while the best-checkpoint folder of STEP is swapped in (old moved away, new not yet in place).
"""

from __future__ import annotations

import os
import signal
import sys

from transformers import Trainer

from voxstudio.training import checkpoints, train


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    point, step, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if point == "model":
        original = Trainer._save_optimizer_and_scheduler

        def wrapped(self, output_dir):
            if self.state.global_step == step:
                die()
            return original(self, output_dir)

        Trainer._save_optimizer_and_scheduler = wrapped
    elif point == "optimizer":
        original = Trainer._save_rng_state

        def wrapped(self, output_dir):
            if self.state.global_step == step:
                die()
            return original(self, output_dir)

        Trainer._save_rng_state = wrapped
    elif point == "marker":
        original = checkpoints.mark_complete

        def wrapped(folder):
            if checkpoints.step_of(folder) == step:
                die()
            return original(folder)

        checkpoints.mark_complete = wrapped
    elif point == "best-swap":
        original = checkpoints.os.replace
        moved_away = []

        def wrapped(src, dst):
            src, dst = str(src), str(dst)
            if dst.endswith("best" + checkpoints.OLD_SUFFIX):
                moved_away.append(src)
            elif moved_away and dst.endswith("/best") and os.path.isfile(os.path.join(src, checkpoints.META)):
                import json

                with open(os.path.join(src, checkpoints.META)) as f:
                    if json.load(f)["step"] == step:
                        die()
            return original(src, dst)

        checkpoints.os.replace = wrapped
    else:
        raise SystemExit(f"unknown kill point {point!r}")
    return train.main(rest)


if __name__ == "__main__":
    sys.exit(main())
