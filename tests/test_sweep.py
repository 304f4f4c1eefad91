"""Tests for analysis.sweep: the grid (values × seeds <= 9), its key, the summary and the
choice by validation accuracy (never test accuracy), and the single reveal."""
import numpy as np
import pytest

from analysis.datasets import load_dataset
from analysis.models import ModelConfig
from analysis.sweep import MAX_RUNS, RevealLedger, SweepConfig, summarise, sweep_key
from analysis.train import TrainConfig, fit


def test_grid_of_one_setting_and_seeds():
    sweep = SweepConfig(settings={"lr": [0.01, 0.001, 0.003]}, seeds=[2, 0, 1])
    assert sweep.settings == (("lr", (0.001, 0.003, 0.01)),) and sweep.seeds == (0, 1, 2)
    runs = sweep.expand()
    assert len(runs) == 9
    assert [(tc.lr, tc.seed) for _, tc in runs] == [(lr, s) for lr in (0.001, 0.003, 0.01) for s in (0, 1, 2)]
    assert all(mc == ModelConfig() and tc.epochs == TrainConfig().epochs for mc, tc in runs)


def test_grid_of_two_settings():
    base = ModelConfig(kind="mlp", hidden=(128, 64))
    sweep = SweepConfig(settings=[("hidden_units", (32, 16)), ("activation", ("tanh", "relu"))], model=base)
    assert sweep.combinations() == [(16, "relu"), (16, "tanh"), (32, "relu"), (32, "tanh")]
    (mc, tc), *_ = sweep.expand()
    assert mc.hidden == (16, 16) and mc.activation == "relu" and tc.seed == 0  # every hidden layer resized
    cnn = SweepConfig(settings={"kernel_size": (5, 3), "epochs": (2, 4)}, seeds=(0, 1), model=ModelConfig(kind="cnn"))
    assert [(mc.kernel_size, tc.epochs, tc.seed) for mc, tc in cnn.expand()][:3] == [(3, 2, 0), (3, 2, 1), (3, 4, 0)]


@pytest.mark.parametrize("kwargs, match", [
    (dict(settings={"lr": (0.001, 0.003, 0.01)}, seeds=(0, 1, 2, 3)), "1 to 3 seeds"),
    (dict(settings={"lr": (0.001, 0.002, 0.003, 0.01)}), "1 to 3 values"),
    (dict(settings={"lr": (0.001, 0.003, 0.01), "batch_size": (32, 64)}, seeds=(0, 1)), "at most 9 runs"),
    (dict(settings={"lr": (0.001,), "batch_size": (32,), "epochs": (2,)}), "one or two settings"),
    (dict(settings={}), "one or two settings"),
    (dict(settings={"momentum": (0.9,)}), "Unknown setting"),
    (dict(settings={"kernel_size": (3, 5)}), "applies to cnn"),
    (dict(settings={"lr": (0.001, 0.001)}), "different values"),
    (dict(settings={"lr": (0.001, 0.01)}, seeds=(1, 1)), "different seeds"),
    (dict(settings={"lr": (0.0, 0.01)}), "learning rate must be a finite number above 0"),
    (dict(settings={"activation": ("relu", "swish")}), "one of"),
    (dict(settings={"hidden_units": (8.5, 16)}), "whole number"),
    (dict(settings={"epochs": (2, 500)}), "number of epochs"),
])
def test_sweeps_beyond_the_limits_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SweepConfig(**kwargs)


def test_the_largest_allowed_sweeps_have_nine_runs():
    assert len(SweepConfig(settings={"lr": (1e-3, 3e-3, 1e-2), "epochs": (2, 4, 6)}).expand()) == MAX_RUNS
    assert len(SweepConfig(settings={"lr": (1e-3, 3e-3, 1e-2)}, seeds=(0, 1, 2)).expand()) == MAX_RUNS


def test_sweep_key_is_the_sweeps_runs():
    a = SweepConfig(settings={"lr": (0.001, 0.01), "epochs": (2, 3)}, seeds=(0, 1))
    b = SweepConfig(settings=[("epochs", (3, 2)), ("lr", (0.01, 0.001))], seeds=(1, 0))
    assert sweep_key("mnist5k", a) == sweep_key("mnist5k", b)  # order does not matter
    assert sweep_key("mnist5k", a) != sweep_key("digits", a)
    assert sweep_key("mnist5k", a) != sweep_key("mnist5k", SweepConfig(settings=a.settings, seeds=(0, 2)))


class _Run:
    """A finished run whose test accuracy must not be read by summarise."""

    def __init__(self, val, test):
        self.val_accuracy, self._test, self.test_reads = val, test, 0

    @property
    def test_accuracy(self):
        self.test_reads += 1
        return self._test


def _results(sweep, val, test):
    return [_Run(val[i], test[i]) for i in range(len(sweep.expand()))]


def test_summary_chooses_by_validation_never_by_test():
    sweep = SweepConfig(settings={"lr": (0.001, 0.003, 0.01)}, seeds=(0, 1))
    val = [0.90, 0.92, 0.95, 0.93, 0.80, 0.70]
    test = [0.99, 0.99, 0.85, 0.86, 0.99, 0.99]  # test would pick another setting
    results = _results(sweep, val, test)
    summary = summarise(sweep, results)
    assert summary.best.values == (0.003,) and summary.finished == summary.total == 6
    assert all(r.test_reads == 0 for r in results)
    for s, pair in zip(summary.settings, (val[0:2], val[2:4], val[4:6])):
        assert s.val_mean == pytest.approx(np.mean(pair)) and s.val_std == pytest.approx(np.std(pair))
    assert summary.grid() == [[s.val_mean for s in summary.settings]]


