"""The one gate for untrusted bytes: uploads, zip entries, weights files and the drawing canvas.

Every check here reads headers only (a PNG's IHDR, a zip's end-of-central-directory record, a
.safetensors JSON header) and refuses with a plain ``ValueError`` (what was wrong, what to do)
*before* anything is decoded, unpacked or allocated. Pictures themselves go on through
`analysis.images.open_image` / `decode_image` (the format allow-list and pixel caps), which this
module extends with a shape check (no thin strips). No Streamlit here.

- ``check_picture_shape(w, h)``: a picture every page can work with (1×1 … at most MAX_ASPECT:1).
- ``canvas_picture(data_url, width, height)``: the canvas's PNG, exactly ``width``×``height``
  RGBA (the component sends ``canvas.toDataURL({format: "png", multiplier: 1})`` of a canvas
  made with ``enableRetinaScaling: false``: the same size at every devicePixelRatio).
- ``zip_entry_count(data)``: the entry count from the end-of-central-directory record (and an
  upper bound from the directory's bytes), checked before ``zipfile`` parses the directory.
- ``image_zip(report, should_stop, data=…, name=…)``: the zip decode as a worker task (run in a
  separate process with a time limit by dashboard/core/untrusted.py); ``zip_bytes(…)`` its memory.
- ``check_weights_plan(header, model_config, image_shape, n_classes)``: bounds on the metadata
  and the parameter count it implies, checked against the header's tensor shapes before any
  model is built; ``open_weights(data)``: the one loader for a user's weights file, every error
  on its path (RuntimeError, MemoryError too) a plain refusal.
"""
from __future__ import annotations

import base64
import binascii
import io
import logging
import struct
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------ pictures

MAX_ASPECT = 50  # a picture at most 50 times wider than tall (or taller than wide): thumbnails stay >= 1 px


def check_picture_shape(w: int, h: int) -> None:
    """ValueError for a thin strip (e.g. 20000×1): no page can show or filter it usefully."""
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ValueError(f"This picture is a thin strip ({w}×{h} pixels); pictures may be at most "
                         f"{MAX_ASPECT} times wider than tall. Crop it closer to a square and try again.")


# ------------------------------------------------------------------------------ the canvas

CANVAS_MAX_URL = 2_000_000  # characters: a 280×280 RGBA PNG is at most ~320 KB (~430 K in base64)
_PNG = b"\x89PNG\r\n\x1a\n"
CANVAS_REFUSAL = "The drawing could not be read (the canvas sent something that is not its picture). " \
                 "Press the bin under the canvas to clear it and draw again."


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk; ValueError otherwise. Reads 29 bytes."""
    if len(data) < 33 or not data.startswith(_PNG) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    w, h, depth, colour = struct.unpack(">IIBB", data[16:26])
    return w, h, depth, colour


def canvas_picture(data_url: Any, width: int, height: int) -> np.ndarray:
    """The canvas's picture as RGBA uint8 (height, width, 4), or ValueError(CANVAS_REFUSAL).

    Accepted: a ``data:image/png;base64,`` URL of at most CANVAS_MAX_URL characters whose PNG is
    exactly ``width``×``height``, 8-bit RGBA (what the component sends at devicePixelRatio 1, 2
    and 3 alike). The size is read from the PNG header before Pillow decodes anything."""
    from PIL import Image

    prefix = "data:image/png;base64,"
    if not isinstance(data_url, str) or not data_url.startswith(prefix) or len(data_url) > CANVAS_MAX_URL:
        raise ValueError(CANVAS_REFUSAL)
    try:
        data = base64.b64decode(data_url[len(prefix):], validate=True)
        w, h, depth, colour = png_header(data)
    except (binascii.Error, ValueError, struct.error):
        raise ValueError(CANVAS_REFUSAL) from None
    if (w, h, depth, colour) != (width, height, 8, 6):
        raise ValueError(CANVAS_REFUSAL)
    try:

        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            if img.size != (width, height) or img.mode != "RGBA":
                raise ValueError(CANVAS_REFUSAL)
            img.load()
            out = np.asarray(img)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        raise ValueError(CANVAS_REFUSAL) from None
    if out.shape != (height, width, 4):
        raise ValueError(CANVAS_REFUSAL)
    return out


# ------------------------------------------------------------------------------ zips

ZIP_MAX_ENTRIES = 5000
ZIP_ENTRY_MAX_PIXELS = 4_000_000  # per image in a zip: they are shrunk to at most 64×64 anyway
ZIP_TOTAL_MAX_PIXELS = 100_000_000  # over the whole zip (1,000 digits of 28×28: 0.8 MP)
_EOCD, _EOCD64_LOC, _EOCD64, _CENTRAL = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06", b"PK\x01\x02"
_NOT_ZIP = "Expected a .zip file with one folder of images per class; this file is not a zip."


def zip_entry_count(data: bytes, max_entries: int = ZIP_MAX_ENTRIES) -> int:
    """How many entries the zip's directory holds, read from the end-of-central-directory record
    (zip64 too) and bounded above by the directory's central-header signatures, before anything
    parses the directory. ValueError when it is not a zip or holds more than ``max_entries``."""
    data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    start = max(0, len(data) - 22 - 65535)
    at = bytes(data[start:]).rfind(_EOCD)
    if at < 0:
        raise ValueError(_NOT_ZIP)
    at += start
    if at + 22 > len(data):
        raise ValueError(_NOT_ZIP)
    _, _, _, _, total, cd_size, cd_offset, _ = struct.unpack("<4s4H2LH", bytes(data[at:at + 22]))
    if (total == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF) and at >= 20 \
            and bytes(data[at - 20:at - 16]) == _EOCD64_LOC:
        (off64,) = struct.unpack("<Q", bytes(data[at - 12:at - 4]))
        if off64 + 56 <= len(data) and bytes(data[off64:off64 + 4]) == _EOCD64:
            total, cd_size, cd_offset = struct.unpack("<3Q", bytes(data[off64 + 32:off64 + 56]))
    end = min(len(data), cd_offset + cd_size) if cd_offset < len(data) else len(data)
    lo = cd_offset if cd_offset < len(data) else max(0, at - cd_size)
    signatures = bytes(data[lo:end]).count(_CENTRAL)  # every directory entry starts with one
    count = max(int(total), signatures)
    if count > max_entries:
        raise ValueError(f"Refused the zip: it has {count:,} entries, the limit is {max_entries:,}. "
                         "Upload fewer images.")
    return count


def zip_bytes(data_len: int, max_total_bytes: int = 200_000_000) -> int:
    """Memory (bytes) the zip decode needs at most in its worker: the zip, what it unpacks to (capped at
    ``max_total_bytes``, but at most 1,000× the zip), one image at its pixel cap (RGBA and RGB copies)
    and the result (5,000 images of 64×64 float32)."""
    unpacked = min(max_total_bytes, 1000 * data_len)
    return int(data_len + unpacked + ZIP_ENTRY_MAX_PIXELS * 8 + ZIP_MAX_ENTRIES * 64 * 64 * 4)


# ------------------------------------------------------------------------------ weights

MAX_CLASSES = 100
MAX_PARAMETERS = 20_000_000  # the largest model the Training page builds has ~13 M (80 MB of float32)
WEIGHTS_FIX = "Upload a .safetensors file downloaded from NetLens's Training page."
