"""Why this answer? Heatmaps over one digit, and checks of whether they are any good.

- Occlusion: a patch of ink removed (set to the baseline 0, "no ink" on these white-on-black
  digits) at every position, all positions in one batched forward pass; a pixel's score is the
  mean drop of the class's logit over the patches that cover it.
- Integrated Gradients (Captum): gradients along the straight path from a black image to the
  digit, times the pixel. The scores add up to logit(digit) - logit(black image) (completeness).
  A black baseline gives no credit for ink that is *missing*.
- "Why A and not B": the map for logit_A - logit_B (the difference of the two maps).
- The checks of whether a map is any good (the sanity and deletion checks): analysis/explain_checks.py.
- Explanation by example: the nearest training digits in the last hidden layer.
- Logistic regression: its gradient is its weight template (the same for every image), and
  weight × pixel is exact.

Maps are numpy arrays (H, W) float32; the image is (H, W) in [0, 1]. No Streamlit here.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from analysis.models import first_layer_weights, infer, n_outputs


@dataclass(frozen=True)
class ExplainConfig:
    patch: int = 4             # occlusion: side of the square patch removed, in pixels
    stride: int = 2            # occlusion: step between patch positions, in pixels
    baseline: float = 0.0      # "no ink": occlusion patches and the IG path start from it
    ig_steps: int = 50         # Integrated Gradients: points on the path from baseline to the digit
    deletion_steps: int = 28   # deletion curve: points from 0% to 100% of the pixels removed
    random_orders: int = 5     # deletion curve: random orders averaged for the comparison curve


def check_explain_config(config: ExplainConfig) -> None:
    """ValueError for settings the page does not allow."""
    for name, value, low, high in (("patch size", config.patch, 1, 28), ("stride", config.stride, 1, 28),
                                   ("number of IG steps", config.ig_steps, 2, 1000),
                                   ("number of deletion steps", config.deletion_steps, 2, 1000),
                                   ("number of random orders", config.random_orders, 1, 100)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise ValueError(f"Expected a {name} from {low} to {high}; got {value!r}.")
    if not (isinstance(config.baseline, (int, float)) and 0.0 <= config.baseline <= 1.0):
        raise ValueError(f"Expected a baseline pixel value in [0, 1] (0 is no ink); got {config.baseline!r}.")


# ---------------------------------------------------------------- inputs

def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def as_image(image) -> np.ndarray:
    """One grayscale image as float32 (H, W) in [0, 1]; accepts (H, W), (1, H, W) or (1, 1, H, W)."""
    arr = np.asarray(image, dtype=np.float32)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f"Expected one grayscale image of shape (H, W); got shape {np.shape(image)}. "
                         "Pass a single digit, e.g. images[i].")
    if not np.isfinite(arr).all():
        raise ValueError("Expected finite pixel values; the image has NaN or infinite values.")
    if arr.min() < -1e-6 or arr.max() > 1 + 1e-6:
        raise ValueError(f"Expected pixel values in [0, 1] (0 = no ink); got {arr.min():.3g} to {arr.max():.3g}. "
                         "Scale the image (e.g. divide by 255) first.")
    return np.clip(arr, 0.0, 1.0)


def _tensor(model: nn.Module, image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image))[None, None].to(_device(model))


def logits(model: nn.Module, images, batch_size: int = 1024) -> np.ndarray:
    """The model's scores before softmax, (n, n_classes) float32, for images (n, H, W) in [0, 1]."""
    x_all = np.asarray(images, dtype=np.float32)
    if x_all.ndim == 2:
        x_all = x_all[None]
    if x_all.ndim != 3:
        raise ValueError(f"Expected images of shape (n, H, W); got {x_all.shape}.")
    out = infer(model, x_all, lambda x: model(x).float().cpu().numpy(), batch_size)
    return np.concatenate(out) if out else np.zeros((0, n_outputs(model)), np.float32)


