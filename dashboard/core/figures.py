"""Plotly figure builders, and `chart()`: the one way figures reach the page (NetLens's
chart defaults; bigger text, lines and markers in projection mode). `shared()` builds a figure
that every session sees alike once per server. Only `chart()` and `shared()` touch Streamlit."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.kernels import fraction_text
from dashboard.core import chart_tables, formats
from dashboard.core.chrome import presenting
from dashboard.core.guard import plain
from dashboard.core.palette import CLASS_COLOURS  # Petroff's ten, checked under colour blindness
from dashboard.core.projector import for_projector

FONT = dict(size=16)
NO_BAR = {"displayModeBar": False}  # small charts: no Plotly toolbar


def chart(where, fig: go.Figure, summary: str, *, table=None, **kwargs):
    """st.plotly_chart with NetLens's defaults, and its text alternative (issue 37): `summary`, one
    sentence from the chart's own numbers (dashboard/core/chart_text.py), is written just above the
    chart as "Chart: …" (a screen reader meets it before the picture, the back row reads it), and
    the chart's numbers follow in a collapsed "Show as table" (st.table: real HTML). `table`: a
    DataFrame or (caption, DataFrame) pairs; by default read from the figure's traces
    (dashboard/core/chart_tables.py). In projection mode the figure is redrawn for the back row
    (dashboard/core/projector.py): every text >= 22 px in black, without Streamlit's theme."""
    if not isinstance(summary, str) or not summary.strip():
        raise ValueError(f"chart() needs a one-sentence summary of the chart's numbers, got {summary!r}: "
                         "build one with dashboard/core/chart_text.py.")
    where.caption(f"{CHART_PREFIX} {plain(summary, limit=600)}")
    shown = fig
    if presenting() and not isinstance(fig, dict):  # dict figures are light, live previews

        shown = fig if getattr(fig, "_netlens_projected", False) else for_projector(fig)
        kwargs["theme"] = None
    kwargs.setdefault("width", "stretch")
    event = where.plotly_chart(shown, **kwargs)
    _table(where, fig if table is None else table)
    return event


CHART_PREFIX = "Chart:"  # benchmarks/a11y.py finds a chart's summary by it


def _table(where, source) -> None:
    """The chart's numbers under a collapsed "Show as table"."""
    if isinstance(source, pd.DataFrame):
        parts = [("", source)]
    elif isinstance(source, list):
        parts = source
    else:
        parts = chart_tables.tables(source)
    box = where.expander("Show as table", icon=":material/table:")
    for caption, frame in parts:
        if caption:
            box.caption(plain(caption))
        box.table(frame, hide_index=True)


def shared(key: tuple, build) -> go.Figure:
    """The figure ``build()`` makes, built once per server, ``key`` and display mode: for a
    figure every session sees alike (a finished map, a model's confusion matrix). Building a
    Plotly figure runs its validators in the server's one interpreter (~0.1 s for a 2,000-point
    map): thirty students looking at the same map pay it once. ``key`` must name everything
    the figure shows. Never change the figure returned (it is shared); `chart()` draws it as is.
    Live progress uses it too, keyed by (job key, version): it then costs the same for 1 or 100
    watchers (a fragment cannot skip a run: Streamlit clears a fragment's elements that a run
    does not redraw, so the cheap part is what each watcher repeats)."""

    return _shared(key, presenting(), build)


@st.cache_resource(max_entries=64, show_spinner=False)
def _shared(key: tuple, present: bool, _build) -> go.Figure:
    fig = _build()
    if present and not isinstance(fig, dict):  # dict figures are the light, live previews

        fig = for_projector(fig)
        fig._netlens_projected = True
    return fig


def wrap(text: str, width: int = 18) -> str:
    """A label broken into lines of about `width` characters (at spaces and " · ", never inside a
    word) with <br>: subplot titles and category labels that would otherwise print over their neighbours."""
    words: list[str] = []
    for word in str(text).split(" "):
        if word == "·" and words:
            words[-1] += " ·"  # a separator ends its line, never starts one
        elif word:
            words.append(word)
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def _weight_text(v: float) -> str:
    """1/9 rather than 0.111 where a weight is a simple fraction."""

    return fraction_text(v, digits=3)


