"""Recordings of training: every layer's output for a fixed sample of test digits,
before the first epoch and after each (recorded) epoch, stored compactly.

    split = split_dataset(dataset, seed=train_config.seed)
    model = build_model(model_config, dataset.image_shape, dataset.n_classes, seed=train_config.seed)
    recorder = Recorder(dataset, split, train_config)
    recorder.start(model)                                  # frame 0: before the first epoch
    trained = fit(dataset, model_config, train_config, on_epoch=recorder.chain(on_epoch),
                  split=split, model=model)
    recording = recorder.result()                          # or recorder.snapshot() while it trains

or all of it at once: ``fit_recorded(dataset, model_config, train_config, on_epoch)``.

Compact: each layer is reduced to at most 50 dimensions by PCA (a seeded randomized range
finder, two power iterations; later epochs warm-start from the layer's previous basis, one
pass) and kept as float16; the pixels are stored once (their PCA, the images as uint8); at
most 20 epochs are recorded, evenly spaced when training runs longer. A snapshot copies
nothing: read-only views of the frames so far in one preallocated buffer per layer. Recording
does not change the training (it reads the model in eval mode between epochs and draws no
random numbers from the training's generators). No Streamlit here.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import numpy as np
import torch

from analysis.datasets import Dataset, Split, split_dataset
from analysis.embedding import stratified_sample
from analysis.models import ModelConfig, build_model, representations
from analysis.randomized_pca import MAX_DIMS, reduce_dims, reduce_dims_warm
from analysis.train import TrainConfig, TrainedModel, fit, load_weights, save_weights

__all__ = ["RecordConfig", "Recording", "Recorder", "recorded_epochs", "reduce_dims", "fit_recorded",
           "replay_unavailable", "to_tensors", "from_tensors", "split_tensors", "save_with_recording",
           "load_with_recording", "TENSOR_PREFIX"]

TENSOR_PREFIX = "recording."
FORMAT_VERSION = 1
MAX_RECORDED_EPOCHS = 20   # after epoch 0
MAX_HEADER_BYTES = 10_000_000  # a .safetensors header larger than this is refused (as load_weights does)
CAPTURE_BATCH = 250        # images per forward pass while recording (bounds a convnet's transient memory)
_F16_MAX = float(np.finfo(np.float16).max)


@dataclass(frozen=True)
class RecordConfig:
    n_points: int = 1000                     # test digits recorded (stratified; capped at the test set's size)
    max_epochs: int = MAX_RECORDED_EPOCHS    # recorded epochs after epoch 0, evenly spaced when there are more
    dims: int = MAX_DIMS                     # PCA dimensions kept per layer
    seed: int = 0                            # picks the sample and seeds the randomized PCA


def _check_record_config(config: RecordConfig) -> None:
    for name, value, low, high in (("n_points", config.n_points, 10, 20_000),
                                   ("max_epochs", config.max_epochs, 1, MAX_RECORDED_EPOCHS),
                                   ("dims", config.dims, 2, MAX_DIMS)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise ValueError(f"Expected RecordConfig.{name} from {low} to {high}; got {value!r}.")
    if isinstance(config.seed, bool) or not isinstance(config.seed, (int, np.integer)) or config.seed < 0:
        raise ValueError(f"Expected RecordConfig.seed to be a whole number >= 0; got {config.seed!r}.")


def recorded_epochs(total_epochs: int, max_epochs: int = MAX_RECORDED_EPOCHS) -> tuple[int, ...]:
    """The epochs a recording keeps: 0 (before training), then every epoch up to
    `max_epochs` of them, or `max_epochs` evenly spaced ones ending with the last."""
    total, most = int(total_epochs), int(max_epochs)
    if total < 1 or most < 1:
        raise ValueError(f"Expected at least 1 epoch and 1 recorded epoch; got {total_epochs!r}, {max_epochs!r}.")
    if total <= most:
        return tuple(range(total + 1))
    return (0,) + tuple(int(np.ceil(i * total / most)) for i in range(1, most + 1))


def _f16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -_F16_MAX, _F16_MAX).astype(np.float16)


def _grown(buffer: np.ndarray | None, count: int, capacity: int, shape: tuple) -> np.ndarray:
    """A float16 frame buffer with room for at least `capacity` frames and one more, its first `count` kept."""
    grown = np.empty((max(capacity, count + 1), *shape), np.float16)
    if count:
        grown[:count] = buffer[:count]
    return grown


def _frozen(x: np.ndarray) -> np.ndarray:
    """A read-only view of x (what snapshots hand out: shared, never copied, never changed)."""
    view = x.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class Recording:
    epochs: tuple[int, ...]            # recorded epochs; 0 = before the first epoch
    total_epochs: int                  # epochs the training was set up for
    indices: np.ndarray                # (n,) int64: the sample's indices into the dataset (its test split)
    labels: np.ndarray                 # (n,) int64
    images: np.ndarray                 # (n, H, W) uint8: the sample's pixels, once
    pixels: np.ndarray                 # (n, <=50) float16: the pixels' PCA, once
    layers: dict = field(default_factory=dict)  # name -> (frames, n, <=50) float16, in the model's order

    @property
    def n_points(self) -> int:
        return len(self.labels)

    @property
    def n_frames(self) -> int:
        return len(self.epochs)

    @property
    def layer_names(self) -> list[str]:
        """'pixels', then every recorded layer (hidden/conv blocks, 'logits', 'probabilities')."""
        return ["pixels", *self.layers]

    @property
    def nbytes(self) -> int:
        arrays = [self.indices, self.labels, self.images, self.pixels, *self.layers.values()]
        return int(sum(a.nbytes for a in arrays))

    @property
    def stopped(self) -> bool:
        """True when training ended before its last planned recording."""
        return self.epochs[-1] < self.total_epochs

    def features(self, layer: str, frame: int) -> np.ndarray:
        """(n, <=50) float32 features of `layer` at frame `frame` (the pixels are the same in every frame)."""
        if not 0 <= int(frame) < self.n_frames:
            raise ValueError(f"Expected a frame from 0 to {self.n_frames - 1}; got {frame!r}.")
        if layer == "pixels":
            return self.pixels.astype(np.float32)
        if layer not in self.layers:
            raise ValueError(f"Unknown layer {layer!r}: expected one of {', '.join(self.layer_names)}.")
        return self.layers[layer][int(frame)].astype(np.float32)


def replay_unavailable(recording: Recording | None) -> str | None:
    """Why a model's training cannot be replayed, in plain words; None when it can."""
    if recording is None:
        return ("This model has no recording of its training (it was loaded from a file saved without one, "
                "or trained before recording existed). Train it here, or with `--record` on the command line.")
    if recording.n_frames < 2:
        return "Training stopped before its first epoch finished: there is only the starting point, nothing to replay."
    return None


