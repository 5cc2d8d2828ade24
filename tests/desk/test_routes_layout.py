"""The routes stay thin: no route module imports another, and only the app factory imports a route."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUTES = ROOT / "desk" / "routes"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute names; `from desk.routes import x` counts as desk.routes.x)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_route_module_imports_another() -> None:
    offenders = {
        path.name: sorted(name for name in imported_modules(path) if name.startswith("desk.routes"))
        for path in ROUTES.glob("*.py")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_only_the_app_factory_imports_routes() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for folder in ("desk", "connectors", "knowledge_base", "actions")
        for path in (ROOT / folder).rglob("*.py")
        if ROUTES not in path.parents and any(n.startswith("desk.routes") for n in imported_modules(path))
    }
    assert importers == {"desk/main.py"}
