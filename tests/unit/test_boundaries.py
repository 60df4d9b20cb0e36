"""Package boundaries, checked on the source: no package imports another package's private
modules, every exception lives in errors.py, and the test double stays out of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "synthpatient"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in SRC.rglob("*.py")]


def _package(path: Path) -> str | None:
    """'schema' for schema/_infer.py; None for a top-level module (shared internals)."""
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else None


def private_imports_across_packages() -> list[str]:
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("synthpatient.")
            ):
                continue
            parts = node.module.split(".")[1:]
            # synthpatient._atomic and the like are shared internals of the whole package;
            # synthpatient.schema._infer is schema's own business
            if (
                len(parts) > 1
                and parts[0] != _package(path)
                and any(p.startswith("_") for p in parts[1:])
            ):
                found.append(f"{path.relative_to(SRC)} imports {node.module}")
    return found


def test_no_package_imports_another_packages_private_modules():
    assert private_imports_across_packages() == []


def test_the_check_finds_a_private_import(tmp_path, monkeypatch):
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "app.py").write_text("from synthpatient.schema._infer import x\n")
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "ok.py").write_text("from synthpatient.schema._infer import x\n")
    import sys

    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    assert private_imports_across_packages() == ["cli/app.py imports synthpatient.schema._infer"]


@pytest.mark.parametrize("base", ["Exception", "Error", "Warning"])
def test_every_exception_is_defined_in_errors_py(base):
    outside = []
    for path, tree in _modules():
        if path.name == "errors.py" and path.parent == SRC:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(base in ast.unparse(b) for b in node.bases):
                outside.append(f"{path.relative_to(SRC)}: {node.name}")
    assert outside == []


def test_nothing_in_the_package_imports_the_fake_llm_server():
    users = [
        str(path.relative_to(SRC))
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        and ("fake_llm" in ast.unparse(node) or "fake_server" in ast.unparse(node))
    ]
    assert users == []
