"""Training's state (the Streamlit side): the session object (`TrainingState`: the watched
job, the uploads, the chosen confusion cell), datasets cached per process, jobs in the
server-wide registry (the job's function is built in `_job`: a worker process), the server's default models.
The trained models themselves belong to `session_models`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from analysis import datasets, jobs, tasks
from analysis.datasets import Dataset, load_dataset, split_dataset
from analysis.models import ModelConfig
from analysis.train import TrainConfig, TrainedModel, from_snapshot, job_key, predict_proba
from dashboard import server, session, session_models
from dashboard.runtime import session_id
from dashboard.uploads import UploadSlot

KIND_NAMES = {"logreg": "Logistic regression", "mlp": "Multilayer perceptron", "cnn": "Convnet"}


# Job threads wait on dashboard.server's worker processes (or run the job there when NETLENS_WORKERS=0),
# or watch the job on the Ray cluster (NETLENS_RAY_ADDRESS).
REGISTRY = jobs.shared_registry("train", max_workers=server.JOB_THREADS, max_entries=32, max_age_s=6 * 3600)


@st.cache_resource(show_spinner="Loading the digits…", max_entries=4)
def dataset(name: str) -> Dataset:
    """A built-in dataset, loaded once per server (read-only arrays, shared by every session)."""
    return load_dataset(name)


KEY = "training"
WIDGETS = ("train_", "mlp_", "cnn_", "cm_", "digit_", "fmap_", "weights_")  # its widgets' keys


@dataclass(frozen=True)
class WatchedJob:
    """The training run this session watches, with what it needs to keep a stopped model."""
    key: str
    ds: Dataset
    mc: ModelConfig
    tc: TrainConfig


@dataclass
class TrainingState:
    job: WatchedJob | None = None
    notice: str | None = None  # said once on the next run
    zip: UploadSlot = field(default_factory=UploadSlot)  # "your own images"; value: the Dataset
    weights: UploadSlot = field(default_factory=UploadSlot)  # "restore a model"
    cm_seen: dict | None = None  # the confusion-matrix click already applied


def training_state(session_state=None) -> TrainingState:
    return session.get(KEY, TrainingState, session_state)


def _detach(s: TrainingState) -> None:
    if s.job is not None:
        REGISTRY.detach(s.job.key, session_id())
        s.job = None


def reset() -> None:
    """Start over on Training: stop watching the run (unwatched runs are cancelled), forget the
    settings, uploads and this session's models (the other pages fall back to what is left)."""
    session.reset(KEY, WIDGETS, _detach)
    session_models.reset()
    from dashboard import sweep_state  # the sweep too (its reveals are kept)

    sweep_state.reset()


def describe(mc: ModelConfig, tc: TrainConfig, ds_name: str) -> str:
    what = KIND_NAMES[mc.kind]
    if mc.kind == "mlp":
        what += f" {'-'.join(map(str, mc.hidden))} {mc.activation}"
    elif mc.kind == "cnn":
        what += f" {'-'.join(map(str, mc.channels))} ({mc.kernel_size}×{mc.kernel_size})"
    return f"{what} · {ds_name} · {tc.epochs} epoch{'s' if tc.epochs != 1 else ''} · seed {tc.seed}"


def add_model(trained: TrainedModel, ds: Dataset | None, suffix: str = "") -> session_models.SessionModel:
    """Keep a model in this session's models, named by its settings."""
    name = describe(trained.model_config, trained.train_config, trained.dataset_name) + suffix
    return session_models.add(trained, ds, name)


def training_job(ds: Dataset, mc: ModelConfig, tc: TrainConfig, holder: str | None = None):
    """The job's function: train in a worker process (dashboard.server), after reserving its
    memory; it publishes the curves and a snapshot every epoch (analysis.tasks.train)."""
    builtin = ds.name in KNOWN_DATASETS and not ds.fingerprint  # the worker loads it by name, once
    holder = holder or session_id()

    def fn(job: jobs.Job) -> TrainedModel:  # built when the job starts, not on every join
        return server.job("train", {"dataset": ds.name if builtin else ds, "model_config": mc, "train_config": tc},
                          nbytes=tasks.training_estimate(ds, mc, tc), label=f"training {describe(mc, tc, ds.name)}",
                          holder=holder, hint="try a smaller model or fewer images")(job)
    return fn


def start(ds: Dataset, mc: ModelConfig, tc: TrainConfig) -> None:
    """Submit (or join: identical requests share one run) and watch the job."""
    key = job_key(ds, mc, tc)
    if key in prepared_models():  # trained ahead by the teacher: ready at once
        add_model(with_split(prepared_models()[key], ds), ds, suffix=" (prepared)")
        return
    REGISTRY.submit(key, describe(mc, tc, ds.name), training_job(ds, mc, tc), session_id())
    training_state().job = WatchedJob(key, ds, mc, tc)


def retry(ds: Dataset, mc: ModelConfig, tc: TrainConfig) -> None:
    """The Retry button after a failed run (a worker that died): start again; a refusal becomes the notice."""
    try:
        start(ds, mc, tc)
    except (ValueError, RuntimeError) as e:
        training_state().notice = str(e)


