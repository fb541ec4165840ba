"""The Train page's run panels: the live panel of one run (state, progress, metrics, charts, readable log), the
queue of this person's active runs with Stop, the follow rule (which run the panel shows) and the history table.

Streamlit is imported here; torch never is. Everything shown is read from the run folder (runs.status,
runs.history) and Trackio's SQLite (runs.tracking).
"""

from __future__ import annotations

import streamlit as st

from voxstudio import models
from voxstudio.runs import dashboard, history, queue, runfolder, tracking
from voxstudio.runs import status as runstatus
from voxstudio.studio import boxqueue, formatting, wizard
from voxstudio.training import scoring

LOG_LINES = 15
RAW_LINES = 200
STATE_ICONS = {"queued": "⏳", "running": "🏃", "succeeded": "✅", "failed": "❌", "stopped": "⏹️", "crashed": "💥"}
PIN_KEY = "train_pinned"  # a run the user picked to watch; it sticks until that run ends or they pick again
WATCH_QUERY = "watch"  # ?watch=<run>: a link (Home's "Watch … on Train") asks the panel to show that run


def take_watch_request() -> None:
    """Pin the run a link asked for (``?watch=<run>``) once, then drop the parameter: the user's own pick, and the
    follow rule once that run ends, decide afterwards."""
    asked = st.query_params.get(WATCH_QUERY)
    if asked is not None:
        st.session_state[PIN_KEY] = asked
        del st.query_params[WATCH_QUERY]


def followed(active: list, pinned: str | None) -> str | None:
    """The active run the live panel shows: the user's pick while it is active, else the running run, else
    the first queued one. A run queued later never takes the panel from the one training."""
    names = [s.run for s in active]
    if pinned in names:
        return pinned
    running = [s.run for s in active if s.state == "running"]
    return (running or names or [None])[0]


def chart(points: list[tuple[int, float]], label: str, scale: float = 1.0) -> None:
    """One metric against the step, with readable axis titles (the raw Trackio key means nothing to a user)."""
    st.line_chart({"step": [p[0] for p in points], label: [p[1] * scale for p in points]}, x="step", y=label,
                  x_label="step", y_label=label, height=220)


def live_panel(run: str, was_active: bool) -> None:
    """State, progress, ETA, last log lines and charts of one run (re-run by the fragment timer)."""
    try:
        s = runstatus.status(run)
    except FileNotFoundError:
        st.info(f"Run {run} is gone.")
        return
    if was_active and not s.active:
        st.rerun()  # the run just ended: refresh the whole page (buttons, history) and stop the timer
    icon = STATE_ICONS.get(s.state, "")
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
        wizard.link_to_page("Compare", "Compare with other runs →", {"runs": run})
    trackio_link(run, s.config.get("dataset", ""))
    steps = history.recent_steps(s)
    if steps:
        st.caption("Latest steps (newest first)")
        st.dataframe(steps, hide_index=True, column_config={
            "loss": st.column_config.NumberColumn(format="%.4f"),
            "learning rate": st.column_config.NumberColumn(format="%.2e"),
            "grad-norm": st.column_config.NumberColumn(format="%.3f"),
            "epoch": st.column_config.NumberColumn(format="%.2f")})
    st.caption("Last lines of train.log")
    readable = history.readable_lines(runstatus.read_log(run, RAW_LINES))[-LOG_LINES:]
    st.code("\n".join(readable) or "(empty)", language=None)
    with st.expander("Raw train.log (last lines)"):
        st.code(runfolder.readable_log(runstatus.read_log(run, RAW_LINES)) or "(empty)", language=None)


def queue_rows(active: list) -> None:
    """Each active run of this person: state, step or queue place, and a Stop button."""
    for s in active:
        cols = st.columns([3, 4, 1])
        cols[0].markdown(f"{STATE_ICONS.get(s.state, '')} `{s.run}` · {s.state}")
        with cols[1]:
            if s.state == "queued":
                boxqueue.position_caption(s.run, short=True)
            else:
                eta = f" · about {formatting.fmt_duration(s.eta_s)} left" if s.eta_s else ""
                st.caption(f"{round(100 * s.progress)} % done{eta}")  # the live panel above shows its steps
        if cols[2].button("Stop" if s.state == "running" else "Cancel", key=f"train_stop_{s.run}",
                          help="Saves a checkpoint, then stops" if s.state == "running" else "Leaves the queue"):
            queue.stop(s.run, wait=False)
            st.toast(f"Stopping {s.run}: it saves a checkpoint first." if s.state == "running" else
                     f"{s.run} left the queue.")
            st.rerun()


def resume_button(run: str) -> None:
    s = runstatus.status(run)
    if s.state in runstatus.RESUMABLE_STATES and st.button("Resume", key=f"train_resume_{run}",
                                                           help="Continues from the last checkpoint"):
        queue.resume(run)
        st.rerun()


def cell(value, kind: str = "") -> str:
    """A history cell as text: "–" when unknown (never the word None); WERs in percent, losses to 4 digits."""
    if value is None or value == "":
        return "–"
    if kind == "wer":
        return scoring.percent(value)
    if kind == "loss":
        return f"{value:.4g}"
    if kind == "seconds":
        return formatting.fmt_duration(value)
    return str(value)


KINDS = {"baseline WER": "wer", "fine-tuned WER": "wer", "final loss": "loss", "duration_s": "seconds"}


def history_rows(shown: list) -> list[dict]:
    rows = []
    for s in shown:
        r = history.summary(s)
        worse = " (worse than the base)" if r.pop("worse than base") else ""
        row = {("duration" if k == "duration_s" else k): cell(v, KINDS.get(k, "")) for k, v in r.items()}
        row["fine-tuned WER"] += worse if row["fine-tuned WER"] != "–" else ""
        rows.append(row)
    return rows


def history_table(shown: list) -> None:
    st.dataframe(history_rows(shown), hide_index=True, column_config={
        "WER clips": st.column_config.TextColumn(help="how many clips the WERs rest on"),
        "final loss": st.column_config.TextColumn(help="training loss at the last logged step"),
    })


def trackio_link(run: str, project: str) -> None:
    """"Open in Trackio": starts (or reuses) this home's local dashboard, then links to the run's project."""
    if refusal := dashboard.dashboard_allowed():
        st.caption(refusal)
        return
    if st.button("Open in Trackio", key=f"train_trackio_{run}", icon=":material/monitoring:",
                 help="Starts a local Trackio dashboard for this data home (or reuses the running one)"):
        with st.spinner(f"Starting the Trackio dashboard (up to {dashboard.START_TIMEOUT_S:.0f} s)…"):
            try:
                board = dashboard.open_dashboard(project, timeout_s=dashboard.START_TIMEOUT_S)
            except dashboard.DashboardError as exc:
                st.error(str(exc))
                return
        st.session_state[f"train_trackio_url_{run}"] = board.url
    if url := st.session_state.get(f"train_trackio_url_{run}"):
        st.markdown(f"[Open the Trackio dashboard of project `{project}` ↗]({url}) · served from this machine "
                    f"({url.split('/?')[0]})")
