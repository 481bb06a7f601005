"""The layering of DESIGN.md section 2, checked over the import graph."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bastion

pytestmark = pytest.mark.core
SRC = Path(bastion.__file__).parent
# Packages above the features: they may import anything.
TOP = {"app", "cli", "settings", "__init__"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n == "bastion" or n.startswith("bastion.")}


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _graph() -> dict[str, set[str]]:
    """Area (core, ops, lifecycle, ...) -> the other areas it imports."""
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        area = relative.parts[0].removesuffix(".py") if relative.parts else "__init__"
        targets = {_area(m) for m in _imports(path)} - {area, "__init__"}
        graph.setdefault(area, set()).update(targets)
    return graph


def test_core_imports_no_feature():
    assert _graph().get("core", set()) == set()


def test_features_do_not_import_the_top_layer():
    graph = _graph()
    for area, targets in graph.items():
        if area not in TOP:
            assert not targets & TOP, f"{area} imports {targets & TOP}"


def test_features_form_no_cycle():
    graph = {a: t - TOP for a, t in _graph().items() if a not in TOP}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(area: str) -> None:
        if area in done:
            return
        assert area not in visiting, f"import cycle: {' -> '.join([*visiting, area])}"
        visiting.append(area)
        for target in graph.get(area, ()):
            visit(target)
        visiting.pop()
        done.add(area)

    for area in graph:
        visit(area)


def test_public_api_is_pinned():
    assert sorted(bastion.__all__) == [
        "Base",
        "BastionError",
        "BastionSettings",
        "BastionState",
        "Clock",
        "ConfigurationError",
        "Database",
        "DbSession",
        "ManualClock",
        "Page",
        "PageParams",
        "SystemClock",
        "Timestamps",
        "UTCDateTime",
        "UUIDPrimaryKey",
        "bastion_state",
        "create_app",
        "current_request_id",
        "paginate",
        "registered_codes",
        "uuid7",
    ]
    for name in bastion.__all__:
        assert hasattr(bastion, name), name
