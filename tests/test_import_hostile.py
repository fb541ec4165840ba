"""Hostile and odd inputs: each bad item is refused alone with its own sentence, and the rest imports."""

from __future__ import annotations

import io
import json
import os
import stat
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from dataset_io_sources import audiofolder, csv_source, picked, txt_folder
from layout_sources import float_wav_with, patch_zip, symlink, zip_bomb, zip_folder

from voxstudio import workspace
from voxstudio.data import importers
from voxstudio.data.dataset import Dataset
from voxstudio.data.layouts import archive


def _new(name: str = "hostile", languages=("en", "fr")) -> Dataset:
    return Dataset.create(name, languages=list(languages))


def _many() -> list[dict]:
    """Eight distinct real English clips (for imports that go on well past the bad row)."""
    from conftest import speech_manifest

    return [r for r in speech_manifest("clips") if r["language"] == "en" and r["audio_path"].endswith(".wav")][:8]


def _manifest(root: Path, rows: list[dict], bad: list[tuple[int, dict]]) -> Path:
    """<root>/manifest.jsonl of ``rows`` (audio copied under <root>) with the ``bad`` rows inserted at their
    positions."""
    lines = []
    for row in rows:
        dest = root / row["audio_path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(row["path"]).read_bytes())
        lines.append(json.dumps({"audio_path": row["audio_path"], "text": row["text"], "language": "en"}))
    for at, row in bad:
        lines.insert(at, row if isinstance(row, str) else json.dumps(row))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "manifest.jsonl"


def _texts(ds: Dataset) -> list[str]:
    return sorted(c.text for c in ds.clips())


# -------------------------------------------------------------------------------------------- manifest rows


def test_a_nul_byte_in_a_path_refuses_that_row_alone_after_six_clips(home, tmp_path):
    rows = _many()
    path = _manifest(tmp_path / "src", rows, [(6, {"audio_path": "en/stp_cancel_timer\u0000.wav", "text": "nul"})])
    ds = _new()
    report = importers.import_source(ds, path)
    assert report.refused == [("en/stp_cancel_timer\\x00.wav",
                               "its file name holds a NUL byte (\\x00), which no file name can contain")]
    assert _texts(ds) == sorted(r["text"] for r in rows) and report.rows == 9


def test_control_and_bidi_characters_in_a_path_are_refused(home, tmp_path):
    rows = _many()[:2]
    path = _manifest(tmp_path / "src", rows, [(1, {"audio_path": "en/\u001b[31mred.wav", "text": "escape"}),
                                              (1, {"audio_path": "en/evil\u202ewav.txt", "text": "bidi"})])
    ds = _new()
    reasons = dict(importers.import_source(ds, path).refused)
    assert reasons["en/\\x1b[31mred.wav"] == ("its file name holds control characters (U+001B), which a real file "
                                            "name never has")
    assert reasons["en/evil\\u202ewav.txt"].startswith("its file name holds control characters (U+202E)")
    assert _texts(ds) == sorted(r["text"] for r in rows)


def test_a_csv_value_over_128_kib_refuses_that_line_alone(home, tmp_path):
    rows = [r for r in picked() if r["language"] == "en"]
    path = csv_source(tmp_path / "src", rows)
    lines = path.read_text().splitlines()
    lines.insert(2, "wavs/huge.wav," + "a" * (200 << 10))
    path.write_text("\n".join(lines) + "\n")
    ds = _new()
    report = importers.import_source(ds, path, language="en")
    assert report.refused == [("line 3", "line 3 has a value over 128 KiB: not a file name or a transcript; fix or "
                                         "remove that line")]
    assert _texts(ds) == sorted(r["text"] for r in rows)


def test_deep_json_and_overlong_lines_are_refused_alone(home, tmp_path):
    rows = _many()[:3]
    deep = '{"audio_path": "en/stp_nevermind.wav", "text": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = _manifest(tmp_path / "src", rows, [(1, deep), (2, json.dumps({"text": "x" * (2 << 20)}))])
    ds = _new()
    report = importers.import_source(ds, path)
    assert report.refused == [
        ("line 2", "line 2 is JSON nested too deeply to be a manifest row (hostile or broken): fix that line"),
        ("line 3", "line 3 is longer than 1 MiB: not a manifest row; fix that line")]
    assert _texts(ds) == sorted(r["text"] for r in rows)


def test_undecodable_transcripts_say_which_encoding_was_tried(home, tmp_path):
    rows = [r for r in picked() if r["language"] == "en"][:2]
    root = txt_folder(tmp_path / "src", rows)
    latin = root / "en" / "cafe.txt"
    latin.write_bytes("café au lait".encode("latin-1"))
    (root / "en" / "cafe.wav").write_bytes(Path(_many()[5]["path"]).read_bytes())
    csv_path = csv_source(tmp_path / "csv", rows)
    with csv_path.open("ab") as f:
        f.write("wavs/x.wav,déjà vu\n".encode("latin-1"))
    ds = _new()
    report = importers.import_source(ds, root, language="en")
    assert report.refused == [("en/cafe.wav", "cafe.txt is not UTF-8 text (byte 0xE9 at position 3); it was read as "
                                              "UTF-8, the only encoding tried: save it as UTF-8 and import again")]
    assert _texts(ds) == sorted(r["text"] for r in rows)
    other = _new("csv-latin")
    report = importers.import_source(other, csv_path, language="en")
    assert report.refused == [("line 4", "line 4 is not UTF-8 text (byte 0xE9 at position 12); it was read as "
                                         "UTF-8, the only encoding tried: save it as UTF-8 and import again")]
    assert len(other.clips()) == 2
    assert not any("\ufffd" in c.text for c in [*ds.clips(), *other.clips()])


def test_control_and_bidi_characters_in_transcripts_are_stripped_with_a_notice(home, tmp_path):
    rows = _many()[:3]
    (tmp_path / "src").mkdir()
    path = _manifest(tmp_path / "src", [], [])
    lines = []
    for row, text in zip(rows, ["cancel\u202e timer", "never\u0007mind", "plain text"]):
        (tmp_path / "src" / row["audio_path"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / row["audio_path"]).write_bytes(Path(row["path"]).read_bytes())
        lines.append(json.dumps({"audio_path": row["audio_path"], "text": text}))
    path.write_text("\n".join(lines) + "\n")
    ds = _new()
    report = importers.import_source(ds, path, language="en")
    assert report.refused == [] and _texts(ds) == ["cancel timer", "nevermind", "plain text"]
    assert report.notices == [
        (rows[0]["audio_path"], "removed 1 invisible control character(s) from the transcript: "
                                "U+202E RIGHT-TO-LEFT OVERRIDE"),
        (rows[1]["audio_path"], "removed 1 invisible control character(s) from the transcript: "
                                "U+0007 control character")]


def test_a_row_without_a_speaker_gets_the_imports_default_not_the_previous_rows(home, tmp_path):
    rows = _many()[:3]
    path = _manifest(tmp_path / "src", rows, [])
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[0]["speaker"] = "bob"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    ds = _new()
    importers.import_source(ds, path)
    assert [c.speaker for c in ds.clips()] == ["bob", "", ""]
    again = _new("with-default")
    importers.import_source(again, path, speaker="ana")
    assert [c.speaker for c in again.clips()] == ["bob", "ana", "ana"]


def test_nan_and_infinite_samples_are_refused(home, tmp_path):
    rows = [r for r in picked() if r["language"] == "en"][:2]
    root = txt_folder(tmp_path / "src", rows)
    for name, value in (("nan", float("nan")), ("inf", float("inf"))):
        float_wav_with(root / "en" / f"{name}.wav", _many()[5], value)
        (root / "en" / f"{name}.txt").write_text("pause timer")
    ds = _new()
    report = importers.import_source(ds, root, language="en")
    assert dict(report.refused) == {
        f"en/{n}.wav": f"'{n}.wav' holds 3 sample(s) that are not numbers (NaN or infinity): the file is damaged or "
                       "was written by a broken tool. Export it again as WAV or FLAC." for n in ("inf", "nan")}
    assert _texts(ds) == sorted(r["text"] for r in rows)


def test_a_dataset_name_is_matched_whole(home):
    assert not workspace.is_slug("nl\n") and workspace.is_slug("nl")
    with pytest.raises(ValueError, match="is not allowed"):
        Dataset.create("nl\n")


# ----------------------------------------------------------------------------------------------- folders


def test_symbolic_links_leaving_the_source_folder_are_refused(home, tmp_path):
    rows = [r for r in picked() if r["language"] == "en"][:2]
    root = txt_folder(tmp_path / "src", rows)
    (root / "en" / "passwd.wav").write_bytes(Path(_many()[5]["path"]).read_bytes())
    symlink(root / "en" / "passwd.txt", Path("/etc/passwd"))
    outside = tmp_path / "outside.wav"
    outside.write_bytes(Path(_many()[6]["path"]).read_bytes())
    symlink(root / "en" / "outside.wav", outside)
    (root / "en" / "outside.txt").write_text("what time is it")
    ds = _new()
    report = importers.import_source(ds, root, language="en")
    assert sorted(report.refused) == [
        ("en/outside.wav", "outside.wav is a symbolic link to a file outside the source folder; only files inside it "
                           "are read (copy the file in instead)"),
        ("en/passwd.wav", "passwd.txt is a symbolic link to a file outside the source folder; only files inside it "
                          "are read (copy the file in instead)")]
    assert _texts(ds) == sorted(r["text"] for r in rows)
    assert not any("root:" in c.text for c in ds.clips())


# ------------------------------------------------------------------------------------------------- archives


def _good_zip(tmp_path: Path) -> tuple[Path, list[dict]]:
    rows = picked()[:2]
    return zip_folder(audiofolder(tmp_path / "af", rows), tmp_path / "af.zip"), rows


def test_link_encrypted_unsupported_and_escaping_members_are_refused_one_by_one(home, tmp_path):
    path, rows = _good_zip(tmp_path)
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo("data/passwd.txt")
        info.create_system, info.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
        zf.writestr("data/secret.wav", b"RIFF....")
        zf.writestr("data/deflate64.wav", b"RIFF....")
        zf.writestr("../../escape.wav", b"RIFF....")
        zf.writestr("data/fifo", b"")
        zf.getinfo("data/fifo").external_attr = (stat.S_IFIFO | 0o644) << 16
    patch_zip(path, "data/secret.wav", flag_bits=0x1)
    patch_zip(path, "data/deflate64.wav", method=9)
    ds = _new()
    report = importers.import_source(ds, path)
    assert dict(report.refused) == {
        "af.zip: data/passwd.txt": "is a symbolic link; links inside an archive are not unpacked (they could point "
                                   "anywhere on this machine): put the file itself in the zip",
        "af.zip: data/secret.wav": "is encrypted (password-protected); zip it again without a password",
        "af.zip: data/deflate64.wav": "is compressed with method 9 (Deflate64), which this importer cannot read: zip "
                                      "it again with the ordinary Deflate compression",
        "af.zip: ../../escape.wav": "its path leaves the archive (absolute or ../): not unpacked",
        "af.zip: data/fifo": "is not a plain file (a device, a pipe or a socket): not unpacked",
    }
    assert _texts(ds) == sorted(r["text"] for r in rows)
    assert not (tmp_path / "escape.wav").exists()


def test_a_1_gib_member_of_a_1_mb_zip_is_refused_before_anything_is_written(home, tmp_path, monkeypatch):
    good, rows = _good_zip(tmp_path)
    with zipfile.ZipFile(good) as zf:
        others = {n: zf.read(n) for n in zf.namelist()}
    bomb = zip_bomb(tmp_path / "bomb.zip", "data/big.wav", 1 << 30, others)
    assert bomb.stat().st_size < 2 << 20
    written: dict[str, int] = {}
    monkeypatch.setattr(archive, "open", _counting_open(written), raising=False)  # every byte archive.py writes
    ds = _new()
    report = importers.import_source(ds, bomb)
    assert report.refused == [("bomb.zip: data/big.wav", "is 1024 MiB unpacked, over the 256 MiB limit for one file "
                               "of an archive: not unpacked (import the folder instead if the file is real)")]
    assert "big.wav" not in written and _texts(ds) == sorted(r["text"] for r in rows)

    liar = zip_bomb(tmp_path / "liar.zip", "data/big.wav", 1 << 30, others, declared=1 << 20)  # says 1 MiB
    report = importers.import_source(_new("liar"), liar)
    (item, reason), = report.refused
    assert item == "liar.zip: data/big.wav" and reason.startswith("is damaged and cannot be unpacked (Bad CRC-32")
    assert written.get("big.wav", 0) <= 1 << 20

    written.clear()  # the streaming count, should a header ever get past the checks: stops at the limit
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 4 << 20)
    monkeypatch.setattr(archive, "member_problem", lambda info: None)
    monkeypatch.setattr(archive, "_unpack_member", _unpack_ignoring_header(archive._unpack_member))
    report = importers.import_source(_new("streamed"), bomb)
    assert report.refused == [("bomb.zip: data/big.wav", "unpacks to more than the limit (4 MiB): the archive is "
                                                         "damaged or hostile; not unpacked")]
    assert written["big.wav"] <= 4 << 20


def _counting_open(written: dict[str, int]):
    real_open = open

    class Counting:
        def __init__(self, handle, name):
            self.handle, self.name = handle, name

        def write(self, data):
            written[self.name] = written.get(self.name, 0) + len(data)
            return self.handle.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

    def counting_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return Counting(handle, Path(file).name) if "x" in mode or "w" in mode else handle

    return counting_open


def _unpack_ignoring_header(unpack_member):
    def run(zf, info, target):
        info.file_size = 1 << 40  # as if the header said nothing useful: only the streaming count is left
        return unpack_member(zf, info, target)
    return run


def test_a_zip_is_never_read_whole_into_memory(home, tmp_path):
    good, rows = _good_zip(tmp_path)
    with zipfile.ZipFile(good, "a") as zf:
        zf.writestr("padding.bin", os.urandom(64 << 20), compress_type=zipfile.ZIP_STORED)
    ds = _new()
    tracemalloc.start()
    try:
        report = importers.import_source(ds, good)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.refused == [] and _texts(ds) == sorted(r["text"] for r in rows)
    assert peak < 24 << 20, f"peak {peak >> 20} MiB for a 64 MiB zip"


def test_one_bad_zip_in_an_upload_leaves_every_other_file_imported(home, tmp_path):
    good, rows = _good_zip(tmp_path)
    bomb = zip_bomb(tmp_path / "bomb.zip", "big.wav", 1 << 30)
    truncated = good.read_bytes()[: good.stat().st_size // 2]
    loose = [r for r in picked() if r["language"] == "en"][2:]
    files = [("bomb.zip", bomb.read_bytes()), ("cut.zip", truncated), ("good.zip", io.BytesIO(good.read_bytes())),
             ("release.tar.gz", b"\x1f\x8b\x08\x00 not unpacked"),
             *((Path(r["path"]).name, Path(r["path"]).read_bytes()) for r in loose),
             *((Path(r["path"]).stem + ".txt", r["text"].encode()) for r in loose)]
    ds = _new()
    report = importers.import_uploads(ds, files, language="en")
    reasons = dict(report.refused)
    assert "is 1024 MiB unpacked, over the 256 MiB limit" in reasons["bomb.zip: big.wav"]
    assert reasons["cut.zip"].startswith("cut.zip is not a readable zip file")
    assert reasons["release.tar.gz"] == ("is a tar/7z/rar archive, which the studio does not unpack: upload a zip of "
                                         "the folder, or the folder itself")
    assert len(report.refused) == 4 and "nothing to import" in reasons["bomb.zip"]
    assert _texts(ds) == sorted(r["text"] for r in rows + loose)
