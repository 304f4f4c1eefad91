"""Turn a photo or a drawing of a digit into what a digit model expects.

The steps follow how MNIST was made: grayscale -> ink made white on black ->
crop to the ink's bounding box -> scale the longest side to 20 px (for other
frame sizes ``round(size * 20 / 28)``) -> place in a ``size x size`` frame so
that the ink's centre of mass sits at the centre.

Real phone photos need more care than clean drawings.  Whether the ink is
dark on light paper (flip it) or already light on dark (a drawing, chalk) is
judged from the background: a drawing's exact background shade, a photo's
middle.  The paper's uneven lighting (gradients, shadows) is estimated with a
grey-scale closing wider than any pen stroke and divided out, the ink is
found by thresholding (Otsu, never below the noise), and specks, marks far
from the digit and, in photos, marks touching the picture's edge (shadows,
the desk) are dropped.  Pen strokes much thinner than MNIST's are thickened.  When there is nothing
to read (blank, uniform, too faint, too small) a ``ValueError`` says so in
plain words instead of returning a confident wrong answer.

Decoding a user's file is ``analysis.images.decode_image``; turning any picture into grayscale is
``analysis.grayscale``.
Pure NumPy / OpenCV: no Streamlit here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from analysis.checks import check_int
from analysis.grayscale import as_gray

__all__ = ["Steps", "box_side", "preprocess_steps", "to_model_input"]

_MIN_CONTRAST = 0.10      # ink must differ from the paper by 10% of full scale
_MIN_SNR = 6.0            # ... and stand clear of the noise
_MIN_INK_LEVEL = 0.15     # typical ink must be 15% darker than its paper (real pens: 25-90%)
_MNIST_STROKE = 0.11      # typical MNIST stroke width / box side (measured: median 0.12)
_SMALL = 32              # pictures smaller than this on a side are treated as clean drawings
_THIN_STROKE = 0.075      # thinner than this (MNIST 5th percentile ~0.08): thicken


class _NoInk(ValueError):
    """Nothing that looks like a written digit was found (raised as a plain ValueError)."""


# --------------------------------------------------------------------------- #
# The steps
# --------------------------------------------------------------------------- #

@dataclass
class Steps:
    """Every intermediate picture, for a page to show as small images."""

    gray: np.ndarray        # float32 [0,1], longest side ≤ WORK_SIDE (as read; dark = 0)
    inverted: bool          # True if the paper was light and the ink dark, so it was flipped
    ink: np.ndarray         # white ink on black, float32 [0,1], after lighting/threshold clean-up
    cropped: np.ndarray     # the ink's bounding box cut out of `ink`
    scaled: np.ndarray      # cropped, longest side -> round(size*20/28) px (20 for 28)
    result: np.ndarray  # size×size float32 in [0,1], centred by centre of mass as MNIST
    box: tuple[int, int, int, int] = (
        0,
        0,
        0,
        0,
    )  # crop box in `gray`/`ink` coords: top, left, bottom, right (exclusive)


def box_side(size: int) -> int:
    """Longest side of the ink box in a size×size frame: 20 for 28 (MNIST), 6 for 8."""
    return max(1, round(size * 20 / 28))


def to_model_input(image, size: int = 28) -> np.ndarray:
    """A photo or drawing -> ``size×size`` float32 in [0, 1], white ink on black, centred as MNIST.

    ``image``: a PIL image or an H×W(×C) array (uint8, uint16, bool or float)
    of a photo (dark ink on light paper) or a drawing (either polarity; RGBA
    canvas drawings with a transparent background work too).
    Raises ``ValueError`` with a plain message when there is no ink to read.
    """
    return preprocess_steps(image, size).result


def preprocess_steps(image, size: int = 28) -> Steps:
    """Like :func:`to_model_input`, keeping every intermediate picture."""
    size = check_int(size, "size (pixels)", 4, 512, hint="28 suits MNIST models.")
    gray = as_gray(image)
    if min(gray.shape) < 3:
        raise ValueError(
            f"This picture is too narrow to hold a digit ({gray.shape[1]}×{gray.shape[0]} after shrinking)."
        )
    smooth = cv2.medianBlur(gray, 3) if min(gray.shape) >= 48 else gray

    lo, hi = (float(v) for v in np.percentile(smooth, [0.5, 99.5]))
    if float(smooth.max() - smooth.min()) < _MIN_CONTRAST or hi - lo < _MIN_CONTRAST / 2:
        raise ValueError(_no_ink_message(gray))

    photo = _looks_like_photo(gray)
    inverted = _guess_light_paper(gray if not photo else smooth, photo)
    try:
        ink, mask = _find_ink(smooth, inverted, photo)
    except _NoInk as e:
        raise ValueError(str(e)) from None

    ink = _thicken_if_thin(ink, mask)
    ys, xs = np.nonzero(ink > 0.02)
    top, bottom, left, right = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    cropped = ink[top:bottom, left:right].copy()
    scaled = _scale_box(cropped, box_side(size))
    result = _centre_by_mass(scaled, size)
    return Steps(gray=gray, inverted=bool(inverted), ink=ink, cropped=cropped,
                 scaled=scaled, result=result, box=(top, left, bottom, right))


def _no_ink_message(gray: np.ndarray) -> str:
    m = float(gray.mean())
    what = "almost all white" if m > 0.75 else "almost all black" if m < 0.25 else "one flat shade"
    return (
        f"There is no ink to read: the picture is {what}. "
        "Write a digit with a dark pen on light paper (or draw one) so that it fills most of the picture."
    )


def _looks_like_photo(gray: np.ndarray) -> bool:
    """A drawing's background is one exact shade; a photo's never is (light, noise)."""
    if min(gray.shape) < _SMALL:
        return False
    q = np.round(gray * 255.0).astype(np.uint8)
    return int(np.bincount(q.ravel(), minlength=256).max()) < 0.3 * q.size


def _guess_light_paper(g: np.ndarray, photo: bool) -> bool:
    """True when the background is the light end (dark ink on light paper).

    A drawing's background is its most common shade, exactly.  A photo is
    judged by its middle (where the digit was aimed), away from bright or dark
    margins: the background is what fills most of it, the ink the minority.
    One more case: a sheet of paper on a dark desk can fill less than half of
    the photo -- a large, solid light region is paper, not chalk or ink.
    """
    h, w = g.shape
    if not photo:
        q = np.round(g * 255.0).astype(np.uint8)
        level = float(np.argmax(np.bincount(q.ravel(), minlength=256))) / 255.0
        lo, hi = float(g.min()), float(g.max())
    else:
        mid = g[round(0.2 * h):max(round(0.8 * h), round(0.2 * h) + 1),
                round(0.2 * w):max(round(0.8 * w), round(0.2 * w) + 1)]
        lo, level, hi = (float(v) for v in np.percentile(mid, [0.5, 50, 99.5]))
    if (level - lo) > (hi - level):
        return True
    u8 = np.round(np.clip(g, 0.0, 1.0) * 255.0).astype(np.uint8)
    _, light = cv2.threshold(u8, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if light.mean() < 0.2:
        return False
    n, _, stats, _ = cv2.connectedComponentsWithStats(light, connectivity=8)
    if n <= 1:
        return False
    i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    area = float(stats[i, cv2.CC_STAT_AREA])
    fill = area / float(stats[i, cv2.CC_STAT_WIDTH] * stats[i, cv2.CC_STAT_HEIGHT])
    return area > 0.15 * h * w and fill > 0.75


def _odd(n: float) -> int:
    n = max(3, int(round(n)))
    return n if n % 2 else n + 1


def _estimate_background(x: np.ndarray) -> np.ndarray:
    """Slowly varying background of an ink-is-bright image (lighting, shadows).

    A grey-scale opening with a window wider than any pen stroke removes the
    strokes and keeps the paper's brightness, gradients and the sharp edge of
    a shadow included (an opening never exceeds the image).
    """
    k = _odd(0.3 * min(x.shape))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    return cv2.morphologyEx(x, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)


def _ink_signal(g: np.ndarray, invert: bool) -> np.ndarray:
    """How much darker (invert) or lighter than its surroundings each pixel is: ink > 0."""
    if min(g.shape) < _SMALL:
        # A small drawing (a dataset's digit, an icon): no lighting to undo,
        # and too few pixels to estimate noise from.
        x = (1.0 - g) if invert else g
        return x - float(x.min())
    if invert:
        # Paper: brightness = light × reflectance.  Dividing by the paper's own
        # brightness (the background with the dark strokes removed) leaves the
        # reflectance, the same in a shadow as in full light.
        paper = 1.0 - _estimate_background(1.0 - g)
        return 1.0 - g / np.maximum(paper, 0.04)
    return g - _estimate_background(g)


def _find_ink(g: np.ndarray, invert: bool, photo: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """-> (ink image white on black in [0,1], boolean mask of the kept ink)."""
    h, w = g.shape
    d = _ink_signal(g, invert)
    if min(h, w) < _SMALL:
        med = sigma = 0.0
    else:
        med = float(np.median(d))
        sigma = 1.4826 * float(np.median(np.abs(d - med)))
    y = np.clip(d - med, 0.0, None)
    peak = float(y.max())
    if peak < _MIN_CONTRAST:
        raise _NoInk(
            "There is no ink to read: the marks are too faint or the picture is blank. "
            "Use a darker pen, better light, or draw the digit bigger."
        )
    u8 = np.round(y / peak * 255.0).astype(np.uint8)
    otsu, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    t = max(otsu / 255.0 * peak, 5.0 * sigma, 0.2 * peak, _MIN_CONTRAST / 2)
    mask = y >= t
    if not mask.any() or (sigma > 0 and float(y[mask].mean()) < _MIN_SNR * sigma):
        raise _NoInk(
            "There is no ink to read: only noise was found. "
            "Use a darker pen, better light, or draw the digit bigger."
        )
    keep = _keep_digit_components(mask, photo)
    if keep is None:
        raise _NoInk(
            "There is no ink to read: only tiny specks were found. "
            "Write the digit bigger so that it fills most of the picture."
        )
    ys, xs = np.nonzero(keep)
    area = float(keep.sum())
    fill = area / float((np.ptp(ys) + 1) * (np.ptp(xs) + 1))
    if min(h, w) >= _SMALL and (area > 0.6 * h * w or (area > 0.35 * h * w and fill > 0.85)):
        raise _NoInk(
            "There is no ink to read: what stands out is a large solid patch, not pen strokes. "
            "Photograph the digit so that the paper fills the picture."
        )
    ink_level = float(np.median(y[keep]))
    if ink_level < _MIN_INK_LEVEL:
        raise _NoInk(
            "There is no ink to read: the marks are too faint. "
            "Use a darker pen or marker, or better light."
        )
    grow = _odd(max(3, min(h, w) / 100))
    soft = cv2.dilate(keep.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    ink = np.clip(y / max(ink_level, 1e-6), 0.0, 1.0) * soft
    return ink.astype(np.float32), keep


def _keep_digit_components(mask: np.ndarray, photo: bool) -> np.ndarray | None:
    """Keep the main ink mass and the pieces near it; drop specks and far-away marks.

    In a photo, marks touching the picture's edge are shadows, the desk, the
    paper's edge or a vignette, not the digit: a digit is looked for clear of
    the edge.  In a drawing, the digit may touch the edge of the canvas.
    """
    h, w = mask.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.int64)
    x0 = stats[1:, cv2.CC_STAT_LEFT]
    y0 = stats[1:, cv2.CC_STAT_TOP]
    x1 = x0 + stats[1:, cv2.CC_STAT_WIDTH]
    y1 = y0 + stats[1:, cv2.CC_STAT_HEIGHT]
    touches = (x0 == 0) | (y0 == 0) | (x1 == w) | (y1 == h)
    biggest = int(areas.max())
    # A digit rarely touches the picture's edge; a shadow, a desk or the
    # paper's edge does.  Prefer the largest mark clear of the edge.
    inner = np.where(~touches & (areas >= 8))[0]
    if inner.size and (photo or areas[inner].max() >= 0.05 * biggest):
        anchor = int(inner[np.argmax(areas[inner])])
    elif photo:
        raise _NoInk(
            "There is no ink to read away from the edges of the photo: what stands out touches "
            "the edge (a shadow, the desk, the edge of the paper?). Leave some paper around the digit."
        )
    else:
        anchor = int(np.argmax(areas))
    side = max(int(x1[anchor] - x0[anchor]), int(y1[anchor] - y0[anchor]))
    small = min(h, w) < _SMALL
    if areas[anchor] < (3 if small else 8) or side < (3 if small else 5) or side < 0.04 * max(h, w):
        return None
    box = [int(y0[anchor]), int(x0[anchor]), int(y1[anchor]), int(x1[anchor])]
    chosen = {anchor}
    candidates = [i for i in range(n - 1)
                  if i != anchor and not touches[i] and areas[i] >= max(3, 0.08 * areas[anchor])]
    added = True
    while added:
        added = False
        margin = 0.35 * max(box[2] - box[0], box[3] - box[1])
        for i in candidates:
            if i in chosen:
                continue
            if (x0[i] < box[3] + margin and x1[i] > box[1] - margin
                    and y0[i] < box[2] + margin and y1[i] > box[0] - margin):
                chosen.add(i)
                box = [min(box[0], int(y0[i])), min(box[1], int(x0[i])),
                       max(box[2], int(y1[i])), max(box[3], int(x1[i]))]
                added = True
    return np.isin(labels, [i + 1 for i in chosen])


def _thicken_if_thin(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Thicken pen strokes much thinner than MNIST's (relative to the digit's size)."""
    ys, xs = np.nonzero(mask)
    box = max(int(np.ptp(ys)), int(np.ptp(xs))) + 1
    m8 = mask.astype(np.uint8)
    contours, _ = cv2.findContours(m8, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    if perimeter <= 0 or box < 10:
        return ink
    width = 2.0 * float(m8.sum()) / perimeter
    if width / box >= _THIN_STROKE:
        return ink
    extra = int(round((_MNIST_STROKE * box - width)))
    if extra < 1:
        return ink
    k = extra + 1 if extra % 2 == 0 else extra
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return cv2.dilate(ink, kernel)


def _scale_box(cropped: np.ndarray, side: int) -> np.ndarray:
    h, w = cropped.shape
    f = side / max(h, w)
    nh, nw = max(1, round(h * f)), max(1, round(w * f))
    interp = cv2.INTER_AREA if f < 1.0 else cv2.INTER_LINEAR
    scaled = cv2.resize(cropped, (nw, nh), interpolation=interp)
    scaled = np.clip(scaled, 0.0, 1.0)
    top = float(scaled.max())
    if top > 0:
        scaled = scaled / top
    return scaled.astype(np.float32)


def _centre_by_mass(scaled: np.ndarray, size: int) -> np.ndarray:
    """Place `scaled` in a size×size frame with its centre of mass at (size/2, size/2), as MNIST."""
    h, w = scaled.shape
    total = float(scaled.sum())
    if total <= 0:
        cy, cx = (h - 1) / 2, (w - 1) / 2
    else:
        cy = float((scaled.sum(axis=1) * np.arange(h)).sum() / total)
        cx = float((scaled.sum(axis=0) * np.arange(w)).sum() / total)
    target = size / 2.0
    oy = min(max(int(math.floor(target - cy + 0.5)), 0), size - h)
    ox = min(max(int(math.floor(target - cx + 0.5)), 0), size - w)
    out = np.zeros((size, size), np.float32)
    out[oy:oy + h, ox:ox + w] = scaled
    return out
