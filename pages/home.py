"""Home: what NetLens is, and a card for each page."""
import streamlit as st

from dashboard.core.chrome import presenting
from dashboard.core.pages import PAGES, page

st.title("NetLens: see how neural nets work")
st.markdown(
    """
A neural net is a long chain of simple arithmetic — multiply, add, keep the positive part —
whose numbers (**weights**) are tuned on examples until the chain gives the right answers.
NetLens lets you watch that happen with real pictures and real handwritten digits, right here
in your browser. You do not need to program: every page has controls, plots and plain
explanations. Hover over the **?** next to a control to read what it does.
"""
)
cards = [p for p in PAGES if p.file != "home.py" and not p.hidden]
# Projection mode: two cards a row, so a one-word title in big type ("Representations") keeps its line.
cols = st.columns(min(2 if presenting() else 3, len(cards)) or 1)
for i, info in enumerate(cards):
    with cols[i % len(cols)].container(border=True):
        st.subheader(info.title)
        st.write(info.blurb)
        st.page_link(page(info.file), label=f"Open {info.title}", icon=info.icon)
st.caption("Pictures you upload stay in this server's memory for your session only and are sent nowhere else. "
           "Only if you send a digit to a class board (Predict, opt-in) is that 28×28 digit kept, on this server, "
           "until the board ends.")
