"""Which clips a run uses (voxstudio.training.selection), on real fixture clips: language filter first, then the
split by phrase; the Review page shows that same split; prompts carry each clip's language; long clips are used
whole, as several 30 s windows."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, speech_manifest

from voxstudio.data import summary
from voxstudio.data.dataset import Dataset
from voxstudio.runs import runfolder
from voxstudio.training import selection
from voxstudio.training.config import new_config

STP = "stp_"  # the short real voice-assistant commands, 8 English and 7 French


def stp_rows(language: str, n: int | None = None) -> list[dict]:
    rows = [r for r in speech_manifest("clips") if r["language"] == language and STP in r["audio_path"]]
    return rows[:n]


def make_dataset(name: str, rows: list[dict]) -> Dataset:
    ds = Dataset.create(name, languages=sorted({r["language"] for r in rows}), speaker="tester")
    for r in rows:
        ds.add_clip(r["path"], r["text"], language=r["language"], source="import")
    return ds


@pytest.fixture
def bilingual(home) -> Dataset:
    """8 English + 7 French real clips, one phrase each."""
    rows = stp_rows("en") + stp_rows("fr")
    assert len(rows) == 15
    return make_dataset("bilingual", rows)


def ids(clips) -> set[str]:
    return {c.clip_id for c in clips}


def split_then_filter(clips, languages, eval_fraction, seed):
    """The old rule (split the whole dataset, then drop other languages): what selection must NOT do."""
    train, held = summary.split_clips(clips, seed=seed, eval_fraction=eval_fraction)
    return [c for c in train if c.language in languages], [c for c in held if c.language in languages]


# ------------------------------------------------------------------------------------ language filter and split

def test_french_run_on_a_french_english_dataset_uses_and_holds_out_only_french(bilingual):
    cfg = new_config(run_name="fr", dataset="bilingual", languages=["fr"], eval_fraction=0.3)
    sel = selection.select_run(cfg)
    french = {c.clip_id for c in bilingual.clips() if c.language == "fr"}
    assert ids(sel.train) | ids(sel.held) == french  # every French clip is used, no English one
    assert {c.language for c in sel.train + sel.held} == {"fr"}
    assert len(sel.held) == 2 and sel.note == ""  # 30 % of the 7 French phrases, not of all 15
    assert not ids(sel.train) & ids(sel.held)
    groups = {summary.phrase_group(c) for c in sel.train}
    assert not groups & {summary.phrase_group(c) for c in sel.held}  # a phrase is never on both sides

    train_refs, held_refs, note = selection.select_clips(cfg)  # what the trainer gets
    assert [r.clip_id for r in train_refs] == [c.clip_id for c in sel.train]
    assert [r.clip_id for r in held_refs] == [c.clip_id for c in sel.held] and note == ""
    assert all(r.language == "fr" and r.path.endswith(".wav") for r in train_refs + held_refs)


def test_filter_comes_before_the_split(bilingual):
    """Filtering first: the held-out set is the split of the French clips alone, for every seed. The old
    split-then-filter gives a different held-out set (sizes swing with where English phrases fell)."""
    clips = bilingual.clips()
    french = [c for c in clips if c.language == "fr"]
    differs = 0
    for seed in range(8):
        sel = selection.select(clips, ["fr"], eval_fraction=0.3, seed=seed)
        train, held = summary.split_clips(french, seed=seed, eval_fraction=0.3)
        assert (ids(sel.train), ids(sel.held)) == (ids(train), ids(held))
        assert len(sel.held) == 2
        old_train, old_held = split_then_filter(clips, ["fr"], 0.3, seed)
        differs += ids(old_held) != ids(sel.held)
    assert differs  # the check above tells the two rules apart on this dataset


def test_two_french_phrases_among_many_english_still_give_a_french_held_out_clip(home):
    ds = make_dataset("mostly-en", stp_rows("en") + stp_rows("fr", 2))
    clips = ds.clips()
    old_rule_lost_it = 0
    for seed in range(10):
        sel = selection.select(clips, ["fr"], eval_fraction=0.1, seed=seed)
        assert len(sel.train) == 1 and len(sel.held) == 1 and sel.note == ""
        assert {c.language for c in sel.train + sel.held} == {"fr"}
        old_train, old_held = split_then_filter(clips, ["fr"], 0.1, seed)
        old_rule_lost_it += not old_held  # no French clip held out: WER would be on training clips
    assert old_rule_lost_it


def test_no_held_out_side_measures_on_training_clips_and_says_so(bilingual):
    clips = bilingual.clips()
    zero = selection.select(clips, ["en"], eval_fraction=0, seed=0, max_eval=3)
    assert ids(zero.train) == {c.clip_id for c in clips if c.language == "en"}
    assert [c.clip_id for c in zero.held] == [c.clip_id for c in zero.train][:3]
    assert zero.note == selection.NO_HELD_OUT and "training clips" in zero.note
    assert set(zero.sides().values()) == {"train"}
    retakes = [c for c in clips if c.language == "fr"][:1]
    one_phrase = selection.select(retakes, [], eval_fraction=0.5, seed=0)
    assert one_phrase.note == selection.NO_HELD_OUT and one_phrase.held == one_phrase.train


def test_eval_cap_leaves_the_rest_of_the_held_out_side_unused(bilingual):
    clips = bilingual.clips()
    sel = selection.select(clips, [], eval_fraction=0.4, seed=1, max_eval=2)
    full = selection.select(clips, [], eval_fraction=0.4, seed=1)
    assert ids(sel.train) == ids(full.train)  # the cap never moves a clip into training
    assert [c.clip_id for c in sel.held] == [c.clip_id for c in full.held][:2]
    assert ids(sel.spare) == ids(full.held) - ids(sel.held) and len(sel.spare) == len(full.held) - 2
    sides = sel.sides()
    assert {k for k, v in sides.items() if v == "unused"} == ids(sel.spare)
    assert {k for k, v in sides.items() if v == "eval"} == ids(sel.held)


# ------------------------------------------------------------------------------------ minimum clip count

def test_too_few_clips_in_the_run_languages_is_refused_with_one_sentence(home):
    make_dataset("one-fr", stp_rows("en", 3) + stp_rows("fr", 1))
    clips = Dataset.open("one-fr").clips()
    expected = ("Dataset 'one-fr' has 1 clip(s) in fr; record at least 2 (a few dozen for a useful model) "
                "before training.")
    assert selection.MIN_CLIPS == 2
    assert selection.shortage(clips, ["fr"], "one-fr") == expected
    assert selection.shortage(clips, ["de"], "one-fr").startswith("Dataset 'one-fr' has 0 clip(s) in de;")
    assert selection.shortage(clips, [], "one-fr") is None  # 4 clips in all languages
    assert selection.shortage(clips, ["en"], "one-fr") is None
    with pytest.raises(ValueError) as err:
        selection.select_clips(new_config(run_name="r", dataset="one-fr", languages=["fr"]))
    assert str(err.value) == expected


def test_selection_imports_without_torch():
    probe = ("import sys, voxstudio.training.selection; "
             "print([m for m in ('torch', 'transformers', 'peft', 'trackio', 'datasets') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------ the Review page's split

def test_review_table_split_is_the_split_a_default_run_trains_on(bilingual):
    from voxstudio.studio import review

    table = review.clips_table(bilingual)
    train_refs, held_refs, note = selection.select_clips(new_config(run_name="r", dataset="bilingual"))
    assert note == "" and held_refs  # 15 phrases: a real held-out side
    expected = {r.clip_id: "train" for r in train_refs} | {r.clip_id: "eval" for r in held_refs}
    assert dict(zip(table["clip_id"], table["split"])) == expected
    sentence = review.split_sentence(table)
    assert f"**Train:** {len(train_refs)} clips" in sentence and f"**Eval:** {len(held_refs)} clips" in sentence


def test_review_page_shows_the_trainers_split(bilingual):
    from apptest_support import open_app, texts

    at = open_app("pages/3_Review.py", dataset="bilingual")
    shown = dict(zip(at.data_editor[0].value["clip_id"], at.data_editor[0].value["split"]))
    train_refs, held_refs, _ = selection.select_clips(new_config(run_name="r", dataset="bilingual"))
    assert shown == {r.clip_id: "train" for r in train_refs} | {r.clip_id: "eval" for r in held_refs}
    assert f"Train / eval clips {len(train_refs)} / {len(held_refs)}" in texts(at)


# ------------------------------------------------------------------------------------ selection → features

@pytest.fixture
def processor(home):
    from transformers import AutoProcessor

    from voxstudio.training.tiny import tiny_path

    return AutoProcessor.from_pretrained(tiny_path())


def lang_ids(processor, language: str) -> list[int]:
    return processor.tokenizer.encode(f"lang:{language}", add_special_tokens=False)


def prompt_language_ids(input_ids: list[int], n: int) -> list[int]:
    """The ``n`` tokens between [/INST] and [TRANSCRIBE] (ids 4 and 34): the prompt's language hint."""
    end = input_ids.index(34)
    assert input_ids[end - n - 1] == 4
    return input_ids[end - n:end]


