"""The lecture's three models: logistic regression, a multilayer perceptron and a
small convnet, as `nn.Sequential`s of named blocks so every hidden layer can be read.

Inputs are batches of shape (n, 1, H, W) (numpy helpers here also take (n, H, W)).
No Streamlit here.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from analysis.checks import check_choice, check_float, check_int

MODEL_KINDS = {
    "logreg": "Logistic regression: one weight per pixel and class, plus a bias per class. "
    "Each class gets a score, softmax turns the scores into probabilities.",
    "mlp": "Multilayer perceptron: one or more hidden layers of units between the pixels and the "
    "scores; each unit computes a weighted sum followed by an activation function.",
    "cnn": "Convolutional network: small filters slide over the image to find strokes and shapes, "
    "pooling shrinks the maps, and a final layer turns them into scores.",
}
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity}
MAX_HIDDEN_LAYERS = 4
MIN_UNITS, MAX_UNITS = 8, 1024
MAX_CONV_BLOCKS = 3
MAX_CHANNELS = 128
KERNEL_SIZES = (1, 3, 5, 7)


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "mlp"                     # 'logreg' | 'mlp' | 'cnn'
    hidden: tuple[int, ...] = (512,)      # MLP: 1-4 hidden layers of 8-1024 units
    activation: str = "relu"              # MLP: 'relu' | 'tanh' | 'sigmoid' | 'none'
    dropout: float = 0.0                  # MLP and CNN: fraction of units dropped while training
    channels: tuple[int, ...] = (16, 32)  # CNN: 1-3 conv blocks (Conv k×k pad k//2 + ReLU + MaxPool 2)
    kernel_size: int = 3                  # CNN: 1, 3, 5 or 7


def default_config(kind: str = "mlp") -> ModelConfig:
    """The page's defaults for one kind of model."""
    check_kind(kind)
    return ModelConfig(kind=kind)


def check_kind(kind: str) -> None:
    check_choice(kind, "model kind", MODEL_KINDS)


def _check_count(items, what: str, most: int, hint: str) -> tuple:
    items = tuple(items)
    if not 1 <= len(items) <= most:
        raise ValueError(f"Expected 1 to {most} {what}; got {len(items)}. {hint}")
    return items


def check_config(config: ModelConfig) -> None:
    """ValueError for settings the app does not allow."""
    check_kind(config.kind)
    check_float(config.dropout, "dropout (a fraction)", 0.0, 1.0, include_high=False, hint="e.g. 0.2.")
    if config.kind == "mlp":
        for units in _check_count(config.hidden, "hidden layers", MAX_HIDDEN_LAYERS, "Add or remove layers."):
            check_int(units, "units per hidden layer", MIN_UNITS, MAX_UNITS)
        check_choice(config.activation, "activation", ACTIVATIONS)
    if config.kind == "cnn":
        for c in _check_count(config.channels, "conv blocks", MAX_CONV_BLOCKS, "Add or remove blocks."):
            check_int(c, "channels per conv block", 1, MAX_CHANNELS)
        check_choice(config.kernel_size, "kernel size", KERNEL_SIZES)


class Dropout(nn.Dropout):
    """nn.Dropout that can draw its masks from its own generator (set by train() on the CPU),
    so two trainings running at once in one process stay reproducible."""

    generator: torch.Generator | None = None

    def forward(self, x):
        if not self.training or self.p == 0 or self.generator is None:
            return super().forward(x)
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep / (1 - self.p)


