"""Fixtures shared by the GUI tests (Qt runs offscreen: see tests/conftest.py)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from em_gui import MainWindow
from em_gui.collector import GuiThreadCollector
from em_gui.scatter import ScatterView


@pytest.fixture(scope="session", autouse=True)
def gui_thread_collector(qapp):
    """Garbage collected on the GUI thread only, as in the app (em_gui.collector): a Qt object
    destroyed by a collection on the worker's or a background job's thread can deadlock."""
    collector = GuiThreadCollector(qapp)
    yield collector
    collector.stop()


@pytest.fixture
def settings(tmp_path) -> QSettings:
    """A private settings file: a test never reads or writes the user's."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def scatter(qtbot) -> ScatterView:
    """A shown scatter view, 700 x 520."""
    view = ScatterView()
    qtbot.addWidget(view)
    view.resize(700, 520)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.fixture
def window(qtbot, settings) -> MainWindow:
    """A shown window without data (1100 x 760); its error messages collect in ``errors``."""
    errors: list[str] = []
    w = MainWindow(settings=settings, error_sink=errors.append, load_default_data=False)
    w.errors = errors
    qtbot.addWidget(w)
    w.resize(1100, 760)
    w.show()
    qtbot.waitExposed(w)
    return w
