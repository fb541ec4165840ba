"""Hugging Face datasets: a ``save_to_disk`` folder, a local hub-layout folder (parquet / arrow / ``data/``), or a
hub id (streamed). The audio column is cast to ``Audio(decode=False)`` and decoded by ``voxstudio.data.audio``
(datasets' own decoding needs torchcodec). Usual columns are found by name (``text``/``sentence``/``transcription``
…, ``language``/``locale``, ``speaker_id``/``client_id``); ``--column FIELD=COLUMN`` maps others.

``datasets`` is imported inside the functions: the UI imports this module without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from voxstudio.data.layouts.manifests import LANGUAGE_COLUMNS, SPEAKER_COLUMNS, TEXT_COLUMNS
from voxstudio.data.layouts.source import Item, Options, Plan, inside

AUDIO_COLUMNS = ("audio",)
DISK_MARKERS = ("dataset_info.json", "dataset_dict.json", "state.json")


def is_saved(folder: Path) -> bool:
    return any((folder / m).is_file() for m in DISK_MARKERS[:2])


def is_hub_layout(folder: Path) -> bool:
    return any(folder.glob("*.parquet")) or any(folder.glob("*.arrow")) or any(folder.glob("data/*.parquet")) \
        or any(folder.glob("data/*.arrow"))


def plan_hf(name: str, opts: Options, *, hub: bool) -> Plan:
    import datasets  # lazy: heavy, and only needed for this source kind

    split = opts.split
    try:
        if hub:
            loaded = datasets.load_dataset(name, split=split or "train", streaming=True)
        elif is_saved(Path(name)):
            loaded = datasets.load_from_disk(name)
        else:
            loaded = datasets.load_dataset(name, split=split)
    except Exception as exc:  # datasets raises many types; the user needs one sentence
        where = " (and there is no local file or folder by that name)" if hub else ""
        raise ValueError(f"could not load the Hugging Face dataset {name!r}{where}: {exc}") from exc
    if isinstance(loaded, datasets.DatasetDict | datasets.IterableDatasetDict):
        if split is not None and split not in loaded:
            raise ValueError(f"{name!r} has no split {split!r}; it has: {', '.join(loaded)}")
        parts = [(split, loaded[split])] if split else list(loaded.items())
    else:
        parts = [(split or "train", loaded)]
    plans = [(part_name, part, *_columns(part, opts.columns, name)) for part_name, part in parts]
    rows = sum(_length(part) or 0 for _, part in parts) if all(_length(p) is not None for _, p in parts) else None

    def items() -> Iterator[Item]:
        for part_name, part, audio_col, text_col, lang_col, spk_col in plans:
            part = part.cast_column(audio_col, datasets.Audio(decode=False))
            for n, row in enumerate(part):
                value = row.get(audio_col) or {}
                data = value.get("bytes") if isinstance(value, dict) else None
                path = value.get("path") if isinstance(value, dict) else None
                audio = data if data else (Path(path) if path and not hub and _readable(Path(path), opts) else None)
                problem = None if audio is not None else "audio not available (no bytes and no local file)"
                yield Item(f"{part_name}[{n}]", audio, row.get(text_col), row.get(lang_col) if lang_col else None,
                           row.get(spk_col) if spk_col else None, problem,
                           Path(str(path).replace("\\", "/")).name if path else None)

    where = "Hugging Face Hub dataset" if hub else "Hugging Face dataset"
    shown = ", ".join(p for p, *_ in plans)
    return Plan("hf", f"{where} ({name}, {'split' if len(plans) == 1 else 'splits'} {shown})", rows, items())


def _readable(path: Path, opts: Options) -> bool:
    """A row's audio named by path only: read when it is a file, and inside the archive or upload it came in."""
    return path.is_file() and (opts.local_paths or (opts.bound is not None and inside(path, opts.bound)))


def _length(part) -> int | None:
    try:
        return len(part)
    except TypeError:  # a stream: the card's count when it has one
        info = getattr(part, "info", None)
        splits = getattr(info, "splits", None) or {}
        split = getattr(part, "split", None)
        return splits[str(split)].num_examples if split is not None and str(split) in splits else None


def _columns(part, columns: dict[str, str], name: str) -> tuple[str, str, str | None, str | None]:
    import datasets

    features = part.features or {}
    names = list(features) or list(getattr(part, "column_names", None) or [])
    audio_col = columns.get("audio") or next(
        (c for c in names if isinstance(features.get(c), datasets.Audio)), None) or _first(names, AUDIO_COLUMNS)
    text_col = columns.get("text") or _first(names, TEXT_COLUMNS)
    if not audio_col or audio_col not in names:
        raise ValueError(f"{name!r} has no audio column I recognise; map it with --column audio=COLUMN "
                         f"(columns={{'audio': COLUMN}} in Python). Columns: {', '.join(names)}")
    if not text_col or text_col not in names:
        raise ValueError(f"{name!r} has no text column I recognise; map it with --column text=COLUMN "
                         f"(columns={{'text': COLUMN}} in Python). Columns: {', '.join(names)}")
    lang_col = columns.get("language") or _first(names, LANGUAGE_COLUMNS)
    spk_col = columns.get("speaker") or _first(names, SPEAKER_COLUMNS)
    return audio_col, text_col, lang_col, spk_col


def _first(names: list[str], wanted: tuple[str, ...]) -> str | None:
    return next((n for w in wanted for n in names if n.lower() == w), None)
