"""The training loop and the whole pipeline (`fit`).

The data stay resident on the device as tensors and each batch is an index slice of a
seeded random order (no DataLoader). On a CUDA GPU one whole training step (forward,
loss, backward, optimizer step) is captured once as a CUDA graph and replayed for every
full batch: small nets are limited by per-step launch overhead, not by arithmetic.
No Streamlit here.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from analysis.datasets import Dataset, Split, split_dataset
from analysis.models import (
    Dropout,
    ModelConfig,
    build_model,
    check_config,
    count_parameters,
    infer,
    n_outputs,
)
from analysis.train.config import (
    TrainConfig,
    check_dataset_size,
    check_train_config,
    cpu_threads_per_job,
    in_worker_process,
    job_key,
    pick_device,
)


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
    check_dataset_size(dataset)
    if len(split.train) == 0:
        raise ValueError("Expected some training images; the split's training part is empty.")
    device, _ = pick_device(config.device)
    if device.type == "cpu" and not in_worker_process():  # a worker's thread count is set at its start
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
    out = infer(model, images, lambda x: F.softmax(model(x), dim=1).float().cpu().numpy(), batch_size)
    return np.concatenate(out) if out else np.zeros((0, n_outputs(model)), np.float32)


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
    # analysis.recording.Recording of its training (None: not recorded); not part of equality or the key
    recording: Any = field(default=None, compare=False, repr=False)

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
    check_dataset_size(dataset)
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
