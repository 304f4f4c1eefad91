"""Training: pick digits and a model, train it, see what it learned."""
import streamlit as st

from analysis.models import build_model
from dashboard.core import formats, links, session_models, training_jobs
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
    with st.expander(f"The data: {formats.count(len(ds))} images of {ds.image_shape[0]}×{ds.image_shape[1]} pixels, "
                     f"{ds.n_classes} classes", expanded=False):
        from analysis.datasets import class_counts, split_dataset

        st.table(class_counts(ds, split_dataset(ds, tc.seed)), hide_index=True)
        st.caption("72% of the images train the model, 8% (validation) pick settings, 20% (test) give the final score.")
    with st.expander(f"The model: {training_jobs.KIND_NAMES[mc.kind]}, layer by layer", expanded=False):
        try:
            training_view.architecture_table(build_model(mc, ds.image_shape, ds.n_classes), ds.image_shape)
        except ValueError as e:
            st.error(str(e))

    training_view.prepared_ui()
    error = training_state.collect()
    if error:
        st.error(error)
        st.button("Retry", key="train_retry", on_click=training_state.retry, args=(ds, mc, tc),
                  icon=":material/refresh:", help="Train again with these settings.")
    state = training_state.training_state()
    if state.notice:
        st.info(state.notice)
        state.notice = None
    if training_state.watched() is None:
        if st.button(
            "Train",
            type="primary",
            icon=":material/play_arrow:",
            key="train_start",
            help="Start training with these settings. Identical runs on this server are reused, not repeated.",
        ):
            try:
                training_state.start(ds, mc, tc)
            except (ValueError, RuntimeError) as e:
                st.error(str(e))

if training_state.watched() is not None:
    training_view.live()
if ds is not None:
    with st.expander("Try several settings (a small sweep)", expanded=sweep_view.sws.sweep_state().sweep is not None,
                     icon=":material/grid_on:"):
        sweep_view.section(ds, mc, tc)
links.publish(training_controls.LINK + sweep_controls.LINK)
training_view.results_ui()

with st.expander("Save or load a model"):
    training_view.save_load(session_models.current())
