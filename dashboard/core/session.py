"""Each feature's session object: ONE typed dataclass per feature in `st.session_state`
under one key, its reset, and the typed hand-over of an item from one page to another.

Widgets keep their own values across page switches (`persist_state="session"` on keyed
widgets, see `PERSIST`); everything that is not a widget value (uploads, camera shots,
drawings, chart selections, watched jobs, memos) lives in the feature's object."""
from __future__ import annotations

from typing import Any, Callable, TypeVar

import streamlit as st

from dashboard.core import pages

T = TypeVar("T")
PERSIST = "session"  # widgets: keep the value for the whole session (page switches, hidden widgets)


def get(key: str, cls: Callable[[], T], session=None) -> T:
    """The feature object stored under `key` (made with `cls()` the first time)."""
    session = st.session_state if session is None else session
    obj = session[key] if key in session else None
    if obj is None or type(obj).__name__ != getattr(cls, "__name__", None):
        obj = cls()
        session[key] = obj
    return obj


def reset(key: str, widget_prefixes: tuple[str, ...], detach: Callable[[Any], None] | None = None) -> None:
    """Start over for one feature: detach from its jobs first (so the registry can cancel
    what nobody watches), then forget its object and its widgets' values."""
    obj = st.session_state.get(key)
    if obj is not None and detach is not None:
        detach(obj)
    st.session_state.pop(key, None)
    for name in list(st.session_state.keys()):
        if name.startswith(widget_prefixes):
            del st.session_state[name]


def hand_over(receiver: Any, field: str, value: Any, page_file: str) -> None:
    """Send `value` to another page: set the typed field on the receiving feature's object
    (e.g. `PredictState.incoming_digit`), then switch to that page, which consumes it."""
    if not hasattr(receiver, field):
        raise ValueError(f"{type(receiver).__name__} has no field {field!r} to receive a hand-over; "
                         "add it to the dataclass first.")
    setattr(receiver, field, value)
    st.switch_page(pages.page(page_file))
