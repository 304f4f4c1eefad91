"""Training: pick digits and a model, train it, see what it learned."""
import streamlit as st

from dashboard.core import links, session_models
from dashboard.training import controls as training_controls
from dashboard.training import state as training_state
from dashboard.training import sweep_controls, sweep_view
from dashboard.training import view as training_view

st.title("Training")
st.markdown(
    "A neural net is a function with many numbers inside: **weights W and biases b**. *Learning* means "
    "nudging them, a batch of examples at a time, so the net's answers on the training digits get better. "
    "Pick the data and a model on the left, press **Train**, and watch it learn."
)

links.adopt("train", training_controls.LINK + sweep_controls.LINK)
with st.sidebar:
    ds = training_controls.data_ui()
    mc = training_controls.model_ui()
    tc = training_controls.train_config_ui()
links.publish(training_controls.LINK)

if ds is not None:
    training_view.setup_ui(ds, mc, tc)
    training_view.prepared_ui()
    training_view.train_ui(ds, mc, tc)

if training_state.watched() is not None:
    training_view.live()
if ds is not None:
    sweep_view.expander(ds, mc, tc)
links.publish(training_controls.LINK + sweep_controls.LINK)
training_view.results_ui()

with st.expander("Save or load a model"):
    training_view.save_load(session_models.current())
