"""Two guards on what reaches a user's screen:

- ``plain(text)``: text from a user or a file (query values, file, folder and class names, glossary
  searches, toasts) made safe to put into Markdown (st.markdown, st.error, st.toast, captions,
  labels): every ASCII punctuation character is backslash-escaped (CommonMark allows it for each of
  them), so links, images, emphasis, HTML, ``:material/…:`` icons, ``:red[…]`` colours and ``$…$``
  maths show as the plain characters typed; line breaks become spaces. The one helper for it.
- ``page_errors()``: around each page's work (dashboard/app.py). An unexpected error shows one plain
  sentence with a short error id and logs the traceback with that id on the server; nothing of
  the traceback reaches the page (and ``client.showErrorDetails = "none"`` in .streamlit/config.toml
  covers what escapes, e.g. a fragment's own rerun). Under tests (pytest imported, or
  NETLENS_RERAISE=1) the error is raised again, so AppTest's ``at.exception`` still sees it;
  NETLENS_RERAISE=0 shows the message under tests too.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import sys
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

log = logging.getLogger("netlens.errors")
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
MAX_SHOWN = 200  # characters of one user string shown (a name, a search, a query value)
ERROR_TEXT = ("Something went wrong on this page (error id {id}). Your work is kept: try again, or press "
              "“Start over” in the sidebar; if it happens again, tell whoever runs the server this id.")


def plain(text: object, limit: int = MAX_SHOWN) -> str:
    """``text`` as Markdown that shows exactly its characters (cut at ``limit``, with an ellipsis)."""
    s = _BREAKS.sub(" ", str(text))
    if len(s) > limit:
        s = s[:limit] + "…"
    return _PUNCT.sub(r"\\\1", s)


def unplain(markdown: str) -> str:
    """What ``plain`` text shows on the page (its escapes removed): for tests reading AppTest's Markdown."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def _reraise() -> bool:
    flag = os.environ.get("NETLENS_RERAISE", "").strip()
    return flag == "1" if flag else "pytest" in sys.modules


def new_error_id() -> str:
    return secrets.token_hex(4)


@contextmanager
def page_errors(where: str = "") -> Iterator[None]:
    """Catch an unexpected error of the page's work: log it with a short id, show the plain message.
    Streamlit's own control flow (st.stop, st.rerun, st.switch_page) passes through untouched."""
    try:
        yield
    except Exception as e:  # st.stop / st.rerun are BaseExceptions: not caught here
        if _reraise():
            raise
        error_id = new_error_id()
        log.error("NetLens error id %s on page %r: %s", error_id, where or "?", type(e).__name__, exc_info=True)
        st.error(ERROR_TEXT.format(id=error_id), icon=":material/error:")
