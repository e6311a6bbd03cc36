"""Import boundaries that import-linter cannot see (the mapped `dispatch.agents` /
`dispatch.graphs` packages live outside `dispatch/`), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def engine_modules() -> list[Path]:
    return sorted((ROOT / "dispatch").rglob("*.py"))


def test_only_the_cli_telemetry_module_imports_the_opentelemetry_sdk() -> None:
    users = {
        p.relative_to(ROOT).as_posix()
        for p in engine_modules()
        if any(i.startswith("opentelemetry.sdk") for i in imports(p))
    }
    assert users == {"dispatch/cli/telemetry.py"}


def test_the_engine_imports_specialists_and_graphs_only_from_the_cli_modules() -> None:
    users = {
        p.relative_to(ROOT).as_posix()
        for p in engine_modules()
        if any(i.startswith(("dispatch.agents", "dispatch.graphs")) for i in imports(p))
    }
    assert users == {"dispatch/cli/app.py", "dispatch/cli/run.py"}


def test_agents_never_import_graphs() -> None:
    for path in (ROOT / "agents").rglob("*.py"):
        assert not any(i.startswith("dispatch.graphs") for i in imports(path)), path
