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
