"""Exporting a dataset to the layouts other tools read: a seed JSONL manifest, a NeMo manifest (relative or
absolute paths), an AudioFolder (folder or zip), and an in-memory ``datasets.Dataset``. Every folder and zip
export carries ``dataset.json`` (languages, speakers, consent, licence) beside the audio. Our exports import back
through ``importers`` sample for sample and text for text.

UI-safe: ``datasets`` is imported lazily, inside ``to_hf_dataset``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from voxstudio.atomicfile import write_atomic
from voxstudio.data.audio import SAMPLE_RATE
from voxstudio.data.dataset import Clip, Dataset

SEED_MANIFEST = "manifest.jsonl"
AUDIOFOLDER_METADATA = "metadata.jsonl"
NEMO_MANIFEST = "manifest.json"
INFO = "dataset.json"


def _row(clip: Clip) -> dict:
    return {"text": clip.text, "language": clip.language, "speaker": clip.speaker, "duration_s": clip.duration_s}


def _rows(ds: Dataset, clips: list[Clip] | None = None) -> list[tuple[Clip, Path, dict]]:
    return [(clip, ds.audio_path(clip), _row(clip)) for clip in (ds.clips() if clips is None else clips)]


def _prepare_out(out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} is not an empty folder; export into a new or empty folder.")
    (out / "audio").mkdir(parents=True, exist_ok=True)
    return out


def _info(ds: Dataset) -> bytes:
    """dataset.json as exported: the dataset's own record (consent, licence, languages, speakers)."""
    return json.dumps(ds.info, indent=2, ensure_ascii=False).encode("utf-8")


def _write_export(ds: Dataset, out_dir, name: str, make_row: Callable[[str, dict], dict]) -> Path:
    out = _prepare_out(out_dir)
    lines = []
    for clip, src, row in _rows(ds):
        rel = f"audio/{clip.clip_id}.wav"
        shutil.copyfile(src, out / rel)
        lines.append(json.dumps(make_row(rel, row), ensure_ascii=False))
    write_atomic(out / INFO, _info(ds))
    return write_atomic(out / name, "".join(line + "\n" for line in lines).encode("utf-8"))


def export_jsonl(ds: Dataset, out_dir: str | os.PathLike) -> Path:
    """Seed-format manifest (``audio_path`` relative to it, ``text``, ``language``, ``speaker``) + WAVs;
    returns the manifest path."""
    return _write_export(ds, out_dir, SEED_MANIFEST, lambda rel, row: {"audio_path": rel, **row})


def export_audiofolder(ds: Dataset, out_dir: str | os.PathLike) -> Path:
    """AudioFolder layout (``datasets.load_dataset("audiofolder", data_dir=...)`` reads it); returns the folder."""
    return _write_export(ds, out_dir, AUDIOFOLDER_METADATA, lambda rel, row: {"file_name": rel, **row}).parent


def export_nemo(ds: Dataset, out_dir: str | os.PathLike, *, absolute: bool = False) -> Path:
    """NeMo manifest ``manifest.json`` (JSON lines: ``audio_filepath``, ``duration``, ``text``, ``lang``,
    ``speaker``) + WAVs; paths relative to the manifest, or absolute; returns the manifest path."""
    out = Path(out_dir).expanduser().resolve()

    def row(rel: str, fields: dict) -> dict:
        return {"audio_filepath": str(out / rel) if absolute else rel, "duration": fields["duration_s"],
                "text": fields["text"], "lang": fields["language"], "speaker": fields["speaker"]}

    return _write_export(ds, out, NEMO_MANIFEST, row)


def export_zip(ds: Dataset) -> bytes:
    """The AudioFolder export as one zip (audio/*.wav + metadata.jsonl + the seed manifest.jsonl + dataset.json)."""
    buf = io.BytesIO()
    meta, seed = [], []
    with zipfile.ZipFile(buf, "w") as zf:
        for clip, src, row in _rows(ds):
            rel = f"audio/{clip.clip_id}.wav"
            zf.write(src, rel, compress_type=zipfile.ZIP_STORED)
            meta.append(json.dumps({"file_name": rel, **row}, ensure_ascii=False) + "\n")
            seed.append(json.dumps({"audio_path": rel, **row}, ensure_ascii=False) + "\n")
        zf.writestr(AUDIOFOLDER_METADATA, "".join(meta), compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(SEED_MANIFEST, "".join(seed), compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(INFO, _info(ds), compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def to_hf_dataset(ds: Dataset, split: str | None = None):
    """A ``datasets.Dataset`` with ``audio`` = ``Audio(sampling_rate=16000, decode=False)`` holding the WAV
    bytes, plus text/language/speaker/duration_s. ``split`` = "train" / "eval" uses ``ds.split()``.

    Built as a plain struct column and then cast: encoding through ``Audio`` would need torch + torchcodec.
    """
    if split is None:
        clips = None
    elif split in ("train", "eval"):
        clips = ds.split()[0 if split == "train" else 1]
    else:
        raise ValueError(f"split must be 'train', 'eval' or None, not {split!r}")
    return hf_dataset((clip, src) for clip, src, _ in _rows(ds, clips))


def hf_dataset(items: Iterable[tuple[Clip, Path]]):
    """The ``to_hf_dataset`` table of explicit ``(clip, wav path)`` pairs (e.g. a run's frozen clips)."""
    import datasets  # lazy

    table: dict[str, list] = {"audio": [], "text": [], "language": [], "speaker": [], "duration_s": []}
    for clip, src in items:
        table["audio"].append({"bytes": Path(src).read_bytes(), "path": f"{clip.clip_id}.wav"})
        for key, value in _row(clip).items():
            table[key].append(value)
    features = datasets.Features({
        "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
        "text": datasets.Value("string"), "language": datasets.Value("string"),
        "speaker": datasets.Value("string"), "duration_s": datasets.Value("float64"),
    })
    hf = datasets.Dataset.from_dict(table, features=features)
    return hf.cast_column("audio", datasets.Audio(sampling_rate=SAMPLE_RATE, decode=False))
