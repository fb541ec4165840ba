"""The dataset layouts other tools write, built at test time from the real fixture clips exactly as those tools
lay them out (the seed app, NeMo, Common Voice, LJ Speech, Kaldi), plus hostile archives and files."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from conftest import speech_manifest
from dataset_io_sources import copy_clip

EN_WAVS = ("en/stp_cancel_timer.wav", "en/stp_nevermind.wav", "en/stp_pause_timer.wav", "en/stp_what_time_is_it.wav")
LJ_CLIPS = ("en/ljspeech_LJ001-0002.wav", "en/ljspeech_LJ001-0005.flac", "en/ljspeech_LJ001-0008.mp3")
FR_WAVS = ("fr/stp_eteins_la_lumiere.wav", "fr/stp_fermer_les_rideaux.wav")


def rows_of(paths: tuple[str, ...]) -> list[dict]:
    rows = {r["audio_path"]: r for r in speech_manifest("clips")}
    return [rows[p] for p in paths]


def en_wavs() -> list[dict]:
    return rows_of(EN_WAVS)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def converted(row: dict, dest: Path, rate: int, fmt: str, subtype: str) -> Path:
    """The clip re-encoded the way a corpus ships it (MP3 for Common Voice, 22.05 kHz PCM16 WAV for LJ Speech)."""
    samples, sr = sf.read(str(row["path"]), dtype="float32", always_2d=False)
    if sr != rate:
        samples = soxr.resample(samples, sr, rate).astype(np.float32)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(dest), samples, rate, format=fmt, subtype=subtype)
    return dest


# ----------------------------------------------------------------------------------------------------- layouts


def seed_app(app: Path, rows: list[dict] | None = None, manifest: str = "data.jsonl") -> Path:
    """The seed app's dataset: ``<app>/datasets/voxtral_user/<manifest>`` of ``{"audio_path", "text"}`` rows whose
    paths are relative to the folder the app ran in (``datasets/voxtral_user/wavs/rec_0001.wav``)."""
    lines = []
    for i, row in enumerate(rows or en_wavs(), start=1):
        rel = f"datasets/voxtral_user/wavs/rec_{i:04d}.wav"
        copy_clip(row, app / rel)
        lines.append({"audio_path": rel, "text": row["text"]})
    return _jsonl(app / "datasets" / "voxtral_user" / manifest, lines)


def absolute_jsonl(root: Path, rows: list[dict]) -> Path:
    """A JSONL manifest in ``<root>/lists/`` naming audio kept elsewhere (``<root>/store/``) by absolute path."""
    lines = []
    for row in rows:
        dest = copy_clip(row, root / "store" / row["audio_path"])
        lines.append({"audio_path": str(dest.resolve()), "text": row["text"], "language": row["language"]})
    return _jsonl(root / "lists" / "clips.jsonl", lines)


def nemo(root: Path, rows: list[dict], absolute: bool = True) -> Path:
    """A NeMo manifest as NeMo's data scripts write it: ``train_manifest.json`` JSON lines with ``audio_filepath``
    (absolute), ``duration`` (seconds) and ``text``."""
    lines = []
    for row in rows:
        dest = copy_clip(row, root / "wav" / Path(row["audio_path"]).name)
        lines.append({"audio_filepath": str(dest.resolve()) if absolute else f"wav/{dest.name}",
                      "duration": round(sf.info(str(dest)).duration, 3), "text": row["text"]})
    return _jsonl(root / "train_manifest.json", lines)


CV_HEADER = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes", "age",
             "gender", "accents", "variant", "locale", "segment"]


def common_voice(release: Path, rows: list[dict], locale: str, train: int) -> Path:
    """A Common Voice release's locale folder: ``clips/common_voice_<locale>_<n>.mp3`` (32 kHz MP3) and the
    unquoted TSV tables (validated = all; train/dev split; test, invalidated, other empty; reported and
    clip_durations with their own headers). Returns the locale folder."""
    folder = release / locale
    lines = []
    for i, row in enumerate(rows):
        name = f"common_voice_{locale}_{40000000 + i}.mp3"
        converted(row, folder / "clips" / name, 32000, "MP3", "MPEG_LAYER_III")
        client = hashlib.sha512(f"speaker-{i % 2}".encode()).hexdigest()
        sentence_id = hashlib.sha256(row["text"].encode()).hexdigest()
        lines.append([client, name, sentence_id, row["text"], "", "2", "0", "", "", "", "", locale, ""])

    def table(name: str, body: list[list[str]], header: list[str] = CV_HEADER) -> None:
        text = "\t".join(header) + "\n" + "".join("\t".join(cells) + "\n" for cells in body)
        (folder / name).write_text(text, encoding="utf-8")

    table("validated.tsv", lines)
    table("train.tsv", lines[:train])
    table("dev.tsv", lines[train:])
    for name in ("test.tsv", "invalidated.tsv", "other.tsv"):
        table(name, [])
    table("reported.tsv", [], ["sentence_id", "sentence", "locale", "reason"])
    table("clip_durations.tsv", [[c[1], "2000"] for c in lines], ["clip", "duration[ms]"])
    return folder


def ljspeech(root: Path, rows: list[dict]) -> Path:
    """LJ Speech 1.1: ``wavs/LJ001-0002.wav`` (22.05 kHz mono PCM16) and ``metadata.csv`` of
    ``id|transcription|normalized transcription`` lines, no header, no quoting. Returns the folder."""
    folder = root / "LJSpeech-1.1"
    lines = []
    for row in rows:
        ident = Path(row["audio_path"]).stem.removeprefix("ljspeech_")
        converted(row, folder / "wavs" / f"{ident}.wav", 22050, "WAV", "PCM_16")
        lines.append(f"{ident}|{row['text']}|{row['text']}\n")
    (folder / "metadata.csv").write_text("".join(lines), encoding="utf-8")
    (folder / "README").write_text("The LJ Speech Dataset\n", encoding="utf-8")
    return folder


def kaldi(recipe: Path, rows: list[dict], piped: bool = True) -> Path:
    """A Kaldi data folder ``<recipe>/data/train``: ``wav.scp`` paths relative to the recipe folder (how run.sh
    writes them; the first one absolute), ``text``, ``utt2spk``, ``spk2utt``, sorted by utterance id; plus one
    utterance whose audio is a sox pipe. Returns the data folder."""
    data = recipe / "data" / "train"
    data.mkdir(parents=True, exist_ok=True)
    scp, text, utt2spk, spk2utt = [], [], [], {}
    for i, row in enumerate(rows):
        spk = f"spk{i % 2}"
        utt = f"{spk}-utt{i:03d}"
        rel = f"corpus/wav/{Path(row['audio_path']).stem}.wav"
        dest = converted(row, recipe / rel, 16000, "WAV", "PCM_16")
        scp.append(f"{utt} {dest.resolve() if i == 0 else rel}")
        text.append(f"{utt} {row['text']}")
        utt2spk.append(f"{utt} {spk}")
        spk2utt.setdefault(spk, []).append(utt)
    if piped:
        scp.append(f"spk9-utt999 sox {recipe / 'corpus' / 'x.flac'} -t wav - |")
        text.append("spk9-utt999 never read")
        utt2spk.append("spk9-utt999 spk9")
    for name, lines in (("wav.scp", scp), ("text", text), ("utt2spk", utt2spk),
                        ("spk2utt", [f"{s} {' '.join(u)}" for s, u in spk2utt.items()])):
        (data / name).write_text("".join(f"{x}\n" for x in sorted(lines)), encoding="utf-8")
    return data


# --------------------------------------------------------------------------------------------- hostile inputs


def zip_folder(folder: Path, dest: Path, prefix: str = "") -> Path:
    """A zip of ``folder`` as ``zip -r`` makes it (deflated, entries under ``prefix``)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return dest


