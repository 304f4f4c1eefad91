"""Live progress that costs the same for 1 or 100 watchers: a job's progress figure is built
once per (job key, version) and shared read-only by every session watching it (building a
Plotly figure costs ~50 ms here; sending a built one ~4 ms). A fragment cannot skip a run
(Streamlit clears a fragment's elements that a run does not redraw), so the cheap part is
what each watcher repeats."""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st


@st.cache_resource(show_spinner=False, max_entries=64)
def shared(kind: str, key: str, version: int, _build: Callable[[], Any]) -> Any:
    """``_build()`` once per (kind, job key, version), for every session. Never mutate the result."""
    return _build()
