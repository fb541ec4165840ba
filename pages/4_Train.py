"""Step 4: pick a model and settings, start training in the background, and watch it live.

Training runs as a detached job (voxstudio.runs.queue): closing or reloading this page changes nothing, and
queued runs start one after another on their own. While a run is queued or running, the live section comes
first and refreshes itself; it follows the run that trains unless the user picks another (studio.trainpanel).
Below the form: any past run in full, "use these settings", and the history table (runs.history).
"""


import streamlit as st

from voxstudio import languages, models, workspace
from voxstudio.data import quality
from voxstudio.runs import history, preflight, presets, queue
from voxstudio.runs import status as runstatus
from voxstudio.studio import boxqueue, formatting, review, trainpanel, wizard
from voxstudio.training import config, selection

TINY_LABEL = "tiny — pipeline check, random weights"
CUSTOM = "other: a local folder or Hub id…"
MODEL_CHOICES = [models.DEFAULT_BASE_MODEL, models.TINY, models.VOXTRAL_SMALL, CUSTOM]
PRESETS = [*config.PRESETS, "custom"]
LIVE_EVERY_S = 2.0
HISTORY = 20
WATCH_KEY = "train_watch"  # the run this session watches (the Evaluate page opens it too)
PICK_KEY = "train_watch_pick"

wizard.page_setup(4, "4 · Train")
queue.resume_queue()  # queued runs left behind by a restart start again, one at a time


def gpu_memory_gb() -> tuple[float | None, str]:
    """(VRAM of the largest GPU in GB or None, a one-line description); CPU when the probe is missing."""
    try:
        from voxstudio.runs import hardware

        hw = hardware.detect()
    except Exception:  # noqa: BLE001 - the probe is a nicety; the page must render without it
        return None, "unknown hardware"
    if not hw.gpus:
        return None, hw.summary()
    return max(g.memory_total_gib for g in hw.gpus), hw.summary()


def model_label(choice: str) -> str:
    return {models.TINY: TINY_LABEL, models.DEFAULT_BASE_MODEL: f"Voxtral Mini 3B ({choice})",
            models.VOXTRAL_SMALL: f"Voxtral Small 24B ({choice})"}.get(choice, choice)


def default_run_name(dataset: str) -> str:
    return queue.free_run_name(workspace.slugify(f"{dataset}-run-1"))


def on_model_change() -> None:
    """A new base model brings its method's defaults: LoRA for Voxtral, full fine-tuning for the tiny model."""
    st.session_state["train_method"] = "full" if st.session_state.get("train_model") == models.TINY else "lora"


def pin() -> None:
    """The user picked a run to watch: the panel stays on it until it ends or they pick another."""
    st.session_state[trainpanel.PIN_KEY] = st.session_state["train_live_pick"]


def live_top(was_active: bool) -> None:
    """This person's queued and running runs, and the live panel of the one followed (trainpanel.followed)."""
    active = [s for s in runstatus.list_runs() if s.active]
    if not active:
        if was_active:
            st.rerun()  # the last active run just ended: redraw the page (history, buttons) and stop the timer
        return
    st.subheader("Training now")
    trainpanel.queue_rows(active)
    names = [s.run for s in active]
    if st.session_state.get(trainpanel.PIN_KEY) not in names:
        st.session_state.pop(trainpanel.PIN_KEY, None)  # the picked run ended: follow the running one again
    watched = trainpanel.followed(active, st.session_state.get(trainpanel.PIN_KEY))
    if len(names) > 1:
        st.session_state["train_live_pick"] = watched
        st.selectbox("Watch", names, key="train_live_pick", on_change=pin,
                     help="The panel follows the run that is training unless you pick another one here")
    st.session_state[WATCH_KEY] = watched  # the Evaluate page opens the run watched last
    with st.container(border=True):
        trainpanel.live_panel(watched, True)


