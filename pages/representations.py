"""Representations: each layer's output as a map (t-SNE or PCA), coloured by digit."""
import numpy as np
import pandas as pd
import streamlit as st

from analysis.embedding import cuda_available
from dashboard import representations as rv
from dashboard import chrome, links, training

st.title("Representations")
st.markdown(
    "Each layer of a net turns its input into a new list of numbers: **another way to represent the digit**. "
    "Squash each representation onto a flat map, one dot per digit, coloured by its true label. In raw pixels "
    "the digits are a tangle; layer by layer, the net pulls them apart."
)

mine = {name: sm for name, sm in training.models().items() if sm.dataset is not None and sm.trained.split is not None}
if mine:
    name = st.sidebar.selectbox("Model", list(mine), index=len(mine) - 1, key="rep_model",
                                help="A model you trained in this session (Training page).")
    sm = mine[name]
else:
    ready, pending = training.default_models()
    mlp = training.KIND_NAMES["mlp"]
    if mlp not in ready:
        st.info("No model trained in this session yet: training the default multilayer perceptron (a few seconds).")

        @st.fragment(run_every=1.0)
        def wait() -> None:
            if training.KIND_NAMES["mlp"] in training.default_models()[0]:
                st.rerun()
            for job in training.default_models()[1]:
                st.progress(job.progress, text=f"{job.label}: {job.message}")

        wait()
        st.stop()
    st.caption("Using the server's default multilayer perceptron (MNIST-5k). Train your own on the Training page.")
    sm = training.SessionModel(mlp, ready[mlp], training.dataset("mnist5k"))

n_pool = len(sm.trained.split.test) + len(sm.trained.split.val)
links.adopt("representations", rv.LINK)
with st.sidebar:
    reps = list(rv.features(sm, rv.sample(sm, 20, 0)))  # the names only (a tiny sample)
    specs, n, seed = rv.settings_ui(reps, n_pool, cuda_available())
links.publish(rv.LINK)
if not specs:
    st.info("Pick at least one representation in the sidebar.")
    st.stop()

idx = rv.sample(sm, n, seed)
feats = rv.features(sm, idx)
labels = sm.dataset.labels[idx]
probs = feats["probabilities"]
pred, conf = probs.argmax(1), probs.max(1)
try:
    job_list = [rv.submit(sm, idx, spec) for spec in specs]
except RuntimeError as e:  # the server's queue is full
    st.error(str(e))
    st.stop()
rv.watch_only(job_list)
st.markdown(rv.CAUTION)


@st.fragment(run_every=2.0)
def running() -> None:
    if all(j.is_finished for j in job_list):
        st.rerun()
    st.button("Stop", key="rep_stop", on_click=rv.stop_all, icon=":material/stop:",
              help="Stop the maps that are still running (finished ones are kept).")
    cols = st.columns(min(2, len(job_list)))
    for i, (job, spec) in enumerate(zip(job_list, specs)):
        with cols[i % len(cols)]:
            st.progress(job.progress, text=f"{spec.title}: {job.message}")
            if isinstance(job.latest, np.ndarray):
                chrome.chart(st, rv.preview(job.latest, labels, spec.plot_title), key=f"rep_live_{i}",
                             config={"displayModeBar": False})


if not all(j.is_finished for j in job_list):
    running()
    st.stop()
failed = [j for j in job_list if j.status != "done"]
if failed:
    st.warning("Some maps did not finish: " + "; ".join(f"{j.label}: {j.error or j.status}" for j in failed)
               + ". Change a setting to run them again.")
    st.session_state.pop("rep_jobs", None)
done = [(spec, job.result) for spec, job in zip(specs, job_list) if job.status == "done"]

chosen = set()
for i in range(len(done)):
    chosen |= rv.selected_ids(st.session_state.get(f"rep_map_{i}"))
a, b = st.columns(2)
by_true = a.multiselect("Select by true label", list(sm.dataset.class_names), key="rep_sel_true",
                        help="Keyboard-friendly selection: highlight every digit with these true labels.")
by_pred = b.multiselect("Select by prediction", list(sm.dataset.class_names), key="rep_sel_pred",
                        help="Highlight every digit the model predicts as one of these.")
names = list(sm.dataset.class_names)
for k, image_id in enumerate(idx):
    if names[labels[k]] in by_true or names[pred[k]] in by_pred:
        chosen.add(int(image_id))
highlight = chosen or None

cols = st.columns(min(2, len(done)))
for i, (spec, res) in enumerate(done):
    with cols[i % len(cols)]:
        title = spec.plot_title + ("" if res["explained"] is None else
                                   f"<sup>: {res['explained'].sum():.0%} of the variance</sup>")
        fig = rv.scatter(res["coords"], labels, pred, conf, idx, sm.dataset.class_names, title, highlight)
        chrome.chart(st, fig, key=f"rep_map_{i}", on_select="rerun", selection_mode=("lasso", "box", "points"))
        st.download_button("Download this map (HTML)", data=lambda fig=fig: fig.to_html(include_plotlyjs=True),
                           file_name=f"netlens-map-{i + 1}.html", mime="text/html", key=f"rep_html_{i}",
                           help="A standalone web page with the interactive map (the camera icon on the map saves a PNG).")

st.subheader("How well each map keeps the digits apart")
table = pd.DataFrame([{"map": spec.title, **res["metrics"]} for spec, res in done])
st.dataframe(table, hide_index=True, width="stretch", column_config={
    c: st.column_config.NumberColumn(format="%.3f") for c in table.columns if c != "map"})
st.caption("Trustworthiness: are a dot's neighbours on the map its true neighbours (1 = all)? k-NN accuracy: can "
           "the 5 nearest digits tell a digit's label, in the layer's own numbers and on the flat map?")
coords = pd.DataFrame({"image": idx, "true label": [names[k] for k in labels], "predicted": [names[k] for k in pred],
                       "confidence": conf})
for i, (spec, res) in enumerate(done):
    coords[f"map{i + 1} x"], coords[f"map{i + 1} y"] = res["coords"][:, 0], res["coords"][:, 1]
st.download_button("Download the coordinates (CSV)", coords.to_csv(index=False), "netlens-maps.csv", "text/csv",
                   icon=":material/download:", help="Every shown digit with its labels and its place on each map.")

if chosen:
    st.subheader("What is in your selection?")
    row = {int(v): k for k, v in enumerate(idx)}  # dataset index -> row of the sample
    rv.selection_grid([row[i] for i in sorted(chosen)], sm.dataset.images[idx], labels, pred, names)
else:
    st.caption("Draw a lasso or a box on a map (or select labels above) to see those digits.")
