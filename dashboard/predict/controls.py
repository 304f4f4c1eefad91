"""Predict's controls: which models to ask and where the digit comes from (drawn, uploaded,
photographed, a test digit, or handed over by another page). Each returns plain values."""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.core import model_choice, session_models
from dashboard.core.session import PERSIST
from dashboard.core.session_models import SessionModel
from dashboard.core.untrusted import canvas_picture
from dashboard.core.uploads import PRIVACY, camera_ui, upload_ui
from dashboard.predict.state import PredictState, predict_state

CANVAS_SIDE = 280  # the canvas's PNG is exactly this size at every devicePixelRatio (analysis.gate)
SOURCES = {"draw": "Draw it", "photo": "Upload a photo", "camera": "Camera", "test": "A test digit"}


def models_ui(mine: dict[str, SessionModel]) -> dict[str, SessionModel]:
    """Pick some of this session's models (names of models that are gone fall back)."""
    names = list(mine)
    model_choice.keep_choice("predict_models", names, many=True)
    chosen = st.multiselect("Models to ask", names, default=names, key="predict_models", persist_state=PERSIST,
                            help="Models you trained or loaded in this session (Training page)."
                                 + session_models.described(names))
    return {name: mine[name] for name in chosen}


def drawing_ui(state: PredictState) -> np.ndarray | None:
    """A 280×280 canvas: white ink on black, like MNIST. Returns RGBA or None when untouched.
    The drawing is kept in the state and drawn again when the page is opened again."""
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception:  # the component cannot load (e.g. outside a server)
        st.info("Drawing is not available here; upload a photo instead.")
        return None
    st.caption("Draw one digit with the mouse or a finger, large, filling the square. Drawing needs a pointer: "
               "with a keyboard, choose “Upload a photo” above (its Browse files button opens with Enter) or "
               "“A test digit”.")
    if "predict_canvas" not in st.session_state:  # a new canvas (first visit or back from another page)
        state.canvas_start = state.drawing_json
    result = st_canvas(stroke_width=22, stroke_color="#FFFFFF", background_color="#000000", height=CANVAS_SIDE,
                       width=CANVAS_SIDE,
                       drawing_mode="freedraw", key="predict_canvas", return_image_data=True,
                       initial_drawing=state.canvas_start)

    try:
        data = canvas_picture(result, CANVAS_SIDE, CANVAS_SIDE)  # the gate decodes, never the component
    except ValueError as e:
        state.drawing, state.drawing_json, state.canvas_start = None, None, None  # nothing kept
        st.error(str(e), icon=":material/error:")
        return None
    if data is None:  # the canvas has not reported yet: what it was opened with
        return state.drawing
    if data[..., :3].max() == 0:
        state.drawing, state.drawing_json = None, None
        return None
    state.drawing, state.drawing_json = data, getattr(result, "json_data", None)
    return data


def test_digit_ui(sm: SessionModel | None, state: PredictState) -> tuple[np.ndarray | None, int | None]:
    if sm is None or sm.dataset is None or sm.trained.split is None or sm.test_probs is None:
        st.info("Test digits need a model trained in this session or one of the server's default models.")
        return None, None
    ds, test = sm.dataset, sm.trained.split.test
    wrong = np.flatnonzero(sm.test_probs.argmax(1) != ds.labels[test])
    a, b = st.columns(2)
    if a.button("Random test digit", key="predict_random", help="Any held-out digit, at random."):
        state.test_index = int(np.random.default_rng().integers(len(test)))
    if b.button("Show me one it gets wrong", key="predict_wrong", disabled=len(wrong) == 0,
                help=f"A test digit that “{sm.name}” misreads."):
        state.test_index = int(np.random.default_rng().choice(wrong))
    i = state.test_index % len(test)
    return ds.images[test[i]], int(ds.labels[test[i]])


def _forget_incoming(state: PredictState) -> None:
    state.incoming_digit = None


def input_ui(test_pool: SessionModel | None) -> tuple[np.ndarray | None, int | None, bool]:
    """Returns (picture or None, its true label if known, True if it is already the model's input)."""
    state = predict_state()
    if state.incoming_digit is not None:
        st.info(f"The digit below comes from {state.incoming_digit.origin}.", icon=":material/input:")
        st.button("Choose another digit", key="predict_forget_incoming", on_click=_forget_incoming, args=(state,))
        return state.incoming_digit.image, state.incoming_digit.label, True
    source = st.radio("Where the digit comes from", list(SOURCES), format_func=SOURCES.get, horizontal=True,
                      key="predict_source", persist_state=PERSIST,
                      help="Draw, photograph or upload your own digit, or try the model's test digits.")
    if source == "draw":
        return drawing_ui(state), None, False
    if source == "photo":
        up = upload_ui(state.photo, "Upload a photo of one digit", "predict_upload",
                       help="A photo of one digit written with a dark pen on light paper. " + PRIVACY)
        return (None if up is None else up.image()), None, False
    if source == "camera":
        shot = camera_ui(state.camera, "Take a photo of a digit written on paper", "predict_camera",
                         help="Write one digit large with a dark pen; hold the paper flat and well lit. " + PRIVACY)
        return (None if shot is None else shot.image()), None, False
    image, label = test_digit_ui(test_pool, state)
    return image, label, True