def apply_settings(values: dict, source: str) -> None:
    """Fill the form with ``values`` (a past run's or a preset's settings) before its widgets are drawn."""
    ss = st.session_state
    base = values.get("base_model", ss.get("train_model"))
    ss["train_model"] = base if base in MODEL_CHOICES else CUSTOM
    if base not in MODEL_CHOICES:
        ss["train_model_path"] = base
    choice, method = ss["train_model"], values.get("method", ss.get("train_method", "lora"))
    ss["train_method"] = method
    preset = models.TINY if choice == models.TINY else "custom"
    if choice != models.TINY:
        ss["train_preset"] = "custom"
    keys = {"max_steps": f"train_steps_{preset}_{choice}", "learning_rate": f"train_lr_{preset}_{choice}_{method}",
            "batch_size": f"train_bs_{preset}_{choice}", "grad_accum": f"train_ga_{preset}_{choice}",
            "eval_every": f"train_eval_{preset}_{choice}", "seed": "train_seed", "lora_r": "train_lora_r",
            "lora_alpha": "train_lora_alpha", "freeze_audio_tower": "train_freeze", "precision": "train_precision",
            "languages": "train_languages"}
    for field, key in keys.items():
        if field in values:
            ss[key] = values[field]
    ss["train_settings_from"] = source


def number(col, label: str, lo, hi, default, key: str, **kw):
    """A number field whose value may have been filled by apply_settings (then the default is not passed)."""
    if key not in st.session_state:
        st.session_state[key] = default
    return col.number_input(label, lo, hi, key=key, **kw)


trainpanel.take_watch_request()
if any(s.active for s in runstatus.list_runs()):  # live first: refreshed only while something runs
    st.fragment(run_every=LIVE_EVERY_S)(live_top)(True)

