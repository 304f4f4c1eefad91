"""Plotly figure builders (no Streamlit calls here)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

FONT = dict(size=16)


def kernel_heatmap(kernel: np.ndarray, title: str = "") -> go.Figure:
    """The kernel as a grid: blue negative, red positive, numbers written in when legible."""
    k = np.asarray(kernel, dtype=float)
    lim = float(np.abs(k).max()) or 1.0
    show_text = max(k.shape) <= 9
    fig = go.Figure(go.Heatmap(
        z=k[::-1], zmin=-lim, zmax=lim, colorscale="RdBu_r", showscale=False,
        text=np.vectorize(lambda v: f"{v:.3g}")(k[::-1]) if show_text else None,
        texttemplate="%{text}" if show_text else None, textfont=dict(size=18),
        hovertemplate="weight %{z:.4g}<extra></extra>",
        xgap=2, ygap=2,
    ))
    fig.update_layout(title=title, height=260, margin=dict(l=10, r=10, t=40 if title else 10, b=10), font=FONT)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return fig


def number_grid(values: np.ndarray, title: str, highlight: tuple[int, int, int, int] | None = None,
                inner: tuple[int, int, int, int] | None = None, colorscale: str = "Greys_r") -> go.Figure:
    """A small grid of numbers, each written in its cell. `highlight` = (row, col, h, w)
    draws a thick box (the kernel's window); `inner` a dashed one (the image inside its padding)."""
    v = np.asarray(values, dtype=float)
    rows, cols = v.shape
    fig = go.Figure(go.Heatmap(
        z=v, colorscale=colorscale, showscale=False, xgap=1, ygap=1,
        zmid=0 if colorscale.startswith("RdBu") else None,
        text=np.vectorize(lambda x: f"{x:.3g}")(v), texttemplate="%{text}", textfont=dict(size=15),
        hovertemplate="row %{y}, column %{x}: %{z:.4g}<extra></extra>",
    ))

    def box(r, c, h, w, **line):
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + w - 0.5, y0=r - 0.5, y1=r + h - 0.5, line=line)

    if inner:
        box(*inner, color="#0072B2", width=2, dash="dash")
    if highlight:
        box(*highlight, color="#E69F00", width=5)
    side = 44 * max(rows, cols) + 60
    fig.update_layout(title=dict(text=title, font=dict(size=18)), height=min(side, 480), width=None,
                      margin=dict(l=5, r=5, t=40, b=5), font=FONT)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return fig
