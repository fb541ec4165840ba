"""Model and dataset cards that tell the truth about what was trained and how to load it.

A card is rendered from *facts* (a plain dict; :func:`run_facts` gathers them from a run folder) through
the jinja2 templates in ``voxstudio/publish/templates``. The YAML front matter is built as data and dumped with
``yaml.safe_dump`` so it always parses; it carries ``base_model``, ``library_name`` (``peft`` for an adapter,
``transformers`` for a merged or fully fine-tuned model), ``pipeline_tag``, the languages actually trained,
``datasets`` when the dataset was pushed, ``license`` (the one the user chose: there is no default), ``tags``
and a ``model-index`` with held-out WER/CER.

UI-safe: jinja2 and yaml are imported inside functions; no torch.
"""

from __future__ import annotations

import re
from pathlib import Path

from voxstudio import __version__, models
from voxstudio import languages as language_codes
from voxstudio.data import consent as publish_consent
from voxstudio.runs import runfolder
from voxstudio.training import scoring
from voxstudio.training.scoring import percent

ARTIFACTS = ("adapter", "merged", "full")
PIPELINE_TAG = "automatic-speech-recognition"
HUB_URL = "https://huggingface.co"
NOT_MEASURED = "n/a"  # a rate the run did not measure
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _env():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=False, autoescape=False)


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


def parse_front_matter(text: str) -> dict:
    """The YAML metadata block at the top of a card ({} when there is none)."""
    import yaml

    m = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, re.S)
    return (yaml.safe_load(m.group(1)) or {}) if m else {}


def language_name(code: str) -> str:
    """'Portuguese (Brazil) (`pt-br`)' in a card's text; just '`xx`' for a code without a known name."""
    return f"{language_codes.label(code)} (`{code}`)" if language_codes.has_name(code) else f"`{code}`"


def metadata_languages(codes) -> list[str]:
    """The front matter's ``language``: ISO 639 base codes, as the Hub expects (pt-br → pt), each once."""
    return list(dict.fromkeys(language_codes.base_code(c) for c in codes or [] if c))


def duration_text(minutes) -> str:
    """'21.4 minutes', '1 minute', '48 seconds' or 'an unknown amount' (None)."""
    if minutes is None:
        return "an unknown amount"
    minutes = float(minutes)
    if minutes < 1:
        seconds = round(minutes * 60)
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return "1 minute" if round(minutes, 1) == 1 else f"{minutes:.1f} minutes"


