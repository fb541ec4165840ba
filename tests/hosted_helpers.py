"""Shared by the hosted browser tests: the studio and Chromium from browser_support, plus hosted page checks."""

from __future__ import annotations

import os
from pathlib import Path

from browser_support import (  # noqa: F401 - re-exported for the hosted test files
    ARGS,
    CHROMIUM,
    WAIT_MS,
    browser_or_skip,
    free_port,
    main_text,
    new_page,
)
from browser_support import serve as studio  # noqa: F401

from voxstudio.studio import wizard

# Every page of the studio by its URL path (Streamlit names them after the file: pages/4_Train.py -> /Train).
PAGE_PATHS = ["", *[Path(s.page).stem.split("_", 1)[1] for s in (*wizard.STEPS, *wizard.EXTRA_PAGES)]]
SIGN_IN_TITLE = "voxstudio · sign in"
# What a visitor who is not signed in must never read, whatever page or parameter they try.
NEVER_SHOWN_UNSIGNED = ("Current dataset", "Workspace", "This machine", "GPU", "CPU", "HF_TOKEN", "Run history",
                        "Signed in as", "Datasets", "Next step")


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
