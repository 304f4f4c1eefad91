"""Predict: your own handwritten digit, as the model sees it."""
import streamlit as st

from dashboard.board import controls as board_controls
from dashboard.core import model_choice
from dashboard.predict import controls as predict_controls
from dashboard.predict import view as predict_view

st.title("Predict")
st.markdown(
    "The lecture's goal: for any picture of a digit, a table of **Pr(digit 0) … Pr(digit 9)**. "
    "Write a digit on paper and photograph it, or draw one, and see how the models you trained read it."
)

models, own = model_choice.session_or_defaults(
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

picture, true, ready = predict_controls.input_ui(next(iter(models.values())))
if picture is None:
    st.stop()
digit = predict_view.input_and_answers(models, picture, true, ready)
if digit is not None:  # the student's own digit (drawn or photographed): offer the class board, opt-in
    board_controls.send_ui(digit, tuple(str(d) for d in range(10)))
