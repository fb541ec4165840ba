"""The licences a user chooses between when publishing: one list for models, one for datasets.

Nothing is chosen for the user: the Publish page offers these with no preselected value, and the CLI refuses
``publish`` / ``push-dataset`` without ``--licence`` / ``--data-licence``. The keys are the Hub's licence
identifiers (what the cards' ``license`` front matter holds). Stdlib only.
"""

from __future__ import annotations

MODEL = {
    "apache-2.0": "Apache 2.0 (Voxtral's own licence: use, change and share, also commercially)",
    "mit": "MIT (use, change and share, also commercially)",
    "cc-by-4.0": "CC BY 4.0 (share and adapt with credit)",
    "cc-by-nc-4.0": "CC BY-NC 4.0 (share and adapt with credit, non-commercial only)",
    "openrail": "OpenRAIL (open, with use restrictions)",
}
DATA = {
    "cc-by-4.0": "CC BY 4.0 (anyone may share and adapt the recordings, with credit)",
    "cc-by-sa-4.0": "CC BY-SA 4.0 (with credit, adaptations under the same licence)",
    "cc-by-nc-4.0": "CC BY-NC 4.0 (with credit, non-commercial only)",
    "cc-by-nc-nd-4.0": "CC BY-NC-ND 4.0 (with credit, non-commercial, no adaptations)",
    "cc0-1.0": "CC0 1.0 (public domain: no conditions at all)",
}
KINDS = {"model": (MODEL, "--licence"), "data": (DATA, "--data-licence")}


def label(licence: str) -> str:
    """'cc-by-4.0 — CC BY 4.0 (...)' for a select box."""
    return f"{licence} — {MODEL.get(licence) or DATA.get(licence) or licence}"


def check(licence: str | None, kind: str = "model", *, flag: str | None = None) -> str:
    """``licence`` when it is one of the choices for ``kind`` ("model" or "data"); else a ValueError with one
    sentence naming the flag (default ``--licence`` / ``--data-licence``) and the choices."""
    choices, default_flag = KINDS[kind]
    licence = (licence or "").strip().lower()
    what = "the model" if kind == "model" else "the dataset (the recordings and transcripts)"
    if licence not in choices:
        given = f"{licence!r} is not one of the choices" if licence else "no licence was chosen"
        raise ValueError(f"Choose a licence for {what} with {flag or default_flag} ({given}): "
                         f"one of {', '.join(choices)}.")
    return licence
