"""Shared widgets: each `*_ui()` draws controls and returns plain values."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from analysis import kernels
from analysis.images import DISPLAY_MODES, SAMPLES

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"]
PRIVACY = "Your upload stays in this server's memory for your session only and is sent nowhere else."


def uploaded_image_ui(key: str, label: str = "Upload a photo", help: str | None = None) -> tuple[np.ndarray | None, str | None]:
    """A file uploader whose decoded image is kept in this session.

    A new upload is decoded once; a bad one shows a clear message and the
    previous good image stays. Returns (RGB uint8 image or None, file name or None).
    """
    from analysis.preprocess import decode_image

    good, bad = f"{key}__image", f"{key}__error"
    file = st.file_uploader(label, type=IMAGE_TYPES, key=key, help=help or PRIVACY)
    if file is not None:
        seen = st.session_state.get(good, (None,))[0], st.session_state.get(bad, (None,))[0]
        if file.file_id not in seen:
            try:
                image = np.asarray(decode_image(file.getvalue()))
                image.setflags(write=False)
                st.session_state[good] = (file.file_id, file.name, image)
                st.session_state.pop(bad, None)
            except ValueError as e:
                st.session_state[bad] = (file.file_id, f"Could not use “{file.name}”: {e}")
        if st.session_state.get(bad, (None,))[0] == file.file_id:
            kept = " The previous picture is still in use." if good in st.session_state else ""
            st.error(st.session_state[bad][1] + kept, icon=":material/error:")
    _, name, image = st.session_state.get(good, (None, None, None))
    return image, name


def image_source_ui() -> tuple[np.ndarray, str, str]:
    """Pick a bundled picture or upload one. Returns (image, caption, a key that
    changes whenever the picture does)."""
    mine = "Your own picture"
    image, name = uploaded_image_ui("conv_upload", "Upload your own picture",
                                    help="PNG, JPEG, WebP, BMP, TIFF or GIF (first frame), up to 50 MB. " + PRIVACY)
    options = list(SAMPLES) + ([mine] if image is not None else [])
    if image is not None and st.session_state.get("conv_last_upload") != name:
        st.session_state["conv_last_upload"] = name
        st.session_state["conv_source"] = mine  # a fresh good upload is shown at once
    if st.session_state.get("conv_source") not in options:
        st.session_state.pop("conv_source", None)
    choice = st.radio("Picture", options, key="conv_source",
                      help="A bundled photo or pattern, or the picture you uploaded.",
                      captions=[SAMPLES.get(o, name or "") for o in options])
    if choice == mine:
        return image, f"Your picture: {name}", st.session_state["conv_upload__image"][0]
    from analysis.images import sample_image

    return sample_image(choice), choice, choice


@dataclass(frozen=True)
class KernelChoice:
    name: str
    kernel: np.ndarray
    explanation: str


def _remember_preset() -> None:
    if st.session_state.get("conv_preset") == "Custom" and "conv_custom" not in st.session_state:
        last = st.session_state.get("conv_last_kernel", kernels.preset_kernel("Horizontal edge"))
        st.session_state["conv_custom"] = kernels.format_kernel(last)


def kernel_ui() -> KernelChoice | None:
    """Preset or custom kernel. Returns None (after showing why) when the typed kernel is invalid."""
    st.session_state.setdefault("conv_preset", "Box blur")
    name = st.selectbox("Kernel", [*kernels.PRESETS, "Custom"], key="conv_preset",
                        on_change=_remember_preset,
                        help="The small grid of weights slid over the picture. 'Custom' lets you type your own.")
    if name == "Custom":
        st.session_state.setdefault("conv_custom", kernels.format_kernel(kernels.preset_kernel("Horizontal edge")))
        text = st.text_area("Your kernel: one row per line", key="conv_custom", height=150,
                            help="Numbers separated by spaces, one row per line, e.g. '1 2 1'. Fractions like 1/9 are fine. "
                                 f"Both sides odd (3×3, 5×5, …), up to {kernels.MAX_KERNEL_SIZE}×{kernels.MAX_KERNEL_SIZE}.")
        norm = st.checkbox("Normalise so it sums to 1", key="conv_normalise",
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
        size = st.select_slider("Kernel size", options=list(range(3, kernels.MAX_KERNEL_SIZE + 1, 2)), key="conv_size", help="Side of the square kernel: bigger blurs more (and takes longer).")
    k = kernels.preset_kernel(name, size)
    st.session_state["conv_last_kernel"] = k
    return KernelChoice(name, k, preset.explanation)


@dataclass(frozen=True)
class ConvSettings:
    padding: str  # 'valid' | 'same'
    stride: int
    gray: bool
    display: str  # a key of DISPLAY_MODES
    flip: bool


def conv_settings_ui(kernel: np.ndarray) -> ConvSettings:
    pad = st.radio("Padding", ["valid", "same"], key="conv_padding", horizontal=True,
                   format_func={"valid": "None (valid)", "same": "Zeros (same size)"}.get,
                   help="Without padding the kernel only visits positions where it fits, so the output shrinks. "
                        "Zero padding adds a border of zeros so the output keeps the input's size.")
    st.session_state.setdefault("conv_stride", 1)
    stride = st.select_slider("Stride", options=[1, 2, 3, 4], key="conv_stride",
                              help="How many pixels the kernel jumps between positions. Stride 2 halves the size.")
    gray = st.radio("Colour", ["rgb", "gray"], key="conv_colour", horizontal=True,
                    format_func={"rgb": "Each RGB channel", "gray": "Grayscale"}.get,
                    help="Filter red, green and blue separately, or first turn the picture gray.") == "gray"
    modes = list(DISPLAY_MODES)
    default = "absolute" if (kernel < 0).any() else "clip"
    display = st.radio("Show the output as", modes, index=modes.index(default), horizontal=False,
                       key=f"conv_display_{default}",
                       format_func={"absolute": "Absolute value", "rescale": "Rescaled to 0–255", "clip": "Clipped to 0–255"}.get,
                       help="Outputs can be negative or above 255 (edge kernels give both). A picture needs 0–255, "
                            "so choose how to map them. Edge kernels start on absolute value, blurs on clipping.")
    flip = st.toggle("Flip the kernel (true convolution)", key="conv_flip",
                     help="Deep-learning 'convolution' (PyTorch, this page) slides the kernel as it is. The "
                          "mathematicians' convolution turns it 180° first. Symmetric kernels give the same result.")
    return ConvSettings(pad, stride, gray, display, flip)
