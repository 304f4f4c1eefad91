"""Trained weights as .safetensors files: configs, class names and curves in the
metadata; anything else (pickles above all) is refused. No Streamlit here."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import torch

from analysis import gate, models
from analysis.datasets import MAX_IMAGE_SIDE
from analysis.models import ModelConfig, build_model, check_config, count_parameters
from analysis.train.config import TrainConfig, check_train_config
from analysis.train.loop import History, TrainedModel

FILE_FORMAT = "netlens-weights"
MAX_HEADER_BYTES = 10_000_000


def save_weights(trained: TrainedModel) -> bytes:
    """The trained weights as .safetensors bytes; configs, dataset, class names, image shape,
    accuracies and the training curves in its metadata (JSON strings)."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in trained.model.state_dict().items()}
    metadata = {
        "format": FILE_FORMAT, "version": "1",
        "model_config": json.dumps(asdict(trained.model_config)),
        "train_config": json.dumps(asdict(trained.train_config)),
        "dataset_name": json.dumps(trained.dataset_name),
        "dataset_fingerprint": json.dumps(trained.dataset_fingerprint),
        "class_names": json.dumps(list(trained.class_names)),
        "image_shape": json.dumps(list(trained.image_shape)),
        "val_accuracy": json.dumps(trained.val_accuracy),
        "test_accuracy": json.dumps(trained.test_accuracy),
        "seconds": json.dumps(trained.seconds),
        "device": json.dumps(trained.device),
        "history": json.dumps({"rows": trained.history.rows, "stopped": trained.history.stopped}),
    }
    return save(tensors, metadata=metadata)


def _refuse(what: str) -> ValueError:
    return ValueError(f"{what} Upload a .safetensors file downloaded from NetLens's Training page.")


def load_weights(data: bytes) -> TrainedModel:
    """A TrainedModel from save_weights() bytes. Anything else (pickles, other safetensors
    files, damaged files, wrong shapes) is refused with a ValueError. Never unpickles."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _refuse(f"Expected the file's bytes; got {type(data).__name__}.")
    data = bytes(data)
    header = _read_header(data)
    m = _read_metadata(header["__metadata__"])
    check_weights_plan(header, m.model_config, m.image_shape, len(m.class_names))  # before any model is built
    try:
        model = build_model(m.model_config, m.image_shape, len(m.class_names))
    except (KeyError, TypeError, ValueError) as e:
        raise _refuse(f"This file's NetLens metadata is incomplete or invalid ({type(e).__name__}: {e}).") from None
    _load_tensors(model, data)
    f = m.fields
    return TrainedModel(
        model=model, model_config=m.model_config, train_config=m.train_config, dataset_name=str(f["dataset_name"]),
        image_shape=m.image_shape, class_names=m.class_names, history=m.history,
        val_accuracy=float(f["val_accuracy"]), test_accuracy=float(f["test_accuracy"]),
        seconds=float(f["seconds"]), device=str(f["device"]), parameters=count_parameters(model),
        split=None, dataset_fingerprint=m.fingerprint,
    )


def _read_header(data: bytes) -> dict:
    """The safetensors header (JSON) of a file NetLens saved; its metadata under "__metadata__"."""
    n = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if not 2 <= n <= min(len(data) - 8, MAX_HEADER_BYTES) or data[8:9] != b"{":
        # (a safetensors header's length may itself start with byte 0x80: only a file that is not one is a pickle)
        if data[:1] == b"\x80" or data[:2] == b"PK":
            raise _refuse("This looks like a pickle or PyTorch .pt/.pth file; NetLens never loads those "
                          "(they can run code).")
        raise _refuse("This is not a .safetensors file (its header is missing or damaged).")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError:
        raise _refuse("This is not a .safetensors file (its header is not valid JSON).") from None
    if not isinstance(header, dict) or not isinstance(header.setdefault("__metadata__", {}), dict):
        raise _refuse("This is not a .safetensors file (its header is not a JSON object of tensors and metadata).")
    if header["__metadata__"].get("format") != FILE_FORMAT:
        raise _refuse("This .safetensors file was not saved by NetLens (it has no NetLens metadata).")
    return header


@dataclass(frozen=True)
class _Metadata:
    model_config: ModelConfig
    train_config: TrainConfig
    class_names: tuple[str, ...]
    image_shape: tuple[int, ...]
    history: History
    fields: dict  # dataset_name, val_accuracy, test_accuracy, seconds, device
    fingerprint: str


def _read_metadata(meta: dict) -> _Metadata:
    """The configs, classes, shape and curves save_weights() wrote, each checked."""
    try:
        mc = json.loads(meta["model_config"])
        model_config = ModelConfig(**{**mc, "hidden": tuple(mc["hidden"]), "channels": tuple(mc["channels"])})
        train_config = TrainConfig(**json.loads(meta["train_config"]))
        hist = json.loads(meta["history"])
        found = _Metadata(
            model_config=model_config, train_config=train_config,
            class_names=tuple(str(c) for c in json.loads(meta["class_names"])),
            image_shape=tuple(int(s) for s in json.loads(meta["image_shape"])),
            history=History(rows=list(hist["rows"]), stopped=bool(hist["stopped"])),
            fields={k: json.loads(meta[k]) for k in ("dataset_name", "val_accuracy", "test_accuracy", "seconds",
                                                     "device")},
            fingerprint=str(json.loads(meta.get("dataset_fingerprint", '""'))))
        check_config(model_config)
        check_train_config(train_config)
    except (KeyError, TypeError, ValueError) as e:
        raise _refuse(f"This file's NetLens metadata is incomplete or invalid ({type(e).__name__}: {e}).") from None
    return found


def _load_tensors(model: torch.nn.Module, data: bytes) -> None:
    """The file's tensors into `model`, each name, shape and dtype checked first; then eval mode."""
    from safetensors.torch import load

    try:
        tensors = load(data)
    except Exception as e:  # safetensors raises its own error type
        raise _refuse(f"This .safetensors file is damaged ({e}).") from None
    expected = model.state_dict()
    if set(tensors) != set(expected):
        raise _refuse(f"The file's weights ({', '.join(sorted(tensors))}) do not match its model "
                      f"({', '.join(sorted(expected))}).")
    for k, v in tensors.items():
        if v.shape != expected[k].shape or v.dtype != torch.float32:
            raise _refuse(f"Weight {k!r} is {v.dtype} {tuple(v.shape)}; the model needs float32 "
                          f"{tuple(expected[k].shape)}.")
    model.load_state_dict(tensors)
    model.eval()


