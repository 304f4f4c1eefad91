"""The long jobs, as tasks: ``fn(report, should_stop, **kwargs)``.

Each runs in a worker process (analysis.compute.workers runs them by name from its allow-list) or in
a thread (call it directly with ``job.report`` and ``job.should_stop``): same signature, same
payloads. ``report(progress, message, latest)`` is ``Job.report``; ``should_stop()`` is
``Job.should_stop``.

- :func:`train`: what dashboard/training.py ``_run`` does: per-epoch rows and a CPU
  snapshot of the weights in ``latest`` (so Stop keeps the last finished epoch); returns the
  :class:`~analysis.train.TrainedModel`.
- :func:`project`: what dashboard/representations.py ``_project`` does: t-SNE previews in
  ``latest``, or PCA; returns coords, explained variance and separation metrics.
- :func:`count`: a tiny task that reports ``n`` steps (checks the worker machinery).
- :class:`InlineExecutor`: ``ProcessExecutor.run`` in the calling thread (the thread back end).
- :func:`as_job`: the function a page submits to the JobRegistry: reserve memory (waiting in
  line, its place shown as the job's message), then run the task on an executor.

No Streamlit here.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

import numpy as np

from analysis import embedding
from analysis.compute import budget, workers
from analysis.compute.store import OWNER
from analysis.datasets import Dataset, load_dataset, split_dataset
from analysis.finetune import FinetuneConfig
from analysis.finetune import finetune as run_finetune
from analysis.models import ModelConfig, build_model, layout
from analysis.recording import MAX_DIMS, MAX_RECORDED_EPOCHS, RecordConfig, Recorder
from analysis.replay import ReplayConfig, knn_over_training
from analysis.replay import replay as run_replay
from analysis.train import TrainConfig, TrainedModel, fit

__all__ = [
    "train",
    "project",
    "replay",
    "finetune",
    "separation",
    "count",
    "training_estimate",
    "recording_estimate",
    "map_estimate",
    "METRIC_SAMPLE",
    "InlineExecutor",
    "as_job",
]

Report = Callable[..., None]
ShouldStop = Callable[[], bool]
_UNSET = object()
METRIC_SAMPLE = 2_000  # trustworthiness and k-NN accuracy on at most this many points (O(n²) memory)


def _dataset(dataset: str | Dataset) -> Dataset:
    """A built-in dataset by name (loaded once per process: load_dataset is cached) or the Dataset given."""
    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, str):
        return load_dataset(dataset)
    raise ValueError(f"Expected a built-in dataset's name (e.g. 'mnist5k') or a Dataset; got {type(dataset).__name__}.")


def train(report: Report, should_stop: ShouldStop, *, dataset: str | Dataset, model_config: ModelConfig,
          train_config: TrainConfig, record: bool = True) -> TrainedModel:
    """Train, publishing every epoch ``latest = {"rows": [...], "state": {name: CPU tensor}, "split": Split,
    "recording": Recording | None}`` (the rows so far, a copy of the weights, the recording so far);
    stops after the epoch in which should_stop() is true. With ``record`` (the default) the model
    carries its training's recording (``TrainedModel.recording``; analysis.recording)."""

    ds = _dataset(dataset)
    mc, tc = model_config, train_config
    split = split_dataset(ds, seed=tc.seed)
    model = build_model(mc, ds.image_shape, ds.n_classes, seed=tc.seed)
    recorder = Recorder(ds, split, tc) if record and len(split.test) >= 10 else None
    rows: list[dict] = []

    def on_epoch(epoch: int, row: dict) -> bool:
        rows.append(row)
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        report(epoch / tc.epochs, f"epoch {epoch} of {tc.epochs}", {"rows": list(rows), "state": state, "split": split,
                                                                    "recording": _snapshot(recorder)})
        return not should_stop()

    report(0.0, f"epoch 0 of {tc.epochs}", {"rows": [], "state": None, "split": split, "recording": None})
    if recorder is None:
        return fit(ds, mc, tc, on_epoch=on_epoch, split=split, model=model)
    recorder.start(model)
    trained = fit(ds, mc, tc, on_epoch=recorder.chain(on_epoch), split=split, model=model)
    trained.recording = recorder.result()
    return trained


def _snapshot(recorder):
    return None if recorder is None else recorder.snapshot()


def separation(x: np.ndarray, coords: np.ndarray, labels: np.ndarray, sample: int = METRIC_SAMPLE) -> dict[str, float]:
    """How well the map keeps the original neighbourhoods and classes (on a stratified sample)."""
    sub = embedding.stratified_sample(labels, sample, random_state=0)
    x, coords, labels = x[sub], coords[sub], labels[sub]
    return {"trustworthiness (k=10)": embedding.trustworthiness(x, coords, k=10),
            "k-NN accuracy, original (k=5)": embedding.knn_accuracy(x, labels, k=5),
            "k-NN accuracy, map (k=5)": embedding.knn_accuracy(coords, labels, k=5)}


