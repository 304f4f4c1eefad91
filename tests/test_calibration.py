"""Calibration (issue 19): ECE on a hand-made example, temperature scaling on an over-fitted model,
the referral arithmetic and the cost-minimising threshold on a hand-made example, refusals."""
import numpy as np
import pytest

from analysis.calibration import (
    NO_VALIDATION,
    best_threshold,
    calibration_report,
    cost_per_digit,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    referral_at,
    referral_curve,
    reliability,
    softmax,
)
from analysis.datasets import Split, load_dataset, split_dataset
from analysis.explain import logits
from analysis.models import ModelConfig
from analysis.train import TrainConfig, fit


def two_class(top, predicted):
    """Probabilities (n, 2) whose top probability is `top`, on class `predicted`."""
    top, predicted = np.asarray(top, float), np.asarray(predicted)
    p = np.empty((len(top), 2))
    p[np.arange(len(top)), predicted] = top
    p[np.arange(len(top)), 1 - predicted] = 1 - top
    return p


def test_ece_hand_made():
    # Bin [0.9, 1.0]: confidence 0.95, 1 of 2 right (gap 0.45); bin [0.6, 0.7): 0.65, 2 of 2 right (gap 0.35).
    p = two_class([0.95, 0.95, 0.65, 0.65], [0, 0, 1, 1])
    labels = np.array([0, 1, 1, 1])
    rel = reliability(p, labels, n_bins=10)
    assert rel.counts.tolist() == [0, 0, 0, 0, 0, 0, 2, 0, 0, 2]
    assert rel.confidence[9] == pytest.approx(0.95) and rel.accuracy[9] == pytest.approx(0.5)
    assert rel.confidence[6] == pytest.approx(0.65) and rel.accuracy[6] == pytest.approx(1.0)
    assert np.isnan(rel.accuracy[0])
    assert rel.ece == pytest.approx(2 / 4 * 0.45 + 2 / 4 * 0.35)
    assert expected_calibration_error(two_class([1.0, 0.55], [0, 0]), np.array([0, 0])) == pytest.approx(
        0.5 * 0 + 0.5 * 0.45)  # 1.0 goes in the last bin
    perfect = two_class([0.75] * 4, [0, 0, 0, 0])
    assert expected_calibration_error(perfect, np.array([0, 0, 0, 1])) == pytest.approx(0.0)


def test_nll_and_softmax():
    z = np.array([[2.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 0])
    p = softmax(z)
    assert negative_log_likelihood(z, y) == pytest.approx(-np.mean(np.log(p[[0, 1], [0, 0]])))
    np.testing.assert_allclose(softmax(z, 2.0), softmax(z / 2))


@pytest.fixture(scope="module")
def overfitted():
    """An MLP trained to over-fit: 150 digits, 30 epochs at a high learning rate (training loss
    near 0; measured: temperature 2.2, test NLL 0.46 -> 0.36)."""
    ds = load_dataset("digits")
    full = split_dataset(ds, seed=0)
    split = Split(train=full.train[:150], val=full.val, test=full.test)
    trained = fit(ds, ModelConfig(kind="mlp", hidden=(256,)), TrainConfig(epochs=30, lr=3e-2, batch_size=16,
                                                                          device="cpu"), split=split)
    assert trained.history.rows[-1]["train_loss"] < 0.005
    return (logits(trained.model, ds.images[split.val]), ds.labels[split.val],
            logits(trained.model, ds.images[split.test]), ds.labels[split.test])


def test_temperature_scaling_lowers_test_nll_of_an_overconfident_model(overfitted):
    z_val, y_val, z_test, y_test = overfitted
    t = fit_temperature(z_val, y_val)
    assert t > 1.2  # over-confident: softened
    assert negative_log_likelihood(z_test, y_test, t) < negative_log_likelihood(z_test, y_test) - 0.02
    # the fitted T is the minimum of the validation NLL
    for other in (t * 0.9, t * 1.1):
        assert negative_log_likelihood(z_val, y_val, t) <= negative_log_likelihood(z_val, y_val, other)
    report = calibration_report(z_val, y_val, z_test, y_test, cost_error=5.0, cost_referral=1.0)
    assert report.temperature == pytest.approx(t) and report.nll_after < report.nll_before
    assert report.after.ece < report.before.ece
    assert report.threshold == best_threshold(softmax(z_val, t), y_val, 5.0, 1.0)
    assert report.test_point.n == len(y_test) and report.validation_point.n == len(y_val)


def test_referral_arithmetic_and_cost_minimising_threshold():
    # top probabilities 0.9 right, 0.8 wrong, 0.6 right, 0.55 wrong, 0.95 right
    p = two_class([0.9, 0.8, 0.6, 0.55, 0.95], [0, 0, 0, 0, 1])
    y = np.array([0, 1, 0, 1, 1])
    curve = referral_curve(p, y, [0.0, 0.7, 0.85, 0.91, 1.0])
    np.testing.assert_allclose(curve.share_referred, [0, 2 / 5, 3 / 5, 4 / 5, 1])
    np.testing.assert_allclose(curve.accuracy_automatic[:4], [3 / 5, 2 / 3, 1, 1])
    assert np.isnan(curve.accuracy_automatic[4])  # nothing left to decide
    # wrong costs 10, a referral 1: t=0 -> 2 wrong = 20; t=0.7 -> 10 + 2; t=0.85 -> 3; t=0.91 -> 4; t=1 -> 5
    np.testing.assert_allclose(cost_per_digit(curve, 10, 1), np.array([20, 12, 3, 4, 5]) / 5)
    assert best_threshold(p, y, 10, 1) == pytest.approx(0.81)  # smallest t on the dial that refers the 0.8
    assert best_threshold(p, y, 1, 10) == pytest.approx(0.0)   # referrals dear: refer nobody
    # chosen on validation, reported on test
    p_test = two_class([0.7, 0.99, 0.82], [0, 0, 1])
    point = referral_at(p_test, np.array([1, 0, 1]), 0.81, 10, 1)
    assert point.share_referred == pytest.approx(1 / 3) and point.accuracy_automatic == pytest.approx(1.0)
    assert point.cost_per_digit == pytest.approx(1 / 3)


def test_refusals_without_validation_digits():
    none = np.zeros((0, 10)), np.zeros(0, np.int64)
    some = np.eye(10)[:4] * 3, np.arange(4)
    with pytest.raises(ValueError, match="No validation digits") as e:
        fit_temperature(*none)
    assert str(e.value) == NO_VALIDATION
    with pytest.raises(ValueError, match="No validation digits"):
        best_threshold(*none, 1.0, 0.2)
    with pytest.raises(ValueError, match="No validation digits"):
        calibration_report(*none, *some)
    with pytest.raises(ValueError, match="got none"):
        reliability(*none)
    with pytest.raises(ValueError, match="got none"):
        referral_curve(*none)
    with pytest.raises(ValueError, match="probabilities"):
        reliability(some[0], some[1])  # logits, not probabilities
    with pytest.raises(ValueError, match="temperature"):
        negative_log_likelihood(*some, temperature=0)
    with pytest.raises(ValueError, match="cost"):
        best_threshold(softmax(some[0]), some[1], -1, 0.2)
    with pytest.raises(ValueError, match="labels"):
        reliability(softmax(some[0]), np.array([0, 1, 2, 10]))
