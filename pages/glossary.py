"""Glossary: the lecture's words in plain language."""
import streamlit as st

from dashboard.core.glossary_terms import TERMS
from dashboard.core.guard import plain

st.title("Glossary")
st.markdown("The words used in the lecture and in NetLens, in plain language.")
link = st.query_params.get("find")
if link is not None and st.session_state.get("glossary_link_read") != link:
    st.session_state["glossary_link_read"] = link  # a link from another page: find its word (then typing rules)
    st.session_state["glossary_find"] = link[:60]
query = st.text_input("Find a word", key="glossary_find", placeholder="e.g. softmax",
                      help="Type part of a word or of its explanation.").strip().lower()
shown = {t: d for t, d in TERMS.items() if query in t.lower() or query in d.lower()}
if not shown:
    st.info(f"No entry mentions “{plain(query)}”.")
for term, definition in shown.items():
    st.markdown(f"**{term}** — {definition}")