class Recorder:
    """Records a model's layers for a fixed stratified sample of test digits. Call `start(model)`
    before training (frame 0), pass `on_epoch` (or `chain(your_on_epoch)`) to `fit`, then
    `result()`. `snapshot()` gives the frames so far from any thread (what Stop keeps)."""

    def __init__(self, dataset: Dataset, split: Split | None = None, train_config: TrainConfig = TrainConfig(),
                 config: RecordConfig = RecordConfig()):
        _check_record_config(config)
        split = split if split is not None else split_dataset(dataset, seed=train_config.seed)
        if len(split.test) < 10:
            raise ValueError(f"Expected at least 10 test images to record; the split has {len(split.test)}. "
                             "Use a larger dataset.")
        pick = stratified_sample(dataset.labels[split.test], int(config.n_points), random_state=int(config.seed))
        self.indices = _frozen(np.array(split.test[pick], dtype=np.int64))
        self.labels = _frozen(np.array(dataset.labels[self.indices], dtype=np.int64))
        self._images = np.ascontiguousarray(dataset.images[self.indices], dtype=np.float32)
        self._uint8 = _frozen(np.round(self._images * 255).clip(0, 255).astype(np.uint8))
        self.config = config
        self.total_epochs = int(train_config.epochs)
        self.planned = recorded_epochs(self.total_epochs, config.max_epochs)
        self._epochs: list[int] = []
        self._frames: dict[str, np.ndarray] = {}  # name -> (capacity, n, dims) float16; the first len(_epochs) filled
        self._bases: dict[str, torch.Tensor] = {}  # name -> its PCA basis last epoch (the warm start)
        self._pixels: np.ndarray | None = None
        self._model = None
        self._lock = threading.Lock()

    def start(self, model: torch.nn.Module) -> None:
        """Record frame 0 (the untrained model) and remember the model for later epochs."""
        self._model = model
        self._capture(0)

    def on_epoch(self, epoch: int, row: dict | None = None) -> None:
        """fit's on_epoch: records the epoch when it is one of the planned ones. Never stops training."""
        if self._model is None:
            raise ValueError("Call Recorder.start(model) before training: frame 0 is the untrained model.")
        if int(epoch) in self.planned and int(epoch) not in self._epochs:
            self._capture(int(epoch))

    def chain(self, on_epoch=None):
        """An on_epoch for fit that records, then calls `on_epoch` (if any) and returns its answer."""
        def both(epoch, row):
            self.on_epoch(epoch, row)
            answer = None if on_epoch is None else on_epoch(epoch, row)
            if answer is False and int(epoch) not in self._epochs:  # stopped between planned epochs:
                self._capture(int(epoch))                          # keep where it stopped
            return answer
        return both

    def _capture(self, epoch: int) -> None:
        was_training = self._model.training
        reps = representations(self._model, self._images, batch_size=CAPTURE_BATCH)  # eval mode, no gradients
        self._model.train(was_training)
        dims, seed, frame = self.config.dims, int(self.config.seed), {}
        for name, x in reps.items():
            if name != "pixels":
                coords, self._bases[name] = reduce_dims_warm(x, dims, seed, self._bases.get(name))
                frame[name] = _f16(coords)
        pixels = _frozen(_f16(reduce_dims(reps["pixels"], dims, seed))) if self._pixels is None else self._pixels
        with self._lock:
            count = len(self._epochs)
            for name, x in frame.items():
                if name not in self._frames or count == len(self._frames[name]):  # every planned epoch + a stop
                    self._frames[name] = _grown(self._frames.get(name), count, len(self.planned) + 1, x.shape)
                self._frames[name][count] = x
            self._pixels = pixels
            self._epochs.append(epoch)

    def snapshot(self) -> Recording | None:
        """The frames so far as a Recording (None before `start`): read-only views, no copies."""
        with self._lock:
            if not self._epochs:
                return None
            count = len(self._epochs)
            layers = {name: _frozen(buffer[:count]) for name, buffer in self._frames.items()}
            epochs, pixels = tuple(self._epochs), self._pixels
        return Recording(epochs=epochs, total_epochs=self.total_epochs, indices=self.indices, labels=self.labels,
                         images=self._uint8, pixels=pixels, layers=layers)

    def result(self) -> Recording:
        rec = self.snapshot()
        if rec is None:
            raise ValueError("Nothing recorded: call Recorder.start(model) before training.")
        return rec


