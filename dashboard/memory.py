"""The memory budget on the pages' side (dashboard.server.MEMORY): heavy work in a script run
(decoding a big photo, filtering it) reserves its bytes first. Work that does not fit yet
waits in line with its place shown; work that could never fit raises budget.NeverFits (a
ValueError: "This needs more memory than the server has; try a smaller photo").

Heavy work also takes one of ``SLOTS`` (one per core) for the ``with`` block: thirty photos
filtered at once would only share the cores while holding the server's one interpreter lock
in turn, so every other page (a page switch, the health check) would wait behind all of them.
In turn, each runs at full speed and light pages slip in between."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from analysis import budget
from dashboard import server
from dashboard.runtime import session_id

WAIT_S = 180.0  # the longest a page waits in line before saying the server is busy
SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))  # heavy page work at once: one per core


@contextmanager
def held(nbytes: int, label: str, hint: str = "try a smaller photo") -> Iterator[None]:
    """Hold ``nbytes`` of the budget for the ``with`` block; meanwhile show the place in line.
    NeverFits propagates (callers show it); a wait past WAIT_S stops the run with a notice."""
    spot = st.empty()

    def on_wait(place: int) -> None:
        spot.info(f"Waiting for memory on the server: place {place} in line ({label}). It starts by itself.",
                  icon=":material/hourglass_top:")

    reservation = server.MEMORY.reserve(nbytes, session_id(), label, hint=hint, timeout=WAIT_S, on_wait=on_wait)
    try:
        reservation.__enter__()
    except budget.WaitTimeout:
        spot.warning("The server is busy with other photos right now. Please try again in a minute.",
                     icon=":material/hourglass_top:")
        st.stop()
    if not SLOTS.acquire(timeout=0.5):
        spot.info(f"Waiting for the server's processor ({label}): other photos are being worked on. "
                  "It starts by itself.", icon=":material/hourglass_top:")
        if not SLOTS.acquire(timeout=WAIT_S):
            reservation.__exit__(None, None, None)
            spot.warning("The server is busy with other photos right now. Please try again in a minute.",
                         icon=":material/hourglass_top:")
            st.stop()
    spot.empty()
    try:
        yield
    finally:
        SLOTS.release()
        reservation.__exit__(None, None, None)


def hold_quietly(nbytes: int, label: str, holder: str = "download"):
    """The same reservation outside a script run (a download built on click): waits, shows nothing."""
    return server.MEMORY.reserve(nbytes, holder, label, timeout=WAIT_S)
