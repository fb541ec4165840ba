"""Step 4: pick a model and settings, start training in the background, and watch it live.

Training runs as a detached job (voxstudio.runs.queue): closing or reloading this page changes nothing, and
queued runs start one after another on their own. The live panel refreshes itself only while a run is
queued or running; charts read Trackio's SQLite through voxstudio.runs.tracking.
"""

import time

import streamlit as st

from voxstudio import languages, models, workspace
from voxstudio.data import quality
from voxstudio.runs import preflight, queue, runfolder, tracking
from voxstudio.runs import status as runstatus
from voxstudio.studio import boxqueue, formatting, review, wizard
from voxstudio.training import config, scoring, selection

TINY_LABEL = "tiny — pipeline check, random weights"
CUSTOM = "other: a local folder or Hub id…"
MODEL_CHOICES = [models.DEFAULT_BASE_MODEL, models.TINY, models.VOXTRAL_SMALL, CUSTOM]
PRESETS = [*config.PRESETS, "custom"]
LIVE_EVERY_S = 2.0
LOG_LINES = 15
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


def chart(points: list[tuple[int, float]], label: str, scale: float = 1.0) -> None:
    """One metric against the step, with readable axis titles (the raw Trackio key means nothing to a user)."""
    st.line_chart({"step": [p[0] for p in points], label: [p[1] * scale for p in points]}, x="step", y=label,
                  x_label="step", y_label=label, height=220)


# ------------------------------------------------------------------ the live panel
def live_panel(run: str, was_active: bool) -> None:
    """State, progress, ETA, last log lines and charts of one run (re-run by the fragment timer)."""
    try:
        s = runstatus.status(run)
    except FileNotFoundError:
        st.info(f"Run {run} is gone.")
        return
    if was_active and not s.active:
        st.rerun()  # the run just ended: refresh the whole page (buttons, history) and stop the timer
    icon = {"queued": "⏳", "running": "🏃", "succeeded": "✅", "failed": "❌", "stopped": "⏹️",
            "crashed": "💥"}.get(s.state, "")
    st.markdown(f"**Run `{run}`: {icon} {s.state}**" + (f" · {s.phase}" if s.phase and s.phase != s.state else ""))
    if s.state == "queued":
        boxqueue.position_caption(run)  # its place in the box's one queue (others' runs are counted, not named)
    eta = f" · about {formatting.fmt_duration(s.eta_s)} left" if s.eta_s and s.state == "running" else ""
    st.progress(s.progress, text=f"step {s.step} / {s.total_steps or '?'}{eta}")
    if s.message and s.message not in (s.phase, s.state):
        (st.error if s.state in ("failed", "crashed") else st.caption)(s.message)
    final = (runstatus.results(run)["eval"] or {}) if not s.active else {}
    claims = scoring.outcome(final) if final.get("finetuned") else None  # the trainer's record of the output
    before = (final.get("baseline") or {}).get("wer", s.baseline_wer)
    after = (final.get("finetuned") or {}).get("wer")
    n = claims.wer_clips if claims else s.eval_clips
    on = claims.rests_on if claims else f"{n} clip{'' if n == 1 else 's'}" if n else "the evaluation clips"
    cols = st.columns(4)
    cols[0].metric("Loss", "–" if s.loss is None else f"{s.loss:.4g}", help="training loss at the last logged step")
    cols[1].metric("Baseline WER", scoring.percent(before), help=f"the base model on {on}")
    if s.best_wer is not None and not (claims and claims.worse_than_base):  # "best" is never worse than the base
        cols[2].metric("Best WER so far", scoring.percent(s.best_wer),
                       help=f"the best checkpoint kept so far (never worse than the base model), on {on}")
    else:
        why_not = (f"fewer than {scoring.MIN_HELD_OUT} clips cannot choose a checkpoint: the run keeps its final "
                   "weights" if n is not None and n < scoring.MIN_HELD_OUT else
                   "no checkpoint has matched the base model yet")
        cols[2].metric("Last WER", scoring.percent(s.last_wer), help=f"the latest evaluation, on {on}; {why_not}")
    change = scoring.points(before, after)
    cols[3].metric("Fine-tuned WER", scoring.percent(after), delta=scoring.delta(before, after),
                   delta_color="inverse" if change else "off",
                   help=f"the output ({claims.selected_by or 'kept weights'}), on {on}" if claims else
                   "the output, measured after training")
    curves = tracking.series(s.config.get("dataset", ""), run, keys=("train/loss", "eval/wer"))
    left, right = st.columns(2)
    with left:
        st.caption("Training loss")
        if curves.get("train/loss"):
            chart(curves["train/loss"], "loss")
        else:
            st.caption("no values yet: the first appear after a few steps")
    with right:
        st.caption(f"WER on {on} (lower is better)")
        points = curves.get("eval/wer", [])
        every = s.config.get("eval_every")
        if len(points) >= 2:  # one point draws as a lone dot on a meaningless axis
            chart(points, "WER %", scale=100)
        else:
            so_far = f"{scoring.percent(points[0][1])} at step {points[0][0]}; " if points else ""
            st.caption(f"{so_far}measured every {every} steps" if every else so_far or "no values yet")
    if s.state == "succeeded":
        done = f"Done: WER {scoring.percent(before)} → {scoring.percent(after)} on {on}."
        why = ("expected of the tiny test model, whose weights are random" if s.config.get("base_model") ==
               models.TINY else "with few clips this happens: record more, train longer or lower the "
               "learning rate")
        if claims and claims.worse_than_base:
            st.warning(f"{done} The fine-tuned model is worse than the base model ({why}): do not publish it as an "
                       "improvement. See which utterances fail:")
        elif change is not None and change >= 0:
            st.warning(f"{done} Fine-tuning did not lower the error rate ({why}). See which utterances fail:")
        else:
            st.success(f"{done} Next, compare every utterance word by word.")
        if claims and claims.too_few:
            st.warning(claims.few_clips_sentence())
        if claims and claims.selected_by:
            st.caption(f"Output: {claims.selected_by}." + (f" {claims.bias_sentence()}" if claims.selection_bias
                                                          else ""))
        wizard.link_to_step(5, "Go to 5 · Evaluate →")
    st.caption("Last lines of train.log")
    st.code(runfolder.readable_log(runstatus.read_log(run, LOG_LINES)) or "(empty)", language=None)


