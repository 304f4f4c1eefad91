"""Projected figures: every font set big and black; cell labels readable on their cells."""
import numpy as np
import plotly.graph_objects as go
import pytest

from dashboard.core import figures
from dashboard.core import projector as projection
from tests.browser_audit import contrast


def _fonts(fig: go.Figure):
    lay = fig.layout
    yield "title", lay.title.font
    yield "legend", lay.legend.font
    for name in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        ax = lay[name] if name in lay else None
        if ax is not None:
            yield f"{name} ticks", ax.tickfont
            yield f"{name} title", ax.title.font
    for a in lay.annotations:
        yield f"annotation {a.text!r}", a.font
    for s in lay.sliders:
        yield "slider steps", s.font
        yield "slider value", s.currentvalue.font
    for m in lay.updatemenus:
        yield "play/pause", m.font


def _animation() -> go.Figure:
    """Over training's animated map (dashboard/representations/replay_view.py), from a two-frame replay of
    random points."""
    from analysis.recording import Recording
    from analysis.replay import ReplayResult
    from dashboard.representations.replay_view import animation

    rng = np.random.default_rng(0)
    n = 30
    rec = Recording(epochs=(0, 1), total_epochs=1, indices=np.arange(n), labels=np.arange(n) % 10,
                    images=np.zeros((n, 8, 8), np.uint8), pixels=np.zeros((n, 4), np.float16),
                    layers={"logits": np.zeros((2, n, 4), np.float16)})
    result = ReplayResult(
        layer="logits",
        method="pca",
        epochs=(0, 1),
        coords=rng.normal(size=(2, n, 2)).astype(np.float32),
        trust=(0.9, 0.9),
        seconds=(0.1, 0.1),
        total_frames=2,
    )
    return animation(result, rec, [str(i) for i in range(10)], "logits over training")


FIGS = {
    "curves": lambda: figures.learning_curves([{"epoch": 1, "train_loss": 1, "val_loss": 1.2, "train_accuracy": .5,
                                                "val_accuracy": .4}], 3),
    "confusion": lambda: figures.confusion_matrix(np.arange(100).reshape(10, 10), list(range(10))),
    "bars": lambda: figures.probability_bars(np.full(10, .1), list(range(10)), "Pr"),
    "grid": lambda: figures.number_grid(np.linspace(-5, 5, 25).reshape(5, 5), "Window × kernel", colorscale="RdBu_r"),
    "kernel": lambda: figures.kernel_heatmap(np.full((3, 3), 1 / 9), "Box blur"),
    "animation": _animation,
}


@pytest.mark.parametrize("name", FIGS)
def test_every_font_is_big_and_black(name):
    fig = projection.for_projector(FIGS[name]())
    for where, font in _fonts(fig):
        if where.startswith("annotation") and font.color not in (projection.INK, "#ffffff"):
            pytest.fail(f"{where}: colour {font.color}")
        if font.size is not None or where.startswith(("annotation", "x", "y", "slider", "play")):
            assert font.size >= 20, f"{name}: {where} at {font.size}px"
    for trace in fig.data:
        if trace.type == "bar":
            assert trace.textfont.size >= 20 and trace.textposition == "outside"
        if trace.type == "heatmap":
            assert trace.texttemplate is None  # labels became annotations


@pytest.mark.parametrize("name, scale", [("confusion", "Blues"), ("grid", "RdBu_r"), ("kernel", "RdBu_r")])
def test_cell_labels_stand_out_from_their_cells(name, scale):
    original = FIGS[name]()
    fig = projection.for_projector(original)
    colours = projection._cell_colours(original.data[0])
    labels = [a for a in fig.layout.annotations if a.xref == "x"]
    assert len(labels) == colours.shape[0] * colours.shape[1]
    xs = list(original.data[0].x) if original.data[0].x is not None else None
    ys = list(original.data[0].y) if original.data[0].y is not None else None
    for a in labels:
        c = a.x if isinstance(a.x, int) or not xs else xs.index(a.x)  # an index on a category axis
        r = a.y if isinstance(a.y, int) or not ys else ys.index(a.y)
        ink = (0, 0, 0) if a.font.color == projection.INK else (255, 255, 255)
        assert contrast(ink, colours[r, c]) >= 4.5


def test_cell_labels_on_number_like_categories_sit_on_their_cells():
    """The sweep's heatmap (issue 31): categories "32", "64" (batch sizes) are read by Plotly as numbers
    when an annotation gives them as text, which put the labels at x = 64 and squeezed the cells into a strip.
    Labels go by category index, one per cell, and the axis keeps its categories."""
    fig = go.Figure(go.Heatmap(z=[[0.8, 0.9], [0.85, 0.7]], x=["32", "64"], y=["0.001", "0.01"],
                               text=[["80.0%", "90.0%"], ["85.0%", "70.0%"]], texttemplate="%{text}"))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    out = projection.for_projector(fig)
    spots = {(a.x, a.y): a.text for a in out.layout.annotations}
    assert spots == {(0, 0): "80.0%", (1, 0): "90.0%", (0, 1): "85.0%", (1, 1): "70.0%"}
    assert list(out.data[0].x) == ["32", "64"]


def test_small_tags_are_dropped_from_titles():
    fig = go.Figure(layout=dict(title="hidden layer 1<br><sup>t-SNE, perplexity 30</sup>"))
    assert "<sup>" not in projection.for_projector(fig).layout.title.text


def test_digit_labels_on_a_map_are_nudged_apart_only_where_they_meet():
    from dashboard.representations.view import cluster_labels

    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [0.2, 0.1], [10, 10], [10, 0]])  # 0 and 1 meet; 2 and 3 are alone
    labels = np.repeat(np.arange(4), 50)
    coords = centres[labels] + rng.normal(0, 0.05, (200, 2))
    placed = cluster_labels(coords, labels, 4, box_px=40, plot_px=400)
    assert placed[2][2:] == (0, 0) and placed[3][2:] == (0, 0) and placed[0][2:] == (0, 0)
    assert max(abs(placed[1][2]), abs(placed[1][3])) >= 40  # moved a whole label box away from 0
    for k in range(4):
        assert placed[k][:2] == pytest.approx(np.median(coords[labels == k], axis=0))
