"""One number format per quantity (issue 31): dashboard/core/formats.py, used by every table, metric and
caption. Unit checks of each format, a scan of the dashboard for hand-made percent/thousands/seconds formats,
and the Training page rendered (metrics, runs table) with each value checked against its quantity's format."""
import math
import re
from pathlib import Path

import pytest

from dashboard.core import formats
from tests.helpers import run_page, runs_of, tiny, train_and_wait

ROOT = Path(__file__).resolve().parent.parent
ACCURACY = re.compile(r"^\d{1,3}\.\d%$")
SECONDS = re.compile(r"^\d+\.\d s$")
COUNT = re.compile(r"^\d{1,3}(,\d{3})*$")
ECE = re.compile(r"^\d\.\d{3}$")


@pytest.mark.parametrize("value, text", [(0.90249, "90.2%"), (0.8475, "84.8%"), (0.86, "86.0%"), (1.0, "100.0%"),
                                         (0.0, "0.0%"), (float("nan"), "–"), (None, "–")])
def test_accuracy_has_one_decimal(value, text):
    assert formats.accuracy(value) == text


def test_each_quantity_has_its_format():
    assert formats.seconds(1.1) == "1.1 s" and formats.seconds(1.0999) == "1.1 s"
    assert formats.count(101770) == "101,770" and formats.parameters(7850) == "7,850"
    assert formats.probability(0.934) == "93%"
    assert formats.ece(0.0104) == "0.010"
    assert formats.decimals2(1.2345) == "1.23"


@pytest.mark.parametrize("before, after, change", [(0.0104, 0.0115, "+0.001"), (0.0149, 0.0151, "+0.000"),
                                                   (0.0312, 0.0095, "-0.022"), (0.010, 0.010, "+0.000")])
def test_the_change_of_ece_is_the_change_of_the_shown_values(before, after, change):
    """0.0104 -> 0.0115 shows as 0.010 -> 0.011: the change shown is +0.001 (not +0.002 from the raw values)."""
    assert formats.ece_change(before, after) == change
    shown = float(formats.ece(after)) - float(formats.ece(before))
    assert math.isclose(float(change), shown, abs_tol=1e-9)


def test_a_gap_in_points_is_the_gap_of_the_shown_accuracies():
    assert formats.points(0.9124, 0.9) == "+1.2 points"
    assert formats.points(0.9004, 0.9046) == "-0.5 points"  # 90.0% - 90.5% as shown, not -0.42 rounded
    assert formats.points(0.9, 0.9) == "+0.0 points"


HAND_MADE = re.compile(r"(?<!%)\{[^{}%]+:[+]?\.\d%\}|:,\}|\.1f\} s")


def test_no_hand_made_formats_for_these_quantities():
    """Percents, thousands and seconds in the dashboard come from formats.py (Plotly's own %{y:.1%}
    templates aside), so a column cannot mix 84.75%, 86% and 90%."""
    found = []
    for path in [*ROOT.glob("dashboard/**/*.py"), *ROOT.glob("pages/*.py")]:
        if path.name == "formats.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if HAND_MADE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_sweeps_cells_use_the_accuracy_format():
    from dashboard.training.sweep_view import _cell

    assert _cell(0.8475, 0.0, 1) == "84.8%"
    assert _cell(0.9, 0.0123, 3) == "90.0% ± 1.2%"
    assert _cell(float("nan"), 0.0, 1) == "–"


@pytest.mark.usefixtures("fresh_registries")
def test_the_training_pages_metrics_and_runs_table_use_one_format_each():
    at = train_and_wait(tiny(run_page(), "logreg", epochs=1))
    metrics = {m.label: m.value for m in at.metric}
    assert ACCURACY.match(metrics["Validation accuracy"]), metrics
    assert metrics["Final check: test accuracy"] == "hidden", metrics  # until revealed (issue 32)
    at.button(key="reveal_test").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert ACCURACY.match(metrics["Final check: test accuracy"]), metrics
    assert COUNT.match(metrics["Parameters"]), metrics
    assert SECONDS.match(metrics["Training time"]), metrics
    assert len(runs_of(at)) == 1
    runs = next(t.value for t in at.table if "validation accuracy" in t.value.columns)
    for column, pattern in (("validation accuracy", ACCURACY), ("test accuracy", ACCURACY),
                            ("parameters", COUNT), ("seconds", SECONDS)):
        for value in runs[column]:
            assert pattern.match(str(value)), (column, value)
