"""Granary phrase source against a local stand-in with Granary's layout, a hung hub and an offline hub.

The stand-in is a real dataset folder (README ``configs:`` YAML + JSONL per split) that ``datasets`` reads
exactly as it reads ``nvidia/Granary``; nothing here touches the network.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from voxstudio.data import granary
from voxstudio.data.phrases import bundled_phrases, load_phrases, word_count
from voxstudio.text import key

ROOT = granary.__file__.rsplit("/voxstudio/", 1)[0]

SV_VOXPOPULI = [f"Herr talman, punkt nummer {i} på dagordningen gäller fisket i Östersjön." for i in range(1, 21)]
SV_YTC = [f"I dag ska vi laga recept nummer {i} tillsammans i köket." for i in range(1, 16)]
SV_GOOD = SV_VOXPOPULI + SV_YTC
SV_NOISE = [
    "Tack.",  # 1 word
    "Ja, precis.",  # 2 words
    " ".join(["ord"] * 21),  # 21 words
    "herr TALMAN, punkt nummer 1 på   dagordningen gäller fisket i Östersjön.",  # duplicate, other case/spacing
    SV_YTC[0],  # the same sentence in both corpora
]


def _write_jsonl(path, texts):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": t, "duration": 3.2}) + "\n" for t in texts), encoding="utf-8")


@pytest.fixture
def standin(tmp_path):
    """A local dataset with Granary's layout: configs <lang>_<corpus>, splits asr/ast, a `text` field."""
    root = tmp_path / "Granary"
    corpora = {
        "sv_voxpopuli": SV_VOXPOPULI[:10] + SV_NOISE[:3] + SV_VOXPOPULI[10:],
        "sv_ytc": SV_NOISE[3:] + SV_YTC,
        "sl_ytc": [f"Danes je lep dan številka {i} na obali." for i in range(10)],
        "de_ytc": [f"Heute ist der schöne Tag Nummer {i} am Meer." for i in range(10)],
    }
    lines = ["---", "configs:"]
    for config, texts in corpora.items():
        lang, corpus = config.split("_", 1)
        _write_jsonl(root / lang / corpus / "asr.jsonl", texts)
        _write_jsonl(root / lang / corpus / "ast.jsonl", [f"TRANSLATED into English, sentence {i}." for i in range(20)])
        lines += [f"- config_name: {config}", "  data_files:"]
        for split in ("asr", "ast"):
            lines += [f"  - split: {split}", f"    path: {lang}/{corpus}/{split}.jsonl"]
    lines += ["---", "# Granary stand-in for voxstudio tests"]
    (root / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_lists_configs_for_the_language_only(standin):
    assert granary.language_configs(str(standin), "sv") == ["sv_voxpopuli", "sv_ytc"]
    assert granary.language_configs(str(standin), "sl") == ["sl_ytc"]
    assert granary.language_configs(str(standin), "hi") == []


def test_granary_phrases_are_filtered_deduped_and_sampled_with_the_seed(standin):
    sel = load_phrases("sv", "granary", n=12, seed=1, repo_id=str(standin))
    assert sel.source == "granary" and sel.notice is None
    texts = [p.text for p in sel.phrases]
    assert len(texts) == 12 and set(texts) <= set(SV_GOOD)
    assert len({key(t) for t in texts}) == 12
    assert all(3 <= word_count(t) <= 20 for t in texts)
    assert all(p.language == "sv" and p.phrase_id.startswith("sv-granary-") for p in sel.phrases)
    again = load_phrases("sv", "granary", n=12, seed=1, repo_id=str(standin))
    assert again.phrases == sel.phrases
    other = load_phrases("sv", "granary", n=12, seed=2, repo_id=str(standin))
    assert set(other.phrases) != set(sel.phrases)


def test_asr_only_and_every_usable_sentence_once(standin):
    sel = load_phrases("sv", "granary", n=500, seed=0, repo_id=str(standin))
    texts = [p.text for p in sel.phrases]
    assert sorted(texts) == sorted(SV_GOOD)  # noise dropped, duplicates once, nothing from `ast` or other languages
    assert not any("TRANSLATED" in t for t in texts)
    assert sel.notice == f"Granary had only {len(SV_GOOD)} usable Swedish sentences (asked for 500)."


def test_language_without_granary_configs_falls_back_to_the_bundled_pack(standin):
    sel = load_phrases("hi", "granary", n=5, seed=0, repo_id=str(standin))
    assert sel.source == "bundled" and len(sel.phrases) == 5
    assert set(sel.phrases) <= set(bundled_phrases("hi"))
    assert sel.notice == (
        "Couldn't reach Granary (it has no configs for language 'hi'); using the bundled phrases for Hindi."
    )


def test_broken_data_file_falls_back_with_the_reason(standin):
    (standin / "sv" / "ytc" / "asr.jsonl").write_text('{"text": "Det här är en mening"}\n{not json\n', encoding="utf-8")
    sel = load_phrases("sv", "granary", n=10, repo_id=str(standin))
    assert sel.source == "bundled" and len(sel.phrases) == 10 and set(sel.phrases) <= set(bundled_phrases("sv"))
    assert sel.notice.startswith("Couldn't reach Granary (")
    assert sel.notice.endswith("); using the bundled phrases for Swedish.")


def _load_in_subprocess(tmp_path, env_extra: dict, language: str, timeout_s: float) -> dict:
    """Run load_phrases in a fresh interpreter: hub settings are read when `datasets` is imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update({"HF_HOME": str(tmp_path / "hf"), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    env.update(env_extra)
    script = (
        "import json, sys\n"
        "from voxstudio.data.phrases import load_phrases\n"
        "sel = load_phrases(sys.argv[1], 'granary', n=8, seed=0, timeout_s=float(sys.argv[2]))\n"
        "print(json.dumps({'source': sel.source, 'notice': sel.notice, 'n': len(sel.phrases)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, language, str(timeout_s)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_hub_that_never_answers_times_out_into_the_bundled_pack(tmp_path):
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)  # connections queue up but nothing ever answers, like a stalled Hub
    try:
        port = hung.getsockname()[1]
        got = _load_in_subprocess(tmp_path, {"HF_ENDPOINT": f"http://127.0.0.1:{port}"}, "sv", 2.0)
    finally:
        hung.close()
    assert got == {
        "source": "bundled",
        "n": 8,
        "notice": "Couldn't reach Granary (no answer within 2 s); using the bundled phrases for Swedish.",
    }


def test_offline_hub_falls_back_with_a_notice(tmp_path):
    got = _load_in_subprocess(tmp_path, {"HF_HUB_OFFLINE": "1"}, "de", 30.0)
    assert got["source"] == "bundled" and got["n"] == 8
    assert got["notice"].startswith("Couldn't reach Granary (")
    assert got["notice"].endswith("); using the bundled phrases for German.")
