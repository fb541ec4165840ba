"""The frozen audio encoder costs once: no backward through it, outputs cached per chunk, same losses and grads.

Real tiny Voxtral (training/tiny.py), real clips, real features and collator; the "old path" is what training
did before: ``enable_input_require_grads`` (which hooks the audio tower's first convolution) and no cache.
"""

from __future__ import annotations

import pytest
import torch
from conftest import speech_manifest
from peft import get_peft_model
from transformers import AutoProcessor, VoxtralForConditionalGeneration

from voxstudio.data.audio import load_audio
from voxstudio.training import encoder
from voxstudio.training.collator import VoxtralCollator
from voxstudio.training.config import RunConfig, to_lora_config
from voxstudio.training.features import make_example
from voxstudio.training.tiny import tiny_path


@pytest.fixture(scope="module")
def batch():
    processor = AutoProcessor.from_pretrained(str(tiny_path()))
    rows = [r for r in speech_manifest("clips") if r["language"] == "en"][:3]
    examples = [make_example(processor, load_audio(r["path"]), r["text"], "en") for r in rows]
    return VoxtralCollator(pad_token_id=processor.tokenizer.pad_token_id)(examples)


def model(method: str, *, old_path: bool = False, cache_dir=None):
    """The tiny model as the trainer prepares it (LoRA: all frozen + adapters; full: tower frozen)."""
    torch.manual_seed(0)
    net = VoxtralForConditionalGeneration.from_pretrained(str(tiny_path()))
    if method == "lora":
        for p in net.parameters():
            p.requires_grad_(False)
        net = get_peft_model(net, to_lora_config(RunConfig(dataset="d")))
    else:
        for p in net.model.audio_tower.parameters():
            p.requires_grad_(False)
    net.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if old_path:
        net.enable_input_require_grads()  # what train.py (and the Trainer's hook on every embedding) did
        cache = None
    else:
        encoder.voxtral_core(net).audio_tower.get_input_embeddings().register_forward_hook(
            lambda m, i, o: o.requires_grad_(True))  # the Trainer still adds this hook: it must not matter
        cache = encoder.install(net, cache_dir)
    net.train()
    return net, cache


def step(net, batch):
    """Loss, the gradients of trainable parameters, and how many tower layers ran a backward pass."""
    calls = []
    hooks = [layer.register_full_backward_hook(lambda *a: calls.append(1))
             for layer in encoder.voxtral_core(net).audio_tower.layers]
    out = net(**batch)
    out.loss.backward()
    for h in hooks:
        h.remove()
    grads = {n: p.grad.detach().clone() for n, p in net.named_parameters() if p.grad is not None}
    net.zero_grad()
    return out.loss.item(), grads, len(calls)


@pytest.mark.parametrize("method", ["lora", "full"])
def test_no_backward_through_the_frozen_tower_and_identical_gradients(batch, method, tmp_path):
    old_loss, old_grads, old_backward = step(model(method, old_path=True)[0], batch)
    new_net, cache = model(method, cache_dir=tmp_path)
    new_loss, new_grads, new_backward = step(new_net, batch)
    assert old_backward > 0  # the old path really did backprop through the frozen encoder
    assert new_backward == 0
    assert not any("audio_tower" in n for n in new_grads)
    assert new_loss == pytest.approx(old_loss, abs=1e-6)
    assert set(new_grads) == set(old_grads) and new_grads
    for name, grad in old_grads.items():
        assert torch.allclose(new_grads[name], grad, atol=1e-6), name
    # LoRA's default leaves the projector frozen too: the audio embeddings are cached; full trains the projector
    assert cache.stage == (encoder.AUDIO if method == "lora" else encoder.TOWER)
    if method == "full":
        assert any("multi_modal_projector" in n for n in new_grads)


def test_cached_outputs_give_the_same_loss_and_skip_the_encoder(batch, tmp_path):
    net, cache = model("lora", cache_dir=tmp_path)
    first, _, _ = step(net, batch)
    chunks = batch["input_features"].shape[0]
    assert (cache.hits, cache.misses) == (0, chunks)
    assert len(list(cache.folder.glob("*.pt"))) == chunks  # on disk, for later epochs and a resumed run

    ran = []
    tower = encoder.voxtral_core(net).audio_tower
    hook = tower.layers[0].register_forward_hook(lambda *a: ran.append(1))
    second, _, _ = step(net, batch)  # "the next epoch"
    hook.remove()
    assert second == first and not ran and cache.hits == chunks

    again, fresh = model("lora", cache_dir=tmp_path)  # a new process: read back from disk
    assert fresh.folder == cache.folder
    third, _, _ = step(again, batch)
    assert third == pytest.approx(first, abs=1e-6) and (fresh.hits, fresh.misses) == (chunks, 0)


def test_changed_encoder_weights_never_reuse_the_cache(tmp_path):
    net, cache = model("lora", cache_dir=tmp_path)
    with torch.no_grad():
        next(encoder.voxtral_core(net).audio_tower.parameters()).add_(0.01)
    assert encoder.fingerprint(net, encoder.AUDIO) != cache.folder.name


def test_nothing_is_cached_when_the_tower_trains():
    torch.manual_seed(0)
    net = VoxtralForConditionalGeneration.from_pretrained(str(tiny_path()))  # full, tower not frozen
    assert encoder.frozen_stage(net) is None and encoder.install(net) is None
