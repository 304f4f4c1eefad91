"""What a trained model did and learned, on Training: its confusion matrix, its most confident mistakes,
what its first layer learned, and one digit through the model."""
from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.models import feature_maps, first_layer_weights, representations
from dashboard.core import alt_images, chart_text, figures, formats
from dashboard.core.figures import NO_BAR, chart
from dashboard.core.session import PERSIST, hand_over
from dashboard.core.session_models import SessionModel
from dashboard.predict.state import IncomingDigit, predict_state
from dashboard.training import state as training_state
from dashboard.trust.state import trust_state

MISTAKES_SHOWN = 24  # each with its own "Why?" button


def gallery(images: np.ndarray, captions: list[str], side: int = 84, limit: int = 40) -> None:
    if len(images) == 0:
        st.write("No images here.")
        return
    alt_images.show(st, [figures.enlarge((np.clip(im, 0, 1) * 255).astype(np.uint8), side) for im in images[:limit]],
                    [f"Digit: {c}" for c in captions[:limit]], caption=captions[:limit], width=side)
    if len(images) > limit:
        st.caption(f"Showing {limit} of {len(images)}.")


def _digits(sm: SessionModel) -> tuple[np.ndarray, np.ndarray, str]:
    """(indices, Pr(class), "validation"/"test"): the validation digits until this model's test score
    is revealed (a confusion matrix on the test digits is a look at the test set), then the test digits."""
    t = sm.trained
    if sm.hidden_test and sm.val_probs is not None:
        return t.split.val, sm.val_probs, "validation"
    return t.split.test, sm.test_probs, "test"


def confusion(sm: SessionModel) -> None:
    ds = sm.dataset
    where, probs, which = _digits(sm)
    y = ds.labels[where]
    pred = probs.argmax(1)
    k = ds.n_classes
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    fig = figures.shared(
        ("confusion", cm.tobytes(), tuple(ds.class_names)), lambda: figures.confusion_matrix(cm, ds.class_names)
    )
    st.caption(f"On the **{which}** digits" + (" (the test score is hidden until you reveal it)." if which ==
                                               "validation" else "."))
    event = chart(st, fig, chart_text.confusion(cm, ds.class_names, f"{which} digits"), on_select="rerun",
                  selection_mode="points", key="train_cm", config=NO_BAR, width="stretch")
    names = list(ds.class_names)
    points = event.selection.points if event and event.selection else []
    ts = training_state.training_state()
    if points and points[0].get("y") in names and ts.cm_seen != points[0]:
        ts.cm_seen = points[0]
        st.session_state["cm_true"], st.session_state["cm_pred"] = points[0]["y"], points[0]["x"]
    off = cm - np.diag(np.diag(cm))
    worst = np.unravel_index(off.argmax(), off.shape)
    st.caption("Click a cell, or pick one here, to see its images.")
    a, b = st.columns(2)
    true = a.selectbox("True label", names, index=int(worst[0]), key="cm_true", persist_state=PERSIST,
                       help="Row of the matrix.")
    guess = b.selectbox("Predicted", names, index=int(worst[1]), key="cm_pred", persist_state=PERSIST,
                        help="Column of the matrix.")
    sel = np.flatnonzero((y == names.index(true)) & (pred == names.index(guess)))
    st.markdown(f"**{len(sel)} {which} images** labelled {true} and predicted {guess}:")
    gallery(ds.images[where][sel], [f"Pr({guess}) = {formats.probability(probs[i, names.index(guess)])}" for i in sel])


def mistakes(sm: SessionModel) -> None:
    ds = sm.dataset
    where, probs, which = _digits(sm)
    y, pred = ds.labels[where], probs.argmax(1)
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]])]  # most confident mistakes first
    st.markdown(f"**{len(wrong)} of {len(y)} {which} images are wrong**, most confident first. "
                "**Why?** under a digit opens the Trust page: what the models looked at.")
    names, images = ds.class_names, ds.images[where]
    per_row, shown = 6, wrong[:MISTAKES_SHOWN]
    for start in range(0, len(shown), per_row):
        for col, i in zip(st.columns(per_row), shown[start:start + per_row]):
            said = f"true {names[y[i]]}, said {names[pred[i]]} ({formats.probability(probs[i, pred[i]])})"
            alt_images.show(col, figures.enlarge((np.clip(images[i], 0, 1) * 255).astype(np.uint8), 96),
                            f"A misread digit: {said}", caption=said)
            if col.button("Why?", key=f"train_why_{i}", icon=":material/psychology_alt:", width="stretch",
                          help="Open this digit on the Trust page: heatmaps of what each model looked at."):
                digit = IncomingDigit(images[i], int(y[i]), f"Training: a mistake of {sm.name}", model=sm.name)
                hand_over(trust_state(), "incoming_digit", digit, "trust.py")
    if len(wrong) > len(shown):
        st.caption(f"Showing the {len(shown)} most confident of {len(wrong)} mistakes.")
    if len(wrong):
        a, b = st.columns([1, 2], vertical_alignment="bottom")
        k = a.number_input("Mistake number", 1, len(wrong), 1, key="train_mistake", persist_state=PERSIST,
                           help="Counted in the order shown above, from 1.")
        if b.button("Ask Predict about this digit", key="train_to_predict", icon=":material/arrow_forward:",
                    help="Open this digit on the Predict page, with this session's models."):
            i = wrong[int(k) - 1]
            digit = IncomingDigit(images[i], int(y[i]), "a mistake on the Training page")
            hand_over(predict_state(), "incoming_digit", digit, "predict.py")


