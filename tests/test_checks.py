"""analysis.checks: the shared validators (scikit-learn's check_scalar as the model)."""
import numpy as np
import pytest

from analysis.checks import check_choice, check_float, check_int


def test_check_int_accepts_whole_numbers_in_range():
    assert check_int(3, "size", 1, 31, odd=True) == 3
    value = check_int(np.int64(7), "size", 1)
    assert value == 7 and type(value) is int


@pytest.mark.parametrize("value, kwargs, words", [
    (True, dict(low=1, high=31), r"size must be a whole number from 1 to 31; got True \(bool\)"),
    (3.0, dict(low=1), r"got 3.0 \(float\)"),
    (0, dict(low=1), r"size must be a whole number of at least 1; got 0\."),
    (40, dict(high=31), r"of at most 31; got 40"),
    (4, dict(low=1, high=31, odd=True), r"must be an odd whole number from 1 to 31; got 4"),
    ("3", dict(), r"got '3' \(str\)"),
])
def test_check_int_refusals_say_expected_and_got(value, kwargs, words):
    with pytest.raises(ValueError, match=words):
        check_int(value, "size", **kwargs)


def test_check_int_hint_says_how_to_fix():
    with pytest.raises(ValueError, match=r"got 2\. Pick 3, 5, 7"):
        check_int(2, "size", odd=True, hint="Pick 3, 5, 7.")


def test_check_float_bounds_open_and_closed():
    assert check_float(1, "lr", 0, 10, include_low=False) == 1.0
    assert check_float(0.0, "dropout", 0.0, 1.0, include_high=False) == 0.0
    for bad in (0, 10.5, float("nan"), float("inf"), True, "0.1", None):
        with pytest.raises(ValueError, match="lr must be a finite number above 0 and at most 10"):
            check_float(bad, "lr", 0, 10, include_low=False)
    with pytest.raises(ValueError, match="below 1"):
        check_float(1.0, "dropout", 0.0, 1.0, include_high=False)


def test_check_choice():
    assert check_choice("adam", "optimizer", {"adam": "", "sgd": ""}) == "adam"
    assert check_choice(3, "kernel size", (1, 3, 5)) == 3
    with pytest.raises(ValueError, match="optimizer must be one of 'adam', 'sgd'; got 'rmsprop'"):
        check_choice("rmsprop", "optimizer", ("adam", "sgd"))
    with pytest.raises(ValueError, match="got True"):
        check_choice(True, "kernel size", (1, 3, 5))  # True == 1, but True is not a kernel size
