"""Representations page (Streamlit side): features per layer, t-SNE jobs shared across
sessions, linked scatter plots and the selection's image grid."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from analysis import embedding, jobs
from analysis.models import representations
from dashboard import figures, links
from dashboard.runtime import session_id
from dashboard.training import SessionModel

REGISTRY = jobs.shared_registry("tsne", max_workers=1, max_entries=64, max_age_s=6 * 3600)
METRIC_SAMPLE = 2_000  # trustworthiness and k-NN accuracy on at most this many points (O(n²) memory)


@dataclass(frozen=True)
class MapSpec:
    """One panel: a representation projected with one set of parameters."""
    rep: str
    method: str  # 'tsne' | 'pca'
    perplexity: float = 30.0
    n_iter: int = 750
    seed: int = 0

    @property
    def title(self) -> str:
        if self.method == "pca":
            return f"{self.rep} — PCA"
        return f"{self.rep} — t-SNE (perplexity {self.perplexity:g}, seed {self.seed})"

    @property
    def plot_title(self) -> str:
        if self.method == "pca":
            return f"{self.rep}<br><sup>PCA</sup>"
        return f"{self.rep}<br><sup>t-SNE, perplexity {self.perplexity:g}, seed {self.seed}</sup>"


def model_key(sm: SessionModel) -> str:
    t = sm.trained
    return t.key + (f"-stopped{len(t.history.rows)}" if t.history.stopped else "")


def sample(sm: SessionModel, n: int, seed: int) -> np.ndarray:
    """Indices into the dataset: a stratified sample of the test and validation digits."""
    split = sm.trained.split
    pool = np.concatenate([split.test, split.val])
    return pool[embedding.stratified_sample(sm.dataset.labels[pool], n, random_state=seed)]


def features(sm: SessionModel, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Every representation of the sampled images, memoised in this session."""
    key = (model_key(sm), hashlib.sha1(idx.tobytes()).hexdigest())
    memo = st.session_state.setdefault("rep_features", {})
    if key not in memo:
        while len(memo) >= 2:  # the names probe (20 digits) and the sample shown
            memo.pop(next(iter(memo)))
        memo[key] = representations(sm.trained.model, sm.dataset.images[idx])
    return memo[key]


