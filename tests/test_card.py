"""Model and dataset cards: exact text (golden files), valid Hub metadata, truthful conditional sections.

Regenerate the golden files after an intended change of wording with::

    VOXSTUDIO_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_card.py -q

and review the diff of tests/golden/ before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hubserver import HubServer, hub_server  # noqa: F401 - fixture

from voxstudio.publish import card

GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("VOXSTUDIO_REGEN_GOLDEN") == "1"

LORA_CONFIG = {
    "run_name": "fr-voice-1", "dataset": "my-voice", "base_model": "mistralai/Voxtral-Mini-3B-2507",
    "method": "lora", "languages": ["fr"], "epochs": 3.0, "max_steps": -1, "learning_rate": 0.0001,
    "batch_size": 4, "grad_accum": 2, "warmup_steps": 10, "scheduler": "cosine", "lora_r": 16,
    "lora_alpha": 32, "lora_dropout": 0.05, "lora_targets": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "lora_projector": False, "freeze_audio_tower": True, "precision": "bf16", "max_grad_norm": 1.0,
    "seed": 0, "steps_trained": 240, "auto_language_fraction": 0.3,
}
FACTS = {
    "run_name": "fr-voice-1", "repo_id": "alice/fr-voice", "base_model": "mistralai/Voxtral-Mini-3B-2507",
    "method": "lora", "artifact": "adapter", "dtype": "bfloat16", "languages": ["fr"],
    "dataset_name": "my-voice", "dataset_repo": None, "license": "apache-2.0",
    "data": {"train_minutes": 21.4, "train_clips": 312, "eval_clips": 35, "eval_minutes": 2.3, "speakers": 1},
    "config": LORA_CONFIG,
    "results": {"baseline": {"wer": 0.1834, "cer": 0.0712}, "finetuned": {"wer": 0.0621, "cer": 0.0233},
                "auto": {"baseline": {"wer": 0.2011, "cer": 0.0790}, "finetuned": {"wer": 0.0714, "cer": 0.0261}},
                "utterances": 35, "wer_clips": 35, "selected_by": "best held-out WER", "worse_than_base": False,
                "selection_bias": True, "best_step": 200},
    "consent": {"given": True, "speaker": "Alice", "given_at": "2026-11-20T10:00:00+00:00",
                "statement": "I am the speaker, and I agree that my recordings are stored in this dataset and "
                             "used to fine-tune a speech recognizer."},
    "trackio_url": None, "voxstudio_version": "0.1.0",
}
PUBLISH_CONSENT = {"given": True, "speaker": "Alice", "visibility": "public", "given_at": "2026-11-21T09:00:00+00:00",
                   "statement": "I am Alice, the speaker of the recordings in dataset 'my-voice', and I agree that "
                                "these recordings and their transcripts are published in a public repository on "
                                "the Hugging Face Hub, where anyone can download and listen to them."}
FULL_FACTS = {**FACTS, "method": "full", "artifact": "full", "repo_id": "alice/fr-voice-full",
              "config": {**LORA_CONFIG, "method": "full"}, "dataset_repo": "alice/my-voice-data",
              "trackio_url": "https://huggingface.co/spaces/alice/trackio"}


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGEN:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with VOXSTUDIO_REGEN_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("artifact, facts", [("adapter", FACTS), ("merged", FACTS), ("full", FULL_FACTS)])
def test_model_card_matches_golden(artifact, facts):
    check_golden(f"model_card_{artifact}.md", card.render_model_card(facts=facts, artifact=artifact))


def test_dataset_card_matches_golden():
    info = {"name": "my-voice", "languages": ["fr"], "speakers": ["Alice"], "licence": "cc-by-4.0",
            "consent": FACTS["consent"], "publish_consent": PUBLISH_CONSENT}
    stats = {"clips": 347, "minutes": 23.7, "languages": {"fr": {"clips": 347, "minutes": 23.7}},
             "speakers": {"Alice": {"clips": 347, "minutes": 23.7}}}
    text = card.render_dataset_card(info, stats, {"train": 312, "test": 35}, "alice/my-voice-data",
                                    licence="cc-by-sa-4.0")
    check_golden("dataset_card.md", text)
    meta = card.parse_front_matter(text)
    assert meta["license"] == "cc-by-sa-4.0" and meta["language"] == ["fr"]  # the chosen one, not dataset.json's
    assert meta["task_categories"] == ["automatic-speech-recognition"]
    assert "Alice gave consent on 2026-11-20" in text and "23.7 minutes" in text
    assert f"Alice agreed on 2026-11-21 to publish these recordings: “{PUBLISH_CONSENT['statement']}”" in text
    assert "shared under `cc-by-sa-4.0`" in text


def test_cards_state_no_licence_rather_than_a_default():
    """Without a chosen licence a card has no ``license`` metadata and says none was chosen (no silent default)."""
    info = {"name": "my-voice", "languages": ["fr"], "speakers": ["Alice"], "licence": "cc-by-4.0"}
    stats = {"clips": 3, "minutes": 0.2, "languages": {"fr": {"clips": 3, "minutes": 0.2}}, "speakers": {}}
    for text in (card.render_dataset_card(info, stats, {"train": 3}),
                 card.render_model_card(facts={**FACTS, "license": None}, artifact="adapter")):
        assert "license" not in card.parse_front_matter(text)
        assert "No licence was chosen" in text
        assert "No consent to publish" not in text
    model = card.render_model_card(facts={**FACTS, "license": "mit"}, artifact="merged")
    assert card.parse_front_matter(model)["license"] == "mit" and "This model is shared under `mit`." in model


def test_metadata_is_what_the_hub_reads():
    """huggingface_hub's own parser reads base model, library, languages and the WER/CER results."""
    from huggingface_hub import ModelCard

    adapter = ModelCard(card.render_model_card(facts=FACTS, artifact="adapter"))
    assert adapter.data.base_model == "mistralai/Voxtral-Mini-3B-2507"
    assert adapter.data.library_name == "peft"
    assert adapter.data.pipeline_tag == "automatic-speech-recognition"
    assert adapter.data.language == ["fr"] and adapter.data.license == "apache-2.0"
    results = {r.metric_type: r.metric_value for r in adapter.data.eval_results}
    assert results == {"wer": 6.21, "cer": 2.33}
    assert adapter.data.eval_results[0].dataset_split == "test"
    assert adapter.data.datasets is None

    full = ModelCard(card.render_model_card(facts=FULL_FACTS))
    assert full.data.library_name == "transformers" and full.data.datasets == ["alice/my-voice-data"]


