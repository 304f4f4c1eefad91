"""dashboard.core.figures.shared: a figure every session sees alike is built once per server, key
and display mode, and `chart()` does not redo the projector's version."""
from __future__ import annotations

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.core import figures


@pytest.fixture(autouse=True)
def fresh_cache():
    figures._shared.clear()
    yield
    figures._shared.clear()


def test_built_once_per_key():
    calls = []

    def build(n):
        calls.append(n)
        return go.Figure(go.Bar(x=[1, 2], y=[n, n]))

    a = figures.shared(("bars", 1), lambda: build(1))
    assert figures.shared(("bars", 1), lambda: build(1)) is a
    b = figures.shared(("bars", 2), lambda: build(2))
    assert b is not a and calls == [1, 2]
    assert list(b.data[0].y) == [2, 2]


def _page():
    import plotly.graph_objects as go
    import streamlit as st

    from dashboard.core import figures

    st.session_state["present"] = st.query_params.get("present") == "1"
    fig = figures.shared(("page", 1), lambda: go.Figure(go.Bar(x=[1, 2], y=[3, 4]), layout=dict(title="Bars")))
    figures.chart(st, fig, "Bars: 3 at 1, 4 at 2.", key="bars")
    st.text(str(getattr(fig, "_netlens_projected", False)))


def test_projection_mode_has_its_own_copy_made_once():
    at = AppTest.from_function(_page)
    at.run()
    assert not at.exception and at.text[0].value == "False"
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception and at.text[0].value == "True"  # the projector's copy, kept for the next run
    spec = at.get("plotly_chart")[0].proto.spec
    assert '"size":' in spec and at.get("plotly_chart")[0].proto.theme == ""  # theme=None: the projector's fonts
