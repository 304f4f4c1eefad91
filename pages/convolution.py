"""Convolution: slide a kernel over a picture."""
import numpy as np
import streamlit as st

from analysis import images
from analysis.compute.budget import convolution_bytes
from analysis.convolution import convolve
from dashboard.convolution import controls, view
from dashboard.core import figures, links, memory

st.title("Convolution")
st.markdown(
    "A **kernel** is a small grid of weights. Place it over a patch of the picture, multiply each "
    "weight by the pixel under it, and add up: that sum is one output pixel. Slide the kernel "
    "everywhere and you get a new picture. Convolutional nets *learn* their kernels."
)

links.adopt("convolution", controls.LINK)
with st.sidebar:
    source = controls.image_source_ui()
    choice = controls.kernel_ui()
    settings = controls.conv_settings_ui(choice.kernel if choice else np.zeros((1, 1)))

links.publish(controls.LINK)
if choice is None:
    st.info("Fix the kernel in the sidebar to see the result.")
    st.stop()

image, caption, image_key = source.image, source.caption, source.key
src = images.to_gray(image) if settings.gray else image
left, right = st.columns([1, 2], vertical_alignment="center")
figures.chart(left, figures.kernel_heatmap(choice.kernel, "The kernel"), width="stretch",
                  config=figures.NO_BAR)
right.markdown(f"**{choice.name}.** {choice.explanation}")
right.markdown(view.size_message(*src.shape[:2], choice.kernel.shape, settings.padding, settings.stride))
if source.note:
    right.caption(source.note)
right.caption("Like PyTorch, this page does not flip the kernel (cross-correlation)"
              + (" — but you switched flipping on, so this is true convolution." if settings.flip else "."))

h, w = src.shape[:2]
need = convolution_bytes(w, h, src.shape[2] if src.ndim == 3 else 1)  # reserved in the server's budget first
kh, kw = choice.kernel.shape
before, after = st.columns(2)
try:
    with memory.held(need, f"filtering a {w}×{h} picture"):
        out = convolve(src, choice.kernel, settings.padding, settings.stride, settings.flip)
        after_jpeg, lo, hi = view.output_for_browser(out, settings.display), float(out.min()), float(out.max())
        del out
        before_jpeg = view.input_for_browser(src, f"{image_key}|{settings.gray}")
except ValueError as e:  # a kernel that does not fit, or work that could never fit the budget
    st.error(str(e), icon=":material/error:")
    st.stop()

before.image(before_jpeg, caption=f"Before: {caption}", width="stretch")
after.image(after_jpeg, width="stretch",
            caption=f"After: {choice.name} ({kh}×{kw}), shown as {images.DISPLAY_MODES[settings.display]}. "
                    f"Values range from {lo:.4g} to {hi:.4g}.")

kernel, pad, stride, flip, mode, gray, full = (choice.kernel, settings.padding, settings.stride, settings.flip,
                                               settings.display, settings.gray, source.full)
st.download_button(
    "Download the result (full-resolution PNG)", icon=":material/download:",
    data=lambda: view.full_png(full(), kernel, pad, stride, flip, mode, gray),
    file_name=f"netlens-{choice.name.lower().replace(' ', '-')}.png", mime="image/png",
    help="The whole output at full size, with the display mapping above. Made only when you click.",
)

st.divider()
view.step_through_ui(src, choice.kernel, settings.padding, settings.stride, settings.flip)
