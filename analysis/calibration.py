"""How sure is "99% sure"? Reliability bins, expected calibration error, temperature scaling,
and "refer to a person when the top probability is below t" with a cost-minimising threshold.

The temperature and the threshold are chosen on the VALIDATION digits and only reported on
the test digits: choosing them on the test digits would grade the model on its own answers
key. Without validation digits (a model restored from a file without its data split) these
functions refuse with a ValueError rather than fall back to the test digits.
Inputs are numpy arrays: logits or probabilities (n, n_classes), labels (n,). No Streamlit here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THRESHOLDS = np.round(np.linspace(0.0, 1.0, 101), 2)  # the referral dial: 0.00, 0.01, ..., 1.00
NO_VALIDATION = ("No validation digits for this model (restored from a file without its data split?): "
                 "the temperature fit and the referral threshold are switched off. They are never fitted "
                 "on the test digits; train the model here to use them.")


def _check(scores, labels, what: str = "digits", values: str = "logits") -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"Expected {values} of shape (n, n_classes) with 2+ classes; got {scores.shape}.")
    if len(scores) == 0:
        raise ValueError(NO_VALIDATION if what == "validation digits" else
                         f"Expected some {what}; got none. Pick a dataset split with {what}.")
    if labels.shape != (len(scores),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"Expected one integer label per row ({len(scores)}); got labels of shape {labels.shape} "
                         f"and type {labels.dtype}.")
    if labels.min() < 0 or labels.max() >= scores.shape[1]:
        raise ValueError(f"Expected labels from 0 to {scores.shape[1] - 1}; got {labels.min()} to {labels.max()}.")
    if not np.isfinite(scores).all():
        raise ValueError(f"Expected finite {values}; got NaN or infinite values.")
    return scores, labels.astype(np.int64)


def _check_probabilities(probabilities, labels, what: str = "digits"):
    p, y = _check(probabilities, labels, what, "probabilities")
    if p.min() < -1e-6 or p.max() > 1 + 1e-6 or np.abs(p.sum(1) - 1).max() > 1e-3:
        raise ValueError("Expected probabilities: values in [0, 1] and each row summing to 1. "
                         "Pass softmax(logits), not the logits.")
    return p, y


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from logits divided by `temperature` (float64)."""
    z = np.asarray(logits, np.float64) / _check_temperature(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _check_temperature(t) -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float, np.floating)) or not (np.isfinite(t) and t > 0):
        raise ValueError(f"Expected a temperature above 0 (1 leaves the model as it is); got {t!r}.")
    return float(t)


# ---------------------------------------------------------------- reliability

@dataclass(frozen=True)
class Reliability:
    edges: np.ndarray       # (n_bins + 1,) confidence bin edges, 0 to 1; bin k is [edges[k], edges[k+1])
    confidence: np.ndarray  # (n_bins,) mean top probability in each bin (NaN when empty)
    accuracy: np.ndarray    # (n_bins,) share of correct answers in each bin (NaN when empty)
    counts: np.ndarray      # (n_bins,) digits in each bin
    ece: float              # expected calibration error: sum over bins of share × |accuracy - confidence|


def reliability(probabilities, labels, n_bins: int = 10) -> Reliability:
    """Stated confidence (the top probability) in equal-width bins against the actual accuracy.
    The last bin includes 1.0."""
    p, y = _check_probabilities(probabilities, labels)
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or not 1 <= n_bins <= 100:
        raise ValueError(f"Expected 1 to 100 bins; got {n_bins!r}.")
    conf = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    which = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, conf, n_bins) / counts
        accuracy = np.bincount(which, correct, n_bins) / counts
    filled = counts > 0
    ece = float(np.sum(counts[filled] / len(y) * np.abs(accuracy[filled] - mean_conf[filled])))
    return Reliability(np.linspace(0, 1, n_bins + 1), mean_conf, accuracy, counts, ece)


def expected_calibration_error(probabilities, labels, n_bins: int = 10) -> float:
    return reliability(probabilities, labels, n_bins).ece


def negative_log_likelihood(logits, labels, temperature: float = 1.0) -> float:
    """Mean -log(probability of the true class) after dividing the logits by `temperature`."""
    z, y = _check(logits, labels)
    z = z / _check_temperature(temperature)
    m = z.max(1, keepdims=True)
    log_norm = (m + np.log(np.exp(z - m).sum(1, keepdims=True)))[:, 0]
    return float(np.mean(log_norm - z[np.arange(len(y)), y]))


def fit_temperature(val_logits, val_labels) -> float:
    """The temperature T (0.05 to 20) that minimises the negative log-likelihood of the
    VALIDATION digits (a 1-D bounded search on log T). T > 1: the model was over-confident."""
    from scipy.optimize import minimize_scalar

    z, y = _check(val_logits, val_labels, "validation digits")
    result = minimize_scalar(lambda log_t: negative_log_likelihood(z, y, float(np.exp(log_t))),
                             bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(result.x))


# ---------------------------------------------------------------- refer to a person

@dataclass(frozen=True)
class ReferralCurve:
    thresholds: np.ndarray          # refer when the top probability is below t
    share_referred: np.ndarray      # share of the digits referred to a person
    accuracy_automatic: np.ndarray  # accuracy on the digits decided automatically (NaN: none left)
    n_referred: np.ndarray          # digits referred
    n_wrong_automatic: np.ndarray   # wrong automatic decisions
    n: int                          # digits in all


