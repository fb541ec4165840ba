"""runs.history on real train.log lines, and runs.presets on disk (one sentence per refused file)."""

from __future__ import annotations

import pytest

from voxstudio.runs import history, presets

# Lines as the trainer writes them (copied from a tiny run's train.log, colour codes included).
LOG = [
    "[12:27:37] baseline: WER 1.062 CER 1.000 on 6 clips",
    "\x1b[1m\x1b[38;5;208mtrackio show --project \"pub-voice\"\x1b[0m",
    "{'eval_wer': '1.062', 'eval_cer': '1', 'epoch': 0}",
    "[12:27:38] step 1/300 loss … eta 0s",
    "{'loss': '5.909', 'grad_norm': '4.44', 'learning_rate': '0', 'epoch': '0.5'}",
    "Loading weights:   0%|          | 0/45\rLoading weights: 100%|██████████| 45/45",
    "{'__import__(\"os\")': 1}",
]


def test_readable_lines_name_the_trainer_values_and_keep_the_rest():
    lines = history.readable_lines(LOG)
    assert lines[0] == LOG[0]
    assert lines[1] == 'trackio show --project "pub-voice"'
    assert lines[2] == "Trainer: eval WER 1.062 · eval CER 1 · epoch 0"
    assert lines[4] == "Trainer: loss 5.909 · grad-norm 4.44 · lr 0 · epoch 0.5"
    assert lines[5] == "Trainer: __import__(\"os\") 1"  # a literal, read as text: never evaluated
    assert not any("Loading weights" in line or not line.strip() for line in lines)  # bars and blanks: raw log only


def test_presets_keep_only_settings_and_refuse_a_broken_file_alone(home):
    presets.save("fast", {"base_model": "tiny", "method": "full", "max_steps": 50, "run_name": "x",
                          "dataset": "voice", "hf_token": "hf_secret"})
    assert presets.load_all() == ({"fast": {"base_model": "tiny", "method": "full", "max_steps": 50}}, [])
    (home / "presets" / "bad.json").write_text("[1, 2]")
    (home / "presets" / "worse.json").write_text('{"learning_rate": 7}')
    found, problems = presets.load_all()
    assert list(found) == ["fast"] and len(problems) == 2
    assert problems[0].startswith("Preset 'bad' cannot be used (it is not a JSON object)")
    with pytest.raises(ValueError, match="already exists"):
        presets.save("fast", {"max_steps": 10})
    presets.save("fast", {"max_steps": 10}, overwrite=True)
    assert presets.load_all()[0]["fast"] == {"max_steps": 10}
