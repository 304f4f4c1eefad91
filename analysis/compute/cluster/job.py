"""The job side of the cluster back end: what ``python -m analysis.train --config … --store … --key …``
and ``python -m analysis.compute.cluster.maps …`` do on a cluster node (analysis.compute.cluster.executor submits them).

- Progress: one JSON line per epoch (or t-SNE step) on stdout, ``{"netlens": "progress", "progress":
  0.3, "message": "epoch 3 of 10", ...}``; the app servers read them from the job's logs. Bulky
  intermediate payloads (a weights snapshot, a map preview) go to ``live/<key>/`` in the store.
- Stop: the job polls the watcher leases of its key (analysis.compute.store) and stops itself when no app
  server renewed one within LEASE_S (30 s): nobody anywhere watches it any more.
- Result: written to the store under the key, atomically with checksums (analysis.compute.store.Store.put),
  then one final ``{"netlens": "done", ...}`` line. A stopped job writes no result.

No Streamlit, no Ray here.
"""
from __future__ import annotations

import io
import json
import os
import sys
import time
from typing import Any

import numpy as np

from analysis.compute import tasks
from analysis.compute.cluster.config import VERSION_EXIT, code_version
from analysis.compute.jobspec import DataRef, MapSpec, ReplaySpec, TrainSpec
from analysis.compute.store import LEASE_S, Store
from analysis.datasets import _make_dataset, load_dataset
from analysis.recording import recording_from_bytes, save_with_recording

__all__ = ["emit", "LeaseWatch", "dataset_for", "train_job", "map_job", "replay_job", "npy_bytes", "STOPPED_EXIT",
           "FINISH"]

STOPPED_EXIT = 3  # the exit status of a job that stopped because no one watched it
FINISH = "finish"  # live/<key>/finish: a watcher pressed Stop; keep the frames so far as the (complete) result
_UNSET = object()


def emit(kind: str, **fields) -> None:
    """One JSON line on stdout (flushed: the app servers read it from the job's logs); ``t``: when."""
    print(json.dumps({"netlens": kind, "t": round(time.time(), 3), **fields}, default=float), flush=True)


def same_version(expected: str | None) -> int | None:
    """A job's first check: None when this node's NetLens is the app server's (``expected``, the
    ``--code-version`` it passed; None when not given), else VERSION_EXIT after saying so."""
    if expected is None or expected == code_version():
        return None
    emit("version-mismatch", node=code_version(), app=expected)
    return VERSION_EXIT


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


class LeaseWatch:
    """``should_stop()`` for a job on the cluster: true once no app server's lease on ``key`` is
    fresher than ``max_age_s`` (checked at most every ``every_s``)."""

    def __init__(self, store: Store, key: str, max_age_s: float | None = None, every_s: float = 1.0):
        self.store, self.key, self.every_s = store, key, every_s
        self.max_age_s = float(os.environ.get("NETLENS_LEASE_S", LEASE_S)) if max_age_s is None else max_age_s
        self._checked, self._stop = 0.0, False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self._stop and now - self._checked >= self.every_s:
            self._checked = now
            self._stop = self.store.fresh_leases(self.key, self.max_age_s) == 0
        return self._stop


def dataset_for(ref: str | DataRef, store: Store | None):
    """The Dataset a spec names: a built-in one by name, or a user's arrays from the store."""

    if isinstance(ref, str):
        return load_dataset(ref)
    if store is None:
        raise ValueError("A dataset given by its hashes needs --store: the folder that holds its arrays.")
    meta = store.get_json(ref.meta)
    return _make_dataset(str(meta["name"]), store.get_array(ref.images), store.get_array(ref.labels),
                         tuple(str(c) for c in meta["class_names"]), str(meta.get("fingerprint", "")))


def _state_bytes(state: dict) -> bytes:
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in state.items()})


