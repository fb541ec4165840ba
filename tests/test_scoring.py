"""Scoring: the normaliser a user would agree with, corpus WER/CER, word diffs."""

from __future__ import annotations

import pytest

from voxstudio.training.scoring import cer, corpus_scores, normalize, wer, word_diff


@pytest.mark.parametrize("raw, expected", [
    ("Lock the Front Door.", "lock the front door"),
    ("lang:en What's the weather?", "whats the weather"),
    ("  Quelle heure est-il ? ", "quelle heure est il"),
    ("Éteins la LUMIÈRE !", "éteins la lumière"),
    ("Für die besten Aussichten…", "für die besten aussichten"),
    ("minuteur 20 secondes", "minuteur 20 secondes"),
    ("", ""),
])
def test_normalize_folds_case_and_punctuation_keeps_diacritics(raw, expected):
    assert normalize(raw) == expected


def test_diacritics_are_real_errors_but_case_and_punctuation_are_not():
    assert wer("lock the Front Door", "Lock the front door.") == 0.0
    assert wer("éteins la lumière", "eteins la lumiere") == pytest.approx(2 / 3)
    assert cer("lumière", "lumiere") == pytest.approx(1 / 7)
    assert wer("cancel timer", "lang:en cancel timer") == 0.0


def test_wer_counts_substitutions_deletions_insertions():
    assert wer("a b c d", "a x c") == 0.5
    assert wer("a b", "a b c d") == 1.0
    assert wer("", "") == 0.0 and wer("", "noise") == 1.0 and wer("words here", "") == 1.0


def test_corpus_scores_weight_by_reference_length():
    scores = corpus_scores(["a b", "c d e"], ["a b", "c"])
    # words: 0 + 2 errors over 2 + 3; characters: 0 + 4 errors over 3 + 5 ("c d e" → "c")
    assert scores == {"wer": pytest.approx(2 / 5), "cer": pytest.approx(4 / 8), "n": 2}
    with pytest.raises(ValueError):
        corpus_scores(["a"], [])


def test_word_diff_aligns_words():
    assert word_diff("The cat sat.", "the bat sat down") == [
        {"op": "equal", "ref": "the", "hyp": "the"},
        {"op": "substitute", "ref": "cat", "hyp": "bat"},
        {"op": "equal", "ref": "sat", "hyp": "sat"},
        {"op": "insert", "ref": None, "hyp": "down"},
    ]
    assert word_diff("hello world", "") == [{"op": "delete", "ref": "hello", "hyp": None},
                                            {"op": "delete", "ref": "world", "hyp": None}]


def test_scoring_imports_without_torch():
    import subprocess
    import sys

    code = ("import sys, voxstudio.training.scoring as s; s.wer('a', 'b'); "
            "assert not [m for m in ('torch', 'transformers') if m in sys.modules]")
    subprocess.run([sys.executable, "-c", code], check=True)
