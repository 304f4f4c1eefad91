"""What the pages that read this session's models draw around them (dashboard.core.session_models
owns the models and never draws): a choice that names a model that is gone falls back with a notice,
and the server's default models are waited for with their progress."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from analysis.compute import jobs
from dashboard.core import session_models
from dashboard.core.session_models import SessionModel


def keep_choice(key: str, available: list[str], many: bool) -> None:
    """Before a model selectbox/multiselect keyed `key` is drawn: drop names of models that are
    gone (Start over on Training) so it falls back to what exists, and say so."""
    if key not in st.session_state:
        return
    chosen = st.session_state[key]
    names = list(chosen) if many else [chosen]
    gone = [n for n in names if n not in available]
    if not gone:
        return
    left = [n for n in names if n in available]
    if many and left:
        st.session_state[key] = left
    else:
        del st.session_state[key]  # the widget's default: what exists
    st.info("No longer in this session (removed on the Training page): " + "; ".join(gone)
            + ". Showing what is left.", icon=":material/info:")


def session_or_defaults(usable: Callable[[SessionModel], bool], kinds: tuple[str, ...],
                        waiting: str) -> tuple[dict[str, SessionModel], bool]:
    """This session's usable models, or else the server's default models of `kinds` (trained
    once per server: until they are ready this shows `waiting` and their progress, and stops
    the page). Returns (models by name, True if they are this session's own)."""
    mine = session_models.usable(usable)
    if mine:
        return mine, True

    def waiting_for() -> list:
        try:
            return session_models.defaults(kinds)[1]
        except jobs.RegistryFull as e:  # the server's queue is full now
            st.error(str(e))
            st.stop()

    if waiting_for():
        st.info(waiting)

        @st.fragment(run_every=1.0)
        def wait() -> None:
            still = waiting_for()
            if not still:
                st.rerun()
            for job in still:
                st.progress(job.progress, text=f"{job.label}: {job.message}")

        wait()
        st.stop()
    out = session_models.defaults(kinds)[0]
    if not out:
        st.error("The server's default models could not be trained. Retry, or train one on the Training page.")
        st.button("Retry", key="defaults_retry", icon=":material/refresh:", help="Train the default models again.")
        st.stop()
    return out, False