def _separation(x: np.ndarray, coords: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    sub = embedding.stratified_sample(labels, METRIC_SAMPLE, random_state=0)
    x, coords, labels = x[sub], coords[sub], labels[sub]
    return {"trustworthiness (k=10)": embedding.trustworthiness(x, coords, k=10),
            "k-NN accuracy, original (k=5)": embedding.knn_accuracy(x, labels, k=5),
            "k-NN accuracy, map (k=5)": embedding.knn_accuracy(coords, labels, k=5)}


def _project(job: jobs.Job, x: np.ndarray, labels: np.ndarray, spec: MapSpec) -> dict:
    if spec.method == "pca":
        coords, ratio = embedding.pca(x, 2)
        return {"coords": coords, "explained": ratio, "metrics": _separation(x, coords, labels)}

    def progress(iteration: int, current: np.ndarray) -> bool:
        job.report(iteration / spec.n_iter, f"iteration {iteration} of {spec.n_iter}", current)
        return not job.should_stop()

    coords = embedding.tsne(x, spec.perplexity, spec.n_iter, spec.seed, on_progress=progress)
    return {"coords": coords, "explained": None, "metrics": _separation(x, coords, labels)}


def submit(sm: SessionModel, idx: np.ndarray, spec: MapSpec) -> jobs.Job:
    """Start (or join) the projection of one panel. Identical requests share the result."""
    x = features(sm, idx)[spec.rep]
    labels = sm.dataset.labels[idx]
    key = hashlib.sha256(repr((model_key(sm), idx.tobytes(), spec)).encode()).hexdigest()[:20]
    return REGISTRY.submit(key, spec.title, lambda job: _project(job, x, labels, spec), session_id())


def watch_only(current: list[jobs.Job]) -> None:
    """Stop watching maps this session no longer shows (settings changed): unwatched ones are cancelled."""
    keep = {j.key for j in current}
    for key in st.session_state.get("rep_jobs", set()) - keep:
        REGISTRY.detach(key, session_id())
    st.session_state["rep_jobs"] = keep


def stop_all() -> None:
    for key in st.session_state.pop("rep_jobs", set()):
        REGISTRY.detach(key, session_id())


# ---------------------------------------------------------------- figures


def scatter(coords: np.ndarray, labels: np.ndarray, pred: np.ndarray, conf: np.ndarray, ids: np.ndarray,
            class_names, title: str, selected: set[int] | None = None, height: int = 460) -> go.Figure:
    """One trace per true class (colour-blind-safe colours); misclassified points as ×;
    hover: index, true label, prediction, confidence. customdata carries the row id."""
    fig = go.Figure()
    for k, name in enumerate(class_names):
        rows = np.flatnonzero(labels == k)
        if not len(rows):
            continue
        wrong = pred[rows] != k
        sel = None if selected is None else [i for i, r in enumerate(rows) if int(ids[r]) in selected]
        fig.add_trace(go.Scattergl(
            x=coords[rows, 0], y=coords[rows, 1], mode="markers", name=str(name),
            marker=dict(color=figures.class_colour(k), size=np.where(wrong, 9, 6).tolist(),
                        symbol=np.where(wrong, "x", "circle").tolist(), line=dict(width=0)),
            customdata=[[int(ids[r]), str(class_names[pred[r]]), float(conf[r])] for r in rows],
            hovertemplate=(f"image #%{{customdata[0]}}<br>true: {name}<br>predicted: %{{customdata[1]}}"
                           "<br>confidence: %{customdata[2]:.0%}<extra></extra>"),
            selectedpoints=sel, unselected=dict(marker=dict(opacity=0.12)),
        ))
    fig.update_layout(title=dict(text=title, font=dict(size=16)), height=height, dragmode="lasso",
                      margin=dict(l=10, r=10, t=50, b=10), font=figures.FONT, legend_title_text="true digit",
                      legend=dict(itemsizing="constant"))
    fig.update_xaxes(showticklabels=False, title_text="")
    fig.update_yaxes(showticklabels=False, title_text="", scaleanchor="x")
    return fig


PREVIEW_POINTS = 800  # an intermediate map is drawn often, for many sessions: keep it light


def preview(coords: np.ndarray, labels: np.ndarray, title: str) -> dict:
    """A cheap picture of a map that is still forming: one trace, at most PREVIEW_POINTS
    points, colours by true label, no hover data. A plain figure dict: no validation cost
    (it is redrawn every two seconds for every session watching)."""
    step = max(1, len(coords) // PREVIEW_POINTS)
    c, y = coords[::step], labels[::step]
    return {"data": [{"type": "scattergl", "x": c[:, 0].tolist(), "y": c[:, 1].tolist(), "mode": "markers",
                      "hoverinfo": "skip", "marker": {"size": 5, "color": [figures.class_colour(int(k)) for k in y]}}],
            "layout": {"title": {"text": title, "font": {"size": 16}}, "height": 420, "showlegend": False,
                       "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
                       "xaxis": {"showticklabels": False}, "yaxis": {"showticklabels": False, "scaleanchor": "x"}}}


def selected_ids(event) -> set[int]:
    points = event.selection.points if event and event.selection else []
    return {int(p["customdata"][0]) for p in points if p.get("customdata")}


LINK = [links.Param("method", "rep_method", links.choice("tsne", "pca")),
        links.Param("compare", "rep_compare", links.choice("layers", "seeds", "perplexities")),
        links.Param("n", "rep_n", links.whole(1, 20_000)),
        links.Param("perplexity", "rep_perplexity", links.whole(1, 100)),
        links.Param("seed", "rep_seed", links.whole(0, 10_000))]


def _cap(variable: str, default: int) -> int:
    """A server limit from the environment (a bad value keeps the default)."""
    import os

    try:
        return max(5, int(os.environ.get(variable, default)))
    except ValueError:
        return default


def settings_ui(reps: list[str], n_available: int, gpu: bool) -> tuple[list[MapSpec], int, int]:
    """Sidebar controls. Returns (panels, sample size, sample seed)."""
    default = [r for r in reps if r == "pixels" or r.startswith("hidden layer 1") or r.startswith("conv block 1")
               or r == "logits"][:3]
    chosen = st.multiselect("Representations", reps, default=default, max_selections=4, key="rep_reps",
                            help="Pixels: the raw image. Hidden layers: what each layer of the net computes. "
                                 "Logits: the ten scores. Probabilities: the scores after softmax.")
    compare = st.radio("Compare", ["layers", "seeds", "perplexities"], key="rep_compare",
                       format_func={"layers": "Representations side by side", "seeds": "Three seeds (first representation)",
                                    "perplexities": "Three perplexities (first representation)"}.get,
                       help="t-SNE pictures change with the seed and the perplexity: compare before you conclude.")
    method = st.radio("Projection", ["tsne", "pca"], key="rep_method", horizontal=True,
                      format_func={"tsne": "t-SNE", "pca": "PCA"}.get,
                      help="t-SNE keeps near neighbours near (clusters). PCA keeps the two directions of largest spread "
                           "(a straight view from the best angle).")
    lo, mid, hi = embedding.sample_size_bounds(n_available, gpu, cpu_cap=_cap("NETLENS_MAX_POINTS_CPU", 5_000),
                                               gpu_cap=_cap("NETLENS_MAX_POINTS_GPU", 20_000))
    st.session_state["rep_n"] = min(hi, max(lo, st.session_state.get("rep_n", mid)))
    n = st.slider("Digits to show", lo, hi, step=max(1, (hi - lo) // 45 or 1), key="rep_n",
                  help=f"A sample of the test and validation digits, each digit in its share (at most {hi:,} "
                       "on this server). More points take longer.")
    max_p = max(1, min(100, int(embedding.max_perplexity(n))))
    st.session_state["rep_perplexity"] = min(max_p, max(min(5, max_p), st.session_state.get("rep_perplexity", 30)))
    perplexity = st.slider("Perplexity", min(5, max_p), max_p, key="rep_perplexity",
                           disabled=method == "pca",
                           help="Roughly how many neighbours each point pays attention to. Small: many small "
                                "clumps; large: broader structure.")
    st.session_state.setdefault("rep_iter", 750)
    n_iter = st.select_slider("Iterations", [250, 500, 750, 1000], key="rep_iter", disabled=method == "pca",
                              help="How long t-SNE keeps moving the points. The map forms on screen as it runs.")
    st.session_state.setdefault("rep_seed", 0)
    seed = int(st.number_input("Seed", 0, 10_000, key="rep_seed",
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


CAUTION = ("**Read t-SNE with care.** It keeps near neighbours near, but the sizes of clusters and the distances "
           "between them mean little, and another perplexity or seed gives a different picture. Trust what "
           "survives those changes — compare three seeds or perplexities in the sidebar.")


def selection_grid(ids: list[int], images: np.ndarray, labels: np.ndarray, pred: np.ndarray, class_names) -> None:
    """The selected digits as pictures, and how many of each label."""
    import pandas as pd

    counts = pd.DataFrame({"true label": [str(class_names[k]) for k in labels[ids]]}).value_counts().rename("digits")
    a, b = st.columns([1, 3])
    a.markdown(f"**{len(ids)} digits selected**")
    a.dataframe(counts.reset_index(), hide_index=True)
    shown = sorted(np.random.default_rng(0).permutation(ids)[:60].tolist()) if len(ids) > 60 else ids  # a fair mix
    b.image([figures.enlarge((np.clip(images[i], 0, 1) * 255).astype(np.uint8), 56) for i in shown],
            caption=[f"#{i}: {class_names[labels[i]]}" + ("" if pred[i] == labels[i] else f"→{class_names[pred[i]]}")
                     for i in shown], width=56)
    if len(ids) > len(shown):
        b.caption(f"Showing the first {len(shown)}.")
