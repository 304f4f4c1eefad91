"""Training: configs, the training loop, the whole pipeline (`fit`), weights as
.safetensors, and the command line.

    python -m analysis.train --dataset mnist5k --model cnn --epochs 10 --seed 0

The data stay resident on the device as tensors and each batch is an index slice of a
seeded random order (no DataLoader). On a CUDA GPU one whole training step (forward,
loss, backward, optimizer step) is captured once as a CUDA graph and replayed for every
full batch: small nets are limited by per-step launch overhead, not by arithmetic.
No Streamlit here.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from analysis.datasets import DATASETS, Dataset, Split, load_dataset, split_dataset
from analysis.models import (MAX_UNITS, MODEL_KINDS, Dropout, ModelConfig, _as_batch, build_model, check_config,
                             count_parameters, default_config)

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
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {config.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}.")
    if not (isinstance(config.lr, (int, float)) and 0 < config.lr <= 10):
        raise ValueError(f"Expected a learning rate above 0 and at most 10 (e.g. 0.001); got {config.lr!r}.")
    for name, value, low, high in (("batch size", config.batch_size, 1, LIMITS["max_batch_size"]),
                                   ("number of epochs", config.epochs, 1, LIMITS["max_epochs"])):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise ValueError(f"Expected a {name} from {low} to {high}; got {value!r}.")
    if isinstance(config.seed, bool) or not isinstance(config.seed, (int, np.integer)) or not 0 <= config.seed < 2**32:
        raise ValueError(f"Expected a seed from 0 to {2**32 - 1}; got {config.seed!r}.")
    if config.device not in DEVICES:
        raise ValueError(f"Unknown device {config.device!r}: expected one of {', '.join(DEVICES)}.")


def _check_dataset(dataset: Dataset) -> None:
    if len(dataset.labels) > LIMITS["max_samples"]:
        raise ValueError(f"Expected at most {LIMITS['max_samples']:,} images; the dataset has "
                         f"{len(dataset.labels):,}. Use fewer images.")


def cpu_threads_per_job() -> int:
    """CPU threads for one training job: half the cores, as the page runs at most two jobs at once."""
    return max(1, (os.cpu_count() or 1) // 2)


def pick_device(preference: str = "auto") -> tuple[torch.device, str]:
    """The device to train on and why, in plain words."""
    if preference not in DEVICES:
        raise ValueError(f"Unknown device {preference!r}: expected one of {', '.join(DEVICES)}.")
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


@dataclass
class History:
    rows: list[dict] = field(default_factory=list)  # per epoch: epoch, train_loss, train_accuracy,
    #                                                 val_loss, val_accuracy, seconds
    stopped: bool = False                           # True when on_epoch stopped it early


def make_optimizer(model: nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, capturable=device.type == "cuda")
        # Its eager steps (warm-up, last partial batch) are expected: skip the once-per-instance warning.
        optimizer._warned_capturable_if_run_uncaptured = True
        return optimizer
    return torch.optim.SGD(model.parameters(), lr=config.lr)


# One process-wide lock around CUDA-graph warm-up and capture: captures from several
# threads at once fail ("operation not permitted when stream is capturing"); replays
# can run concurrently (see design.md, Training facts).
_CUDA_CAPTURE_LOCK = threading.Lock()


class EpochRunner:
    """Runs epochs over training tensors resident on one device: for each batch, an index
    slice of the given order, forward, cross-entropy, backward, optimizer step. On CUDA
    the step for full batches is a captured CUDA graph; other batches run eagerly."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, X: torch.Tensor,
                 y: torch.Tensor, batch_size: int, use_graph: bool = False):
        self.model, self.optimizer, self.X, self.y, self.batch_size = model, optimizer, X, y, batch_size
        self.loss_sum = torch.zeros((), device=X.device)                   # summed over the epoch,
        self.correct = torch.zeros((), dtype=torch.long, device=X.device)  # read once at its end
        self.graph = None
        if use_graph and len(y) >= batch_size:
            self._capture()

    def _step(self, idx: torch.Tensor) -> None:
        xb, yb = self.X.index_select(0, idx), self.y.index_select(0, idx)
        logits = self.model(xb)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        self.optimizer.step()
        self.loss_sum += loss.detach() * len(idx)
        self.correct += (logits.argmax(1) == yb).sum()

    def _capture(self) -> None:
        model, optimizer = self.model, self.optimizer
        self.static_idx = torch.arange(self.batch_size, device=self.X.device)
        saved = [p.detach().clone() for p in model.parameters()]
        with _CUDA_CAPTURE_LOCK:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up on a side stream, as the PyTorch docs do
                for _ in range(3):
                    optimizer.zero_grad(set_to_none=True)
                    self._step(self.static_idx)
            torch.cuda.current_stream().wait_stream(side)
            optimizer.zero_grad(set_to_none=True)  # grads are then allocated inside the graph
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self._step(self.static_idx)
            torch.cuda.synchronize()
        with torch.no_grad():  # undo the warm-up steps, in place (the graph holds these addresses)
            for p, p0 in zip(model.parameters(), saved):
                p.copy_(p0)
            for state in optimizer.state.values():
                for value in state.values():
                    if torch.is_tensor(value):
                        value.zero_()  # Adam's step and moments start at zero

    def run(self, order: torch.Tensor) -> tuple[float, float]:
        """One epoch over `order` (a permutation of the training indices, on the device).
        Returns the mean training loss and the training accuracy."""
        self.loss_sum.zero_()
        self.correct.zero_()
        bs, n = self.batch_size, len(order)
        n_graphed = n // bs if self.graph is not None else 0
        for i in range(n_graphed):
            self.static_idx.copy_(order[i * bs:(i + 1) * bs])
            self.graph.replay()
        for start in range(n_graphed * bs, n, bs):
            # With a graph, its gradient tensors must stay: zero them in place instead.
            self.optimizer.zero_grad(set_to_none=self.graph is None)
            self._step(order[start:start + bs])
        return self.loss_sum.item() / max(n, 1), self.correct.item() / max(n, 1)


