"""Generation length, cut-off transcripts and batched evaluation.

One rule gives a clip its token budget from its duration (``inference.max_new_tokens_for``); evaluation, the
CLI, the Try page and the demo Space all pass it. Transcripts that hit the budget before EOS are counted
(``n_cut_off``) and shown next to WER. Evaluation generates in batches (``Transcriber.transcribe_batch``, left
padded), which must give the tokens one-at-a-time generation gives, on real clips of different lengths and
languages, a clip longer than the 30 s window among them.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from apptest_support import open_app, texts
from conftest import speech_manifest

from voxstudio import inference
from voxstudio.inference import SAMPLING_RATE, load_audio_array, max_new_tokens_for
from voxstudio.runs import runfolder
from voxstudio.training import evaluate, scoring
from voxstudio.training.config import RunConfig, new_config
from voxstudio.training.selection import ClipRef

CLIPS = {r["audio_path"]: r for r in speech_manifest("clips")}


def _clip(audio_path: str) -> dict:
    return CLIPS[audio_path]


def _long_wave() -> np.ndarray:
    """A 48 s real clip (two 30 s chunks): three FLEURS clips back to back."""
    return np.concatenate([load_audio_array(_clip(p)["path"])
                           for p in ("de/fleurs_de_000.ogg", "pt/fleurs_pt_000.ogg", "es/fleurs_es_000.ogg")])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny random model (its own folder), loaded once on the CPU."""
    from voxstudio.training.tiny import build_tiny

    folder = build_tiny(tmp_path_factory.mktemp("gen") / "tiny")
    return SimpleNamespace(folder=folder, transcriber=inference.load_transcriber(str(folder), device="cpu"))


class Recorder:
    """A stand-in transcriber that records what it was asked (and says nothing, stopped by EOS)."""

    def __init__(self, stopped_by_eos: bool = True):
        self.calls: list[dict] = []
        self.stopped_by_eos = stopped_by_eos

    def _result(self, language):
        return inference.TranscriptionResult(text="", n_tokens=1, stopped_by_eos=self.stopped_by_eos, seconds=0.0,
                                             language=language)

    def transcribe(self, audio, sampling_rate=SAMPLING_RATE, language="en", max_new_tokens=None, should_stop=None):
        self.calls.append({"seconds": len(audio) / sampling_rate, "language": language,
                           "max_new_tokens": max_new_tokens})
        return self._result(language)

    def transcribe_batch(self, audios, languages=None, sampling_rate=SAMPLING_RATE, max_new_tokens=None,
                         should_stop=None):
        self.calls.append({"seconds": [len(a) / sampling_rate for a in audios], "language": list(languages),
                           "max_new_tokens": list(max_new_tokens)})
        return [self._result(lang) for lang in languages]


# ----------------------------------------------------------------------------------------------- the rule

def test_the_budget_grows_with_duration_and_30_s_of_french_gets_more_than_128():
    budgets = [max_new_tokens_for(s, "fr") for s in (0, 1, 2, 5, 10, 30, 60, 300)]
    assert budgets == sorted(budgets) and len(set(budgets)) == len(budgets)
    assert max_new_tokens_for(30, "fr") > 128  # French runs at up to ~4.3 tokens/s: 30 s already needs ~130
    assert max_new_tokens_for(300, None) >= 5 * 300  # a 5 minute clip (the longest accepted) at 5 tokens/s
    assert max_new_tokens_for(1.9, "en") < 64  # a short command does not get a long budget


def test_the_budget_holds_every_real_transcript_with_headroom():
    """The measurement behind the rule: Voxtral's own tokenizer on the exact transcripts of the real clips."""
    mistral_common = pytest.importorskip("mistral_common")
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    tekken = Tekkenizer.from_file(str(Path(mistral_common.__file__).parent / "data" / "tekken_240911.json"))
    rows = speech_manifest("clips") + speech_manifest("difficult")
    for row in rows:
        # what the model writes in auto mode: "lang:xx" + the (cased, punctuated: ~10 % more) transcript + EOS
        needed = 3 + math.ceil(1.1 * len(tekken.encode(row["text"], bos=False, eos=False))) + 1
        budget = max_new_tokens_for(row["duration_s"], None)
        assert budget >= 1.5 * needed, (row["audio_path"], needed, budget)


