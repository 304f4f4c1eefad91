"""The room on the map (Board page and Representations): the board's digits placed on the Representations
map of a default model's layer, among the MNIST sample the map was made of — the room's digits drawn with
their labels written on them, MNIST's faded — and one line saying how many land among MNIST's digits of
their label in that layer and in another (raw pixels, or the first hidden layer when pixels are picked).

The maps are the Representations page's default maps (same sample, settings and job key as the server's
warm-up, dashboard.representations.state), so they come from the shared cache and are never refitted for
the room's digits: the digits are placed by analysis.room_map (their nearest map points in the layer's own
space). The placement and the figure are built once per board version, model, layer and display mode."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from analysis import embedding
from analysis.compute.board import BoardView
from analysis.room_map import Placed, agreement, place_images
from analysis.train import TrainedModel
from dashboard.board import controls
from dashboard.board.state import STORE, board_state
from dashboard.core import figures, formats, training_jobs
from dashboard.core.chrome import presenting
from dashboard.core.figures import chart
from dashboard.core.session_models import SessionModel, model_key
from dashboard.representations import defaults
from dashboard.representations import state as rs
from dashboard.representations.view import cluster_labels

POLL_S = 2.0


def mappable(models: dict[str, TrainedModel]) -> dict[str, TrainedModel]:
    """The default models whose maps the room's digits can go on (28×28 digits, a known split)."""
    return {n: t for n, t in models.items() if tuple(t.image_shape) == (28, 28) and t.split is not None}


def _session_model(trained: TrainedModel) -> tuple[SessionModel, np.ndarray]:
    sm = SessionModel("default", trained, training_jobs.dataset(trained.dataset_name))
    n_pool = len(trained.split.test) + len(trained.split.val)
    n = defaults.sample_bounds(n_pool, embedding.cuda_available())[1]
    return sm, rs.sample(sm, n, defaults.SEED)


def map_job(sm: SessionModel, idx: np.ndarray, layer: str):
    """The layer's default map (the warm-up's job when it ran: shared, never refitted)."""
    spec = rs.MapSpec(layer, "tsne", defaults.default_perplexity(len(idx)), defaults.ITERATIONS, defaults.SEED)
    return rs.submit(sm, idx, spec)


def other_layer(layer: str, layers: list[str]) -> str | None:
    """The layer to compare with: raw pixels, or the first hidden layer when the pixels are picked."""
    if layer != "pixels":
        return "pixels"
    return next((r for r in defaults.default_layers(layers) if r not in ("pixels", "logits")), None)


@st.cache_resource(max_entries=32, show_spinner=False)
def _placed(code: str, version: int, key: str, layer: str, _trained, _feats, _coords, _labels, _images) -> Placed:
    return place_images(_trained.model, layer, _feats, _coords, _labels, _images)


def _place(view: BoardView, sm: SessionModel, idx: np.ndarray, layer: str, coords: np.ndarray) -> Placed:
    images = np.stack([d.image for d in view.digits]).astype(np.float32) / 255.0
    feats = rs.features(sm, idx)[layer]
    return _placed(view.code, view.version, model_key(sm), layer, sm.trained, feats, coords,
                   sm.dataset.labels[idx], images)


def summary(view: BoardView, placed: dict[str, Placed | None], layer: str, other: str | None) -> str:
    """One line from the data: the class the room sent most, then every digit, in both layers."""
    labels = np.array([d.label for d in view.digits])
    mine, theirs = agreement(labels, placed[layer].among), None
    if other is not None and placed.get(other) is not None:
        theirs = agreement(labels, placed[other].among)
    top = max(mine, key=lambda k: (mine[k][1], -k))
    name = view.classes[top]

    def cls(k: int, counts: dict | None, where: str) -> str:
        return f"{counts[k][0]} of {counts[k][1]} {where}" if counts else f"not yet {where} (its map is forming)"
    other_words = ("in raw pixels" if other == "pixels" else f"in {other}") if other else ""
    here = f"land among MNIST's {name}s at {layer}"
    line = f"Room's {name}s: {cls(top, mine, here)}"
    if other:
        line += f"; {cls(top, theirs, other_words)}"
    right = sum(v[0] for v in mine.values())
    line += f". All {len(labels)} digits: {right} land among MNIST's digits of their label at {layer}"
    if theirs:
        line += f"; {sum(v[0] for v in theirs.values())} {other_words}"
    return line + "."