# ------------------------------------------------------------------ data and settings
ds = wizard.open_current_dataset()
if ds is not None:
    stats = ds.stats()
    gpu_gb, hw_line = gpu_memory_gb()
    c = st.columns(4)
    c[0].metric("Clips", stats["clips"])
    c[1].metric("Audio", formatting.fmt_minutes(stats["minutes"] * 60))
    langs = sorted(stats["languages"])
    lang_names = [languages.label(code) for code in langs]
    c[2].metric("Languages", (", ".join(lang_names) if len(langs) <= 2 else len(langs)) if langs else "–",
                help=", ".join(lang_names) or None)
    c[3].metric("Hardware", "GPU" if gpu_gb else "CPU", help=hw_line)
    usable, left_out = selection.clean_takes(ds.clips())  # clean takes only: what a run trains and scores on
    if left_out:
        counts = selection.left_out_counts(left_out)
        st.warning(f"**{len(left_out)} of {stats['clips']} clips are left out** of training and evaluation; "
                   f"{len(usable)} are used. Re-record them, or listen and mark them fine on the Review page:\n\n"
                   + "\n".join(f"- {n} × {quality.UNUSABLE[code]}" for code, n in counts.items()))
        wizard.link_to_step(3, f"See the {len(left_out)} left-out clips on 3 · Review →",
                            query={review.SHOW_PARAM: review.SHOW_LEFT_OUT})
    if len(usable) < selection.MIN_CLIPS:
        st.warning(f"Record at least {selection.MIN_CLIPS} usable clips (a few dozen for a useful model) before "
                   "training.")

    st.subheader("Model and method")
    m1, m2 = st.columns([2, 1])
    st.session_state.setdefault("train_model", MODEL_CHOICES[0 if gpu_gb else 1])
    choice = m1.selectbox("Base model", MODEL_CHOICES, format_func=model_label, key="train_model",
                          on_change=on_model_change)
    base_model = choice
    if choice == CUSTOM:
        base_model = m1.text_input("Model folder or Hub id", key="train_model_path",
                                   placeholder="/models/voxtral or org/name").strip()
    st.session_state.setdefault("train_method", "full" if choice == models.TINY else "lora")
    method = m2.radio("Method", config.METHODS, key="train_method", horizontal=True,
                      format_func={"lora": "LoRA (adapters)", "full": "full fine-tune"}.get)
    if choice == models.TINY:
        st.caption("The tiny model has random weights: it proves the pipeline (data, training, WER, files) in "
                   "a minute on a CPU and learns to repeat a few clips — it is not a speech recognizer.")

    st.subheader("Settings")
    saved, preset_problems = presets.load_all()
    for problem in preset_problems:
        st.warning(problem)
    if saved:
        p1, p2 = st.columns([3, 1])
        chosen = p1.selectbox("Your saved presets", list(saved), index=None, key="train_saved_preset",
                              placeholder="Load a saved preset…")
        p2.button("Load it", key="train_load_preset", disabled=chosen is None, on_click=apply_settings,
                  args=(saved.get(chosen, {}), f"your preset '{chosen}'"))
    if source := st.session_state.get("train_settings_from"):
        st.info(f"Settings filled from {source}: check them, then start.")
    if choice == models.TINY:
        preset = models.TINY  # the tiny model has its own settings, not a preset
        st.caption("The tiny model uses its own settings (a high learning rate, a few hundred steps).")
    else:
        preset = st.radio("Preset", PRESETS, key="train_preset", horizontal=True,
                          help="Sized to your data: more minutes of audio → more steps")
    fields: dict = {"method": method}
    if preset in config.PRESETS:
        fields.update(config.preset(preset, stats["minutes"], stats["clips"], method))
    base_cfg = None
    try:
        base_cfg = config.new_config(run_name="draft", dataset=ds.name, base_model=base_model or "?", **fields)
    except ValueError:
        base_cfg = config.RunConfig(dataset=ds.name)
    n_train = max(1, round(len(usable) * (1 - base_cfg.eval_fraction)))
    with st.expander("Advanced settings", expanded=preset == "custom"):
        a = st.columns(4)
        fields["max_steps"] = int(number(a[0], "Max steps", 1, 100_000, config.total_steps(base_cfg, n_train),
                                         f"train_steps_{preset}_{choice}"))
        fields["learning_rate"] = float(number(a[1], "Learning rate", 1e-7, 1.0, base_cfg.learning_rate,
                                               f"train_lr_{preset}_{choice}_{method}", format="%.6f"))
        fields["batch_size"] = int(number(a[2], "Batch size", 1, 1024, base_cfg.batch_size,
                                          f"train_bs_{preset}_{choice}"))
        fields["grad_accum"] = int(number(a[3], "Gradient accumulation", 1, 1024, base_cfg.grad_accum,
                                          f"train_ga_{preset}_{choice}"))
        b = st.columns(4)
        fields["eval_every"] = int(number(b[0], "Evaluate WER every N steps", 1, 100_000, base_cfg.eval_every,
                                          f"train_eval_{preset}_{choice}"))
        fields["seed"] = int(number(b[1], "Seed", 0, 2**31, base_cfg.seed, "train_seed"))
        if method == "lora":
            fields["lora_r"] = int(number(b[2], "LoRA r", 1, 1024, base_cfg.lora_r, "train_lora_r"))
            fields["lora_alpha"] = int(number(b[3], "LoRA alpha", 1, 4096, base_cfg.lora_alpha, "train_lora_alpha"))
        else:
            st.session_state.setdefault("train_freeze", True)
            fields["freeze_audio_tower"] = b[2].checkbox("Freeze the audio encoder", key="train_freeze")
            fields["precision"] = b[3].selectbox(
                "Precision", config.PRECISIONS, key="train_precision",
                help="auto: fp32 weights, computed in bf16 (fp16 on older GPUs); bf16: pure bf16 weights, gradients "
                     "and optimizer states — about half the memory, but updates smaller than bf16's resolution are "
                     "lost")
        if len(langs) > 1:
            if "train_languages" in st.session_state:  # settings of another run may name other languages
                st.session_state["train_languages"] = [c for c in st.session_state["train_languages"] if c in langs]
            fields["languages"] = st.multiselect("Train on these languages (empty: all)", langs,
                                                 format_func=languages.label, key="train_languages")

    with st.expander("Save these settings as a preset"):
        n1, n2, n3 = st.columns([3, 1, 1])
        preset_name = n1.text_input("Preset name", key="train_preset_name", placeholder="e.g. lora-fast")
        replace = n2.checkbox("Replace it", key="train_preset_replace", help="Overwrite a preset of that name")
        if n3.button("Save preset", key="train_save_preset"):
            try:
                saved_as = presets.save(preset_name, {**fields, "base_model": base_model}, overwrite=replace)
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.success(f"Saved preset '{saved_as}': load it from 'Your saved presets' above.")

    name_key, bumped = f"train_run_name_{ds.name}", None
    typed = st.session_state.get(name_key)
    if typed and workspace.is_slug(typed) and queue.free_run_name(typed) != typed:
        bumped, st.session_state[name_key] = typed, queue.free_run_name(typed)  # that name is taken: bump it
    run_name = st.text_input("Run name", value=default_run_name(ds.name), key=name_key)
    if bumped:
        st.caption(f"A run named '{bumped}' already exists, so this one will be '{run_name}'.")
    cfg, error = None, ""
    try:
        cfg = config.new_config(run_name=run_name.strip(), dataset=ds.name, base_model=base_model, **fields)
    except ValueError as exc:
        error = str(exc)

    if cfg is not None:
        est = preflight.hardware_fit(cfg, clips=ds.clips())  # training.estimate: the one memory and time model
        e = st.columns(3)
        e[0].metric("Steps", est["steps"])
        where = "GPU" if est["device"] == "gpu" else "CPU"
        e[1].metric("Estimated time", formatting.fmt_duration(est["seconds"]) if est["seconds"] else "–",
                    help=f"on this {where}, idle, from the model's size and the device's speed: an estimate until "
                         "the first steps are measured (the live panel then shows the measured time left)")
        m = est["memory"]
        e[2].metric("GPU memory needed" if where == "GPU" else "RAM needed",
                    f"~{est['need_gib']:.1f} GiB" if m else "–",
                    help=(f"{m.dtype} weights {m.weights / 2**30:.1f} GiB, gradients {m.gradients / 2**30:.1f}, "
                          f"AdamW states {m.optimizer / 2**30:.1f}, activations {m.activations / 2**30:.1f}, "
                          f"overhead {m.overhead / 2**30:.1f}; this machine: {hw_line}") if m else
                    f"unknown for this model (no config.json to read its size); this machine: {hw_line}")
        if est["problem"]:
            st.error(est["problem"])
        elif est["warning"]:
            st.warning(est["warning"])
        st.caption("Time and memory are estimates (training.estimate) until the run measures its first steps.")
        st.caption("The same run from a terminal:")
        st.code(config.cli_command(cfg), language="bash")
    else:
        st.error(error)

    if st.button("Start training", key="train_start", type="primary", disabled=cfg is None):
        problems = preflight.preflight(cfg)
        if problems:
            for p in problems:
                st.error(p)
        else:
            try:
                started = queue.submit(cfg)
            except queue.DuplicateRunError as exc:
                st.info(str(exc))
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.session_state["train_started"] = (
                    f"Run {started.run} queued: it starts as soon as no other run is training, and keeps going in "
                    "the background even if you close this page.")
                st.rerun()  # the live section at the top appears (it keeps following the run that trains)