def train_job(spec: TrainSpec, store: Store | None, key: str | None, progress: bool = True):
    """Train as analysis.compute.tasks.train does, printing progress lines; with a store and a key, the
    weights snapshot of every epoch goes to live/<key>/ and the result to results/<key>/.
    Returns (the TrainedModel, whether it stopped because no one watched)."""

    should_stop = LeaseWatch(store, key) if store is not None and key else (lambda: False)

    def report(p=None, message=None, latest: Any = _UNSET):
        rows = latest.get("rows") if isinstance(latest, dict) else None
        if latest is not _UNSET and rows and store is not None and key and latest.get("state") is not None:
            store.put_live(key, "state.safetensors", _state_bytes(latest["state"]))
        if progress and rows:
            emit("progress", progress=p, message=message, rows=rows)

    trained = tasks.train(report, should_stop, dataset=dataset_for(spec.dataset, store), model_config=spec.model,
                          train_config=spec.train, record=spec.record)
    stopped = bool(should_stop())
    if store is not None and key and not stopped:

        metrics = {"test_accuracy": trained.test_accuracy, "val_accuracy": trained.val_accuracy,
                   "epochs": len(trained.history.rows), "seconds": trained.seconds, "device": trained.device,
                   "parameters": trained.parameters}
        store.put(key, {"model.safetensors": save_with_recording(trained, trained.recording),
                        "metrics.json": json.dumps(metrics).encode()}, meta={"task": "train"})
    return trained, stopped


def map_job(spec: MapSpec, store: Store, key: str) -> bool:
    """The map of the features in the store (analysis.compute.tasks.project); previews to live/<key>/
    preview.npy as the map forms, the result (coords.npy, result.json) to results/<key>/.
    Returns False when it stopped because no one watched."""

    should_stop = LeaseWatch(store, key)

    def report(p=None, message=None, latest: Any = _UNSET):
        if isinstance(latest, np.ndarray):
            store.put_live(key, "preview.npy", npy_bytes(latest.astype(np.float32)))
        emit("progress", progress=p, message=message, preview=isinstance(latest, np.ndarray))

    out = tasks.project(report, should_stop, features=store.get_array(spec.features),
                        labels=store.get_array(spec.labels), method=spec.method, perplexity=spec.perplexity,
                        n_iter=spec.n_iter, seed=spec.seed)
    if should_stop():
        return False
    explained = None if out["explained"] is None else [float(v) for v in np.asarray(out["explained"]).ravel()]
    store.put(key, {"coords.npy": npy_bytes(np.asarray(out["coords"], dtype=np.float32)),
                    "result.json": json.dumps({"explained": explained, "metrics": out["metrics"]}).encode()},
              meta={"task": "project"})
    return True


def replay_job(spec: ReplaySpec, store: Store, key: str) -> bool:
    """One layer's map over training (analysis.compute.tasks.replay) of the recording in the store: the
    newest frame to live/<key>/frame.npy after each, the result (coords.npy, result.json) to
    results/<key>/. Stop from a watcher (live/<key>/finish) ends it after the frame being
    computed, the frames so far stored as a complete result "stopped at frame k". Returns False
    when it stopped because no one watched (no result)."""

    recording = recording_from_bytes(store.get_blob(spec.recording))
    if spec.layer not in recording.layer_names:
        raise ValueError(f"Unknown layer {spec.layer!r}: the recording has {', '.join(recording.layer_names)}.")
    store.drop_live(key, FINISH)  # a Stop from an earlier run of this key is not this run's
    unwatched = LeaseWatch(store, key)

    def should_stop() -> bool:
        return unwatched() or store.get_live(key, FINISH) is not None

    def report(p=None, message=None, latest: Any = _UNSET):
        if isinstance(latest, dict):
            store.put_live(key, "frame.npy", npy_bytes(np.asarray(latest["coords"], dtype=np.float32)))
        emit("progress", progress=p, message=message, frame=latest.get("frame") if isinstance(latest, dict) else None)

    out = tasks.replay(report, should_stop, recording=recording, layer=spec.layer, config=spec.config)
    if unwatched():
        return False
    r = out["result"]
    meta = {"layer": r.layer, "method": r.method, "epochs": list(r.epochs), "trust": list(r.trust),
            "seconds": list(r.seconds), "total_frames": r.total_frames, "stopped_at": r.stopped_at,
            "knn": {k: list(v) for k, v in out["knn"].items()}}
    store.put(key, {"coords.npy": npy_bytes(r.coords), "result.json": json.dumps(meta).encode()},
              meta={"task": "replay"})
    return True


def set_threads() -> None:
    """A cluster job uses the CPUs it reserved (OMP_NUM_THREADS, set by analysis.compute.cluster.executor)."""
    n = os.environ.get("OMP_NUM_THREADS")
    if n and n.isdigit() and int(n) > 0:
        import torch

        torch.set_num_threads(int(n))


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 2
