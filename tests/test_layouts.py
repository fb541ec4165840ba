"""One test per dataset layout people already have, built from the real fixture clips exactly as the tools that
make them write them; each imports whole from its path, from a zip of it, and as a browser upload (the folder's
files side by side, or with their folders), and says which layout it detected and how many rows it saw."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from dataset_io_sources import csv_source, pcm, txt_folder
from layout_sources import (
    FR_WAVS,
    LJ_CLIPS,
    absolute_jsonl,
    common_voice,
    en_wavs,
    kaldi,
    ljspeech,
    nemo,
    rows_of,
    seed_app,
    zip_folder,
)

from voxstudio import workspace
from voxstudio.data import audio as vaudio
from voxstudio.data import importers
from voxstudio.data.dataset import Dataset


def _new(name: str = "layouts", languages=("en",)) -> Dataset:
    return Dataset.create(name, languages=list(languages))


def _exact(ds: Dataset, sources: dict[str, Path]) -> None:
    """``ds`` holds exactly these transcripts, each clip's samples equal to our decoding of the file the tool
    wrote (sample for sample), and nothing else."""
    clips = {c.text: c for c in ds.clips()}
    assert sorted(clips) == sorted(sources)
    for text, path in sources.items():
        assert np.array_equal(pcm(ds.audio_path(clips[text])), vaudio.to_pcm16(vaudio.load_audio(path))), text


def _files(folder: Path, *, flat: bool) -> list[tuple[str, bytes]]:
    """A folder's files as the browser sends them: side by side (base names) or with their folders (the
    relative paths a folder upload carries)."""
    return [(p.name if flat else f"{folder.name}/{p.relative_to(folder).as_posix()}", p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()]


def _every_way(tmp_path: Path, folder: Path, expect: dict[str, Path], layout: str, **kw) -> None:
    """The layout imports whole from a zip of its folder and as uploads (flat files, folder files)."""
    archive = zip_folder(folder, tmp_path / f"{folder.name}.zip", prefix=f"{folder.name}/")
    ds = _new("from-zip", kw.get("languages", ("en",)))
    report = importers.import_source(ds, archive, language=kw.get("language"))
    assert report.refused == kw.get("refused", []) and report.layout.startswith(f"zip {archive.name} → {layout}")
    _exact(ds, expect)
    for flat in (True, False):
        up = _new(f"upload-{'flat' if flat else 'folder'}", kw.get("languages", ("en",)))
        files = _files(folder, flat=flat) + kw.get("extra_uploads", [])
        report = importers.import_uploads(up, files, language=kw.get("language"))
        assert report.refused == kw.get("refused", []), report.refused
        _exact(up, expect)
    zipped = _new("upload-zip", kw.get("languages", ("en",)))
    report = importers.import_uploads(zipped, [(archive.name, io.BytesIO(archive.read_bytes()))],
                                      language=kw.get("language"))
    assert [(i.removeprefix(f"{archive.name}: "), r) for i, r in report.refused] == kw.get("refused", [])
    _exact(zipped, expect)


# ---------------------------------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("manifest", ["data.jsonl", "recorded_data.jsonl"])
def test_the_seed_apps_dataset_resolves_paths_from_the_folder_the_app_ran_in(home, tmp_path, monkeypatch, manifest):
    path = seed_app(tmp_path / "app", manifest=manifest)  # rows say datasets/voxtral_user/wavs/rec_0001.wav
    expect = {r["text"]: tmp_path / "app" / f"datasets/voxtral_user/wavs/rec_{i:04d}.wav"
              for i, r in enumerate(en_wavs(), start=1)}
    for source in (path, path.parent):  # the manifest, or its folder
        ds = _new(f"seed-{source.name.replace('_', '-').replace('.', '-')}")
        report = importers.import_source(ds, source, language="en")
        assert (report.layout, report.rows, report.refused) == (f"seed app dataset ({manifest})", 4, [])
        _exact(ds, expect)
    moved = tmp_path / "elsewhere" / manifest  # the manifest alone: the paths resolve from the current folder
    moved.parent.mkdir()
    moved.write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path / "app")
    ds = _new("seed-cwd")
    assert importers.import_source(ds, moved, language="en").refused == []
    _exact(ds, expect)
    monkeypatch.chdir(tmp_path)
    _every_way(tmp_path, path.parent, expect, "seed app dataset", language="en")


def test_a_jsonl_manifest_with_absolute_paths_imports_locally_and_is_refused_hosted(home, tmp_path, monkeypatch):
    rows = en_wavs() + rows_of(FR_WAVS)
    path = absolute_jsonl(tmp_path / "abs", rows)
    ds = _new(languages=("en", "fr"))
    report = importers.import_source(ds, path)
    assert (report.layout, report.rows, report.refused) == ("JSONL manifest (clips.jsonl)", 6, [])
    _exact(ds, {r["text"]: tmp_path / "abs" / "store" / r["audio_path"] for r in rows})

    monkeypatch.setenv("VOXSTUDIO_AUTH", "password")  # hosted, with a signed-in person: uploads only
    with workspace.use_home(home / "users" / "ana"):
        hosted = _new("hosted", ("en", "fr"))
        first = rows[0]
        report = importers.import_uploads(hosted, [(path.name, path.read_bytes()),
                                                   (Path(first["audio_path"]).name, first["path"].read_bytes())])
        assert [c.text for c in hosted.clips()] == [first["text"]]  # the uploaded file, matched by its name
        (label, reason), = report.refused
        assert label == "clips.jsonl" and "names 5 audio file(s) that were not uploaded" in reason
        archive = tmp_path / "abs.zip"  # a zip of the manifest and one file: the other paths are the server's
        with zipfile.ZipFile(archive, "w") as zf:
            zf.write(path, "lists/clips.jsonl")
            zf.write(first["path"], f"store/{first['audio_path']}")
        zipped = _new("hosted-zip", ("en", "fr"))
        report = importers.import_uploads(zipped, [(archive.name, archive.read_bytes())])
        assert [c.text for c in zipped.clips()] == [first["text"]]  # matched inside the zip by its last folders
        assert len(report.refused) == 5
        assert all("is a path on the server; a hosted studio only imports the files uploaded with it" in r
                   for _, r in report.refused)
        with pytest.raises(ValueError, match="imports uploaded files only, never a path on the server"):
            importers.import_source(_new("hosted-path"), path)


@pytest.mark.parametrize("absolute", [True, False])
def test_a_nemo_manifest(home, tmp_path, absolute):
    path = nemo(tmp_path / "an4", en_wavs(), absolute=absolute)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert set(rows[0]) == {"audio_filepath", "duration", "text"}
    expect = {r["text"]: tmp_path / "an4" / "wav" / Path(r["audio_path"]).name for r in en_wavs()}
    for source in (path, path.parent):
        ds = _new(f"nemo-{source.suffix.strip('.') or 'dir'}")
        report = importers.import_source(ds, source, language="en")
        assert (report.layout, report.rows, report.refused) == ("NeMo manifest (train_manifest.json)", 4, [])
        _exact(ds, expect)
    if not absolute:  # an absolute path inside a zip or upload means nothing on this machine
        _every_way(tmp_path, path.parent, expect, "NeMo manifest", language="en")


def test_a_common_voice_release(home, tmp_path):
    release = tmp_path / "cv-corpus-17.0-2024-03-15"
    en = common_voice(release, en_wavs(), "en", train=3)
    fr = common_voice(release, rows_of(FR_WAVS), "fr", train=1)
    clips = {r["text"]: en / "clips" / f"common_voice_en_{40000000 + i}.mp3" for i, r in enumerate(en_wavs())}
    clips_fr = {r["text"]: fr / "clips" / f"common_voice_fr_{40000000 + i}.mp3" for i, r in enumerate(rows_of(FR_WAVS))}

    ds = _new("cv-en")
    report = importers.import_source(ds, en)  # one locale folder: validated.tsv by default
    assert (report.layout, report.rows, report.refused) == ("Common Voice folder (en, validated.tsv)", 4, [])
    assert "also there: clip_durations" not in report.notes[0] and "train.tsv" in report.notes[0]
    _exact(ds, clips)
    speakers = {c.speaker for c in ds.clips()}
    assert len(speakers) == 2 and all(len(s) == 128 for s in speakers)  # client_id → speaker
    assert {c.language for c in ds.clips()} == {"en"}  # locale → language

    train = _new("cv-train")
    assert importers.import_source(train, en, split="train").rows == 3
    assert len(train.clips()) == 3
    with pytest.raises(ValueError, match="has no nope.tsv"):
        importers.import_source(train, en, split="nope")

    both = _new("cv-release", ("en", "fr"))  # the release folder: every locale, each with its language
    report = importers.import_source(both, release)
    assert report.refused == [] and report.rows == 6
    assert {c.text: c.language for c in both.clips()} == {**dict.fromkeys(clips, "en"), **dict.fromkeys(clips_fr,
                                                                                                     "fr")}
    _every_way(tmp_path, en, clips, "Common Voice folder")


def test_lj_speech(home, tmp_path):
    rows = rows_of(LJ_CLIPS)
    folder = ljspeech(tmp_path, rows)
    assert (folder / "metadata.csv").read_text().splitlines()[0].startswith("LJ001-0002|")
    expect = {r["text"]: folder / "wavs" / f"{Path(r['audio_path']).stem.removeprefix('ljspeech_')}.wav"
              for r in rows}
    ds = _new()
    report = importers.import_source(ds, folder)
    assert (report.layout, report.rows, report.refused) == ("LJ Speech folder (LJSpeech-1.1, metadata.csv)", 3, [])
    _exact(ds, expect)
    _every_way(tmp_path, folder, expect, "LJ Speech folder")


def test_a_kaldi_data_folder(home, tmp_path):
    rows = en_wavs()
    data = kaldi(tmp_path / "recipe", rows)  # wav.scp: one absolute path, the others relative to the recipe
    expect = {r["text"]: tmp_path / "recipe" / "corpus" / "wav" / f"{Path(r['audio_path']).stem}.wav" for r in rows}
    piped = [("spk9-utt999", "is a shell command (it ends in '|'), not an audio file: an import never runs commands. "
              "Write the audio to files first (for example with sox or ffmpeg) and list those files in wav.scp")]
    ds = _new()
    report = importers.import_source(ds, data)
    assert report.layout == "Kaldi data folder (train: wav.scp, text, utt2spk)" and report.rows == 5
    assert report.refused == piped
    _exact(ds, expect)
    assert sorted(c.speaker for c in ds.clips()) == ["spk0", "spk0", "spk1", "spk1"]
    recipe = _new("kaldi-recipe")  # the recipe folder: its data/train is found
    assert importers.import_source(recipe, tmp_path / "recipe").refused == piped
    _exact(recipe, expect)
    _every_way(tmp_path, tmp_path / "recipe", expect, "Kaldi data folder", refused=piped)

    with (data / "wav.scp").open("a") as f:
        f.write("spk9-utt998 /corpus/all.ark:1234\n")
    (data / "text").write_text((data / "text").read_text() + "spk9-utt998 from an archive\n")
    ark = importers.import_source(_new("kaldi-ark"), data)
    assert "points into a Kaldi archive" in dict(ark.refused)["spk9-utt998"] and len(ark.imported) == 4
    (data / "segments").write_text("spk0-utt000 rec1 0.0 1.5\n")
    with pytest.raises(ValueError, match="segments file: its utterances are cuts of longer recordings"):
        importers.import_source(_new("kaldi-seg"), data)


def test_csv_txt_folder_and_format_override(home, tmp_path):
    rows = en_wavs()
    root = tmp_path / "mixed"
    csv_source(root, rows[:2])  # clips.csv naming wavs/…
    txt_folder(root / "more", rows[2:])  # …and more/en/*.wav with .txt
    ds = _new()
    report = importers.import_source(ds, root)
    assert (report.layout, report.rows) == ("CSV manifest (clips.csv)", 2)
    assert sorted(c.text for c in ds.clips()) == sorted(r["text"] for r in rows[:2])
    forced = _new("forced")
    report = importers.import_source(forced, root, format="folder")
    assert report.layout == "folder of audio files with .txt transcripts (mixed)" and report.rows == 4
    assert sorted(c.text for c in forced.clips()) == sorted(r["text"] for r in rows[2:])
    assert [label for label, _ in report.refused] == sorted(f"wavs/{Path(r['audio_path']).name}" for r in rows[:2])
    with pytest.raises(ValueError, match="is not a layout"):
        importers.import_source(forced, root, format="excel")


def test_uploads_of_several_layouts_at_once_each_import(home, tmp_path):
    """One browser upload: an LJ Speech zip, a Common Voice zip and loose files with .txt transcripts."""
    lj = zip_folder(ljspeech(tmp_path, rows_of(LJ_CLIPS)), tmp_path / "lj.zip", "LJSpeech-1.1/")
    cv = zip_folder(common_voice(tmp_path / "cv", rows_of(FR_WAVS), "fr", 1), tmp_path / "cv.zip", "fr/")
    loose = txt_folder(tmp_path / "loose", en_wavs()[:2])
    ds = _new("many", ("en", "fr"))
    seen = []
    report = importers.import_uploads(ds, [("lj.zip", lj.read_bytes()), ("cv.zip", cv.read_bytes()),
                                           *_files(loose, flat=True)], language="en",
                                      progress=lambda done, total: seen.append((done, total)))
    assert report.refused == [] and len(report.imported) == 7 and report.rows == 7
    assert seen[-1] == (7, 7) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert report.layout.startswith("zip lj.zip → LJ Speech folder") and "Common Voice folder" in report.layout
    assert {c.language for c in ds.clips() if c.text in {r["text"] for r in rows_of(FR_WAVS)}} == {"fr"}
    assert os.listdir(tmp_path / "home" / "datasets" / "many" / "audio")