def learned(sm: SessionModel) -> None:
    t = sm.trained
    w = first_layer_weights(t.model, t.image_shape)
    kind = t.model_config.kind
    if kind == "logreg":
        st.markdown("Each class's **weight template**: red pixels push its score up, blue pixels down. "
                    "The score is the sum of pixel × weight (plus a bias).")
        caps = [f"class {c}" for c in t.class_names]
    elif kind == "mlp":
        order = np.argsort(-np.abs(w).reshape(len(w), -1).sum(1))[:48]
        w = w[order]
        st.markdown("The first hidden layer's **units**, 48 with the largest weights: each is a picture of what "
                    "that unit looks for (red: ink here raises it, blue: lowers it).")
        caps = [f"unit {i + 1}" for i in order]
    else:
        st.markdown("The first conv block's **learned kernels**, like the Convolution page's, but learned from data.")
        caps = [f"filter {i + 1}" for i in range(len(w))]
    alt_images.show(st, [figures.enlarge(figures.diverging_rgb(x), 84) for x in w],
                    [alt_images.weights_alt(c, x) for c, x in zip(caps, w)], caption=caps, width=84)
    if kind == "cnn" and sm.dataset is not None:
        ds = sm.dataset
        i = st.number_input("Test image number", 0, len(t.split.test) - 1, 0, key="fmap_index", persist_state=PERSIST,
                            help="Which test image to pass through the first conv block.")
        image = ds.images[t.split.test][int(i)]
        maps = feature_maps(t.model, image)
        st.markdown("Its **feature maps** after the first conv block (bright: the filter found its pattern):")
        gallery(np.concatenate([image[None], maps]), ["input"] + [f"filter {k + 1}" for k in range(len(maps))], side=84)


DIGIT_SETS = {"training": "a training digit", "test": "a test digit"}


def one_digit(sm: SessionModel) -> None:
    t, ds = sm.trained, sm.dataset
    names = list(t.class_names)
    a, b = st.columns(2)
    which = a.radio("Which digits", list(DIGIT_SETS), format_func=DIGIT_SETS.get, horizontal=True, key="digit_set",
                    persist_state=PERSIST, help="A training digit (what the loss is averaged over while learning) or a "
                                                "held-out test digit.")
    label = b.selectbox("Its label", ["any"] + names, key="digit_label", persist_state=PERSIST,
                        help="Only digits with this label, e.g. “a training digit labelled 6”.")
    split = t.split.train if which == "training" else t.split.test
    if label != "any":
        split = split[ds.labels[split] == names.index(label)]
    n = len(split)
    if n == 0:
        st.info(f"No {DIGIT_SETS[which][2:]} has the label {label}; pick another label.")
        return
    if st.session_state.get("digit_index", 0) >= n:
        st.session_state["digit_index"] = 0
    st.session_state.setdefault("digit_index", 0)
    a, b = st.columns([1, 3], vertical_alignment="bottom")
    if a.button("Random image", key="digit_random", help="Pick another image at random."):
        st.session_state["digit_index"] = int(np.random.default_rng().integers(n))
    what = DIGIT_SETS[which][2:] + ("" if label == "any" else f" labelled {label}")
    i = b.number_input(f"Image number (0 to {n - 1}, among each {what})", 0, n - 1, key="digit_index",
                       persist_state=PERSIST, help="Which image to step through.")
    image, true = ds.images[split[i]], int(ds.labels[split[i]])
    reps = representations(t.model, image[None])
    scores, probs = reps["logits"][0], reps["probabilities"][0]
    c1, c2, c3 = st.columns([1, 2, 2])
    alt_images.show(c1, figures.enlarge((np.clip(image, 0, 1) * 255).astype(np.uint8), 140),
                    f"Handwritten digit, {what}, labelled {names[true]}", caption=f"{what}: label {names[true]}",
                    width=140)
    chart(c2, figures.score_bars(scores, t.class_names, "1. Raw scores (logits)"),
          chart_text.scores(scores, t.class_names), config=NO_BAR, key="digit_scores")
    chart(c3, figures.probability_bars(probs, t.class_names, "2. Softmax: Pr(class)", true=true),
          chart_text.probabilities(probs, t.class_names, true), config=NO_BAR, key="digit_probs")
    p = float(probs[true])
    st.markdown(f"3. **Cross-entropy loss** for this image = −log Pr({names[true]}) = −log {p:.4f} = "
                f"**{-np.log(max(p, 1e-12)):.4f}**. Training lowers the average of this over all training images.")
