"""Import from every source kind, refusals with reasons, lossless round trips, and the HF export."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SPEECH
from dataset_io_sources import (
    audiofolder,
    csv_source,
    hf_dataset,
    pcm,
    picked,
    seed_manifest,
    txt_folder,
)

from voxstudio.data import audio as vaudio
from voxstudio.data import exporters, importers
from voxstudio.data.dataset import Dataset


def _new(name: str = "io-test", languages=("en",)) -> Dataset:
    return Dataset.create(name, languages=list(languages))


def _by_text(ds: Dataset) -> dict:
    return {c.text: c for c in ds.clips()}


def _assert_matches_sources(ds: Dataset, rows: list[dict]) -> None:
    """Every source row is in ``ds`` once, with its language, and its audio equals our decoding of the file."""
    clips = _by_text(ds)
    assert sorted(clips) == sorted(r["text"] for r in rows)
    for row in rows:
        clip = clips[row["text"]]
        assert clip.language == row["language"]
        stored, sr = sf.read(str(ds.audio_path(clip)), dtype="float32")
        assert sr == 16000 and stored.ndim == 1
        expected = vaudio.load_audio(row["path"])
        assert len(stored) == len(expected)
        assert np.max(np.abs(stored - expected)) < 2 / 32768


# ---------------------------------------------------------------------------------------------- source kinds


def test_seed_manifest_of_the_fixtures_imports_with_limit(home):
    ds = _new()
    report = importers.import_source(ds, SPEECH / "clips" / "manifest.jsonl", limit=3)
    rows = [json.loads(x) for x in (SPEECH / "clips" / "manifest.jsonl").read_text().splitlines()][:3]
    assert report.refused == []
    assert [c.text for c in report.imported] == [r["text"] for r in rows]
    assert len(ds.clips()) == 3
    assert report.to_dict()["imported"] == 3


def test_seed_manifest_in_a_folder(home, tmp_path):
    seed_manifest(tmp_path / "src")
    ds = _new(languages=("en", "fr"))
    report = importers.import_source(ds, tmp_path / "src")  # the folder: manifest.jsonl is found
    assert report.refused == []
    _assert_matches_sources(ds, picked())


def test_folder_with_txt_transcripts(home, tmp_path):
    rows = [r for r in picked() if r["language"] == "en"]
    root = txt_folder(tmp_path / "src", rows)
    (root / "en" / "orphan.wav").write_bytes((root / "en" / "stp_nevermind.wav").read_bytes())
    ds = _new()
    report = importers.import_source(ds, root, language="en", speaker="alice")
    assert dict(report.refused) == {"en/orphan.wav": "no transcript: expected orphan.txt next to it"}
    _assert_matches_sources(ds, rows)
    assert {c.speaker for c in ds.clips()} == {"alice"}


@pytest.mark.parametrize("header", [True, False])
def test_csv_file_text(home, tmp_path, header):
    rows = [r for r in picked() if r["language"] == "en"]
    path = csv_source(tmp_path / "src", rows, header=header)
    ds = _new()
    report = importers.import_source(ds, path)  # language comes from the dataset's only language
    assert report.refused == []
    _assert_matches_sources(ds, rows)


def test_audiofolder_with_metadata(home, tmp_path):
    root = audiofolder(tmp_path / "src")
    ds = _new(languages=("en", "fr"))
    report = importers.import_source(ds, root)
    assert report.refused == []
    _assert_matches_sources(ds, picked())
    assert sorted(c.speaker for c in ds.clips()) == ["spk0", "spk0", "spk1", "spk1"]


def test_hf_save_to_disk_with_column_mapping_and_splits(home, tmp_path):
    import datasets

    rows = picked()
    both = datasets.DatasetDict({"train": hf_dataset(rows[:3], "words"), "test": hf_dataset(rows[3:], "words")})
    both.save_to_disk(str(tmp_path / "hf"))
    ds = _new(languages=("en", "fr"))
    with pytest.raises(ValueError, match="no text column I recognise"):
        importers.import_source(ds, tmp_path / "hf")
    report = importers.import_source(ds, tmp_path / "hf", columns={"text": "words"}, split="train")
    assert report.refused == []
    _assert_matches_sources(ds, rows[:3])
    assert sorted(c.speaker for c in ds.clips()) == ["speaker-0", "speaker-1", "speaker-2"]
    with pytest.raises(ValueError, match="no split 'validation'"):
        importers.import_source(ds, tmp_path / "hf", columns={"text": "words"}, split="validation")


def test_hf_single_dataset_and_hub_layout_parquet(home, tmp_path):
    rows = picked()
    hf = hf_dataset(rows)  # text column "sentence", language "locale", speaker "client_id": auto-mapped
    hf.save_to_disk(str(tmp_path / "disk"))
    (tmp_path / "hub" / "data").mkdir(parents=True)
    hf.to_parquet(str(tmp_path / "hub" / "data" / "train-00000-of-00001.parquet"))

    ds = _new(languages=("en", "fr"))
    assert importers.import_source(ds, tmp_path / "disk").refused == []
    _assert_matches_sources(ds, rows)

    other = _new("hub-layout", languages=("en", "fr"))
    assert importers.import_source(other, tmp_path / "hub").refused == []
    _assert_matches_sources(other, rows)


# ------------------------------------------------------------------------------------------------- refusals


def test_bad_items_are_refused_with_reasons_and_the_rest_imports(home, tmp_path):
    root = tmp_path / "src"
    outside = tmp_path / "outside.wav"
    outside.write_bytes(Path(picked()[0]["path"]).read_bytes())  # exists, but not under the manifest folder
    (root / "bad").mkdir(parents=True)
    (root / "bad" / "notes.wav").write_text("this is a text file renamed .wav\n")
    (root / "bad" / "empty.wav").write_bytes(b"")
    good = picked()[:2]
    seed_manifest(root, good, extra=[
        {"audio_path": "missing.wav", "text": "nothing here"},
        {"audio_path": "bad/notes.wav", "text": "not audio"},
        {"audio_path": "bad/empty.wav", "text": "zero bytes"},
        {"audio_path": good[0]["audio_path"], "text": "   "},
        {"audio_path": "../outside.wav", "text": "escape"},
        {"audio_path": str(tmp_path / "gone.wav"), "text": "absolute but missing"},
    ])
    ds = _new()
    report = importers.import_source(ds, root / "manifest.jsonl")
    assert [c.text for c in report.imported] == [r["text"] for r in good]
    reasons = dict(report.refused)
    assert reasons["missing.wav"] == f"file not found (looked in {root}, the current folder ({Path.cwd()}))"
    assert "not audio" in reasons["bad/notes.wav"]
    assert "empty" in reasons["bad/empty.wav"]
    assert "transcript is empty" in reasons[good[0]["audio_path"]]
    assert "leaves the source folder" in reasons["../outside.wav"]
    assert reasons[str(tmp_path / "gone.wav")] == f"file not found at {tmp_path / 'gone.wav'}"
    assert len(report.refused) == 6
    assert len(ds.clips()) == 2


def test_duplicate_import_is_refused_and_changes_nothing(home, tmp_path):
    path = seed_manifest(tmp_path / "src")
    ds = _new(languages=("en", "fr"))
    first = importers.import_source(ds, path)
    before = (home / "datasets" / "io-test" / "metadata.jsonl").read_bytes()
    again = importers.import_source(ds, txt_folder(tmp_path / "same-audio-other-layout"), language="en")
    assert again.imported == []
    assert len(again.refused) == len(first.imported) == 4
    assert all("is a duplicate" in reason for _, reason in again.refused)
    assert (home / "datasets" / "io-test" / "metadata.jsonl").read_bytes() == before


def test_unusable_sources_raise_clear_errors(home, tmp_path):
    ds = _new()
    with pytest.raises(ValueError, match="does not exist"):
        importers.import_source(ds, tmp_path / "nope.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="nothing to import"):
        importers.import_source(ds, tmp_path / "empty")
    assert ds.clips() == []


# ---------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", ["jsonl", "audiofolder", "zip", "nemo", "nemo-absolute"])
def test_round_trip_is_lossless(home, tmp_path, fmt):
    first = _new("first", languages=("en", "fr"))
    importers.import_source(first, audiofolder(tmp_path / "src"))
    out = tmp_path / "out"
    if fmt == "jsonl":
        source = exporters.export_jsonl(first, out)
        assert source.name == "manifest.jsonl"
        row = json.loads(source.read_text().splitlines()[0])
        assert set(row) >= {"audio_path", "text", "language", "speaker"}
        assert not Path(row["audio_path"]).is_absolute()
    elif fmt == "audiofolder":
        source = exporters.export_audiofolder(first, out)
        assert set(json.loads((out / "metadata.jsonl").read_text().splitlines()[0])) >= {"file_name", "text"}
    elif fmt.startswith("nemo"):
        source = exporters.export_nemo(first, out, absolute=fmt == "nemo-absolute")
        row = json.loads(source.read_text().splitlines()[0])
        assert set(row) == {"audio_filepath", "duration", "text", "lang", "speaker"}
        assert Path(row["audio_filepath"]).is_absolute() == (fmt == "nemo-absolute")
    else:
        data = exporters.export_zip(first)
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert {"metadata.jsonl", "manifest.jsonl", "dataset.json"} <= set(zf.namelist())
            assert len([n for n in zf.namelist() if n.startswith("audio/")]) == 4
            assert json.loads(zf.read("dataset.json"))["licence"] == first.info["licence"]
        source = tmp_path / "download.zip"
        source.write_bytes(data)
    if fmt != "zip":
        assert json.loads((out / "dataset.json").read_text()) == first.info  # consent, licence
    second = _new("second", languages=("en", "fr"))
    report = importers.import_source(second, source)
    assert report.refused == [] and report.rows == 4
    a, b = _by_text(first), _by_text(second)
    assert sorted(a) == sorted(b)  # text for text
    for text, clip in a.items():
        assert (clip.language, clip.speaker) == (b[text].language, b[text].speaker)
        assert np.array_equal(pcm(first.audio_path(clip)), pcm(second.audio_path(b[text])))  # sample for sample


def test_export_refuses_a_folder_that_is_not_empty(home, tmp_path):
    ds = _new()
    importers.import_source(ds, seed_manifest(tmp_path / "src", picked()[:1]))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an empty folder"):
        exporters.export_jsonl(ds, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_to_hf_dataset_has_undecoded_audio_that_soundfile_reads(home, tmp_path):
    import datasets

    ds = _new(languages=("en", "fr"))
    importers.import_source(ds, seed_manifest(tmp_path / "src"), speaker="bob")
    hf = exporters.to_hf_dataset(ds)
    feature = hf.features["audio"]
    assert isinstance(feature, datasets.Audio) and feature.decode is False and feature.sampling_rate == 16000
    assert {"text", "language", "speaker", "duration_s"} <= set(hf.column_names)
    assert len(hf) == 4
    clips = _by_text(ds)
    for row in hf:
        clip = clips[row["text"]]
        samples, sr = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="int16")
        assert sr == 16000
        assert np.array_equal(samples, pcm(ds.audio_path(clip)))
        assert (row["language"], row["speaker"]) == (clip.language, "bob")
        assert row["duration_s"] == pytest.approx(len(samples) / 16000, abs=0.01)
    train, held_out = exporters.to_hf_dataset(ds, "train"), exporters.to_hf_dataset(ds, "eval")
    assert len(held_out) >= 1 and sorted([*train["text"], *held_out["text"]]) == sorted(hf["text"])


# ------------------------------------------------------------------------------------------------- uploads


def test_uploads_with_txt_csv_and_dict_transcripts(home):
    rows = picked()
    files = [(Path(r["path"]).name, Path(r["path"]).read_bytes()) for r in rows]
    files[0] = ("../../" + files[0][0], files[0][1])  # a hostile name: only the base name is used
    files.append((Path(rows[0]["path"]).stem + ".txt", rows[0]["text"].encode()))
    csv_text = f"file,text,language\n{Path(rows[1]['path']).name},{rows[1]['text']},en\n"
    files.append(("transcripts.csv", csv_text.encode()))
    files.append(("orphan.wav", Path(rows[1]["path"]).read_bytes()))
    ds = _new(languages=("en", "fr"))
    report = importers.import_uploads(ds, files, transcripts={Path(rows[2]["path"]).name: rows[2]["text"]},
                                       language="en")
    assert [label for label, _ in report.refused] == [Path(rows[3]["path"]).name, "orphan.wav"]
    assert all("no transcript" in reason for _, reason in report.refused)
    assert sorted(c.text for c in ds.clips()) == sorted(r["text"] for r in rows[:3])
    assert not list(home.parent.glob("*.wav"))


def test_uploads_of_a_zip_and_a_jsonl_manifest(home, tmp_path):
    first = _new("first", languages=("en", "fr"))
    importers.import_source(first, audiofolder(tmp_path / "src", picked()[:2]))
    rows = picked()[2:]
    manifest = "not json\n" + "".join(
        json.dumps({"audio_path": f"x/{Path(r['path']).name}", "text": r["text"], "language": r["language"]}) + "\n"
        for r in rows)
    files = [("backup.zip", exporters.export_zip(first)), ("broken.zip", b"PK not really"),
             ("list.jsonl", manifest.encode()), *((Path(r["path"]).name, Path(r["path"]).read_bytes()) for r in rows)]
    second = _new("second", languages=("en", "fr"))
    report = importers.import_uploads(second, files)
    reasons = dict(report.refused)
    assert sorted(reasons) == ["broken.zip", "list.jsonl, line 1"]
    assert reasons["list.jsonl, line 1"] == "line 1 is not valid JSON (Expecting value at column 1)"
    assert "not a readable zip" in reasons["broken.zip"]
    assert sorted(c.text for c in second.clips()) == sorted(r["text"] for r in picked())
    assert {c.text: c.language for c in second.clips()} == {r["text"]: r["language"] for r in picked()}
