"""Every chart has a text alternative (issue 37): each chart's one-sentence summary quotes numbers taken
from its own data (the expected numbers are computed here from the same data, through `formats`), the
"Show as table" tables come from the figure's traces, and no chart can be drawn without a summary."""
from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.core import chart_tables, chart_text, figures, formats
from dashboard.core.guard import unplain
from dashboard.trust import figures as tf
from dashboard.trust import summaries

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "dashboard").rglob("*.py"), *(ROOT / "pages").rglob("*.py")])
RNG = np.random.default_rng(7)
DIGITS = [str(k) for k in range(10)]


def _history(n: int = 6) -> list[dict]:
    acc = np.sort(RNG.uniform(0.5, 0.95, n))
    acc[-2], acc[-1] = acc[-1], acc[-2]  # the best epoch is not the last
    loss = np.sort(RNG.uniform(0.1, 2.0, n))[::-1]
    return [{"epoch": e + 1, "train_loss": float(loss[e]), "val_loss": float(loss[e]) + 0.1,
             "train_accuracy": float(acc[e]), "val_accuracy": float(acc[e])} for e in range(n)]


def test_learning_curves_quote_first_last_and_best_epoch():
    rows = _history()
    text = chart_text.learning_curves(rows, 10)
    val = [r["val_accuracy"] for r in rows]
    best = int(np.argmax(val))
    for part in (formats.accuracy(val[0]), formats.accuracy(val[-1]), f"epoch {rows[best]['epoch']}",
                 f"({formats.accuracy(val[best])})", f"over {len(rows)} epochs of 10"):
        assert part in text, (part, text)
    assert "rose" in text and len(text) <= 100  # one line on the projector


def test_confusion_quotes_the_diagonal_and_the_commonest_mistake():
    cm = RNG.integers(0, 5, (10, 10)) + np.diag(RNG.integers(40, 60, 10))
    off = cm - np.diag(np.diag(cm))
    t, p = np.unravel_index(off.argmax(), off.shape)
    text = chart_text.confusion(cm, DIGITS, "test digits")
    assert f"{formats.count(np.trace(cm))} of {formats.count(cm.sum())} test digits read right" in text
    assert formats.accuracy(np.trace(cm) / cm.sum()) in text
    assert f"{t} read as {p} ({formats.count(off[t, p])} digits)" in text
    assert "no mistakes" in chart_text.confusion(np.diag([3, 4]), ["a", "b"])


def test_probabilities_and_scores_quote_the_winner():
    probs = RNG.dirichlet(np.ones(10))
    order = np.argsort(-probs)
    text = chart_text.probabilities(probs, DIGITS, true=3)
    assert f"{order[0]} most likely at {formats.probability(probs[order[0]])}" in text
    assert f"then {order[1]} at {formats.probability(probs[order[1]])}" in text
    assert f"true label 3 at {formats.probability(probs[3])}" in text
    scores = RNG.normal(0, 4, 10)
    text = chart_text.scores(scores, DIGITS)
    assert f"highest {np.argmax(scores)} ({scores.max():.1f})" in text and f"({scores.min():.1f})" in text


def test_kernel_and_step_say_their_numbers_and_colours_in_words():
    k = RNG.integers(-4, 5, (3, 3)).astype(float)
    text = chart_text.kernel(k)
    assert f"from {k.min():.3g} to {k.max():.3g}" in text and f"summing to {k.sum():.3g}" in text
    assert "red = positive" in text and "blue = negative" in text
    total = float(RNG.normal())
    text = chart_text.step(2, 4, 9, total)
    assert "row 3, column 5" in text and f"{total:.4g}" in text and "red = positive" in text


def test_maps_quote_digits_clusters_and_metrics():
    labels = RNG.integers(0, 10, 500)
    metrics = {"trustworthiness (k=10)": 0.9312, "k-NN accuracy, map (k=5)": 0.874}
    text = chart_text.digit_map("hidden layer 1 (t-SNE)", labels, metrics)
    assert "500 digits" in text and f"{len(set(labels.tolist()))} digit clusters" in text
    assert formats.accuracy(metrics["k-NN accuracy, map (k=5)"]) in text and "0.931" in text
    assert "still forming" in chart_text.map_preview("pixels", labels)


def test_replay_knn_and_trust_lines_quote_their_frames():
    epochs, trust = [0, 1, 2, 3], list(RNG.uniform(0.85, 0.99, 4))
    knn = {"pixels": list(RNG.uniform(0.8, 0.9, 4)), "hidden layer 1": list(RNG.uniform(0.85, 0.97, 4))}
    text = chart_text.replay("hidden layer 1", epochs, trust, knn["hidden layer 1"])
    assert formats.accuracy(knn["hidden layer 1"][0]) in text and formats.accuracy(knn["hidden layer 1"][-1]) in text
    assert f"{trust[0]:.3f}" in text and f"{trust[-1]:.3f}" in text and "4 frames" in text
    text = chart_text.knn_layers(knn, epochs)
    best = max(knn, key=lambda n: knn[n][-1])
    assert all(formats.accuracy(v[-1]) in text for v in knn.values()) and f"highest {best}" in text
    text = chart_text.trust_frames(epochs, trust)
    assert f"{max(trust):.3f} at epoch {epochs[int(np.argmax(trust))]}" in text


