"""EM Explorer's Qt application: the window, the EM worker thread, views, panels and dialogs.

``MainWindow`` is imported lazily, so that ``import em_gui`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MainWindow"]


def __getattr__(name: str) -> Any:
    if name == "MainWindow":
        from em_gui.main_window import MainWindow

        return MainWindow
    raise AttributeError(f"module 'em_gui' has no attribute {name!r}")
