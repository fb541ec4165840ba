"""Sentences from NVIDIA Granary (``nvidia/Granary`` on the Hub), streamed, filtered and sampled.

Why a separate module: Granary is the only phrase source that touches the network, so everything that can
hang or fail lives here, behind one deadline. Granary's configs are named ``<lang>_<corpus>`` (``sv_voxpopuli``,
``sv_ytc``, ...) with splits ``asr`` (transcripts in the spoken language, which is what we want) and ``ast``
(translations, never used). ``datasets`` is imported lazily inside the worker so the UI stays light.
``repo_id`` may be a local folder with the same layout (the tests use one).
"""

from __future__ import annotations

import random
import threading

from voxstudio import text as textrule
from voxstudio.data.phrases import MAX_WORDS, MIN_WORDS, word_count

GRANARY_REPO = "nvidia/Granary"
SPLIT = "asr"  # never "ast": those are translations, not what the speaker said
TEXT_FIELDS = ("text", "answer")  # NeMo-style manifests: `text`; Canary-style ones call it `answer`
SHUFFLE_BUFFER = 1000
MIN_SCAN_PER_CONFIG = 500  # rows read per config: enough variety without downloading a corpus


class GranaryUnavailable(RuntimeError):
    """Granary could not give us phrases; the message is a short human reason."""


def language_configs(repo_id: str, language: str) -> list[str]:
    """Config names for ``language`` only (``sv_`` prefix), in the repository's order."""
    import datasets

    names = datasets.get_dataset_config_names(repo_id)
    return [name for name in names if name.startswith(f"{language}_")]


def keep(text: str) -> bool:
    """A sentence worth reading aloud: 3–20 words."""
    return MIN_WORDS <= word_count(text) <= MAX_WORDS


def _collect(repo_id: str, language: str, n: int, seed: int, cancel: threading.Event) -> list[str]:
    """Stream the ``asr`` split of each config, filter and dedupe, then sample ``n`` with ``seed``."""
    import datasets

    configs = language_configs(repo_id, language)
    if not configs:
        raise GranaryUnavailable(f"it has no configs for language '{language}'")
    scan = max(MIN_SCAN_PER_CONFIG, 3 * n)
    pool: dict[str, str] = {}
    for config in configs:
        stream = datasets.load_dataset(repo_id, config, split=SPLIT, streaming=True)
        stream = stream.shuffle(seed=seed, buffer_size=min(SHUFFLE_BUFFER, scan))
        for index, row in enumerate(stream):
            if cancel.is_set():
                return []
            if index >= scan:
                break
            text = textrule.clean(str(next((row[k] for k in TEXT_FIELDS if row.get(k)), "")))
            if keep(text):
                pool.setdefault(textrule.key(text), text)
    texts = sorted(pool.values(), key=textrule.key)
    if not texts:
        raise GranaryUnavailable(f"no {MIN_WORDS}–{MAX_WORDS} word sentences in its '{language}' configs")
    return random.Random(seed).sample(texts, min(n, len(texts)))


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if len(text) > 160:
        text = text[:157] + "..."
    return text


def fetch_texts(language: str, n: int, seed: int = 0, *, repo_id: str = GRANARY_REPO, timeout_s: float = 20.0
                ) -> list[str]:
    """Up to ``n`` Granary sentences for ``language``, or ``GranaryUnavailable`` within ``timeout_s``.

    The work runs in a daemon thread: a hung connection can't freeze the page, and after the deadline the
    worker is told to stop at its next row.
    """
    result: dict[str, object] = {}
    cancel = threading.Event()

    def work() -> None:
        try:
            result["texts"] = _collect(repo_id, language, n, seed, cancel)
        except BaseException as err:  # noqa: BLE001 - any failure means "fall back", with its reason
            result["error"] = err

    worker = threading.Thread(target=work, name=f"granary-{language}", daemon=True)
    worker.start()
    worker.join(max(0.0, timeout_s))
    if worker.is_alive():
        cancel.set()
        raise GranaryUnavailable(f"no answer within {timeout_s:g} s")
    if "error" in result:
        err = result["error"]
        if isinstance(err, GranaryUnavailable):
            raise err
        raise GranaryUnavailable(_reason(err)) from err  # type: ignore[arg-type]
    return list(result["texts"])  # type: ignore[arg-type]
