"""Layering contracts: the engine is pure numpy; run-time code never imports test references."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUI_OR_QT = {"PySide6", "pyqtgraph", "em_gui", "PyQt5", "PyQt6", "PySide2", "shiboken6"}
TEST_ONLY = {"sklearn", "scipy", "pytest", "hypothesis"}
# The only functions that import scikit-learn: those scikit-learn itself calls, or that run only
# when the program has imported it (em_engine never loads it by itself).
LAZY_SKLEARN = {
    ("em_engine/mixture.py", "__sklearn_tags__"),
    ("em_engine/errors.py", "__getattr__"),
}


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a Python file imports anywhere (module level or inside functions),
    except scikit-learn in a LAZY_SKLEARN function."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(ROOT).as_posix()
    lazy = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and (where, node.name) in LAZY_SKLEARN
        for inner in ast.walk(node)
    }
    roots: set[str] = set()
    for node in ast.walk(tree):
        names: set[str] = set()
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = {node.module.split(".")[0]}
        roots |= names - {"sklearn"} if id(node) in lazy else names
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
        "    if m.name not in ('distributed', 'cli_dask'):\n"  # dask's own imports (scipy)
        "        importlib.import_module('em_engine.' + m.name)\n"
        "for name in em_engine.__all__:\n"
        "    getattr(em_engine, name)\n"
        "import numpy as np, warnings\n"  # fitting, not fitted, not converged: still no sklearn
        "X = np.random.default_rng(0).normal(size=(50, 2))\n"
        "try:\n"
        "    em_engine.GaussianMixture().predict(X)\n"
        "except em_engine.NotFittedError:\n"
        "    pass\n"
        "with warnings.catch_warnings(record=True):\n"
        "    em_engine.GaussianMixture(2, max_iter=1).fit(X).get_params()\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {banned!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


OPTIONAL_DASK = {"dask", "distributed"}
# The only modules that import the optional Dask extra: they are loaded only for dask data (the
# estimator, by the type of X) or the command line's --dask.
DASK_MODULES = {"em_engine/distributed.py", "em_engine/cli_dask.py"}


def test_only_the_dask_modules_import_dask() -> None:
    files = [ROOT / "main.py", *sorted((ROOT / "em_gui").rglob("*.py"))]
    files += sorted((ROOT / "em_engine").rglob("*.py"))
    importers = {p.relative_to(ROOT).as_posix() for p in files if imported_roots(p) & OPTIONAL_DASK}
    assert importers == DASK_MODULES


def test_the_window_and_an_in_memory_fit_load_no_dask() -> None:
    code = (
        "import sys, warnings, numpy as np\n"
        "import em_gui.main_window, em_gui.launcher, em_engine, em_engine.cli\n"
        "X = np.random.default_rng(0).normal(size=(50, 2))\n"
        "with warnings.catch_warnings(record=True):\n"
        "    model = em_engine.GaussianMixture(2, max_iter=3).fit(X)\n"
        "model.predict(X), model.score_samples(X), model.bic(X)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in "
        f"{sorted(OPTIONAL_DASK | {'pandas', 'pyarrow'})!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
