"""What Convolution draws: pictures encoded for the browser (the 'before' one once per
picture), the plain-language size message, and the step-by-step panel."""
from __future__ import annotations

import numpy as np
import streamlit as st

from analysis import images
from analysis.compute.budget import convolution_bytes
from analysis.convolution import convolve, explain_pixel, output_size
from dashboard.convolution.state import convolution_state
from dashboard.core import alt_images, chart_text, figures, memory
from dashboard.core.figures import NO_BAR, chart
from dashboard.core.session import PERSIST

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
    state = convolution_state()
    if state.before is None or state.before[0] != key:
        state.before = (key, for_browser(image))
    return state.before[1]


def output_for_browser(out: np.ndarray, mode: str) -> bytes:
    """Shrink the float output first (cheap), then map to 0–255 and encode."""
    h, w = out.shape[:2]
    small = out if max(h, w) <= DISPLAY_SIDE else images.shrink(out, DISPLAY_SIDE)
    return for_browser(images.to_uint8(small, mode))


def full_png(src: np.ndarray, kernel: np.ndarray, padding: str, stride: int, flip: bool, mode: str,
             gray: bool = False) -> bytes:
    """The whole output as a PNG, built on click (from the full-size picture, in gray if asked),
    its memory reserved in the server's budget first."""

    src = images.to_gray(src) if gray else src
    h, w = src.shape[:2]
    with memory.hold_quietly(convolution_bytes(w, h, src.shape[2] if src.ndim == 3 else 1),
                             f"full-size download of a {w}×{h} picture"):
        return images.encode(images.to_uint8(convolve(src, kernel, padding, stride, flip), mode), "png")


def kernel_ui(source, choice, settings) -> np.ndarray:
    """The kernel, what it does, the size message; returns the picture it slides over (gray if asked)."""
    src = images.to_gray(source.image) if settings.gray else source.image
    left, right = st.columns([1, 2], vertical_alignment="center")
    figures.chart(left, figures.kernel_heatmap(choice.kernel, "The kernel"), chart_text.kernel(choice.kernel),
                  width="stretch", config=figures.NO_BAR)
    right.markdown(f"**{choice.name}.** {choice.explanation}")
    right.markdown(size_message(*src.shape[:2], choice.kernel.shape, settings.padding, settings.stride))
    if source.note:
        right.caption(source.note)
    right.caption("Like PyTorch, this page does not flip the kernel (cross-correlation)"
                  + (" — but you switched flipping on, so this is true convolution." if settings.flip else "."))
    return src


def before_after_ui(src: np.ndarray, source, choice, settings) -> None:
    """Before and after, side by side (the filtering reserves its bytes in the server's budget first),
    and the full-resolution download; a clear message (and the page stops) when it cannot be done."""
    h, w = src.shape[:2]
    need = convolution_bytes(w, h, src.shape[2] if src.ndim == 3 else 1)
    kh, kw = choice.kernel.shape
    before, after = st.columns(2)
    try:
        with memory.held(need, f"filtering a {w}×{h} picture"):
            out = convolve(src, choice.kernel, settings.padding, settings.stride, settings.flip)
            after_jpeg, lo, hi = output_for_browser(out, settings.display), float(out.min()), float(out.max())
            del out
            before_jpeg = input_for_browser(src, f"{source.key}|{settings.gray}")
    except ValueError as e:  # a kernel that does not fit, or work that could never fit the budget
        st.error(str(e), icon=":material/error:")
        st.stop()
    alt_images.show(before, before_jpeg, f"The photo before filtering: {source.caption}",
                    caption=f"Before: {source.caption}")
    alt_images.show(after, after_jpeg, f"The photo after the {choice.name} kernel ({kh}×{kw}), shown as "
                    f"{images.DISPLAY_MODES[settings.display]}; values from {lo:.4g} to {hi:.4g}",
                    caption=f"After: {choice.name} ({kh}×{kw}), shown as {images.DISPLAY_MODES[settings.display]}. "
                            f"Values range from {lo:.4g} to {hi:.4g}.")
    kernel, pad, stride, flip, mode, gray, full = (choice.kernel, settings.padding, settings.stride, settings.flip,
                                                   settings.display, settings.gray, source.full)
    st.download_button(
        "Download the result (full-resolution PNG)", icon=":material/download:",
        data=lambda: full_png(full(), kernel, pad, stride, flip, mode, gray),
        file_name=f"netlens-{choice.name.lower().replace(' ', '-')}.png", mime="image/png",
        help="The whole output at full size, with the display mapping above. Made only when you click.",
    )


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def size_message(h: int, w: int, kshape: tuple[int, int], padding: str, stride: int) -> str:
    oh, ow = output_size(h, w, kshape, padding, stride)
    kh, kw = kshape
    text = f"**{w} × {h} → {ow} × {oh}** pixels (width × height)"
    if padding == "valid" and (kh > 1 or kw > 1):
        text += (f": a {kh}×{kw} kernel cannot be centred on the border pixels, "
                 f"so {kw - 1} columns and {kh - 1} rows are lost")
    elif padding == "same" and (kh > 1 or kw > 1):
        text += (
            f": a border of zeros ({_count(kh // 2, 'row')}, {_count(kw // 2, 'column')} on each side) keeps the size"
        )
    if stride > 1:
        text += f"; stride {stride} keeps every {stride}ᵗʰ position in each direction"
    return text + "."