def live_section(run: str, was_active: bool) -> None:
    """Buttons, live panel and history together, so no part of the page shows an older state than another."""
    controls(run)
    live_panel(run, was_active)
    history(runstatus.list_runs()[:HISTORY])


def show_live(run: str) -> None:
    """Refresh every LIVE_EVERY_S only while the run is queued or running; a finished run is drawn once."""
    if runstatus.status(run).active:
        st.fragment(run_every=LIVE_EVERY_S)(live_section)(run, True)
    else:
        live_section(run, False)


def history(shown: list) -> None:
    st.subheader("Run history")
    st.dataframe([{
        "run": s.run, "state": s.state, "dataset": s.config.get("dataset"), "model": s.config.get("base_model"),
        "method": s.config.get("method"), "steps": f"{s.step}/{s.total_steps or '?'}",
        "baseline WER": s.baseline_wer, "best WER": s.best_wer, "WER clips": s.eval_clips,
        "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created_at)) if s.created_at else "",
    } for s in shown], hide_index=True, column_config={
        "baseline WER": st.column_config.NumberColumn(format="percent"),
        "best WER": st.column_config.NumberColumn(format="percent"),
    })
    for s in shown:
        with st.expander(f"{s.run} · {s.state}"):
            final = runstatus.results(s.run)
            ev = final["eval"] or {}
            if ev.get("baseline") or ev.get("finetuned"):
                claims = scoring.outcome(ev)
                st.markdown(f"WER {scoring.percent(claims.baseline)} → {scoring.percent(claims.finetuned)} on "
                            f"{claims.rests_on}" + (" (worse than the base model)" if claims.worse_than_base else ""))
            if final["train"]:
                st.json(final["train"], expanded=False)
            st.caption("Frozen settings (config.json)")
            st.json(s.config, expanded=False)


def watch(run: str) -> None:
    """Point the live panel at ``run``: a run just started must not leave the panel on an older one."""
    st.session_state[WATCH_KEY] = run


