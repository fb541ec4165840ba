"""Test helpers for the demo Space: tiny models and adapters on disk, pushed to the local Hub server, and the
Space's app run in a subprocess (so ``HF_ENDPOINT`` is read at import, as on a real Space)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hubserver import HubServer

# Runs inside the rendered Space folder: the app's own functions, then the UI it would show.
APP_PROBE = r"""
import json, os, sys
import app
out = {"load_error": app.load_error(), "text": None, "raised": None}
try:
    out["text"], out["details"] = app.transcribe(sys.argv[1], sys.argv[2])
except Exception as exc:
    out["raised"] = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
components = app.build_demo().config["components"]
out["markdown"] = [c["props"].get("value") for c in components if c.get("type") == "markdown"]
out["button_interactive"] = [c["props"].get("interactive") for c in components if c.get("type") == "button"]
if os.environ.get("PROBE_REFERENCE"):  # the same clip through the studio's own loader, from a local folder
    import inference
    ref = inference.load_transcriber(os.environ["PROBE_REFERENCE"], base_model=os.environ.get("PROBE_REFERENCE_BASE"))
    out["reference"] = ref.transcribe(sys.argv[1], language=None if sys.argv[2] == "auto" else sys.argv[2]).text
print("PROBE" + json.dumps(out))
"""


def build_adapter(base_dir: Path, out_dir: Path, seed: int = 1) -> Path:
    """A LoRA adapter on the tiny model with non-zero weights (so it changes the answers)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import VoxtralForConditionalGeneration

    torch.manual_seed(seed)
    model = VoxtralForConditionalGeneration.from_pretrained(str(base_dir))
    config = LoraConfig(r=4, lora_alpha=64, target_modules=r".*language_model.*\.(q_proj|v_proj)",
                        init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(str(out_dir))
    return Path(out_dir)


def push_folder(hub: HubServer, folder: Path, repo_id: str, private: bool = True) -> None:
    """Create ``repo_id`` on the test server and upload ``folder`` with the real HfApi."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.endpoint, token=HubServer.WRITE_TOKEN)
    api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message="test upload")


def run_space_app(space_dir: Path, hub: HubServer, clip: Path, *, model_id: str, base_model: str | None = None,
                  token: str | None = HubServer.READ_TOKEN, language: str = "en", reference: Path | None = None,
                  reference_base: Path | None = None, timeout: int = 240) -> dict:
    """Run the Space's app.py functions in a fresh interpreter pointed at the test Hub; return what it saw."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(
        HF_ENDPOINT=hub.endpoint, HF_HOME=str(space_dir.parent / "hf-home"), HF_MODEL_ID=model_id,
        GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1", TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
    )
    if base_model:
        env["BASE_MODEL_ID"] = base_model
    if token:
        env["HF_TOKEN"] = token
    if reference:
        env["PROBE_REFERENCE"] = str(reference)
        if reference_base:
            env["PROBE_REFERENCE_BASE"] = str(reference_base)
    proc = subprocess.run([sys.executable, "-c", APP_PROBE, str(clip), language], cwd=space_dir, env=env,
                          capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE")]
    assert proc.returncode == 0 and lines, f"app probe failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1][len("PROBE"):])


def space_env(hub: HubServer, space_dir: Path, variables: dict[str, str], secrets: dict[str, str]) -> dict:
    """The environment a Space process gets: its variables and secrets, the Hub endpoint, nothing of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "VOXSTUDIO_"))}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(space_dir.parent / "hf-home"), GRADIO_ANALYTICS_ENABLED="False",
               HF_HUB_DISABLE_TELEMETRY="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    env.update(variables)
    env.update(secrets)
    return env


def launch_space_app(space_dir: Path, env: dict, timeout: float = 240):
    """Start ``python app.py`` like the Space runtime does; return (process, url) once it answers HTTP."""
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**env, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    log = open(space_dir.parent / "space-app.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=space_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("the Space app exited:\n" + (space_dir.parent / "space-app.log").read_text())
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("the Space app did not answer in time:\n" + (space_dir.parent / "space-app.log").read_text())
