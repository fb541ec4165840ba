"""Shared by the hosted browser tests: one real ``streamlit run Home.py`` per module, Chromium, page checks."""

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

from voxstudio.studio import wizard

CHROMIUM = os.environ.get("VOXSTUDIO_CHROMIUM", "/usr/bin/chromium")
STARTUP_S = 60
WAIT_MS = 30_000

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Every page of the studio by its URL path (Streamlit names them after the file: pages/4_Train.py -> /Train).
PAGE_PATHS = ["", *[Path(s.page).stem.split("_", 1)[1] for s in wizard.STEPS]]
SIGN_IN_TITLE = "voxstudio · sign in"
# What a visitor who is not signed in must never read, whatever page or parameter they try.
NEVER_SHOWN_UNSIGNED = ("Current dataset", "Workspace", "This machine", "GPU", "CPU", "HF_TOKEN", "Run history",
                        "Signed in as", "Datasets", "Next step")


def _unavailable(reason: str):
    if os.environ.get("VOXSTUDIO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"VOXSTUDIO_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser_or_skip():
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    return sync_playwright


@contextlib.contextmanager
def studio(folder: Path, env: dict, args: list[str] = (), host: str = "127.0.0.1", port: int | None = None):
    """A real hosted studio on a free port; yields (url, home, log path). Stopped (and its queue) afterwards."""
    home = folder / "home"
    home.mkdir(exist_ok=True)
    port = port or free_port()
    full = {**os.environ, "VOXSTUDIO_HOME": str(home), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **env}
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


def assert_only_sign_in(page, url: str, never: tuple[str, ...] = ()) -> None:
    """Open every page path, each with ``?dataset=`` naming one of ``never`` in turn: only the sign-in page shows
    and none of ``never`` (nor anything of NEVER_SHOWN_UNSIGNED) is in its text or its HTML."""
    queries = [f"?dataset={n}" for n in never] or [""]
    for n, path in enumerate(PAGE_PATHS):
        for query in ([""] if n == 0 else []) + [queries[n % len(queries)]]:
            page.goto(f"{url}/{path}{query}")
            page.get_by_text(SIGN_IN_TITLE).wait_for()
            text = main_text(page)
            html = page.content()
            for secret in (*NEVER_SHOWN_UNSIGNED, *never):
                assert secret not in text, (path, query, secret, text[:2000])
            for secret in never:
                assert secret not in html, (path, query, secret)
            assert page.get_by_test_id("stSidebarNav").count() == 0 or not page.get_by_test_id(
                "stSidebarNav").is_visible()


def grep_tree(root: Path, needles: list[str]) -> list[str]:
    """Files under ``root`` whose bytes contain any of ``needles``."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {n[:8]}…" for n in needles if n.encode() in data]
    return found


def grep_processes(needles: list[str]) -> list[str]:
    """Processes whose command line contains any of ``needles`` (argv is visible to every user of a machine)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        found += [f"{proc.name}: {n[:8]}…" for n in needles if n.encode() in cmdline]
    return found
