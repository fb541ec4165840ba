"""The real `voxstudio dataset ...` console script in a subprocess: output, exit codes and files on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import ROOT
from dataset_io_sources import hf_dataset, pcm, picked, seed_manifest

SCRIPT = ROOT / ".venv" / "bin" / "voxstudio"


def vox(home: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "voxstudio"]
    env = {k: v for k, v in os.environ.items() if k != "VOXSTUDIO_HOME"}  # --home alone must decide
    env["HF_HUB_OFFLINE"] = "1"  # a hub id must fail fast and clearly, never reach the network
    return subprocess.run([*cmd, "--home", str(home), *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=ROOT)


def _wavs(home: Path, name: str) -> list[Path]:
    return sorted((home / "datasets" / name / "audio").glob("*.wav"))


def test_import_json_reports_refusals_on_stderr_and_succeeds_when_something_imported(tmp_path):
    home = tmp_path / "home"
    good = picked()[:2]
    manifest = seed_manifest(tmp_path / "src", good, extra=[{"audio_path": "missing.wav", "text": "gone"},
                                                            {"audio_path": "../x.wav", "text": "escape"}])
    result = vox(home, "dataset", "import", str(manifest), "--name", "my-voice", "--language", "en", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # exactly one JSON object
    assert report["dataset"] == "my-voice" and report["created"] is True
    assert report["imported"] == 2
    assert [r["item"] for r in report["refused"]] == ["missing.wav", "../x.wav"]
    lines = result.stderr.strip().splitlines()
    assert report["layout"] == "JSONL manifest (manifest.jsonl)" and report["rows"] == 4
    assert lines[0].startswith(f"refused missing.wav: file not found (looked in {manifest.parent}")
    assert lines[1].startswith("refused ../x.wav: path leaves the source folder")
    wavs = _wavs(home, "my-voice")
    assert [w.stem for w in wavs] == sorted(report["clip_ids"])
    rows = [json.loads(x) for x in (home / "datasets" / "my-voice" / "metadata.jsonl").read_text().splitlines()]
    assert [r["text"] for r in rows] == [r["text"] for r in good]


def test_import_fails_only_when_nothing_was_imported(tmp_path):
    home = tmp_path / "home"
    manifest = seed_manifest(tmp_path / "src", picked()[:1])
    bad = seed_manifest(tmp_path / "bad", [], extra=[{"audio_path": "missing.wav", "text": "gone"}])

    nothing = vox(home, "dataset", "import", str(bad), "--name", "new-one", "--language", "en")
    assert nothing.returncode == 1
    assert "refused missing.wav: file not found" in nothing.stderr
    assert "imported 0 clip(s)" in nothing.stdout
    assert not (home / "datasets" / "new-one").exists()  # no empty dataset left behind
    hub = vox(home, "dataset", "import", "someone/no-such-dataset", "--name", "new-one", "--language", "en")
    assert hub.returncode == 1 and not hub.stdout
    assert "could not load the Hugging Face dataset 'someone/no-such-dataset'" in hub.stderr
    assert not (home / "datasets" / "new-one").exists()

    first = vox(home, "dataset", "import", str(manifest), "--name", "voice", "--language", "en")
    assert first.returncode == 0 and "imported 1 clip(s) into 'voice', refused 0" in first.stdout
    again = vox(home, "dataset", "import", str(manifest), "--name", "voice", "--json")
    assert again.returncode == 1
    assert json.loads(again.stdout)["imported"] == 0
    assert "is a duplicate" in again.stderr
    assert len(_wavs(home, "voice")) == 1


def test_stats_list_and_bad_names(tmp_path):
    home = tmp_path / "home"
    empty = vox(home, "dataset", "list")
    assert empty.returncode == 0 and "no datasets" in empty.stdout
    vox(home, "dataset", "import", str(seed_manifest(tmp_path / "src")), "--name", "mixed", "--speaker", "ana")

    stats = json.loads(vox(home, "dataset", "stats", "mixed", "--json").stdout)
    assert stats["clips"] == 4
    assert {k: v["clips"] for k, v in stats["languages"].items()} == {"en": 3, "fr": 1}
    assert list(stats["speakers"]) == ["ana"]
    assert 0.1 < stats["minutes"] < 0.2
    human = vox(home, "dataset", "stats", "mixed").stdout
    assert "mixed: 4 clip(s)" in human and "language fr: 1 clip(s)" in human

    listed = json.loads(vox(home, "dataset", "list", "--json").stdout)
    assert listed["home"] == str(home.resolve())
    assert [(d["name"], d["clips"]) for d in listed["datasets"]] == [("mixed", 4)]

    for args in (("stats", "../mixed"), ("import", str(tmp_path / "src"), "--name", "Bad Name")):
        bad = vox(home, "dataset", *args)
        assert bad.returncode == 1 and "is not allowed" in bad.stderr and not bad.stdout
    missing = vox(home, "dataset", "stats", "nope")
    assert missing.returncode == 1 and "no dataset named 'nope'" in missing.stderr
    assert sorted(p.name for p in (home / "datasets").iterdir()) == ["mixed"]


def test_export_both_formats_and_reimport(tmp_path):
    home = tmp_path / "home"
    vox(home, "dataset", "import", str(seed_manifest(tmp_path / "src")), "--name", "orig")
    for fmt in ("jsonl", "audiofolder", "nemo"):
        out = tmp_path / f"out-{fmt}"
        paths = ["--paths", "absolute"] if fmt == "nemo" else []
        result = vox(home, "dataset", "export", "orig", "--format", fmt, "--out", str(out), *paths)
        assert result.returncode == 0, result.stderr
        assert "exported 4 clip(s)" in result.stdout
        assert len(list((out / "audio").glob("*.wav"))) == 4
        assert json.loads((out / "dataset.json").read_text())["name"] == "orig"
        index = out / {"jsonl": "manifest.jsonl", "audiofolder": "metadata.jsonl", "nemo": "manifest.json"}[fmt]
        assert len(index.read_text().splitlines()) == 4
        if fmt == "nemo":
            assert Path(json.loads(index.read_text().splitlines()[0])["audio_filepath"]).is_absolute()
        back = vox(home, "dataset", "import", str(out), "--name", f"back-{fmt}", "--json")
        assert json.loads(back.stdout)["imported"] == 4, back.stderr
        orig = {json.loads(x)["text"]: json.loads(x) for x in
                (home / "datasets" / "orig" / "metadata.jsonl").read_text().splitlines()}
        for line in (home / "datasets" / f"back-{fmt}" / "metadata.jsonl").read_text().splitlines():
            row = json.loads(line)
            source = orig[row["text"]]
            assert row["language"] == source["language"]
            assert np.array_equal(pcm(home / "datasets" / f"back-{fmt}" / row["file_name"]),
                                  pcm(home / "datasets" / "orig" / source["file_name"]))
    again = vox(home, "dataset", "export", "orig", "--format", "jsonl", "--out", str(tmp_path / "out-jsonl"))
    assert again.returncode == 1 and "not an empty folder" in again.stderr


def test_import_hf_dataset_with_column_mapping(tmp_path):
    import datasets

    home = tmp_path / "home"
    rows = picked()
    datasets.DatasetDict({"train": hf_dataset(rows[:3], "words"), "test": hf_dataset(rows[3:], "words")}) \
        .save_to_disk(str(tmp_path / "hf"))
    unmapped = vox(home, "dataset", "import", str(tmp_path / "hf"), "--name", "hf", "--json")
    assert unmapped.returncode == 1 and "--column text=COLUMN" in unmapped.stderr and not unmapped.stdout
    result = vox(home, "dataset", "import", str(tmp_path / "hf"), "--name", "hf", "--column", "text=words",
                 "--split", "train", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 3
    stats = json.loads(vox(home, "dataset", "stats", "hf", "--json").stdout)
    assert sorted(stats["speakers"]) == ["speaker-0", "speaker-1", "speaker-2"]


def test_take_replaces_the_phrases_earlier_take_like_the_record_page(home, tmp_path):
    from audio_helpers import SPEECH_TEXT, SPEECH_WAV, speech

    from voxstudio.data import audio
    from voxstudio.data.dataset import Dataset

    ds = Dataset.create("my-voice", languages=["en"], speaker="ana")
    ds.set_phrases([{"phrase_id": "p1", "text": SPEECH_TEXT, "language": "en"}])
    first = vox(home, "dataset", "take", "my-voice", "p1", str(SPEECH_WAV), "--json")
    assert first.returncode == 0, first.stderr
    saved = json.loads(first.stdout)
    assert saved["phrase_id"] == "p1" and saved["replaced"] == []

    again = tmp_path / "again.wav"
    audio.write_wav(again, audio.to_pcm16(speech() * 0.8))
    second = vox(home, "dataset", "take", "my-voice", "p1", str(again))
    assert second.returncode == 0, second.stderr
    assert f"replaced {saved['clip_id']} (in the trash)" in second.stdout
    assert [c.phrase_id for c in ds.clips()] == ["p1"] and [c.clip_id for c in ds.trashed()] == [saved["clip_id"]]

    refused = vox(home, "dataset", "take", "my-voice", "p1", str(again))  # the same take again: a duplicate
    assert refused.returncode == 1 and "duplicate" in refused.stderr
    unknown = vox(home, "dataset", "take", "my-voice", "nope", str(again))
    assert unknown.returncode == 1 and "no phrase 'nope'" in unknown.stderr
    assert len(ds.clips()) == 1 and len(ds.trashed()) == 1


def test_import_first_says_the_layout_and_the_rows_it_saw(tmp_path):
    from layout_sources import LJ_CLIPS, ljspeech, rows_of

    home = tmp_path / "home"
    folder = ljspeech(tmp_path, rows_of(LJ_CLIPS))
    result = vox(home, "dataset", "import", str(folder), "--name", "lj", "--language", "en")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["detected: LJ Speech folder (LJSpeech-1.1, metadata.csv) — 3 rows",
                                          "imported 3 clip(s) into 'lj', refused 0"]
    forced = vox(home, "dataset", "import", str(folder), "--name", "lj-csv", "--language", "en", "--format", "csv",
                 "--json")
    report = json.loads(forced.stdout)  # metadata.csv read as a plain CSV: every line refused, with why
    assert report["layout"] == "CSV manifest (metadata.csv)" and report["rows"] == 3
    assert forced.returncode == 1 and report["imported"] == 0 and len(report["refused"]) == 3
    bad = vox(home, "dataset", "import", str(folder), "--name", "nl\n", "--language", "en")
    assert bad.returncode == 1 and "is not allowed" in bad.stderr
    assert sorted(p.name for p in (home / "datasets").iterdir()) == ["lj"]


def test_import_a_dataset_from_the_hub(tmp_path):
    import io

    from hubserver import HubServer

    parquet = io.BytesIO()
    hf_dataset(picked()).to_parquet(parquet)
    home = tmp_path / "home"
    with HubServer() as hub:
        hub.add_repo("alice/my-voice", "alice", "dataset", private=False,
                     files={"data/train-00000-of-00001.parquet": parquet.getvalue(), "README.md": b"# my voice\n"})
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint}
        cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "voxstudio"]
        result = subprocess.run([*cmd, "--home", str(home), "dataset", "import", "alice/my-voice", "--name", "hub",
                                 "--json"], capture_output=True, text=True, timeout=120,
                                env={k: v for k, v in env.items() if k not in ("VOXSTUDIO_HOME", "HF_HUB_OFFLINE")})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["layout"] == "Hugging Face Hub dataset (alice/my-voice, split train)"
    assert report["imported"] == 4 and report["refused"] == []
    rows = [json.loads(x) for x in (home / "datasets" / "hub" / "metadata.jsonl").read_text().splitlines()]
    assert sorted((r["text"], r["language"]) for r in rows) == sorted((r["text"], r["language"]) for r in picked())
