"""The Trust page, part 1: the digit, and "Why this answer?" for each model (heatmaps, the
sanity check, the deletion check, nearest training digits, logistic regression's exact map)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from analysis import explain as ex
from analysis.explain_checks import SANITY_THRESHOLD
from analysis.models import first_layer_weights
from dashboard.core import alt_images, chrome, figures, formats, model_choice
from dashboard.core.guard import plain
from dashboard.trust import cache, controls, summaries
from dashboard.trust import figures as tf
from dashboard.trust.state import TrustState

NO_BAR = {"displayModeBar": False}
BASELINE_NOTE = ("Both maps start from a black image (no ink): they can only give credit to ink that is *there*. "
                 "A black baseline cannot show that a **missing** stroke mattered — e.g. that a 7 was read as a 7 "
                 "because the loop of a 9 is *not* there.")
SANITY_SENTENCE = ("If the maps of the trained model and of the same model with random weights look alike, "
                   "the explanation is not explaining the model.")


def grid(rows, side: int | None = None) -> None:
    """Rows of pictures, each with its caption: a row wraps on a narrow screen (a phone); bigger
    pictures in projection mode (captions follow the page's type size)."""
    side = side or (196 if chrome.presenting() else 140)
    for name, panels in rows:
        if name:
            st.markdown(f"**{plain(name)}**")
        alt_images.show(st, [figures.enlarge(rgb, side) for _, rgb in panels], width=side,
                        alt=[(f"{name}: {t}" if name else t) for t, _ in panels], caption=[t for t, _ in panels])


def _u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def models() -> tuple[dict, bool]:
    """The models the page explains (name -> SessionModel) and whether they are this session's own:
    all its models (an explanation needs no test score), else the server's defaults (waiting for them
    with their progress, as Predict does)."""
    return model_choice.session_or_defaults(
        lambda sm: True, ("logreg", "mlp", "cnn"),
        "No model trained in this session yet, so the server's default models are being trained once for "
        "everyone (a few seconds).")



def pool_model(models: dict):
    """The first model whose test digits this server has (they are offered for explaining)."""
    return next((sm for sm in models.values() if cache.has_split(sm)), None)


def digit_ui(ts: TrustState, models: dict) -> np.ndarray | None:
    """The digit to explain: the one handed over, else a test digit or a photo. Returns it or None."""
    try:
        ts.take_incoming()
    except ValueError as e:
        st.warning(f"The digit sent from another page cannot be explained: {e}", icon=":material/input:")
    if controls.handed_over_ui(ts):
        return ts.image
    pool = pool_model(models)
    size = next(iter(models.values())).trained.image_shape[0]
    source = controls.source_ui()
    if source == "photo":
        picture = controls.photo_ui(ts, size)
        if picture is not None and (ts.image is None or not np.array_equal(picture, ts.image)):
            ts.set_digit(picture, None, "your photo")
        return picture
    if pool is None:
        st.info("No test digits on this server for these models (restored from files without their data?). "
                "Upload a photo of a digit instead.")
        return None
    ds, test = pool.dataset, pool.trained.split.test
    wrong = np.flatnonzero(cache.outputs(pool).test_logits.argmax(1) != ds.labels[test])
    image, truth, i = controls.test_digit_ui(ds.images[test], ds.labels[test], wrong, pool.name)
    if ts.image is None or not np.array_equal(image, ts.image):
        ts.set_digit(image, truth, f"test digit {i}")
    return ts.image


def digit_picture(ts: TrustState, class_names) -> None:
    name = class_names[ts.label] if ts.label is not None and ts.label < len(class_names) else ts.label
    truth = "" if ts.label is None else f"; true label {name}"
    alt_images.show(st, figures.enlarge(_u8(ts.image), 140), width=140, caption=f"{ts.source}{truth}",
                    alt=f"The digit being explained ({ts.source}{truth})")


# ---------------------------------------------------------------- computing, per model

def explain_all(ts: TrustState, models: dict, image: np.ndarray, contrast: int | None) -> dict:
    """name -> dict(e=Explanation for the answer, c=Explanation with contrast or None, error=message)."""
    out = {}
    for name, sm in models.items():
        if tuple(sm.trained.image_shape) != image.shape:
            out[name] = {"skip": f"{name} reads {sm.trained.image_shape[0]}×{sm.trained.image_shape[1]} images, "
                                 f"not {image.shape[0]}×{image.shape[1]}: skipped."}
            continue
        e = cache.explanation(ts, sm, image)
        row = {"e": e, "c": None, "error": None}
        if contrast is not None:
            try:
                row["c"] = cache.explanation(ts, sm, image, contrast)  # refused when it is the answer
            except ValueError as err:
                row["error"] = f"{name}: {err}"
        out[name] = row
    return out


def _rows(image, results: dict, names) -> list:
    rows = []
    for name, r in results.items():
        if "skip" in r:
            continue
        e, c = r["e"], r["c"]
        a = names[e.target]
        panels = [(f"says {a} ({formats.probability(e.probabilities[e.target])})", tf.overlay_rgb(image, None)),
                  (f"occlusion: why {a}", tf.overlay_rgb(image, e.occlusion)),
                  (f"IG: why {a}", tf.overlay_rgb(image, e.integrated_gradients))]
        if c is not None:
            b = names[c.contrast]
            panels += [(f"occlusion: {a}, not {b}", tf.overlay_rgb(image, c.occlusion)),
                       (f"IG: {a}, not {b}", tf.overlay_rgb(image, c.integrated_gradients))]
        rows.append((name, panels))
    return rows


def numbers_csv(results: dict, names, sanity: dict, deletion: dict) -> bytes:
    """One row per model: the answer, IG's completeness, the sanity and deletion numbers."""
    rows = []
    for name, r in results.items():
        if "skip" in r:
            continue
        e, s, d = r["e"], sanity.get(name), deletion.get(name, {})
        rows.append({"model": name, "answer": names[e.target], "probability": e.probabilities[e.target],
                     "IG sum": e.ig_sum, "logit change from black image": e.output_change,
                     "rank correlation occlusion trained vs random (ink)": s.occlusion_correlation if s else np.nan,
                     "rank correlation IG trained vs random (ink)": s.ig_correlation if s else np.nan,
                     "signed rank correlation occlusion (ink)": s.occlusion.signed_rho if s else np.nan,
                     "signed rank correlation IG (ink)": s.ig.signed_rho if s else np.nan,
                     "sanity check occlusion": s.occlusion.words if s else "",
                     "sanity check IG": s.ig.words if s else "",
                     **{f"deletion AUC {k}": v.auc for k, v in d.items()},
                     **{f"deletion AUC random (vs {k})": v.random_auc for k, v in d.items()}})
    return pd.DataFrame(rows).to_csv(index=False).encode()


def maps_csv(results: dict) -> bytes:
    """Every map, one row per model, map and pixel."""
    frames = []
    for name, r in results.items():
        for which in ("e", "c"):
            e = r.get(which)
            if e is None:
                continue
            tag = "" if e.contrast is None else f" minus class {e.contrast}"
            for map_name, m in (("occlusion", e.occlusion), ("integrated gradients", e.integrated_gradients)):
                rr, cc = np.indices(m.shape)
                frames.append(pd.DataFrame({"model": name, "map": map_name + tag, "class": e.target,
                                            "row": rr.ravel(), "column": cc.ravel(), "value": m.ravel()}))
    return pd.concat(frames).to_csv(index=False).encode() if frames else b""


# ---------------------------------------------------------------- the tab

def why_tab(ts: TrustState, models: dict, image: np.ndarray) -> None:
    names = next(iter(models.values())).trained.class_names
    contrast = controls.contrast_ui(names)
    results = explain_all(ts, models, image, contrast)
    for r in results.values():
        if "skip" in r:
            st.info(r["skip"])
        elif r["error"]:
            st.warning(r["error"], icon=":material/compare_arrows:")
    ok = {n: r for n, r in results.items() if "skip" not in r}
    if not ok:
        return
    st.subheader("Which ink made the answer")
    st.markdown("**Occlusion** covers the digit with a small black square (4×4 pixels), everywhere in turn, and "
                "records how much the answer's score drops. **Integrated Gradients** adds up how the score changes "
                "as the digit fades in from a black image.")
    rows = _rows(image, results, names)
    grid(rows)
    st.caption(tf.MAP_HELP)
    st.markdown(BASELINE_NOTE)
    for name, r in ok.items():
        e = r["e"]
        st.caption(f"{name}: Integrated Gradients' scores add up to {e.ig_sum:.3f}; the score's change from a black "
                   f"image is {e.output_change:.3f} (they should match: 'completeness').")
    sanity = {n: cache.sanity(ts, models[n], image, r["e"]) for n, r in ok.items()}
    deletion = {n: cache.deletion(ts, models[n], image, r["e"]) for n, r in ok.items()}
    a, b, c = st.columns(3)
    a.download_button("Heatmaps (PNG)", data=lambda: tf.heatmaps_png(rows), file_name="netlens-heatmaps.png",
                      mime="image/png", key="trust_dl_png", icon=":material/download:",
                      help="The pictures above as one PNG image.")
    b.download_button("Numbers (CSV)", data=numbers_csv(results, names, sanity, deletion),
                      file_name="netlens-explanation-numbers.csv", mime="text/csv", key="trust_dl_numbers",
                      icon=":material/download:",
                      help="Each model's answer, completeness, sanity and deletion numbers.")
    c.download_button("Maps, pixel by pixel (CSV)", data=lambda: maps_csv(results), file_name="netlens-maps.csv",
                      mime="text/csv", key="trust_dl_maps", icon=":material/download:",
                      help="Every map's value at every pixel.")
    sanity_ui(image, ok, sanity, names)
    deletion_ui(deletion)
    nearest_ui(ts, models, ok, image)
    linear_ui(models, ok, image, names)


def sanity_ui(image, ok: dict, sanity: dict, names) -> None:
    st.subheader("Sanity check: the same maps from a model that learned nothing")
    st.markdown("Same architecture, weights redrawn at random (Adebayo et al., 2018). " + SANITY_SENTENCE)
    rows = []
    for name, r in ok.items():
        e, s = r["e"], sanity[name]
        rows.append((name, [("occlusion, trained", tf.overlay_rgb(image, e.occlusion)),
                            (f"occlusion, random weights (ρ {_num(s.occlusion_correlation, True)})",
                             tf.overlay_rgb(image, s.random_occlusion)),
                            ("IG, trained", tf.overlay_rgb(image, e.integrated_gradients)),
                            (f"IG, random weights (ρ {_num(s.ig_correlation, True)})",
                             tf.overlay_rgb(image, s.random_integrated_gradients))]))
    grid(rows)
    st.markdown(f"**The verdict.** A map **fails** when the random model's map ranks the ink alike: Spearman "
                f"|ρ| ≥ {SANITY_THRESHOLD:g} for the absolute maps *or* for the signed maps (signed: a map that is "
                "the same with red and blue swapped fails too). It **passes** when both |ρ| are below "
                f"{SANITY_THRESHOLD:g}: the map then depends on what the model learned.")
    for name in ok:
        s = sanity[name]
        for label, v in (("Occlusion", s.occlusion), ("Integrated Gradients", s.ig)):
            text = (f"**{name}, {label}: {v.words.upper()}** — ρ of |map| {_num(v.abs_rho, True)}, ρ of the signed "
                    f"map {_num(v.signed_rho, True)} (threshold |ρ| {SANITY_THRESHOLD:g}): {v.reason}")
            (st.success if v.passed else st.error)(text, icon=":material/check_circle:" if v.passed
                                                    else ":material/cancel:")


def _num(v: float, short: bool = False) -> str:
    if np.isnan(v):
        return "n/a" if short else "n/a (a map is flat on the ink)"
    return f"{v:.2f}"


def deletion_ui(deletion: dict) -> None:
    st.subheader("Deletion check: remove the most important ink first")
    st.markdown("Pixels are set to black in the order the map ranks them, most important first, and the model's "
                "probability for its answer is recorded; a random order is the comparison. A map that found what "
                "matters makes the probability fall **fast**: a small area under its curve.")
    figures.chart(st, tf.deletion_figure(deletion), summaries.deletion(deletion), config=NO_BAR, key="trust_deletion")
    for name, d in deletion.items():
        parts = [f"{k} {c.auc:.3f}" for k, c in d.items()]
        st.caption(f"{name} — area under the curve: {', '.join(parts)}; random order "
                   f"{next(iter(d.values())).random_auc:.3f} (lower is better).")


def nearest_ui(ts: TrustState, models: dict, ok: dict, image) -> None:
    st.subheader("Explanation by example: the training digits it finds most alike")
    for name in ok:
        sm = models[name]
        try:
            nb = cache.nearest(sm, image, k=6)
        except ValueError as e:
            st.info(f"{name}: {e}", icon=":material/block:")
            continue
        where = ("in **pixel space** — logistic regression has no hidden layer, so 'alike' means alike "
                 "pixel by pixel" if nb.pixel_space else f"in its last hidden layer ({nb.layer})")
        st.markdown(f"**{plain(name)}**, {where} (under each: its label · its distance):")
        cls = sm.trained.class_names
        alt_images.show(st, [figures.enlarge(_u8(sm.dataset.images[i]), 84) for i in nb.indices], width=84,
                        alt=[f"A training digit like yours for {name}: labelled {cls[y]}, distance {d:.1f}"
                             for y, d in zip(nb.labels, nb.distances)],
                        caption=[f"{cls[y]} · {d:.1f}" for y, d in zip(nb.labels, nb.distances)])


def linear_ui(models: dict, ok: dict, image, names) -> None:
    linear = [n for n in ok if ex.is_linear(models[n].trained.model)]
    if not linear:
        return
    st.subheader("Logistic regression: an exact explanation")
    st.markdown("Logistic regression's score for a class is **Σ weight × pixel + bias**. Its gradient with respect "
                "to a pixel is just that pixel's weight — **the same for every image**: a gradient map only shows "
                "the class's weight template. **Weight × pixel** is exact: the pieces add up to the score "
                "(minus the bias).")
    rows = []
    for name in linear:
        e = ok[name]["e"]
        w = first_layer_weights(models[name].trained.model, image.shape)[e.target]
        rows.append((name, [(f"weights of {names[e.target]} (its gradient)", figures.diverging_rgb(w)),
                            (f"weight × pixel for {names[e.target]}", tf.overlay_rgb(image, e.weight_x_pixel))]))
    grid(rows)
