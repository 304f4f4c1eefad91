"""The one pattern every feature follows (README "Layout"), checked from the source with `ast`:
pages only compose (no import from analysis, no st.session_state), state modules never draw, every
page with settings has its resets in dashboard/nav.py, each feature's state module has ONE key
(extra keys declared with the reason)."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from dashboard import nav

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "pages").glob("*.py"))
STATES = sorted(p for p in (ROOT / "dashboard").rglob("*.py") if p.stem == "state" or p.stem.endswith("_state"))
# What a module that draws calls on `st` (a state module may still read st.session_state, cache, fragment-free).
DRAWING = {"error", "warning", "info", "success", "stop", "button", "progress", "fragment", "markdown", "write",
           "caption", "columns", "container", "empty", "rerun", "toast", "spinner", "status", "dataframe", "table",
           "image", "metric", "expander", "sidebar", "subheader", "header", "title", "plotly_chart", "download_button"}


def tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), filename=str(path))


def analysis_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(tree(path)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        found += [f"line {node.lineno}: {n}" for n in names if n == "analysis" or n.startswith("analysis.")]
    return found


def session_state_uses(path: Path) -> list[str]:
    return [f"line {node.lineno}" for node in ast.walk(tree(path))
            if isinstance(node, ast.Attribute) and node.attr == "session_state"]


def st_calls(path: Path) -> list[str]:
    """`st.<drawing>` used anywhere in the module (called or decorated)."""
    return [f"line {node.lineno}: st.{node.attr}" for node in ast.walk(tree(path))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "st"
            and node.attr in DRAWING]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_page_only_composes(page):
    assert not analysis_imports(page), f"{page.name} imports from analysis/: move that into the feature's modules"
    assert not session_state_uses(page), f"{page.name} touches st.session_state: {session_state_uses(page)}"


def test_the_checks_catch_what_they_look_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import streamlit as st\nfrom analysis.models import build_model\nst.session_state['x'] = 1\n"
                   "st.error('no')\n")
    assert analysis_imports(bad) and session_state_uses(bad) and st_calls(bad)


@pytest.mark.parametrize("module", STATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_state_module_never_draws(module):
    assert not st_calls(module), f"{module.relative_to(ROOT)} draws: {st_calls(module)}; move it into a view"


def test_the_session_models_owner_never_draws():
    module = ROOT / "dashboard/core/session_models.py"
    assert not st_calls(module), st_calls(module)


FEATURE_STATES = [p for p in STATES if p.parent.name != "core"]


@pytest.mark.parametrize("module", FEATURE_STATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_feature_state_has_one_key_and_a_reset(module):
    source = module.read_text()
    keys = [line for line in source.splitlines() if line.split("=")[0].strip().endswith("KEY")
            and "=" in line and line[:1].isupper()]
    assert any(line.startswith("KEY =") for line in keys), f"{module.name}: no KEY"
    for extra in (k for k in keys if not k.startswith("KEY =")):  # a deliberate second key says why above it
        before = source.splitlines()[source.splitlines().index(extra) - 1]
        assert before.lstrip().startswith("#"), f"{module.name}: {extra!r} without its reason"
    assert "def reset(" in source, f"{module.name}: no reset()"


def test_every_reset_is_reached_from_its_pages_start_over():
    reached = {inspect.getmodule(fn).__name__ for resets in nav.RESETS.values() for fn in resets}
    for module in STATES:
        name = ".".join(module.relative_to(ROOT).with_suffix("").parts)
        if "def reset(" in module.read_text() and not name.startswith("dashboard.core"):
            assert name in reached, f"{name}.reset is not in dashboard/nav.py RESETS"
