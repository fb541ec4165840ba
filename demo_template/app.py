"""voxstudio demo Space: transcribe the microphone or an uploaded clip with one fine-tuned Voxtral model.

It loads exactly what the deployer set: ``HF_MODEL_ID`` (and ``BASE_MODEL_ID`` when that repo is a LoRA
adapter). If those weights cannot be loaded the page shows the error and ``transcribe`` raises: this demo
never answers with another model. ``inference.py`` next to this file is voxstudio's own inference module.
``DEFAULT_LANGUAGE`` (set at deploy time for a model trained on one language) is the language preselected, so
the prompt carries the ``lang:xx`` hint training used; "auto" (no hint) stays on offer.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import gradio as gr
import inference
import numpy as np
import soundfile as sf

try:  # ZeroGPU: the GPU is attached only while a @spaces.GPU function runs.
    import spaces

    gpu = spaces.GPU
except ImportError:  # anywhere else the decorator is a no-op

    def gpu(fn):
        return fn


HERE = Path(__file__).resolve().parent
SAMPLING_RATE = 16000
AUTO = "auto"
LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "pt": "Portuguese", "hi": "Hindi",
    "de": "German", "nl": "Dutch", "it": "Italian",
}


def demo_config() -> dict:
    """Title, card summary and languages written at deploy time (demo.json)."""
    try:
        return json.loads((HERE / "demo.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def default_language() -> str:
    """The preselected language: the Space variable DEFAULT_LANGUAGE ('pt-BR' -> 'pt'), else auto."""
    code = os.environ.get("DEFAULT_LANGUAGE", "").strip().lower().replace("_", "-").split("-")[0]
    return code if code and code != AUTO else AUTO


def language_options(config: dict) -> tuple[list[str], str]:
    """(the dropdown's codes, auto first; the preselected one), the default offered even when the card omits it."""
    languages = [AUTO] + [code for code in config.get("languages") or LANGUAGE_NAMES]
    preset = default_language()
    if preset not in languages:
        languages.insert(1, preset)
    return languages, preset


_STATE: dict = {}


def load_model():
    """Load HF_MODEL_ID (+ BASE_MODEL_ID) once; remember the failure so every request reports it."""
    if "transcriber" in _STATE:
        return _STATE["transcriber"]
    if "error" in _STATE:
        raise RuntimeError(_STATE["error"])
    model_id = os.environ.get("HF_MODEL_ID", "").strip()
    base_model = os.environ.get("BASE_MODEL_ID", "").strip() or None
    try:
        if not model_id:
            raise ValueError("the Space variable HF_MODEL_ID is not set")
        transcriber = inference.load_transcriber(model_id, base_model=base_model)
    except Exception as exc:
        _STATE["error"] = (
            f"Could not load the fine-tuned model {model_id or '(none)'}"
            f"{f' on {base_model}' if base_model else ''}: {exc}. "
            "This demo does not fall back to the base model; fix the model repo or the Space variables."
        )
        raise RuntimeError(_STATE["error"]) from exc
    _STATE["transcriber"] = transcriber
    return transcriber


def load_error() -> str | None:
    """The loading error as a sentence, or None when the model is ready."""
    try:
        load_model()
    except RuntimeError as exc:
        return str(exc)
    return None


def to_mono_16k(audio) -> np.ndarray:
    """Gradio's (rate, samples) tuple or a file path -> float32 mono at 16 kHz."""
    if isinstance(audio, (str, os.PathLike)):
        samples, rate = sf.read(str(audio), dtype="float32", always_2d=False)
    else:
        rate, samples = audio
        samples = np.asarray(samples)
        if np.issubdtype(samples.dtype, np.integer):
            samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if rate != SAMPLING_RATE:
        import soxr

        samples = soxr.resample(samples, rate, SAMPLING_RATE).astype(np.float32)
    return samples


@gpu
def transcribe(audio, language: str = AUTO) -> tuple[str, str]:
    """(transcript, details). Raises gr.Error when the model did not load or no audio was given."""
    try:
        transcriber = load_model()
    except RuntimeError as exc:
        raise gr.Error(str(exc), duration=None) from exc
    if audio is None:
        raise gr.Error("Record or upload a clip first.")
    samples = to_mono_16k(audio)
    if samples.size == 0:
        raise gr.Error("The clip is empty.")
    started = time.perf_counter()
    hint = None if language in (AUTO, "", None) else language
    limit = inference.max_new_tokens_for(samples.size / SAMPLING_RATE, hint)  # grows with the clip's length
    result = transcriber.transcribe(samples, sampling_rate=SAMPLING_RATE, language=hint, max_new_tokens=limit)
    seconds = time.perf_counter() - started
    details = f"{samples.size / SAMPLING_RATE:.1f} s of audio transcribed in {seconds:.2f} s"
    if not result.stopped_by_eos:
        details += f" (cut off at the {limit}-token limit: the transcript may be incomplete)"
    return result.text, details


def build_demo() -> gr.Blocks:
    config = demo_config()
    title = config.get("title") or "Voxtral demo"
    languages, preset = language_options(config)
    error = load_error()
    with gr.Blocks(title=title) as demo:
        gr.Markdown(f"# {title}")
        gr.Markdown(
            f"**Error:** {error}" if error else f"Model: `{os.environ.get('HF_MODEL_ID', '')}`",
            elem_id="model-status",
        )
        with gr.Row():
            with gr.Column():
                audio = gr.Audio(sources=["microphone", "upload"], type="numpy", label="Your voice")
                language = gr.Dropdown(
                    [(LANGUAGE_NAMES.get(code, code) if code != AUTO else "auto (detect)", code) for code in languages],
                    value=preset,
                    label="Language",
                )
                button = gr.Button("Transcribe", variant="primary", interactive=error is None)
            with gr.Column():
                text = gr.Textbox(label="Transcript", lines=4)
                details = gr.Markdown()
        if config.get("summary"):
            with gr.Accordion("About this model", open=False):
                gr.Markdown(config["summary"])
        button.click(transcribe, [audio, language], [text, details], api_name="transcribe")
    return demo


if __name__ == "__main__":
    build_demo().launch()
