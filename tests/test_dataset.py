"""voxstudio.data.dataset on a real data home with real clips.

What a user records is saved, shown, editable, never lost.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_helpers import SPEECH_TEXT, SPEECH_WAV, speech, speech_room_tone

from voxstudio import workspace
from voxstudio.data import audio
from voxstudio.data.dataset import Clip, Dataset, list_datasets

ROW_FIELDS = {"file_name", "text", "language", "speaker", "duration_s", "phrase_id", "source", "flags", "created_at"}


def snapshot(ds: Dataset) -> dict[str, str]:
    """Every file of the dataset with its content hash (the lock file aside)."""
    return {str(p.relative_to(ds.path)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(ds.path.rglob("*")) if p.is_file() and p.name != ".lock"}


def rows(ds: Dataset) -> list[dict]:
    return [json.loads(line) for line in (ds.path / "metadata.jsonl").read_text("utf-8").splitlines()]


@pytest.fixture
def ds(home) -> Dataset:
    return Dataset.create("my-voice", languages=["en"], speaker="ana", consent={"given": True})


def test_create_open_list(home):
    assert list_datasets() == []
    ds = Dataset.create("my-voice-fr", languages=["fr"], speaker="Zoé", consent={"given": True, "by": "Zoé"})
    assert list_datasets() == ["my-voice-fr"]
    info = Dataset.open("my-voice-fr").info
    assert info["name"] == "my-voice-fr" and info["languages"] == ["fr"] and info["speakers"] == ["Zoé"]
    assert info["consent"] == {"given": True, "by": "Zoé"} and info["licence"]
    assert ds.path == home / "datasets" / "my-voice-fr" and (ds.path / "audio").is_dir()
    ds.update_info(licence="cc0-1.0")
    assert Dataset.open("my-voice-fr").info["licence"] == "cc0-1.0"
    with pytest.raises(FileExistsError, match="already exists"):
        Dataset.create("my-voice-fr")
    with pytest.raises(FileNotFoundError, match="no dataset named 'nope'"):
        Dataset.open("nope")


@pytest.mark.parametrize("name", ["../evil", "My Voice", "voix-ünï", "", "a" * 65, "-x", "a/b", "x..y"])
def test_unsafe_dataset_names_are_refused_and_nothing_is_created(home, name):
    with pytest.raises(ValueError, match="is not allowed"):
        Dataset.create(name)
    with pytest.raises(ValueError, match="is not allowed"):
        Dataset.open(name)
    assert list(workspace.datasets_dir().iterdir()) == []
    assert sorted(p.name for p in home.iterdir()) == ["datasets"]


def test_every_format_is_stored_as_16k_mono_pcm16_with_its_row(ds, clips):
    for row in clips:
        clip = ds.add_clip(row["path"], row["text"], language=row["language"], source="import",
                           name=row["path"].name)
        wav = ds.audio_path(clip)
        info = sf.info(str(wav))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert abs(info.duration - row["duration_s"]) < 0.1
        assert clip.duration_s == pytest.approx(info.duration, abs=1e-3)
        assert wav.parent == ds.path / "audio" and wav.name == f"{clip.clip_id}.wav"
        assert clip.flags == []
    stored = rows(ds)
    assert len(stored) == len(clips) == len(ds.clips())
    for r, clip in zip(stored, ds.clips()):
        assert ROW_FIELDS <= set(r) and r["file_name"] == f"audio/{clip.clip_id}.wav"
        assert r["speaker"] == "ana" and r["source"] == "import"
        assert Clip.from_row(r) == clip and clip.to_row() == r
    ids = [c.clip_id for c in ds.clips()]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # unique and in recording order
    assert ds.info["languages"] == ["de", "en", "es", "fr", "pt"]  # languages seen are remembered


def test_user_file_names_never_become_paths(ds):
    hostile = "../../ ünïcødé take (1).wav"
    clip = ds.add_clip(SPEECH_WAV.read_bytes(), SPEECH_TEXT, language="en", name=hostile, source="upload")
    assert ds.audio_path(clip).parent == ds.path / "audio"
    assert workspace.SLUG_RE.match(clip.clip_id)
    assert clip.original_name == "ünïcødé take (1).wav"
    assert sorted(p.name for p in ds.path.parent.iterdir()) == ["my-voice"]


def test_recorder_samples_are_accepted(ds):
    voice = speech()
    clip = ds.add_clip(voice, SPEECH_TEXT, language="en", phrase_id="en-001")
    back, sr = sf.read(str(ds.audio_path(clip)), dtype="float32")
    assert sr == 16000 and np.abs(back - voice).max() < 1e-4
    assert ds.recorded_phrase_ids() == {"en-001"}


def _bad_inputs(tmp: Path) -> list[tuple[dict, str]]:
    data = SPEECH_WAV.read_bytes()
    (tmp / "empty.wav").write_bytes(b"")
    (tmp / "half.wav").write_bytes(data[: len(data) // 2])
    (tmp / "notes.wav").write_text("cancel timer\n", encoding="utf-8")
    long = np.tile(np.concatenate([speech(), speech_room_tone(1.0)]), 90)
    sf.write(str(tmp / "lecture.flac"), long, 16000)
    return [
        (dict(audio_in=tmp / "empty.wav"), r"empty \(0 bytes\)"),
        (dict(audio_in=tmp / "half.wav"), "truncated"),
        (dict(audio_in=tmp / "notes.wav"), "not audio: it contains text"),
        (dict(audio_in=tmp / "lecture.flac"), "longer than 5 minutes"),
        (dict(audio_in=np.zeros(32000, np.float32)), "completely silent"),
        (dict(audio_in=SPEECH_WAV, text=""), "transcript is empty"),
        (dict(audio_in=SPEECH_WAV, text=" \n\t "), "transcript is empty"),
        (dict(audio_in=SPEECH_WAV, language="English"), "not a language code"),
        (dict(audio_in=SPEECH_WAV), "duplicate"),
        (dict(audio_in=SPEECH_WAV.read_bytes(), text="Cancel timer!", name="again.wav"), "'again.wav' is a duplicate"),
    ]


def test_bad_input_gets_a_sentence_and_changes_nothing(ds, tmp_path):
    first = ds.add_clip(SPEECH_WAV, SPEECH_TEXT, language="en")
    before, version = snapshot(ds), ds.version()
    for kwargs, message in _bad_inputs(tmp_path):
        args = {"text": SPEECH_TEXT, "language": "en", **kwargs}
        with pytest.raises(ValueError, match=message):  # AudioError is a ValueError
            ds.add_clip(args.pop("audio_in"), args.pop("text"), **args)
        assert snapshot(ds) == before, message
    assert ds.version() == version and [c.clip_id for c in ds.clips()] == [first.clip_id]
    # the same audio with another transcript, or the same text with another take, is not a duplicate
    ds.add_clip(SPEECH_WAV, "cancel the timer", language="en")
    ds.add_clip(np.concatenate([speech_room_tone(0.3), speech()]), SPEECH_TEXT, language="en")
    assert len(ds.clips()) == 3


def test_flags_are_stored_with_the_clip(ds, difficult_clips):
    long = next(r for r in difficult_clips if r["duration_s"] > 30)
    clip = ds.add_clip(long["path"], long["text"], language=long["language"])
    assert clip.flag_codes == ["too_long"] and rows(ds)[0]["flags"][0]["suggestion"]
    assert clip.duration_s > 43  # kept whole, not cut
    assert ds.stats()["flagged"] == 1 and ds.stats()["flags"] == {"too_long": 1}


def test_edit_rewrites_the_row_and_rechecks_it(ds, clips):
    clip = ds.add_clip(SPEECH_WAV, SPEECH_TEXT, language="en", phrase_id="p1")
    other = ds.add_clip(clips[5]["path"], clips[5]["text"], language="en")
    version = ds.version()
    wrong = next(r["text"] for r in clips if r["language"] == "pt")
    edited = ds.update_clip(clip.clip_id, text=wrong)
    assert edited.flag_codes == ["speaking_rate"] and ds.get(clip.clip_id).text == wrong
    assert ds.version() != version
    fixed = ds.update_clip(clip.clip_id, text="  cancel   timer ", speaker="bob")
    assert fixed.text == "cancel timer" and fixed.flags == [] and fixed.speaker == "bob"
    assert ds.get(other.clip_id) == other  # other rows untouched
    assert [c.clip_id for c in ds.clips()] == [clip.clip_id, other.clip_id]
    before = snapshot(ds)
    with pytest.raises(ValueError, match="transcript is empty"):
        ds.update_clip(clip.clip_id, text="   ")
    with pytest.raises(ValueError, match="Cannot edit file_name"):
        ds.update_clip(clip.clip_id, file_name="../x.wav")
    with pytest.raises(KeyError, match="not in dataset"):
        ds.update_clip("20990101t000000000-deadbeef", text="x")
    assert snapshot(ds) == before


def test_delete_moves_to_trash_and_restore_brings_it_back(ds, clips):
    kept = ds.add_clip(clips[0]["path"], clips[0]["text"], language="en")
    gone = ds.add_clip(clips[1]["path"], clips[1]["text"], language="en")
    wav_bytes, row = ds.audio_path(gone).read_bytes(), rows(ds)[1]
    ds.delete(gone.clip_id)
    assert [c.clip_id for c in ds.clips()] == [kept.clip_id]
    assert not ds.audio_path(gone).exists()
    assert (ds.path / "trash" / f"{gone.clip_id}.wav").read_bytes() == wav_bytes
    assert [c.clip_id for c in ds.trashed()] == [gone.clip_id]
    assert ds.stats()["clips"] == 1
    with pytest.raises(KeyError):
        ds.delete(gone.clip_id)
    restored = ds.restore(gone.clip_id)
    assert restored == gone and ds.audio_path(gone).read_bytes() == wav_bytes
    assert rows(ds)[1] == row and ds.trashed() == []
    with pytest.raises(KeyError, match="not in the trash"):
        ds.restore(gone.clip_id)


def test_delete_interrupted_before_moving_the_audio_is_still_restorable(ds, clips):
    clip = ds.add_clip(clips[0]["path"], clips[0]["text"], language="en")
    ds.delete(clip.clip_id)
    os.replace(ds.path / "trash" / f"{clip.clip_id}.wav", ds.audio_path(clip))  # killed before step 3
    assert ds.clips() == [] and [c.clip_id for c in ds.trashed()] == [clip.clip_id]
    assert ds.restore(clip.clip_id) == clip and ds.clips() == [clip]


def test_stats_per_language_and_speaker(ds, clips, difficult_clips):
    for row in clips[:3]:
        ds.add_clip(row["path"], row["text"], language=row["language"])
    fr = next(r for r in clips if r["language"] == "fr")
    ds.add_clip(fr["path"], fr["text"], language="fr", speaker="luc")
    quiet = next(r for r in difficult_clips if r["peak_dbfs"] < -40)
    ds.add_clip(quiet["path"], quiet["text"], language=quiet["language"], speaker="luc")
    s = ds.stats()
    total = sum(c.duration_s for c in ds.clips()) / 60
    assert s["clips"] == 5 and s["minutes"] == pytest.approx(total, abs=1e-3)
    assert s["languages"]["fr"]["clips"] == 1 + (quiet["language"] == "fr")
    assert s["speakers"]["ana"]["clips"] == 3 and s["speakers"]["luc"]["clips"] == 2
    assert s["speakers"]["luc"]["minutes"] == pytest.approx((fr["duration_s"] + quiet["duration_s"]) / 60, abs=0.01)
    assert s["flagged"] == 1 and s["flags"] == {"too_quiet": 1}
    assert ds.info["speakers"] == ["ana", "luc"]


def test_split_is_deterministic_by_phrase_and_never_empty(ds, clips):
    assert ds.split() == ([], [])
    en = [r for r in clips if r["language"] == "en" and r["path"].suffix == ".wav"]
    first = ds.add_clip(en[0]["path"], en[0]["text"], language="en", phrase_id="p0")
    ds.add_clip(en[1]["path"], en[0]["text"], language="en", phrase_id="p0")  # a second take of the same phrase
    assert ds.split(eval_fraction=0.5) == (ds.clips(), [])  # one phrase: nothing to hold out
    ds.add_clip(en[2]["path"], en[2]["text"], language="en")  # no phrase id: grouped by its text
    train, evl = ds.split(seed=0, eval_fraction=0.01)
    assert train and evl and len(train) + len(evl) == 3
    for r in en[3:]:
        ds.add_clip(r["path"], r["text"], language="en")
    ds.add_clip(en[4]["path"], en[3]["text"].upper() + "!", language="en")  # same phrase, other spelling
    for seed in range(5):
        train, evl = ds.split(seed=seed, eval_fraction=0.3)
        assert ds.split(seed=seed, eval_fraction=0.3) == (train, evl)
        assert {c.clip_id for c in train}.isdisjoint({c.clip_id for c in evl}) and train and evl
        train_texts = {c.text.lower().rstrip("!") for c in train}
        assert train_texts.isdisjoint({c.text.lower().rstrip("!") for c in evl})  # a phrase is on one side only
        side = "train" if first in train else "eval"
        assert all((c in train) == (side == "train") for c in ds.clips() if c.phrase_id == "p0")
    assert len({tuple(c.clip_id for c in ds.split(seed=s)[1]) for s in range(5)}) > 1  # the seed matters
    with pytest.raises(ValueError, match="between 0 and 1"):
        ds.split(eval_fraction=1.0)


def test_phrases_and_what_is_recorded(ds):
    phrases = ds.set_phrases([{"phrase_id": "en-001", "text": "Cancel timer", "language": "en", "source": "pack"},
                              "What time is it?", "  ", {"text": "What time is it?"}])
    assert [p["phrase_id"] for p in phrases][0] == "en-001" and len(phrases) == 2
    assert ds.phrases() == phrases
    assert ds.set_phrases(["What time is it?"])[0]["phrase_id"] == phrases[1]["phrase_id"]  # stable ids
    ds.add_clip(SPEECH_WAV, SPEECH_TEXT, language="en", phrase_id="en-001")
    assert ds.recorded_phrase_ids() == {"en-001"}


def test_orphan_wavs_and_stray_files_are_ignored(ds):
    clip = ds.add_clip(SPEECH_WAV, SPEECH_TEXT, language="en")
    audio.write_wav(ds.path / "audio" / "20200101t000000000-00000000.wav", speech())  # crash after WAV, before row
    (ds.path / "audio" / ".x.tmp").write_bytes(b"half")
    assert [c.clip_id for c in ds.clips()] == [clip.clip_id] and ds.stats()["clips"] == 1
    ds.add_clip(SPEECH_WAV, "cancel the timer", language="en")
    assert len(ds.clips()) == 2


def test_version_follows_content(ds):
    empty = ds.version()
    clip = ds.add_clip(SPEECH_WAV, SPEECH_TEXT, language="en")
    v1 = ds.version()
    assert v1 != empty and Dataset.open("my-voice").version() == v1
    ds.update_clip(clip.clip_id, text="cancel the timer")
    assert ds.version() not in (empty, v1)


def test_files_are_readable_by_others(ds):
    clip = ds.add_clip(SPEECH_WAV, SPEECH_TEXT, language="en")
    for path in (ds.path / "metadata.jsonl", ds.path / "dataset.json", ds.audio_path(clip)):
        assert os.stat(path).st_mode & 0o044 == 0o044, path  # e.g. served by the studio or a file server


# ------------------------------------------------------------------ takes of a phrase, speakers and languages
def test_a_new_take_replaces_the_phrases_earlier_take_which_goes_to_the_trash(ds, clips):
    phrase, other = ds.set_phrases([{"phrase_id": "p1", "text": SPEECH_TEXT, "language": "en"},
                                    {"phrase_id": "p2", "text": clips[1]["text"]}])
    first, replaced = ds.add_take(SPEECH_WAV, phrase)
    assert replaced == [] and first.phrase_id == "p1" and first.source == "record" and first.speaker == "ana"
    kept, _ = ds.add_take(clips[1]["path"], other)
    assert kept.language == "en"  # a phrase without a language takes the dataset's first

    second, replaced = ds.add_take(speech() * 0.8, phrase)  # another take of the same phrase
    assert replaced == [first.clip_id]
    assert [c.clip_id for c in ds.clips()] == [kept.clip_id, second.clip_id]  # the other phrase is untouched
    assert [c.clip_id for c in ds.trashed()] == [first.clip_id]  # replaced, not lost
    assert (ds.path / "trash" / f"{first.clip_id}.wav").is_file()
    ds.restore(first.clip_id)
    third, replaced = ds.add_take(speech() * 0.6, phrase)
    assert sorted(replaced) == sorted([first.clip_id, second.clip_id])
    assert [c.clip_id for c in ds.clips() if c.phrase_id == "p1"] == [third.clip_id]


def test_a_refused_or_failing_take_keeps_the_earlier_take(ds, monkeypatch):
    from voxstudio.data import dataset as dataset_module

    phrase = ds.set_phrases([{"phrase_id": "p1", "text": SPEECH_TEXT, "language": "en"}])[0]
    first, _ = ds.add_take(SPEECH_WAV, phrase)
    before = snapshot(ds)
    refused = [(b"RIFF\x00\x00\x00\x00WAVEjunk", "decode|read|audio"), (np.zeros(16000, np.float32), "silent"),
               (SPEECH_WAV, "duplicate")]
    for take, message in refused:
        with pytest.raises(ValueError, match=message):
            ds.add_take(take, phrase)
        assert snapshot(ds) == before, message
    with pytest.raises(ValueError, match="no phrase_id"):
        ds.add_take(speech() * 0.8, {"text": SPEECH_TEXT, "language": "en"})

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dataset_module.rowlog, "append", disk_full)  # the new row cannot be written
    with pytest.raises(OSError, match=r"^The disk holding .* is full: \d+ MB free; free some space"):
        ds.add_take(speech() * 0.8, phrase)
    monkeypatch.undo()
    assert [c.clip_id for c in ds.clips()] == [first.clip_id] and ds.trashed() == []
    assert snapshot(ds) == before


def test_merge_speaker_and_language_updates_dataset_json_in_one_go(ds):
    consent = {"given": True, "speaker": "Bob", "given_at": "2026-01-01T00:00:00+00:00"}
    info = ds.merge_speaker_and_language("  Bob ", "fr", consent=consent)
    assert info["speakers"] == ["Bob", "ana"] and info["languages"] == ["en", "fr"] and info["consent"] == consent
    assert Dataset.open("my-voice").info == info  # on disk, not only returned
    info = ds.merge_speaker_and_language("ana", "en")
    assert info["speakers"] == ["ana", "Bob"] and info["languages"] == ["en", "fr"]  # no duplicates, order kept
    assert info["consent"] == consent  # no new consent given: the recorded one stays
    assert ds.merge_speaker_and_language("", "fr")["speakers"] == ["ana", "Bob"]
    before = snapshot(ds)
    with pytest.raises(ValueError, match="not a language code"):
        ds.merge_speaker_and_language("Cleo", "English")
    assert snapshot(ds) == before
    take = ds.add_take(speech(), {"phrase_id": "p1", "text": SPEECH_TEXT})[0]
    assert take.speaker == "ana"  # the first speaker is who new takes are credited to
