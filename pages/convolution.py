"""Convolution: slide a kernel over a picture."""
import streamlit as st

from dashboard.convolution import controls, view
from dashboard.core import links

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
    settings = controls.conv_settings_ui(choice.kernel if choice else None)

links.publish(controls.LINK)
if choice is None:
    st.info("Fix the kernel in the sidebar to see the result.")
    st.stop()

src = view.kernel_ui(source, choice, settings)
view.before_after_ui(src, source, choice, settings)

st.divider()
view.step_through_ui(src, choice.kernel, settings.padding, settings.stride, settings.flip)