def test_heatmap_grid_matches_the_runs_and_unfinished_runs_are_skipped():
    sweep = SweepConfig(settings={"lr": (0.001, 0.01), "epochs": (2, 3, 4)})
    val = [0.5, 0.6, 0.7, 0.8, 0.9, 0.4]
    results = [{"val_accuracy": v} for v in val]
    summary = summarise(sweep, results)
    assert summary.grid() == [[0.5, 0.6, 0.7], [0.8, 0.9, 0.4]] and summary.axes == ((0.001, 0.01), (2, 3, 4))
    assert summary.best.values == (0.01, 3)
    partial = summarise(sweep, results[:4] + [None, None])
    assert partial.finished == 4 and partial.best.values == (0.01, 2) and np.isnan(partial.grid()[1][1])
    assert summarise(sweep, [None] * 6).best is None
    with pytest.raises(ValueError, match="one result per run"):
        summarise(sweep, results[:5])


def test_ties_go_to_the_smaller_spread():
    sweep = SweepConfig(settings={"lr": (0.001, 0.01)}, seeds=(0, 1))
    summary = summarise(sweep, [{"val_accuracy": v} for v in (0.8, 0.9, 0.85, 0.85)])
    assert summary.best.values == (0.01,)


def test_a_sweeps_reveal_is_one_look_and_asking_again_is_none():
    now = [1000.0]
    ledger = RevealLedger(clock=lambda: now[0])
    sweep = SweepConfig(settings={"lr": (0.001, 0.01)}, seeds=(0, 1))
    key = sweep_key("mnist5k", sweep)
    results = _results(sweep, [0.90, 0.94, 0.80, 0.82], [0.88, 0.90, 0.99, 0.99])
    with pytest.raises(ValueError, match="Wait for every run"):
        ledger.reveal(key, sweep, summarise(sweep, results[:3] + [None]), results[:3] + [None])
    assert not ledger.revealed(key)
    record = ledger.reveal(key, sweep, summarise(sweep, results), results)
    assert record.values == (0.001,) and record.val_accuracy == pytest.approx(0.92)
    assert record.test_accuracy == pytest.approx(0.89) and record.gap == pytest.approx(0.03)
    assert record.revealed_at == 1000.0 and record.when.startswith("1970-01-01")
    assert [r.test_reads for r in results] == [1, 1, 0, 0]  # only the chosen setting's runs
    now[0] = 2000.0
    again = SweepConfig(settings={"lr": (0.01, 0.001)}, seeds=(1, 0))  # the same sweep, resubmitted
    other = _results(again, [0.5, 0.5, 0.99, 0.99], [0.1, 0.1, 0.1, 0.1])
    assert ledger.reveal(sweep_key("mnist5k", again), again, summarise(again, other), other) is record
    assert ledger.get(key) is record and len(ledger) == 1 and ledger.records() == [record]
    assert [(k.number, k.kind, k.key) for k in ledger.looks()] == [(1, "sweep", key)]


def test_every_look_at_the_test_set_is_counted_sweeps_and_single_models_alike():
    now = [10.0]
    ledger = RevealLedger(clock=lambda: now[0])
    assert ledger.count == 0 and not ledger.shown("run-a")
    first = ledger.look("run-a", "an MLP", 0.91, 0.90)
    assert (first.number, first.kind, first.test_accuracy, first.at) == (1, "model", 0.90, 10.0)
    assert ledger.shown("run-a") and not ledger.shown("run-b")
    assert ledger.look("run-a", "an MLP", 0.91, 0.90) is first and ledger.count == 1  # seen already: no new look
    sweep = SweepConfig(settings={"lr": (0.001, 0.01)}, seeds=(0, 1))
    results = _results(sweep, [0.90, 0.94, 0.80, 0.82], [0.88, 0.90, 0.99, 0.99])
    now[0] = 20.0
    ledger.reveal(sweep_key("mnist5k", sweep), sweep, summarise(sweep, results), results, run_keys=["s0", "s1"])
    assert ledger.shown("s0") and ledger.shown("s1") and ledger.count == 2
    another = SweepConfig(settings={"lr": (0.003, 0.03)}, seeds=(0,))  # a new sweep: its reveal is another look
    more = _results(another, [0.7, 0.9], [0.6, 0.8])
    ledger.reveal(sweep_key("mnist5k", another), another, summarise(another, more), more)
    third = ledger.look("run-b", "the runner-up, retrained", 0.92, 0.917)
    assert third.number == 4 and len(ledger) == 4
    assert [k.kind for k in ledger.looks()] == ["model", "sweep", "sweep", "model"]
    with pytest.raises(ValueError, match="test accuracy"):
        ledger.look("run-c", "no score", 0.9, None)
    with pytest.raises(ValueError, match="model's key"):
        ledger.look("", "nameless", 0.9, 0.9)
    assert ledger.count == 4


def test_a_real_tiny_sweep_chooses_by_validation():
    ds = load_dataset("digits")
    sweep = SweepConfig(settings={"lr": (1e-4, 3e-3)}, model=ModelConfig(kind="mlp", hidden=(16,)),
                        train=TrainConfig(epochs=1, device="cpu"))
    results = [fit(ds, mc, tc) for mc, tc in sweep.expand()]
    summary = summarise(sweep, results)
    assert [s.val_mean for s in summary.settings] == [r.val_accuracy for r in results]
    assert summary.best.val_mean == max(r.val_accuracy for r in results)
