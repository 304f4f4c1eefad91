"""Representations' sidebar widgets: the model, the maps to draw and the sample. Each
returns plain values; values persist for the session (`persist_state`)."""
from __future__ import annotations

import streamlit as st

from analysis import embedding
from dashboard.core import formats, links, model_choice, session_models
from dashboard.core.session import PERSIST
from dashboard.core.session_models import SessionModel
from dashboard.representations import defaults
from dashboard.representations import state as rs
from dashboard.representations.replay_state import replay_state
from dashboard.representations.state import MapSpec


def view_ui() -> str:
    """Maps of a trained model, or "Over training" (picked at once for a model handed over by "Watch it learn")."""
    if replay_state().incoming_model:
        st.session_state["rep_view"] = "training"
    return st.segmented_control("View", ["maps", "training"], key="rep_view", persist_state=PERSIST, default="maps",
                                format_func={"maps": "Maps of a trained model", "training": "Over training"}.get,
                                help="Over training: one layer's map, replayed epoch by epoch as the net learned.")


def model_ui(mine: dict[str, SessionModel]) -> SessionModel:
    """Pick one of this session's models (a choice naming a model that is gone falls back)."""
    names = list(mine)
    model_choice.keep_choice("rep_model", names, many=False)
    name = st.selectbox("Model", names, index=len(names) - 1, key="rep_model", persist_state=PERSIST,
                        help="A model you trained in this session (Training page)." + session_models.described(names))
    return mine[name]


LINK = [links.Param("method", "rep_method", links.choice("tsne", "pca")),
        links.Param("compare", "rep_compare", links.choice("layers", "seeds", "perplexities")),
        links.Param("n", "rep_n", links.whole(1, 20_000)),
        links.Param("perplexity", "rep_perplexity", links.whole(1, 100)),
        links.Param("seed", "rep_seed", links.whole(0, 10_000))]


def maps_ui(sm: SessionModel) -> tuple[list[MapSpec], int, int]:
    """The sidebar's map settings for this model's representations. Returns (panels, sample size, sample seed)."""
    n_pool = len(sm.trained.split.test) + len(sm.trained.split.val)
    with st.sidebar:
        return settings_ui(rs.representation_names(sm), n_pool, embedding.cuda_available())


def settings_ui(reps: list[str], n_available: int, gpu: bool) -> tuple[list[MapSpec], int, int]:
    """Sidebar controls. Returns (panels, sample size, sample seed)."""
    default = defaults.default_layers(reps)
    chosen = st.multiselect("Representations", reps, default=default, max_selections=4, key="rep_reps",
                            persist_state=PERSIST,
                            help="Pixels: the raw image. Hidden layers: what each layer of the net computes. "
                                 "Logits: the ten scores. Probabilities: the scores after softmax.")
    compare = st.radio(
        "Compare",
        ["layers", "seeds", "perplexities"],
        key="rep_compare",
        persist_state=PERSIST,
        format_func={
            "layers": "Representations side by side",
            "seeds": "Three seeds (first representation)",
            "perplexities": "Three perplexities (first representation)",
        }.get,
        help="t-SNE pictures change with the seed and the perplexity: compare before you conclude.",
    )
    method = st.radio(
        "Projection",
        ["tsne", "pca"],
        key="rep_method",
        persist_state=PERSIST,
        horizontal=True,
        format_func={"tsne": "t-SNE", "pca": "PCA"}.get,
        help="t-SNE keeps near neighbours near (clusters). PCA keeps the two directions of largest spread "
        "(a straight view from the best angle).",
    )
    lo, mid, hi = defaults.sample_bounds(n_available, gpu)
    st.session_state["rep_n"] = min(hi, max(lo, st.session_state.get("rep_n", mid)))
    n = st.slider("Digits to show", lo, hi, step=max(1, (hi - lo) // 45 or 1), key="rep_n", persist_state=PERSIST,
                  help="A sample of the test and validation digits, each digit in its share (at most "
                       f"{formats.count(hi)} on this server). More points take longer.")
    max_p = max(1, min(100, int(embedding.max_perplexity(n))))
    st.session_state["rep_perplexity"] = min(
        max_p, max(min(5, max_p), st.session_state.get("rep_perplexity", defaults.PERPLEXITY))
    )
    perplexity = st.slider("Perplexity", min(5, max_p), max_p, key="rep_perplexity", persist_state=PERSIST,
                           disabled=method == "pca",
                           help="Roughly how many neighbours each point pays attention to. Small: many small "
                                "clumps; large: broader structure.")
    st.session_state.setdefault("rep_iter", defaults.ITERATIONS)
    n_iter = st.select_slider("Iterations", [250, 500, 750, 1000], key="rep_iter", persist_state=PERSIST,
                              disabled=method == "pca",
                              help="How long t-SNE keeps moving the points. The map forms on screen as it runs.")
    st.session_state.setdefault("rep_seed", defaults.SEED)
    seed = int(st.number_input("Seed", 0, 10_000, key="rep_seed", persist_state=PERSIST,
                               help="Fixes the sample and the map's random start: same seed, same map."))
    if not chosen:
        return [], n, seed
    if method == "pca":
        specs = [MapSpec(r, "pca") for r in chosen]
    elif compare == "seeds":
        specs = [MapSpec(chosen[0], "tsne", perplexity, n_iter, seed + i) for i in range(3)]
    elif compare == "perplexities":
        ps = sorted({max(2, min(max_p, int(p))) for p in (perplexity / 3, perplexity, perplexity * 3)})
        specs = [MapSpec(chosen[0], "tsne", p, n_iter, seed) for p in ps]
    else:
        specs = [MapSpec(r, "tsne", perplexity, n_iter, seed) for r in chosen]
    return specs, n, seed
