"""The Trust page's controls: each draws widgets (keys start with 'trust_', each keeping its value for the
session with `persist_state`) and returns plain values; what is not a widget value lives in the TrustState."""
from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.calibration import THRESHOLDS
from analysis.preprocess import preprocess_steps
from analysis.robustness import ORIGINAL, label
from dashboard.core import session_models
from dashboard.core.guard import plain
from dashboard.core.model_choice import keep_choice
from dashboard.core.session import PERSIST
from dashboard.core.uploads import PRIVACY, upload_ui
from dashboard.trust.state import TrustState

NONE = -1  # "no comparison" (a selectbox shows None as an empty choice)
MAX_PHOTOS = 50  # the labelled photo set is small by design (and kept in this session's memory)
SOURCES = {"test": "A test digit", "photo": "Your own photo"}


def models_ui(names: list[str], ts: TrustState) -> list[str]:
    """Which models to explain (up to four at once keeps the page readable). A digit sent by "Why?"
    under one model's answer is explained for that model (its test score revealed or not)."""
    asked = ts.incoming_digit.model if ts.incoming_digit is not None else None
    if asked in names:
        st.session_state["trust_models"] = [asked]
    keep_choice("trust_models", names, many=True)
    picked = st.multiselect("Models to explain", names, default=names[-3:], key="trust_models", max_selections=4,
                            persist_state=PERSIST,
                            help="The models you trained in this session (or the server's default ones). Each is "
                                 "explained on the same digit, side by side." + session_models.described(names))
    return list(picked)


def handed_over_ui(ts: TrustState) -> bool:
    """For a digit another page sent: say where it came from; a button goes back to picking one.
    Returns True while that digit is in use."""
    if not ts.handed_over or ts.image is None:
        return False
    truth = "" if ts.label is None else f" (its true label: {ts.label})"
    st.info(f"Explaining the digit sent from **{ts.source}**{truth}.", icon=":material/input:")
    if st.button("Pick another digit here instead", key="trust_drop_handover",
                 help="Forget the digit that was sent and choose a test digit or a photo on this page."):
        ts.handed_over, ts.image = False, None
        ts.memo.clear()
        st.rerun()
    return True


def test_digit_ui(images: np.ndarray, labels: np.ndarray, wrong: np.ndarray,
                  model_name: str) -> tuple[np.ndarray, int, int]:
    """A test digit: at random, one the first model gets wrong, or by its number. Returns
    (image, true label, its number among the test digits)."""
    n = len(labels)
    if st.session_state.get("trust_test_number", 0) >= n:  # kept from a model with more test digits
        del st.session_state["trust_test_number"]
    a, b = st.columns(2)
    if a.button("Random test digit", key="trust_random", icon=":material/casino:",
                help="Any of the digits kept aside for testing, at random."):
        st.session_state["trust_test_number"] = int(np.random.default_rng().integers(n))
    if b.button("One it gets wrong", key="trust_mistake", icon=":material/error:", disabled=len(wrong) == 0,
                help=f"A test digit that “{model_name}” misreads: explanations of mistakes teach the most."):
        st.session_state["trust_test_number"] = int(np.random.default_rng().choice(wrong))
    i = st.number_input("Test digit number", min_value=0, max_value=n - 1, step=1, key="trust_test_number",
                        persist_state=PERSIST,
                        help=f"Each of the {n} test digits has a number from 0 to {n - 1}; type one to explain it.")
    return images[int(i)], int(labels[int(i)]), int(i)


def source_ui() -> str:
    return st.radio("Digit to explain", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="trust_source",
                    persist_state=PERSIST,
                    help="A digit kept aside for testing (its true label is known), or a photo of a digit you wrote.")


def _photo(slot, label: str, key: str, help: str) -> tuple[np.ndarray | None, str | None]:
    up = upload_ui(slot, label, key, help=help)
    return (None, None) if up is None else (up.image(), up.name)


def photo_ui(ts: TrustState, size: int) -> np.ndarray | None:
    """A photo of one handwritten digit, made into the model's input; None (after saying why) if unusable."""

    image, name = _photo(ts.photo, "Upload a photo of one digit", "trust_upload",
                         help="One digit written large with a dark pen on light paper. " + PRIVACY)
    if image is None:
        st.caption("No photo yet.")
        return None
    try:
        return preprocess_steps(image, size=size).result
    except ValueError as e:
        st.warning(str(e), icon=":material/ink_eraser:")
        return None


