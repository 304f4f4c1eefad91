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

Pure NumPy / OpenCV / Pillow: no Streamlit here.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "MAX_PIXELS",
    "MAX_SIDE",
    "MIN_SIDE",
    "WORK_SIDE",
    "Steps",
    "box_side",
    "decode_image",
    "preprocess_steps",
    "to_model_input",
]

MAX_PIXELS = 40_000_000   # refuse larger photos (a 12 MP phone photo is 12_000_000)
MAX_SIDE = 30_000         # refuse absurd dimensions even when the pixel count is small
MIN_SIDE = 8              # an image smaller than this on a side cannot hold a digit
WORK_SIDE = 512           # photos are shrunk so their longest side is at most this first

# Raster formats a browser, phone or camera produces.  Pillow can open many
# more (EPS, for one, runs Ghostscript): an upload never gets near those.
_ALLOWED_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "BMP", "TIFF", "WEBP", "PPM", "AVIF")

_MIN_CONTRAST = 0.10      # ink must differ from the paper by 10% of full scale
_MIN_SNR = 6.0            # ... and stand clear of the noise
_MIN_INK_LEVEL = 0.15     # typical ink must be 15% darker than its paper (real pens: 25-90%)
_MNIST_STROKE = 0.11      # typical MNIST stroke width / box side (measured: median 0.12)
_SMALL = 32              # pictures smaller than this on a side are treated as clean drawings
_THIN_STROKE = 0.075      # thinner than this (MNIST 5th percentile ~0.08): thicken


class _NoInk(ValueError):
    """Nothing that looks like a written digit was found (raised as a plain ValueError)."""


# --------------------------------------------------------------------------- #
# Decoding an upload
# --------------------------------------------------------------------------- #

