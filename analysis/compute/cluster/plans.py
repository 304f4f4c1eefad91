"""What the cluster back end (analysis.compute.cluster.executor) makes of a task's kwargs: the job key, the command
line (validated config objects only, as one JSON argument), how the store's files become the
task's return value, and how a progress line becomes the payload a page draws.

The job key is a hash of the full settings (the spec's JSON), the code version and the data
version (a built-in dataset's content hash; a user's arrays' content hashes). No Streamlit, no
Ray here.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from functools import lru_cache

import numpy as np

from analysis.compute.cluster.config import Plan, code_version
from analysis.compute.jobspec import (
    DataRef,
    MapSpec,
    ReplaySpec,
    TrainSpec,
    parse_map_spec,
    parse_replay_spec,
    parse_train_spec,
    to_json,
)
from analysis.datasets import Dataset, load_dataset, split_dataset
from analysis.recording import load_with_recording, recording_bytes
from analysis.replay import ReplayConfig, ReplayResult

__all__ = ["train_plan", "project_plan", "replay_plan", "job_key", "builtin_version"]


def job_key(task: str, spec_json: str, data_version: str) -> str:
    payload = json.dumps({"task": task, "spec": spec_json, "code": code_version(), "data": data_version},
                         sort_keys=True)
    prefix = {"train": "train", "replay": "replay"}.get(task, "map")
    return f"{prefix}-{hashlib.sha256(payload.encode()).hexdigest()[:24]}"


@lru_cache(maxsize=8)
def builtin_version(name: str) -> str:
    """The content hash of a built-in dataset as this server loads it (its data version)."""
    ds = load_dataset(name)
    h = hashlib.sha256(np.ascontiguousarray(ds.images).tobytes())
    h.update(np.ascontiguousarray(ds.labels).tobytes())
    return h.hexdigest()[:16]


def replace_split(trained, ds):
    """The trained model with its split (which depends only on the data and the seed)."""

    return dataclasses.replace(trained, split=split_dataset(ds, seed=trained.train_config.seed))


def _data_ref(executor, ds: Dataset) -> DataRef:
    """A user's dataset into the store by content hash (once): only its digests travel."""
    store = executor.store
    meta = {"name": ds.name, "class_names": list(ds.class_names), "fingerprint": ds.fingerprint}
    return DataRef(images=store.put_array(ds.images), labels=store.put_array(ds.labels), meta=store.put_json(meta))



def _argv(module: str, spec_json: str, store, key: str, *flags: str) -> list:
    """A job's command line: ``python -m <module> [flags] --config JSON --code-version V --store DIR --key KEY``
    (the code version first checked by the job: a node running another NetLens says so)."""
    return ["-m", module, *flags, "--config", spec_json, "--code-version", code_version(),
            "--store", str(store.root), "--key", key]


def train_plan(executor, kwargs: dict) -> Plan:
    """analysis.compute.tasks.train's kwargs (dataset, model_config, train_config, record) as a cluster job."""
    dataset = kwargs["dataset"]
    builtin = isinstance(dataset, str)
    ds = load_dataset(dataset) if builtin else dataset
    if not isinstance(ds, Dataset):
        raise ValueError(f"Expected a built-in dataset's name or a Dataset; got {type(dataset).__name__}.")
    ref = dataset if builtin else _data_ref(executor, ds)
    spec = TrainSpec(dataset=ref, model=kwargs["model_config"], train=kwargs["train_config"],
                     record=bool(kwargs.get("record", True)))

    spec_json = to_json(spec)
    parse_train_spec(spec_json)  # what the command line will accept, checked here first
    key = job_key("train", spec_json, builtin_version(dataset) if builtin else f"{ref.images}:{ref.labels}:{ref.meta}")
    argv = _argv("analysis.train", spec_json, executor.store, key, "--progress")

    split = split_dataset(ds, seed=spec.train.seed)

    def result(files: dict):

        trained, recording = load_with_recording(files["model.safetensors"])
        trained.recording = recording
        return replace_split(trained, ds)

    def latest(msg: dict):
        return {"rows": list(msg.get("rows") or []), "state": _snapshot(executor.store, key), "split": split,
                "recording": None, "sent": msg.get("t")}  # sent: when the job printed it (wall clock)

    data = () if builtin else (ref.images, ref.labels, ref.meta)
    return Plan("train", key, argv, result, latest, data)