def kernel_heatmap(kernel: np.ndarray, title: str = "") -> go.Figure:
    """The kernel as a grid: blue negative, red positive, numbers written in when legible."""
    k = np.asarray(kernel, dtype=float)
    lim = float(np.abs(k).max()) or 1.0
    show_text = max(k.shape) <= 9
    fig = go.Figure(go.Heatmap(
        z=k[::-1], zmin=-lim, zmax=lim, colorscale="RdBu_r", showscale=False,
        text=np.vectorize(_weight_text)(k[::-1]) if show_text else None,
        texttemplate="%{text}" if show_text else None, textfont=dict(size=18),
        hovertemplate="weight %{z:.4g}<extra></extra>",
        xgap=2, ygap=2,
    ))
    fig.update_layout(title=title, height=260, margin=dict(l=10, r=10, t=40 if title else 10, b=10), font=FONT)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return fig


def _cell_text(x: float) -> str:
    """A grid cell's number: a fraction where exact (1/9), short, and never "-0"."""
    return "0" if abs(x) < 1e-9 else _weight_text(x)


def _grid_trace(values: np.ndarray, colorscale: str) -> go.Heatmap:
    v = np.asarray(values, dtype=float)
    return go.Heatmap(z=v, colorscale=colorscale, showscale=False, xgap=1, ygap=1,
                      zmid=0 if colorscale.startswith("RdBu") else None,
                      text=np.vectorize(_cell_text)(v), texttemplate="%{text}", textfont=dict(size=15),
                      hovertemplate="row %{y}, column %{x}: %{z:.4g}<extra></extra>")


def _grid_box(fig: go.Figure, r, c, h, w, axis: str = "", **line) -> None:
    fig.add_shape(type="rect", x0=c - 0.5, x1=c + w - 0.5, y0=r - 0.5, y1=r + h - 0.5, line=line,
                  xref=f"x{axis}", yref=f"y{axis}")


def number_grid(values: np.ndarray, title: str, highlight: tuple[int, int, int, int] | None = None,
                inner: tuple[int, int, int, int] | None = None, colorscale: str = "Greys_r") -> go.Figure:
    """A small grid of numbers, each written in its cell. `highlight` = (row, col, h, w)
    draws a thick box (the kernel's window); `inner` a dashed one (the image inside its padding)."""
    return number_grids([(values, title, highlight, inner, colorscale)], columns=1)


