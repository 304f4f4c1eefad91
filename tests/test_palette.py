"""The digit palette survives colour blindness (issue: the back row can read it)."""
import itertools

import numpy as np
import pytest

from dashboard.core import palette

# Sharma, Wu & Dalal (2005), Table 1: (Lab 1, Lab 2, ΔE00).
SHARMA = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
          ((50, 0, 0), (50, -1, 2), 2.3669),
          ((50, 2.5, 0), (73, 25, -18), 27.1492),
          ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
          ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373)]


def min_difference(colours: list[str], kind: str = "normal") -> float:
    """The smallest CIEDE2000 difference between any two colours, as `kind` vision sees them."""
    lab = palette.to_lab(palette.simulate(np.array([palette.hex_to_rgb(c) for c in colours]), kind))
    return float(min(palette.ciede2000(lab[i], lab[j]) for i, j in itertools.combinations(range(len(lab)), 2)))


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA)
def test_ciede2000_matches_sharma(lab1, lab2, expected):
    assert palette.ciede2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)
    assert palette.ciede2000(np.array(lab2), np.array(lab1)) == pytest.approx(expected, abs=1e-4)


def test_lab_of_white_and_a_primary():
    assert palette.to_lab(np.ones(3)) == pytest.approx([100, 0, 0], abs=1e-3)
    assert palette.to_lab(np.array([1.0, 0, 0])) == pytest.approx([53.24, 80.09, 67.20], abs=0.05)


def test_simulations_keep_greys_and_merge_red_green():
    grey = np.array([0.5, 0.5, 0.5])
    for kind in palette.SIMULATIONS:
        assert palette.simulate(grey, kind) == pytest.approx(grey, abs=2e-3)
    red, green = np.array([0.8, 0.2, 0.2]), np.array([0.4, 0.5, 0.2])
    lab = lambda c, k: palette.to_lab(palette.simulate(c, k))  # noqa: E731
    normal = palette.ciede2000(lab(red, "normal"), lab(green, "normal"))
    for kind in ("deuteranopia", "protanopia"):
        assert palette.ciede2000(lab(red, kind), lab(green, kind)) < normal / 2


@pytest.mark.parametrize("kind", ["normal", "deuteranopia", "protanopia"])
def test_digit_colours_stay_apart(kind):
    assert len(set(palette.CLASS_COLOURS)) == 10
    assert min_difference(palette.CLASS_COLOURS, kind) >= 10


def test_the_check_rejects_a_palette_that_merges_under_colour_blindness():
    tab10 = [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#7f7f7f",
        "#bcbd22",
        "#17becf",
    ]
    assert min_difference(tab10, "normal") >= 10
    assert min_difference(tab10, "protanopia") < 10