def contrast_ui(class_names) -> int | None:
    """The class B in "why A and not B?" (None: no comparison)."""
    options = [NONE] + list(range(len(class_names)))
    if st.session_state.get("trust_contrast", NONE) not in options:  # kept from a model with more classes
        del st.session_state["trust_contrast"]
    picked = st.selectbox("…and not (compare with)", options, key="trust_contrast", persist_state=PERSIST,
                          format_func=lambda k: "no comparison" if k == NONE else f"digit {class_names[k]}",
                          help="Pick a class B to ask “why this answer and not B?”: the maps then show what "
                               "pushes the score of the answer above the score of B.")
    return None if picked == NONE else int(picked)


def costs_ui() -> tuple[float, float]:
    """The cost table: a wrong automatic decision, a referral to a person (any unit: euros, minutes)."""
    a, b = st.columns(2)
    error = a.number_input("Cost of a wrong automatic decision", value=5.0, step=0.5, key="trust_cost_error",
                           persist_state=PERSIST,
                           help="What one wrong answer that nobody checked costs you, in any unit (euros, "
                                "hours, complaints). 0 or more.")
    referral = b.number_input("Cost of a referral to a person", value=1.0, step=0.5, key="trust_cost_referral",
                              persist_state=PERSIST,
                              help="What it costs to have a person look at one case instead, in the same unit. "
                                   "0 or more.")
    return float(error), float(referral)


def dial_ui() -> float:
    """The referral dial: refer when the top probability is below t."""
    return float(st.select_slider("Refer to a person when the model's top probability is below t", key="trust_dial",
                                  value=0.9, persist_state=PERSIST,
                                  options=[float(t) for t in THRESHOLDS], format_func=lambda t: f"{t:.2f}",
                                  help="Cases the model is less sure about than t go to a person; the rest are "
                                       "decided automatically. 0 refers nothing, 1 refers (almost) everything."))


def calibration_model_ui(names: list[str]) -> str:
    keep_choice("trust_calibration_model", names, many=False)
    return st.selectbox("Model", names, key="trust_calibration_model", persist_state=PERSIST,
                        help="The model whose stated confidence is checked against its actual accuracy.")


def pair_ui(models: tuple[str, ...], alterations: tuple[str, ...]) -> tuple[str, str, str]:
    """Two models to compare and the version of the digits (original or one alteration)."""
    for key in ("trust_pair_a", "trust_pair_b"):
        keep_choice(key, list(models), many=False)
    a, b, c = st.columns(3)
    first = a.selectbox("Model A", models, index=0, key="trust_pair_a", persist_state=PERSIST,
                         help="The first model of the comparison.")
    second = b.selectbox("Model B", models, index=min(1, len(models) - 1), key="trust_pair_b",
                         persist_state=PERSIST,
                         help="The second model: where does it answer differently from A?")
    version = c.selectbox("Digits", alterations, format_func=label, key="trust_pair_version",
                          persist_state=PERSIST, index=alterations.index(ORIGINAL),
                          help="The test digits as they are, or one altered copy.")
    return first, second, version


def photo_set_ui(ts: TrustState, size: int, class_names) -> None:
    """Add photos of your own digits, each with its true label, to a small set for the calibration check."""

    image, name = _photo(ts.set_photo, "Add a photo of a digit you wrote", "trust_set_upload",
                         help="One digit per photo, dark pen on light paper. " + PRIVACY)
    a, b = st.columns(2)
    truth = a.selectbox("Its true digit", list(range(len(class_names))), format_func=lambda k: class_names[k],
                        key="trust_set_label", persist_state=PERSIST,
                        help="The digit you actually wrote: the model's answer is checked against it.")
    full = len(ts.photos) >= MAX_PHOTOS
    if b.button("Add to my photo set", key="trust_set_add", disabled=image is None or full,
                help=f"Keep this photo (as the model sees it) with its label, for this session only "
                     f"(up to {MAX_PHOTOS})."):
        try:
            ts.photos.append((preprocess_steps(image, size=size).result, int(truth)))
            st.toast(f"Added “{plain(name)}” as a {plain(class_names[truth])}.")
        except ValueError as e:
            st.warning(str(e), icon=":material/ink_eraser:")
    if ts.photos and st.button(f"Clear my photo set ({len(ts.photos)})", key="trust_set_clear",
                               help="Forget every photo in the set."):
        ts.photos.clear()
