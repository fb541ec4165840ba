"""The demo Space: render the Gradio template and deploy it to the Hub (UI-safe; huggingface_hub is lazy).

Why a Gradio Space: it is the Hub's native SDK and the only one that runs on ZeroGPU. The Space runs a copy
of ``voxstudio/inference.py`` (copied byte-for-byte at deploy time) so the studio, the CLI and the demo share
one inference implementation, and it loads exactly the repo the deployer names in ``HF_MODEL_ID`` (plus
``BASE_MODEL_ID`` for an adapter) -- if those weights cannot load, the demo shows an error; it never falls
back to the base model. ``DEFAULT_LANGUAGE`` (set when the model was trained on one language) is the language
the demo preselects, so a visitor gets the ``lang:xx`` prompt training used; "auto" stays on offer.

Token rule: the deployer's (write) token is used only for the API calls. The Space gets a ``HF_TOKEN`` secret
only when the model is private, and then only a *read* token the user provides explicitly.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

from voxstudio import languages as language_codes
from voxstudio.languages import TRANSCRIPTION_LANGUAGES
from voxstudio.models import is_hub_id, is_repo_id

PACKAGE_DIR = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = PACKAGE_DIR.parent / "demo_template"
INFERENCE_SOURCE = PACKAGE_DIR / "inference.py"

# Hardware a user can pick for the Space (Hub flavour ids) with a short human description.
HARDWARE = {
    "cpu-basic": "CPU basic (2 vCPU, 16 GB) - slow but enough for a small model",
    "cpu-upgrade": "CPU upgrade (8 vCPU, 32 GB)",
    "zero-a10g": "ZeroGPU (shared A10G/H200, PRO accounts) - GPU on demand",
    "t4-small": "Nvidia T4 small (16 GB VRAM)",
    "l4x1": "Nvidia L4 (24 GB VRAM)",
    "a10g-small": "Nvidia A10G small (24 GB VRAM)",
    "a100-large": "Nvidia A100 (80 GB VRAM)",
}
DEFAULT_HARDWARE = "cpu-basic"

# Packages the copied inference module needs in the Space, pinned to what this studio runs with.
SPACE_PACKAGES = ("torch", "transformers", "peft", "accelerate", "mistral-common", "soundfile", "soxr", "numpy")
PACKAGE_EXTRAS = {"mistral-common": "[audio]"}
# Used for sdk_version when gradio is not installed here (it is a dev-only dependency of the studio).
GRADIO_FALLBACK_VERSION = "6.31.0"

SPACE_FILES = ("app.py", "inference.py", "README.md", "requirements.txt", "demo.json")
SUMMARY_MAX_CHARS = 1200


def _installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def gradio_version() -> str:
    """The sdk_version written into the Space front matter: the gradio we test the template with."""
    return _installed_version("gradio") or GRADIO_FALLBACK_VERSION


def space_requirements() -> list[str]:
    """Requirement lines for the Space (gradio itself is provided by the Space SDK)."""
    lines = []
    for package in SPACE_PACKAGES:
        version = (_installed_version(package) or "").split("+")[0]  # no local labels (+cpu) on PyPI
        name = package + PACKAGE_EXTRAS.get(package, "")
        lines.append(f"{name}=={version}" if version else name)
    return lines


def check_repo_id(repo_id: str, what: str = "repo") -> str:
    """Return ``repo_id`` if it looks like ``name`` or ``namespace/name``, else raise a clear ValueError."""
    if not isinstance(repo_id, str) or not is_repo_id(repo_id.strip()):
        raise ValueError(
            f"The {what} id {repo_id!r} is not valid: use 'name' or 'your-username/name' "
            "(letters, digits, '-', '_' or '.')."
        )
    return repo_id.strip()


def summarize_card(markdown: str) -> tuple[str, list[str]]:
    """(summary, languages) from a model card: its introduction, and the front-matter languages.

    The demo shows this so a visitor knows what was fine-tuned without leaving the Space.
    """
    text = markdown or ""
    languages: list[str] = []
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n?", text, flags=re.S)
    if match:
        text = text[match.end():]
        try:
            import yaml

            meta = yaml.safe_load(match.group(1)) or {}
        except Exception:  # a broken front matter only costs us the language list
            meta = {}
        lang = meta.get("language") if isinstance(meta, dict) else None
        languages = [lang] if isinstance(lang, str) else [str(x) for x in (lang or [])]
    kept: list[str] = []
    for line in text.strip().splitlines():
        if line.startswith("# ") and not kept:
            continue  # the card's title: the Space has its own
        if line.startswith("## ") and any(k.strip() and not k.startswith("#") for k in kept):
            break  # the intro (or the first section when there is none) is the summary
        kept.append(line)
    summary = "\n".join(kept).strip()
    if len(summary) > SUMMARY_MAX_CHARS:
        summary = summary[:SUMMARY_MAX_CHARS].rsplit(" ", 1)[0] + " ..."
    return summary, languages


def _jinja_env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    # JSON strings are valid YAML scalars: any title or id is quoted safely in the front matter.
    env.filters["yaml_str"] = lambda value: json.dumps(str(value), ensure_ascii=False)
    return env


def render_space(
    model_repo: str,
    base_model: str | None = None,
    *,
    title: str | None = None,
    card_summary: str = "",
    languages: list[str] | tuple[str, ...] = (),
    hardware: str = DEFAULT_HARDWARE,
) -> dict[str, bytes]:
    """Every file of the Space, by path: app.py, inference.py (byte copy), README.md, requirements.txt, demo.json."""
    model_repo = check_repo_id(model_repo, "model")
    if base_model:
        base_model = check_repo_id(base_model, "base model")
    if hardware not in HARDWARE:
        raise ValueError(f"Unknown Space hardware {hardware!r}; choose one of: {', '.join(HARDWARE)}.")
    if not INFERENCE_SOURCE.is_file():
        raise FileNotFoundError(f"{INFERENCE_SOURCE} is missing: the Space needs voxstudio's inference module.")
    title = (title or f"{model_repo.split('/')[-1]} demo").strip()[:60]
    models = [model_repo] + ([base_model] if base_model else [])
    env = _jinja_env()
    context = {
        "title": title,
        "sdk_version": gradio_version(),
        "hardware": hardware,
        "models": models,
        "short_description": f"Speech recognition with {model_repo.split('/')[-1]}"[:60],
        "card_summary": card_summary.strip(),
        "requirements": space_requirements(),
        "model_repo": model_repo,
        "base_model": base_model,
    }
    demo = {
        "title": title,
        "summary": card_summary.strip(),
        "languages": list(languages) or list(TRANSCRIPTION_LANGUAGES),  # the card names none
        "model_repo": model_repo,
        "base_model": base_model,
    }
    return {
        "app.py": (TEMPLATE_DIR / "app.py").read_bytes(),
        "inference.py": INFERENCE_SOURCE.read_bytes(),
        "README.md": env.get_template("README.md.j2").render(**context).encode("utf-8"),
        "requirements.txt": env.get_template("requirements.txt.j2").render(**context).encode("utf-8"),
        "demo.json": (json.dumps(demo, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
    }


def write_space(out_dir: str | Path, model_repo: str, base_model: str | None = None, **kwargs) -> list[Path]:
    """Write the rendered Space into ``out_dir`` (for a manual upload or a local ``python app.py``)."""
    files = render_space(model_repo, base_model, **kwargs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        path = out / name
        path.write_bytes(data)
        written.append(path)
    return written


def deploy_demo(
    model_repo: str,
    space_repo: str,
    token: str,
    hardware: str = DEFAULT_HARDWARE,
    private: bool = True,
    base_model: str | None = None,
    read_token: str | None = None,
    endpoint: str | None = None,
    *,
    title: str | None = None,
    card_summary: str | None = None,
    default_language: str | None = None,
    progress=None,
) -> str:
    """Create (or update) the demo Space for ``model_repo`` and return its URL.

    One commit carries the whole template; ``HF_MODEL_ID`` / ``BASE_MODEL_ID`` are Space variables, and so is
    ``DEFAULT_LANGUAGE``: ``default_language``, else the model card's one language (the run's trained language,
    ``languages.trained_default``); none when the card names several or none ("auto" then). A private
    model needs ``read_token`` (stored as the Space's ``HF_TOKEN`` secret); the write ``token`` is never stored.
    Raises ValueError (bad input, private model without a read token) or voxstudio.publish.hub.HubError (Hub refused).
    ``progress(fraction, text)`` is called along the way (the Publish page shows it).
    """
    model_repo = check_repo_id(model_repo, "model")
    space_repo = check_repo_id(space_repo, "Space")
    if base_model:
        base_model = check_repo_id(base_model, "base model")
    if hardware not in HARDWARE:
        raise ValueError(f"Unknown Space hardware {hardware!r}; choose one of: {', '.join(HARDWARE)}.")
    if not token:
        raise ValueError("A Hugging Face token with write access is needed to create the Space.")
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import RepositoryNotFoundError

    from voxstudio.publish import hub

    report = progress or (lambda fraction, text: None)
    api = hub.api(token, endpoint)
    call = hub.retrying  # the Hub module's retries with backoff and one-sentence errors

    report(0.05, "Checking your token")
    who = hub.account(token, endpoint)
    model_repo = model_repo if "/" in model_repo else f"{who.name}/{model_repo}"
    space_repo = space_repo if "/" in space_repo else f"{who.name}/{space_repo}"
    hub.check_can_write(who, space_repo, doing="create the Space")
    report(0.15, f"Reading the model {model_repo}")
    try:
        model = call(lambda: api.model_info(model_repo), "read the model")
    except hub.HubError as exc:
        if isinstance(exc.__context__, RepositoryNotFoundError) or "404" in str(exc):
            raise hub.HubError(
                f"The model '{model_repo}' was not found on the Hub (or your token cannot see it): publish it first."
            ) from None
        raise
    if base_model is None and any(s.rfilename == "adapter_config.json" for s in model.siblings or []):
        _check_adapter_base(call(lambda: _adapter_base(api, model_repo), "read the adapter config"))
    secret = _space_secret(api, model_repo, bool(model.private), token, read_token)
    if card_summary is None:
        summary, languages = call(lambda: _card_summary(api, model_repo, token), "read the model card")
    else:
        summary, languages = card_summary, []
    preset = demo_language(default_language, languages)
    files = render_space(
        model_repo, base_model, title=title, card_summary=summary, languages=languages, hardware=hardware
    )

    report(0.35, f"Creating the Space {space_repo}")
    existed = call(lambda: api.repo_exists(space_repo, repo_type="space"), "look for the Space")
    url = call(
        lambda: api.create_repo(space_repo, repo_type="space", space_sdk="gradio", private=private,
                                space_hardware=hardware, exist_ok=True),
        "create the Space", repo_id=space_repo, who=who,
    )
    if existed:  # create_repo ignores the hardware of an existing Space: ask for it explicitly
        call(lambda: api.request_space_hardware(space_repo, hardware), "set the Space hardware")
    report(0.55, f"Uploading the demo ({len(files)} files) in one commit")
    operations = [CommitOperationAdd(path_in_repo=k, path_or_fileobj=v) for k, v in files.items()]
    call(
        lambda: api.create_commit(space_repo, repo_type="space", operations=operations,
                                  commit_message=f"Deploy the voxstudio demo for {model_repo}"),
        "upload the demo", repo_id=space_repo, who=who,
    )
    report(0.8, "Setting the Space variables")
    call(lambda: api.add_space_variable(space_repo, "HF_MODEL_ID", model_repo,
                                        description="The model the demo loads"), "set HF_MODEL_ID")
    if base_model:
        call(lambda: api.add_space_variable(space_repo, "BASE_MODEL_ID", base_model,
                                            description="The base model of the LoRA adapter"), "set BASE_MODEL_ID")
    elif existed and "BASE_MODEL_ID" in call(lambda: api.get_space_variables(space_repo), "read the variables"):
        call(lambda: api.delete_space_variable(space_repo, "BASE_MODEL_ID"), "remove BASE_MODEL_ID")
    if preset != language_codes.AUTO:
        call(lambda: api.add_space_variable(space_repo, "DEFAULT_LANGUAGE", preset,
                                            description="The language the demo preselects (the trained one)"),
             "set DEFAULT_LANGUAGE")
    elif existed and "DEFAULT_LANGUAGE" in call(lambda: api.get_space_variables(space_repo), "read the variables"):
        call(lambda: api.delete_space_variable(space_repo, "DEFAULT_LANGUAGE"), "remove DEFAULT_LANGUAGE")
    if secret:
        call(lambda: api.add_space_secret(space_repo, "HF_TOKEN", secret,
                                          description="Read-only token for the private model"), "set the secret")
    report(1.0, f"Done: {url}")
    return str(url)


def demo_language(default_language: str | None, card_languages: list[str]) -> str:
    """The Space's ``DEFAULT_LANGUAGE``: the given code, else the card's one trained language, else "auto"; as
    the base code the prompt takes (``pt-br`` → ``pt``, also what the card's front matter lists)."""
    if default_language is None:
        default_language = language_codes.trained_default(card_languages)
    if default_language.strip().lower() == language_codes.AUTO:
        return language_codes.AUTO
    return language_codes.base_code(language_codes.canonical(default_language))


def _adapter_base(api, model_repo: str) -> str:
    """The base model an adapter repo names (``base_model_name_or_path`` of its adapter_config.json)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = api.hf_hub_download(model_repo, "adapter_config.json", local_dir=tmp)
        return str(json.loads(Path(path).read_text(encoding="utf-8")).get("base_model_name_or_path") or "")


def _check_adapter_base(base: str) -> None:
    """Refuse, before anything is created, an adapter whose base no Space can download."""
    if not is_hub_id(base):
        raise ValueError(f"No demo Space can load this adapter: its base model ({base or 'unnamed'!r}) is not a "
                         "model on the Hub; publish the merged model instead and deploy the demo for that, or "
                         "pass the Hub base model with --base-model.")


def _space_secret(api, model_repo: str, model_private: bool, token: str, read_token: str | None) -> str | None:
    """The token the Space may hold: None for a public model; for a private one, the user's read token only."""
    if not model_private:
        return None
    if not read_token:
        raise ValueError(
            f"{model_repo} is private, so the Space needs a token to read it. Create a *read* token at "
            "https://huggingface.co/settings/tokens and give it as the read token (your write token is "
            "never stored in a Space), or make the model public."
        )
    if read_token == token:
        raise ValueError(
            "The read token is your write token. Give the Space a separate token with read access only, "
            "so a leak of the Space cannot change your repos."
        )
    from voxstudio.publish import hub

    who = hub.retrying(lambda: api.whoami(token=read_token), "check your token")
    if hub.token_role(who) == "write":
        raise ValueError(
            "The read token has write access. Give the Space a token with read access only "
            "(https://huggingface.co/settings/tokens)."
        )
    return read_token


def _card_summary(api, model_repo: str, token: str) -> tuple[str, list[str]]:
    """Summary and languages from the model repo's README.md (a fallback line when it has none)."""
    import tempfile

    from huggingface_hub.errors import EntryNotFoundError

    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = api.hf_hub_download(model_repo, "README.md", token=token, local_dir=tmp)
            return summarize_card(Path(path).read_text(encoding="utf-8"))
    except EntryNotFoundError:
        return f"Fine-tuned Voxtral speech recognizer [{model_repo}].", []