def build_model(config: ModelConfig = ModelConfig(), image_shape=(28, 28), n_classes: int = 10,
                seed: int = 0) -> nn.Module:
    """The model for `config`, with weights initialised from `seed` (PyTorch's default scheme,
    drawn from a private generator: the same seed always gives the same weights)."""
    check_config(config)
    h, w = (int(s) for s in image_shape)
    if h < 1 or w < 1 or n_classes < 2:
        raise ValueError(f"Expected an image shape of at least 1×1 and 2+ classes; got {image_shape}, {n_classes}.")
    layers = OrderedDict()
    if config.kind == "cnn":
        in_ch, k = 1, config.kernel_size
        for i, out_ch in enumerate(config.channels, 1):
            if h < 2 or w < 2:
                raise ValueError(f"{len(config.channels)} conv blocks are too many for {image_shape[0]}×"
                                 f"{image_shape[1]} images (each block halves the size). Use fewer blocks.")
            layers[f"conv{i}"] = nn.Sequential(OrderedDict(
                conv=nn.Conv2d(in_ch, out_ch, k, padding=k // 2),
                activation=nn.ReLU(),
                pool=nn.MaxPool2d(2),
            ))
            in_ch, h, w = out_ch, h // 2, w // 2
        layers["flatten"] = nn.Flatten()
        if config.dropout > 0:
            layers["dropout"] = Dropout(config.dropout)
        layers["output"] = nn.Linear(in_ch * h * w, n_classes)
    else:
        layers["flatten"] = nn.Flatten()
        n_in = h * w
        if config.kind == "mlp":
            for i, units in enumerate(config.hidden, 1):
                block = OrderedDict(linear=nn.Linear(n_in, int(units)), activation=ACTIVATIONS[config.activation]())
                if config.dropout > 0:
                    block["dropout"] = Dropout(config.dropout)
                layers[f"hidden{i}"] = nn.Sequential(block)
                n_in = int(units)
        layers["output"] = nn.Linear(n_in, n_classes)
    model = nn.Sequential(layers)
    _init_weights(model, seed)
    return model


def _init_weights(model: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):  # as their reset_parameters(), but seeded
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
                bound = 1 / math.sqrt(m.weight[0].numel())
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _shape_text(shape) -> str:
    return "×".join(str(int(s)) for s in shape)


def _layer_text(m: nn.Module) -> str:
    if isinstance(m, nn.Linear):
        return f"Linear ({m.in_features} → {m.out_features})"
    if isinstance(m, nn.Conv2d):
        return f"Conv {m.kernel_size[0]}×{m.kernel_size[1]} ({m.in_channels} → {m.out_channels} channels)"
    if isinstance(m, nn.MaxPool2d):
        return "Max-pool 2×2"
    if isinstance(m, nn.Dropout):
        return f"Dropout (p = {m.p:g})"
    if isinstance(m, nn.Identity):
        return "No activation"
    return type(m).__name__


def _block_text(name: str) -> str:
    if name == "output":
        return "output layer: "
    for prefix, text in (("hidden", "hidden layer"), ("conv", "conv block")):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            return f"{text} {name[len(prefix):]}: "
    return ""


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def architecture(model: nn.Module, image_shape=(28, 28)) -> list[dict]:
    """The model as a table: one row per layer, {'layer', 'output shape', 'parameters'}.
    The first row is the input image; the parameters column sums to count_parameters(model)."""
    x = torch.zeros(1, 1, *image_shape, device=_device(model))
    rows = [{"layer": "Input image", "output shape": _shape_text(image_shape), "parameters": 0}]
    with torch.no_grad():
        for name, block in model.named_children():
            leaves = list(block.children()) if isinstance(block, nn.Sequential) else [block]
            for m in leaves:
                x = m(x)
                rows.append({"layer": _block_text(name) + _layer_text(m),
                             "output shape": _shape_text(x.shape[1:]),
                             "parameters": count_parameters(m)})
    return rows


@dataclass(frozen=True)
class Layout:
    """What a model's settings make, without training it: its table (architecture) and its size."""
    rows: tuple[dict, ...]  # architecture(): one row per layer
    parameters: int  # count_parameters()


def layout(config: ModelConfig, image_shape=(28, 28), n_classes: int = 10) -> Layout:
    """The model's table and size for these settings, built once per process and settings (the
    Training page's table and the memory estimate share it; the worker builds the model it trains)."""
    config = dataclasses.replace(config, hidden=tuple(config.hidden), channels=tuple(config.channels))
    return _layout(config, tuple(int(v) for v in image_shape), int(n_classes))


@functools.lru_cache(maxsize=32)
def _layout(config: ModelConfig, image_shape: tuple[int, ...], n_classes: int) -> Layout:
    model = build_model(config, image_shape, n_classes, seed=0)
    return Layout(tuple(architecture(model, image_shape)), count_parameters(model))


def as_batch(images: np.ndarray) -> torch.Tensor:
    """Images (n, H, W), (H, W) or (n, 1, H, W) as a float32 CPU tensor (n, 1, H, W) (a copy)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"Expected grayscale images of shape (n, H, W); got {images.shape}.")
    return torch.from_numpy(np.array(images, copy=True))


def infer(model: nn.Module, images, step, batch_size: int = 1024) -> list:
    """The one batched, gradient-free inference loop: `step(x)` for each batch of the images (n, H, W)
    in [0, 1], x a float32 (b, 1, H, W) tensor on the model's device, the model in eval mode. Returns
    the steps' results in order (empty for no images)."""
    x_all = as_batch(images)
    device = _device(model)
    model.eval()
    with torch.no_grad():
        return [step(x_all[start:start + batch_size].to(device)) for start in range(0, len(x_all), batch_size)]


def n_outputs(model: nn.Module) -> int:
    """How many scores the model gives (its last linear layer's outputs)."""
    return next(m for m in reversed(list(model.modules())) if isinstance(m, nn.Linear)).out_features


def representations(model: nn.Module, images: np.ndarray, batch_size: int = 1024) -> dict[str, np.ndarray]:
    """What the model sees at each stage, for n images: name -> (n, d) float32 features.

    In order: 'pixels', each hidden layer after its activation ('hidden layer 1 (512 units)',
    'conv block 1 (16×14×14)', ...), 'logits', 'probabilities'. Puts the model in eval mode."""
    parts: dict[str, list[np.ndarray]] = OrderedDict(pixels=[as_batch(images).flatten(1).numpy()])
    names: dict[str, str] = {}

    def step(x: torch.Tensor) -> None:
        for name, block in model.named_children():
            x = block(x)
            if name.startswith(("hidden", "conv")):
                label = names.setdefault(name, _block_text(name)[:-2] + (
                    f" ({x.shape[1]} units)" if x.ndim == 2 else f" ({_shape_text(x.shape[1:])})"))
                parts.setdefault(label, []).append(x.flatten(1).float().cpu().numpy())
        parts.setdefault("logits", []).append(x.float().cpu().numpy())
        parts.setdefault("probabilities", []).append(F.softmax(x, dim=1).float().cpu().numpy())

    infer(model, images, step, batch_size)
    n_out = n_outputs(model)
    return OrderedDict((k, np.concatenate(v) if v else np.zeros((0, n_out), np.float32)) for k, v in parts.items())


def first_layer_weights(model: nn.Module, image_shape=(28, 28)) -> np.ndarray:
    """The first layer's weights as pictures: logistic regression -> one template per class
    (n_classes, H, W); MLP -> one image per unit of hidden layer 1 (units, H, W);
    CNN -> the first conv block's filters (channels, k, k)."""
    first = next(m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    w = first.weight.detach().float().cpu().numpy()
    return w[:, 0] if isinstance(first, nn.Conv2d) else w.reshape(len(w), *image_shape)


def feature_maps(model: nn.Module, image: np.ndarray) -> np.ndarray:
    """A convnet's first conv block on one image, after its activation and before pooling:
    (channels, H, W) float32, what each learned filter finds where."""
    first = next((block for name, block in model.named_children() if name.startswith("conv")), None)
    if first is None:
        raise ValueError("Feature maps need a convnet; this model has no conv block.")
    model.eval()
    with torch.no_grad():
        x = as_batch(image).to(_device(model))
        out = first.activation(first.conv(x))
    return out[0].float().cpu().numpy()
