"""Representations: each layer's output as a map (t-SNE or PCA), coloured by digit."""
import streamlit as st

from analysis.embedding import cuda_available
from dashboard.core import links, models_ui
from dashboard.core.session import PERSIST
from dashboard.representations import controls, replay_state, replay_view, view
from dashboard.representations import state as rs

st.title("Representations")
st.markdown(
    "Each layer of a net turns its input into a new list of numbers: **another way to represent the digit**. "
    "Squash each representation onto a flat map, one dot per digit, coloured by its true label. In raw pixels "
    "the digits are a tangle; layer by layer, the net pulls them apart."
)

if replay_state.replay_state().incoming_model:  # "Watch it learn"
    st.session_state["rep_view"] = "training"
view_mode = st.segmented_control("View", ["maps", "training"], key="rep_view", persist_state=PERSIST, default="maps",
                                 format_func={"maps": "Maps of a trained model", "training": "Over training"}.get,
                                 help="Over training: one layer's map, replayed epoch by epoch as the net learned.")
if view_mode == "training":
    replay_view.page()
    st.stop()
replay_state.detach()

models, own = models_ui.session_or_defaults(
    lambda sm: sm.dataset is not None and sm.trained.split is not None, ("mlp",),
    "No model trained in this session yet: training the default multilayer perceptron (a few seconds).")
if own:
    with st.sidebar:
        sm = controls.model_ui(models)
else:
    st.caption("Using the server's default multilayer perceptron (MNIST-5k). Train your own on the Training page.")
    sm = next(iter(models.values()))

n_pool = len(sm.trained.split.test) + len(sm.trained.split.val)
links.adopt("representations", controls.LINK)
with st.sidebar:
    reps = list(rs.features(sm, rs.sample(sm, 20, 0)))  # the names only (a tiny sample)
    specs, n, seed = controls.settings_ui(reps, n_pool, cuda_available())
links.publish(controls.LINK)
if not specs:
    st.info("Pick at least one representation in the sidebar.")
    st.stop()

idx = rs.sample(sm, n, seed)
probs = rs.features(sm, idx)["probabilities"]
ctx = {"idx": idx, "labels": sm.dataset.labels[idx], "pred": probs.argmax(1), "conf": probs.max(1),
       "names": list(sm.dataset.class_names)}
try:
    job_list = [rs.submit(sm, idx, spec) for spec in specs]
except RuntimeError as e:  # the server's queue is full
    st.error(str(e))
    st.stop()
rs.watch_only(job_list)
st.markdown(view.CAUTION)

if not all(j.is_finished for j in job_list):
    view.running(job_list, specs, ctx["labels"])  # stops the page
failed = [j for j in job_list if j.status != "done"]
if failed:
    st.warning("Some maps did not finish: " + "; ".join(f"{j.label}: {j.error or j.status}" for j in failed)
               + ". Retry, or change a setting to run them again.")
    rs.detach()
    st.button("Retry", key="rep_retry", icon=":material/refresh:", help="Make the maps that did not finish again.")
done = [(spec, job.result) for spec, job in zip(specs, job_list) if job.status == "done"]
done_keys = [job.key for job in job_list if job.status == "done"]

chosen = view.lasso_ids(rs.representations_state(), len(done)) | view.by_label_ui(ctx)
view.maps(done, ctx, chosen or None, done_keys)
view.separation_table(done, ctx)

if chosen:
    st.subheader("What is in your selection?")
    row = {int(v): k for k, v in enumerate(idx)}  # dataset index -> row of the sample
    view.selection_grid([row[i] for i in sorted(chosen)], sm.dataset.images[idx], ctx["labels"], ctx["pred"],
                        ctx["names"])
else:
    st.caption("Draw a lasso or a box on a map (or select labels above) to see those digits.")
