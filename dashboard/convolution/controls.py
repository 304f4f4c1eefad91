"""Convolution's sidebar widgets: each `*_ui()` draws controls and returns plain values.
Values persist for the session (`persist_state`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import streamlit as st

from analysis import kernels
from analysis.images import DISPLAY_MODES, SAMPLES, sample_image
from dashboard.convolution.state import convolution_state
from dashboard.core import links
from dashboard.core.guard import plain
from dashboard.core.session import PERSIST
from dashboard.core.uploads import PRIVACY, upload_ui

LINK = [links.Param("kernel", "conv_preset", links.choice(*kernels.PRESETS, "Custom")),
        links.Param("size", "conv_size", links.whole(3, kernels.MAX_KERNEL_SIZE, odd=True)),
        links.Param("pad", "conv_padding", links.choice("valid", "same")),
        links.Param("stride", "conv_stride", links.whole(1, 4)),
        links.Param("colour", "conv_colour", links.choice("rgb", "gray"))]


@dataclass(frozen=True)
class Source:
    """The picture Convolution works on, and how to get it at full size (for the download)."""
    image: np.ndarray  # at most uploads.WORK_SIDE pixels on its long side for an upload
    caption: str
    key: str  # changes whenever the picture does
    full: Callable[[], np.ndarray]  # the full-resolution picture, decoded on demand
    note: str = ""  # says when the page works on a smaller copy of the upload


def image_source_ui() -> Source:
    """Pick a bundled picture or upload one."""
    mine = "Your own picture"
    state = convolution_state()
    up = upload_ui(state.upload, "Upload your own picture", "conv_upload",
                   help="PNG, JPEG, WebP, BMP, TIFF or GIF (first frame), up to 50 MB. " + PRIVACY)
    options = list(SAMPLES) + ([mine] if up is not None else [])
    if up is not None and state.shown_upload != up.file_id:
        state.shown_upload = up.file_id
        st.session_state["conv_source"] = mine  # a fresh good upload is shown at once
    if st.session_state.get("conv_source") not in options:
        st.session_state.pop("conv_source", None)
    choice = st.radio("Picture", options, key="conv_source", persist_state=PERSIST,
                      help="A bundled photo or pattern, or the picture you uploaded.",
                      captions=[SAMPLES.get(o, plain(up.name) if up else "") for o in options])
    if choice == mine:
        pic, note = up.value, ""
        if pic.reduced:
            h, w = pic.image.shape[:2]
            note = (f"Your photo is {pic.width} × {pic.height} pixels; to stay quick, this page works on a copy "
                    f"{w} × {h} pixels (what a screen shows). The download filters the full-size photo.")
        return Source(pic.image, f"Your picture: {up.name}", up.file_id, up.full_image, note)

    image = sample_image(choice)
    return Source(image, choice, choice, lambda: image)


@dataclass(frozen=True)
class KernelChoice:
    name: str
    kernel: np.ndarray
    explanation: str


def _remember_preset() -> None:
    if st.session_state.get("conv_preset") == "Custom" and "conv_custom" not in st.session_state:
        last = convolution_state().last_kernel
        last = kernels.preset_kernel("Horizontal edge") if last is None else last
        st.session_state["conv_custom"] = kernels.format_kernel(last)


def kernel_ui() -> KernelChoice | None:
    """Preset or custom kernel. Returns None (after showing why) when the typed kernel is invalid."""
    st.session_state.setdefault("conv_preset", "Box blur")
    name = st.selectbox("Kernel", [*kernels.PRESETS, "Custom"], key="conv_preset", persist_state=PERSIST,
                        on_change=_remember_preset,
                        help="The small grid of weights slid over the picture. 'Custom' lets you type your own.")
    if name == "Custom":
        st.session_state.setdefault("conv_custom", kernels.format_kernel(kernels.preset_kernel("Horizontal edge")))
        text = st.text_area(
            "Your kernel: one row per line",
            key="conv_custom",
            persist_state=PERSIST,
            height=150,
            help="Numbers separated by spaces, one row per line, e.g. '1 2 1'. Fractions like 1/9 are fine. "
            f"Both sides odd (3×3, 5×5, …), up to {kernels.MAX_KERNEL_SIZE}×{kernels.MAX_KERNEL_SIZE}.",
        )
        norm = st.checkbox("Normalise so it sums to 1", key="conv_normalise", persist_state=PERSIST,
                           help="Divide every weight by their sum, so the picture keeps its overall brightness.")
        try:
            k = kernels.parse_kernel(text)
            if norm:
                k = kernels.normalise(k)
        except ValueError as e:
            st.error(str(e), icon=":material/error:")
            return None
        return KernelChoice("Custom", k, "Your own weights.")
    preset = kernels.PRESETS[name]
    size = 3
    if preset.sized:
        st.session_state.setdefault("conv_size", 3)
        size = st.select_slider(
            "Kernel size",
            options=list(range(3, kernels.MAX_KERNEL_SIZE + 1, 2)),
            key="conv_size",
            persist_state=PERSIST,
            help="Side of the square kernel: bigger blurs more (and takes longer).",
        )
    k = kernels.preset_kernel(name, size)
    convolution_state().last_kernel = k
    return KernelChoice(name, k, preset.explanation)


@dataclass(frozen=True)
class ConvSettings:
    padding: str  # 'valid' | 'same'
    stride: int
    gray: bool
    display: str  # a key of DISPLAY_MODES
    flip: bool


def conv_settings_ui(kernel: np.ndarray | None) -> ConvSettings:
    """Padding, stride, colour, display mode (its default follows the kernel: None while it is being fixed)."""
    kernel = np.zeros((1, 1)) if kernel is None else kernel
    pad = st.radio("Padding", ["valid", "same"], key="conv_padding", persist_state=PERSIST, horizontal=True,
                   format_func={"valid": "None (valid)", "same": "Zeros (same size)"}.get,
                   help="Without padding the kernel only visits positions where it fits, so the output shrinks. "
                        "Zero padding adds a border of zeros so the output keeps the input's size.")
    st.session_state.setdefault("conv_stride", 1)
    stride = st.select_slider("Stride", options=[1, 2, 3, 4], key="conv_stride", persist_state=PERSIST,
                              help="How many pixels the kernel jumps between positions. Stride 2 halves the size.")
    gray = st.radio("Colour", ["rgb", "gray"], key="conv_colour", persist_state=PERSIST, horizontal=True,
                    format_func={"rgb": "Each RGB channel", "gray": "Grayscale"}.get,
                    help="Filter red, green and blue separately, or first turn the picture gray.") == "gray"
    modes = list(DISPLAY_MODES)
    default = "absolute" if (kernel < 0).any() else "clip"
    display = st.radio(
        "Show the output as",
        modes,
        index=modes.index(default),
        horizontal=False,
        key=f"conv_display_{default}",
        persist_state=PERSIST,
        format_func={"absolute": "Absolute value", "rescale": "Rescaled to 0–255", "clip": "Clipped to 0–255"}.get,
        help="Outputs can be negative or above 255 (edge kernels give both). A picture needs 0–255, "
        "so choose how to map them. Edge kernels start on absolute value, blurs on clipping.",
    )
    flip = st.toggle("Flip the kernel (true convolution)", key="conv_flip", persist_state=PERSIST,
                     help="Deep-learning 'convolution' (PyTorch, this page) slides the kernel as it is. The "
                          "mathematicians' convolution turns it 180° first. Symmetric kernels give the same result.")
    return ConvSettings(pad, stride, gray, display, flip)
