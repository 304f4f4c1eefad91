"""Shareable links: a page's main settings live in the URL's query string, so a teacher
can send "open this exact view". Bad values fall back to the defaults with a notice."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

from dashboard.core.app_state import app_state
from dashboard.core.guard import plain


@dataclass(frozen=True)
class Param:
    name: str  # in the URL
    key: str  # the widget's session_state key
    parse: Callable[[str], Any]  # raises ValueError for a bad value
    show: Callable[[Any], str] = str


def choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        for option in options:
            if text.lower() == option.lower():
                return option
        raise ValueError(f"expected one of {', '.join(options)}")
    return parse


def whole(lo: int, hi: int, odd: bool = False) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)  # int() parses digits only: never evaluates
        if not lo <= value <= hi or (odd and value % 2 == 0):
            raise ValueError(f"expected {'an odd ' if odd else 'a '}whole number from {lo} to {hi}")
        return value
    return parse


def adopt(page: str, params: list[Param]) -> None:
    """On this session's first visit to `page`, copy valid values from the URL into the
    widgets' state (before the widgets are drawn); say which ones were ignored."""
    seen = app_state().links_adopted
    if page in seen:
        return
    seen.add(page)
    bad = []
    for p in params:
        text = st.query_params.get(p.name)
        if text is None:
            continue
        try:
            st.session_state[p.key] = p.parse(text)
        except (ValueError, TypeError) as e:
            bad.append(plain(f"{p.name}={text!r} ({e})"))  # the link's text shows as typed, never as Markdown
    if bad:
        st.warning("This link had settings NetLens cannot use, so their defaults are shown: " + "; ".join(bad) + ".",
                   icon=":material/link_off:")


def publish(params: list[Param]) -> None:
    """Mirror the current settings into the URL (the address bar becomes a shareable link)."""
    values = {p.name: p.show(st.session_state[p.key]) for p in params if p.key in st.session_state}
    if st.session_state.get("present"):
        values["present"] = "1"
    if any(st.query_params.get(k) != v for k, v in values.items()):
        st.query_params.update(values)
