"""A run's data is frozen when it is submitted: ``create_run`` records the exact clips ``training.selection``
picks (``clips.json``) and links their WAVs into the run folder; training, resume, evaluation, the Evaluate
page's audio, the model card and the run's dataset push use that list and nothing else.

Real fixture clips (tests/fixtures/speech), real run folders, the real trainer subprocess (tiny model) and the
local Hub-compatible server for the push.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys

import pytest
from conftest import ROOT, speech_manifest
from hubserver import HubServer, hub_server  # noqa: F401 - fixture
from train_helpers import english_rows, make_dataset, make_run, run_trainer, trainer_cmd, trainer_env, wait_for_status

from voxstudio.data import audio
from voxstudio.data.dataset import Dataset
from voxstudio.publish import card, hub
from voxstudio.runs import queue, rundata, runfolder
from voxstudio.runs import status as runstatus
from voxstudio.training import selection
from voxstudio.training.config import RunConfig, new_config

EXTRA = english_rows(8)[6:]  # recorded after the run was created


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def new_run(run="frozen", dataset="voice", **fields) -> tuple[RunConfig, object]:
    fields.setdefault("eval_fraction", 0.34)
    cfg = new_config(run_name=run, dataset=dataset, base_model="tiny", **fields)
    folder = queue.create_run(cfg)
    return RunConfig.load(folder / runfolder.CONFIG), folder


def ids(items) -> list[str]:
    return [c.clip_id for c in items]


def change_the_dataset(ds: Dataset, data: rundata.RunData) -> tuple[str, str]:
    """Record two more clips, edit a held-out clip's text, delete a training clip: (edited id, deleted id)."""
    for row in EXTRA:
        ds.add_clip(row["path"], row["text"], language="en", source="import")
    edited, deleted = data.held_out[0].clip_id, data.train[0].clip_id
    ds.update_clip(edited, text="something else entirely")
    ds.delete(deleted)
    return edited, deleted


def test_a_created_run_keeps_its_clips_whatever_happens_to_the_dataset(home):
    ds = make_dataset("voice", english_rows(6))
    on_disk = {c.clip_id: ds.audio_bytes(c) for c in ds.clips()}
    cfg, folder = new_run()
    assert cfg.clip_list == rundata.CLIP_LIST
    data = rundata.load(folder)
    sel = selection.select_run(cfg)  # what the trainer would have picked at this moment
    assert (ids(data.train), ids(data.held), ids(data.spare)) == (ids(sel.train), ids(sel.held), ids(sel.spare))
    assert data.held_out and data.note == ""
    for clip in data.clips:
        live = ds.get(clip.clip_id)
        assert (clip.text, clip.language, clip.speaker, clip.duration_s, clip.phrase_id) == (
            live.text, live.language, live.speaker, live.duration_s, live.phrase_id)
        assert clip.sha1 == sha1(on_disk[clip.clip_id]) == sha1(data.path(clip).read_bytes())
        assert os.path.samefile(data.path(clip), ds.audio_path(clip.clip_id))  # a hard link, not a copy
    listed = (folder / rundata.CLIP_LIST).read_bytes()
    refs = rundata.select_clips(cfg, folder)

    edited, deleted = change_the_dataset(ds, data)

    assert (folder / rundata.CLIP_LIST).read_bytes() == listed
    assert rundata.select_clips(cfg, folder) == refs  # same clips, texts and files for training and evaluation
    again = rundata.load(folder)
    assert [c.text for c in again.clips if c.clip_id == edited] == [data.get(edited).text]
    assert all(sha1(again.path(c).read_bytes()) == c.sha1 == sha1(on_disk[c.clip_id]) for c in again.clips)
    assert runstatus.utterance_audio("frozen", deleted) == on_disk[deleted]  # gone from the dataset, not the run
    # The dataset's own selection has moved on: only the frozen list keeps the run what it was.
    now = selection.select_run(cfg)
    assert deleted not in ids(now.train + now.held) and set(ids(now.train + now.held)) != set(ids(data.clips))


