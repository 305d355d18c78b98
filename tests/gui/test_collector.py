"""Garbage is collected on the GUI thread only (em_gui.collector)."""

from __future__ import annotations

import gc
import threading
from typing import ClassVar

from PySide6 import QtCore, QtWidgets

from em_gui.collector import GuiThreadCollector


class _Cycle(QtWidgets.QWidget):
    """A widget in a reference cycle (only the cyclic collector frees it); records the thread
    its Python object is finalised on."""

    finalised_on: ClassVar[list[str]] = []

    def __init__(self) -> None:
        super().__init__()
        self.me = self

    def __del__(self) -> None:
        _Cycle.finalised_on.append(threading.current_thread().name)


def test_cycles_with_qt_objects_are_collected_on_the_gui_thread(qtbot) -> None:
    """Automatic collection is off (the session's collector): a thread that allocates a lot
    never collects; the timer on the GUI thread does, and stop() gives collection back."""
    assert not gc.isenabled()
    _Cycle.finalised_on.clear()
    _Cycle()  # unreachable at once, but in a cycle

    kept: list[list[object]] = []

    def allocate() -> None:  # tracked containers: far past the youngest generation's threshold
        kept.extend([] for _ in range(20 * gc.get_threshold()[0]))

    worker = threading.Thread(target=allocate, name="allocator")
    worker.start()
    worker.join()
    assert _Cycle.finalised_on == []
    qtbot.waitUntil(lambda: _Cycle.finalised_on == [threading.main_thread().name], timeout=5000)


def test_stop_gives_automatic_collection_back(qapp) -> None:
    gc.enable()
    try:
        collector = GuiThreadCollector(qapp)
        assert not gc.isenabled()
        timer = collector.findChild(QtCore.QTimer, "gc_timer")
        assert timer is not None and timer.isActive()
        collector.stop()
        assert gc.isenabled() and not timer.isActive()
    finally:
        gc.disable()  # the session's collector stays in charge