def test_each_example_prompt_carries_its_clips_language(home, processor):
    from voxstudio.training.features import build_features

    make_dataset("mixed", stp_rows("en", 3) + stp_rows("fr", 3))
    fr, en = lang_ids(processor, "fr"), lang_ids(processor, "en")
    assert fr != en and len(fr) == len(en) == 7
    train, held, note = selection.select_clips(new_config(run_name="r", dataset="mixed", eval_fraction=0.3))
    refs = train + held
    assert {r.language for r in refs} == {"en", "fr"} and note == ""
    features = build_features(processor, refs)
    for i, ref in enumerate(refs):
        assert prompt_language_ids(features[i]["input_ids"], 7) == (fr if ref.language == "fr" else en), ref

    french_only, french_held, _ = selection.select_clips(
        new_config(run_name="r", dataset="mixed", languages=["fr"], eval_fraction=0.3))
    french = build_features(processor, french_only + french_held)
    assert len(french) == 3
    assert all(prompt_language_ids(french[i]["input_ids"], 7) == fr for i in range(len(french)))


# ------------------------------------------------------------------------------------ a 40 s clip

def long_clip(min_s: float = 40.0) -> tuple[np.ndarray, str]:
    """Real English commands (16 kHz) concatenated whole until at least ``min_s`` seconds, and their text."""
    from voxstudio.data.audio import SAMPLE_RATE, load_audio

    rows = stp_rows("en")
    parts, texts = [], []
    while sum(len(p) for p in parts) < min_s * SAMPLE_RATE:
        row = rows[len(parts) % len(rows)]
        assert row["sample_rate"] == SAMPLE_RATE
        parts.append(load_audio(row["path"]))
        texts.append(row["text"])
    audio = np.concatenate(parts).astype(np.float32)
    assert min_s <= len(audio) / SAMPLE_RATE < min_s + 3
    return audio, " ".join(texts)


