"""One way to run the studio and Chromium in tests: a real ``streamlit run Home.py`` on a free port, and
Debian's Chromium through playwright (never ``playwright install``). Every browser test file uses these."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

CHROMIUM = os.environ.get("VOXSTUDIO_CHROMIUM", "/usr/bin/chromium")
STARTUP_S = 60
WAIT_MS = 30_000

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

def unavailable(reason: str):
    if os.environ.get("VOXSTUDIO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"VOXSTUDIO_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser_or_skip():
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    return sync_playwright


@contextlib.contextmanager
def serve(folder: Path, env: dict, args: list[str] = (), host: str = "127.0.0.1", port: int | None = None):
    """A real studio on a free port with ``folder/home`` as its data home (``env`` on top of this process's
    environment less HF_TOKEN, ``args`` passed to streamlit); yields (url, home, log path), stopped afterwards."""
    home = folder / "home"
    home.mkdir(exist_ok=True)
    port = port or free_port()
    inherited = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    full = {**inherited, "VOXSTUDIO_HOME": str(home), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **env}
    log_path = folder / "streamlit.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none", *args],
        cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the studio did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.3)
        yield url, home, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    return context, page


def main_text(page) -> str:
    """Everything the app shows (main area and sidebar), once a script run has finished."""
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')")
    page.wait_for_timeout(300)
    return page.locator("[data-testid=stApp]").inner_text()


@pytest.fixture
def chromium():
    """playwright's ``sync_playwright``, checked before any studio starts: skip (fail under
    VOXSTUDIO_REQUIRE_BROWSER=1) without a browser."""
    return browser_or_skip()


@pytest.fixture
def studio(tmp_path):
    """A real studio with its own VOXSTUDIO_HOME and no HF_TOKEN; yields (url, home)."""
    with serve(tmp_path, {}) as (url, home, _log):
        yield url, home