if started_message := st.session_state.pop("train_started", None):
    st.success(started_message)

# ------------------------------------------------------------------ past runs
runs = runstatus.list_runs()
if runs:
    st.subheader("Runs")
    names = [s.run for s in runs[:HISTORY]]
    if st.session_state.get(PICK_KEY) not in names:
        st.session_state[PICK_KEY] = st.session_state.get(WATCH_KEY) if st.session_state.get(WATCH_KEY) in names \
            else names[0]
    picked = st.selectbox("Run to look at", names, key=PICK_KEY)
    shown = next(s for s in runs if s.run == picked)
    if shown.active:
        st.caption(f"{picked} is {shown.state}: it is shown live at the top of the page.")
    else:
        with st.container(border=True):
            trainpanel.live_panel(picked, False)
            trainpanel.resume_button(picked)
    st.button("Use these settings", key="train_reuse", icon=":material/content_copy:", on_click=apply_settings,
              args=(history.reusable_settings(shown.config), f"run '{picked}'"),
              help="Fill the form above with this run's model, method and settings")
    with st.expander(f"Frozen settings of {picked} (config.json)"):
        st.json(shown.config, expanded=False)
    st.subheader("Run history")
    trainpanel.history_table(runs[:HISTORY])
else:
    st.caption("No training run yet.")
boxqueue.admin_panel()  # hosted: an admin sees everyone's queue and may stop any run