def _to_tensors(dataset: Dataset, idx: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.from_numpy(dataset.images[idx]).unsqueeze(1)  # (n, 1, H, W); fancy indexing copies
    y = torch.from_numpy(dataset.labels[idx])
    return X.to(device), y.to(device)


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy on tensors already on the model's device."""
    if len(y) == 0:
        return float("nan"), float("nan")
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(y), batch_size):
            logits = model(X[start:start + batch_size])
            yb = y[start:start + batch_size]
            loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
    model.train(was_training)
    return loss_sum / len(y), correct / len(y)


def _check_model_fits(model: nn.Module, dataset: Dataset) -> None:
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(1, 1, *dataset.image_shape, device=next(model.parameters()).device))
    except RuntimeError as e:
        raise ValueError(f"The model does not take {dataset.image_shape[0]}×{dataset.image_shape[1]} images "
                         f"({str(e).splitlines()[0]}). Build it with build_model(config, dataset.image_shape, "
                         "dataset.n_classes).") from None
    if out.shape[1] != dataset.n_classes:
        raise ValueError(f"The model has {out.shape[1]} outputs but the dataset has {dataset.n_classes} classes. "
                         "Build it with build_model(config, dataset.image_shape, dataset.n_classes).")


def train(model: nn.Module, dataset: Dataset, split: Split, config: TrainConfig = TrainConfig(),
          on_epoch=None) -> History:
    """Train `model` in place on dataset[split.train], validating on dataset[split.val] after
    every epoch. `on_epoch(epoch, row)` is called after each epoch (row: epoch, train_loss,
    train_accuracy, val_loss, val_accuracy, seconds); returning False stops early and sets
    History.stopped. On the CPU the same seed gives the same numbers (and
    torch.set_num_threads(cpu_threads_per_job()) is applied). The model ends on the CPU in eval mode."""
    check_train_config(config)
    _check_dataset(dataset)
    if len(split.train) == 0:
        raise ValueError("Expected some training images; the split's training part is empty.")
    device, _ = pick_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(cpu_threads_per_job())
    gen = torch.Generator().manual_seed(int(config.seed))  # private: other jobs cannot disturb it
    X, y = _to_tensors(dataset, split.train, device)
    X_val, y_val = _to_tensors(dataset, split.val, device)
    model.to(device)
    _check_model_fits(model, dataset)
    dropouts = [m for m in model.modules() if isinstance(m, Dropout)]
    history = History()
    try:
        for m in dropouts:  # on CUDA, dropout draws from the default CUDA generator (graph-safe)
            m.generator = gen if device.type == "cpu" else None
        model.train()
        optimizer = make_optimizer(model, config, device)
        runner = EpochRunner(model, optimizer, X, y, config.batch_size, use_graph=device.type == "cuda")
        for epoch in range(1, config.epochs + 1):
            start = time.perf_counter()
            order = torch.randperm(len(y), generator=gen).to(device)
            model.train()
            train_loss, train_accuracy = runner.run(order)
            val_loss, val_accuracy = evaluate(model, X_val, y_val)
            row = dict(epoch=epoch, train_loss=train_loss, train_accuracy=train_accuracy,
                       val_loss=val_loss, val_accuracy=val_accuracy, seconds=time.perf_counter() - start)
            history.rows.append(row)
            if on_epoch is not None and on_epoch(epoch, dict(row)) is False:
                history.stopped = epoch < config.epochs
                break
    finally:
        for m in dropouts:
            m.generator = None
        model.zero_grad(set_to_none=True)
        model.to("cpu").eval()
    return history


