"""A cluster job's settings as ONE validated JSON argument (the cluster back end's command lines,
``python -m analysis.train --config JSON`` and ``python -m analysis.compute.cluster.maps --config JSON``).

Every field of ModelConfig and TrainConfig can be given; anything else is refused with a message
that says what was expected, what came and how to fix it. A user's own data never travels as
text: a dataset is a built-in name or a :class:`DataRef` (the sha256 of its arrays and of its
class names in the store), so the command line holds only our own words, numbers and hex
digests. No Streamlit, no Ray here.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields

from analysis.checks import check_choice, check_float, check_int
from analysis.datasets import DATASETS
from analysis.models import ModelConfig, check_config
from analysis.replay import ReplayConfig, check_replay_config
from analysis.train.config import TrainConfig, check_train_config

__all__ = ["DataRef", "TrainSpec", "MapSpec", "ReplaySpec", "parse_train_spec", "parse_map_spec",
           "parse_replay_spec", "to_json"]

_HEX = re.compile(r"^[0-9a-f]{64}$")
_LAYER = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9 _.,()×-]{0,59}$"
)  # our layer names: 'hidden layer 1 (512 units)', 'conv block 2 (32×7×7)'
MAP_METHODS = ("tsne", "pca")


@dataclass(frozen=True)
class DataRef:
    """A dataset stored by content hash (analysis.compute.store): images (n, H, W) float32, labels (n,)
    int64, and a JSON {"name", "class_names", "fingerprint"}."""
    images: str
    labels: str
    meta: str


@dataclass(frozen=True)
class TrainSpec:
    dataset: str | DataRef = "mnist5k"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    record: bool = True  # keep every layer's recording over training (the replay)


@dataclass(frozen=True)
class MapSpec:
    features: str            # sha256 of the (n, d) float32 features in the store
    labels: str              # sha256 of the (n,) labels
    method: str = "tsne"     # 'tsne' | 'pca'
    perplexity: float = 30.0
    n_iter: int = 750
    seed: int = 0


@dataclass(frozen=True)
class ReplaySpec:
    recording: str           # sha256 of the training's recording (.safetensors, analysis.recording) in the store
    layer: str               # the recorded layer to map over training
    config: ReplayConfig = field(default_factory=ReplayConfig)


def to_json(spec: TrainSpec | MapSpec | ReplaySpec) -> str:
    """The spec as compact JSON with sorted keys (the same spec gives the same text)."""
    return json.dumps(asdict(spec), sort_keys=True, separators=(",", ":"))


def _object(value, where: str, allowed) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"Expected {where} to be a JSON object {{...}}; got {type(value).__name__}.")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"Unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in "
                         f"{where}: expected only {', '.join(sorted(allowed))}. Remove or rename it.")
    return value


def _digest(value, what: str) -> str:
    if not isinstance(value, str) or not _HEX.match(value):
        raise ValueError(f"Expected {what} to be a sha256 digest (64 lowercase hex digits); got {value!r}.")
    return value


def _load(text, what: str) -> dict:
    if isinstance(text, dict):
        return text
    try:
        return json.loads(text)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"Expected the {what} settings as one JSON object, e.g. "
            f"'{{\"model\": {{\"kind\": \"mlp\"}}}}'; it is not valid JSON ({e}). Quote it for the shell."
        ) from None


def _dataset(value) -> str | DataRef:
    if isinstance(value, str):
        return check_choice(value, "dataset", list(DATASETS), hint="A dataset of your own goes by its arrays' hashes.")
    d = _object(value, "dataset", [f.name for f in fields(DataRef)])
    missing = [f.name for f in fields(DataRef) if f.name not in d]
    if missing:
        raise ValueError(f"The dataset is missing {', '.join(missing)}: expected images, labels and meta digests.")
    return DataRef(**{k: _digest(v, f"dataset {k}") for k, v in d.items()})


def parse_train_spec(text) -> TrainSpec:
    """A TrainSpec from JSON text (or a dict); ValueError for anything the app would not allow."""
    d = _object(_load(text, "training"), "the training settings", [f.name for f in fields(TrainSpec)])
    m = dict(_object(d.get("model", {}), "model", [f.name for f in fields(ModelConfig)]))
    for name in ("hidden", "channels"):
        if name in m:
            if not isinstance(m[name], list):
                raise ValueError(f"Expected model {name} as a list of whole numbers, e.g. [512]; got {m[name]!r}.")
            m[name] = tuple(m[name])
    t = _object(d.get("train", {}), "train", [f.name for f in fields(TrainConfig)])
    record = d.get("record", True)
    if not isinstance(record, bool):
        raise ValueError(f"Expected record to be true or false; got {record!r}.")
    model, train = ModelConfig(**m), TrainConfig(**t)
    if "lr" in t and isinstance(t["lr"], int) and not isinstance(t["lr"], bool):
        train = TrainConfig(**{**t, "lr": float(t["lr"])})
    check_config(model)
    check_train_config(train)
    return TrainSpec(dataset=_dataset(d.get("dataset", "mnist5k")), model=model, train=train, record=record)


def parse_map_spec(text) -> MapSpec:
    """A MapSpec from JSON text (or a dict); ValueError for bad settings."""
    d = _object(_load(text, "map"), "the map settings", [f.name for f in fields(MapSpec)])
    for name in ("features", "labels"):
        if name not in d:
            raise ValueError(f"The map settings are missing {name!r}: expected the sha256 of its array in the store.")
        _digest(d[name], name)
    spec = MapSpec(**d)
    check_choice(spec.method, "method", MAP_METHODS)
    check_float(spec.perplexity, "perplexity", 1, 100, hint="e.g. 30.")
    check_int(spec.n_iter, "iterations", 250, 5000, hint="e.g. 750.")
    check_int(spec.seed, "seed", 0, 2**32 - 1)
    return MapSpec(**{**d, "perplexity": float(spec.perplexity)})


def parse_replay_spec(text) -> ReplaySpec:
    """A ReplaySpec from JSON text (or a dict); ValueError for bad settings (the layer is checked
    against the recording itself by the job)."""
    d = _object(_load(text, "replay"), "the replay settings", [f.name for f in fields(ReplaySpec)])
    if "recording" not in d or "layer" not in d:
        raise ValueError("The replay settings need 'recording' (the sha256 of the recording in the store) and "
                         "'layer' (e.g. 'logits').")
    _digest(d["recording"], "recording")
    if not isinstance(d["layer"], str) or not _LAYER.match(d["layer"]):
        raise ValueError(
            "Expected the layer's name (letters, digits, spaces; e.g. 'hidden layer 1 (512 units)'); "
            f"got {d['layer']!r}."
        )
    c = dict(_object(d.get("config", {}), "config", [f.name for f in fields(ReplayConfig)]))
    if isinstance(c.get("perplexity"), int) and not isinstance(c.get("perplexity"), bool):
        c["perplexity"] = float(c["perplexity"])
    config = ReplayConfig(**c)
    check_replay_config(config)
    check_float(config.perplexity, "perplexity", 1, 100, hint="e.g. 30.")
    return ReplaySpec(recording=d["recording"], layer=d["layer"], config=config)