def test_the_run_keeps_its_bytes_when_linking_is_impossible(home, monkeypatch):
    ds = make_dataset("voice", english_rows(4))

    def no_links(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    cfg, folder = new_run(eval_fraction=0.0)
    data = rundata.load(folder)
    assert data.note == selection.NO_HELD_OUT and ids(data.held) == ids(data.train)
    for clip in data.clips:
        copy = data.path(clip)
        assert not os.path.samefile(copy, ds.audio_path(clip.clip_id))
        assert sha1(copy.read_bytes()) == clip.sha1
        ds.delete(clip.clip_id)
    assert rundata.load(folder).problems() == []
    train, held, note = rundata.select_clips(cfg, folder)
    assert [r.path for r in train] == [str(folder / c.file) for c in data.train] and note == selection.NO_HELD_OUT


def test_a_changed_clip_file_is_refused(home):
    make_dataset("voice", english_rows(4))
    cfg, folder = new_run()
    data = rundata.load(folder)
    victim = data.path(data.train[0])
    victim.write_bytes(victim.read_bytes()[:-2000])  # in place: the dataset's file is the same inode
    with pytest.raises(ValueError, match="not the ones it was created with"):
        rundata.select_clips(cfg, folder)


def test_left_out_clips_are_recorded_with_their_reason(home):
    ds = make_dataset("voice", english_rows(4))
    quiet = next(r for r in speech_manifest("difficult") if r["audio_path"] == "fr/fleurs_fr_000.ogg")
    bad = ds.add_clip(audio.load_audio(quiet["path"])[: int(0.8 * audio.SAMPLE_RATE)], "turn on the kitchen lights",
                      language="en")
    sel = selection.select_run(new_config(run_name="x", dataset="voice", base_model="tiny"))
    left = {c.clip_id: code for c, code in getattr(sel, "left_out", [])}
    if not left:
        pytest.skip("this selection has no clean-takes rule")
    _, folder = new_run()
    data = rundata.load(folder)
    assert bad.clip_id not in ids(data.clips)
    assert [(r["clip_id"], r["code"]) for r in data.left_out] == [(bad.clip_id, left[bad.clip_id])]
    assert data.left_out[0]["reason"]


def test_a_run_that_could_never_train_is_refused_and_leaves_nothing(home):
    make_dataset("voice", english_rows(1))
    with pytest.raises(ValueError, match="record at least 2"):
        queue.create_run(new_config(run_name="few", dataset="voice", base_model="tiny"))
    with pytest.raises(ValueError, match="no dataset named 'nope'"):
        queue.create_run(new_config(run_name="nothing", dataset="nope", base_model="tiny"))
    assert list(runfolder.run_dir("few").parent.iterdir()) == []


def test_a_run_made_before_clip_lists_still_reads_its_dataset(home):
    ds = make_dataset("voice", english_rows(4))
    folder = make_run("legacy", "voice", eval_fraction=0.34)  # config.json written directly, no clip list
    cfg = RunConfig.load(folder / runfolder.CONFIG)
    assert cfg.clip_list == "" and rundata.load(folder) is None
    assert rundata.select_clips(cfg, folder) == selection.select_clips(cfg)
    clip = ds.clips()[0]
    assert runstatus.utterance_audio("legacy", clip.clip_id) == ds.audio_bytes(clip)
    with pytest.raises(ValueError, match="clip list"):
        RunConfig(dataset="voice", clip_list="../elsewhere.json").validate()


def test_the_card_counts_the_frozen_clips(home):
    ds = make_dataset("voice", english_rows(6))
    _, folder = new_run()
    data = rundata.load(folder)
    change_the_dataset(ds, data)
    facts = card.run_facts(folder)["data"]
    assert (facts["train_clips"], facts["eval_clips"]) == (len(data.train), len(data.held))
    assert facts["train_minutes"] == round(sum(c.duration_s for c in data.train) / 60, 3)
    assert facts["eval_minutes"] == round(sum(c.duration_s for c in data.held) / 60, 3)
    live = selection.select_run(RunConfig.load(folder / runfolder.CONFIG))
    assert (len(live.train), len(live.held)) != (len(data.train), len(data.held))  # the dataset says otherwise


def parquet_rows(content: bytes) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(content)).to_pylist()


def folder_rows(folder) -> dict[str, list[dict]]:
    return {p.name.split("-")[0]: parquet_rows(p.read_bytes()) for p in sorted((folder / "data").glob("*.parquet"))}


def as_pushed(data: rundata.RunData, clips) -> set[tuple[str, str, str]]:
    return {(f"{c.clip_id}.wav", c.text, sha1(data.path(c).read_bytes())) for c in clips}


def pushed_set(rows: list[dict]) -> set[tuple[str, str, str]]:
    return {(r["audio"]["path"], r["text"], sha1(r["audio"]["bytes"])) for r in rows}


