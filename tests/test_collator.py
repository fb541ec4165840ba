"""Collator and feature cache: literal inputs, exact tensors out; prompts exactly as inference builds them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxstudio.inference import build_prompt
from voxstudio.training.collator import VoxtralCollator
from voxstudio.training.features import ClipRef, build_features, make_example
from voxstudio.training.tiny import AUDIO_TOKEN_ID, tiny_path


def test_pads_right_masks_labels_and_stacks_feature_chunks():
    f1 = np.full((1, 2, 3), 1.0, dtype=np.float32)
    f2 = np.stack([np.full((2, 3), 2.0), np.full((2, 3), 3.0)]).astype(np.float32)  # a 2-chunk (> 30 s) clip
    batch = VoxtralCollator(pad_token_id=11)([
        {"input_ids": [1, 24, 4, 150, 2], "labels": [-100, -100, -100, 150, 2], "input_features": f1},
        {"input_ids": [1, 24, 24, 4, 2], "labels": [-100, -100, -100, -100, 2], "input_features": f2},
        {"input_ids": [1, 4, 2], "labels": [-100, -100, 2], "input_features": f1},
    ])
    assert torch.equal(batch["input_ids"], torch.tensor(
        [[1, 24, 4, 150, 2], [1, 24, 24, 4, 2], [1, 4, 2, 11, 11]]))
    assert torch.equal(batch["labels"], torch.tensor(
        [[-100, -100, -100, 150, 2], [-100, -100, -100, -100, 2], [-100, -100, 2, -100, -100]]))
    assert torch.equal(batch["attention_mask"], torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]))
    # Chunks, not examples: 1 + 2 + 1 = 4, in example order (the order Voxtral fills audio tokens).
    assert batch["input_features"].shape == (4, 2, 3)
    assert batch["input_features"][:, 0, 0].tolist() == [1.0, 2.0, 3.0, 1.0]
    assert batch["input_ids"].dtype == torch.long and batch["input_features"].dtype == torch.float32


def test_pad_to_multiple_and_bad_examples():
    batch = VoxtralCollator(pad_token_id=0, pad_to_multiple_of=4)(
        [{"input_ids": [5, 6, 7, 8, 9], "labels": [5, 6, 7, 8, 9], "input_features": np.zeros((1, 1, 1))}])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9, 0, 0, 0]]
    assert batch["labels"].tolist() == [[5, 6, 7, 8, 9, -100, -100, -100]]
    with pytest.raises(ValueError, match="labels"):
        VoxtralCollator(pad_token_id=0)([{"input_ids": [1, 2], "labels": [1], "input_features": np.zeros((1, 1, 1))}])
    with pytest.raises(ValueError, match="empty"):
        VoxtralCollator(pad_token_id=0)([])


@pytest.fixture
def processor(home):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_path())


def test_example_is_the_inference_prompt_plus_transcript_and_eos(processor, clips):
    from voxstudio.data.audio import load_audio

    clip = next(c for c in clips if c["text"] == "cancel timer")
    audio = load_audio(clip["path"])
    ex = make_example(processor, audio, "cancel timer", "en")
    prompt = build_prompt(processor, audio, "en")["input_ids"][0].tolist()
    text = [ord(ch) + 100 for ch in "cancel timer"]  # tiny tokenizer: byte b is token b + 100
    assert ex["input_ids"] == prompt + text + [2]
    assert ex["labels"] == [-100] * len(prompt) + text + [2]
    # <s>[INST][BEGIN_AUDIO][AUDIO]×375[/INST]lang:en[TRANSCRIBE]
    assert prompt[:3] == [1, 3, 25] and prompt[3:378] == [AUDIO_TOKEN_ID] * 375
    assert prompt[378:] == [4] + [ord(ch) + 100 for ch in "lang:en"] + [34]
    assert ex["input_features"].shape == (1, 128, 3000)


def test_long_clip_gives_several_chunks_and_375_audio_tokens_each(processor):

    audio = _long_source()
    assert len(audio) > 30 * 16000
    ex = make_example(processor, audio, "long", "en")
    k = ex["input_features"].shape[0]
    assert k == 2
    assert ex["input_ids"].count(AUDIO_TOKEN_ID) == 375 * k
    batch = VoxtralCollator(pad_token_id=11)([ex, ex])
    assert batch["input_features"].shape[0] == 4
    assert int((batch["input_ids"] == AUDIO_TOKEN_ID).sum()) == 4 * 375


def _long_source():
    """A real > 30 s waveform: the difficult fixture clips concatenated."""
    from conftest import speech_manifest

    from voxstudio.data.audio import load_audio

    parts = [load_audio(r["path"]) for r in speech_manifest("clips") if r["duration_s"] > 10]
    return np.concatenate(parts)[: 40 * 16000].astype(np.float32)


def test_feature_cache_is_reused_and_keyed_by_text_and_language(processor, clips, home):
    refs = [ClipRef(f"c{i}", str(c["path"]), c["text"], c["language"]) for i, c in enumerate(clips[:3])]
    lines: list[str] = []
    first = build_features(processor, refs, log=lines.append)
    assert "3 computed" in lines[-1]
    again = build_features(processor, refs, log=lines.append)
    assert "0 computed, 3 from cache" in lines[-1]
    assert again.keys == first.keys and str(first.folder).startswith(str(home / "cache"))
    changed = [refs[0], ClipRef("c1", refs[1].path, refs[1].text + " again", refs[1].language),
               ClipRef("c2", refs[2].path, refs[2].text, "fr")]
    third = build_features(processor, changed, log=lines.append)
    assert "2 computed, 1 from cache" in lines[-1]
    item = third[2]
    assert item["labels"][-1] == 2 and np.asarray(item["input_features"]).shape == (1, 128, 3000)
    assert third.lengths == [len(third[i]["input_ids"]) for i in range(3)]


def test_regional_language_tags_prompt_with_the_base_language_and_auto_has_no_hint(processor, clips):
    from voxstudio.data.audio import load_audio

    audio = load_audio(clips[0]["path"])
    en = build_prompt(processor, audio, "en")["input_ids"][0].tolist()
    assert build_prompt(processor, audio, "en-GB")["input_ids"][0].tolist() == en
    auto = build_prompt(processor, audio, None)["input_ids"][0].tolist()
    assert build_prompt(processor, audio, "auto")["input_ids"][0].tolist() == auto
    assert auto[-2:] == [4, 34]  # [/INST][TRANSCRIBE]: no "lang:xx" hint