def fit_recorded(dataset: Dataset, model_config: ModelConfig = ModelConfig(),
                 train_config: TrainConfig = TrainConfig(), on_epoch=None, split: Split | None = None,
                 record: RecordConfig = RecordConfig()) -> tuple[TrainedModel, Recording]:
    """fit() with a recording: the same model, numbers and on_epoch behaviour as fit()."""
    split = split if split is not None else split_dataset(dataset, seed=train_config.seed)
    model = build_model(model_config, dataset.image_shape, dataset.n_classes, seed=train_config.seed)
    recorder = Recorder(dataset, split, train_config, record)
    recorder.start(model)
    trained = fit(dataset, model_config, train_config, on_epoch=recorder.chain(on_epoch), split=split, model=model)
    return trained, recorder.result()


# ---------------------------------------------------------------- as a flat dict of arrays (safetensors)

def to_tensors(recording: Recording) -> dict[str, np.ndarray]:
    """The recording as a flat dict of NumPy arrays, every key starting with TENSOR_PREFIX, for a
    .safetensors file next to the weights (torch.from_numpy each value for safetensors.torch)."""
    p = TENSOR_PREFIX
    out = {f"{p}version": np.array([FORMAT_VERSION], np.int64),
           f"{p}epochs": np.array(recording.epochs, np.int64),
           f"{p}total_epochs": np.array([recording.total_epochs], np.int64),
           f"{p}indices": np.ascontiguousarray(recording.indices, np.int64),
           f"{p}labels": np.ascontiguousarray(recording.labels, np.int64),
           f"{p}images": np.ascontiguousarray(recording.images, np.uint8),
           f"{p}pixels": np.ascontiguousarray(recording.pixels, np.float16)}
    for i, (name, frames) in enumerate(recording.layers.items()):
        out[f"{p}layer.{i:02d}.{name}"] = np.ascontiguousarray(frames, np.float16)
    return out


