"""Glossary: the lecture's words in plain language."""
import streamlit as st

from dashboard.core import chrome
from dashboard.core.glossary_terms import TERMS
from dashboard.core.guard import plain

st.title("Glossary")
st.markdown("The words used in the lecture and in NetLens, in plain language.")
query = chrome.glossary_find_ui()
shown = {t: d for t, d in TERMS.items() if query in t.lower() or query in d.lower()}
if not shown:
    st.info(f"No entry mentions “{plain(query)}”.")
for term, definition in shown.items():
    st.markdown(f"**{term}** — {definition}")
