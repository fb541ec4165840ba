"""Consent to PUBLISH a dataset's recordings, separate from the consent to record them.

The Language page's consent (``dataset.json`` ``consent``) covers storing the recordings and fine-tuning on
them, on this machine. Pushing them to the Hugging Face Hub is another decision: the speaker agrees to a
statement that says who they are, what is published and whether the repository is public or private, and
that record (``dataset.json`` ``publish_consent``: speaker, statement, visibility, given_at) is what the
dataset card quotes. Consent to publish publicly also covers a private repository, never the other way round.

Stdlib only.
"""

from __future__ import annotations

from datetime import UTC, datetime

KEY = "publish_consent"  # the dataset.json field
PUBLIC, PRIVATE = "public", "private"


def visibility(public: bool) -> str:
    return PUBLIC if public else PRIVATE


def statement(dataset: str, speaker: str, *, public: bool) -> str:
    """The sentence the speaker agrees to: who, what is published, and where (public or private)."""
    who = (speaker or "").strip()
    if not who:
        raise ValueError("Name the speaker who gives the consent to publish (the person whose voice it is).")
    where = ("in a public repository on the Hugging Face Hub, where anyone can download and listen to them"
             if public else "in a private repository on the Hugging Face Hub, visible only to my account "
             "and its organisations")
    return (f"I am {who}, the speaker of the recordings in dataset '{dataset}', and I agree that these "
            f"recordings and their transcripts are published {where}.")


def record(dataset: str, speaker: str, *, public: bool) -> dict:
    """The ``publish_consent`` record written to dataset.json (see ``Dataset.consent_to_publish``)."""
    return {
        "given": True,
        "speaker": speaker.strip(),
        "statement": statement(dataset, speaker, public=public),
        "visibility": visibility(public),
        "given_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def stored(info: dict) -> dict | None:
    """The publish consent recorded in a dataset's info, or None when there is none (or it was withdrawn)."""
    found = (info or {}).get(KEY) or {}
    ok = found.get("given") and found.get("statement") and found.get("visibility") in (PUBLIC, PRIVATE)
    return found if ok else None


def covers(info: dict, *, public: bool) -> dict | None:
    """The stored publish consent when it covers a push with this visibility, else None."""
    found = stored(info)
    if found is None or (public and found["visibility"] != PUBLIC):
        return None
    return found


def how_to_give(dataset: str, *, public: bool) -> str:
    """How to give the consent, in the words both the Publish page and the CLI show."""
    flag = " --public" if public else ""
    return (f"the speaker gives it by ticking the consent box on the Publish page, or with "
            f"`voxstudio dataset consent {dataset} --speaker NAME{flag}`")


def check(info: dict, dataset: str, *, public: bool) -> dict:
    """The covering consent record; else a ValueError with one sentence saying how to give it."""
    found = covers(info, public=public)
    if found is not None:
        return found
    only_private = stored(info) is not None  # consented to a private repository, pushing a public one
    raise ValueError(f"Dataset '{dataset}' has no consent to publish its recordings "
                     f"{'publicly (only to a private repository)' if only_private else 'on the Hub'}: "
                     f"{how_to_give(dataset, public=public)}.")
