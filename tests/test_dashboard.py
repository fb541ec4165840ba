"""The "Open in Trackio" dashboard: a real `trackio show` over a real Trackio store in the test's home."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from voxstudio import workspace
from voxstudio.runs import dashboard, processes

PROJECT = "voice-demo"


@pytest.fixture
def store(home):
    """A real Trackio SQLite for PROJECT, written by trackio itself in a subprocess with TRACKIO_DIR set."""
    env = dict(os.environ, TRACKIO_DIR=str(workspace.trackio_dir()))
    code = (f"import trackio; trackio.init(project={PROJECT!r}, name='run-1', space_id=None); "
            "trackio.log({'train/loss': 1.5}); trackio.finish()")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120, capture_output=True)
    yield home
    dashboard.stop_dashboard()


def _wait_dead(pid: int, deadline_s: float = 10) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        processes.reap()
        stat = processes.proc_stat(pid)
        if stat is None or stat[0] == "Z":
            return
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} still alive")


def _projects(url: str) -> list[str]:
    """The projects the dashboard lists (its own API, as its front end asks for them)."""
    base = url.split("?")[0]
    headers = {"Content-Type": "application/json"}
    req = urllib.request.Request(base + "api/get_all_projects", data=b"{}", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["data"]


def test_open_reuse_and_restart(store):
    first = dashboard.open_dashboard(PROJECT, timeout_s=60)
    assert first.started
    assert f"project={PROJECT}" in first.url
    with urllib.request.urlopen(first.url, timeout=10) as resp:
        assert resp.status == 200
    assert PROJECT in _projects(first.url)  # it serves this home's Trackio store

    second = dashboard.open_dashboard(PROJECT, timeout_s=60)
    assert (second.pid, second.started) == (first.pid, False)

    os.killpg(first.pid, signal.SIGKILL)
    _wait_dead(first.pid)
    third = dashboard.open_dashboard(PROJECT, timeout_s=60)
    assert third.started and third.pid != first.pid
    with urllib.request.urlopen(third.url, timeout=10) as resp:
        assert resp.status == 200


def test_dashboard_that_cannot_start_says_so(home, monkeypatch):
    monkeypatch.setenv(dashboard.CMD_ENV, "/bin/false")
    with pytest.raises(dashboard.DashboardError, match=r"did not start within 3 s; its log: .*trackio\.log"):
        dashboard.open_dashboard(PROJECT, timeout_s=3)
    assert not (home / "trackio" / "dashboard.json").exists()


def test_hosted_shared_home_is_refused(home, monkeypatch):
    assert dashboard.dashboard_allowed() is None
    monkeypatch.setenv("VOXSTUDIO_AUTH", "password")
    sentence = dashboard.dashboard_allowed()
    assert sentence.startswith("The Trackio dashboard is not offered on a hosted studio")
    with pytest.raises(dashboard.DashboardError, match="other people's runs"):
        dashboard.open_dashboard(PROJECT)