def project(report: Report, should_stop: ShouldStop, *, features: np.ndarray, labels: np.ndarray,
            method: str = "tsne", perplexity: float = 30.0, n_iter: int = 750, seed: int = 0) -> dict:
    """A 2-D map of ``features``: t-SNE (the map so far in ``latest`` as it forms; stops early when
    should_stop() is true) or PCA. Returns {"coords", "explained" (PCA only, else None), "metrics"}."""
    x, labels = np.asarray(features), np.asarray(labels)
    if method == "pca":
        coords, ratio = embedding.pca(x, 2)
        return {"coords": coords, "explained": ratio, "metrics": separation(x, coords, labels)}
    if method != "tsne":
        raise ValueError(f"Expected method 'tsne' or 'pca'; got {method!r}.")

    def progress(iteration: int, current: np.ndarray) -> bool:
        report(iteration / n_iter, f"iteration {iteration} of {n_iter}", current)
        return not should_stop()

    coords = embedding.tsne(x, perplexity, n_iter, seed, on_progress=progress)
    return {"coords": coords, "explained": None, "metrics": separation(x, coords, labels)}


def replay(report: Report, should_stop: ShouldStop, *, recording, layer: str, config=None) -> dict:
    """One layer's map over training (analysis.replay.replay): ``latest = {"frame": k, "total": n,
    "coords": (n, 2) the newest frame}`` after every frame; when should_stop() turns true the frames
    so far come back as a complete result marked "stopped at frame k". Returns {"result":
    ReplayResult, "knn": k-NN accuracy of every layer per recorded epoch}."""

    config = ReplayConfig() if config is None else config

    def progress(frame: int, total: int, coords_so_far: list) -> bool:
        report(frame / total, f"frame {frame} of {total}", {"frame": frame, "total": total,
                                                             "coords": coords_so_far[-1]})
        return not should_stop()

    report(0.0, f"frame 0 of {recording.n_frames}", None)
    result = run_replay(recording, layer, config, on_progress=progress)
    return {"result": result, "knn": knn_over_training(recording)}


def finetune(report: Report, should_stop: ShouldStop, *, model_config: ModelConfig, state: dict,
             image_shape: tuple, n_classes: int, images: np.ndarray, labels, senders, dataset: str = "mnist5k",
             split_seed: int = 0, config: FinetuneConfig | None = None) -> dict:
    """Teach a copy of a model the room's handwriting (analysis.finetune): the model is rebuilt here from
    ``state`` (a copy of its weights), so the shared one never changes. ``latest`` after every epoch:
    {"epoch", "scores"}; Stop keeps the epochs done. Returns finetune's dict without the model."""
    config = FinetuneConfig() if config is None else config
    model = build_model(model_config, tuple(image_shape), int(n_classes), seed=0)
    model.load_state_dict(state)
    ds = _dataset(dataset)
    val = split_dataset(ds, seed=split_seed).val

    def on_epoch(epoch: int, scores: dict) -> bool:
        report(epoch / config.epochs, f"epoch {epoch} of {config.epochs}", {"epoch": epoch, "scores": scores})
        return not should_stop()

    report(0.0, f"epoch 0 of {config.epochs}", None)
    out = run_finetune(model, images, labels, senders, ds.images[val], ds.labels[val], config, on_epoch)
    out.pop("model")
    return out


def count(report: Report, should_stop: ShouldStop, *, n: int = 10, delay_s: float = 0.01,
          fail_at: int | None = None, ignore_stop: bool = False) -> dict[str, Any]:
    """Report ``n`` steps ``delay_s`` apart (latest: {"step", "pid"}); stop early when asked (unless
    ``ignore_stop``); raise ValueError at step ``fail_at``. Returns the steps done, the pid and
    torch's thread count."""
    done = 0
    for step in range(1, int(n) + 1):
        if not ignore_stop and should_stop():
            break
        if fail_at is not None and step == fail_at:
            raise ValueError(f"Failed at step {step} of {n}, as asked.")
        time.sleep(float(delay_s))
        done = step
        report(step / n, f"step {step} of {n}", {"step": step, "pid": os.getpid()})
    torch = sys.modules.get("torch")
    return {"steps": done, "stopped": done < n, "pid": os.getpid(),
            "torch_threads": torch.get_num_threads() if torch is not None else None}


# ---------------------------------------------------------------- memory estimates for the budget