def test_sweep_summaries_quote_best_and_worst():
    settings = [NS(values=(v,), val_mean=float(m)) for v, m in zip((0.01, 0.1, 1.0), RNG.uniform(0.6, 0.9, 3))]
    best, worst = max(settings, key=lambda s: s.val_mean), min(settings, key=lambda s: s.val_mean)
    summary = NS(names=["lr"], settings=settings, best=best)
    text = chart_text.sweep(summary, lambda n: "learning rate", lambda n, v: f"{v:g}")
    assert f"learning rate {best.values[0]:g} at {formats.accuracy(best.val_mean)}" in text
    assert f"learning rate {worst.values[0]:g} at {formats.accuracy(worst.val_mean)}" in text
    finals = {"lr 0.1 · seed 0": 0.81, "lr 1 · seed 0": 0.9}
    assert "lr 1 · seed 0 at 90.0%" in chart_text.sweep_curves(finals)


def test_trust_deletion_and_calibration_summaries():
    curves = {"MLP": {"Occlusion": NS(auc=0.1234, random_auc=0.4567), "Integrated Gradients": NS(auc=0.2345,
                                                                                              random_auc=0.4567)}}
    text = summaries.deletion(curves)
    for name, c in curves["MLP"].items():
        assert f"{name} {c.auc:.3f}" in text and f"random order {c.random_auc:.3f}" in text
    counts = np.array([3, 40, 120, 837])
    before = NS(ece=0.0412, counts=counts, confidence=np.array([.3, .5, .8, .97]), accuracy=np.array([.2, .5, .7, .95]))
    after = NS(ece=0.0101)
    text = summaries.reliability(before, after, 1.4567)
    assert formats.ece(0.0412) in text and formats.ece(0.0101) in text and formats.decimals2(1.4567) in text
    assert f"{formats.count(counts.max())} digits" in text and formats.accuracy(0.95) in text
    th = np.linspace(0, 1, 101)
    curve = NS(thresholds=th, share_referred=th ** 2, accuracy_automatic=0.9 + 0.1 * th)
    text = summaries.referral(curve, 0.7)
    assert "t = 0.70" in text and formats.accuracy(0.49) in text and formats.accuracy(0.97) in text
    val, test = (th - 0.6) ** 2 + 0.1, (th - 0.5) ** 2 + 0.12
    text = summaries.cost(th, val, test, 0.6)
    assert f"t = {formats.decimals2(th[np.argmin(val)])} ({val.min():.3f})" in text
    assert f"{test[60]:.3f}" in text


def test_trust_robustness_and_per_digit_summaries():
    acc = RNG.uniform(0.4, 0.99, (2, 4))
    labels = ["original", "rotated", "noisy", "thick"]
    text = summaries.robustness(NS(models=["MLP", "Convnet"], accuracy=acc), labels)
    i, j = np.unravel_index(acc.argmin(), acc.shape)
    assert f"{['MLP', 'Convnet'][i]} {formats.accuracy(acc[i, j])} on {labels[j]}" in text
    assert formats.accuracy(acc[:, 0].max()) in text
    per = RNG.uniform(0.5, 1.0, (2, 10))
    text = summaries.per_class(per, ["MLP", "Convnet"], DIGITS, "original")
    i, k = np.unravel_index(per.argmin(), per.shape)
    assert f"lowest digit {k} by {['MLP', 'Convnet'][i]} ({formats.accuracy(per[i, k])})" in text


# ---------------------------------------------------------------- the tables

def test_tables_of_curves_bars_heatmaps_and_maps():
    rows = _history(4)
    loss, acc = chart_tables.tables(figures.learning_curves(rows, 4))
    assert loss[0].startswith("Loss") and acc[0].startswith("Accuracy")
    assert list(acc[1].columns) == ["epoch", "training", "validation"]
    assert list(acc[1]["validation"]) == [formats.accuracy(r["val_accuracy"]) for r in rows]
    probs = RNG.dirichlet(np.ones(10))
    (_, bars), = chart_tables.tables(figures.probability_bars(probs, DIGITS))
    assert list(bars["probability"]) == [formats.probability(p) for p in probs]
    cm = RNG.integers(0, 50, (10, 10))
    (_, grid), = chart_tables.tables(figures.confusion_matrix(cm, DIGITS))
    assert grid.columns[0] == "true \\ predicted" and list(grid.iloc[3, 1:]) == [str(v) for v in cm[3]]
    hover = figures.confusion_matrix(np.array([[1, 2], [0, 3]]), ["a", "b"]).data[1].customdata
    assert list(hover) == ["1 image", "2 images", "0 images", "3 images"]  # a cell's hover, in words
    k = np.arange(9.0).reshape(3, 3) - 4
    (_, kern), = chart_tables.tables(figures.kernel_heatmap(k))
    assert list(kern.iloc[0, 1:]) == ["-4", "-3", "-2"]  # top row first, as drawn


