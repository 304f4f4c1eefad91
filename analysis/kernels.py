"""Convolution kernels: the lecture's presets, blurs of any odd size, and a safe
parser for kernels that users type."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from analysis.checks import check_int

MAX_KERNEL_SIZE = 31  # largest side a user may type or pick


@dataclass(frozen=True)
class Preset:
    name: str
    explanation: str  # one plain sentence for someone who has never programmed
    sized: bool = False  # True: the user picks the size (3-31)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("Identity", "Copies each pixel unchanged: a 1 in the middle, 0 elsewhere."),
        Preset(
            "Box blur",
            "Each output pixel is the plain average of its neighbours (the lecture's 3×3 kernel of 1/9s).",
            sized=True,
        ),
        Preset("Gaussian blur", "A softer blur: near neighbours count more than far ones.", sized=True),
        Preset(
            "Horizontal edge",
            "The lecture's edge kernel [-1 -1 -1; 2 2 2; -1 -1 -1]: lights up thin horizontal lines and edges.",
        ),
        Preset("Vertical edge", "The same kernel turned on its side: lights up vertical lines and edges."),
        Preset("Sobel x", "Measures how fast brightness changes from left to right (finds vertical edges)."),
        Preset("Sobel y", "Measures how fast brightness changes from top to bottom (finds horizontal edges)."),
        Preset("Sharpen", "Pushes each pixel away from its neighbours' average, so details stand out."),
        Preset(
            "Outline (Laplacian)",
            "Zero on flat areas, large where brightness changes in any direction: draws outlines.",
        ),
        Preset("Emboss", "Makes the picture look pressed into metal, lit from one corner."),
    ]
}

_FIXED = {
    "Identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "Horizontal edge": [[-1, -1, -1], [2, 2, 2], [-1, -1, -1]],
    "Vertical edge": [[-1, 2, -1], [-1, 2, -1], [-1, 2, -1]],
    "Sobel x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "Outline (Laplacian)": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "Emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


def _check_size(size: int) -> int:
    return check_int(size, "Kernel size", 1, MAX_KERNEL_SIZE, odd=True, hint="Pick 3, 5, 7, …")


def box_kernel(size: int = 3) -> np.ndarray:
    """size×size kernel of 1/size² (the lecture's 3×3 blur of 1/9s)."""
    size = _check_size(size)
    return np.full((size, size), 1.0 / size**2)


def gaussian_kernel(size: int = 3, sigma: float | None = None) -> np.ndarray:
    """Normalised Gaussian; sigma defaults to OpenCV's choice for the size."""
    size = _check_size(size)
    if sigma is None:
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = np.arange(size) - size // 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def preset_kernel(name: str, size: int = 3) -> np.ndarray:
    """The kernel of a preset; `size` is used by the sized ones (blurs)."""
    if name == "Box blur":
        return box_kernel(size)
    if name == "Gaussian blur":
        return gaussian_kernel(size)
    if name in _FIXED:
        return np.array(_FIXED[name], dtype=np.float64)
    raise ValueError(f"Unknown kernel preset {name!r}. Choose one of: {', '.join(PRESETS)}.")


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(/[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)?$")


def parse_number(text: str) -> float:
    """One kernel entry: a decimal ("0.5", "-2", "1e-3") or a fraction ("1/9").
    Parsed as a number only: never evaluated."""
    t = text.strip().replace("−", "-")
    if len(t) > 40 or not _NUMBER.match(t):
        shown = t if len(t) <= 40 else t[:37] + "…"
        raise ValueError(f"{shown!r} is not a number. Type numbers like 1, -2, 0.5 or 1/9.")
    num, _, den = t.partition("/")
    value = Fraction(num) / Fraction(den) if den else Fraction(num)  # Fraction(0) in den raises
    try:
        result = float(value)
    except OverflowError:
        result = float("inf")
    if not math.isfinite(result) or abs(result) > 1e30:
        raise ValueError(f"{t!r} is too large. Kernel weights should be ordinary sizes, like -10 to 10.")
    return result


def parse_kernel(text: str) -> np.ndarray:
    """A kernel typed as rows of numbers (spaces, commas or semicolons between
    entries, one row per line). Both sides must be odd, at most MAX_KERNEL_SIZE."""
    lines = [ln for ln in re.split(r"[\n;]+", text) if ln.strip()]
    if not lines:
        raise ValueError("The kernel is empty. Type one row of numbers per line, e.g. '1 2 1'.")
    rows = []
    for i, line in enumerate(lines, 1):
        cells = [c for c in re.split(r"[,\s]+", line.strip().strip("[]")) if c]
        try:
            rows.append([parse_number(c) for c in cells])
        except ZeroDivisionError:
            raise ValueError(f"Row {i} divides by zero. Use a fraction like 1/9.") from None
        except ValueError as e:
            raise ValueError(f"Row {i}: {e}") from None
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ValueError(
            f"Every row needs the same number of entries; got rows of {sorted(widths)} entries. "
            "Add or remove numbers so the kernel is a rectangle."
        )
    k = np.array(rows, dtype=np.float64)
    h, w = k.shape
    if h % 2 == 0 or w % 2 == 0:
        raise ValueError(
            f"The kernel is {h}×{w}; both sides must be odd (1, 3, 5, …) so it has a centre pixel. "
            "Add or remove a row or column."
        )
    if max(h, w) > MAX_KERNEL_SIZE:
        raise ValueError(f"The kernel is {h}×{w}; the largest allowed is {MAX_KERNEL_SIZE}×{MAX_KERNEL_SIZE}.")
    if not np.all(np.isfinite(k)):
        raise ValueError("Kernel entries must be ordinary numbers (no infinity or NaN).")
    return k


def normalise(kernel: np.ndarray) -> np.ndarray:
    """Scale the kernel so its entries sum to 1 (keeps overall brightness)."""
    total = float(np.sum(kernel))
    if abs(total) < 1e-12:
        raise ValueError(
            "This kernel sums to 0 (edge kernels do), so it cannot be scaled to sum to 1. "
            "Turn off 'normalise' for it."
        )
    return kernel / total


MAX_DENOMINATOR = 1000  # 1/9, 1/25 … 1/961 (a 31×31 box) are written as fractions


def fraction_text(value: float, digits: int = 6) -> str:
    """One weight as text: a fraction ("1/9") where it is exactly one with a denominator up to
    MAX_DENOMINATOR, else the number to `digits` significant digits. The parser reads it back."""
    v = float(value)
    if math.isfinite(v):
        f = Fraction(v).limit_denominator(MAX_DENOMINATOR)
        if f.denominator != 1 and abs(float(f) - v) < 1e-12:
            return f"{f.numerator}/{f.denominator}"
    return f"{v:.{digits}g}"


def format_kernel(kernel: np.ndarray) -> str:
    """The kernel as text the parser reads back (fractions where they are exact)."""
    return "\n".join(" ".join(fraction_text(v) for v in row) for row in np.asarray(kernel, dtype=np.float64))
