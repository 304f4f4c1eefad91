"""Predict: your own handwritten digit, as the model sees it."""
import streamlit as st

from analysis.preprocess import preprocess_steps
from dashboard import predict_view, training

st.title("Predict")
st.markdown(
    "The lecture's goal: for any picture of a digit, a table of **Pr(digit 0) … Pr(digit 9)**. "
    "Write a digit on paper and photograph it, or draw one, and see how the models you trained read it."
)

mine = {name: sm for name, sm in training.models().items() if sm.trained.image_shape[0] == sm.trained.image_shape[1]}
if mine:
    chosen = st.multiselect("Models to ask", list(mine), default=list(mine)[-3:], key="predict_models",
                            help="Models you trained or loaded in this session (Training page).")
    models = {name: mine[name] for name in chosen}
else:
    ready, pending = training.default_models()
    if pending:
        st.info("No model trained in this session yet, so the server's default models are being trained "
                "once for everyone (a few seconds).")

        @st.fragment(run_every=1.0)
        def wait() -> None:
            _, still = training.default_models()
            if not still:
                st.rerun()
            for job in still:
                st.progress(job.progress, text=f"{job.label}: {job.message}")

        wait()
        st.stop()
    st.caption("Using the server's default models (MNIST-5k, 10 epochs). Train your own on the Training page.")
    models = {name: training.SessionModel(name, t, training.dataset("mnist5k")) for name, t in ready.items()}
    for sm in models.values():
        if sm.trained.split is not None:
            sm.test_probs = training.test_probabilities(sm.trained)

if not models:
    st.warning("Pick at least one model.")
    st.stop()

first = next(iter(models.values()))
size = first.trained.image_shape[0]
picture, true = predict_view.input_ui(first)
if picture is None:
    st.stop()
try:
    steps = preprocess_steps(picture, size=size) if true is None else None
except ValueError as e:
    st.warning(str(e), icon=":material/ink_eraser:")
    st.stop()

if steps is not None:
    st.subheader("How the picture becomes the model's input")
    predict_view.steps_ui(steps, size)
else:
    predict_view.test_digit_picture(picture, first.trained.class_names[true])
x = steps.result if steps is not None else picture

st.subheader("What each model says")
cols = st.columns(len(models))
for i, (col, (name, sm)) in enumerate(zip(cols, models.items())):
    with col:
        if sm.trained.image_shape != (size, size):
            st.info(f"{name} reads {sm.trained.image_shape[0]}×{sm.trained.image_shape[1]} images; skipped.")
            continue
        predict_view.answer_ui(name, sm.trained.model, sm.trained.class_names, x, key=f"ans{i}", true=true)
