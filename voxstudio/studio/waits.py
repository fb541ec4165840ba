"""The studio's waits that can take more than a few seconds: their upper bounds and what the pages say.

No Streamlit here: the pages show ``spinner text`` while calling these, so every wait names what it waits for
and how long at most (a constant the tests can shrink), and a timeout ends in one sentence.
"""

from __future__ import annotations

import dataclasses
import time

from voxstudio import languages

GRANARY_TIMEOUT_S = 20.0  # the Language page's Granary phrase source: then the bundled pack


def granary_spinner() -> str:
    """What the Language page says while it streams Granary sentences."""
    return f"Streaming sentences from NVIDIA Granary (up to {GRANARY_TIMEOUT_S:g} s)…"


def granary_phrases(language: str, n: int, seed: int):
    """``phrases.load_phrases(source="granary")`` within ``GRANARY_TIMEOUT_S``; when Granary did not answer in
    time the notice is the one timeout sentence (the bundled phrases are shown instead, nothing is saved)."""
    from voxstudio.data import phrases

    bound = GRANARY_TIMEOUT_S
    started = time.monotonic()
    selection = phrases.load_phrases(language, source="granary", n=n, seed=seed, timeout_s=bound)
    if selection.source != "granary" and time.monotonic() - started >= bound:
        selection = dataclasses.replace(selection, notice=(
            f"Granary did not answer within {bound:g} s: showing the bundled {languages.label(language)} phrases "
            "instead (nothing was saved; press the button to try again)."))
    return selection
