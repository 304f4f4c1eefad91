"""Predict page pieces: where the digit comes from, the preprocessing steps, each model's answer."""
from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.models import first_layer_weights, representations
from analysis.preprocess import Steps, decode_image
from dashboard import chrome, figures, widgets
from dashboard.training import SessionModel

SOURCES = {"draw": "Draw it", "photo": "Upload a photo", "camera": "Camera", "test": "A test digit"}
NO_BAR = {"displayModeBar": False}


def _u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def drawing_ui() -> np.ndarray | None:
    """A 280×280 canvas: white ink on black, like MNIST. Returns RGBA or None when untouched."""
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception:  # the component cannot load (e.g. outside a server)
        st.info("Drawing is not available here; upload a photo instead.")
        return None
    st.caption("Draw one digit with the mouse or a finger, large, filling the square.")
    result = st_canvas(stroke_width=22, stroke_color="#FFFFFF", background_color="#000000", height=280, width=280,
                       drawing_mode="freedraw", key="predict_canvas", return_image_data=True)
    data = getattr(result, "image_data", None)
    if data is None or np.asarray(data)[..., :3].max() == 0:
        return None
    return np.asarray(data)


def camera_ui() -> np.ndarray | None:
    shot = st.camera_input("Take a photo of a digit written on paper", key="predict_camera",
                           help="Write one digit large with a dark pen; hold the paper flat and well lit. " + widgets.PRIVACY)
    if shot is None:
        return None
    try:
        return np.asarray(decode_image(shot.getvalue()))
    except ValueError as e:
        st.error(f"Could not read the camera picture: {e}")
        return None


def input_ui(test_pool: SessionModel | None) -> tuple[np.ndarray | None, int | None]:
    """Returns (picture or None, true label if it is a test digit)."""
    source = st.radio("Where the digit comes from", list(SOURCES), format_func=SOURCES.get, horizontal=True,
                      key="predict_source", help="Draw, photograph or upload your own digit, or try the model's test digits.")
    if source == "draw":
        return drawing_ui(), None
    if source == "photo":
        image, _ = widgets.uploaded_image_ui("predict_upload", "Upload a photo of one digit",
                                             help="A photo of one digit written with a dark pen on light paper. " + widgets.PRIVACY)
        return image, None
    if source == "camera":
        return camera_ui(), None
    return test_digit_ui(test_pool)


def test_digit_ui(sm: SessionModel | None) -> tuple[np.ndarray | None, int | None]:
    if sm is None or sm.dataset is None or sm.trained.split is None or sm.test_probs is None:
        st.info("Test digits need a model trained in this session or one of the server's default models.")
        return None, None
    ds, test = sm.dataset, sm.trained.split.test
    wrong = np.flatnonzero(sm.test_probs.argmax(1) != ds.labels[test])
    a, b = st.columns(2)
    if a.button("Random test digit", key="predict_random", help="Any held-out digit, at random."):
        st.session_state["predict_test"] = int(np.random.default_rng().integers(len(test)))
    if b.button("Show me one it gets wrong", key="predict_wrong", disabled=len(wrong) == 0,
                help=f"A test digit that “{sm.name}” misreads."):
        st.session_state["predict_test"] = int(np.random.default_rng().choice(wrong))
    i = st.session_state.setdefault("predict_test", 0) % len(test)
    return ds.images[test[i]], int(ds.labels[test[i]])


def steps_ui(steps: Steps, size: int) -> None:
    """Each preprocessing step as a small picture."""
    pics = [(_u8(steps.gray), "1. gray"),
            (_u8(steps.ink), "2. ink made white on black" + (" (inverted: the paper was light)" if steps.inverted else "")),
            (_u8(steps.cropped), "3. cropped to the ink"),
            (_u8(steps.scaled), f"4. longest side scaled to {max(steps.scaled.shape)} px"),
            (_u8(steps.result), f"5. centred in {size}×{size}: what the model sees")]
    cols = st.columns(len(pics))
    for col, (pic, cap) in zip(cols, pics):
        col.image(figures.enlarge(pic, 140), caption=cap, width="stretch")


def answer_ui(name: str, model, class_names, x: np.ndarray, key: str, true: int | None = None) -> None:
    """Raw scores, Pr(class) with the winner highlighted, and for an MLP its strongest hidden units."""
    reps = representations(model, x[None])
    scores, probs = reps["logits"][0], reps["probabilities"][0]
    win = int(np.argmax(probs))
    st.markdown(f"**{name}** reads **{class_names[win]}** ({probs[win]:.0%} sure)"
                + ("" if true is None else (" ✔ right" if win == true else f" ✘ the true label is {class_names[true]}")))
    chrome.chart(st, figures.probability_bars(probs, class_names, "Pr(class)", true=true), config=NO_BAR, key=f"{key}_p")
    with st.expander("Raw scores (before softmax)"):
        chrome.chart(st, figures.score_bars(scores, class_names), config=NO_BAR, key=f"{key}_s")
    hidden = [k for k in reps if k.startswith("hidden layer 1")]
    if hidden:
        act = reps[hidden[0]][0]
        top = np.argsort(-act)[:8]
        w = first_layer_weights(model, x.shape)
        st.caption("Its most active hidden units (what each looks for; red: ink here excites it):")
        st.image([figures.enlarge(figures.diverging_rgb(w[u]), 56) for u in top],
                 caption=[f"unit {u + 1}: {act[u]:.1f}" for u in top], width=56)


def test_digit_picture(image: np.ndarray, label: str) -> None:
    """A held-out test digit, as the model sees it (no preprocessing needed)."""
    st.image(figures.enlarge(_u8(image), 140), caption=f"A test digit; its true label is {label}", width=140)
