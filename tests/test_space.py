"""The demo Space: what render_space writes, and what deploy_demo sends to a Hub (the local test server)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from voxstudio import space

ROOT = space.PACKAGE_DIR.parent


def front_matter(readme: bytes) -> dict:
    text = readme.decode("utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_render_space_files_front_matter_and_requirements():
    files = space.render_space(
        "me/my-voice", "mistralai/Voxtral-Mini-3B-2507", title='Ana\'s "voice": FR',
        card_summary="Fine-tuned on 12 minutes of one speaker.", languages=["fr"], hardware="zero-a10g",
    )
    assert sorted(files) == sorted(space.SPACE_FILES)
    # the Space runs the studio's own inference code, byte for byte, and the template app unchanged
    assert files["inference.py"] == (ROOT / "voxstudio" / "inference.py").read_bytes()
    assert files["app.py"] == (ROOT / "demo_template" / "app.py").read_bytes()

    meta = front_matter(files["README.md"])
    assert meta["title"] == 'Ana\'s "voice": FR'
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == space.gradio_version()
    import gradio

    assert meta["sdk_version"] == gradio.__version__
    assert meta["app_file"] == "app.py"
    assert meta["suggested_hardware"] == "zero-a10g"
    assert meta["models"] == ["me/my-voice", "mistralai/Voxtral-Mini-3B-2507"]
    assert len(meta["short_description"]) <= 60
    from huggingface_hub import SpaceCard

    assert SpaceCard(files["README.md"].decode()).data.sdk == "gradio"
    assert "Fine-tuned on 12 minutes of one speaker." in files["README.md"].decode()

    reqs = files["requirements.txt"].decode().splitlines()
    names = {line.split("==")[0].split("[")[0] for line in reqs if line and not line.startswith("#")}
    # everything inference.py imports, plus the LoRA and tokenizer libraries it loads through
    assert {"torch", "transformers", "peft", "soundfile", "numpy", "mistral-common"} <= names
    assert not any("+" in line for line in reqs), "local version labels (e.g. +cpu) do not exist on PyPI"
    assert not any(line.startswith("gradio") for line in reqs), "the Space SDK provides gradio"

    demo = json.loads(files["demo.json"])
    assert demo["languages"] == ["fr"] and demo["base_model"] == "mistralai/Voxtral-Mini-3B-2507"


def test_render_merged_model_has_no_base_and_offers_all_languages(tmp_path):
    written = space.write_space(tmp_path / "space", "me/merged")
    assert sorted(p.name for p in written) == sorted(space.SPACE_FILES)
    meta = front_matter((tmp_path / "space" / "README.md").read_bytes())
    assert meta["models"] == ["me/merged"]
    assert meta["suggested_hardware"] == "cpu-basic"
    demo = json.loads((tmp_path / "space" / "demo.json").read_text())
    assert demo["base_model"] is None and "en" in demo["languages"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model_repo": "me/bad name"}, "not valid"),
        ({"model_repo": "a/b/c"}, "not valid"),
        ({"model_repo": "me/ok", "hardware": "quantum-1"}, "Unknown Space hardware"),
    ],
)
def test_render_refuses_bad_input_with_a_sentence(kwargs, message):
    with pytest.raises(ValueError, match=message):
        space.render_space(**kwargs)


def test_summarize_card_takes_the_first_section_and_languages():
    card = "---\nlanguage:\n- fr\n- en\nlicense: apache-2.0\n---\n# my-voice\n\nA LoRA adapter.\n\n## Training\nlots\n"
    summary, languages = space.summarize_card(card)
    assert languages == ["fr", "en"]
    assert "A LoRA adapter." in summary and "lots" not in summary


def test_space_module_is_ui_safe():
    code = (
        "import sys; import voxstudio.space, voxstudio.tryout;"
        "bad=[m for m in ('torch','transformers','peft','huggingface_hub','gradio') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