def stop() -> None:
    """Stop watching; keep the model as it was at the last finished epoch (for this session only)."""
    s = training_state()
    w = s.job
    if w is None:
        return
    job = REGISTRY.get(w.key)
    _detach(s)
    latest = job.latest if job is not None else None
    if latest and latest["state"] is not None:
        trained = from_snapshot(w.ds, w.mc, w.tc, latest["split"], latest["state"], latest["rows"])
        trained.recording = latest.get("recording")  # the frames so far (None: not recorded)
        add_model(trained, w.ds, suffix=f" (stopped at epoch {len(latest['rows'])})")
    else:
        s.notice = "Stopped before the first epoch finished: no model to keep."


def watched() -> jobs.Job | None:
    w = training_state().job
    return REGISTRY.get(w.key) if w else None


def collect() -> str | None:
    """If the watched job has finished, keep its model (or its error). Returns an error message."""
    s = training_state()
    w, job = s.job, watched()
    if w is None or (job is not None and not job.is_finished):
        return None
    _detach(s)  # collected: this session no longer watches it
    if job is None:
        return "The server dropped this training run (it was restarted or too busy). Please train again."
    if job.status == "done":
        add_model(job.result, w.ds)
        return None
    return job.error or "The training was cancelled."


KNOWN_DATASETS = tuple(datasets.DATASETS)


def with_split(trained: TrainedModel, ds: Dataset | None) -> TrainedModel:
    """A model loaded from a file gets its test split back when this server has its data
    (the split depends only on the data and the seed)."""
    import dataclasses

    if ds is None or ds.image_shape != tuple(trained.image_shape) or ds.class_names != tuple(trained.class_names):
        return trained
    return dataclasses.replace(trained, split=split_dataset(ds, seed=trained.train_config.seed))


# ---------------------------------------------------------------- the server's default models

DEFAULT_KINDS = ("logreg", "mlp", "cnn")


@st.cache_resource(show_spinner=False)
def prepared_models() -> dict[str, TrainedModel]:
    """Models a teacher trained ahead (`python -m analysis.train … --save DIR`), read once per
    server from the folder named by NETLENS_MODELS_DIR, keyed by their job key."""
    import os
    from pathlib import Path

    from analysis.recording import load_with_recording

    folder = os.environ.get("NETLENS_MODELS_DIR")
    found: dict[str, TrainedModel] = {}
    if folder and Path(folder).is_dir():
        for path in sorted(Path(folder).glob("*.safetensors")):
            try:
                trained, recording = load_with_recording(path.read_bytes())
                trained.recording = recording
            except (OSError, ValueError):
                continue  # an unreadable file is skipped, not fatal
            if trained.dataset_name in KNOWN_DATASETS:
                trained = with_split(trained, dataset(trained.dataset_name))
            found[trained.key] = trained
    return found


def default_models() -> tuple[dict[str, TrainedModel], list[jobs.Job]]:
    """The Training page's default logistic regression, MLP and convnet on MNIST-5k: prepared
    ones if the server has them, else trained once per server (every session shares them).
    Returns (ready models by name, jobs still running)."""
    from analysis.models import default_config

    ds, tc = dataset("mnist5k"), TrainConfig()
    ready, pending = {}, []
    for kind in DEFAULT_KINDS:
        mc = default_config(kind)
        key = job_key(ds, mc, tc)
        if key in prepared_models():
            ready[KIND_NAMES[kind]] = prepared_models()[key]
            continue
        try:
            job = REGISTRY.submit(key, describe(mc, tc, ds.name), training_job(ds, mc, tc), session_id())
        except jobs.RegistryFull as e:
            st.error(str(e))
            st.stop()
        if job.status == "done":
            ready[KIND_NAMES[kind]] = job.result
        elif job.status in ("queued", "running"):
            pending.append(job)
    return ready, pending


WARM_HOLDER = "server warm-up"


def warm_models(timeout_s: float = 3600.0) -> list[TrainedModel]:
    """At server start (dashboard.server.warm_up's thread, no session): submit the default
    models' trainings as the server's own jobs (never cancelled for want of watchers) and wait
    for them. Sessions that ask for the defaults join these jobs. Returns the trained models."""
    from analysis.models import default_config

    ds, tc = load_dataset("mnist5k"), TrainConfig()
    ready, waiting = [], []
    for kind in DEFAULT_KINDS:
        mc = default_config(kind)
        key = job_key(ds, mc, tc)
        if key in prepared_models():
            ready.append(prepared_models()[key])
        else:
            waiting.append(REGISTRY.submit(key, describe(mc, tc, ds.name), training_job(ds, mc, tc, WARM_HOLDER), WARM_HOLDER))
    for job in waiting:
        job.wait(timeout_s)
        if job.status == "done":
            ready.append(job.result)
    return ready


@st.cache_resource(show_spinner=False, max_entries=16, hash_funcs={TrainedModel: lambda t: t.key})
def test_probabilities(trained: TrainedModel) -> np.ndarray:
    """Pr(class) on the test digits of a shared (read-only) model, computed once per server."""
    ds = dataset(trained.dataset_name)
    return predict_proba(trained.model, ds.images[trained.split.test])
