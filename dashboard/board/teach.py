"""Teach it our handwriting (Board page): fine-tune a COPY of one of the server's default models on half
of the room's digits, split by student, as a job of the server's back end (analysis.compute.tasks.finetune in
a worker process; the shared model is never changed: the worker rebuilds a copy from its weights), with
progress and Stop; then before/after accuracy on the other half and on MNIST's validation digits."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from analysis.compute import jobs
from analysis.compute.board import BoardView
from analysis.finetune import FinetuneConfig, TooFewDigits, split_by_student
from analysis.train import TrainedModel
from dashboard.board.state import STORE, BoardState, board_state
from dashboard.core import formats, pages, server, training_jobs
from dashboard.core.runtime import session_id

REGISTRY = jobs.shared_registry("finetune", max_workers=server.JOB_THREADS, max_entries=16, max_age_s=6 * 3600)
CONFIG = FinetuneConfig()
NBYTES = 300 * 2**20  # a copy of a default model, a few dozen digits, MNIST's validation digits: well under this
POLL_S = 1.0
CAVEAT = ("Read this with care: a few dozen digits are very few. The copy can learn this half of the room by heart "
          "(overfit) and still miss the other half, and it may lose some of what it knew about MNIST. One run on "
          "a few digits is one draw: the sweep on the Training page shows how much scores move between seeds.")


def _key(view: BoardView, trained: TrainedModel) -> str:
    return hashlib.sha256(repr((view.code, view.version, trained.key, CONFIG)).encode()).hexdigest()[:20]


def _start(state: BoardState, view: BoardView, name: str, trained: TrainedModel) -> None:
    images = np.stack([d.image for d in view.digits]).astype(np.float32) / 255.0
    kwargs = {"model_config": trained.model_config,
              "state": {k: v.detach().clone() for k, v in trained.model.state_dict().items()},
              "image_shape": tuple(trained.image_shape), "n_classes": len(trained.class_names), "images": images,
              "labels": np.array([d.label for d in view.digits]), "senders": [d.sender for d in view.digits],
              "dataset": trained.dataset_name, "split_seed": trained.train_config.seed, "config": CONFIG}
    label = f"teaching a copy of the {name} the room's handwriting"
    fn = server.job("finetune", kwargs, nbytes=NBYTES, label=label, holder=session_id(), hint="try again later")
    try:
        state.teach = REGISTRY.submit(_key(view, trained), label, fn, session_id()).key
    except jobs.RegistryFull:
        state.said, state.said_ok = "The server is busy with other teaching runs: try again in a minute.", False


def _stop(state: BoardState) -> None:
    if state.teach:
        REGISTRY.detach(state.teach, session_id())


def _result(out: dict) -> None:
    a, b = out["students"]
    st.markdown(f"A copy trained on **{out['train_n']} digits from {a} students** for {out['epochs']} epochs; tested "
                f"on the other **{out['test_n']} digits from {b} students**, whose handwriting it never saw. The "
                "server's model itself is unchanged.")
    rows = [{"digits": f"the room's other half ({out['test_n']} digits)",
             "before": formats.accuracy(out["before"]["room"]), "after": formats.accuracy(out["after"]["room"])},
            {"digits": "MNIST validation digits", "before": formats.accuracy(out["before"]["mnist"]),
             "after": formats.accuracy(out["after"]["mnist"])}]
    st.table(pd.DataFrame(rows).set_index("digits"))


@st.fragment(run_every=POLL_S)
def teach_ui(code: str) -> None:
    """The section: a model, Teach, the job's progress and Stop, the result with its caveat."""
    state = board_state()
    view = STORE.view(code)
    st.subheader("Teach it our handwriting")
    st.caption("Fine-tune a copy of one of the server's models on half of the room's digits — split by student, "
               "so no student's handwriting is in both halves — and test it on the other half.")
    if view is None:
        return
    models = {n: t for n, t in training_jobs.ready_default_models()[0].items() if tuple(t.image_shape) == (28, 28)}
    try:
        split_by_student([d.sender for d in view.digits], CONFIG.seed)
    except TooFewDigits as e:
        st.info(str(e), icon=":material/group:")
        models = {}
    job = REGISTRY.get(state.teach) if state.teach else None
    if models and (job is None or job.is_finished):
        names = list(models)
        a, b = st.columns([2, 1], vertical_alignment="bottom")
        name = a.selectbox("Model to copy", names, key="board_teach_model",
                           index=names.index("Multilayer perceptron") if "Multilayer perceptron" in names else 0)
        b.button("Teach a copy", key="board_teach", icon=":material/school:", type="primary", on_click=_start,
                 args=(state, view, name, models[name]), help=f"{CONFIG.epochs} epochs on half of the room's digits.")
    if job is None:
        return
    if job.status in jobs.ACTIVE:
        st.progress(job.progress, text=f"{job.label}: {job.message}")
        st.button("Stop", key="board_teach_stop", icon=":material/stop:", on_click=_stop, args=(state,))
    elif job.status == "done":
        _result(job.result)
        st.caption(CAVEAT)
        st.page_link(pages.page("train.py"), label="Training → Try several settings: the sweep's lesson",
                     icon=":material/school:")
    elif job.status == "failed":
        st.warning(f"Teaching stopped with an error: {job.error}")
    else:
        st.write("Stopped: nothing was kept. Press Teach a copy to start again.")