def make_long_dataset(name: str) -> Dataset:
    ds = Dataset.create(name, languages=["en"], speaker="tester")
    audio, text = long_clip()
    ds.add_clip(audio, text, language="en", source="import")
    short = stp_rows("en", 1)[0]
    ds.add_clip(short["path"], short["text"], language="en", source="import")
    return ds


def test_a_40_second_clip_becomes_two_windows_and_750_audio_tokens(home, processor):
    from voxstudio.training.features import build_features
    from voxstudio.training.tiny import AUDIO_TOKEN_ID

    ds = make_long_dataset("long")
    long = next(c for c in ds.clips() if c.duration_s > 30)
    assert 40 <= long.duration_s < 43
    assert long.flag_codes == ["too_long"]
    flag = long.flags[0]
    assert "trained on as 2 windows" in flag["message"] and "not used" not in flag["message"]

    train, held, note = selection.select_clips(new_config(run_name="r", dataset="long", eval_fraction=0))
    assert note == selection.NO_HELD_OUT and long.clip_id in [r.clip_id for r in train]
    features = build_features(processor, train)
    i = [r.clip_id for r in train].index(long.clip_id)
    item = features[i]
    assert np.asarray(item["input_features"]).shape == (2, 128, 3000)  # two 30 s windows of log-mel
    assert item["input_ids"].count(AUDIO_TOKEN_ID) == 750  # 375 audio tokens per window
    target = processor.tokenizer.encode(long.text, add_special_tokens=False) + [2]
    assert item["labels"][-len(target):] == target  # the whole transcript is learned, not a cut of it
    other = features[1 - i]
    assert np.asarray(other["input_features"]).shape[0] == 1 and other["input_ids"].count(AUDIO_TOKEN_ID) == 375


@pytest.mark.slow
def test_the_trainer_trains_on_a_40_second_clip(home):
    from train_helpers import make_run, run_trainer

    make_long_dataset("long")
    run = make_run("long-run", "long", eval_fraction=0, max_steps=4, batch_size=2, eval_every=10_000,
                   max_new_tokens=4, warmup_steps=1)
    proc = run_trainer(run, timeout=300)
    log = "\n".join(runfolder.tail_log(run, 40))
    assert proc.returncode == 0, log
    assert runfolder.read_status(run)["state"] == "succeeded", log
    results = json.loads((run / runfolder.TRAIN_RESULTS).read_text())
    assert results["global_step"] == 4 and results["train_loss"] > 0
    config = json.loads((run / runfolder.TRAINING_CONFIG).read_text())
    assert config["train_clips"] == 2 and config["eval_clips"] == 2
    assert "features: 2 clips (2 computed" in log
