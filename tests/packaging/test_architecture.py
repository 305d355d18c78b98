"""Layering contracts: the engine is pure numpy; run-time code never imports test references."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUI_OR_QT = {"PySide6", "pyqtgraph", "em_gui", "PyQt5", "PyQt6", "PySide2", "shiboken6"}
TEST_ONLY = {"sklearn", "scipy", "pytest", "hypothesis"}


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a Python file imports anywhere (module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_engine_sources_never_import_qt_or_gui() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(imported_roots(p) & (GUI_OR_QT | TEST_ONLY))
        for p in sorted((ROOT / "em_engine").rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_runtime_sources_never_import_test_references() -> None:
    files = [ROOT / "main.py", *sorted((ROOT / "em_gui").rglob("*.py"))]
    offenders = {str(p.relative_to(ROOT)): sorted(imported_roots(p) & TEST_ONLY) for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_engine_module_loads_no_qt() -> None:
    banned = sorted(GUI_OR_QT | TEST_ONLY)
    code = (
        "import importlib, pkgutil, sys, em_engine\n"
        "for m in pkgutil.iter_modules(em_engine.__path__):\n"
        "    importlib.import_module('em_engine.' + m.name)\n"
        "for name in em_engine.__all__:\n"
        "    getattr(em_engine, name)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {banned!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