def split_tensors(tensors: dict) -> tuple[dict, dict]:
    """(weights, recording tensors): a loaded .safetensors dict split by TENSOR_PREFIX."""
    rec = {k: v for k, v in tensors.items() if k.startswith(TENSOR_PREFIX)}
    return {k: v for k, v in tensors.items() if not k.startswith(TENSOR_PREFIX)}, rec


def _refuse(what: str) -> ValueError:
    return ValueError(f"The file's training recording is damaged: {what} Save the model again from NetLens.")


def _array(tensors: dict, key: str, dtype, ndim: int) -> np.ndarray:
    if TENSOR_PREFIX + key not in tensors:
        raise _refuse(f"{TENSOR_PREFIX + key!r} is missing.")
    value = tensors[TENSOR_PREFIX + key]
    arr = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    if arr.dtype != dtype or arr.ndim != ndim:
        raise _refuse(f"{key!r} is {arr.dtype} with {arr.ndim} dimensions; expected {np.dtype(dtype)} with {ndim}.")
    return arr


def _layers_from(tensors: dict, n_frames: int, n: int) -> dict[str, np.ndarray]:
    keyed = {}
    for key in tensors:
        if key.startswith(TENSOR_PREFIX + "layer."):
            order, _, name = key[len(TENSOR_PREFIX + "layer."):].partition(".")
            if not order.isdigit() or not name:
                raise _refuse(f"the layer entry {key!r} is not '<prefix>layer.<nn>.<name>'.")
            keyed[int(order)] = (name, _array(tensors, key[len(TENSOR_PREFIX):], np.float16, 3))
    layers = {}
    for order in sorted(keyed):
        name, arr = keyed[order]
        if arr.shape[0] != n_frames or arr.shape[1] != n or not 1 <= arr.shape[2] <= MAX_DIMS:
            raise _refuse(f"layer {name!r} has shape {arr.shape}; expected ({n_frames}, {n}, 1..{MAX_DIMS}).")
        layers[name] = arr
    if not layers:
        raise _refuse("it has no layers.")
    return layers


