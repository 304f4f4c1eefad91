"""Convolution page helpers that touch Streamlit: display encoding memoised per
session, and the plain-language size message."""
from __future__ import annotations

import numpy as np
import streamlit as st

from analysis import images
from analysis.convolution import output_size

DISPLAY_SIDE = 1400  # longest side sent to the browser; the download keeps full resolution
PIXEL_ART_SIDE = 280  # tiny images are enlarged with visible pixels


def for_browser(image_u8: np.ndarray) -> bytes:
    """Encode a uint8 picture once, at a size a screen can show."""
    h, w = image_u8.shape[:2]
    if max(h, w) < PIXEL_ART_SIDE:
        import cv2

        f = -(-PIXEL_ART_SIDE // max(h, w))
        return images.encode(cv2.resize(image_u8, (w * f, h * f), interpolation=cv2.INTER_NEAREST), "png")
    return images.encode(images.shrink(image_u8, DISPLAY_SIDE), "jpeg")


def input_for_browser(image: np.ndarray, key: str) -> bytes:
    """The 'before' picture, encoded once per session and picture."""
    memo = st.session_state.get("conv_before")
    if memo is None or memo[0] != key:
        memo = (key, for_browser(image))
        st.session_state["conv_before"] = memo
    return memo[1]


def output_for_browser(out: np.ndarray, mode: str) -> bytes:
    """Shrink the float output first (cheap), then map to 0–255 and encode."""
    h, w = out.shape[:2]
    small = out if max(h, w) <= DISPLAY_SIDE else images.shrink(out, DISPLAY_SIDE)
    return for_browser(images.to_uint8(small, mode))


def size_message(h: int, w: int, kshape: tuple[int, int], padding: str, stride: int) -> str:
    oh, ow = output_size(h, w, kshape, padding, stride)
    kh, kw = kshape
    text = f"**{w} × {h} → {ow} × {oh}** pixels (width × height)"
    if padding == "valid" and (kh > 1 or kw > 1):
        text += (f": a {kh}×{kw} kernel cannot be centred on the border pixels, "
                 f"so {kw - 1} columns and {kh - 1} rows are lost")
    elif padding == "same" and (kh > 1 or kw > 1):
        text += f": a border of zeros ({kh // 2} rows, {kw // 2} columns on each side) keeps the size"
    if stride > 1:
        text += f"; stride {stride} keeps every {stride}ᵗʰ position in each direction"
    return text + "."
