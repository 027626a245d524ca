"""The package keeps its layers (README, "Architecture in a page"): import-linter's
contract in pyproject.toml, checked on this checkout's code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_no_package_imports_a_layer_above_its_own() -> None:
    # PYTHONPATH first: the code of this checkout, whatever the venv's editable install
    # points at (a second worktree shares the venv).
    env = {**os.environ, "PYTHONPATH": str(REPO / "jobs")}
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "civlake layers KEPT" in done.stdout


def _imports(module: str) -> set[str]:
    """The civlake modules ``module``'s import statements name, wherever they stand (a
    function-level import counts), with the packages each one runs on import."""
    import ast

    parts = module.split(".")
    path = REPO / "jobs" / Path(*parts)
    source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = parts if path.is_dir() else parts[:-1]
    named: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            base = ".".join(p for p in (base, node.module or "") if p)
            named.add(base)
            named |= {f"{base}.{a.name}" for a in node.names}
    out = set()
    for name in named:
        if not name.startswith("civlake"):
            continue
        bits = name.split(".")
        for i in range(1, len(bits) + 1):  # importing a.b.c runs a and a.b first
            candidate = REPO / "jobs" / Path(*bits[:i])
            if candidate.is_dir() or candidate.with_suffix(".py").is_file():
                out.add(".".join(bits[:i]))
    return out - {module}


def _reaches(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for name in _imports(todo.pop()) - seen:
            seen.add(name)
            todo.append(name)
    return seen


def test_embedded_and_spark_lake_io_never_import_each_other() -> None:
    # Each engine's lake I/O stands alone (issue 17): a dispatch from one into the other,
    # even a lazy import inside a function, shows up here.
    assert "civlake.engine.spark_io" not in _reaches("civlake.lake")
    assert "civlake.lake" not in _reaches("civlake.engine.spark_io")
    # and the check sees real edges: both reach the shared interface module
    assert "civlake.engine.lake_io" in _reaches("civlake.lake") & _reaches(
        "civlake.engine.spark_io"
    )
