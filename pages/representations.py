"""Representations: each layer's output as a map (t-SNE or PCA), coloured by digit."""
import streamlit as st

from dashboard.board import room_map
from dashboard.core import links, model_choice
from dashboard.representations import controls, replay_state, replay_view, view

st.title("Representations")
st.markdown(
    "Each layer of a net turns its input into a new list of numbers: **another way to represent the digit**. "
    "Squash each representation onto a flat map, one dot per digit, coloured by its true label. In raw pixels "
    "the digits are a tangle; layer by layer, the net pulls them apart."
)

if controls.view_ui() == "training":
    replay_view.page()
    st.stop()
replay_state.detach()

models, own = model_choice.session_or_defaults(
    lambda sm: sm.dataset is not None and sm.trained.split is not None, ("mlp",),
    "No model trained in this session yet: training the default multilayer perceptron (a few seconds).")
if own:
    with st.sidebar:
        sm = controls.model_ui(models)
else:
    st.caption("Using the server's default multilayer perceptron (MNIST-5k). Train your own on the Training page.")
    sm = next(iter(models.values()))

links.adopt("representations", controls.LINK)
specs, n, seed = controls.maps_ui(sm)
links.publish(controls.LINK)
if not specs:
    st.info("Pick at least one representation in the sidebar.")
    st.stop()

ctx = view.context(sm, n, seed)
done, done_keys = view.maps_run(sm, specs, ctx)
chosen = view.lasso_ids(len(done)) | view.by_label_ui(ctx)
view.maps(done, ctx, chosen or None, done_keys)
view.separation_table(done, ctx)
view.selection_ui(sm, ctx, chosen)
room_map.on_representations()
