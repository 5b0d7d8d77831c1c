"""The package's imports form no circle: imports point down (cli and studio on top; models,
diffusion and media at the bottom), as DESIGN.md says.

Every `import` and `from ... import` in every module of `kinetoscope` counts as an edge, at
module level and inside functions alike: a function-level import defers a circle to run time,
it does not remove it. Not counted: imports under `if TYPE_CHECKING:` (they never run), and the
implicit import of a parent package's `__init__` (every submodule of a package that re-exports
its submodules would otherwise sit in a circle with it). `from pkg import name` is an edge to
`pkg.name` when that is a module of ours, else to `pkg`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kinetoscope

ROOT = Path(kinetoscope.__file__).parent


def module_names() -> dict[str, Path]:
    """kinetoscope's modules: dotted name -> file (a package is its __init__.py)."""
    names = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _type_checking_only(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import / ImportFrom that runs (anything under `if TYPE_CHECKING:` does not)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_checking_only(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ours that `name` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: . is this package, .. its parent, ...
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, as [a, b, ..., a], or None (depth-first search, white/grey/black)."""
    state, stack = {}, []

    def visit(node: str) -> list[str] | None:
        state[node] = "grey"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "grey":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = "black"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_both_kinds_of_import():
    """The walk finds module-level, function-level and relative imports (else the test below
    could pass on a graph that misses edges)."""
    graph = import_graph()
    assert "kinetoscope.pipeline" in graph["kinetoscope.engines.builtin"]  # module level
    assert "kinetoscope.studio.serve" in graph["kinetoscope.cli"]  # inside cmd_serve
    assert "kinetoscope.data.scene" in graph["kinetoscope.data.world"]  # `from .scene import ...`
    assert len(graph) > 100


def test_find_cycle_names_the_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