def training_estimate(dataset: Dataset, model_config: ModelConfig, train_config: TrainConfig) -> int:
    """Bytes a training run needs (analysis.compute.budget.training_bytes), the model's size counted exactly."""
    parameters = layout(model_config, dataset.image_shape, dataset.n_classes).parameters  # built once per settings
    hidden = sum(int(u) for u in getattr(model_config, "hidden", ()) or ()) if model_config.kind == "mlp" else 0
    if model_config.kind == "cnn":  # feature maps: channels × pixels per block (before pooling), roughly
        h, w = dataset.image_shape
        hidden = sum(int(c) * h * w * 2 for c in model_config.channels)
    return budget.training_bytes(len(dataset), dataset.image_shape, parameters,
                                 batch_size=train_config.batch_size, optimizer=train_config.optimizer,
                                 hidden_floats_per_image=hidden) + recording_estimate(dataset, model_config,
                                                                                      train_config, hidden)


def recording_estimate(dataset: Dataset, model_config: ModelConfig, train_config: TrainConfig,
                       hidden_floats_per_image: int = 0) -> int:
    """Bytes the training's recording adds (analysis.recording defaults): the sample's pixels
    (float32 and uint8), one capture's full-width outputs, and the compact frames (≤ 50 float16
    per layer and point) with up to three copies in flight (snapshot, pickled, the parent's)."""

    n, pixels = RecordConfig().n_points, int(dataset.image_shape[0]) * int(dataset.image_shape[1])
    layers = 2 + (len(model_config.hidden) if model_config.kind == "mlp" else 0) \
        + (len(model_config.channels) if model_config.kind == "cnn" else 0)
    frames = 1 + min(int(train_config.epochs), MAX_RECORDED_EPOCHS)
    return n * pixels * 5 + n * (pixels + int(hidden_floats_per_image)) * 4 + frames * n * layers * MAX_DIMS * 2 * 3


def map_estimate(n_points: int, n_features: int, method: str = "tsne", perplexity: float = 30.0) -> int:
    """Bytes a map needs (analysis.compute.budget.map_bytes), with the metrics' sample used here."""
    return budget.map_bytes(n_points, n_features, method=method, perplexity=perplexity,
                            metric_sample=METRIC_SAMPLE)


class InlineExecutor:
    """The same ``run`` as analysis.compute.workers.ProcessExecutor, in the calling thread: the thread
    back end (a host where a worker process cannot run) and tests. Same allow-list."""

    def __init__(self, tasks: dict[str, str] | None = None):
        self.tasks = dict(workers.DEFAULT_TASKS if tasks is None else tasks)

    def run(self, task: str, kwargs: dict | None = None, on_progress: Callable[..., None] | None = None,
            should_stop: ShouldStop | None = None, should_finish: ShouldStop | None = None) -> Any:
        workers.check_task(task, self.tasks)

        def report(progress=None, message=None, latest=_UNSET):
            if on_progress is not None:
                on_progress(progress, message) if latest is _UNSET else on_progress(progress, message, latest)

        def stop() -> bool:
            return bool(should_stop and should_stop()) or bool(should_finish and should_finish())

        return workers.resolve_task(self.tasks[task])(report, stop, **dict(kwargs or {}))

    def shutdown(self, timeout: float = 0.0) -> None:
        """Nothing to stop (the same interface as ProcessExecutor)."""


def as_job(executor, task: str, kwargs: dict, *, memory: "budget.MemoryBudget | None" = None, nbytes: int = 0,
           holder: str = "server", label: str = "", hint: str = "try fewer points or a smaller model",
           should_finish: ShouldStop | None = None):
    """``fn(job)`` for ``JobRegistry.submit``: reserve ``nbytes`` in ``memory`` (if given; the job's
    message shows its place in line while it waits, Stop ends the wait), then
    ``executor.run(task, kwargs, on_progress=job.report, should_stop=job.should_stop)``
    (and ``should_finish``, when given: end now with a complete result, e.g. a replay's frames so far).
    NeverFits and WorkerDied end the job as failed with their plain message."""
    workers.check_task(task, executor.tasks)
    extra = {} if should_finish is None else {"should_finish": should_finish}

    def fn(job):

        token = OWNER.set(holder)  # the data this job puts into the cluster's store counts against its session's quota
        try:
            return run(job)
        finally:
            OWNER.reset(token)

    def run(job):
        if memory is None:
            return executor.run(task, kwargs, on_progress=job.report, should_stop=job.should_stop, **extra)
        with memory.reserve(nbytes, holder, label or task, hint=hint, should_stop=job.should_stop,
                            on_wait=lambda place: job.report(message=f"waiting for memory: place {place} in line")):
            job.report(message="starting")
            return executor.run(task, kwargs, on_progress=job.report, should_stop=job.should_stop, **extra)

    return fn
