"""Short, distinct model names (issue 31): one rule that fits a chip and a menu, unique within a
session, the full settings on hover and in the runs table; a sweep's runs grouped under "Sweep";
old-style links (?model=mlp) still work."""
import dataclasses

import pytest
from streamlit.testing.v1 import AppTest

from analysis.models import default_config
from analysis.train import TrainConfig
from dashboard.core.training_jobs import describe, short_name
from tests.helpers import models_of, run_page, runs_of, tiny, train_and_wait

CHIP = 32  # characters of a usual name (one or two settings off the defaults)
MOST = 44  # the longest: every setting off its default, and a repeat's " (2)"


def test_the_naming_rule_is_short_and_tells_settings_apart():
    tc = TrainConfig()
    names = {kind: short_name(default_config(kind), tc, "mnist5k") for kind in ("logreg", "mlp", "cnn")}
    assert names == {"logreg": "LogReg · lr 0.001 · s0", "mlp": "MLP 512 · lr 0.001 · s0",
                     "cnn": "CNN 16-32 · lr 0.001 · s0"}
    variants = [dataclasses.replace(tc, **change) for change in
                ({}, {"lr": 0.01}, {"batch_size": 32}, {"epochs": 3}, {"seed": 1}, {"optimizer": "sgd"})]
    shown = [short_name(default_config("mlp"), t, "mnist5k") for t in variants]
    assert len(set(shown)) == len(shown), shown  # every setting that differs shows
    assert max(len(s) for s in shown) <= CHIP, shown
    assert short_name(default_config("mlp"), tc, "digits") != names["mlp"]  # the data set shows when not default
    full = describe(default_config("mlp"), tc, "mnist5k")
    assert "Multilayer perceptron" in full and "batch 64" in full and "seed 0" in full  # the long form keeps it all


@pytest.mark.usefixtures("fresh_registries")
def test_names_are_unique_in_a_session_and_the_runs_table_has_the_full_settings():
    at = train_and_wait(tiny(run_page(), "logreg", epochs=1))
    at = train_and_wait(at)  # the same settings again: joins the finished run, a second model
    names = list(models_of(at))
    assert len(names) == 2 and len(set(names)) == 2, names
    assert names[0] == "LogReg · lr 0.001 · 1 ep · digits · s0" and names[1] == names[0] + " (2)"
    assert all(len(n) <= MOST for n in names)
    runs = runs_of(at)
    assert [r["model"] for r in runs] == names
    assert all(r["settings"].startswith("Logistic regression · digits · 1 epoch") for r in runs), runs
    table = next(t.value for t in at.table if "settings" in t.value.columns)
    assert list(table["model"]) == names and "Logistic regression" in table["settings"].iloc[0]


def test_an_old_style_link_still_opens_its_settings():
    """A link made before the short names (?model=mlp&epochs=3&seed=2) sets the same controls."""
    at = AppTest.from_file("../pages/train.py", default_timeout=60)
    at.query_params.update({"model": "mlp", "epochs": "3", "seed": "2", "data": "digits"})
    at.run()
    assert not at.exception, at.exception
    assert at.radio(key="train_kind").value == "mlp"
    assert at.slider(key="train_epochs").value == 3
    assert not at.error
