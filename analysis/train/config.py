"""Training settings: the config, the server's limits, the device, and the key under
which identical training work is shared. No Streamlit here."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import torch

from analysis.checks import check_choice, check_float, check_int
from analysis.datasets import Dataset
from analysis.models import MAX_UNITS, ModelConfig

# Server limits, so one user cannot hog a shared server (the page states them).
LIMITS = dict(
    max_epochs=50,         # epochs per run
    max_units=MAX_UNITS,   # units per hidden layer
    max_samples=70_000,    # images in a dataset (full MNIST)
    max_batch_size=1024,   # images per step
)
OPTIMIZERS = {"adam": "Adam: adapts the step size of every weight; forgiving, lr about 0.001.",
              "sgd": "Plain stochastic gradient descent: lr × gradient; try lr 0.1."}
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adam"  # 'adam' | 'sgd'
    lr: float = 1e-3         # learning rate (step size)
    batch_size: int = 64     # images per step
    epochs: int = 10         # passes over the training images
    seed: int = 0            # fixes the split, the initial weights, the order of the images, dropout
    device: str = "auto"     # 'auto' (CUDA, then Apple MPS, then CPU) | 'cpu' | 'cuda' | 'mps'


def check_train_config(config: TrainConfig) -> None:
    """ValueError for settings the app does not allow."""
    check_choice(config.optimizer, "optimizer", OPTIMIZERS)
    check_float(config.lr, "learning rate", 0, 10, include_low=False, hint="e.g. 0.001.")
    check_int(config.batch_size, "batch size", 1, LIMITS["max_batch_size"])
    check_int(config.epochs, "number of epochs", 1, LIMITS["max_epochs"])
    check_int(config.seed, "seed", 0, 2**32 - 1)
    check_choice(config.device, "device", DEVICES, hint="'auto' takes a GPU when there is one.")


def check_dataset_size(dataset: Dataset) -> None:
    """ValueError when the dataset has more images than the server allows."""
    if len(dataset.labels) > LIMITS["max_samples"]:
        raise ValueError(f"Expected at most {LIMITS['max_samples']:,} images; the dataset has "
                         f"{len(dataset.labels):,}. Use fewer images.")


def in_worker_process() -> bool:
    """True in a worker process of analysis.compute.workers: its thread count was set once, at its start."""
    return os.environ.get("NETLENS_IN_WORKER") == "1"


def cpu_threads_per_job() -> int:
    """CPU threads for one training job: half the cores, as the page runs at most two jobs at once."""
    return max(1, (os.cpu_count() or 1) // 2)


def pick_device(preference: str = "auto") -> tuple[torch.device, str]:
    """The device to train on and why, in plain words."""
    check_choice(preference, "device", DEVICES, hint="'auto' takes a GPU when there is one.")
    has_cuda = torch.cuda.is_available()
    has_mps = torch.backends.mps.is_available()
    if preference == "cpu":
        return torch.device("cpu"), "you chose the CPU"
    if preference in ("auto", "cuda") and has_cuda:
        how = "you chose the GPU" if preference == "cuda" else "found a GPU"
        return torch.device("cuda"), f"{how} ({torch.cuda.get_device_name()}), using it"
    if preference in ("auto", "mps") and has_mps:
        how = "you chose the Apple GPU" if preference == "mps" else "found an Apple GPU"
        return torch.device("mps"), f"{how} (MPS), using it"
    if preference != "auto":
        raise ValueError(f"You asked for the device {preference!r}, but this server has none. "
                         "Choose 'auto' or 'cpu'.")
    return torch.device("cpu"), "no GPU found, using the CPU"


# ---------------------------------------------------------------- shared-work key

def _model_key(c: ModelConfig) -> dict:
    key = {"kind": c.kind}  # only the settings that the kind uses
    if c.kind == "mlp":
        key.update(hidden=[int(u) for u in c.hidden], activation=c.activation, dropout=float(c.dropout))
    elif c.kind == "cnn":
        key.update(channels=[int(u) for u in c.channels], kernel_size=int(c.kernel_size), dropout=float(c.dropout))
    return key


def job_key(dataset_name, model_config: ModelConfig, train_config: TrainConfig) -> str:
    """A stable 16-hex-digit hash of everything that determines a training result: the data,
    the model settings it uses, the training settings. `dataset_name` may be the Dataset itself
    (then an uploaded zip's content fingerprint is included: pass the Dataset for uploads)."""
    if isinstance(dataset_name, Dataset):
        ds = dataset_name
        dataset_name = ds.name + (f"@{ds.fingerprint}" if ds.fingerprint else "")
    t = train_config
    payload = {"v": 1, "dataset": str(dataset_name), "model": _model_key(model_config),
               "train": {"optimizer": t.optimizer, "lr": float(t.lr), "batch_size": int(t.batch_size),
                         "epochs": int(t.epochs), "seed": int(t.seed), "device": t.device}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
