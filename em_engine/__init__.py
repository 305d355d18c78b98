"""EM Explorer's numeric core: Gaussian mixtures fitted by EM, in pure numpy.

This package never imports Qt, pyqtgraph or em_gui (tests/packaging/test_architecture.py checks it).
Names are imported lazily so that the command line starts fast and loads only what it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

from em_engine._version import __version__
from em_engine.errors import (
    ConvergenceWarning,
    DataError,
    DensityUnderflowError,
    EMError,
    ModelFileError,
    NotFittedError,
    RowError,
)

_LAZY = {
    "GaussianMixture": "em_engine.mixture",
    "Prior": "em_engine.prior",
    "EMSession": "em_engine.session",
    "Snapshot": "em_engine.session",
    "save_model": "em_engine.modelio",
    "load_model": "em_engine.modelio",
    "read_csv": "em_engine.data",
    "read_table": "em_engine.tables",
    "cached_dataset": "em_engine.outofcore",
    "fit_out_of_core": "em_engine.outofcore",
    "Dataset": "em_engine.data",
    "make_preset": "em_engine.synthetic",
    "PRESETS": "em_engine.synthetic",
    "select_model": "em_engine.selection",
    "resource_path": "em_engine._resources",
}

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "DensityUnderflowError",
    "RowError",
    "EMError",
    "ModelFileError",
    "NotFittedError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'em_engine' has no attribute {name!r}")
