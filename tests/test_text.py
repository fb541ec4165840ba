"""One normaliser family: clean (stored), key ("same text"), normalise_for_wer (scored) — and who uses which."""

from __future__ import annotations

import unicodedata
from types import SimpleNamespace

import pytest
from audio_helpers import SPEECH_WAV

from voxstudio import text
from voxstudio.data import phrases, summary
from voxstudio.data.dataset import Dataset
from voxstudio.training import scoring

DECOMPOSED = unicodedata.normalize("NFD", "Éteins la lumière")


def test_clean_is_the_stored_form_nfc_and_single_spaced_with_case_and_punctuation_kept():
    assert text.clean("  Hello,\u00a0  WORLD!\n") == "Hello, WORLD!"
    assert text.clean(DECOMPOSED) == "Éteins la lumière" != DECOMPOSED
    assert text.clean("") == "" and text.clean(None) == ""


@pytest.mark.parametrize("a, b", [
    ("Hello there, how are you?", "hello THERE   how are you"),
    ("What's the time?", "whats the time"),
    ("Éteins la lumière !", DECOMPOSED.lower()),
    ("Straße", "STRASSE"),  # case-folded: the same text
    ("क्या आप मुझे नमक दे सकते हैं?", "क्या आप मुझे नमक दे सकते हैं"),
])
def test_key_says_when_two_texts_are_the_same_text(a, b):
    assert text.key(a) == text.key(b)


@pytest.mark.parametrize("a, b", [
    ("lumière", "lumiere"),  # diacritics are letters
    ("twenty 20", "twenty"),
    ("क्या", "कया"),  # a Hindi virama is part of the word, not a separator
])
def test_key_keeps_what_makes_texts_different(a, b):
    assert text.key(a) != text.key(b)


def test_wer_form_drops_the_lang_prefix_lowercases_and_keeps_diacritics():
    assert text.normalise_for_wer("lang:fr Éteins la LUMIÈRE !") == "éteins la lumière"
    assert text.key("lang:fr Bonjour") == "lang fr bonjour"  # key is for user text: no model prefix to drop
    assert text.normalise_for_wer("Straße") != text.normalise_for_wer("STRASSE")  # lower(), not casefold()
    assert text.normalise_for_wer("lumière") != text.normalise_for_wer("lumiere")
    assert scoring.wer("Éteins la lumière", "eteins la lumiere") == pytest.approx(2 / 3)
    assert scoring.wer("What's the time?", "lang:en whats the TIME") == 0.0


def test_phrase_grouping_of_the_split_uses_the_key():
    a = SimpleNamespace(phrase_id=None, text="Hello there, friend.")
    b = SimpleNamespace(phrase_id=None, text="hello there friend")
    c = SimpleNamespace(phrase_id=None, text="hello their friend")
    assert summary.phrase_group(a) == summary.phrase_group(b) == f"text:{text.key(a.text)}"
    assert summary.phrase_group(c) != summary.phrase_group(a)


def test_custom_phrases_and_granary_dedupe_by_the_key_but_ids_stay_frozen():
    parsed = phrases.parse_custom("Hello there.\nhello there?\nWhat's new\nwhats new\n", "en")
    assert [p.text for p in parsed.phrases] == ["Hello there.", "What's new"]
    assert [(s.line, s.reason) for s in parsed.skipped] == [(2, "duplicate of line 1"), (4, "duplicate of line 3")]
    # ids hash the cleaned, case-folded text with punctuation kept: recorded datasets rely on them
    assert phrases.phrase_id("Could you please pass me the salt?", "en", "bundled") == "en-bundled-b8ef2a2b9b"
    assert phrases.phrase_id("Hello there.", "en", "custom") != phrases.phrase_id("Hello there?", "en", "custom")
    assert phrases.make_phrase(DECOMPOSED, "fr", "custom").text == "Éteins la lumière"


def test_dataset_stores_clean_text_and_refuses_the_same_take_with_the_same_key(home):
    ds = Dataset.create("keys", languages=["en"])
    clip = ds.add_clip(SPEECH_WAV, "  Cancel\u00a0 timer ", language="en")
    assert clip.text == "Cancel timer"
    with pytest.raises(ValueError, match="duplicate"):
        ds.add_clip(SPEECH_WAV, "cancel, TIMER!", language="en")
    assert ds.add_clip(SPEECH_WAV, "cancel the timer", language="en").text == "cancel the timer"