def check_class(k, n_classes: int, what: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < n_classes:
        raise ValueError(f"Expected the {what} to be a class number from 0 to {n_classes - 1}; got {k!r}.")
    return int(k)


def _classes(model: nn.Module, image: np.ndarray, target, contrast) -> tuple[int, int | None, np.ndarray]:
    """(target, contrast, logits of the image); target None means the predicted class."""
    out = logits(model, image[None])[0]
    target = int(out.argmax()) if target is None else check_class(target, len(out), "class to explain")
    if contrast is not None:
        contrast = check_class(contrast, len(out), "class to compare with")
        if contrast == target:
            raise ValueError(f"Expected a different class to compare with; both are {target}. "
                             "Pick another class for 'and not'.")
    return target, contrast, out


# ---------------------------------------------------------------- occlusion

@functools.lru_cache(maxsize=16)
def _patch_masks(h: int, w: int, patch: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(P, H*W) 0/1 masks, one per patch position (as Captum's Occlusion places them), and the
    number of patches covering each pixel (H*W,), at least 1."""
    if patch > h or patch > w:
        raise ValueError(f"Expected a patch no larger than the image; got a {patch}×{patch} patch "
                         f"for a {h}×{w} image. Use a smaller patch.")
    rows, cols = range(0, h - patch + 1, stride), range(0, w - patch + 1, stride)
    masks = np.zeros((len(rows) * len(cols), h, w), np.float32)
    for i, (r, c) in enumerate((r, c) for r in rows for c in cols):
        masks[i, r:r + patch, c:c + patch] = 1.0
    masks = masks.reshape(len(masks), h * w)
    counts = np.maximum(masks.sum(0), 1.0)
    masks.setflags(write=False)
    counts.setflags(write=False)
    return masks, counts


def occlusion_maps(model: nn.Module, image, config: ExplainConfig = ExplainConfig()) -> np.ndarray:
    """Occlusion maps for every class at once, (n_classes, H, W) float32: for each pixel, the mean
    over the patches covering it of logit(image) - logit(image with the patch set to the
    baseline). Positive: removing that ink lowers the class's score. All patch positions go
    through the model in one batch (one forward pass)."""
    check_explain_config(config)
    image = as_image(image)
    h, w = image.shape
    masks, counts = _patch_masks(h, w, config.patch, config.stride)
    flat = image.reshape(1, -1)
    batch = np.concatenate([flat, flat * (1.0 - masks) + config.baseline * masks]).reshape(-1, 1, h, w)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(batch).to(_device(model))).double().cpu().numpy()
    drops = out[0] - out[1:]                                   # (P, n_classes)
    maps = (drops.T @ masks.astype(np.float64)) / counts      # (n_classes, H*W)
    return maps.reshape(-1, h, w).astype(np.float32)


def occlusion(model: nn.Module, image, target: int, contrast: int | None = None,
              config: ExplainConfig = ExplainConfig()) -> np.ndarray:
    """The occlusion map (H, W) for `target`, or for target minus `contrast` ("why A and not B")."""
    maps = occlusion_maps(model, image, config)
    target = check_class(target, len(maps), "class to explain")
    if contrast is None:
        return maps[target]
    return maps[target] - maps[check_class(contrast, len(maps), "class to compare with")]


# ---------------------------------------------------------------- Integrated Gradients

class _Difference(nn.Module):
    """logit_a - logit_b of a model, as one output (IG is linear in the output)."""

    def __init__(self, model: nn.Module, a: int, b: int):
        super().__init__()
        self.model, self.a, self.b = model, a, b

    def forward(self, x):
        out = self.model(x)
        return out[:, self.a] - out[:, self.b]


def integrated_gradients(model: nn.Module, image, target: int, contrast: int | None = None,
                         config: ExplainConfig = ExplainConfig()) -> np.ndarray:
    """Integrated Gradients (Captum, `config.ig_steps` steps from a uniform `config.baseline`
    image) of logit_target, or of logit_target - logit_contrast: (H, W) float32 whose sum is
    close to the output's change from the baseline to the image."""
    from captum.attr import IntegratedGradients

    check_explain_config(config)
    image = as_image(image)
    model.eval()
    n_classes = logits(model, image[None]).shape[1]
    target = check_class(target, n_classes, "class to explain")
    x = _tensor(model, image)
    with torch.enable_grad():
        if contrast is None:
            ig = IntegratedGradients(model)
            attr = ig.attribute(x, baselines=float(config.baseline), target=target, n_steps=config.ig_steps)
        else:
            contrast = check_class(contrast, n_classes, "class to compare with")
            ig = IntegratedGradients(_Difference(model, target, contrast))
            attr = ig.attribute(x, baselines=float(config.baseline), n_steps=config.ig_steps)
    return attr.detach()[0, 0].float().cpu().numpy()


def output_change(model: nn.Module, image, target: int, contrast: int | None = None,
                  baseline: float = 0.0) -> float:
    """logit_target(image) - logit_target(baseline image) (minus the same for `contrast`): what
    Integrated Gradients' scores add up to."""
    image = as_image(image)
    out = logits(model, np.stack([image, np.full_like(image, baseline)])).astype(np.float64)
    score = out[:, target] - (out[:, contrast] if contrast is not None else 0.0)
    return float(score[0] - score[1])


# ---------------------------------------------------------------- logistic regression

def is_linear(model: nn.Module) -> bool:
    """True for logistic regression: a single linear layer on the pixels, no hidden layer."""
    return sum(isinstance(m, (nn.Linear, nn.Conv2d)) for m in model.modules()) == 1 and any(
        isinstance(m, nn.Linear) for m in model.modules())


def weight_times_pixel(model: nn.Module, image, target: int, contrast: int | None = None) -> np.ndarray:
    """Logistic regression only: weight × pixel for `target` (minus `contrast`), (H, W) float32.
    Its gradient is the class's weight template whatever the image, so this is exact: the map
    sums to logit_target(image) - logit_target(black image)."""
    if not is_linear(model):
        raise ValueError("Expected logistic regression (one linear layer); this model has hidden layers. "
                         "Use integrated_gradients() or occlusion() for it.")
    image = as_image(image)
    weights = first_layer_weights(model, image.shape)  # (n_classes, H, W)
    target = check_class(target, len(weights), "class to explain")
    w = weights[target] if contrast is None else weights[target] - weights[
        check_class(contrast, len(weights), "class to compare with")]
    return (w * image).astype(np.float32)


# ---------------------------------------------------------------- one call for the page

@dataclass(frozen=True)
class Explanation:
    target: int                          # the class explained (the predicted one by default)
    contrast: int | None                 # "and not": the class compared with, if any
    probabilities: np.ndarray            # (n_classes,) the model's answer for the image
    occlusion: np.ndarray                # (H, W)
    integrated_gradients: np.ndarray     # (H, W)
    ig_sum: float                        # sum of the IG map ...
    output_change: float                 # ... and what it should add up to (completeness)
    weight_x_pixel: np.ndarray | None    # (H, W), logistic regression only (exact)


def explain(model: nn.Module, image, target: int | None = None, contrast: int | None = None,
            config: ExplainConfig = ExplainConfig()) -> Explanation:
    """Occlusion and Integrated Gradients for one image: for `target` (None: the predicted class),
    or for target minus `contrast` ("why A and not B?")."""
    check_explain_config(config)
    image = as_image(image)
    target, contrast, out = _classes(model, image, target, contrast)
    ig = integrated_gradients(model, image, target, contrast, config)
    return Explanation(
        target=target, contrast=contrast,
        probabilities=F.softmax(torch.from_numpy(out).double(), 0).numpy(),
        occlusion=occlusion(model, image, target, contrast, config), integrated_gradients=ig,
        ig_sum=float(ig.sum(dtype=np.float64)),
        output_change=output_change(model, image, target, contrast, config.baseline),
        weight_x_pixel=weight_times_pixel(model, image, target, contrast) if is_linear(model) else None)
