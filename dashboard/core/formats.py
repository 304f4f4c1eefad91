"""One number format per quantity, used by every table, metric, caption and chart (issue 31).

| quantity | text | in a Plotly template |
|---|---|---|
| accuracy (and shares of digits) | 90.2% | ACCURACY_D3 |
| a probability, a confidence | 93% | PROBABILITY_D3 |
| seconds | 1.1 s | |
| parameters, counts | 101,770 | |
| ECE and its change | 0.010, +0.001 (the change of the shown values) | |
| a gap between two accuracies | +1.2 points | |

Axis ticks of accuracies and probabilities use TICK_PERCENT (whole percents: 90%), which is a
scale, not a value. No Streamlit here: plain functions, testable anywhere."""
from __future__ import annotations

import math

ACCURACY_D3 = ".1%"  # Plotly/d3 templates (hover texts) for the same formats
PROBABILITY_D3 = ".0%"
TICK_PERCENT = ".0%"
MISSING = "–"


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def accuracy(v: float | None) -> str:
    """A share right (0–1) as a percent with one decimal: 0.9024 -> "90.2%"."""
    return MISSING if _missing(v) else f"{float(v):.1%}"


def probability(v: float | None) -> str:
    """A probability or stated confidence (0–1) as a whole percent: 0.934 -> "93%"."""
    return MISSING if _missing(v) else f"{float(v):.0%}"


def seconds(v: float | None) -> str:
    """A duration: 1.0984 -> "1.1 s"."""
    return MISSING if _missing(v) else f"{float(v):.1f} s"


def count(v: int | float | None) -> str:
    """Parameters, digits, images: thousands separated, 101770 -> "101,770"."""
    return MISSING if _missing(v) else f"{int(round(float(v))):,}"


parameters = count


def ece(v: float | None) -> str:
    """An expected calibration error (0–1) with three decimals: 0.0104 -> "0.010"."""
    return MISSING if _missing(v) else f"{float(v):.3f}"


def ece_change(before: float, after: float) -> str:
    """The change between two shown ECEs, computed from the shown (rounded) values, so that the
    three numbers on the screen add up: 0.0104 -> 0.0115 is "0.010" -> "0.011", change "+0.001"."""
    change = float(ece(after)) - float(ece(before))
    return f"{change:+.3f}".replace("-0.000", "+0.000")


def points(a: float, b: float) -> str:
    """a − b for two accuracies, in percentage points of the shown values: 0.912, 0.9 -> "+1.2 points"."""
    change = float(accuracy(a)[:-1]) - float(accuracy(b)[:-1])
    return f"{change + 0.0:+.1f} points".replace("-0.0 ", "+0.0 ")


def decimals2(v: float | None) -> str:
    """A temperature or a threshold: 1.2345 -> "1.23"."""
    return MISSING if _missing(v) else f"{float(v):.2f}"