def decode_image(data: bytes) -> Image.Image:
    """Decode uploaded bytes into an RGB PIL image, safely.

    - EXIF orientation is honoured (phone photos come out upright);
    - animations give their first frame;
    - any mode (CMYK, 16-bit, palette, grayscale, with alpha) becomes RGB;
      transparency is flattened onto white, or onto black when the visible
      pixels are light strokes (white ink on a transparent canvas), or onto
      the picture's own background colour when only a margin is transparent;
    - the size is checked from the header, before any pixel is decoded:
      more than ``MAX_PIXELS`` pixels or a side above ``MAX_SIDE`` is refused.

    Raises ``ValueError`` with a plain message for empty data, text (SVG,
    HTML), files that are not images, truncated files and oversized images.
    """
    if data is None or len(data) == 0:
        raise ValueError("The file is empty: expected a photo (PNG, JPEG, …); got 0 bytes.")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(
            f"Expected the file's bytes; got {type(data).__name__}. "
            "Pass the uploaded file's contents (upload.getvalue())."
        )
    data = bytes(data)
    head = data[:512].lstrip().lower()
    if head.startswith(b"<") or (b"<svg" in head and b"\x00" not in head):
        raise ValueError(
            "This file is text (SVG or HTML), not a photo. "
            "Upload a PNG or JPEG picture of a digit instead."
        )

    Image.init()
    formats = [f for f in _ALLOWED_FORMATS if f in Image.OPEN]
    try:
        img = Image.open(io.BytesIO(data), formats=formats)  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(
            f"This picture is far too large (more than {MAX_PIXELS:,} pixels). "
            "Take a smaller photo or shrink it first."
        ) from None
    except UnidentifiedImageError:
        raise ValueError(
            "This file is not a picture we can read. "
            "Upload a PNG, JPEG, GIF, BMP, TIFF or WebP photo of a digit."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ValueError(f"This picture could not be read ({e}). Try another photo.") from None

    with img:
        w, h = img.size
        if w < 1 or h < 1:
            raise ValueError(f"This picture has no pixels ({w}×{h}).")
        if w > MAX_SIDE or h > MAX_SIDE:
            raise ValueError(
                f"This picture's dimensions are huge ({w}×{h} pixels; at most {MAX_SIDE:,} "
                "per side). Take a smaller photo or shrink it first."
            )
        if w * h > MAX_PIXELS:
            raise ValueError(
                f"This picture is too large ({w}×{h} = {w * h:,} pixels; at most "
                f"{MAX_PIXELS:,}). Take a smaller photo or shrink it first."
            )
        try:
            img.seek(0)  # first frame of an animation
            img.load()
            img = ImageOps.exif_transpose(img) or img
            return _pil_to_rgb(img)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValueError(
                f"This picture is far too large (more than {MAX_PIXELS:,} pixels)."
            ) from None
        except (OSError, SyntaxError, EOFError, ValueError, IndexError) as e:
            raise ValueError(
                f"This picture is damaged or incomplete ({e}). Try saving or taking it again."
            ) from None


_HIGH_DEPTH = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def _pil_to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB (alpha flattened, 16-bit rescaled)."""
    mode = img.mode
    if mode in _HIGH_DEPTH:
        gray = _high_depth_to_unit(img)
        g8 = (np.clip(gray, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        return Image.fromarray(g8).convert("RGB")
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        return _flatten_rgba(rgba)
    if mode == "RGB":
        return img.copy()
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as e:
        raise ValueError(f"Pictures in colour mode {mode!r} are not supported ({e}).") from None


def _high_depth_to_unit(img: Image.Image) -> np.ndarray:
    """16/32-bit integer or float image -> float32 in [0, 1]."""
    arr = np.asarray(img, dtype=np.float32)
    if img.mode.startswith("I;16"):
        return arr / 65535.0
    if img.mode == "F":
        top = float(np.nanmax(arr)) if arr.size else 0.0
        return arr if top <= 1.0 else arr / (255.0 if top <= 255.0 else top)
    top = float(arr.max()) if arr.size else 0.0   # mode "I": 16-bit data is common
    if top <= 255.0:
        return arr / 255.0
    if top <= 65535.0:
        return arr / 65535.0
    return arr / top


def _flatten_rgba(rgba: Image.Image) -> Image.Image:
    """Composite an RGBA image on a background chosen so the strokes stay visible."""
    alpha = rgba.getchannel("A")
    lo, hi = alpha.getextrema()
    if lo == 255:
        return rgba.convert("RGB")
    probe = rgba.copy()
    probe.thumbnail((256, 256))
    p = np.asarray(probe, dtype=np.float32) / 255.0
    bg = _alpha_background(p[..., :3], p[..., 3])
    out = Image.new("RGB", rgba.size, tuple(int(round(c * 255)) for c in bg))
    out.paste(rgba.convert("RGB"), mask=alpha)
    return out


def _alpha_background(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Background colour (RGB in [0, 1]) for flattening transparency.

    Mostly transparent (a canvas drawing, a logo): the visible pixels are the
    ink, so the background contrasts with them -- white behind dark strokes,
    black behind light strokes.  Mostly opaque (a photo with a transparent
    margin): the margin takes the picture's own typical colour.
    """
    opaque = alpha > 0.5
    if opaque.mean() >= 0.5:
        return np.median(rgb[opaque], axis=0)
    w = alpha.sum()
    if w <= 1e-6:
        return np.ones(3, np.float32)       # fully transparent: plain white (no ink)
    lum = _luminance(rgb)
    visible = float((lum * alpha).sum() / w)
    return np.zeros(3, np.float32) if visible > 0.5 else np.ones(3, np.float32)


# --------------------------------------------------------------------------- #
# Any image -> float grayscale
# --------------------------------------------------------------------------- #

def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _shrink(arr: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    h, w = arr.shape[:2]
    long_side = max(h, w)
    if long_side <= side:
        return arr
    f = side / long_side
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    return cv2.resize(arr, (nw, nh), interpolation=cv2.INTER_AREA)


def _as_gray(image) -> np.ndarray:
    """PIL image or H×W(×C) array -> float32 H×W in [0, 1], longest side ≤ WORK_SIDE."""
    if isinstance(image, Image.Image):
        w, h = image.size
        _check_size(h, w)
        if w * h > MAX_PIXELS:
            raise ValueError(f"This picture is too large ({w}×{h}); at most {MAX_PIXELS:,} pixels.")
        if image.mode in _HIGH_DEPTH:
            return _shrink(_high_depth_to_unit(image).astype(np.float32))
        if image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
            image = image.convert("RGBA")
        elif image.mode not in ("L", "RGB"):
            try:
                image = image.convert("RGB")
            except (ValueError, OSError) as e:
                raise ValueError(f"Pictures in colour mode {image.mode!r} are not supported ({e}).") from None
        factor = max(w, h) // WORK_SIDE
        if factor >= 2:  # a fast box reduction first; the exact shrink follows
            image = image.reduce(factor)
        return _array_to_gray(np.asarray(image))

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
    _check_size(arr.shape[0], arr.shape[1])
    return _array_to_gray(arr)


def _check_size(h: int, w: int) -> None:
    if min(h, w) < MIN_SIDE:
        raise ValueError(
            f"This picture is too small to hold a digit ({w}×{h} pixels; at least "
            f"{MIN_SIDE}×{MIN_SIDE} needed). Use a larger photo or drawing."
        )
    if max(h, w) > MAX_SIDE:
        raise ValueError(f"This picture's dimensions are huge ({w}×{h}); at most {MAX_SIDE:,} per side.")


def _array_to_gray(arr: np.ndarray) -> np.ndarray:
    dt = arr.dtype
    if dt == bool:
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
    arr = _shrink(arr)
    f = np.clip(arr.astype(np.float32) / np.float32(scale), 0.0, 1.0)
    if f.ndim == 2:
        return f
    c = f.shape[2]
    if c == 2:
        gray, alpha = f[..., 0], f[..., 1]
        rgb = np.repeat(gray[..., None], 3, axis=2)
    else:
        gray, alpha = _luminance(f[..., :3]), (f[..., 3] if c == 4 else None)
        rgb = f[..., :3]
    if alpha is not None and float(alpha.min()) < 0.999:
        bg = float(_luminance(_alpha_background(rgb, alpha)))
        gray = gray * alpha + bg * (1.0 - alpha)
    return gray.astype(np.float32)


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
    result: np.ndarray      # size×size float32 in [0,1], centred by centre of mass as MNIST
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # crop box in `gray`/`ink` coords: top, left, bottom, right (exclusive)


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
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 4 <= int(size) <= 512:
        raise ValueError(f"size must be a whole number of pixels between 4 and 512; got {size!r}.")
    size = int(size)
    gray = _as_gray(image)
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


def _find_ink(g: np.ndarray, invert: bool, photo: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """-> (ink image white on black in [0,1], boolean mask of the kept ink)."""
    h, w = g.shape
    if min(h, w) < _SMALL:
        # A small drawing (a dataset's digit, an icon): no lighting to undo,
        # and too few pixels to estimate noise from.
        x = (1.0 - g) if invert else g
        d = x - float(x.min())
    elif invert:
        # Paper: brightness = light × reflectance.  Dividing by the paper's own
        # brightness (the background with the dark strokes removed) leaves the
        # reflectance, the same in a shadow as in full light.
        paper = 1.0 - _estimate_background(1.0 - g)
        d = 1.0 - g / np.maximum(paper, 0.04)
    else:
        d = g - _estimate_background(g)
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
