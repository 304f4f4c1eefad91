"""The memory budget on the pages' side (dashboard.core.server.MEMORY): heavy work in a script run
(decoding a big photo, filtering it) reserves its bytes first. Work that does not fit yet
waits in line with its place shown; work that could never fit raises budget.NeverFits (a
ValueError: "This needs more memory than the server has; try a smaller photo")."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from analysis.compute import budget
from dashboard.core import runtime, server
from dashboard.core.runtime import session_id

WAIT_S = 180.0  # the longest a page waits in line before saying the server is busy


@contextmanager
def held(nbytes: int, label: str, hint: str = "try a smaller photo") -> Iterator[None]:
    """Hold ``nbytes`` of the budget for the ``with`` block; meanwhile show the place in line.
    NeverFits propagates (callers show it); a wait past WAIT_S stops the run with a notice."""
    spot = st.empty()
    gave_back = False

    def on_wait(place: int) -> None:
        nonlocal gave_back
        gave_back = gave_back or runtime.give_back_slot()  # waiting never holds a CPU slot others need
        spot.info(f"Waiting for memory on the server: place {place} in line ({label}). It starts by itself.",
                  icon=":material/hourglass_top:")

    reservation = server.MEMORY.reserve(nbytes, session_id(), label, hint=hint, timeout=WAIT_S, on_wait=on_wait)
    try:
        reservation.__enter__()
    except budget.WaitTimeout:
        spot.warning("The server is busy with other photos right now. Please try again in a minute.",
                     icon=":material/hourglass_top:")
        st.stop()
    if gave_back:
        try:
            runtime.retake_slot()  # admitted: take a CPU slot again to do the work
        except TimeoutError:
            reservation.__exit__(None, None, None)
            raise
    spot.empty()
    try:
        yield
    finally:
        reservation.__exit__(None, None, None)


@contextmanager
def hold_quietly(nbytes: int, label: str, holder: str = "download") -> Iterator[None]:
    """The same reservation outside a script run (a download built on click): waits, shows nothing;
    a feature-page slot this thread holds goes back while it waits, as in held()."""
    gave_back = False

    def on_wait(_place: int) -> None:
        nonlocal gave_back
        gave_back = gave_back or runtime.give_back_slot()

    with server.MEMORY.reserve(nbytes, holder, label, timeout=WAIT_S, on_wait=on_wait):
        if gave_back:
            runtime.retake_slot()
        yield