def test_usage_code_fits_the_artifact():
    adapter = card.render_model_card(facts=FACTS, artifact="adapter")
    assert "PeftModel.from_pretrained(model, adapter_id)" in adapter
    assert 'base_id = "mistralai/Voxtral-Mini-3B-2507"' in adapter and 'adapter_id = "alice/fr-voice"' in adapter
    merged = card.render_model_card(facts=FACTS, artifact="merged")
    assert "peft" not in merged.split("## How to use")[1].split("## Limitations")[0].lower()
    assert 'VoxtralForConditionalGeneration.from_pretrained(model_id' in merged
    for text in (adapter, merged):
        assert "apply_transcription_request" in text
        assert "AutoModelForSeq2SeqLM" not in text
        assert "one speaker" in text and "Trackio" not in text
    assert "Trackio dashboard](https://huggingface.co/spaces/alice/trackio)" in card.render_model_card(
        facts=FULL_FACTS)


def test_artifact_must_match_the_training_method():
    with pytest.raises(ValueError, match="LoRA run"):
        card.render_model_card(facts=FACTS, artifact="full")
    with pytest.raises(ValueError, match="full fine-tune"):
        card.render_model_card(facts=FULL_FACTS, artifact="adapter")


def test_hub_validate_yaml_accepts_the_cards(hub_server):  # noqa: F811
    """The Hub's validate-yaml endpoint (as called by HfApi) accepts every card we render."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_server.endpoint, token=HubServer.WRITE_TOKEN)
    for facts, artifact in ((FACTS, "adapter"), (FACTS, "merged"), (FULL_FACTS, "full")):
        api._validate_yaml(card.render_model_card(facts=facts, artifact=artifact), repo_type="model")
    with pytest.raises(ValueError, match="Invalid metadata"):
        api._validate_yaml("---\nlanguage: [1]\nmodel-index: {}\n---\n", repo_type="model")


def test_no_held_out_set_is_said_plainly():
    """When the trainer had to measure WER on its training clips, the card never calls them held-out."""
    facts = {**FULL_FACTS, "results": {**FULL_FACTS["results"], "held_out": False,
                                       "selected_by": "best WER on the training clips (no held-out set)"}}
    text = card.render_model_card(facts=facts)
    assert "held-out clips" not in text and "no held-out set" in text
    assert "Fine-tuned WER on its own 35 training clips: 6.2%" in text
    split = card.parse_front_matter(text)["model-index"][0]["results"][0]["dataset"]["split"]
    assert split == "train"


def test_card_writes_rates_with_the_one_shared_formatter(monkeypatch):
    """The card's WER/CER go through scoring.percent, so the studio, the CLI and the card never disagree."""
    from voxstudio.training import scoring

    text = card.render_model_card(facts=FACTS, artifact="adapter")
    assert f"| Base model | {scoring.percent(0.1834)} | {scoring.percent(0.0712)} |" in text
    assert f"| Fine-tuned | {scoring.percent(0.0621)} | {scoring.percent(0.0233)} |" in text
    unmeasured = {**FACTS, "results": {"baseline": {}, "finetuned": {"wer": 0.0621}, "utterances": 35}}
    text = card.render_model_card(facts=unmeasured, artifact="adapter")
    assert "(base model: n/a)" in text and "| Base model | n/a | n/a |" in text

    monkeypatch.setattr(card, "percent", lambda rate, missing="–": "RATE")  # the card has no formatter of its own
    assert "| Fine-tuned | RATE | RATE |" in card.render_model_card(facts=FACTS, artifact="adapter")
