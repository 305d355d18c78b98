"""EM Explorer's Qt application: the window, the EM worker thread, views, panels and dialogs.

``MainWindow`` is imported lazily. ``em_gui.qt_compat`` is imported first, before any em_gui module
touches Qt: it guards against PySide6 6.12.0's lost references to None/True/False on Python 3.11.
"""

from __future__ import annotations

from typing import Any

from em_gui import qt_compat as _qt_compat  # noqa: F401  (side effect: the workaround)

__all__ = ["MainWindow"]


def __getattr__(name: str) -> Any:
    if name == "MainWindow":
        from em_gui.main_window import MainWindow

        return MainWindow
    raise AttributeError(f"module 'em_gui' has no attribute {name!r}")
