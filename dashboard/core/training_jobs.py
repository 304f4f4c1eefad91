"""Training jobs on this server, for every page: the job registry, the built-in datasets (loaded once
per server), the job's function (a worker process, dashboard.core.server), a run's short description,
and the server's default models (prepared ahead by a teacher, or trained once per server and shared).
Training adds a session's own models (dashboard.core.session_models); the other pages fall back to
these defaults."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import streamlit as st

from analysis import datasets
from analysis.compute import jobs, tasks
from analysis.datasets import Dataset, load_dataset, split_dataset
from analysis.models import ModelConfig, default_config
from analysis.recording import load_with_recording
from analysis.train import TrainConfig, TrainedModel, job_key, predict_proba
from dashboard.core import server
from dashboard.core.runtime import session_id

KIND_NAMES = {"logreg": "Logistic regression", "mlp": "Multilayer perceptron", "cnn": "Convnet"}


# Job threads wait on dashboard.core.server's worker processes (or run the job there when NETLENS_WORKERS=0),
# or watch the job on the Ray cluster (NETLENS_RAY_ADDRESS).
REGISTRY = jobs.shared_registry("train", max_workers=server.JOB_THREADS, max_entries=32, max_age_s=6 * 3600)


@st.cache_resource(show_spinner="Loading the digits…", max_entries=4)
def dataset(name: str) -> Dataset:
    """A built-in dataset, loaded once per server (read-only arrays, shared by every session)."""
    return load_dataset(name)


SHORT_KINDS = {"logreg": "LogReg", "mlp": "MLP", "cnn": "CNN"}
DEFAULT_DATASET = "mnist5k"


def short_name(mc: ModelConfig, tc: TrainConfig, ds_name: str) -> str:
    """A session model's name, short enough for a chip and a menu (issue 31): the kind and its size,
    the learning rate, then only the settings that differ from the defaults, and the seed —
    "MLP 512 · lr 0.001 · s0", "CNN 16-32 · lr 0.01 · bs 32 · 3 ep · digits · s1". `describe()` is the
    full description (shown on hover and in the runs table)."""
    what = SHORT_KINDS[mc.kind]
    if mc.kind == "mlp":
        what += " " + "-".join(map(str, mc.hidden)) + ("" if mc.activation == "relu" else f" {mc.activation}")
    elif mc.kind == "cnn":
        what += " " + "-".join(map(str, mc.channels)) + ("" if mc.kernel_size == 3 else f" k{mc.kernel_size}")
    default = TrainConfig()
    parts = [what, f"lr {tc.lr:g}"]
    if tc.optimizer != default.optimizer:
        parts.append(tc.optimizer.upper())
    if tc.batch_size != default.batch_size:
        parts.append(f"bs {tc.batch_size}")
    if tc.epochs != default.epochs:
        parts.append(f"{tc.epochs} ep")
    if mc.kind != "logreg" and mc.dropout:
        parts.append(f"drop {mc.dropout:g}")
    if ds_name != DEFAULT_DATASET:
        parts.append(ds_name[:12])
    parts.append(f"s{tc.seed}")
    return " · ".join(parts)


def describe(mc: ModelConfig, tc: TrainConfig, ds_name: str) -> str:
    """The full description of a run (job labels, hover texts, the runs table's "settings")."""
    what = KIND_NAMES[mc.kind]
    if mc.kind == "mlp":
        what += f" {'-'.join(map(str, mc.hidden))} {mc.activation}"
    elif mc.kind == "cnn":
        what += f" {'-'.join(map(str, mc.channels))} ({mc.kernel_size}×{mc.kernel_size})"
    return (f"{what} · {ds_name} · {tc.epochs} epoch{'s' if tc.epochs != 1 else ''} · {tc.optimizer} "
            f"lr {tc.lr:g} · batch {tc.batch_size} · seed {tc.seed}")


def training_job(ds: Dataset, mc: ModelConfig, tc: TrainConfig, holder: str | None = None):
    """The job's function: train in a worker process (dashboard.core.server), after reserving its
    memory; it publishes the curves and a snapshot every epoch (analysis.compute.tasks.train)."""
    builtin = ds.name in KNOWN_DATASETS and not ds.fingerprint  # the worker loads it by name, once
    holder = holder or session_id()

    def fn(job: jobs.Job) -> TrainedModel:  # built when the job starts, not on every join
        return server.job("train", {"dataset": ds.name if builtin else ds, "model_config": mc, "train_config": tc},
                          nbytes=tasks.training_estimate(ds, mc, tc), label=f"training {describe(mc, tc, ds.name)}",
                          holder=holder, hint="try a smaller model or fewer images")(job)
    return fn


KNOWN_DATASETS = tuple(datasets.DATASETS)


def with_split(trained: TrainedModel, ds: Dataset | None) -> TrainedModel:
    """A model loaded from a file gets its test split back when this server has its data
    (the split depends only on the data and the seed)."""

    if ds is None or ds.image_shape != tuple(trained.image_shape) or ds.class_names != tuple(trained.class_names):
        return trained
    return dataclasses.replace(trained, split=split_dataset(ds, seed=trained.train_config.seed))


DEFAULT_KINDS = ("logreg", "mlp", "cnn")


@st.cache_resource(show_spinner=False)
def prepared_models() -> dict[str, TrainedModel]:
    """Models a teacher trained ahead (`python -m analysis.train … --save DIR`), read once per
    server from the folder named by NETLENS_MODELS_DIR, keyed by their job key."""


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
    Returns (ready models by name, jobs still running); jobs.RegistryFull when the queue is full."""

    ds, tc = dataset("mnist5k"), TrainConfig()
    ready, pending = {}, []
    for kind in DEFAULT_KINDS:
        mc = default_config(kind)
        key = job_key(ds, mc, tc)
        if key in prepared_models():
            ready[KIND_NAMES[kind]] = prepared_models()[key]
            continue
        job = REGISTRY.submit(key, describe(mc, tc, ds.name), training_job(ds, mc, tc), session_id())  # RegistryFull
        if job.status == "done":
            ready[KIND_NAMES[kind]] = job.result
        elif job.status in ("queued", "running"):
            pending.append(job)
    return ready, pending


def ready_default_models() -> tuple[dict[str, TrainedModel], bool]:
    """The default models that are ready now, without submitting anything (a page that must never
    wait on or start training, e.g. the class board). Returns (ready models by name, whether any
    is still training)."""

    ds, tc = dataset("mnist5k"), TrainConfig()
    ready, training = {}, False
    for kind in DEFAULT_KINDS:
        key = job_key(ds, default_config(kind), tc)
        job = prepared_models().get(key) or REGISTRY.get(key)
        if isinstance(job, TrainedModel):
            ready[KIND_NAMES[kind]] = job
        elif job is not None and job.status == "done":
            ready[KIND_NAMES[kind]] = job.result
        elif job is not None and job.status in ("queued", "running"):
            training = True
    return ready, training


WARM_HOLDER = "server warm-up"


def warm_models(timeout_s: float = 3600.0) -> list[TrainedModel]:
    """At server start (dashboard.core.server.warm_up's thread, no session): submit the default
    models' trainings as the server's own jobs (never cancelled for want of watchers) and wait
    for them. Sessions that ask for the defaults join these jobs. Returns the trained models."""

    ds, tc = load_dataset("mnist5k"), TrainConfig()
    ready, waiting = [], []
    for kind in DEFAULT_KINDS:
        mc = default_config(kind)
        key = job_key(ds, mc, tc)
        if key in prepared_models():
            ready.append(prepared_models()[key])
        else:
            waiting.append(
                REGISTRY.submit(key, describe(mc, tc, ds.name), training_job(ds, mc, tc, WARM_HOLDER), WARM_HOLDER)
            )
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
