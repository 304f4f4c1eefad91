"""Shared validators for settings: whole numbers, numbers, choices and ranges.

Modelled on scikit-learn's ``check_scalar``: each returns the value (as a
plain ``int`` / ``float``) or raises ``ValueError`` saying what was expected,
what came, and how to fix it. ``True`` and ``False`` are not numbers here
(a kernel size of ``True`` is a mistake, not 1). No Streamlit here.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["check_int", "check_float", "check_choice"]


def _range_text(low, high, unit: str = "") -> str:
    unit = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"from {low} to {high}{unit}"
    if low is not None:
        return f"of at least {low}{unit}"
    if high is not None:
        return f"of at most {high}{unit}"
    return ""


def check_int(value, name: str, low: int | None = None, high: int | None = None, *,
              odd: bool = False, hint: str = "") -> int:
    """``value`` as an ``int`` if it is a whole number (not a bool) within [low, high]
    (either bound may be None) and, with ``odd``, odd; else ValueError."""
    kind = "an odd whole number" if odd else "a whole number"
    expected = f"{name} must be {kind} {_range_text(low, high)}".rstrip()
    fix = f" {hint}" if hint else ""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{expected}; got {value!r} ({type(value).__name__}).{fix}")
    if (low is not None and value < low) or (high is not None and value > high) or (odd and value % 2 == 0):
        raise ValueError(f"{expected}; got {value!r}.{fix}")
    return int(value)


def check_float(value, name: str, low: float | None = None, high: float | None = None, *,
                include_low: bool = True, include_high: bool = True, hint: str = "") -> float:
    """``value`` as a finite ``float`` (ints accepted, bools not) within the bounds
    (``include_low`` / ``include_high``: closed or open ends); else ValueError."""
    parts = []
    if low is not None:
        parts.append(f"{'at least' if include_low else 'above'} {low:g}")
    if high is not None:
        parts.append(f"{'at most' if include_high else 'below'} {high:g}")
    expected = f"{name} must be a finite number" + (" " + " and ".join(parts) if parts else "")
    fix = f" {hint}" if hint else ""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{expected}; got {value!r} ({type(value).__name__}).{fix}")
    v = float(value)
    bad = (not math.isfinite(v)
           or (low is not None and (v < low if include_low else v <= low))
           or (high is not None and (v > high if include_high else v >= high)))
    if bad:
        raise ValueError(f"{expected}; got {value!r}.{fix}")
    return v


def check_choice(value, name: str, choices: Iterable, hint: str = ""):
    """``value`` if it is one of ``choices`` (compared with ==, bools never match
    numbers); else ValueError listing them."""
    options = list(choices)
    if any(_same(value, c) for c in options):
        return value
    listed = ", ".join(repr(c) for c in options)
    fix = f" {hint}" if hint else ""
    raise ValueError(f"{name} must be one of {listed}; got {value!r}.{fix}")


def _same(value, choice) -> bool:
    if isinstance(value, bool) or isinstance(choice, bool):
        return value is choice
    try:
        return bool(value == choice)
    except (TypeError, ValueError):  # arrays and the like are never a choice
        return False