def referral_curve(probabilities, labels, thresholds=None) -> ReferralCurve:
    """For each threshold t: refer the digits whose top probability is below t; the rest are
    decided automatically."""
    p, y = _check_probabilities(probabilities, labels)
    t = THRESHOLDS if thresholds is None else np.asarray(thresholds, np.float64).ravel()
    if t.size == 0 or not np.isfinite(t).all():
        raise ValueError("Expected one or more finite thresholds between 0 and 1.")
    conf = p.max(1)
    correct = p.argmax(1) == y
    referred = conf[None, :] < t[:, None]                       # (n_thresholds, n)
    n_referred = referred.sum(1)
    n_auto = len(y) - n_referred
    n_wrong = (~referred & ~correct[None, :]).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(n_auto > 0, (n_auto - n_wrong) / n_auto, np.nan)
    return ReferralCurve(t, n_referred / len(y), accuracy, n_referred, n_wrong, len(y))


def _check_costs(cost_error, cost_referral) -> tuple[float, float]:
    for name, c in (("cost of a wrong automatic decision", cost_error), ("cost of a referral", cost_referral)):
        if isinstance(c, bool) or not isinstance(c, (int, float, np.floating)) or not (np.isfinite(c) and c >= 0):
            raise ValueError(f"Expected the {name} to be a number of 0 or more; got {c!r}.")
    return float(cost_error), float(cost_referral)


def cost_per_digit(curve: ReferralCurve, cost_error: float, cost_referral: float) -> np.ndarray:
    """Mean cost per digit at each threshold: (cost_error × wrong automatic decisions +
    cost_referral × referrals) / digits."""
    ce, cr = _check_costs(cost_error, cost_referral)
    return (ce * curve.n_wrong_automatic + cr * curve.n_referred) / curve.n


def best_threshold(val_probabilities, val_labels, cost_error: float, cost_referral: float, thresholds=None) -> float:
    """The threshold with the lowest total cost on the VALIDATION digits (the smallest such
    threshold when several tie: refer no more than needed)."""
    _check_probabilities(val_probabilities, val_labels, "validation digits")
    curve = referral_curve(val_probabilities, val_labels, thresholds)
    return float(curve.thresholds[int(np.argmin(cost_per_digit(curve, cost_error, cost_referral)))])


@dataclass(frozen=True)
class ReferralPoint:
    threshold: float
    share_referred: float
    accuracy_automatic: float  # NaN when every digit is referred
    cost_per_digit: float
    n: int


def referral_at(probabilities, labels, threshold: float, cost_error: float, cost_referral: float) -> ReferralPoint:
    """Share referred, accuracy on the rest and mean cost at one threshold."""
    curve = referral_curve(probabilities, labels, [threshold])
    cost = cost_per_digit(curve, cost_error, cost_referral)
    return ReferralPoint(float(threshold), float(curve.share_referred[0]), float(curve.accuracy_automatic[0]),
                         float(cost[0]), curve.n)


# ---------------------------------------------------------------- the page's section in one call

@dataclass(frozen=True)
class CalibrationReport:
    temperature: float               # fitted on the validation digits
    before: Reliability              # test digits, the model as it is
    after: Reliability               # test digits, logits divided by the temperature
    nll_before: float                # test negative log-likelihood
    nll_after: float
    validation_curve: ReferralCurve  # with the calibrated probabilities
    test_curve: ReferralCurve
    threshold: float                 # cost-minimising, chosen on the validation digits
    validation_point: ReferralPoint
    test_point: ReferralPoint        # the same threshold, reported on the test digits


def calibration_report(val_logits, val_labels, test_logits, test_labels, cost_error: float = 1.0,
                       cost_referral: float = 0.2, n_bins: int = 10) -> CalibrationReport:
    """Temperature, reliability before/after and the referral threshold: fitted on validation,
    shown on test. Refused without validation digits."""
    z_val, y_val = _check(val_logits, val_labels, "validation digits")
    z_test, y_test = _check(test_logits, test_labels, "test digits")
    if z_val.shape[1] != z_test.shape[1]:
        raise ValueError(f"Validation and test logits have {z_val.shape[1]} and {z_test.shape[1]} classes; "
                         "pass both from the same model.")
    _check_costs(cost_error, cost_referral)
    t = fit_temperature(z_val, y_val)
    p_val, p_test = softmax(z_val, t), softmax(z_test, t)
    threshold = best_threshold(p_val, y_val, cost_error, cost_referral)
    return CalibrationReport(
        temperature=t, before=reliability(softmax(z_test), y_test, n_bins), after=reliability(p_test, y_test, n_bins),
        nll_before=negative_log_likelihood(z_test, y_test), nll_after=negative_log_likelihood(z_test, y_test, t),
        validation_curve=referral_curve(p_val, y_val), test_curve=referral_curve(p_test, y_test),
        threshold=threshold, validation_point=referral_at(p_val, y_val, threshold, cost_error, cost_referral),
        test_point=referral_at(p_test, y_test, threshold, cost_error, cost_referral))
