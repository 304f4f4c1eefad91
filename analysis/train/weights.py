"""Trained weights as .safetensors files: configs, class names and curves in the
metadata; anything else (pickles above all) is refused. No Streamlit here."""
from __future__ import annotations

import json
from dataclasses import asdict

import torch

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
    from safetensors.torch import load

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _refuse(f"Expected the file's bytes; got {type(data).__name__}.")
    data = bytes(data)
    if data[:1] == b"\x80" or data[:2] == b"PK":
        raise _refuse("This looks like a pickle or PyTorch .pt/.pth file; NetLens never loads those (they can run code).")
    n = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if not 2 <= n <= min(len(data) - 8, MAX_HEADER_BYTES) or data[8:9] != b"{":
        raise _refuse("This is not a .safetensors file (its header is missing or damaged).")
    try:
        header = json.loads(data[8:8 + n])
        meta = header.get("__metadata__") or {}
    except (ValueError, AttributeError):
        raise _refuse("This is not a .safetensors file (its header is not valid JSON).") from None
    if meta.get("format") != FILE_FORMAT:
        raise _refuse("This .safetensors file was not saved by NetLens (it has no NetLens metadata).")
    try:
        mc = json.loads(meta["model_config"])
        model_config = ModelConfig(**{**mc, "hidden": tuple(mc["hidden"]), "channels": tuple(mc["channels"])})
        train_config = TrainConfig(**json.loads(meta["train_config"]))
        class_names = tuple(str(c) for c in json.loads(meta["class_names"]))
        image_shape = tuple(int(s) for s in json.loads(meta["image_shape"]))
        hist = json.loads(meta["history"])
        history = History(rows=list(hist["rows"]), stopped=bool(hist["stopped"]))
        fields = {k: json.loads(meta[k]) for k in ("dataset_name", "val_accuracy", "test_accuracy", "seconds", "device")}
        fingerprint = str(json.loads(meta.get("dataset_fingerprint", '""')))
        check_config(model_config)
        check_train_config(train_config)
    except (KeyError, TypeError, ValueError) as e:
        raise _refuse(f"This file's NetLens metadata is incomplete or invalid ({type(e).__name__}: {e}).") from None
    from analysis.gate import check_weights_plan

    check_weights_plan(header, model_config, image_shape, len(class_names))  # before any model is built
    try:
        model = build_model(model_config, image_shape, len(class_names))
    except (KeyError, TypeError, ValueError) as e:
        raise _refuse(f"This file's NetLens metadata is incomplete or invalid ({type(e).__name__}: {e}).") from None
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
    return TrainedModel(
        model=model, model_config=model_config, train_config=train_config, dataset_name=str(fields["dataset_name"]),
        image_shape=image_shape, class_names=class_names, history=history,
        val_accuracy=float(fields["val_accuracy"]), test_accuracy=float(fields["test_accuracy"]),
        seconds=float(fields["seconds"]), device=str(fields["device"]), parameters=count_parameters(model),
        split=None, dataset_fingerprint=fingerprint,
    )
