"""Every chart's text alternative (issue 37): one sentence, made from the chart's own numbers,
that `figures.chart()` writes above the chart ("Chart: …") for a screen reader and the back row.
One function per kind of chart; the numbers through `formats` (the one number format). No
Streamlit here: plain functions, testable anywhere."""
from __future__ import annotations

import numpy as np

from dashboard.core import formats


def _name(v) -> str:
    return str(v).replace("<br>", " ")


def _rose(first: float, last: float) -> str:
    return "rose" if last > first else "fell" if last < first else "stayed"


def learning_curves(rows: list[dict], epochs: int | None = None) -> str:
    """'Validation accuracy rose from 62.1% to 94.0% over 10 epochs, highest at epoch 9 (94.3%).' One short
    line (the projector's too); the losses are in its table."""
    if not rows:
        return "Learning curves: no epoch finished yet."
    val = [r["val_accuracy"] for r in rows]
    best = int(np.nanargmax(val))
    done = f"over {len(rows)} epochs" + (f" of {epochs}" if epochs and epochs > len(rows) else "")
    top = "" if best == len(rows) - 1 else f" ({formats.accuracy(val[best])})"
    return (f"Validation accuracy {_rose(val[0], val[-1])} from {formats.accuracy(val[0])} to "
            f"{formats.accuracy(val[-1])} {done}, highest at epoch {rows[best]['epoch']}{top}.")


def confusion(cm: np.ndarray, class_names, which: str = "") -> str:
    """Right on the diagonal, and the commonest mistake."""
    cm = np.asarray(cm)
    total, right = int(cm.sum()), int(np.trace(cm))
    if not total:
        return "Confusion matrix: no digits yet."
    off = cm - np.diag(np.diag(cm))
    t, p = np.unravel_index(off.argmax(), off.shape)
    mistake = (f"; commonest mistake {_name(class_names[t])} read as {_name(class_names[p])} "
               f"({formats.count(off[t, p])} digits)" if off.any() else "; no mistakes")
    return (f"Confusion matrix: {formats.count(right)} of {formats.count(total)} {which or 'digits'} read right "
            f"({formats.accuracy(right / total)}){mistake}.")


def probabilities(probs, class_names, true: int | None = None) -> str:
    """'Pr(class): 7 most likely at 93%, then 9 at 5%; the true label 7 at 93%.'"""
    p = np.asarray(probs, float)
    order = np.argsort(-p)
    out = f"Pr(class): {_name(class_names[order[0]])} most likely at {formats.probability(p[order[0]])}"
    if len(p) > 1:
        out += f", then {_name(class_names[order[1]])} at {formats.probability(p[order[1]])}"
    if true is not None:
        out += f"; the true label {_name(class_names[true])} at {formats.probability(p[true])}"
    return out + "."


def scores(values, class_names) -> str:
    """Raw scores: the highest and the lowest."""
    s = np.asarray(values, float)
    hi, lo = int(np.argmax(s)), int(np.argmin(s))
    return (f"Raw scores: highest {_name(class_names[hi])} ({s[hi]:.1f}), lowest {_name(class_names[lo])} "
            f"({s[lo]:.1f}); the highest score wins.")


def kernel(k: np.ndarray, name: str = "The kernel") -> str:
    """Its size, range and sum, and the colours in words (red positive, blue negative)."""
    k = np.asarray(k, float)
    written = "; each weight written in" if max(k.shape) <= 9 else ""
    return (f"{name}: {k.shape[0]}×{k.shape[1]} weights from {k.min():.3g} to {k.max():.3g}, summing to "
            f"{k.sum():.3g} (red = positive, blue = negative, white = zero{written}).")


def step(row: int, col: int, n_products: int, total: float) -> str:
    """One output pixel: its place and its sum; the signed panels' colours in words."""
    return (f"Output pixel row {row + 1}, column {col + 1}: the {n_products} products of the window and the kernel "
            f"add up to {total:.4g} (kernel and products: red = positive, blue = negative, each number written in).")


def _clusters(labels) -> str:
    return f"{formats.count(len(labels))} digits, {len(np.unique(np.asarray(labels)))} digit clusters"


def digit_map(title: str, labels, metrics: dict | None = None) -> str:
    """'Hidden layer 1 (t-SNE) map: 2,000 digits in 10 digit clusters; k-NN accuracy 91.2%, trustworthiness 0.95.'"""
    out = f"{_name(title)} map: {_clusters(labels)}"
    m = metrics or {}
    if "k-NN accuracy, map (k=5)" in m:
        out += f"; k-NN accuracy on the map {formats.accuracy(m['k-NN accuracy, map (k=5)'])}"
    if "trustworthiness (k=10)" in m:
        out += f", trustworthiness {m['trustworthiness (k=10)']:.3f}"
    return out + "."


def map_preview(title: str, labels) -> str:
    return f"{_name(title)}, still forming: {_clusters(labels)} (coloured by true digit)."


def replay(layer: str, epochs, trust, knn_values=None) -> str:
    """The replayed map: its frames, and how the layer's k-NN accuracy and trustworthiness moved."""
    out = f"{_name(layer)} map over training, {len(trust)} frames (epochs {epochs[0]} to {epochs[len(trust) - 1]})"
    if knn_values is not None and len(knn_values):
        v = list(knn_values)[: len(trust)]
        out += (f": k-NN accuracy {_rose(v[0], v[-1])} from {formats.accuracy(v[0])} to "
                f"{formats.accuracy(v[-1])}")
    return out + f"; trustworthiness {trust[0]:.3f} at the first frame, {trust[-1]:.3f} at the last."


def knn_layers(knn: dict, epochs) -> str:
    """k-NN accuracy per layer at the last epoch, and the best layer."""
    if not knn:
        return "k-NN accuracy of each layer: none recorded."
    last = {name: list(v)[-1] for name, v in knn.items()}
    best = max(last, key=last.get)
    each = ", ".join(f"{_name(n)} {formats.accuracy(v)}" for n, v in last.items())
    return f"k-NN accuracy at epoch {list(epochs)[-1]}: {each}; highest {_name(best)}."


def trust_frames(epochs, trust) -> str:
    t = list(trust)
    best = int(np.argmax(t))
    return (f"Trustworthiness {_rose(t[0], t[-1])} from {t[0]:.3f} at epoch {epochs[0]} to {t[-1]:.3f} at epoch "
            f"{epochs[len(t) - 1]}, highest {t[best]:.3f} at epoch {epochs[best]}.")


def sweep(summary, name_of, value_text) -> str:
    """The sweep's heatmap or line: how many settings, the best and the worst mean validation accuracy."""
    done = [s for s in summary.settings if s.val_mean == s.val_mean]  # NaN: not finished
    if not done or summary.best is None:
        return "Validation accuracy of each setting: no run finished yet."
    worst = min(done, key=lambda s: s.val_mean)

    def what(s) -> str:
        return ", ".join(f"{name_of(n)} {value_text(n, v)}" for n, v in zip(summary.names, s.values))
    return (f"Validation accuracy of {len(done)} settings: best {what(summary.best)} at "
            f"{formats.accuracy(summary.best.val_mean)}, worst {what(worst)} at {formats.accuracy(worst.val_mean)}.")


def sweep_curves(finals: dict[str, float]) -> str:
    """`finals`: run name -> its last validation accuracy."""
    if not finals:
        return "Each run's learning curve: no run finished yet."
    best = max(finals, key=finals.get)
    return (f"Learning curves of {len(finals)} finished runs; the highest last validation accuracy: "
            f"{_name(best)} at {formats.accuracy(finals[best])}.")
