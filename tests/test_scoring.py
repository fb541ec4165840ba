"""Scoring: the normaliser a user would agree with, corpus WER/CER, word diffs."""

from __future__ import annotations

import pytest

from voxstudio.text import normalise_for_wer as normalize
from voxstudio.training.scoring import cer, corpus_scores, wer, word_diff


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


# ----- the one formatter of rates (pages, model card, CLI) -----
def test_percent_points_and_delta_write_a_rate_one_way():
    from voxstudio.training.scoring import delta, percent, points

    assert [percent(r) for r in (0.0625, 0.1834, 0, 1.0)] == ["6.2%", "18.3%", "0.0%", "100.0%"]
    assert percent(None) == "–" and percent(None, missing="n/a") == "n/a"
    assert points(0.20, 0.15) == -5.0 and points(0.1, 0.123) == 2.3 and points(0.1, 0.1) == 0.0
    assert points(None, 0.1) is None and points(0.1, None) is None
    assert delta(0.20, 0.15) == "-5.0 points" and delta(0.1, 0.123) == "+2.3 points"
    assert delta(None, 0.1) is None


def test_cli_run_listing_and_status_write_rates_with_the_shared_formatter(monkeypatch, capsys):
    from types import SimpleNamespace

    from voxstudio.cli import training as cli
    from voxstudio.training.scoring import percent

    run = SimpleNamespace(run="r1", state="succeeded", phase="", step=3, total_steps=3, progress=1.0, loss=0.5,
                          baseline_wer=0.2, best_wer=0.0625, eta_s=None, message="", folder="/runs/r1",
                          active=False, config={"dataset": "d", "base_model": "tiny"})
    monkeypatch.setattr(cli.runstatus, "list_runs", lambda: [run])
    monkeypatch.setattr(cli.runstatus, "status", lambda name: run)
    cli.cmd_list(SimpleNamespace(json=False))
    assert f" {percent(0.0625)} " in capsys.readouterr().out
    cli.cmd_status(SimpleNamespace(run="r1", json=False))
    assert f"baseline {percent(0.2)}, best {percent(0.0625)}" in capsys.readouterr().out
    run.best_wer = None
    cli.cmd_status(SimpleNamespace(run="r1", json=False))
    assert "best -" in capsys.readouterr().out  # not measured yet: the CLI's plain ASCII dash

    monkeypatch.setattr(cli, "percent", lambda rate, missing="–": "RATE")  # no formatter of its own
    cli.cmd_status(SimpleNamespace(run="r1", json=False))
    assert "baseline RATE, best RATE" in capsys.readouterr().out