# ------------------------------------------------------------------------------- the paths that use it

def test_evaluation_passes_each_clip_its_budget_capped_by_the_config():
    paths = ["en/stp_nevermind.wav", "de/fleurs_de_000.ogg", "en/ljspeech_LJ001-0005.flac"]
    refs = [ClipRef(f"c{i}", str(_clip(p)["path"]), _clip(p)["text"], _clip(p)["language"])
            for i, p in enumerate(paths)]
    fake = Recorder()
    rows = evaluate.transcribe_clips(fake, refs, 0)  # 0 (the default): the rule alone
    assert [r["clip_id"] for r in rows] == ["c0", "c1", "c2"] and len(fake.calls) == 1
    call = fake.calls[0]
    rule = [max_new_tokens_for(s, lang) for s, lang in zip(call["seconds"], call["language"])]
    assert call["max_new_tokens"] == rule and max(rule) > 128  # the 18 s German clip: more than the old 128
    assert sorted(call["language"]) == sorted(r.language for r in refs)

    capped = Recorder()
    evaluate.transcribe_clips(capped, refs, 100)
    assert capped.calls[0]["max_new_tokens"] == [min(b, 100) for b in rule]
    assert RunConfig().max_new_tokens == 0 and "max_new_tokens" not in RunConfig(max_new_tokens=0).errors()
    assert "max_new_tokens" in RunConfig(max_new_tokens=-1).errors()


def test_try_page_transcription_passes_the_rule_and_reports_a_cut(tmp_path):
    from voxstudio.studio import tryout

    samples = load_audio_array(_clip("fr/stp_quelle_heure_est_il.wav")["path"])
    fake = Recorder(stopped_by_eos=False)
    shown = tryout.transcribe(fake, samples, "fr")
    assert fake.calls[0]["max_new_tokens"] == max_new_tokens_for(samples.size / SAMPLING_RATE, "fr")
    assert shown.max_new_tokens == fake.calls[0]["max_new_tokens"] and not shown.stopped_by_eos
    long = np.tile(samples, 15)  # ~37 s
    tryout.transcribe(fake, long, "auto")
    assert fake.calls[1]["language"] is None
    assert fake.calls[1]["max_new_tokens"] == max_new_tokens_for(long.size / SAMPLING_RATE) > 256


def test_cli_transcribe_passes_the_rule_and_warns_about_a_cut(monkeypatch, capsys):
    from voxstudio.cli import main
    from voxstudio.cli import training as cli_training

    clip = _clip("de/fleurs_de_000.ogg")
    fake = Recorder(stopped_by_eos=False)
    monkeypatch.setattr(cli_training, "load_model", lambda args: fake)
    assert main(["transcribe", "--model", "tiny", str(clip["path"]), "--language", "de"]) == 0
    expected = max_new_tokens_for(load_audio_array(clip["path"]).size / SAMPLING_RATE, "de")
    assert fake.calls[0]["max_new_tokens"] == expected > 128
    err = capsys.readouterr().err
    assert f"cut off at the {expected}-token limit" in err


