"""Charts a lecture hall's back row can read (projection mode): every text in a figure
at least TEXT_PX, black on white, cell labels in black or white, whichever stands out more
from their cell (>= 4.5:1 by construction), thicker lines and bigger markers.

Streamlit's Plotly theme sets axis, tick and legend fonts itself, so a figure-wide font
size does not reach them: projected figures are drawn with `theme=None` and every font set
here explicitly. No Streamlit calls in this module."""
from __future__ import annotations

import re

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go

TEXT_PX, TITLE_PX = 22, 28
INK, PAPER, GRID = "#000000", "#ffffff", "#d0d0d0"
_SMALL = re.compile(r"</?(sup|sub|small)>")


def _font(size: int = TEXT_PX) -> dict:
    return dict(size=size, color=INK)


def _luminance(rgb) -> float:
    c = np.asarray(rgb, float) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])


def label_colour(cell_rgb) -> str:
    """Black or white, whichever contrasts more with the cell (never below 4.58:1)."""
    return INK if _luminance(cell_rgb) > 0.179 else "#ffffff"


def _cell_colours(trace) -> np.ndarray:
    """The RGB colour of every cell of a heatmap, as Plotly paints it."""
    z = np.asarray(trace.z, float)
    lo = trace.zmin if trace.zmin is not None else np.nanmin(z)
    hi = trace.zmax if trace.zmax is not None else np.nanmax(z)
    if trace.zmid is not None and trace.zmin is None and trace.zmax is None:
        half = max(abs(np.nanmax(z) - trace.zmid), abs(trace.zmid - np.nanmin(z))) or 1.0
        lo, hi = trace.zmid - half, trace.zmid + half
    t = np.clip((z - lo) / ((hi - lo) or 1.0), 0, 1)
    scale = [[float(at), colour] for at, colour in (trace.colorscale or pc.get_colorscale("Plasma"))]
    flat = pc.sample_colorscale(scale, np.nan_to_num(t).ravel().tolist())
    return np.array([pc.unlabel_rgb(c) for c in flat]).reshape(*z.shape, 3)


def _positions(fig: go.Figure, ref: str, values, n: int) -> list:
    """Where an annotation goes for each of a heatmap's columns (or rows). On a category axis by the
    category's index: a label such as "64" given as is would be read as position 64 (Plotly takes
    number-like strings for numbers), leaving the cells a thin strip beside empty space."""
    axis = fig.layout[ref.replace("x", "xaxis").replace("y", "yaxis")]
    if values is None or axis.type == "category":
        return list(range(n))
    return list(values)


def _heatmap_labels(fig: go.Figure, trace) -> None:
    """Replace a heatmap's own cell texts by annotations coloured cell by cell."""
    if trace.text is None or not trace.texttemplate:
        return
    text, colours = np.asarray(trace.text, dtype=object), _cell_colours(trace)
    rows, cols = text.shape
    xs = _positions(fig, trace.xaxis or "x", trace.x, cols)
    ys = _positions(fig, trace.yaxis or "y", trace.y, rows)
    for r in range(rows):
        for c in range(cols):
            fig.add_annotation(x=xs[c], y=ys[r], text=str(text[r, c]), showarrow=False,
                               xref=trace.xaxis or "x", yref=trace.yaxis or "y",
                               font=dict(size=TEXT_PX, color=label_colour(colours[r, c])))
    trace.texttemplate = None
    trace.text = None


def _trace(fig: go.Figure, trace) -> None:
    if trace.type == "heatmap":
        _heatmap_labels(fig, trace)
        return
    line = getattr(trace, "line", None)
    if line is not None and "width" in line:
        line.width = max(5, (line.width or 2) * 2)
    marker = getattr(trace, "marker", None)
    if marker is not None and "size" in marker and marker.size is not None:
        size = marker.size
        marker.size = [s * 1.7 for s in size] if isinstance(size, (list, tuple)) else size * 1.7
    if trace.type == "bar":
        trace.textfont = _font()
        trace.textposition = "outside"  # on white, never on the bar's colour
        trace.cliponaxis = False


def for_projector(fig) -> go.Figure:
    """A copy of `fig` for the projector; pass it to st.plotly_chart with theme=None."""
    fig = go.Figure(fig)
    for trace in fig.data:
        _trace(fig, trace)
    if fig.layout.legend.orientation == "h":  # below everything, never over an axis title
        fig.update_layout(legend=dict(yref="container", y=0, yanchor="bottom"),
                          margin_b=max(fig.layout.margin.b or 0, 2 * TEXT_PX + 70))
    fig.update_layout(
        font=_font(), paper_bgcolor=PAPER, plot_bgcolor=PAPER,
        legend=dict(font=_font(), title_font=_font()), hoverlabel=dict(font_size=TEXT_PX),
        height=int((fig.layout.height or 400) * 1.25),
        margin_r=max(fig.layout.margin.r or 0, 2 * TEXT_PX))  # room for the last x tick label ("100%")
    if fig.layout.title.text:
        title = _SMALL.sub("", fig.layout.title.text)
        lines = title.count("<br>") + 1
        fig.update_layout(title=dict(text=title, font=_font(TITLE_PX)),
                          margin_t=max(fig.layout.margin.t or 0, int(TITLE_PX * 1.4 * lines) + 16))
    axis = dict(tickfont=_font(), title_font=_font(), color=INK, gridcolor=GRID, linecolor=GRID, zerolinecolor=GRID,
                automargin=True)  # room for the big tick labels inside the chart
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    for slider in fig.layout.sliders:  # an animation's epoch slider and its play/pause buttons
        slider.font, slider.currentvalue.font = _font(), _font()
    for menu in fig.layout.updatemenus:
        menu.font = _font()
    for ann in fig.layout.annotations:
        ann.text = _SMALL.sub("", ann.text or "")
        if ann.yref == "paper" and (ann.y or 0) >= 1 and ann.yanchor == "bottom":  # a subplot's title
            need = int(TEXT_PX * 1.3 * (ann.text.count("<br>") + 1)) + 12
            fig.update_layout(margin_t=max(fig.layout.margin.t or 0, need))
        ann.font.size = max(TEXT_PX, ann.font.size or 0)
        if ann.font.color is None:
            ann.font.color = INK
    return fig
