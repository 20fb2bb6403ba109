"""The layout is the architecture: no import cycle between packages, and small modules.

The layer order itself is checked by import-linter (`lint-imports`, contracts in pyproject.toml);
these tests check what a layer contract does not: packages of one layer that import each other
in a circle, and modules that grew past what one reads in one sitting.
"""

import ast
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parents[1] / "loyalflow"
MAX_LINES = 300
# A longer module says in its docstring why it is one concern.
JUSTIFICATION = "one concern"


def _package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def _package_edges() -> dict[str, set[str]]:
    graph = grimp.build_graph("loyalflow")
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        source = _package_of(module)
        for imported in graph.find_modules_directly_imported_by(module):
            target = _package_of(imported)
            if target != source and target.startswith("loyalflow."):
                edges.setdefault(source, set()).add(target)
    return edges


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(edges.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(edges):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_packages_import_each_other_without_cycles() -> None:
    cycle = _find_cycle(_package_edges())
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    # Guards the guard: a graph with a circle is reported, one without is not.
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_modules_are_small_or_say_why_they_are_one_concern() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines <= MAX_LINES:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if JUSTIFICATION not in docstring.replace("\n", " ").lower():
            too_long.append(f"{path.relative_to(PACKAGE.parent)} ({lines} lines)")
    assert not too_long, f"over {MAX_LINES} lines with no word on why: {', '.join(too_long)}"