def number_grids(panels: list[tuple], columns: int = 2) -> go.Figure:
    """Several number grids in one figure, `columns` to a row, each panel
    (values, title, highlight, inner, colorscale) as in `number_grid`. One figure keeps the
    window and its output side by side at any width (a phone, a projector with the sidebar open)."""
    from plotly.subplots import make_subplots

    rows = -(-len(panels) // columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[p[1] for p in panels],
                        horizontal_spacing=0.06, vertical_spacing=0.12 if rows > 1 else 0)
    biggest = 1
    for i, (values, _title, highlight, inner, scale) in enumerate(panels):
        fig.add_trace(_grid_trace(values, scale), row=i // columns + 1, col=i % columns + 1)
        axis = "" if i == 0 else str(i + 1)
        if inner:
            _grid_box(fig, *inner, axis=axis, color="#0072B2", width=2, dash="dash")
        if highlight:
            _grid_box(fig, *highlight, axis=axis, color="#E69F00", width=5)
        fig.update_yaxes(scaleanchor=f"x{axis}", row=i // columns + 1, col=i % columns + 1)
        biggest = max(biggest, *np.shape(values))
    per_row = min(44 * biggest + 60, 480 if columns == 1 else 360)
    fig.update_layout(height=per_row * rows, width=None, margin=dict(l=5, r=5, t=40, b=5), font=FONT)
    fig.update_annotations(font_size=18)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    return fig


# ---------------------------------------------------------------- training

TRAIN, VAL = "#0072B2", "#E69F00"  # Okabe–Ito blue and orange


def class_colour(k: int) -> str:
    return CLASS_COLOURS[k % len(CLASS_COLOURS)]


def learning_curves(rows: list[dict], epochs: int | None = None) -> go.Figure:
    """Loss and accuracy per epoch, training vs validation, side by side."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (lower is better)", "Accuracy (higher is better)"))
    x = [r["epoch"] for r in rows]
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for name, colour, dash in (("train", TRAIN, "solid"), ("val", VAL, "dash")):
            fig.add_trace(go.Scatter(
                x=x, y=[r[f"{name}_{metric}"] for r in rows], mode="lines+markers",
                name="training" if name == "train" else "validation", legendgroup=name, showlegend=col == 1,
                line=dict(color=colour, width=3, dash=dash), marker=dict(size=8)), row=1, col=col)
    fig.update_xaxes(
        title_text="epoch", range=[0.5, (epochs or max(x, default=1)) + 0.5], dtick=1 if (epochs or 1) <= 20 else None
    )
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), font=FONT,
                      legend=dict(orientation="h", y=-0.25))
    return fig


def confusion_matrix(cm: np.ndarray, class_names) -> go.Figure:
    """Counts of (true, predicted); the diagonal is right. Clicking a cell selects it: a Plotly heatmap
    cannot be selected, so an invisible marker sits on each cell and the click goes to the nearest one
    (hoverdistance -1: anywhere in the cell), which st.plotly_chart(on_select=...) reports as (x, y)."""
    names = [str(c) for c in class_names]
    fig = go.Figure(go.Heatmap(
        z=cm, x=names, y=names, colorscale="Blues", text=cm, texttemplate="%{text}", textfont=dict(size=14),
        hoverinfo="skip", showscale=False))
    cols, rows = np.meshgrid(names, names)
    counts = [f"{n} image{'' if n == 1 else 's'}" for n in np.asarray(cm).ravel()]  # a cell's hover, in words
    fig.add_trace(go.Scatter(
        x=cols.ravel(), y=rows.ravel(), customdata=counts, mode="markers", showlegend=False,
        marker=dict(size=1, opacity=0), selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)),
        hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>"))
    fig.update_layout(hovermode="closest", hoverdistance=-1, clickmode="event+select")
    fig.update_xaxes(title_text="predicted", type="category", side="top")
    fig.update_yaxes(title_text="true", type="category", autorange="reversed")
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=60, b=10), font=FONT)
    return fig


def probability_bars(probs: np.ndarray, class_names, title: str = "", true: int | None = None) -> go.Figure:
    """Pr(class) as bars; the winner in orange, the true class outlined."""
    names = [str(c) for c in class_names]
    win = int(np.argmax(probs))
    colours = [VAL if k == win else TRAIN for k in range(len(names))]
    fig = go.Figure(go.Bar(x=names, y=probs, marker_color=colours, text=[formats.probability(p) for p in probs],
                           textposition="outside", hovertemplate="Pr(%{x}) = %{y:.3f}<extra></extra>",
                           marker_line=dict(width=[3 if k == true else 0 for k in range(len(names))], color="black")))
    fig.update_yaxes(range=[0, 1.18], tickformat=".0%", title_text="probability")
    fig.update_xaxes(type="category", dtick=1, title_text="digit")  # every digit labelled, however narrow
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=40 if title else 10, b=10), font=FONT)
    return fig


def diverging_rgb(w: np.ndarray) -> np.ndarray:
    """Weights as an RGB picture: blue negative, white zero, red positive (scaled to the largest |w|)."""
    w = np.asarray(w, dtype=np.float32)
    t = np.clip(w / (np.abs(w).max() or 1.0), -1, 1)[..., None]
    red, blue, white = np.array([178, 24, 43]), np.array([33, 102, 172]), np.array([247, 247, 247])
    rgb = np.where(t > 0, white + t * (red - white), white + (-t) * (blue - white))
    return rgb.astype(np.uint8)


def strip(pictures: list[np.ndarray], side: int = 160, gap: int = 10) -> np.ndarray:
    """Gray uint8 pictures side by side, each fitted (aspect kept, crisp pixels) into a
    side × side box on a light-gray ground: one image, so it stays one row at any width."""
    import cv2

    out = np.full((side, len(pictures) * (side + gap) - gap), 235, np.uint8)
    for i, p in enumerate(pictures):
        h, w = p.shape[:2]
        f = side / max(h, w)
        nh, nw = max(1, round(h * f)), max(1, round(w * f))
        small = cv2.resize(p, (nw, nh), interpolation=cv2.INTER_NEAREST if f >= 1 else cv2.INTER_AREA)
        y, x = (side - nh) // 2, i * (side + gap) + (side - nw) // 2
        out[y:y + nh, x:x + nw] = small
    return out


def enlarge(image: np.ndarray, side: int = 84) -> np.ndarray:
    """Nearest-neighbour enlargement so small pictures show crisp pixels."""
    h, w = image.shape[:2]
    f = max(1, side // max(h, w))
    return np.repeat(np.repeat(image, f, axis=0), f, axis=1)


def score_bars(scores: np.ndarray, class_names, title: str = "") -> go.Figure:
    """Raw scores (logits): any real number, the largest wins."""
    names = [str(c) for c in class_names]
    win = int(np.argmax(scores))
    fig = go.Figure(go.Bar(x=names, y=scores, marker_color=[VAL if k == win else TRAIN for k in range(len(names))],
                           text=[f"{s:.1f}" for s in scores], textposition="outside",
                           hovertemplate="score(%{x}) = %{y:.3f}<extra></extra>"))
    fig.update_xaxes(type="category", dtick=1, title_text="digit")
    fig.update_yaxes(title_text="score")
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=40 if title else 10, b=10), font=FONT)
    return fig
