"""One owner per rule: inference.py's own copies (it ships alone into the Space) agree with the owners, and no
other module defines the owned constants again."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

from voxstudio import inference, languages, models, workspace
from voxstudio.data import audio
from voxstudio.training import collator, config

ROOT = Path(__file__).resolve().parent.parent
CODES = ["en", "fr", "yue", "pt-br", "pt-BR", "pt_BR", "EN-gb", "zh_Hant", " de "]
TEXTS = ["lang:fr bonjour", "  LANG:EN  hello ", "lang:yue 你好", "no prefix here", "lang:  x", "", "lang:pt"]
MODEL_NAMES = ["tiny", "mistralai/Voxtral-Mini-3B-2507", "/abs/model", "./rel", "../up", "~/models/v",
               "a/b/c", "name", "C:\\models\\v", "org/name-v2.1"]


def test_inference_sample_rate_is_the_audio_owners():
    assert inference.SAMPLING_RATE == audio.SAMPLE_RATE == 16000


def test_inference_lang_prefix_regex_is_the_language_owners():
    assert inference.LANG_PREFIX_RE.pattern == languages.PREFIX_RE.pattern
    assert inference.LANG_PREFIX_RE.flags == languages.PREFIX_RE.flags


@pytest.mark.parametrize("code", CODES)
def test_inference_prompt_language_is_base_code(code):
    assert inference.prompt_language(code) == languages.base_code(code)


def test_inference_prompt_language_auto_means_no_hint():
    assert inference.prompt_language(None) is None and inference.prompt_language(languages.AUTO) is None


@pytest.mark.parametrize("raw", TEXTS)
def test_inference_split_language_is_split_prefix(raw):
    assert inference.split_language(raw) == languages.split_prefix(raw)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_inference_looks_like_path_is_the_models_owners(name):
    assert inference.looks_like_path(name) == models.looks_like_path(name)


def test_re_exported_names_are_the_owners_values():
    assert config.TINY is models.TINY and config.DEFAULT_BASE_MODEL is models.DEFAULT_BASE_MODEL
    assert collator.IGNORE_INDEX == -100
    from voxstudio.training import features, tiny

    assert features.IGNORE_INDEX is collator.IGNORE_INDEX
    assert tiny.NAME == models.TINY and tiny.AUDIO_SECTION["sampling_rate"] == audio.SAMPLE_RATE


def test_slug_and_hub_rules():
    assert workspace.is_slug("my-voice-fr") and not workspace.is_slug("a..b") and not workspace.is_slug("Voice")
    assert config.RunConfig(run_name="a..b", dataset="d").errors().keys() >= {"run_name"}
    assert models.is_hub_id("org/name") and not models.is_hub_id("name") and not models.is_hub_id("a/b/c")
    assert models.is_repo_id("name") and models.is_repo_id("org/name")
    assert not any(models.is_repo_id(x) for x in ("café", "a/b/c", "x.git", "a..b", "bad name", "x."))


# ----- nobody defines an owned literal again -----------------------------------------------------------------
# literal token -> the modules allowed to spell it (inference.py keeps copies, checked above)
OWNED = {
    "16000": {"voxstudio/data/audio.py", "voxstudio/inference.py"},
    "16_000": {"voxstudio/data/audio.py", "voxstudio/inference.py"},
    '"mistralai/Voxtral-Mini-3B-2507"': {"voxstudio/models.py"},
    "'mistralai/Voxtral-Mini-3B-2507'": {"voxstudio/models.py"},
    '"tiny"': {"voxstudio/models.py"},
    "'tiny'": {"voxstudio/models.py"},
}
OWNED_PATTERNS = {  # string tokens containing these are regexes of an owned rule
    "lang:": {"voxstudio/languages.py", "voxstudio/inference.py"},
    "[a-z]{2,3}": {"voxstudio/languages.py", "voxstudio/inference.py"},
    "[a-z0-9][a-z0-9._-]": {"voxstudio/workspace.py"},
    "[\\w.-]*/[\\w.-]+": {"voxstudio/models.py"},
}


def _sources():
    for folder in ("voxstudio", "pages"):
        yield from sorted((ROOT / folder).rglob("*.py"))
    yield ROOT / "Home.py"


def _code_tokens(path: Path):
    """(line, token) of the code's numbers and non-docstring strings."""
    src = path.read_text(encoding="utf-8")
    prev = tokenize.NEWLINE
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.STRING and prev in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
            prev = tok.type  # a statement that is only a string: a docstring
            continue
        if tok.type in (tokenize.NUMBER, tokenize.STRING):
            yield tok.start[0], tok.string
        if tok.type not in (tokenize.COMMENT,):
            prev = tok.type


def test_owned_literals_are_spelled_only_by_their_owner():
    stray = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        for line, token in _code_tokens(path):
            if rel not in OWNED.get(token, {rel}):
                stray.append(f"{rel}:{line}: {token}")
            prefix = token[: len(token) - len(token.lstrip("rRbBuUfF"))]
            if "r" in prefix.lower():  # a raw string: in this code base, a regex
                stray += [f"{rel}:{line}: {token}" for pattern, owners in OWNED_PATTERNS.items()
                          if pattern in token and rel not in owners]
    assert not stray, "import these from their owner instead:\n" + "\n".join(stray)
