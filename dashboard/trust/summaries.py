"""The Trust page's chart summaries (issue 37): one sentence per chart, from the chart's own numbers,
through `formats`. `figures.chart()` writes it above the chart. No Streamlit here."""
from __future__ import annotations

import numpy as np

from dashboard.core import formats


def _name(v) -> str:
    return str(v).replace("<br>", " ")


def deletion(curves: dict[str, dict]) -> str:
    """Area under each map's deletion curve beside the random order's, per model (lower is better)."""
    parts = []
    for model, maps in curves.items():
        if not maps:
            continue
        areas = ", ".join(f"{k} {c.auc:.3f}" for k, c in maps.items())
        parts.append(f"{_name(model)}: {areas}, random order {next(iter(maps.values())).random_auc:.3f}")
    return ("Deletion curves, area under each (lower is better) — " + "; ".join(parts) + "."
            if parts else "Deletion curves: none computed.")


def reliability(before, after, temperature: float) -> str:
    """ECE before and after temperature scaling, and the fullest bin's confidence against its accuracy."""
    k = int(np.argmax(before.counts))
    return (f"Reliability: expected calibration error {formats.ece(before.ece)} as trained, {formats.ece(after.ece)} "
            f"after temperature {formats.decimals2(temperature)}; the fullest group "
            f"({formats.count(before.counts[k])} digits) said {formats.probability(before.confidence[k])} sure and was "
            f"right {formats.accuracy(before.accuracy[k])} of the time.")


def referral(curve, t: float) -> str:
    """The share referred and the accuracy on the rest at the dial's threshold."""
    k = int(np.argmin(np.abs(np.asarray(curve.thresholds) - t)))
    acc = curve.accuracy_automatic[k]
    rest = "none left to decide" if np.isnan(acc) else f"{formats.accuracy(acc)} right on the rest"
    return (f"Referral: at t = {formats.decimals2(curve.thresholds[k])}, {formats.accuracy(curve.share_referred[k])} "
            f"of the test digits go to a person and {rest}.")


def cost(thresholds, val_cost, test_cost, chosen: float) -> str:
    """The cheapest threshold on the validation digits and what the chosen one costs on the test digits."""
    th, v, te = (np.asarray(a, float) for a in (thresholds, val_cost, test_cost))
    low = int(np.nanargmin(v))
    k = int(np.argmin(np.abs(th - chosen)))
    return (f"Cost per digit: lowest on the validation digits at t = {formats.decimals2(th[low])} ({v[low]:.3f}); "
            f"at the chosen t = {formats.decimals2(chosen)} the test digits cost {te[k]:.3f}.")


def robustness(table, labels: list[str]) -> str:
    """The best accuracy on the first version (the original digits) and the lowest anywhere."""
    acc = np.asarray(table.accuracy, float)
    best = int(np.nanargmax(acc[:, 0]))
    i, j = np.unravel_index(np.nanargmin(acc), acc.shape)
    return (f"Accuracy on altered digits: on {_name(labels[0])} highest {_name(table.models[best])} "
            f"{formats.accuracy(acc[best, 0])}; lowest of all {_name(table.models[i])} {formats.accuracy(acc[i, j])} "
            f"on {_name(labels[j])}.")


def per_class(acc: np.ndarray, models, class_names, version: str) -> str:
    """The hardest and the easiest (model, digit) in this version."""
    a = np.asarray(acc, float)
    if np.all(np.isnan(a)):
        return f"Share read correctly, {_name(version)}: no digits."
    i, k = np.unravel_index(np.nanargmin(a), a.shape)
    j, m = np.unravel_index(np.nanargmax(a), a.shape)
    return (f"Share read correctly, {_name(version)}: lowest digit {_name(class_names[k])} by {_name(models[i])} "
            f"({formats.accuracy(a[i, k])}), highest digit {_name(class_names[m])} by {_name(models[j])} "
            f"({formats.accuracy(a[j, m])}).")