def controls(run: str) -> None:
    s = runstatus.status(run)
    if not s.active and s.state not in runstatus.RESUMABLE_STATES:
        return
    cols = iter(st.columns(4))  # the buttons that apply, left-aligned
    if s.active and next(cols).button("Stop", key=f"train_stop_{run}", help="Saves a checkpoint, then stops"):
        queue.stop(run, wait=False)
        st.toast(f"Stopping {run}: it saves a checkpoint first.")
        time.sleep(0.3)
        st.rerun()
    if s.state in runstatus.RESUMABLE_STATES and next(cols).button("Resume", key=f"train_resume_{run}",
                                                              help="Continues from the last checkpoint"):
        queue.resume(run)
        st.rerun()


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
    choice = m1.selectbox("Base model", MODEL_CHOICES, format_func=model_label, key="train_model",
                          index=0 if gpu_gb else 1, on_change=on_model_change)
    base_model = choice
    if choice == CUSTOM:
        base_model = m1.text_input("Model folder or Hub id", key="train_model_path",
                                   placeholder="/models/voxtral or org/name").strip()
    method = m2.radio("Method", config.METHODS, key="train_method", horizontal=True,
                      format_func={"lora": "LoRA (adapters)", "full": "full fine-tune"}.get,
                      index=1 if choice == models.TINY else 0)
    if choice == models.TINY:
        st.caption("The tiny model has random weights: it proves the pipeline (data, training, WER, files) in "
                   "a minute on a CPU and learns to repeat a few clips — it is not a speech recognizer.")

    st.subheader("Settings")
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
        fields["max_steps"] = int(a[0].number_input("Max steps", 1, 100_000, config.total_steps(base_cfg, n_train),
                                                    key=f"train_steps_{preset}_{choice}"))
        fields["learning_rate"] = float(a[1].number_input("Learning rate", 1e-7, 1.0, base_cfg.learning_rate,
                                                          format="%.6f", key=f"train_lr_{preset}_{choice}_{method}"))
        fields["batch_size"] = int(a[2].number_input("Batch size", 1, 1024, base_cfg.batch_size,
                                                     key=f"train_bs_{preset}_{choice}"))
        fields["grad_accum"] = int(a[3].number_input("Gradient accumulation", 1, 1024, base_cfg.grad_accum,
                                                     key=f"train_ga_{preset}_{choice}"))
        b = st.columns(4)
        fields["eval_every"] = int(b[0].number_input("Evaluate WER every N steps", 1, 100_000,
                                                     base_cfg.eval_every, key=f"train_eval_{preset}_{choice}"))
        fields["seed"] = int(b[1].number_input("Seed", 0, 2**31, base_cfg.seed, key="train_seed"))
        if method == "lora":
            fields["lora_r"] = int(b[2].number_input("LoRA r", 1, 1024, base_cfg.lora_r, key="train_lora_r"))
            fields["lora_alpha"] = int(b[3].number_input("LoRA alpha", 1, 4096, base_cfg.lora_alpha,
                                                         key="train_lora_alpha"))
        else:
            fields["freeze_audio_tower"] = b[2].checkbox("Freeze the audio encoder", True, key="train_freeze")
            fields["precision"] = b[3].selectbox(
                "Precision", config.PRECISIONS, key="train_precision",
                help="auto: fp32 weights, computed in bf16 (fp16 on older GPUs); bf16: pure bf16 weights, gradients "
                     "and optimizer states — about half the memory, but updates smaller than bf16's resolution are "
                     "lost")
        if len(langs) > 1:
            fields["languages"] = st.multiselect("Train on these languages (empty: all)", langs,
                                                 format_func=languages.label, key="train_languages")

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
                watch(exc.existing)
            except ValueError as exc:
                st.error(str(exc))
            else:
                watch(started.run)
                st.success(f"Run {started.run} queued: it starts as soon as no other run is training, and "
                           "keeps going in the background even if you close this page.")

# ------------------------------------------------------------------ live run and history
runs = runstatus.list_runs()
if runs:
    st.subheader("Live")
    active = [s.run for s in runs if s.active]
    names = [s.run for s in runs[:HISTORY]]
    watched = st.session_state.get(WATCH_KEY)
    if watched not in names:
        watched = active[0] if active else names[0]
    st.session_state[PICK_KEY] = watched
    watched = st.selectbox("Run to watch", names, key=PICK_KEY,
                           on_change=lambda: watch(st.session_state[PICK_KEY]))
    show_live(watched)
else:
    st.caption("No training run yet.")
boxqueue.admin_panel()  # hosted: an admin sees everyone's queue and may stop any run
