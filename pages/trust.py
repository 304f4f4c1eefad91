"""Trust: why this answer, how sure is "99% sure", and does it hold up?"""
import streamlit as st

from dashboard.trust import controls as trust_controls
from dashboard.trust import state as trust_state
from dashboard.trust import tables as trust_view_tables
from dashboard.trust import view as trust_view

st.title("Trust")
st.markdown("Can a model's answer inform a decision, and when must a person look? Three questions: **why this "
            "answer** (and is that explanation any good?), **how sure** is “99% sure”, and **does it hold up** "
            "when the digits change a little?")

ts = trust_state.trust_state()
models, own = trust_view.models()
if not own:
    st.caption("Using the server's default models (MNIST-5k, 10 epochs). Train your own on the Training page.")
if not models:
    st.warning("No model to explain yet: train one on the Training page.")
    st.stop()

left, right = st.columns([3, 1])
with left:
    chosen = {n: models[n] for n in trust_controls.models_ui(list(models), ts)}
    if not chosen:
        st.warning("Pick at least one model to explain.")
        st.stop()
    image = trust_view.digit_ui(ts, chosen)
with right:
    if image is not None:
        trust_view.digit_picture(ts, next(iter(chosen.values())).trained.class_names)

why, sure, holdup = st.tabs(["Why this answer", "How sure", "Does it hold up"])
with why:
    if image is None:
        st.info("Pick a digit above to see why each model answers as it does.")
    else:
        trust_view.why_tab(ts, chosen, image)
shown, hidden = trust_state.revealed(chosen)
with sure:
    st.header("How sure is “99% sure”?")
    if hidden:
        st.info(trust_state.HIDDEN_NOTE + ", ".join(hidden) + ".", icon=":material/visibility_off:")
    if shown:
        trust_view_tables.sure_tab(ts, shown)
with holdup:
    st.header("Does it hold up?")
    if hidden:
        st.info(trust_state.HIDDEN_NOTE + ", ".join(hidden) + ".", icon=":material/visibility_off:")
    if shown:
        trust_view_tables.holdup_tab(ts, shown, image)
