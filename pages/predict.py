"""Predict: your own handwritten digit, as the model sees it."""
import streamlit as st

from analysis.preprocess import preprocess_steps
from dashboard.board import controls as board_controls
from dashboard.core import session_models
from dashboard.predict import controls as predict_controls
from dashboard.predict import view as predict_view

st.title("Predict")
st.markdown(
    "The lecture's goal: for any picture of a digit, a table of **Pr(digit 0) … Pr(digit 9)**. "
    "Write a digit on paper and photograph it, or draw one, and see how the models you trained read it."
)

models, own = session_models.session_or_defaults(
    lambda sm: sm.trained.image_shape[0] == sm.trained.image_shape[1], ("logreg", "mlp", "cnn"),
    "No model trained in this session yet, so the server's default models are being trained once for "
    "everyone (a few seconds).")
if own:
    models = predict_controls.models_ui(models)
else:
    st.caption("Using the server's default models (MNIST-5k, 10 epochs). Train your own on the Training page.")
if not models:
    st.warning("Pick at least one model.")
    st.stop()

first = next(iter(models.values()))
size = first.trained.image_shape[0]
picture, true, ready = predict_controls.input_ui(first)
if picture is None:
    st.stop()
try:
    steps = None if ready else preprocess_steps(picture, size=size)
except ValueError as e:
    st.warning(str(e), icon=":material/ink_eraser:")
    st.stop()

if steps is not None:
    st.subheader("How the picture becomes the model's input")
    predict_view.steps_ui(steps, size)
else:
    predict_view.ready_digit_picture(picture, None if true is None else first.trained.class_names[true])
predict_view.answers(models, steps.result if steps is not None else picture, true)
if steps is not None:  # the student's own digit (drawn or photographed): offer the class board, opt-in
    board_controls.send_ui(steps.result if size == 28 else preprocess_steps(picture, size=28).result,
                           tuple(str(d) for d in range(10)))