def _snapshot(store, key: str):
    """The weights after the newest epoch (what Stop keeps), or None."""
    data = store.get_live(key, "state.safetensors")
    if not data:
        return None
    try:
        from safetensors.torch import load

        return load(data)
    except Exception:  # noqa: BLE001 - a snapshot being replaced: the next epoch brings another
        return None


def project_plan(executor, kwargs: dict) -> Plan:
    """analysis.compute.tasks.project's kwargs (features, labels, method, perplexity, n_iter, seed)."""
    store = executor.store
    x = np.ascontiguousarray(np.asarray(kwargs["features"], dtype=np.float32).reshape(len(kwargs["features"]), -1))
    features, labels = store.put_array(x), store.put_array(np.asarray(kwargs["labels"]))
    spec = MapSpec(features=features, labels=labels, method=str(kwargs.get("method", "tsne")),
                   perplexity=float(kwargs.get("perplexity", 30.0)), n_iter=int(kwargs.get("n_iter", 750)),
                   seed=int(kwargs.get("seed", 0)))

    spec_json = to_json(spec)
    parse_map_spec(spec_json)
    key = job_key("project", spec_json, f"{features}:{labels}")
    argv = _argv("analysis.compute.cluster.maps", spec_json, store, key)

    def result(files: dict) -> dict:
        out = json.loads(files["result.json"])
        explained = None if out["explained"] is None else np.asarray(out["explained"], dtype=np.float64)
        return {"coords": np.load(io.BytesIO(files["coords.npy"]), allow_pickle=False), "explained": explained,
                "metrics": out["metrics"]}

    def latest(msg: dict):
        data = store.get_live(key, "preview.npy") if msg.get("preview") else None
        try:
            return np.load(io.BytesIO(data), allow_pickle=False) if data else None
        except ValueError:
            return None

    return Plan("project", key, argv, result, latest, (features, labels))


def replay_plan(executor, kwargs: dict) -> Plan:
    """analysis.compute.tasks.replay's kwargs (recording, layer, config): the recording goes to the store by
    content hash; the job computes the frames there (python -m analysis.compute.cluster.maps --replay)."""

    store, recording = executor.store, kwargs["recording"]
    digest = store.put_blob(recording_bytes(recording))
    spec = ReplaySpec(recording=digest, layer=str(kwargs["layer"]), config=kwargs.get("config") or ReplayConfig())
    spec_json = to_json(spec)
    parse_replay_spec(spec_json)
    key = job_key("replay", spec_json, digest)
    argv = _argv("analysis.compute.cluster.maps", spec_json, store, key, "--replay")

    def result(files: dict) -> dict:
        out = json.loads(files["result.json"])
        coords = np.load(io.BytesIO(files["coords.npy"]), allow_pickle=False)
        return {"result": ReplayResult(layer=out["layer"], method=out["method"], epochs=tuple(out["epochs"]),
                                       coords=coords, trust=tuple(out["trust"]), seconds=tuple(out["seconds"]),
                                       total_frames=int(out["total_frames"]), stopped_at=out["stopped_at"]),
                "knn": {k: tuple(v) for k, v in out["knn"].items()}}

    def latest(msg: dict):
        data = store.get_live(key, "frame.npy") if msg.get("frame") else None
        try:
            coords = np.load(io.BytesIO(data), allow_pickle=False) if data else None
        except ValueError:
            return None
        return None if coords is None else {"frame": int(msg["frame"]), "total": recording.n_frames, "coords": coords}

    return Plan("replay", key, argv, result, latest, (digest,))
