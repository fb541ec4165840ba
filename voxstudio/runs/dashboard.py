"""A local Trackio dashboard over the data home's TRACKIO_DIR: start one (detached), or reuse the running one.

``trackio show`` (0.43) serves every project of ``TRACKIO_DIR`` (read at import) and takes its port from
``GRADIO_SERVER_PORT``; we pick a free port, start it in its own session with its output in
``<home>/trackio/trackio.log``, and remember pid + port + process start time in ``<home>/trackio/dashboard.json``.
The project is chosen in the URL (``?project=``), so one dashboard serves every project of the home.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from voxstudio import hosting, workspace
from voxstudio.atomicfile import write_atomic
from voxstudio.runs import processes

# Tests point this at a missing executable to see the failure path.
CMD_ENV = "VOXSTUDIO_TRACKIO_CMD"


class DashboardError(RuntimeError):
    """The dashboard could not be started; the message is one sentence for the user."""


@dataclass(frozen=True)
class Dashboard:
    url: str
    pid: int
    started: bool  # False: an already running dashboard was reused


def _state_path() -> Path:
    return workspace.trackio_dir() / "dashboard.json"


def _log_path() -> Path:
    return workspace.trackio_dir() / "trackio.log"


def _url(port: int, project: str | None) -> str:
    base = f"http://127.0.0.1:{port}/"
    return base + ("?" + urllib.parse.urlencode({"project": project}) if project else "")


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_state() -> dict | None:
    try:
        state = json.loads(_state_path().read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _running(state: dict | None) -> bool:
    """The recorded dashboard is alive, is the very process we started (start time), and its port answers."""
    if not state or not isinstance(state.get("pid"), int) or not isinstance(state.get("port"), int):
        return False
    processes.reap()
    stat = processes.proc_stat(state["pid"])
    if stat is None or stat[0] == "Z" or stat[1] != state.get("proc_start"):
        return False
    return _answers(state["port"])


def _argv() -> list[str]:
    cmd = os.environ.get(CMD_ENV)
    return [cmd, "show"] if cmd else [sys.executable, "-m", "trackio.cli", "show"]


def dashboard_allowed() -> str | None:
    """None when the dashboard may be offered; else the sentence why not."""
    if hosting.is_hosted():  # it listens on the server only, and one dashboard reads a whole Trackio folder
        return ("The Trackio dashboard is not offered on a hosted studio: it listens on the server only and could "
                "show other people's runs; the charts on this page are yours.")
    return None


START_TIMEOUT_S = 20.0  # the longest the Train page waits for a dashboard to answer


def open_dashboard(project: str, timeout_s: float = START_TIMEOUT_S) -> Dashboard:
    """Start (or reuse) the home's Trackio dashboard and return its URL for ``project``."""
    refusal = dashboard_allowed()
    if refusal:
        raise DashboardError(refusal)
    state = _read_state()
    if _running(state):
        return Dashboard(url=_url(state["port"], project), pid=state["pid"], started=False)
    folder = workspace.trackio_dir()
    port = _free_port()
    env = hosting.trainer_env(dict(os.environ))  # no Hub token or sign-in secret for the dashboard
    env.update(TRACKIO_DIR=str(folder), GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1")
    log = _log_path()
    try:
        with open(log, "ab") as out:
            proc = subprocess.Popen(_argv(), env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=folder)
    except OSError as exc:
        raise DashboardError(f"The Trackio dashboard could not be started ({exc.strerror}); its log: {log}") from exc
    proc.voxstudio_start = processes.start_time(proc.pid)
    processes.children[proc.pid] = proc
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if _answers(port):
            write_atomic(_state_path(), json.dumps(
                {"pid": proc.pid, "port": port, "proc_start": proc.voxstudio_start}).encode())
            return Dashboard(url=_url(port, project), pid=proc.pid, started=True)
        time.sleep(0.2)
    _kill(proc.pid)
    proc.wait(timeout=10)
    raise DashboardError(f"The Trackio dashboard did not start within {timeout_s:g} s; its log: {log}")


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def stop_dashboard() -> None:
    """Stop the home's dashboard if it is the one we recorded (tests, cleanup)."""
    state = _read_state()
    if state and isinstance(state.get("pid"), int) and processes.start_time(state["pid"]) == state.get("proc_start"):
        _kill(state["pid"])
        proc = processes.children.pop(state["pid"], None)
        if proc is not None:
            proc.wait(timeout=10)
    _state_path().unlink(missing_ok=True)