def test_a_map_is_counted_per_class_and_long_lines_are_capped():
    from dashboard.representations.view import scatter

    labels = RNG.integers(0, 10, 2000)
    coords = RNG.normal(size=(2000, 2)) + labels[:, None]
    fig = scatter(coords, labels, labels, np.ones(2000), np.arange(2000), DIGITS, "map")
    (caption, table), = chart_tables.tables(fig)
    assert "2,000 points" in caption and len(table) == len(set(labels.tolist()))
    assert list(table["points"]) == [formats.count((labels == k).sum()) for k in sorted(set(labels.tolist()))]
    th = np.linspace(0, 1, 101)
    fig = tf.referral_figure(NS(thresholds=th, share_referred=th, accuracy_automatic=th), 0.5)
    (caption, table), = chart_tables.tables(fig)
    assert len(table) == chart_tables.MAX_ROWS and "of 101 rows" in caption


# ---------------------------------------------------------------- no chart without a summary

def _chart_calls(path: Path) -> list[tuple[str, bool]]:
    """(place, has a summary) for every call of chart(...) / figures.chart(...)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "chart"
                                           or getattr(node.func, "attr", None) == "chart"):
            summary = node.args[2] if len(node.args) >= 3 else None
            ok = summary is not None and not (isinstance(summary, ast.Constant) and not str(summary.value).strip())
            out.append((f"{path.name}:{node.lineno}", ok))
    return out


def _plotly_calls(path: Path) -> list[str]:
    return [f"{path.name}:{n.lineno}" for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "plotly_chart"]


def test_every_chart_call_carries_a_summary():
    calls = [c for p in SOURCES for c in _chart_calls(p)]
    assert len(calls) >= 25, calls
    assert [place for place, ok in calls if not ok] == []
    assert [c for p in SOURCES if p.name != "figures.py" for c in _plotly_calls(p)] == []  # only chart() draws


def test_the_scan_finds_a_chart_without_a_summary(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("chart(st, fig, key='a')\nfigures.chart(st, fig, '')\nchart(st, fig, text)\n")
    assert [ok for _, ok in _chart_calls(bad)] == [False, False, True]


def test_chart_refuses_a_missing_summary():
    with pytest.raises(ValueError, match="one-sentence summary"):
        figures.chart(None, figures.score_bars(np.ones(3), "abc"), "  ")


def _page():
    import numpy as np
    import streamlit as st

    from dashboard.core import chart_text, figures

    probs = np.array([0.1, 0.7, 0.2])
    figures.chart(st, figures.probability_bars(probs, "abc"), chart_text.probabilities(probs, "abc"), key="p")
    with st.expander("Raw scores"):  # a chart in an expander: its table's expander nests inside
        figures.chart(st, figures.score_bars(np.log(probs), "abc"), chart_text.scores(np.log(probs), "abc"), key="s")


def test_a_page_shows_the_summary_above_and_the_table_in_an_expander():
    at = AppTest.from_function(_page).run()
    assert not at.exception, at.exception
    captions = [unplain(c.value) for c in at.caption]
    assert captions[0] == "Chart: Pr(class): b most likely at 70%, then c at 20%."
    assert captions[1].startswith("Chart: Raw scores: highest b")
    assert [e.label for e in at.expander] == ["Show as table", "Raw scores", "Show as table"]
    assert list(at.expander[0].table[0].value["probability"]) == ["10%", "70%", "20%"]
    assert list(at.expander[2].table[0].value["digit"]) == ["a", "b", "c"]


def test_map_previews_name_their_digits_not_only_colour():
    from dashboard.representations import replay_view, view

    labels = RNG.integers(0, 3, 300)
    coords = RNG.normal(size=(300, 2)) + labels[:, None] * 3
    names = ["cat", "dog", "<b>owl</b>"]
    for fig in (view.preview(coords, labels, "map", names), replay_view.preview(coords, labels, "map", names)):
        texts = sorted(a["text"] for a in fig["layout"]["annotations"])
        assert texts == sorted(["<b>cat</b>", "<b>dog</b>", "<b>&lt;b&gt;owl&lt;/b&gt;</b>"])


def test_subplots_give_one_table_each_with_the_shared_axis_title():
    shares = np.linspace(0, 1, 11)
    curve = NS(shares=shares, confidence=1 - shares, random_confidence=1 - shares / 2)
    found = chart_tables.tables(tf.deletion_figure({"MLP": {"Occlusion": curve}, "Convnet": {"Occlusion": curve}}))
    assert [caption for caption, _ in found] == ["MLP", "Convnet"]
    table = found[1][1]
    assert list(table.columns) == ["share of pixels removed", "Occlusion order", "random order"]
    assert list(table["random order"]) == [formats.accuracy(v) for v in curve.random_confidence]
