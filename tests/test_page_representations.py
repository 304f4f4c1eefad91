"""AppTest of the Representations page with a tiny model and sample."""
import re

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.core import formats, session_models
from dashboard.core.guard import unplain
from dashboard.representations import state as rv
from tests.helpers import tiny, train_and_wait

PAGE = "../pages/representations.py"


@pytest.fixture(scope="module")
def trained_state():
    at = train_and_wait(tiny(AppTest.from_file("../pages/train.py", default_timeout=60).run(), "mlp", epochs=2))
    return {session_models.KEY: session_models.state(at.session_state)}


def page_with(state, method="tsne", n=None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in state.items():
        at.session_state[k] = v
    at.session_state["rep_method"] = method
    at.run()
    assert not at.exception, at.exception
    if n is not None:
        at.slider(key="rep_n").set_value(n).run()
    for job in rv.REGISTRY.jobs():
        job.wait(120)
    at.run()
    assert not at.exception, at.exception
    return at


def _table(at: AppTest, column: str):
    """The first table with this column (every chart's "Show as table" holds tables too)."""
    return next(t.value for t in at.table if column in t.value.columns)


def test_tsne_maps_of_each_layer_with_separation_metrics(trained_state):
    at = page_with(trained_state, n=200)
    table = _table(at, "map")
    described = [unplain(c.value) for c in at.caption if c.value.startswith("Chart:")]
    assert len(described) == 3 and all(re.search(r"map: [\d,]+ digits, \d+ digit clusters; k-NN", c)
                                         for c in described)
    for name, v in zip(table["map"], table["k-NN accuracy, map (k=5)"]):  # two maps a row: columns reorder them
        assert any(c.startswith(f"Chart: {name} map:") and formats.accuracy(v) in c for c in described), name
    assert [e.label for e in at.expander].count("Show as table") == 3
    assert list(table["map"].str.split(" — ").str[0]) == ["pixels", "hidden layer 1 (512 units)", "logits"]
    assert table["trustworthiness (k=10)"].between(0.5, 1).all()
    assert (table["k-NN accuracy, map (k=5)"] > 0.3).all()  # 8×8 digits, 2 epochs: far above chance
    assert any("Read t-SNE with care" in m.value for m in at.markdown)


def test_pca_reports_variance_and_label_selection_shows_the_grid(trained_state):
    at = page_with(trained_state, method="pca")
    assert "PCA" in _table(at, "map")["map"][0]
    at.multiselect(key="rep_sel_true").set_value(["3"]).run()
    assert not at.exception
    assert "What is in your selection?" in [s.value for s in at.subheader]
    counts = _table(at, "true label")
    assert list(counts["true label"]) == ["3"] and counts["digits"].iloc[0] > 0


def test_three_seeds_side_by_side(trained_state):
    at = page_with(trained_state, n=200)
    at.radio(key="rep_compare").set_value("seeds").run()
    for job in rv.REGISTRY.jobs():
        job.wait(120)
    at.run()
    assert not at.exception
    maps = list(_table(at, "map")["map"])
    assert [m.split("seed ")[1].rstrip(")") for m in maps] == ["0", "1", "2"]