def test_dataset_folder_of_a_run_is_its_frozen_clips_and_push_dataset_is_the_dataset_now(home, tmp_path):
    ds = make_dataset("voice", english_rows(6))
    _, folder = new_run()
    data = rundata.load(folder)
    change_the_dataset(ds, data)

    run_push = hub.dataset_folder("voice", tmp_path / "run", "alice/run-data", licence="cc-by-4.0", run_dir=folder)
    rows = folder_rows(run_push)
    assert pushed_set(rows["train"]) == as_pushed(data, data.train) and len(rows["train"]) == len(data.train)
    assert pushed_set(rows["test"]) == as_pushed(data, data.held_out) and len(rows["test"]) == len(data.held_out)
    text = (run_push / "README.md").read_text()
    n = len(data.train) + len(data.held_out)
    minutes = sum(c.duration_s for c in data.train + data.held_out) / 60
    assert f"| Clips | {n} |" in text and f"| Total duration | {minutes:.1f} minutes |" in text
    assert "run `frozen`" in text

    now = hub.dataset_folder("voice", tmp_path / "now", "alice/voice", licence="cc-by-4.0")
    live = {(f"{c.clip_id}.wav", c.text, sha1(ds.audio_bytes(c))) for c in ds.clips()}
    assert set().union(*map(pushed_set, folder_rows(now).values())) == live
    text = (now / "README.md").read_text()
    assert f"| Clips | {len(live)} |" in text and "run `" not in text
    assert f"| Total duration | {ds.stats()['minutes']:.1f} minutes |" in text


# ---- the real trainer --------------------------------------------------------------------------------



@pytest.mark.slow
def test_resume_after_new_recordings_trains_and_scores_the_first_starts_clips(home):
    ds = make_dataset("voice", english_rows(6))
    _, run = new_run("resume", max_steps=30, eval_every=1000, max_new_tokens=4)
    data = rundata.load(run)
    with open(run / runfolder.LOG, "ab") as log:
        proc = subprocess.Popen(trainer_cmd(run), stdout=log, stderr=subprocess.STDOUT,
                                env=trainer_env(VOXSTUDIO_STATUS_EVERY_S="0"))
    wait_for_status(run, lambda s: (s.get("step") or 0) >= 3 and s.get("phase") == "training")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0 and runfolder.read_status(run)["state"] == "stopped"
    first = json.loads((run / runfolder.EVAL_RESULTS).read_text())

    change_the_dataset(ds, data)
    assert run_trainer(run, resume=True).returncode == 0, (run / runfolder.LOG).read_text()[-3000:]
    log = (run / runfolder.LOG).read_text()
    counts = re.findall(r"data: (\d+) training clips, (\d+) evaluation clips", log)
    assert counts == [(str(len(data.train)), str(len(data.held)))] * 2
    assert log.count("baseline: WER") == 1  # measured once, on the first start's clips, and reused
    done = json.loads((run / runfolder.EVAL_RESULTS).read_text())
    assert done["baseline"] == first["baseline"] and done["clip_ids"] == ids(data.held)
    assert [u["clip_id"] for u in done["utterances"]] == ids(data.held)
    assert all(u["audio_path"].startswith(str(run / rundata.CLIPS_DIR)) for u in done["utterances"])
    assert runfolder.read_status(run)["state"] == "succeeded"
    training = json.loads((run / runfolder.TRAINING_CONFIG).read_text())
    assert (training["train_clips"], training["eval_clips"]) == (len(data.train), len(data.held))


def cli(*argv, endpoint: str):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    env.update(PYTHONPATH=str(ROOT), VOXSTUDIO_HUB_BACKOFF_S="0.05", OMP_NUM_THREADS="2", HF_ENDPOINT=endpoint,
               HF_TOKEN=HubServer.WRITE_TOKEN)
    return subprocess.run([sys.executable, "-m", "voxstudio", *argv], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_publish_with_dataset_pushes_exactly_the_runs_clips(home, hub_server):  # noqa: F811
    ds = make_dataset("voice", english_rows(6))
    _, run = new_run("pub", method="lora", max_steps=3, eval_every=1000, max_new_tokens=4, lora_r=4, lora_alpha=8)
    assert run_trainer(run).returncode == 0, (run / runfolder.LOG).read_text()[-3000:]
    data = rundata.load(run)
    change_the_dataset(ds, data)
    if hasattr(ds, "consent_to_publish"):
        ds.consent_to_publish("tester", public=False)

    done = cli("publish", "--run", "pub", "--repo", "tess", "--licence", "apache-2.0", "--with-dataset",
               "--data-licence", "cc-by-4.0", endpoint=hub_server.endpoint)
    assert done.returncode == 0, done.stderr
    pushed = hub_server.files("alice/tess-data", "dataset")
    assert sorted(pushed) == ["README.md", "data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"]
    train = parquet_rows(pushed["data/train-00000-of-00001.parquet"])
    test = parquet_rows(pushed["data/test-00000-of-00001.parquet"])
    assert len(train) == len(data.train) and pushed_set(train) == as_pushed(data, data.train)
    assert len(test) == len(data.held_out) and pushed_set(test) == as_pushed(data, data.held_out)
    assert {sha1(r["audio"]["bytes"]) for r in train + test} == {c.sha1 for c in data.train + data.held_out}
    assert f"| Clips | {len(data.train) + len(data.held_out)} |" in pushed["README.md"].decode()
    facts = card.run_facts(run)["data"]
    assert (facts["train_clips"], facts["eval_clips"]) == (len(data.train), len(data.held))
