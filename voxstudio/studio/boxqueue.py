"""The box's one training queue as the Train page shows it: a queued run's place, and the admin's whole queue.

Every home's runs wait in one FIFO queue for the one GPU (``runs.supervisor``). A person sees the place of their
own queued run and how many runs are ahead — never whose; an admin of a hosted studio (``VOXSTUDIO_ADMINS``)
sees every queued and running run with its owner and may stop any of them (``queue.stop_in``).
"""

from __future__ import annotations

import time

import streamlit as st

from voxstudio.runs import queue
from voxstudio.runs import status as runstatus
from voxstudio.studio import signin


def position_caption(run: str, short: bool = False) -> None:
    """"Place N in the queue" under a queued run of this person (``short``: the place alone, for a row of the list
    of runs under the live panel that says the whole sentence)."""
    place = runstatus.queue_position(run)
    if place is None:
        return
    n, training = place
    if short:
        st.caption(f"place {n} in the queue")
        return
    ahead = f"{n - 1} queued run{'s' if n != 2 else ''} ahead" if n > 1 else "next in line"
    st.caption(f"Place {n} in this studio's queue: {ahead}, {training} training now. Runs start one at a time, "
               "oldest first, for everyone on this machine.")


def admin_panel() -> None:
    """Everyone's queued and running runs with a Stop button each (admins of a hosted studio only)."""
    if not signin.is_admin():
        return
    st.subheader("Everyone's queue (admin)")
    runs = runstatus.box_running() + runstatus.box_queue()
    if not runs:
        st.caption("Nothing is queued or training.")
        return
    for n, b in enumerate(runs):
        s = b.status
        cols = st.columns([3, 2, 2, 1])
        cols[0].markdown(f"`{s.run}` of **{signin.owner_label(b.home)}**")
        cols[1].markdown(f"{s.state} · step {s.step}/{s.total_steps or '?'}")
        cols[2].caption(time.strftime("queued %Y-%m-%d %H:%M", time.localtime(s.queued_at)) if s.queued_at else "")
        if cols[3].button("Stop", key=f"train_admin_stop_{b.home.name}_{s.run}_{n}"):
            queue.stop_in(b.home, s.run)
            st.toast(f"Stopping {s.run} of {signin.owner_label(b.home)}.")
            st.rerun()