def test_demo_space_passes_the_rule(tmp_path, monkeypatch):
    pytest.importorskip("gradio")
    from voxstudio.publish import space

    folder = tmp_path / "space"
    space.write_space(folder, "alice/model")
    monkeypatch.syspath_prepend(str(folder))
    for name in ("app", "inference"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import app

    try:
        fake = Recorder(stopped_by_eos=False)
        app._STATE["transcriber"] = fake
        samples = load_audio_array(_clip("es/fleurs_es_000.ogg")["path"])
        text, details = app.transcribe((SAMPLING_RATE, samples), "es")
        assert fake.calls[0]["max_new_tokens"] == max_new_tokens_for(samples.size / SAMPLING_RATE, "es")
        assert f"cut off at the {fake.calls[0]['max_new_tokens']}-token limit" in details
    finally:
        for name in ("app", "inference"):
            sys.modules.pop(name, None)


# ------------------------------------------------------------------------------------ counting the cuts

def _refs(n: int) -> list[ClipRef]:
    rows = [r for r in speech_manifest("clips") if r["audio_path"].startswith(("en/stp_", "fr/stp_"))][:n]
    return [ClipRef(f"clip{i}", str(r["path"]), r["text"], r["language"]) for i, r in enumerate(rows)]


def test_cut_off_transcripts_are_counted(tiny):
    refs = _refs(4)
    rows = evaluate.transcribe_clips(tiny.transcriber, refs, 2)  # the random model never says EOS in 2 tokens
    assert [r["stopped_by_eos"] for r in rows] == [False] * 4
    summary = evaluate.summarize(rows)
    assert summary["n_cut_off"] == 4 and summary["n"] == 4
    assert evaluate.summarize([{**r, "stopped_by_eos": True} for r in rows])["n_cut_off"] == 0
    assert scoring.cut_off(summary) == "4 of 4 cut off at the token limit"
    doc = evaluate.eval_results(rows, rows[:2] + [{**r, "stopped_by_eos": True} for r in rows[2:]])
    assert doc["baseline"]["n_cut_off"] == 4 and doc["finetuned"]["n_cut_off"] == 2
    assert [u["finetuned_cut_off"] for u in doc["utterances"]] == [True, True, False, False]


def _tiny_run(name: str, tiny, rows: list[dict], max_new_tokens: int) -> Path:
    """A finished full fine-tune run folder whose output is the tiny model, on a dataset of ``rows``."""
    from train_helpers import make_dataset

    make_dataset("voice", rows)
    folder = runfolder.run_dir(name)
    folder.mkdir(parents=True)
    new_config(run_name=name, dataset="voice", base_model="tiny", method="full", eval_fraction=0.0,
               max_new_tokens=max_new_tokens).save(folder / runfolder.CONFIG)
    shutil.copytree(tiny.folder, folder / runfolder.OUTPUT)
    runfolder.write_status(folder, state="succeeded", phase="done", step=1, total_steps=1)
    return folder


def test_evaluate_command_shows_the_cut_off_count(home, tiny, capsys):
    from voxstudio.cli import main

    rows = [r for r in speech_manifest("clips") if r["audio_path"].startswith("en/stp_")][:2]
    _tiny_run("cut", tiny, rows, max_new_tokens=2)
    capsys.readouterr()
    assert main(["evaluate", "--run", "cut", "--split", "train"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert "with the language hint (2 of 2 cut off at the token limit)" in first
    assert "without (auto) (2 of 2 cut off at the token limit)" in first
    assert out.count("[cut off at the token limit]") == 4  # every utterance, hinted and auto
    assert main(["evaluate", "--run", "cut", "--split", "train", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_cut_off"] == 2 and result["auto"]["n_cut_off"] == 2


def test_evaluate_page_shows_the_cut_off_count(home, tiny):
    rows = [r for r in speech_manifest("clips") if r["audio_path"].startswith("en/stp_")][:3]
    folder = _tiny_run("cut-page", tiny, rows, max_new_tokens=2)
    refs = _refs(3)
    baseline = evaluate.transcribe_clips(tiny.transcriber, refs, 2)
    finetuned = [{**r, "stopped_by_eos": i == 0} for i, r in enumerate(baseline)]
    runfolder.write_json_atomic(folder / runfolder.EVAL_RESULTS, evaluate.eval_results(baseline, finetuned))
    shown = texts(open_app("pages/5_Evaluate.py"))
    assert ("Transcripts cut off at the token limit before the model finished (scored as they are): "
            "base model 3 of 3, fine-tuned 2 of 3.") in shown


def test_model_card_shows_the_cut_off_count():
    from test_card import FACTS

    from voxstudio.publish import card

    results = {**FACTS["results"], "baseline": {**FACTS["results"]["baseline"], "n": 35, "n_cut_off": 3},
               "finetuned": {**FACTS["results"]["finetuned"], "n": 35, "n_cut_off": 0}}
    text = card.render_model_card(facts={**FACTS, "results": results})
    assert "Transcripts cut off at the token limit before the model finished (scored as they are): " \
           "base model 3 of 35, fine-tuned 0 of 35." in text
    assert "cut off" not in card.render_model_card(facts=FACTS)  # an older evaluation did not count them


# ------------------------------------------------------------------------------------ batched generation

def test_batched_generation_gives_the_tokens_of_one_at_a_time(tiny):
    """Real clips of different lengths (1.8–48 s: one and two 30 s chunks), sample rates and languages, with
    and without the language hint, rule and explicit budgets: token for token, and the same ending."""
    t = tiny.transcriber
    cases = [  # (audio, language, budget: None = the duration rule)
        (str(_clip("en/stp_nevermind.wav")["path"]), "en", None),
        (str(_clip("fr/stp_silence.wav")["path"]), "fr", None),
        (str(_clip("de/fleurs_de_000.ogg")["path"]), "de", 12),
        (str(_clip("es/fleurs_es_000.ogg")["path"]), None, 12),
        (str(_clip("en/ljspeech_LJ001-0005.flac")["path"]), "en", 10),  # 22.05 kHz, resampled
        (_long_wave(), "pt-br", 16),  # 48 s: two chunks, prompted lang:pt
        (str(_clip("fr/stp_silence.wav")["path"]), None, 8),
    ]
    assert _long_wave().size / SAMPLING_RATE > 30
    one = [t.transcribe(audio, language=lang, max_new_tokens=budget) for audio, lang, budget in cases]
    batch = t.transcribe_batch([c[0] for c in cases], [c[1] for c in cases], max_new_tokens=[c[2] for c in cases])
    for (_, lang, budget), a, b in zip(cases, one, batch):
        assert b.token_ids == a.token_ids, (lang, budget)
        assert (b.text, b.n_tokens, b.stopped_by_eos, b.language) == (a.text, a.n_tokens, a.stopped_by_eos, a.language)
    assert any(r.stopped_by_eos for r in one) and not all(r.stopped_by_eos for r in one), \
        "the cases must cover both endings (EOS and the budget)"
    rule = max_new_tokens_for(load_audio_array(cases[0][0]).size / SAMPLING_RATE, "en")
    assert one[0].n_tokens == batch[0].n_tokens == rule  # None = the rule, in both paths


def test_evaluation_batches_give_the_rows_of_one_at_a_time_in_order(tiny):
    refs = _refs(6)
    refs[2] = ClipRef("long", str(_clip("de/fleurs_de_000.ogg")["path"]), _clip("de/fleurs_de_000.ogg")["text"], "de")
    one = evaluate.transcribe_clips(tiny.transcriber, refs, 10, batch_size=1)
    batched = evaluate.transcribe_clips(tiny.transcriber, refs, 10, batch_size=4)
    assert [r["clip_id"] for r in batched] == [r.clip_id for r in refs]
    assert batched == one
    auto_one = evaluate.transcribe_clips(tiny.transcriber, refs[:3], 8, auto=True, batch_size=1)
    assert evaluate.transcribe_clips(tiny.transcriber, refs[:3], 8, auto=True, batch_size=3) == auto_one


def test_batches_go_shortest_first_within_the_size_and_chunk_limits(tmp_path):
    refs = [ClipRef("a", str(_clip("de/fleurs_de_000.ogg")["path"]), "", "de"),  # 17.9 s
            ClipRef("b", str(_clip("en/stp_nevermind.wav")["path"]), "", "en"),  # 1.9 s
            ClipRef("c", str(_clip("pt/fleurs_pt_000.ogg")["path"]), "", "pt"),  # 17.8 s
            ClipRef("d", str(_clip("fr/stp_silence.wav")["path"]), "", "fr")]  # 1.8 s
    assert evaluate.batches(refs, 2) == [[3, 1], [2, 0]]
    assert evaluate.batches(refs, 1) == [[3], [1], [2], [0]]
    assert evaluate.batches(refs, 8) == [[3, 1, 2, 0]]
    assert evaluate.batches(refs + [ClipRef("x", "/no/such.wav", "", "en")], 8) == [[3, 1, 2, 0], [4]]  # last, alone
    assert evaluate.batches(refs[:1] * 5, 4) == [[0, 1, 2, 3], [4]]
    import soundfile as sf

    sf.write(tmp_path / "long.wav", _long_wave(), SAMPLING_RATE)  # 48 s: two 30 s chunks
    long = ClipRef("l", str(tmp_path / "long.wav"), "", "pt")
    assert evaluate.batches([long, refs[1], long], 3) == [[1, 0], [2]]  # 1 + 2 chunks, then 2 more: a new batch


def test_a_stop_request_is_honoured_between_batches():
    fake = Recorder()
    with pytest.raises(evaluate.Interrupted):
        evaluate.transcribe_clips(fake, _refs(4), 0, should_stop=lambda: len(fake.calls) >= 1, batch_size=2)
    assert len(fake.calls) == 1  # the second batch never started
