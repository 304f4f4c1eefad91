"""Plotly figures (and the heatmaps PNG) for the Trust page. No Streamlit calls here."""
from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.core import formats
from dashboard.core.figures import FONT, TRAIN, VAL, wrap

RED, BLUE, INK_GRAY = np.array([178, 24, 43.]), np.array([33, 102, 172.]), np.array([120, 120, 120.])
RANDOM = "#777777"
PAPER = 244.0  # a light gray, so a map's square shows against the white page
MODEL_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]  # Okabe–Ito
MAP_HELP = ("Red: this ink raises the score of the class; blue: it lowers it; gray: the digit's ink. "
            "Each map is scaled to its own strongest pixel.")


def overlay_rgb(image: np.ndarray, attribution: np.ndarray | None) -> np.ndarray:
    """The digit as light-gray ink on white, with the map on top (red positive, blue negative,
    more opaque where stronger). `attribution` None: the digit alone, white on black."""
    image = np.clip(np.asarray(image, np.float64), 0, 1)
    if attribution is None:
        return (np.repeat(image[..., None], 3, axis=2) * 255).astype(np.uint8)
    m = np.asarray(attribution, np.float64)
    t = np.clip(m / (np.abs(m).max() or 1.0), -1, 1)[..., None]
    base = PAPER - image[..., None] * (PAPER - INK_GRAY) * 0.6
    colour = np.where(t > 0, RED, BLUE)
    a = np.abs(t) ** 0.7
    return np.clip(base * (1 - a) + colour * a, 0, 255).astype(np.uint8)


def _fit(fig: go.Figure) -> go.Figure:
    """Margins that grow to fit the tick labels (the projector's bigger type included)."""
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def deletion_figure(curves: dict[str, dict]) -> go.Figure:
    """Per model: the class's probability as pixels are removed in each map's order, beside a
    random order. `curves`: model name -> {map name: DeletionCurve}."""
    names = list(curves)
    titles = [wrap(n, 20) for n in names]  # long model names side by side would print over each other
    lines = max((t.count("<br>") + 1 for t in titles), default=1)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.1)
    colours = {"Occlusion": VAL, "Integrated Gradients": TRAIN}
    for j, name in enumerate(names):
        for k, (map_name, c) in enumerate(curves[name].items()):
            fig.add_trace(go.Scatter(x=c.shares, y=c.confidence, name=f"{map_name} order", legendgroup=map_name,
                                     showlegend=j == 0, line=dict(color=colours.get(map_name), width=3),
                                     hovertemplate="%{x:.0%} removed: %{y:.1%}<extra></extra>"), row=1, col=j + 1)
            if k == 0:
                fig.add_trace(go.Scatter(x=c.shares, y=c.random_confidence, name="random order", legendgroup="random",
                                         showlegend=j == 0, line=dict(color=RANDOM, width=3, dash="dash"),
                                         hovertemplate="%{x:.0%} removed: %{y:.1%}<extra></extra>"), row=1, col=j + 1)
    # Ticks at 0, 50 and 100% only (a subplot's "100%" never meets the next one's "0%"), and the axis
    # title once, under the middle plot: repeated under every narrow plot the titles ran into each other.
    fig.update_xaxes(tickformat=".0%", tickvals=[0, 0.5, 1], range=[-0.02, 1.02])
    fig.update_xaxes(title_text="share of pixels removed", row=1, col=(len(names) + 1) // 2)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    fig.update_yaxes(title_text="probability of the class", row=1, col=1)
    fig.update_layout(height=320 + 20 * lines, margin=dict(l=10, r=10, t=24 * lines + 16, b=10), font=FONT,
                      legend=dict(orientation="h", y=-0.3))
    return _fit(fig)


def reliability_figure(before, after, temperature: float) -> go.Figure:
    """Stated confidence against actual accuracy (test digits), before and after temperature scaling."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                             line=dict(color=RANDOM, width=2, dash="dash"), hoverinfo="skip"))
    for rel, name, colour in ((before, f"as trained (ECE {formats.ece(before.ece)})", VAL),
                              (after, f"temperature {formats.decimals2(temperature)} (ECE {formats.ece(after.ece)})",
                               TRAIN)):
        ok = rel.counts > 0
        fig.add_trace(go.Scatter(
            x=rel.confidence[ok], y=rel.accuracy[ok], mode="lines+markers", name=name,
            line=dict(color=colour, width=3), marker=dict(size=np.clip(6 + np.sqrt(rel.counts[ok]), 6, 26).tolist()),
            customdata=rel.counts[ok].tolist(),
            hovertemplate="said %{x:.0%} sure, right %{y:.0%} of the time (%{customdata} digits)<extra></extra>"))
    fig.update_xaxes(title_text="stated confidence (top probability)", tickformat=".0%", range=[0, 1.02])
    fig.update_yaxes(title_text="actual accuracy", tickformat=".0%", range=[0, 1.05])
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10), font=FONT, legend=dict(orientation="h", y=-0.25))
    return _fit(fig)


def referral_figure(curve, t: float) -> go.Figure:
    """Share referred and accuracy on the rest, for every threshold; the dial's position marked."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=curve.thresholds, y=curve.share_referred, name="share referred to a person",
                             line=dict(color=VAL, width=3),
                             hovertemplate="t = %{x:.2f}: %{y:.1%} referred<extra></extra>"))
    fig.add_trace(go.Scatter(x=curve.thresholds, y=curve.accuracy_automatic, name="accuracy on the rest",
                             line=dict(color=TRAIN, width=3),
                             hovertemplate="t = %{x:.2f}: %{y:.1%} right<extra></extra>"))
    fig.add_vline(x=t, line=dict(color="black", width=2, dash="dot"))
    fig.update_xaxes(title_text="refer when the top probability is below t", range=[0, 1])
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), font=FONT, legend=dict(orientation="h", y=-0.3))
    return _fit(fig)