SLIDE_GRID = np.array([[0, 0, 0, 0, 0, 0],
                       [0, 0, 0, 0, 0, 0],
                       [9, 9, 9, 9, 9, 9],
                       [0, 0, 0, 0, 0, 0],
                       [0, 0, 9, 9, 0, 0],
                       [0, 0, 9, 9, 0, 0]], dtype=float)
STEP_MAX_KERNEL = 7


def _move(delta: int, n: int) -> None:
    state = convolution_state()
    state.step_pos = (state.step_pos + delta) % n


def step_through_ui(image: np.ndarray, kernel: np.ndarray, padding: str, stride: int, flip: bool) -> None:
    """Pick one output pixel and see the window, the kernel, the products and their sum."""

    st.subheader("Step by step: where one output pixel comes from")
    source = st.radio("Numbers to work on", ["grid", "crop"], key="step_source", persist_state=PERSIST, horizontal=True,
                      format_func={"grid": "A tiny grid, as on the slides", "crop": "The middle of your picture"}.get,
                      help="Work through the arithmetic on a few numbers you can read, not a whole photo.")
    if max(kernel.shape) > STEP_MAX_KERNEL:
        st.info(f"Pick a kernel of at most {STEP_MAX_KERNEL}×{STEP_MAX_KERNEL} to follow every product.")
        return
    if source == "grid":
        grid, channel = SLIDE_GRID, "The numbers are a made-up grid of pixel brightnesses, as on the slides."
    else:
        channel = ("The numbers are the gray brightness (0–255) of the middle of your picture, shrunk to 48 pixels "
                   "across (colour pictures: 0.299 red + 0.587 green + 0.114 blue).")
        small = images.to_gray(images.shrink(image, 48))
        h, w = small.shape
        grid = small[max(0, h // 2 - 4): h // 2 + 4, max(0, w // 2 - 4): w // 2 + 4].astype(float)
    try:
        out = convolve(grid, kernel, padding, stride, flip)
    except ValueError as e:
        st.info(str(e))
        return
    n = out.shape[0] * out.shape[1]
    pos = convolution_state().step_pos % n
    prev, nxt, where = st.columns([1, 1, 4], vertical_alignment="center")
    prev.button("◀ Back", key="step_prev", on_click=_move, args=(-1, n), width="stretch",
                help="Slide the kernel back by one position (by the stride).")
    nxt.button("Next ▶", key="step_next", on_click=_move, args=(1, n), width="stretch",
               help="Slide the kernel to the next position (by the stride), row by row.")
    row, col = divmod(pos, out.shape[1])
    s = explain_pixel(grid, kernel, row, col, padding, stride, flip)
    where.markdown(f"Output pixel **row {row + 1}, column {col + 1}** of {out.shape[0]} × {out.shape[1]}"
                   + (f"; the window jumps {stride} pixels at a time" if stride > 1 else "")
                   + (". The blue dashed box is the real picture; outside it are the zeros of the padding."
                      if padding == "same" else "."))
    kh, kw = kernel.shape
    inner = (s.pad[0], s.pad[1], *grid.shape) if padding == "same" else None
    panels = [(s.padded, "Input: window in orange", (s.top, s.left, kh, kw), inner, "Greys_r"),
              (out, "Output: this pixel in orange", (row, col, 1, 1), None, "Greys_r"),
              (s.kernel, "Kernel" + (" (flipped)" if flip else ""), None, None, "RdBu_r"),
              (s.products, "Window × kernel", None, None, "RdBu_r")]
    grids = figures.shared(
        ("step", grid.tobytes(), grid.shape, s.kernel.tobytes(), kernel.shape, padding, stride, flip, pos),
        lambda: figures.number_grids(panels),
    )
    chart(st, grids, chart_text.step(row, col, kh * kw, s.total), config=NO_BAR, key="step_grids")
    st.caption(channel)
    terms = " + ".join(f"{w:.3g}×{k:.3g}" for w, k in zip(s.window.ravel(), s.kernel.ravel()))
    st.markdown(f"Sum of the {kh * kw} products: {terms} = **{s.total:.4g}**")
