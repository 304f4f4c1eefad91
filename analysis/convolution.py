"""2-D convolution of images, as deep learning does it (cross-correlation).

`convolve` is the one public entry. It runs on OpenCV's optimised CPU filters:
- rank-1 kernels (box and Gaussian blurs, Sobel, the lecture's edge kernel; found by
  SVD) as two 1-D passes, with a running-sum box filter when the kernel is constant;
- other kernels through `cv2.filter2D`, which itself switches to an FFT for big kernels.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from analysis.checks import check_int

PADDINGS = ("valid", "same")
SEPARABLE_MIN_SIZE = 5  # below this a direct 2-D pass is as fast as two 1-D passes


def output_size(
    height: int, width: int, kernel_shape: tuple[int, int], padding: str = "valid", stride: int = 1
) -> tuple[int, int]:
    """(out_h, out_w) = ⌊(H + 2p − k) / s⌋ + 1 per axis; p = 0 ("valid") or (k − 1)/2 ("same")."""
    kh, kw = kernel_shape
    ph, pw = (0, 0) if padding == "valid" else ((kh - 1) // 2, (kw - 1) // 2)
    return (height + 2 * ph - kh) // stride + 1, (width + 2 * pw - kw) // stride + 1


def _check(image: np.ndarray, kernel: np.ndarray, padding: str, stride: int) -> None:
    if image.ndim not in (2, 3):
        raise ValueError(f"Expected an image of shape H×W or H×W×C, got an array with shape {image.shape}.")
    if image.size == 0:
        raise ValueError(f"The image is empty (shape {image.shape}).")
    if kernel.ndim != 2:
        raise ValueError(f"Expected a 2-D kernel, got shape {kernel.shape}.")
    kh, kw = kernel.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(
            f"Kernel sides must be odd (1, 3, 5, …) so the kernel has a centre; got {kh}×{kw}. "
            "Add or remove a row or column."
        )
    if not np.all(np.isfinite(kernel)):
        raise ValueError("The kernel contains infinity or NaN; use ordinary numbers.")
    if padding not in PADDINGS:
        raise ValueError(f"padding must be 'valid' (no padding) or 'same' (zero padding), got {padding!r}.")
    check_int(stride, "stride", 1, hint="1 moves the kernel one pixel at a time.")
    h, w = image.shape[:2]
    if padding == "valid" and (h < kh or w < kw):
        raise ValueError(
            f"The image ({w} × {h} pixels) is smaller than the {kh}×{kw} kernel, so without padding "
            "there is no position where the kernel fits. Use zero padding, a smaller kernel or a bigger image."
        )


@dataclass(frozen=True)
class Plan:
    """How `convolve` will apply a kernel (shown in the UI, tested directly)."""
    method: str  # 'box' | 'separable' | 'direct'
    column: np.ndarray | None = None  # separable: kernel ≈ outer(column, row)
    row: np.ndarray | None = None


def separate(kernel: np.ndarray, rtol: float = 1e-6) -> tuple[np.ndarray, np.ndarray] | None:
    """(column, row) with kernel ≈ outer(column, row) if the kernel is rank 1, else None."""
    k = np.asarray(kernel, dtype=np.float64)
    u, s, vt = np.linalg.svd(k)
    if s[0] == 0 or (len(s) > 1 and s[1] > rtol * s[0]):
        return None
    col, row = u[:, 0] * np.sqrt(s[0]), vt[0] * np.sqrt(s[0])
    if not np.allclose(np.outer(col, row), k, rtol=0, atol=rtol * np.abs(k).max()):
        return None
    return col, row


def plan(kernel: np.ndarray) -> Plan:
    k = np.asarray(kernel, dtype=np.float64)
    if max(k.shape) < SEPARABLE_MIN_SIZE:
        return Plan("direct")
    if np.all(k == k.flat[0]):
        return Plan("box")
    sep = separate(k)
    if sep is not None:
        return Plan("separable", *sep)
    return Plan("direct")


def _filter(img: np.ndarray, kernel: np.ndarray, p: Plan) -> np.ndarray:
    """Same-size cross-correlation with zero borders; img has ≤ 4 channels, float32 or uint8."""
    border = cv2.BORDER_CONSTANT
    if p.method == "box":
        out = cv2.boxFilter(img, cv2.CV_32F, (kernel.shape[1], kernel.shape[0]), normalize=False, borderType=border)
        value = float(kernel.flat[0])
        if value != 1.0:
            out *= value
        return out
    if p.method == "separable":
        return cv2.sepFilter2D(
            img, cv2.CV_32F, p.row.astype(np.float32), p.column.astype(np.float32), borderType=border
        )
    return cv2.filter2D(img, cv2.CV_32F, kernel.astype(np.float32), borderType=border)


def convolve(
    image: np.ndarray, kernel: np.ndarray, padding: str = "valid", stride: int = 1, flip: bool = False
) -> np.ndarray:
    """Filter an image with a kernel, as `torch.nn.functional.conv2d` does
    (cross-correlation: the kernel is not flipped; `flip=True` gives true convolution).

    image: H×W or H×W×C, uint8 or float. kernel: 2-D with odd sides.
    padding: "valid" (no padding: the output shrinks by k − 1) or "same" (zero padding).
    Returns float32 of shape (out_h, out_w[, C]), values not rescaled; each channel
    is filtered on its own.
    """
    image = np.asarray(image)
    kernel = np.asarray(kernel, dtype=np.float64)
    _check(image, kernel, padding, stride)
    if flip:
        kernel = kernel[::-1, ::-1]
    if image.dtype not in (np.uint8, np.float32):
        image = image.astype(np.float32)
    image = np.ascontiguousarray(image)
    p = plan(kernel)
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels <= 4:
        out = _filter(image, kernel, p)
        if image.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
            out = out[:, :, None]
    else:
        out = np.stack([_filter(np.ascontiguousarray(image[:, :, c]), kernel, p) for c in range(channels)], axis=2)
    if padding == "valid":
        kh, kw = kernel.shape
        h, w = image.shape[:2]
        out = out[kh // 2 : h - kh // 2, kw // 2 : w - kw // 2]
    if stride > 1:
        out = out[::stride, ::stride]
    return out


@dataclass(frozen=True)
class PixelStep:
    """The arithmetic behind one output pixel, for the step-by-step panel."""
    out_row: int
    out_col: int
    padded: np.ndarray  # the input with its zero border (if any), float
    pad: tuple[int, int]  # rows, columns of zeros added on each side
    top: int  # window's top-left corner in `padded`
    left: int
    window: np.ndarray  # the kh×kw values under the kernel
    kernel: np.ndarray  # as applied (flipped if flip=True)
    products: np.ndarray  # window × kernel, element by element
    total: float  # their sum: the output pixel


def explain_pixel(image: np.ndarray, kernel: np.ndarray, out_row: int, out_col: int,
                  padding: str = "valid", stride: int = 1, flip: bool = False) -> PixelStep:
    """What output pixel (out_row, out_col) of a 2-D image is made of."""
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"The step-by-step view works on one channel (H×W); got shape {image.shape}.")
    _check(image, kernel, padding, stride)
    oh, ow = output_size(*image.shape, kernel.shape, padding, stride)
    if not (0 <= out_row < oh and 0 <= out_col < ow):
        raise ValueError(f"Output pixel ({out_row}, {out_col}) is outside the {oh}×{ow} output.")
    kh, kw = kernel.shape
    pad = (0, 0) if padding == "valid" else (kh // 2, kw // 2)
    padded = np.pad(image, [(pad[0], pad[0]), (pad[1], pad[1])])
    k = kernel[::-1, ::-1] if flip else kernel
    top, left = out_row * stride, out_col * stride
    window = padded[top : top + kh, left : left + kw]
    products = window * k
    return PixelStep(out_row, out_col, padded, pad, top, left, window, k, products, float(products.sum()))