def plural(n, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def model_licence_sentence(licence: str | None, base: str, artifact: str) -> str:
    """The model card's licence paragraph: the licence the user chose, or that none was chosen."""
    if not licence:
        return "No licence was chosen for this model yet: choose one before sharing it."
    text = f"This {'adapter' if artifact == 'adapter' else 'model'} is shared under `{licence}`."
    if models.is_hub_id(base):
        text += f" It is fine-tuned from [{base}]({HUB_URL}/{base}), which keeps its own licence."
    return text


def consent_sentence(consent: dict | None) -> str:
    """The dataset's consent record as one sentence for a card ('' when none was recorded)."""
    if not consent or not consent.get("given"):
        return ""
    who = consent.get("speaker") or "The speaker"
    when = str(consent.get("given_at") or "")[:10]
    statement = (consent.get("statement") or "").strip()
    text = f"{who} gave consent{' on ' + when if when else ''} when recording this data"
    return f"{text}: “{statement}”" if statement else f"{text}."


def publish_consent_sentence(info: dict) -> str:
    """The dataset's consent to publish (``data.consent``) quoted for its card ('' when none was given)."""
    found = publish_consent.stored(info)
    if found is None:
        return ""
    when = str(found.get("given_at") or "")[:10]
    who = found.get("speaker") or "The speaker"
    return f"{who} agreed{' on ' + when if when else ''} to publish these recordings: “{found['statement']}”"


# ---- facts from a run folder ----------------------------------------------------------------------

def run_facts(run_dir: str | Path, *, artifact: str = "adapter", repo_id: str | None = None,
              dataset_repo: str | None = None, dtype: str | None = None, license: str | None = None) -> dict:
    """Everything a model card says, read from a finished run folder (config, results, dataset); ``license`` is
    the user's choice (None: the card says none was chosen)."""
    run_dir = Path(run_dir)
    cfg = runfolder.read_json(run_dir / runfolder.CONFIG)
    if not cfg:
        raise FileNotFoundError(f"{run_dir} has no config.json: is it a voxstudio run folder?")
    evals = runfolder.read_json(run_dir / runfolder.EVAL_RESULTS, {}) or {}
    results = runfolder.read_json(run_dir / runfolder.TRAIN_RESULTS, {}) or {}
    training = runfolder.read_json(run_dir / runfolder.TRAINING_CONFIG, {}) or {}
    results = {**{k: training[k] for k in ("train_clips", "eval_clips") if k in training}, **results}
    status = runfolder.read_status(run_dir)
    data = _data_facts(cfg, results, evals, run_dir)
    steps = results.get("global_step") or status.get("step") or cfg.get("max_steps")
    languages, consent = data.pop("languages"), data.pop("consent")
    return {
        "run_name": cfg.get("run_name") or run_dir.name,
        "repo_id": repo_id or f"your-name/{cfg.get('run_name') or run_dir.name}",
        "base_model": cfg.get("base_model"),
        "method": cfg.get("method", "lora"),
        "artifact": artifact,
        "dtype": dtype,
        "languages": languages,
        "dataset_name": cfg.get("dataset", ""),
        "dataset_repo": dataset_repo,
        "license": license,
        "data": data,
        "config": {**cfg, "steps_trained": steps},
        "results": {
            "baseline": evals.get("baseline") or {},
            "finetuned": evals.get("finetuned") or {},
            # the same clips without the language hint (auto mode); {} for runs from before it was measured
            "auto": {side: ((evals.get("auto") or {}).get(side) or {}) for side in ("baseline", "finetuned")},
            "utterances": len(evals.get("utterances") or []) if isinstance(evals.get("utterances"), list)
            else int(evals.get("utterances") or 0),
            "held_out": not evals.get("note"),  # the trainer notes when it had to measure on training clips
            **_claims(evals),
        },
        "consent": consent,
        "trackio_url": results.get("trackio_url") or status.get("trackio_url"),
        "voxstudio_version": __version__,
    }


def _claims(evals: dict) -> dict:
    """How the output was chosen and whether it beat the base (the trainer's record, ``training.scoring``)."""
    o = scoring.outcome(evals)
    return {"wer_clips": o.wer_clips, "selected_by": o.selected_by, "worse_than_base": o.worse_than_base,
            "selection_bias": o.selection_bias, "best_step": o.best_step}


def _data_facts(cfg: dict, results: dict, evals: dict, run_dir: Path | None = None) -> dict:
    """Minutes/clips/speakers/languages of the training data: the trainer's record when it wrote one
    (``train_results.json``), else the run's frozen clip list (``runs.rundata``), else (a run made before clip
    lists) recomputed from the dataset with the run's own split."""
    facts = {"train_minutes": None, "train_clips": None, "eval_clips": len(evals.get("utterances") or []),
             "eval_minutes": None, "speakers": 1, "languages": list(cfg.get("languages") or []), "consent": None}
    from voxstudio.runs import rundata

    frozen = rundata.try_load(run_dir, cfg) if run_dir is not None else None
    try:
        from voxstudio.data.dataset import Dataset

        ds = Dataset.open(cfg.get("dataset", ""))
    except (FileNotFoundError, ValueError, ImportError):
        ds = None
    facts["consent"] = (ds.info if ds is not None else frozen.dataset_info if frozen else {}).get("consent")
    train, held = (frozen.train, frozen.held) if frozen is not None else (None, None)
    if frozen is None and ds is not None:
        from voxstudio.training import selection  # the trainer's own rule (stdlib only)

        max_eval = cfg.get("max_eval_utterances")
        sel = selection.select(ds.clips(), cfg.get("languages") or [], float(cfg.get("eval_fraction", 0.1)),
                               int(cfg.get("seed", 0)), int(max_eval) if max_eval is not None else None)
        train, held = sel.train, sel.held
    if train is not None:
        facts.update(train_clips=len(train), eval_clips=len(held) or facts["eval_clips"],
                     train_minutes=round(sum(c.duration_s for c in train) / 60, 3),
                     eval_minutes=round(sum(c.duration_s for c in held) / 60, 3),
                     speakers=max(1, len({c.speaker for c in train + held})))
        if not facts["languages"]:
            facts["languages"] = sorted({c.language for c in train + held})
    for key in ("train_clips", "train_minutes", "eval_clips", "eval_minutes", "speakers"):
        if results.get(key) is not None:  # what the trainer recorded wins over a recomputation
            facts[key] = results[key]
    if results.get("languages"):
        facts["languages"] = list(results["languages"])
    return facts


# ---- model card ----------------------------------------------------------------------------------

def model_card_metadata(facts: dict) -> dict:
    """The YAML front matter of a model card, as data."""
    artifact = facts["artifact"]
    base = facts.get("base_model") or ""
    meta: dict = {}
    if models.is_hub_id(base):
        meta["base_model"] = base
    meta["library_name"] = "peft" if artifact == "adapter" else "transformers"
    meta["pipeline_tag"] = PIPELINE_TAG
    meta["language"] = metadata_languages(facts.get("languages"))
    if facts.get("license"):
        meta["license"] = facts["license"]
    if facts.get("dataset_repo"):
        meta["datasets"] = [facts["dataset_repo"]]
    tags = ["voxtral", "speech-recognition", "voxstudio"]
    tags += {"adapter": ["lora", "peft"], "merged": ["lora", "merged"], "full": ["full-fine-tune"]}[artifact]
    meta["tags"] = tags
    metrics = []
    results = facts.get("results") or {}
    finetuned = results.get("finetuned") or {}
    held_out = results.get("held_out", True)
    for key, name in (("wer", "WER"), ("cer", "CER")):
        if finetuned.get(key) is not None:
            metrics.append({"type": key, "value": round(100 * float(finetuned[key]), 2), "name": f"{name} (%)"})
    if metrics:
        dataset_id = facts.get("dataset_repo") or facts.get("dataset_name") or "held-out"
        meta["model-index"] = [{
            "name": facts.get("repo_id") or facts.get("run_name"),
            "results": [{
                "task": {"type": PIPELINE_TAG, "name": "Automatic Speech Recognition"},
                "dataset": {"name": f"{facts.get('dataset_name') or dataset_id} "
                                    f"({'held-out split' if held_out else 'training clips'})",
                            "type": dataset_id, "split": "test" if held_out else "train"},
                "metrics": metrics,
            }],
        }]
    return meta


def _hyperparameters(facts: dict) -> list[tuple[str, str]]:
    cfg = facts.get("config") or {}
    rows = [("Method", "LoRA" if cfg.get("method", "lora") == "lora" else "full fine-tuning")]
    if cfg.get("steps_trained") not in (None, -1):
        rows.append(("Optimizer steps", str(cfg["steps_trained"])))
    if cfg.get("max_steps", -1) in (-1, None) and cfg.get("epochs") is not None:
        rows.append(("Epochs", str(cfg["epochs"])))
    for key, label in (("learning_rate", "Learning rate"), ("scheduler", "Scheduler"),
                       ("warmup_steps", "Warm-up steps")):
        if cfg.get(key) is not None:
            rows.append((label, str(cfg[key])))
    if cfg.get("batch_size") is not None:
        rows.append(("Batch size", f"{cfg['batch_size']} × {cfg.get('grad_accum', 1)} accumulation"))
    if cfg.get("method", "lora") == "lora":
        rows.append(("LoRA rank / alpha / dropout",
                     f"{cfg.get('lora_r')} / {cfg.get('lora_alpha')} / {cfg.get('lora_dropout')}"))
        targets = ", ".join(cfg.get("lora_targets") or [])
        if cfg.get("lora_projector"):
            targets += ", audio projector"
        rows.append(("LoRA targets", targets))
    if cfg.get("auto_language_fraction") is not None:
        rows.append(("Training examples without the language hint (auto mode)",
                     f"{round(100 * float(cfg['auto_language_fraction']))}%"))
    for key, label in (("freeze_audio_tower", "Audio encoder frozen"), ("precision", "Precision"),
                       ("max_grad_norm", "Max gradient norm"), ("seed", "Seed")):
        if cfg.get(key) is not None:
            value = cfg[key]
            rows.append((label, ("yes" if value else "no") if isinstance(value, bool) else str(value)))
    return rows


def render_model_card(run_dir: str | Path | None = None, *, facts: dict | None = None,
                      artifact: str | None = None, repo_id: str | None = None,
                      dataset_repo: str | None = None, dtype: str | None = None, license: str | None = None) -> str:
    """README.md for a pushed model: from ``run_dir`` (via :func:`run_facts`) or from ``facts``."""
    if facts is None:
        if run_dir is None:
            raise ValueError("render_model_card needs a run folder or a facts dict.")
        facts = run_facts(run_dir, artifact=artifact or "adapter", repo_id=repo_id, dataset_repo=dataset_repo,
                          dtype=dtype, license=license)
    facts = dict(facts)
    for key, value in (("artifact", artifact), ("repo_id", repo_id), ("dataset_repo", dataset_repo),
                       ("dtype", dtype), ("license", license)):
        if value is not None:
            facts[key] = value
    artifact = facts.get("artifact") or "adapter"
    if artifact not in ARTIFACTS:
        raise ValueError(f"artifact must be one of {', '.join(ARTIFACTS)}, not {artifact!r}.")
    method = facts.get("method", "lora")
    if (method == "full") != (artifact == "full"):
        raise ValueError(f"A {method} run cannot be published as '{artifact}': "
                         + ("a LoRA run gives an adapter or a merged model." if method == "lora"
                            else "a full fine-tune is published as 'full'."))
    languages = list(facts.get("languages") or [])
    base = facts.get("base_model") or ""
    res = facts.get("results") or {}
    base_res, tuned = res.get("baseline") or {}, res.get("finetuned") or {}
    held_out = res.get("held_out", True)
    data = {"train_minutes": None, "train_clips": None, "eval_clips": 0, "eval_minutes": None, "speakers": 1,
            **(facts.get("data") or {})}
    cfg = facts.get("config") or {}
    artifact_text = {
        "adapter": f"LoRA adapter (rank {cfg.get('lora_r', '?')}); load it on top of the base model",
        "merged": "the LoRA adapter merged into the base weights: a complete model",
        "full": "all weights fine-tuned: a complete model",
    }[artifact]
    title = facts.get("repo_id") or facts.get("run_name")
    lang_text = ", ".join(language_name(code) for code in languages) or "the dataset's languages"
    rates = {f"{side}_{metric}": percent(scores.get(metric), NOT_MEASURED)
             for side, scores in (("baseline", base_res), ("finetuned", tuned)) for metric in ("wer", "cer")}
    auto_res = res.get("auto") or {}
    auto_measured = (auto_res.get("finetuned") or {}).get("wer") is not None
    rates.update({f"auto_{side}_{metric}": percent((auto_res.get(side) or {}).get(metric), NOT_MEASURED)
                  for side in ("baseline", "finetuned") for metric in ("wer", "cer")})
    claims = scoring.outcome(res)  # one fact for the card and the pages: what the WER rests on, worse or not
    measured_on = ("held-out clips" if held_out else "its own training clips") if not claims.wer_clips else (
        claims.rests_on if held_out else f"its own {claims.rests_on}")
    summary = (f"A speech recognizer fine-tuned from {'`' + base + '`' if base else 'Voxtral'} on "
               f"{duration_text(data['train_minutes'])} of one "
               f"person's recorded speech in {lang_text}, with voxstudio. Fine-tuned WER on "
               f"{measured_on}: {rates['finetuned_wer']} (base model: {rates['baseline_wer']}).")
    if auto_measured:
        summary += (f" Without the language hint (the model detects the language): {rates['auto_finetuned_wer']} "
                    f"(base model: {rates['auto_baseline_wer']}).")
    if claims.worse_than_base:
        summary += f"\n\n**Warning: {claims.worse_sentence()} Use the base model rather than this one.**"
    if data.get("speakers", 1) != 1:
        summary = summary.replace("one person's", f"{data['speakers']} people's")
    text = _env().get_template("model_card.md.j2").render(
        front_matter=_yaml(model_card_metadata({**facts, "artifact": artifact})),
        title=title, summary=summary, artifact=artifact, artifact_text=artifact_text,
        method_text="LoRA" if method == "lora" else "full fine-tuning",
        base_model=base, base_is_hub=models.is_hub_id(base), hub_url=HUB_URL,
        repo_id=facts.get("repo_id") or "your-name/your-model",
        languages=languages, languages_text=lang_text,
        example_language=language_codes.base_code(languages[0]) if languages else "en",
        data=data, train_duration=duration_text(data["train_minutes"]),
        eval_duration=None if data["eval_minutes"] is None else duration_text(data["eval_minutes"]),
        train_clips=plural(data["train_clips"], "clip") if data["train_clips"] is not None else "unknown clips",
        eval_clips=plural(data["eval_clips"], "clip"), utterances=plural(res.get("utterances") or 0, "utterance"),
        held_out=held_out, dataset_repo=facts.get("dataset_repo"), dataset_name=facts.get("dataset_name") or "",
        results={**rates, "utterances": res.get("utterances") or 0}, auto_measured=auto_measured,
        hint=f"lang:{language_codes.base_code(languages[0])}" if len(languages) == 1 else "lang:xx",
        auto_share=(f"{round(100 * float(cfg['auto_language_fraction']))}%"
                    if cfg.get("auto_language_fraction") is not None else None),
        selected_by=claims.selected_by, selection_bias=claims.bias_sentence(), few_clips=claims.few_clips_sentence(),
        worse=claims.worse_sentence(), cut_off=scoring.cut_off_sentence(base_res, tuned),
        hyperparameters=_hyperparameters(facts), dtype=facts.get("dtype") or "the base model's dtype",
        consent=consent_sentence(facts.get("consent")), trackio_url=facts.get("trackio_url"),
        licence_text=model_licence_sentence(facts.get("license"), base, artifact),
        voxstudio_version=facts.get("voxstudio_version", __version__), run_name=facts.get("run_name", ""),
    )
    return re.sub(r"\n{3,}", "\n\n", text)


# ---- dataset card --------------------------------------------------------------------------------

def render_dataset_card(info: dict, stats: dict, split_counts: dict[str, int], repo_id: str | None = None, *,
                        licence: str | None = None, about: str = "") -> str:
    """README.md for a pushed dataset: consent (to record, and to publish), speakers, languages, durations,
    splits and ``licence``, the one the user chose (None: the card says none was chosen; pushes refuse it).
    ``stats`` (``data.summary.totals``) are of the clips pushed; ``about`` says which clips those are."""
    languages = sorted(stats.get("languages") or {}) or list(info.get("languages") or [])
    speakers = sorted(s for s in (stats.get("speakers") or {}) if s) or list(info.get("speakers") or [])
    minutes = float(stats.get("minutes") or 0.0)
    size = "n<1K" if stats.get("clips", 0) < 1000 else "1K<n<10K"
    meta = {
        **({"license": licence} if licence else {}),
        "language": metadata_languages(languages), "task_categories": [PIPELINE_TAG],
        "pretty_name": f"voxstudio dataset {info.get('name', '')}".strip(), "size_categories": [size],
        "tags": ["audio", "speech", "voxstudio"],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": split, "path": f"data/{split}-*.parquet"} for split in split_counts]}],
    }
    per_language = [(language_name(lang), stats["languages"][lang]) for lang in languages
                    if lang in (stats.get("languages") or {})]
    consent = consent_sentence(info.get("consent")) or (
        "No consent record is stored with this dataset: only publish recordings of people who agreed to it.")
    text = _env().get_template("dataset_card.md.j2").render(
        front_matter=_yaml(meta), title=f"{info.get('name', 'voxstudio dataset')}",
        repo_id=repo_id or f"your-name/{info.get('name', 'dataset')}",
        speakers=speakers or ["(unnamed)"], speakers_text=", ".join(speakers) or "one unnamed speaker",
        clips=stats.get("clips", 0), minutes=f"{minutes:.1f}",
        languages_text=", ".join(language_name(code) for code in languages) or "unknown",
        per_language=per_language, about=about,
        splits_text=", ".join(f"{name}: {count} clips" for name, count in split_counts.items()),
        licence=licence or "not chosen", consent=consent, publish_consent=publish_consent_sentence(info),
        licence_text=f"The recordings and transcripts are shared under `{licence}`." if licence
        else "No licence was chosen for these recordings yet: choose one before sharing them.",
    )
    return re.sub(r"\n{3,}", "\n\n", text)
