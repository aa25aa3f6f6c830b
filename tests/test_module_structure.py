"""How the package's modules depend on each other: imports go one way (no cycle, function-level imports
included), and the team registry in force is always passed, never taken from the package by default."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "include" / "thb_reporting"


def import_graph() -> dict[str, set[str]]:
    """module → the package's modules it imports, at any level (module, function or method)."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    graph = {}
    for path in sorted(PACKAGE.glob("*.py")):
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 or node.module == "thb_reporting":  # from . import x / from thb_reporting import x
                    found |= {a.name for a in node.names if a.name in modules}
                    if node.level == 1 and node.module:
                        found.add(node.module.split(".")[0])
                elif node.module and node.module.startswith("thb_reporting."):
                    found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("thb_reporting.")}
        graph[path.stem] = (found & modules) - {path.stem}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each a group of modules that
    import each other in a circle."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert {"reference", "quarters", "contracts", "config"} <= set(graph)  # the walk found the package
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(
        " ⇄ ".join(c) + " (" + ", ".join(f"{m}→{sorted(graph[m] & set(c))}" for m in c) + ")" for c in found)


def test_reference_quarters_and_contracts_import_one_way():
    """reference (code lists, teams) ← quarters (dates, deadlines) ← contracts ← the rest."""
    graph = import_graph()
    assert graph["reference"] == set()
    assert graph["quarters"] <= {"reference"}
    assert "contracts" not in graph["reference"] | graph["quarters"]


def _calls_without_registry(path: Path) -> list[str]:
    """Calls of reference.teams() or reference.population() (or of those names imported from reference)
    that name no registry: they would read the package's teams.csv whatever the configuration says."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "thb_reporting.reference" for a in node.names if a.name in ("teams", "population")}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and not node.args and not node.keywords:
            f = node.func
            if (isinstance(f, ast.Attribute) and getattr(f.value, "id", None) == "reference"
                    and f.attr in ("teams", "population")) or (isinstance(f, ast.Name) and f.id in imported):
                out.append(f"{path.name}:{node.lineno}")
    return out


def test_the_product_always_names_the_registry():
    root = PACKAGE.parents[1]
    files = [*PACKAGE.glob("*.py"), *(root / "dags").glob("*.py"), *(root / "plugins").glob("*.py"),
             *(root / "bench").glob("*.py")]
    assert len(files) > 30
    assert not [c for f in files for c in _calls_without_registry(f)]


def test_the_registry_check_finds_a_call_without_registry(tmp_path):
    (tmp_path / "m.py").write_text("from thb_reporting import reference\nx = reference.teams()\n"
                                   "y = reference.teams(config.teams_registry)\n"
                                   "from thb_reporting.reference import population\nz = population()\n")
    assert _calls_without_registry(tmp_path / "m.py") == ["m.py:2", "m.py:5"]
