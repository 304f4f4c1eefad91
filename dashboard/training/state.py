"""Training's state (the Streamlit side): the session object (`TrainingState`: the watched
job, the uploads, the chosen confusion cell), datasets cached per process, jobs in the
server-wide registry (the job's function is built in `_job`: a worker process), the server's default models.
The trained models themselves belong to `session_models`."""
from __future__ import annotations

from dataclasses import dataclass, field

from analysis.compute import jobs
from analysis.datasets import Dataset
from analysis.models import ModelConfig
from analysis.train import TrainConfig, TrainedModel, from_snapshot, job_key
from dashboard.core import session, session_models
from dashboard.core.runtime import session_id
from dashboard.core.training_jobs import (
    REGISTRY,
    describe,
    prepared_models,
    short_name,
    training_job,
    with_split,
)
from dashboard.core.uploads import UploadSlot

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




def add_model(trained: TrainedModel, ds: Dataset | None, suffix: str = "") -> session_models.SessionModel:
    """Keep a model in this session's models, named by its settings: a short name (a chip, a menu),
    the full description on hover and in the runs table."""
    mc, tc = trained.model_config, trained.train_config
    return session_models.add(trained, ds, short_name(mc, tc, trained.dataset_name) + suffix,
                              description=describe(mc, tc, trained.dataset_name) + suffix)




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






# ---------------------------------------------------------------- the server's default models











