"""Import sources built at test time from the real fixture clips (shared by the dataset_io and CLI tests)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import speech_manifest

# A handful of short clips: two languages, 16 kHz WAV and 22.05 kHz MP3 (so resampling is exercised).
PICK = (
    "en/stp_cancel_timer.wav",
    "en/stp_nevermind.wav",
    "fr/stp_eteins_la_lumiere.wav",
    "en/ljspeech_LJ001-0008.mp3",
)


def picked() -> list[dict]:
    """Fixture rows (with absolute ``path``) for the clips in PICK, in that order."""
    rows = {r["audio_path"]: r for r in speech_manifest("clips")}
    return [rows[p] for p in PICK]


def copy_clip(row: dict, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(row["path"], dest)
    return dest


def seed_manifest(root: Path, rows: list[dict] | None = None, extra: list[dict] | None = None) -> Path:
    """<root>/manifest.jsonl in the seed format, audio copied under <root>/<lang>/."""
    lines = []
    for row in picked() if rows is None else rows:
        copy_clip(row, root / row["audio_path"])
        lines.append({"audio_path": row["audio_path"], "text": row["text"], "language": row["language"]})
    lines += extra or []
    root.mkdir(parents=True, exist_ok=True)
    path = root / "manifest.jsonl"
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return path


def txt_folder(root: Path, rows: list[dict] | None = None) -> Path:
    """Audio files with same-name .txt transcripts, in nested folders."""
    for row in picked() if rows is None else rows:
        dest = copy_clip(row, root / row["language"] / Path(row["audio_path"]).name)
        dest.with_suffix(".txt").write_text(row["text"] + "\n", encoding="utf-8")
    return root


def csv_source(root: Path, rows: list[dict] | None = None, header: bool = True) -> Path:
    """<root>/clips.csv with file,text and the audio under <root>/wavs/."""
    path = root / "clips.csv"
    root.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if header:
            writer.writerow(["file", "text"])
        for row in picked() if rows is None else rows:
            rel = f"wavs/{Path(row['audio_path']).name}"
            copy_clip(row, root / rel)
            writer.writerow([rel, row["text"]])
    return path


def audiofolder(root: Path, rows: list[dict] | None = None) -> Path:
    """AudioFolder layout: <root>/metadata.jsonl with file_name, text, language, speaker."""
    lines = []
    for i, row in enumerate(picked() if rows is None else rows):
        rel = f"data/{Path(row['audio_path']).name}"
        copy_clip(row, root / rel)
        lines.append({"file_name": rel, "text": row["text"], "language": row["language"], "speaker": f"spk{i % 2}"})
    (root / "metadata.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines),
                                         encoding="utf-8")
    return root


def hf_table(rows: list[dict] | None = None, text_col: str = "sentence") -> dict:
    """Columns for a Hugging Face dataset whose audio column embeds the original file bytes."""
    rows = picked() if rows is None else rows
    return {
        "audio": [{"bytes": Path(r["path"]).read_bytes(), "path": Path(r["path"]).name} for r in rows],
        text_col: [r["text"] for r in rows],
        "locale": [r["language"] for r in rows],
        "client_id": [f"speaker-{i}" for i, _ in enumerate(rows)],
    }


def hf_dataset(rows: list[dict] | None = None, text_col: str = "sentence"):
    """A ``datasets.Dataset`` with a decode=True ``Audio`` column, as a Hub dataset would have.

    Built as a struct and cast (constructing through ``Audio`` would need torchcodec)."""
    import datasets

    features = datasets.Features({
        "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
        text_col: datasets.Value("string"), "locale": datasets.Value("string"),
        "client_id": datasets.Value("string"),
    })
    ds = datasets.Dataset.from_dict(hf_table(rows, text_col), features=features)
    return ds.cast_column("audio", datasets.Audio(sampling_rate=16000))


def pcm(path: Path) -> np.ndarray:
    """The int16 samples of a stored 16 kHz WAV."""
    samples, sr = sf.read(str(path), dtype="int16")
    assert sr == 16000
    return samples
