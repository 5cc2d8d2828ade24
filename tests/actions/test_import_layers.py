"""The modules of actions/ depend on each other one way: no cycle, none hidden in a function."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import actions

ACTIONS = Path(actions.__file__).parent


def action_imports(path: Path) -> tuple[set[str], list[str]]:
    """The actions modules a file imports, and those it imports inside a function or class."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found: set[str] = set()
    hidden: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("actions."):
            module = node.module.split(".")[1]  # type: ignore[union-attr]
        elif isinstance(node, ast.Import) and any(a.name.startswith("actions.") for a in node.names):
            module = next(a.name for a in node.names if a.name.startswith("actions.")).split(".")[1]
        else:
            continue
        found.add(module)
        if id(node) not in top:
            hidden.append(f"{path.stem} imports actions.{module} at line {node.lineno}")
    return found, hidden


def test_no_action_module_imports_another_inside_a_function() -> None:
    hidden = [line for path in sorted(ACTIONS.glob("*.py")) for line in action_imports(path)[1]]
    assert hidden == []


def test_the_action_modules_form_no_cycle() -> None:
    graph = {path.stem: action_imports(path)[0] for path in ACTIONS.glob("*.py")}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        raise AssertionError(f"import cycle in actions/: {cycle.args[1]}") from None
    assert order.index("kb") < order.index("answers") < order.index("handoff") < order.index("faq")
