"""A trainer process's identity and lifecycle (stdlib only): start time, liveness, reaping, signals.

Why the start time: pids are reused. A process is "ours" only if ``/proc/<pid>/stat`` still shows the
start time recorded when we launched it, so a stranger that inherited the pid is never mistaken for the
trainer, nor signalled. Children of this process are kept as ``Popen`` objects and polled (waitpid
WNOHANG) so that none lingers as a zombie and their exit code stays known.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

# Processes started by this process (trainers, supervisors); polled so they never linger as zombies.
children: dict[int, subprocess.Popen] = {}


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of ``pid``, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3, starttime field 22
    return fields[0], int(fields[19])


def start_time(pid: int) -> int | None:
    stat = proc_stat(pid)
    return stat[1] if stat else None


def reap() -> None:
    """Collect exited children (Popen keeps their exit code, which status() may still need)."""
    for proc in list(children.values()):
        proc.poll()


def child_of(job: dict) -> subprocess.Popen | None:
    """Our ``Popen`` of the process recorded in ``job`` — only if it is the same process (pid AND start time)."""
    proc = children.get(job.get("pid"))
    if proc is None or getattr(proc, "voxstudio_start", None) != job.get("proc_start"):
        return None
    return proc


def alive(job: dict) -> tuple[bool, int | None]:
    """Is the process recorded in ``job`` still the running trainer? Also returns its exit code if known.

    Identity first: only a child we started with this very start time is polled (reaped), and a pid that now
    belongs to another process is never waited for, reaped or reported as the trainer.
    """
    pid = job.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False, None
    proc = child_of(job)
    if proc is not None:
        rc = proc.poll()
        if rc is not None:
            return False, rc
    stat = proc_stat(pid)
    if stat is None or stat[1] != job.get("proc_start"):  # gone, or the pid now belongs to someone else
        return False, None
    return stat[0] not in ("Z", "X"), None


def describe_exit(rc: int | None) -> str:
    if rc is None:
        return "the trainer process is gone"
    if rc == -signal.SIGKILL:
        return "the trainer was killed by SIGKILL (often the system running out of memory)"
    if rc < 0:
        try:
            return f"the trainer was killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"the trainer was killed by signal {-rc}"
    return f"the trainer exited with code {rc} without reporting a result"


def signal_group(job: dict, sig: int) -> bool:
    """Signal the trainer's process group, only if the recorded process is still the trainer."""
    ok, _ = alive(job)
    if not ok:
        return False
    try:
        os.killpg(job["pid"], sig)  # own session: the process group id is the trainer's pid
    except ProcessLookupError:
        return False
    return True


def spawn(argv: list[str], log_path: Path, env: dict) -> subprocess.Popen:
    """Start ``argv`` detached in its own session (its own process group), output appended to ``log_path``."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, close_fds=True)
    proc.voxstudio_start = start_time(proc.pid)  # its identity, for child_of()
    children[proc.pid] = proc
    return proc
