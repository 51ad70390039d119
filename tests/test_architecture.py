"""The shape of the code base: no import circles, data flowing one way through the layers, small modules.

The import graph is read with :mod:`ast` from every module of ``por/`` -- top-level and
function-level imports alike (a lazy import is still a dependency); only imports under
``if TYPE_CHECKING:`` (type hints) are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import por

ROOT = Path(por.__file__).resolve().parent

LAYERS = ["core", "crypto", "tree", "zk", "modes", "snapshot", "proofs", "reserves", "log", "audit", "demo", "cli"]
"""Every package of por/, lowest first: a module may import its own layer and the layers below it, never above."""

MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = p.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


MODULES = _modules()


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """``module -> modules of por it imports`` (runtime imports only)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _type_checking_lines(tree)
        deps: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, path.name == "__init__.py", node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
            for t in targets:
                if t.startswith("por"):
                    known = _known(t)
                    if known and known != name:
                        deps.add(known)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_package_is_a_known_layer() -> None:
    packages = {m.split(".")[1] for m in MODULES if m.count(".") >= 1 and (ROOT / m.split(".")[1]).is_dir()}
    assert packages <= set(LAYERS) | {"web"}, f"unlisted packages: {packages - set(LAYERS)}"
    flat = [m for m, p in MODULES.items() if p.parent == ROOT and p.name not in ("__init__.py", "__main__.py")]
    assert not flat, f"modules beside the packages in por/: {flat}"


def test_data_flows_one_way_through_the_layers() -> None:
    upward = []
    for module, deps in import_graph().items():
        here = _layer(module)
        for dep in deps:
            there = _layer(dep)
            if here is not None and there is not None and there > here:
                upward.append(f"{module} ({LAYERS[here]}) imports {dep} ({LAYERS[there]})")
    assert not upward, "imports against the flow core -> ... -> cli:\n" + "\n".join(sorted(upward))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_600_lines(module: str) -> None:
    lines = MODULES[module].read_text().count("\n")
    assert lines <= MAX_LINES, f"{MODULES[module]} has {lines} lines (at most {MAX_LINES}: split it by concept)"
