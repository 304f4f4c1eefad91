"""What every page shares: projection (classroom) mode, the glossary link, 'start over',
the privacy note, shareable links, and charts styled for the current mode."""
from __future__ import annotations

import hmac
import os

import plotly.graph_objects as go
import streamlit as st

PRESENT_CSS = """
<style>
html, body, [data-testid="stMain"] { font-size: 24px !important; }
[data-testid="stMain"] p, [data-testid="stMain"] li,
[data-testid="stMain"] label, [data-testid="stMain"] [data-testid="stCaptionContainer"] { font-size: 24px !important; }
[data-testid="stSidebar"] p, [data-testid="stSidebar"] label { font-size: 19px !important; }
[data-testid="stAppViewContainer"] { color: #000 !important; background: #fff !important; }
[data-testid="stCaptionContainer"] { color: #222 !important; }
h1 { font-size: 3.2rem !important; } h2, h3 { font-size: 2.4rem !important; }
[data-testid="stMetricValue"] { font-size: 3rem !important; }
</style>
"""

# Settings each page clears on "start over" (session_state key prefixes).
PAGE_STATE = {
    "convolution": ("conv_", "step_"),
    "train": ("train_", "mlp_", "cnn_", "cm_", "digit_", "fmap_", "weights_", "models", "runs", "current_model"),
    "representations": ("rep_",),
    "predict": ("predict_",),
}


def presenting() -> bool:
    return bool(st.session_state.get("present", False))


def start_present_from_url() -> None:
    """`?present=1` switches projection mode on for this session (once; the toggle rules after)."""
    if "present" not in st.session_state:
        value = st.query_params.get("present")
        st.session_state["present"] = value in ("1", "true", "yes")
        if value not in (None, "0", "1", "true", "false", "yes", "no"):
            st.toast(f"Ignored present={value!r} in the link (use 1 or 0).")


def sidebar(url_path: str) -> None:
    """The sidebar footer: projection mode, glossary, start over, privacy."""
    with st.sidebar:
        st.toggle("Projection mode", key="present",
                  help="Large type, high contrast and bold charts for a classroom projector. Add ?present=1 to a "
                       "link to open a page this way.")
        st.page_link(_glossary(), label="Glossary: what the words mean", icon=":material/menu_book:")
        if url_path in PAGE_STATE:
            st.button("Start over on this page", key=f"start_over_{url_path}", icon=":material/restart_alt:",
                      on_click=start_over, args=(url_path,),
                      help="Forget this page's settings, uploads and results, and go back to the defaults.")
        st.caption("Uploads stay in this server's memory for your session only and are sent nowhere else.")
        st.divider()
    if presenting():
        st.html(PRESENT_CSS)


def _glossary():
    from dashboard import nav

    return nav.page("glossary.py")


def start_over(url_path: str) -> None:
    prefixes = PAGE_STATE[url_path]
    for key in list(st.session_state.keys()):
        if key.startswith(prefixes) and not key.startswith("start_over"):
            del st.session_state[key]
    for key in [k for k in st.query_params.keys() if k != "present"]:
        del st.query_params[key]


def chart(where, fig: go.Figure, **kwargs):
    """st.plotly_chart with NetLens's defaults; in projection mode, bigger text, thicker lines
    and bigger markers."""
    if presenting() and not isinstance(fig, dict):  # dict figures are the light, live previews
        fig = go.Figure(fig)
        fig.update_layout(font=dict(size=22), title_font_size=26)
        for trace in fig.data:
            if getattr(trace, "line", None) is not None and "width" in trace.line:
                trace.line.width = max(5, (trace.line.width or 2) * 2)
            marker = getattr(trace, "marker", None)
            if marker is not None and "size" in marker:
                size = marker.size
                marker.size = [s * 1.7 for s in size] if isinstance(size, (list, tuple)) else (size or 6) * 1.7
            if getattr(trace, "textfont", None) is not None and trace.type in ("heatmap", "bar"):
                trace.textfont.size = 22
        fig.update_layout(height=int((fig.layout.height or 400) * 1.25))
    kwargs.setdefault("width", "stretch")
    return where.plotly_chart(fig, **kwargs)


# ---------------------------------------------------------------- the optional class password

def access_granted() -> bool:
    """With NETLENS_PASSWORD set, each session must type the class password once
    (compared in constant time). Without it, everyone is let in."""
    password = os.environ.get("NETLENS_PASSWORD")
    if not password or st.session_state.get("access_granted"):
        return True
    st.title("NetLens")
    typed = st.text_input("Class password", type="password", key="access_password",
                          help="Your teacher gives this to the class.")
    if typed:
        if hmac.compare_digest(typed.encode(), password.encode()):
            st.session_state["access_granted"] = True
            del st.session_state["access_password"]
            st.rerun()
        st.error("That is not the class password.")
    return False
