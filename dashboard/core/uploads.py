"""The one upload helper, used by every uploader and the camera.

A file is handled once when it arrives: `accept(data, name)` checks it and returns
(a display-size preview or None, a small value the feature keeps, e.g. a Dataset). The
feature's state object keeps it in an `UploadSlot`: the original bytes, the preview and that
value. A picture's value is a `Picture`: a working copy at most WORK_SIDE pixels on its long
side (a JPEG is decoded straight to about that size, so a 12 MP phone photo never lands in
memory at full size on upload), which the pages compute on; the full-resolution picture is
decoded only for a download (`Upload.full_image()`), its bytes reserved in the budget first.
A bad file keeps the previous good one and says why. The kept file is shown from the slot
(thumbnail, name, Remove), so it survives page switches although the uploader widget does not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import streamlit as st

from analysis import images
from analysis.compute.budget import image_decode_bytes
from analysis.images import decode_image, open_image
from dashboard.core import alt_images, memory
from dashboard.core.guard import plain

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"]
PRIVACY = "Your upload stays in this server's memory for your session only and is sent nowhere else."
WORK_SIDE = 1400  # longest side of a picture's working copy (what the pages compute on and show)
THUMB_WIDTH = 96

Accept = Callable[[bytes, str], "tuple[bytes | None, Any]"]


@dataclass(frozen=True)
class Picture:
    """What an uploaded picture becomes: a working copy and the original's size."""
    image: np.ndarray  # RGB uint8, read-only, at most WORK_SIDE pixels on its longest side
    width: int  # the original's size, upright
    height: int

    @property
    def reduced(self) -> bool:
        return self.image.shape[:2] != (self.height, self.width)


@dataclass
class Upload:
    name: str
    file_id: str
    data: bytes  # the original bytes, as uploaded
    preview: bytes | None = None  # a display-size copy (JPEG or PNG), for pictures
    value: Any = None  # what the feature made of it (small; a Picture for pictures); never a full-size picture

    def image(self) -> np.ndarray:
        """The picture the pages work on: its working copy (at most WORK_SIDE px on the long side)."""
        if isinstance(self.value, Picture):
            return self.value.image
        return self.full_image()

    def full_image(self) -> np.ndarray:
        """The full-resolution RGB picture (uint8), decoded now (for a download), its bytes
        reserved in the server's memory budget first (dashboard.core.memory, quietly: no script run)."""

        w, h = picture_size(self.data)
        with memory.hold_quietly(image_decode_bytes(w, h), f"decoding a {w}×{h} photo", holder="download"):
            return np.asarray(decode_image(self.data))


def picture_size(data: bytes, draft_side: int | None = None) -> tuple[int, int]:
    """(width, height) from the file's header (no decode), or of the JPEG decoded at a reduced
    scale for ``draft_side``; ValueError for a file that is not a picture."""

    with open_image(data) as img:
        if draft_side is not None and img.format in ("JPEG", "MPO"):
            img.draft("RGB", (draft_side, draft_side))
        return img.size


@dataclass
class UploadSlot:
    current: Upload | None = None  # the good file in use
    seen_id: str | None = None  # the widget's last file: each file is handled once
    error: str | None = None  # why the widget's last file was refused
    showing: bool = False  # the widget holds a file in this run


def picture(data: bytes, name: str) -> tuple[bytes, Picture]:
    """`accept` for pictures: decode once (a JPEG straight to about WORK_SIDE pixels), keep a
    working copy of at most WORK_SIDE pixels and a display copy."""

    w, h = picture_size(data)  # raises ValueError with a clear message
    dw, dh = picture_size(data, WORK_SIDE)
    with memory.held(image_decode_bytes(dw, dh), f"decoding a {w}×{h} photo"):  # NeverFits: a ValueError too
        image = np.asarray(images.decode_image(data, draft_side=WORK_SIDE))  # ValueError with a clear message
        small = np.ascontiguousarray(images.shrink(image, WORK_SIDE))
        preview = images.encode(small, "png" if max(small.shape[:2]) < 300 else "jpeg")
    if (image.shape[1] > image.shape[0]) != (dw > dh):  # turned upright (EXIF orientation)
        w, h = h, w
    small.setflags(write=False)
    return preview, Picture(small, w, h)


def take(slot: UploadSlot, file, accept: Accept, what: str) -> Upload | None:
    """Handle the widget's file (once per file), show a refusal, return the file in use."""
    slot.showing = file is not None
    if file is not None and file.file_id != slot.seen_id:
        slot.seen_id = file.file_id
        data = file.getvalue()
        try:
            preview, value = accept(data, file.name)
            slot.current, slot.error = Upload(file.name, file.file_id, data, preview, value), None
        except ValueError as e:
            slot.error = f"Could not use “{plain(file.name)}”: {plain(e, limit=600)}"
    if file is not None and slot.error and slot.seen_id == file.file_id:
        kept = f" The previous {what} is still in use." if slot.current is not None else ""
        st.error(slot.error + kept, icon=":material/error:")
    return slot.current


def _remove(slot: UploadSlot) -> None:
    slot.current = None


def shown(slot: UploadSlot, key: str, what: str) -> None:
    """The kept file: a thumbnail (pictures), its name and a Remove button."""
    if slot.current is None:
        return
    a, b = st.columns([1, 2], vertical_alignment="center")
    if slot.current.preview is not None:
        alt_images.show(a, slot.current.preview, f"Thumbnail of your upload {slot.current.name}", width=THUMB_WIDTH)
    b.caption(f"In use: {plain(slot.current.name)}")
    b.button("Remove", key=f"{key}_remove", on_click=_remove, args=(slot,), icon=":material/close:",
             help=f"Forget this {what}.")


def upload_ui(slot: UploadSlot, label: str, key: str, types: list[str] | None = None, accept: Accept = picture,
              what: str = "picture", help: str | None = None, show: bool = True) -> Upload | None:
    """A file uploader backed by `slot`. Returns the file in use (or None)."""
    file = st.file_uploader(label, type=types or IMAGE_TYPES, key=key, help=help or PRIVACY)
    current = take(slot, file, accept, what)
    if show:
        shown(slot, key, what)
    return current


def camera_ui(slot: UploadSlot, label: str, key: str, help: str | None = None) -> Upload | None:
    """The camera, backed by `slot` like an upload (the last good shot is kept and shown)."""
    shot = st.camera_input(label, key=key, help=help or PRIVACY)
    current = take(slot, shot, picture, "camera picture")
    if shot is None:  # the widget shows the live shot itself; after a page switch, the slot does
        shown(slot, key, "camera picture")
    return current
