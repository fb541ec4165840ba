"""Driving the studio's pages through Streamlit's AppTest, shared by the tests/test_pages_*.py files.

Every helper fails the test on a page exception, so a test reads as the clicks and the text a user sees.
"""

from __future__ import annotations

from conftest import ROOT
from streamlit.testing.v1 import AppTest

DEFAULT_TIMEOUT = 60


def checked(at: AppTest) -> AppTest:
    """``at`` after asserting the last run raised nothing (the page would show a traceback)."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_app(page: str = "Home.py", dataset: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> AppTest:
    """The studio as a user opens it (Home is the entry point, ``?dataset=`` optional), then on ``page``."""
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=timeout)
    if dataset:
        at.query_params["dataset"] = dataset
    at.run()
    if page != "Home.py":
        at.switch_page(page).run()
    return checked(at)


def open_page(path: str, timeout: float = DEFAULT_TIMEOUT) -> AppTest:
    """One page file run on its own (``path`` relative to the repository root), as a bookmarked URL would."""
    at = AppTest.from_file(str(ROOT / path), default_timeout=timeout)
    at.run()
    return checked(at)


def rerun(at: AppTest) -> AppTest:
    """Run the page again (after a click or an input), failing on an exception."""
    at.run()
    return checked(at)


def texts(at: AppTest) -> str:
    """Everything the page shows as text, to search for what a user would read."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    for kind in (at.success, at.info, at.warning, at.error, at.subheader):
        parts += [str(e.value) for e in kind]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def button(at: AppTest, key: str):
    """The button with widget key ``key``."""
    return next(b for b in at.button if b.key == key)
