"""Any picture (a PIL image or an H×W(×C) array of any dtype) -> float32 grayscale in
[0, 1], shrunk for the digit pipeline (preprocess.py). No Streamlit here."""
from __future__ import annotations

import numpy as np
from PIL import Image

from analysis.images import (
    HIGH_DEPTH_MODES,
    MAX_PIXELS,
    MAX_SIDE,
    alpha_background,
    has_alpha,
    high_depth_to_unit,
    luminance,
    shrink,
)

__all__ = ["MIN_SIDE", "WORK_SIDE", "as_gray", "check_size"]

MIN_SIDE = 8              # an image smaller than this on a side cannot hold a digit
WORK_SIDE = 512           # photos are shrunk so their longest side is at most this first


def as_gray(image, work_side: int = WORK_SIDE) -> np.ndarray:
    """PIL image or H×W(×C) array -> float32 H×W in [0, 1], longest side ≤ work_side.

    Checks the size (at least MIN_SIDE, at most MAX_SIDE per side, MAX_PIXELS in all)
    and flattens transparency as images.decode_image does."""
    if isinstance(image, Image.Image):
        w, h = image.size
        check_size(h, w)
        if w * h > MAX_PIXELS:
            raise ValueError(f"This picture is too large ({w}×{h}); at most {MAX_PIXELS:,} pixels.")
        if image.mode in HIGH_DEPTH_MODES:
            return shrink(high_depth_to_unit(image).astype(np.float32), work_side)
        if has_alpha(image):
            image = image.convert("RGBA")
        elif image.mode not in ("L", "RGB"):
            try:
                image = image.convert("RGB")
            except (ValueError, OSError) as e:
                raise ValueError(f"Pictures in colour mode {image.mode!r} are not supported ({e}).") from None
        factor = max(w, h) // work_side
        if factor >= 2:  # a fast box reduction first; the exact shrink follows
            image = image.reduce(factor)
        return _array_to_gray(np.asarray(image), work_side)

    arr = np.asarray(image)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"Expected a picture as numbers (H×W or H×W×3); got an array of {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise ValueError("Expected a picture of real numbers; got complex numbers.")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise ValueError(
            f"Expected a picture shaped H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA); got shape {arr.shape}."
        )
    check_size(arr.shape[0], arr.shape[1])
    return _array_to_gray(arr, work_side)


def check_size(h: int, w: int) -> None:
    """ValueError when an h×w picture is too small to hold a digit or absurdly large."""
    if min(h, w) < MIN_SIDE:
        raise ValueError(
            f"This picture is too small to hold a digit ({w}×{h} pixels; at least "
            f"{MIN_SIDE}×{MIN_SIDE} needed). Use a larger photo or drawing."
        )
    if max(h, w) > MAX_SIDE:
        raise ValueError(f"This picture's dimensions are huge ({w}×{h}); at most {MAX_SIDE:,} per side.")


def _array_to_gray(arr: np.ndarray, work_side: int) -> np.ndarray:
    dt = arr.dtype
    if dt == np.bool_:
        arr, scale = arr.astype(np.uint8), 1.0
    elif dt == np.uint8:
        scale = 255.0
    elif dt == np.uint16:
        scale = 65535.0
    elif np.issubdtype(dt, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0:
            raise ValueError(f"Pixel values must not be negative; got a minimum of {lo}.")
        scale = 255.0 if hi <= 255 else 65535.0 if hi <= 65535 else float(hi)
        arr = arr.astype(np.float32)
    else:  # floating point
        if not np.all(np.isfinite(arr)):
            raise ValueError("The picture contains NaN or infinite values.")
        arr = arr.astype(np.float32, copy=False)
        hi = float(arr.max()) if arr.size else 0.0
        scale = 1.0 if hi <= 1.0 + 1e-6 else 255.0
    arr = shrink(arr, work_side)
    f = np.clip(arr.astype(np.float32) / np.float32(scale), 0.0, 1.0)
    if f.ndim == 2:
        return f
    c = f.shape[2]
    if c == 2:
        gray, alpha = f[..., 0], f[..., 1]
        rgb = np.repeat(gray[..., None], 3, axis=2)
    else:
        gray, alpha = luminance(f[..., :3]), (f[..., 3] if c == 4 else None)
        rgb = f[..., :3]
    if alpha is not None and float(alpha.min()) < 0.999:
        bg = float(luminance(alpha_background(rgb, alpha)))
        gray = gray * alpha + bg * (1.0 - alpha)
    return gray.astype(np.float32)