def add_symlink_member(zf: zipfile.ZipFile, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zf.writestr(info, target)


def patch_zip(path: Path, name: str, *, flag_bits: int | None = None, method: int | None = None,
              declared: int | None = None, crc: int | None = None) -> None:
    """Rewrite header fields of member ``name`` of a finished zip (local and central headers): its flags
    (bit 0 = encrypted), its compression method, its declared unpacked size."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local = zf.getinfo(name).header_offset
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = int.from_bytes(data[central + 28:central + 30], "little")
        if data[central + 46:central + 46 + name_len] == name.encode():
            break
        central = data.find(b"PK\x01\x02", central + 4)
    assert central != -1, name
    for base, flags_at, method_at, size_at in ((local, 6, 8, 22), (central, 8, 10, 24)):
        if crc is not None:
            data[base + size_at - 8:base + size_at - 4] = crc.to_bytes(4, "little")
        if flag_bits is not None:
            data[base + flags_at:base + flags_at + 2] = flag_bits.to_bytes(2, "little")
        if method is not None:
            data[base + method_at:base + method_at + 2] = method.to_bytes(2, "little")
        if declared is not None:
            data[base + size_at:base + size_at + 4] = declared.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def zip_bomb(path: Path, name: str, size: int, others: dict[str, bytes] | None = None,
             declared: int | None = None) -> Path:
    """A zip whose member ``name`` inflates to ``size`` zero bytes from ~1/1000 of that (a real, valid deflate
    stream with its true CRC), beside ``others``; ``declared`` makes its headers lie about its size."""
    chunk = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every further MiB
    body = first + again * (size // len(chunk) - 1) + c.flush()
    crc, block = 0, bytes(1 << 24)
    for _ in range(size // len(block)):
        crc = zlib.crc32(block, crc)
    with zipfile.ZipFile(path, "w") as zf:
        for other, data in (others or {}).items():
            zf.writestr(other, data, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(name, body, compress_type=zipfile.ZIP_STORED)
    patch_zip(path, name, method=zipfile.ZIP_DEFLATED, declared=size if declared is None else declared, crc=crc)
    return path


def float_wav_with(path: Path, row: dict, value: float) -> Path:
    """The clip as a 32-bit float WAV with a few samples set to ``value`` (NaN or infinity)."""
    samples, sr = sf.read(str(row["path"]), dtype="float32")
    samples[100:103] = value
    sf.write(str(path), samples, sr, subtype="FLOAT")
    return path


def symlink(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)
    return link