def figure(coords: np.ndarray, labels: np.ndarray, view: BoardView, placed: Placed, title: str) -> go.Figure:
    """MNIST's sample faded (its digits written at their clusters' middles), the room's digits on top,
    each with the digit it was meant as written on it; a circle when it lands among MNIST's digits of
    that label, a square when among others (shape and text, never colour alone)."""
    present = presenting()
    fig = go.Figure()
    for k, name in enumerate(view.classes):
        rows = np.flatnonzero(labels == k)
        fig.add_trace(go.Scattergl(x=coords[rows, 0], y=coords[rows, 1], mode="markers", name=f"MNIST {name}",
                                   hoverinfo="skip", legendgroup="mnist", showlegend=False,
                                   marker=dict(color=figures.class_colour(k), size=5, opacity=0.22)))
    spots = cluster_labels(coords, labels, len(view.classes))  # MNIST's digits written under the room's markers
    fig.add_trace(go.Scatter(x=[v[0] for v in spots.values()], y=[v[1] for v in spots.values()], mode="text",
                             text=[html.escape(view.classes[k]) for k in spots], hoverinfo="skip", showlegend=False,
                             textfont=dict(size=18 if present else 14, color="#555555")))
    meant = np.array([d.label for d in view.digits])
    home = placed.among == meant
    for ok, words, symbol in ((True, "room's digit, among MNIST's same digit", "circle"),
                              (False, "room's digit, among other digits", "square")):
        rows = np.flatnonzero(home == ok)
        fig.add_trace(go.Scatter(
            x=placed.spots[rows, 0], y=placed.spots[rows, 1], mode="markers+text", name=words,
            text=[view.classes[meant[i]] for i in rows], textposition="middle center",
            textfont=dict(size=17 if present else 13, color="#000000"),
            marker=dict(symbol=symbol, size=26 if present else 20, color="#ffffff", opacity=1, line=dict(width=2.5,
                        color="#000000" if ok else "#b00020")),
            customdata=[[view.digits[i].id, view.classes[placed.among[i]]] for i in rows],
            hovertemplate="digit #%{customdata[0]}, meant %{text}<br>lands among MNIST's %{customdata[1]}s"
                          "<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=16)), height=620 if present else 480,
                      margin=dict(l=10, r=10, t=50, b=10), font=figures.FONT,
                      legend=dict(orientation="h", y=-0.02, itemsizing="constant"))
    fig.update_xaxes(showticklabels=False, title_text="")
    fig.update_yaxes(showticklabels=False, title_text="", scaleanchor="x")
    return fig


def _picks(models: dict[str, TrainedModel], prefix: str) -> tuple[TrainedModel, SessionModel, np.ndarray, str]:
    names = list(models)
    a, b = st.columns(2)
    which = a.selectbox("Model", names, index=names.index("Multilayer perceptron") if "Multilayer perceptron"
                        in names else 0, key=f"{prefix}model", help="One of the server's default models.")
    sm, idx = _session_model(models[which])
    layers = [r for r in rs.features(sm, idx) if r != "probabilities"]
    first = defaults.default_layers(layers)
    start = next((r for r in first if r not in ("pixels", "logits")), layers[0])
    layer = b.selectbox("Layer", layers, index=layers.index(start), key=f"{prefix}layer",
                        help="The map of this layer's outputs (the Representations page's default t-SNE map).")
    return models[which], sm, idx, layer


def _ready(sm: SessionModel, idx: np.ndarray, layer: str | None):
    if layer is None:
        return None, None
    job = map_job(sm, idx, layer)
    return job, (job.result["coords"] if job.status == "done" else None)


@st.fragment(run_every=POLL_S)
def room_on_map(code: str, prefix: str = "board_map_") -> None:
    """The section, polling every POLL_S seconds for the maps and the board's new digits."""
    view = STORE.view(code)
    st.subheader("The room on the map")
    if view is None or not view.digits:
        st.write("No digits on the board yet: they are placed on the map as they arrive.")
        return
    models = mappable(training_jobs.ready_default_models()[0])
    if not models:
        st.info("The server's default models are not ready yet: the map appears when they are.")
        return
    trained, sm, idx, layer = _picks(models, prefix)
    other = other_layer(layer, list(rs.features(sm, idx)))
    job, coords = _ready(sm, idx, layer)
    if coords is None:
        if job.status in ("failed", "cancelled"):
            st.warning(f"The map of {layer} could not be made: {job.error or 'it was stopped'}.")
        else:
            st.progress(job.progress, text=f"The map of {layer} is forming (once per server): {job.message}")
        return
    placed = {layer: _place(view, sm, idx, layer, coords)}
    if other is not None:
        other_coords = _ready(sm, idx, other)[1]
        placed[other] = None if other_coords is None else _place(view, sm, idx, other, other_coords)
    line = summary(view, placed, layer, other)
    st.markdown(f"**{line}**")
    labels = sm.dataset.labels[idx]
    mnist = formats.count(len(idx))
    title = f"{len(view.digits)} room digits on the map of {layer} ({mnist} MNIST digits, not refitted)"
    fig = figures.shared(("room-map", view.code, view.version, model_key(sm), layer),
                         lambda: figure(coords, labels, view, placed[layer], title))
    chart(st, fig, f"Map of {layer} with {len(view.digits)} room digits placed among {mnist} MNIST digits. {line}",
          key=f"{prefix}chart")
    st.caption("Faded: MNIST's digits (their digit written at each cluster's middle). Each room digit is written "
               "as the digit it was meant as: a circle when it lands among MNIST's digits of that label, a square "
               "when among other digits. A digit is placed from its 10 nearest MNIST digits in this layer's own "
               "numbers (the map is not refitted), so it sits where the layer puts it.")


def on_representations() -> None:
    """On Representations: the room on the map of the class board this session watches or joined, or a box
    for the board's join code."""
    state = board_state()
    code = next((c for c in (state.watching, state.joined, state.owned) if c and STORE.version(c) is not None), None)
    if code is None:
        st.subheader("The room on the map")
        st.caption("Where do your class's own digits land on these maps? Type the class board's join code.")
        controls.join_ui(state, "watching", "rep_room_code")
        controls.said(state)
        return
    room_on_map(code, "rep_room_")