def check_weights_plan(header: dict, model_config, image_shape: tuple, n_classes: int) -> None:
    """Before any model is built: ``image_shape`` within the app's maximum input size
    (1…64 per side, analysis.datasets.MAX_IMAGE_SIDE), 2…gate.MAX_CLASSES classes, and the model the
    metadata describes (built on PyTorch's "meta" device: shapes only, no memory) matching the
    header's tensors name by name and shape by shape, at most gate.MAX_PARAMETERS in all."""
    if len(image_shape) != 2 or not all(1 <= s <= MAX_IMAGE_SIDE for s in image_shape):
        raise ValueError(f"This file's image size {tuple(image_shape)} is outside what NetLens trains on "
                         f"(1 to {MAX_IMAGE_SIDE} pixels per side). {gate.WEIGHTS_FIX}")
    if not 2 <= n_classes <= gate.MAX_CLASSES:
        raise ValueError(
            f"This file names {n_classes:,} classes; NetLens models have 2 to {gate.MAX_CLASSES}. {gate.WEIGHTS_FIX}"
        )
    declared = {k: v for k, v in header.items() if k != "__metadata__" and not k.startswith("recording.")}
    shapes = {}
    for k, v in declared.items():
        shape = v.get("shape") if isinstance(v, dict) else None
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise ValueError(f"This file's header is damaged (tensor {k!r} has no valid shape). {gate.WEIGHTS_FIX}")
        if v.get("dtype") != "F32":
            raise ValueError(f"Weight {k!r} is {v.get('dtype')}; NetLens saves float32 weights. {gate.WEIGHTS_FIX}")
        shapes[k] = tuple(shape)
    with torch.device("meta"):  # shapes only: nothing is allocated
        expected = {
            k: tuple(t.shape) for k, t in models.build_model(model_config, image_shape, n_classes).state_dict().items()
        }
    implied = sum(int(np.prod(s)) for s in expected.values())
    if implied > gate.MAX_PARAMETERS:
        raise ValueError(f"This file describes a model of {implied:,} parameters; NetLens builds at most "
                         f"{gate.MAX_PARAMETERS:,}. {gate.WEIGHTS_FIX}")
    if shapes != expected:
        wrong = sorted(set(shapes) ^ set(expected)) or sorted(k for k in shapes if shapes[k] != expected[k])
        raise ValueError(f"The file's weights do not match the model its metadata describes (first difference: "
                         f"{wrong[0]!r}). {gate.WEIGHTS_FIX}")
