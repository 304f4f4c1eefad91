"""What Predict draws: the preprocessing steps, the digit as the model sees it, each model's answer."""
from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.models import first_layer_weights, representations
from analysis.preprocess import Steps, preprocess_steps
from dashboard.core import alt_images, chart_text, figures, formats
from dashboard.core.chrome import presenting
from dashboard.core.figures import NO_BAR, chart
from dashboard.core.guard import plain
from dashboard.core.session import hand_over
from dashboard.core.session_models import SessionModel
from dashboard.predict.state import IncomingDigit
from dashboard.trust.state import trust_state


def _u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def steps_ui(steps: Steps, size: int) -> None:
    """The five preprocessing steps as one row of thumbnails (one picture: stays a row on a phone)."""
    pics = [steps.gray, steps.ink, steps.cropped, steps.scaled, steps.result]
    alt_images.show(st, figures.strip([_u8(p) for p in pics], side=160),
                    "Your picture in five steps: gray, ink made white on black, cropped to the ink, scaled, "
                    f"and centred in {size}×{size}")
    st.caption("1. gray · 2. ink made white on black" + (" (inverted: the paper was light)" if steps.inverted else "")
               + f" · 3. cropped to the ink · 4. longest side scaled to {max(steps.scaled.shape)} px"
               + f" · 5. centred in {size}×{size}: what the model sees")


def answer_ui(name: str, model, class_names, x: np.ndarray, key: str, true: int | None = None) -> None:
    """Raw scores, Pr(class) with the winner highlighted, and for an MLP its strongest hidden units."""
    reps = representations(model, x[None])
    scores, probs = reps["logits"][0], reps["probabilities"][0]
    win = int(np.argmax(probs))
    st.markdown(
        f"**{plain(name)}** reads **{plain(class_names[win])}** ({formats.probability(probs[win])} sure)"
        + ("" if true is None else (" ✔ right" if win == true else f" ✘ the true label is {plain(class_names[true])}"))
    )
    chart(st, figures.probability_bars(probs, class_names, "Pr(class)", true=true),
          chart_text.probabilities(probs, class_names, true), config=NO_BAR, key=f"{key}_p")
    if st.button("Why?", key=f"{key}_why", icon=":material/psychology_alt:",
                 help="Open this digit on the Trust page: what each model looked at, and whether to trust it."):
        digit = IncomingDigit(x, true, f"Predict: {'a test digit' if true is not None else 'your digit'}, "
                                       f"as read by {name}", model=name)
        hand_over(trust_state(), "incoming_digit", digit, "trust.py")
    with st.expander("Raw scores (before softmax)"):
        chart(st, figures.score_bars(scores, class_names), chart_text.scores(scores, class_names), config=NO_BAR,
              key=f"{key}_s")
    hidden = [k for k in reps if k.startswith("hidden layer 1")]
    if hidden:
        act = reps[hidden[0]][0]
        top = np.argsort(-act)[:8]
        w = first_layer_weights(model, x.shape)
        st.caption("Its most active hidden units (what each looks for; red: ink here excites it):")
        alt_images.show(st, [figures.enlarge(figures.diverging_rgb(w[u]), 56) for u in top],
                        [alt_images.weights_alt(f"hidden unit {u + 1} (activity {act[u]:.1f})", w[u]) for u in top],
                        caption=[f"unit {u + 1}: {act[u]:.1f}" for u in top], width=56)


def ready_digit_picture(image: np.ndarray, label: str | None) -> None:
    """A digit that is already the model's input (a test digit, a handed-over one)."""
    caption = "The digit" + ("" if label is None else f"; its true label is {label}")
    alt_images.show(st, figures.enlarge(_u8(image), 140), alt_images.digit_alt(label), caption=caption, width=140)


def answers(models: dict[str, SessionModel], x: np.ndarray, true: int | None) -> None:
    """Each model's answer, side by side (models that read another image size are skipped)."""

    st.subheader("What each model says")
    per_row = 1 if presenting() else 3  # a projector needs the whole width for ten readable digits
    items = list(models.items())
    cols = [c for start in range(0, len(items), per_row) for c in st.columns(per_row)]
    for i, (col, (name, sm)) in enumerate(zip(cols, items)):
        with col:
            if tuple(sm.trained.image_shape) != x.shape:
                st.info(f"{name} reads {sm.trained.image_shape[0]}×{sm.trained.image_shape[1]} images; skipped.")
                continue
            answer_ui(name, sm.trained.model, sm.trained.class_names, x, key=f"ans{i}", true=true)


def input_and_answers(models: dict[str, SessionModel], picture: np.ndarray, true: int | None,
                      ready: bool) -> np.ndarray | None:
    """The picture made into the model's input (its steps shown; a photo that cannot be one says why),
    then every model's answer. `ready`: the picture already is the model's input (a test digit).
    Returns the person's own digit as a 28×28 model input (for the class board), else None."""
    first = next(iter(models.values()))
    size = first.trained.image_shape[0]
    if ready:
        ready_digit_picture(picture, None if true is None else first.trained.class_names[true])
        answers(models, picture, true)
        return None
    try:
        steps = preprocess_steps(picture, size=size)
    except ValueError as e:
        st.warning(str(e), icon=":material/ink_eraser:")
        return None
    st.subheader("How the picture becomes the model's input")
    steps_ui(steps, size)
    answers(models, steps.result, true)
    return steps.result if size == 28 else preprocess_steps(picture, size=28).result
