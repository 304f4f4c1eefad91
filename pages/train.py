"""Training: pick digits and a model, train it, see what it learned."""
import streamlit as st

from analysis.models import build_model
from dashboard import chrome, figures, links, training, training_ui, training_view

st.title("Training")
st.markdown(
    "A neural net is a function with many numbers inside: **weights W and biases b**. *Learning* means "
    "nudging them, a batch of examples at a time, so the net's answers on the training digits get better. "
    "Pick the data and a model on the left, press **Train**, and watch it learn."
)

links.adopt("train", training_ui.LINK)
with st.sidebar:
    ds = training_ui.data_ui()
    mc = training_ui.model_ui()
    tc = training_ui.train_config_ui()
links.publish(training_ui.LINK)

if ds is not None:
    with st.expander(f"The data: {len(ds):,} images of {ds.image_shape[0]}×{ds.image_shape[1]} pixels, "
                     f"{ds.n_classes} classes", expanded=False):
        from analysis.datasets import class_counts, split_dataset

        st.dataframe(class_counts(ds, split_dataset(ds, tc.seed)), hide_index=True)
        st.caption("72% of the images train the model, 8% (validation) pick settings, 20% (test) give the final score.")
    with st.expander(f"The model: {training.KIND_NAMES[mc.kind]}, layer by layer", expanded=False):
        try:
            training_view.architecture_table(build_model(mc, ds.image_shape, ds.n_classes), ds.image_shape)
        except ValueError as e:
            st.error(str(e))

    training_view.prepared_ui()
    error = training.collect()
    if error:
        st.error(error)
    notice = st.session_state.pop("train_notice", None)
    if notice:
        st.info(notice)
    if training.watched() is None:
        if st.button("Train", type="primary", icon=":material/play_arrow:", key="train_start",
                     help="Start training with these settings. Identical runs on this server are reused, not repeated."):
            try:
                training.start(ds, mc, tc)
            except (ValueError, RuntimeError) as e:
                st.error(str(e))


@st.fragment(run_every=1.0)
def live() -> None:
    job = training.watched()
    if job is None or job.is_finished:
        st.rerun()  # show the result (or the error) on the whole page
    st.button("Stop", icon=":material/stop:", key="train_stop", on_click=training.stop,
              help="Stop watching and keep the model as it was after the last finished epoch.")
    if job.status == "queued":
        st.info(f"Waiting for the server: {job.message}.")
        return
    st.progress(job.progress, text=f"Training {job.label}: {job.message}")
    rows = (job.latest or {}).get("rows") or []
    if rows:
        chrome.chart(st, figures.learning_curves(rows, st.session_state["train_job"][3].epochs),
                        config=training_view.NO_BAR, key="live_curves")


if training.watched() is not None:
    live()

if training.models():
    st.divider()
    st.subheader("Results")
    names = list(training.models())
    st.selectbox("Model", names, key="current_model", help="Models you trained or loaded in this session.")
    training_view.results(training.current())

with st.expander("Save or load a model"):
    training_view.save_load(training.current())