def cost_figure(thresholds, val_cost, test_cost, chosen: float) -> go.Figure:
    """Mean cost per digit against the threshold, validation and test; the validation choice marked."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=thresholds, y=val_cost, name="validation digits (where t is chosen)",
                             line=dict(color=TRAIN, width=3), hovertemplate="t = %{x:.2f}: %{y:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=thresholds, y=test_cost, name="test digits (where it is reported)",
                             line=dict(color=VAL, width=3, dash="dash"),
                             hovertemplate="t = %{x:.2f}: %{y:.3f}<extra></extra>"))
    fig.add_vline(x=chosen, line=dict(color="black", width=2, dash="dot"),
                  annotation_text=f"chosen t = {chosen:.2f}", annotation_position="top left")
    fig.update_xaxes(title_text="threshold t", range=[0, 1])
    fig.update_yaxes(title_text="mean cost per digit", rangemode="tozero")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), font=FONT, legend=dict(orientation="h", y=-0.3))
    return _fit(fig)


def robustness_figure(table, labels: list[str]) -> go.Figure:
    """Accuracy of each model on the original and the seven altered copies, as grouped bars."""
    fig = go.Figure()
    for i, name in enumerate(table.models):
        fig.add_trace(go.Bar(x=[wrap(label, 10) for label in labels], y=table.accuracy[i], name=name,
                             marker_color=MODEL_COLOURS[i % len(MODEL_COLOURS)],
                             hovertemplate=f"{name}<br>%{{x}}: %{{y:{formats.ACCURACY_D3}}}<extra></extra>"))
    fig.update_yaxes(title_text="accuracy on the test digits", tickformat=".0%", range=[0, 1.02])
    fig.update_layout(barmode="group", height=420, margin=dict(l=10, r=10, t=30, b=10), font=FONT,
                      legend=dict(orientation="h", y=-0.25))
    return _fit(fig)


def per_class_figure(acc: np.ndarray, models, class_names, title: str, tall: bool = False) -> go.Figure:
    """(models × classes) share of each class read correctly, written in each cell; the worse, the redder
    (50% or less: darkest). `tall` (the projector): a column per model and a row per digit, so ten cells
    a row of big type never print over each other. The digits' axis title sits away from the title."""
    names = [str(c) for c in class_names]
    models = [wrap(m, 16) for m in models]  # a long model name beside the grid left the cells a sliver
    text = np.vectorize(lambda v: "" if np.isnan(v) else formats.accuracy(v))(acc)
    z = np.asarray(acc, float)
    if tall:
        x, y, z, text = models, names, z.T, text.T
        hover = "%{x}<br>digit %{y}: %{z:.1%} right<extra></extra>"
        lines = max(m.count("<br>") + 1 for m in models)
        height = 140 + 44 * len(names) + 26 * lines
    else:
        x, y = names, models
        hover = "%{y}<br>digit %{x}: %{z:.1%} right<extra></extra>"
        height = 120 + sum(60 + 26 * m.count("<br>") for m in models)
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, zmin=0.5, zmax=1, colorscale="Reds_r", showscale=False,
                               text=text, texttemplate="%{text}", textfont=dict(size=14), xgap=2, ygap=2,
                               hovertemplate=hover))
    digits, others = (fig.update_yaxes, fig.update_xaxes) if tall else (fig.update_xaxes, fig.update_yaxes)
    digits(type="category", title_text="true digit")
    others(type="category")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=80, b=10), font=FONT)
    return _fit(fig)


# ---------------------------------------------------------------- the heatmaps as one PNG

def heatmaps_png(rows: list[tuple[str, list[tuple[str, np.ndarray]]]], cell: int = 168) -> bytes:
    """Rows of pictures (a name, then (title, RGB uint8) pairs) as one PNG: each picture enlarged,
    its title above."""
    from PIL import Image, ImageDraw

    n_cols = max(len(p) for _, p in rows)
    head, pad = 44, 8
    out = Image.new("RGB", (n_cols * (cell + pad) + pad, len(rows) * (cell + head + pad) + pad), "white")
    draw = ImageDraw.Draw(out)
    for i, (name, panels) in enumerate(rows):
        for j, (title, rgb) in enumerate(panels):
            x, y = pad + j * (cell + pad), pad + i * (cell + head + pad)
            pic = Image.fromarray(np.asarray(rgb, np.uint8)).resize((cell, cell), Image.NEAREST)
            out.paste(pic, (x, y + head))
            text = (name[:28] + "\n" if j == 0 else "\n") + title.replace("<br>", " ")[:28]
            draw.multiline_text((x, y), text, fill="black", spacing=4)
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue()