def from_tensors(tensors: dict) -> Recording | None:
    """A Recording from to_tensors()' arrays (NumPy arrays or torch tensors; other keys are
    ignored). None when there is no recording; ValueError when it is damaged."""
    _, tensors = split_tensors(tensors)
    if not tensors:
        return None
    version = _array(tensors, "version", np.int64, 1)
    if version.tolist() != [FORMAT_VERSION]:
        raise _refuse(f"format version {version.tolist()}, expected [{FORMAT_VERSION}].")
    epochs = tuple(int(e) for e in _array(tensors, "epochs", np.int64, 1))
    total = _array(tensors, "total_epochs", np.int64, 1)
    if len(total) != 1 or not epochs or epochs[0] != 0 or any(b <= a for a, b in zip(epochs, epochs[1:])) \
            or epochs[-1] > int(total[0]) or len(epochs) > MAX_RECORDED_EPOCHS + 1:
        raise _refuse(f"its epochs {list(epochs)} are not 0 then increasing, at most {MAX_RECORDED_EPOCHS} more.")
    indices, labels = _array(tensors, "indices", np.int64, 1), _array(tensors, "labels", np.int64, 1)
    images, pixels = _array(tensors, "images", np.uint8, 3), _array(tensors, "pixels", np.float16, 2)
    n = len(labels)
    if len(indices) != n or len(images) != n or len(pixels) != n or n < 10 or not 1 <= pixels.shape[1] <= MAX_DIMS:
        raise _refuse(f"its sample sizes disagree ({len(indices)} indices, {n} labels, {len(images)} images, "
                      f"{len(pixels)} pixel rows) or are under 10.")
    return Recording(epochs=epochs, total_epochs=int(total[0]), indices=indices.copy(), labels=labels.copy(),
                     images=images.copy(), pixels=pixels.copy(),
                     layers={k: v.copy() for k, v in _layers_from(tensors, len(epochs), n).items()})


# ---------------------------------------------------------------- in the .safetensors file, next to the weights

def save_with_recording(trained: TrainedModel, recording: Recording | None) -> bytes:
    """save_weights() bytes with the recording's arrays added (the same metadata); without a
    recording, exactly save_weights(trained)."""
    from safetensors.numpy import load, save


    data = save_weights(trained)
    if recording is None:
        return data
    n = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8:8 + n]).get("__metadata__") or {}
    return save({**load(data), **to_tensors(recording)}, metadata=metadata)


def _safetensors_keys(data: bytes) -> tuple[list[str], dict] | None:
    """The tensor names and metadata of a .safetensors header; None when it is not one."""
    n = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if not 2 <= n <= min(len(data) - 8, MAX_HEADER_BYTES) or data[8:9] != b"{":
        return None
    try:
        header = json.loads(data[8:8 + n])
        return [k for k in header if k != "__metadata__"], dict(header.get("__metadata__") or {})
    except (ValueError, AttributeError, TypeError):
        return None


def load_with_recording(data: bytes) -> tuple[TrainedModel, Recording | None]:
    """load_weights() for files that may carry a recording: (the model, its recording or None).
    Everything load_weights refuses is refused the same way; a damaged recording is a ValueError.
    Never unpickles."""
    from safetensors.numpy import load, save


    if not isinstance(data, (bytes, bytearray, memoryview)):
        return load_weights(data), None  # refuses it with its message
    data = bytes(data)
    parsed = _safetensors_keys(data)
    if parsed is None or not any(k.startswith(TENSOR_PREFIX) for k in parsed[0]):
        return load_weights(data), None
    try:
        tensors = load(data)
    except Exception as e:  # safetensors raises its own error type
        raise ValueError(f"This .safetensors file is damaged ({e}). Upload a file downloaded from NetLens.") from None
    weights, rec_tensors = split_tensors(tensors)
    recording = from_tensors(rec_tensors)
    return load_weights(save(weights, metadata=parsed[1])), recording


def recording_bytes(recording: Recording) -> bytes:
    """The recording alone as .safetensors bytes (how it reaches a cluster job through the store)."""
    from safetensors.numpy import save

    return save(to_tensors(recording))


def recording_from_bytes(data: bytes) -> Recording:
    """recording_bytes() back; ValueError when it is not a recording. Never unpickles."""
    from safetensors.numpy import load

    try:
        recording = from_tensors(load(bytes(data)))
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error type; ours are ValueErrors
        raise ValueError(f"The training recording is damaged ({e}).") from None
    if recording is None:
        raise ValueError("The file holds no training recording.")
    return recording
