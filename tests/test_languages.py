"""One language-code rule: one spelling (pt-BR / pt_BR → pt-br), the prompt's base code (pt), a human label."""

from __future__ import annotations

import pytest

from voxstudio import languages
from voxstudio.data import quality
from voxstudio.data.clip import Clip
from voxstudio.data.dataset import Dataset
from voxstudio.publish import card
from voxstudio.training.config import RunConfig, new_config


@pytest.mark.parametrize("raw", ["pt-BR", "pt_BR", "PT-br", " pt-br ", "pt_br"])
def test_regional_spellings_are_one_code_whose_base_is_the_prompt_language(raw):
    assert languages.is_code(raw)
    assert languages.canonical(raw) == "pt-br"
    assert languages.base_code(raw) == "pt"
    assert languages.prompt_prefix(raw) == "lang:pt"
    assert languages.label(raw) == "Portuguese (Brazil)"


def test_base_and_three_letter_codes_are_accepted_as_they_are():
    assert [languages.canonical(c) for c in ("en", "fr", "yue", "FR")] == ["en", "fr", "yue", "fr"]
    assert languages.base_code("fr") == "fr"
    assert languages.label("fr") == "French" and languages.label("en-gb") == "English (United Kingdom)"
    assert languages.label("pt-xy") == "Portuguese (XY)"  # unknown region: shown, not dropped
    assert languages.label("xx") == "xx"  # no name: the code itself
    assert languages.menu_label("sv") == "Swedish — svenska" and languages.menu_label("en") == "English"


@pytest.mark.parametrize("bad", ["English", "e", "pt-", "pt--br", "pt-b", "", None, 5, "lang:fr"])
def test_anything_else_is_not_a_language_code(bad):
    assert not languages.is_code(bad)
    with pytest.raises(ValueError, match="not a language code"):
        languages.canonical(bad)
    assert languages.tidy(bad) == bad  # old rows are read as they are; validation reports them


def test_prefix_rule_splits_what_voxtral_announces():
    assert languages.split_prefix("lang:fr Bonjour à tous") == ("fr", "Bonjour à tous")
    assert languages.split_prefix("  LANG:EN  hello ") == ("en", "hello")
    assert languages.split_prefix("language: none") == (None, "language: none")
    assert languages.strip_prefix("lang:pt olá") == "olá"


def test_voxtral_transcription_languages():
    assert languages.TRANSCRIPTION_LANGUAGES == ("en", "es", "fr", "pt", "hi", "de", "nl", "it")


def test_run_config_accepts_regional_codes_in_one_spelling():
    cfg = new_config(run_name="r1", dataset="my-voice", languages=["pt-br"])
    assert cfg.languages == ["pt-br"]
    assert RunConfig(run_name="r1", dataset="my-voice", languages=["pt_BR", "fr"]).validate().languages == [
        "pt-br", "fr"]
    with pytest.raises(ValueError, match="languages"):
        new_config(run_name="r1", dataset="my-voice", languages=["Portuguese"])


def test_dataset_stores_the_canonical_spelling_and_reads_old_spellings_as_it(home, clips):
    ds = Dataset.create("voz-br", languages=["pt-BR"], speaker="Ana")
    assert ds.info["languages"] == ["pt-br"]
    clip = ds.add_clip(clips[0]["path"], clips[0]["text"], language="pt_BR")
    assert clip.language == "pt-br" and ds.get(clip.clip_id).language == "pt-br"
    legacy = Clip.from_row({**clip.to_row(), "language": "pt_BR"})  # a row written before the rule
    assert legacy.language == "pt-br"


def test_a_pt_br_dataset_trains_on_its_clips_with_prompt_language_pt(home, clips):
    from voxstudio.training import selection

    ds = Dataset.create("voz-br", languages=["pt-br"], speaker="Ana")
    for row in clips[:4]:
        ds.add_clip(row["path"], row["text"], language="pt-BR")
    ds.add_clip(clips[4]["path"], clips[4]["text"], language="fr")
    cfg = new_config(run_name="r1", dataset="voz-br", languages=sorted(ds.stats()["languages"])[1:])
    assert cfg.languages == ["pt-br"]
    sel = selection.select_run(cfg, ds)
    chosen = sel.train + sel.held
    assert len({c.clip_id for c in chosen}) == 4 and {c.language for c in chosen} == {"pt-br"}
    assert {languages.base_code(c.language) for c in chosen} == {"pt"}


def test_features_prompt_a_regional_clip_with_its_base_language(home, clips):
    from transformers import AutoProcessor

    from voxstudio.data.audio import load_audio
    from voxstudio.training.features import make_example
    from voxstudio.training.tiny import tiny_path

    processor = AutoProcessor.from_pretrained(tiny_path())
    audio = load_audio(clips[0]["path"])
    regional = make_example(processor, audio, "olá", "pt-br")
    plain = make_example(processor, audio, "olá", "pt")
    assert regional["input_ids"] == plain["input_ids"]
    prompt = [i for i, label in zip(regional["input_ids"], regional["labels"]) if label == -100]
    # tiny tokenizer: byte b is token b + 100; the prompt ends [/INST]lang:pt[TRANSCRIBE]
    assert prompt[-9:] == [4] + [ord(ch) + 100 for ch in "lang:pt"] + [34]


def test_the_features_builder_itself_asks_for_the_base_language(monkeypatch):
    from voxstudio.training import features

    asked = []

    def fake_prompt(processor, audio, language):
        asked.append(language)
        raise RuntimeError("stop here")

    monkeypatch.setattr(features, "build_prompt", fake_prompt)
    for code in ("pt-br", "pt_BR", None):
        with pytest.raises(RuntimeError, match="stop here"):
            features.make_example(object(), None, "olá", code)
    assert asked == ["pt", "pt", None]


def test_cards_name_regional_languages_and_give_the_hub_base_codes():
    assert card.language_name("pt-br") == "Portuguese (Brazil) (`pt-br`)"
    assert card.language_name("fr") == "French (`fr`)" and card.language_name("xx") == "`xx`"
    assert card.metadata_languages(["pt-br", "pt", "fr"]) == ["pt", "fr"]


def test_quality_uses_the_base_language_for_speaking_rates():
    assert quality.rate_bounds("zh-TW") == quality.SPEAKING_RATE["zh"] != quality.SPEAKING_RATE["default"]
    assert quality.rate_bounds("yue_HK") == quality.SPEAKING_RATE["yue"]
    assert quality.rate_bounds(None) == quality.SPEAKING_RATE["default"]