def predict_proba(model: nn.Module, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Softmax probabilities (n, n_classes) float32 for images (n, H, W) in [0, 1]."""
    X = _as_batch(images)
    device = next(model.parameters()).device
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            out.append(F.softmax(model(X[start:start + batch_size].to(device)), dim=1).float().cpu().numpy())
    if not out:
        n_out = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features
        return np.zeros((0, n_out), np.float32)
    return np.concatenate(out)


@dataclass
class TrainedModel:
    model: nn.Module                 # on the CPU, eval mode; share read-only
    model_config: ModelConfig
    train_config: TrainConfig
    dataset_name: str
    image_shape: tuple[int, int]
    class_names: tuple[str, ...]
    history: History
    val_accuracy: float              # fraction in [0, 1], after the last epoch
    test_accuracy: float             # fraction in [0, 1]
    seconds: float                   # training time only
    device: str                      # 'cpu' | 'cuda' | 'mps'
    parameters: int
    split: Split | None = None       # the split it was trained on (None when loaded from a file)
    dataset_fingerprint: str = ""    # Dataset.fingerprint (uploaded data)

    @property
    def key(self) -> str:
        return job_key(self.dataset_name + (f"@{self.dataset_fingerprint}" if self.dataset_fingerprint else ""),
                       self.model_config, self.train_config)

    @property
    def file_name(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.dataset_name)
        return f"{safe}-{self.model_config.kind}-{self.key}.safetensors"


def fit(dataset: Dataset, model_config: ModelConfig = ModelConfig(), train_config: TrainConfig = TrainConfig(),
        on_epoch=None, split: Split | None = None, model: nn.Module | None = None) -> TrainedModel:
    """The whole pipeline: split (seeded by train_config.seed unless given), build, train, test.
    `model`: the model to train, if the caller needs a handle on it while it trains (e.g. to
    copy its state_dict() in on_epoch); it must be build_model(model_config, dataset.image_shape,
    dataset.n_classes, seed=train_config.seed). Built here when None."""
    check_config(model_config)
    check_train_config(train_config)
    _check_dataset(dataset)
    device, _ = pick_device(train_config.device)
    if split is None:
        split = split_dataset(dataset, seed=train_config.seed)
    if model is None:
        model = build_model(model_config, dataset.image_shape, dataset.n_classes, seed=train_config.seed)
    start = time.perf_counter()
    history = train(model, dataset, split, train_config, on_epoch)
    seconds = time.perf_counter() - start
    return _trained(model, dataset, model_config, train_config, split, history, seconds, device.type)


def _trained(model, dataset, model_config, train_config, split, history, seconds, device) -> TrainedModel:
    test_pred = predict_proba(model, dataset.images[split.test]).argmax(1)
    test_accuracy = float((test_pred == dataset.labels[split.test]).mean()) if len(split.test) else float("nan")
    return TrainedModel(
        model=model, model_config=model_config, train_config=train_config, dataset_name=dataset.name,
        image_shape=dataset.image_shape, class_names=dataset.class_names, history=history,
        val_accuracy=history.rows[-1]["val_accuracy"], test_accuracy=test_accuracy, seconds=seconds,
        device=device, parameters=count_parameters(model), split=split,
        dataset_fingerprint=dataset.fingerprint,
    )


def from_snapshot(dataset: Dataset, model_config: ModelConfig, train_config: TrainConfig, split: Split,
                  state: dict, rows: list[dict]) -> TrainedModel:
    """A TrainedModel from weights copied during training (e.g. `state_dict()` in on_epoch) and
    the epochs' rows so far: what Stop keeps. Test accuracy is computed here; history.stopped
    is True when fewer than train_config.epochs epochs ran."""
    if not rows:
        raise ValueError("Expected at least one finished epoch; got none. Wait for the first epoch to finish.")
    model = build_model(model_config, dataset.image_shape, dataset.n_classes, seed=train_config.seed)
    try:
        model.load_state_dict({k: torch.as_tensor(v).detach().to("cpu") for k, v in state.items()})
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ValueError(f"The saved weights do not fit this model ({str(e).splitlines()[0]}). "
                         "Pass the state_dict() of the model being trained.") from None
    model.eval()
    history = History(rows=[dict(r) for r in rows], stopped=len(rows) < train_config.epochs)
    device = pick_device(train_config.device)[0].type
    seconds = float(sum(r.get("seconds", 0.0) for r in rows))
    return _trained(model, dataset, model_config, train_config, split, history, seconds, device)


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


# ---------------------------------------------------------------- weights as .safetensors

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


# ---------------------------------------------------------------- command line

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.train",
        description="Train one of NetLens's models with the Training page's defaults; "
                    "prints the final metrics as one JSON line.")
    parser.add_argument("--dataset", choices=list(DATASETS), default="mnist5k")
    parser.add_argument("--model", choices=list(MODEL_KINDS), default="mlp")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--device", choices=DEVICES, default=TrainConfig.device)
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default=TrainConfig.optimizer)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--save", type=Path, metavar="DIR", help="write DIR/<dataset>-<model>-<key>.safetensors")
    args = parser.parse_args(argv)
    try:
        config = TrainConfig(optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                             epochs=args.epochs, seed=args.seed, device=args.device)
        trained = fit(load_dataset(args.dataset), default_config(args.model), config)
    except ValueError as e:
        parser.error(str(e))
    result = dict(dataset=args.dataset, model=args.model, test_accuracy=trained.test_accuracy,
                  val_accuracy=trained.val_accuracy, epochs=len(trained.history.rows),
                  seconds=round(trained.seconds, 3), device=trained.device, parameters=trained.parameters)
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
        path = args.save / trained.file_name
        path.write_bytes(save_weights(trained))
        result["saved"] = str(path)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
