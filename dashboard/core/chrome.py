"""What every page shares: projection (classroom) mode, the glossary link, 'start over'
(the page's resets, handed in by the entry from dashboard/nav.py) and the privacy note."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from dashboard.core import pages
from dashboard.core.app_state import app_state
from dashboard.core.guard import plain

# Always on: Streamlit's captions are gray at 60% opacity on white (3.3-3.9:1, under WCAG AA's 4.5:1): a
# darker gray, fully opaque (9.7:1).
BASE_CSS = """
<style>
[data-testid="stCaptionContainer"] { opacity: 1 !important; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * { color: #424242 !important; }
/* A segmented control's chosen option: the theme's red on pink is 4.47:1; a darker red is 6.4:1. */
button[data-variant="segmented_control"][aria-checked="true"] p { color: #9e2a36 !important; }
/* Keyboard focus, on every control and in both modes: Streamlit's own ring is a pale pink shadow (about 2:1 on
   white) on buttons and nothing at all on radios, switches and links; a 3px dark blue outline is 7:1 on the page
   and on the sidebar. Hidden inputs (radio, checkbox, switch, select, text) ring the box around them. */
:is(a, button, summary, [role="tab"], [role="slider"], [tabindex="0"]:not(input)):focus-visible,
label:has(input:focus-visible), .react-aria-ComboBox > [role="group"]:has(input:focus-visible),
.react-aria-TextField > div:has(:is(input, textarea):focus-visible),
div:has(> div > input[type="range"]:focus-visible) {
  outline: 3px solid #1f4ea3 !important; outline-offset: 2px !important; }
/* A tab's ring goes inside it (the tab list clips what is outside), beside its words, not over them. */
[data-testid="stTab"][role="tab"] { padding-inline: 6px !important; }
[data-testid="stTab"][role="tab"]:focus-visible { outline-offset: -3px !important; }
/* A collapsed sidebar (projection mode, phones) is slid off-screen but its controls stayed in the Tab order:
   focus went out of sight for some 30 presses. Hidden, they leave the order until the sidebar is opened. */
[data-testid="stSidebar"][data-collapsed="true"], [data-testid="stSidebar"][data-collapsed="true"] * {
  visibility: hidden !important; }
</style>
"""

PRESENT_CSS = """
<style>
html, body, [data-testid="stMain"] { font-size: 24px !important; }
[data-testid="stMain"] p, [data-testid="stMain"] li,
[data-testid="stMain"] label, [data-testid="stMain"] [data-testid="stCaptionContainer"] { font-size: 24px !important; }
[data-testid="stSidebar"] p, [data-testid="stSidebar"] label { font-size: 19px !important; }
[data-testid="stAppViewContainer"] { color: #000 !important; background: #fff !important; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * { color: #222 !important; }
[data-testid="stTable"] th, [data-testid="stTable"] td { font-size: 22px !important; color: #000 !important; }
[data-testid="stMain"] button p { white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; }
[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"] * { white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; }  /* "Glossary: what the words mean" wraps */
[data-testid="stImageCaption"], .nl-figure figcaption { font-size: 20px !important; color: #222 !important; }
h1 { font-size: 3.2rem !important; } h2, h3 { font-size: 2.4rem !important; }
h1, h2, h3 { overflow-wrap: normal !important; word-break: normal !important; hyphens: none !important; }
[data-testid="stColumn"] h3 { font-size: 1.7rem !important; }  /* Home's cards: "Representations" on one line */
[data-testid="stMetricValue"] { font-size: 3rem !important; }
[data-testid="stMetricLabel"] p { font-size: 24px !important; white-space: normal !important;
  overflow: visible !important; }
[data-testid="stMetricLabel"] { min-height: 0 !important; height: auto !important; }
</style>
"""

def presenting() -> bool:
    return bool(st.session_state.get("present", False))


def start_present_from_url() -> None:
    """`?present=1` switches projection mode on for this session (once; the toggle rules after)."""
    if "present" not in st.session_state:
        value = st.query_params.get("present")
        st.session_state["present"] = value in ("1", "true", "yes")
        if value not in (None, "0", "1", "true", "false", "yes", "no"):

            st.toast(f"Ignored present={plain(repr(value))} in the link (use 1 or 0).")


def sidebar(url_path: str, reset: Callable[[], None] | None = None) -> None:
    """The sidebar footer: projection mode, glossary, start over (when the page has a `reset`), privacy."""
    with st.sidebar:
        st.toggle("Projection mode", key="present",
                  help="Large type, high contrast and bold charts for a classroom projector. Add ?present=1 to a "
                       "link to open a page this way.")
        st.page_link(pages.page("glossary.py"), label="Glossary: what the words mean", icon=":material/menu_book:")
        if reset is not None:
            st.button("Start over on this page", key=f"start_over_{url_path}", icon=":material/restart_alt:",
                      on_click=start_over, args=(reset,),
                      help="Forget this page's settings, uploads and results, and go back to the defaults.")
        st.caption("Uploads stay in this server's memory for your session only and are sent nowhere else. A digit "
                   "you choose to send to a class board is shown to the room until the board ends (a few hours).")
        st.divider()
    st.html(BASE_CSS)
    if presenting():
        st.html(PRESENT_CSS)


def glossary_links(*terms: str) -> None:
    """Links to Glossary entries, in-app (the session and its settings stay): one per term."""
    cols = st.columns(len(terms) + 1, vertical_alignment="center")
    cols[0].caption("In the Glossary:")
    for col, term in zip(cols[1:], terms):
        col.page_link(pages.page("glossary.py"), label=term, icon=":material/menu_book:", query_params={"find": term})


def glossary_find_ui() -> str:
    """The Glossary's search box (lower case, trimmed): a link from another page (?find=word) fills it
    once, then typing rules."""
    link = st.query_params.get("find")
    state = app_state()
    if link is not None and state.glossary_link != link:
        state.glossary_link = link
        st.session_state["glossary_find"] = link[:60]
    return st.text_input("Find a word", key="glossary_find", placeholder="e.g. softmax",
                         help="Type part of a word or of its explanation.").strip().lower()


def start_over(reset: Callable[[], None]) -> None:
    """The page's features forget their settings, uploads and results (detaching from their jobs
    first); the link's settings go too."""
    reset()
    for key in [k for k in st.query_params.keys() if k != "present"]:
        del st.query_params[key]
