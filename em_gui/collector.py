"""Python's cyclic garbage collector, run on the GUI thread only.

Automatic collection runs in whichever thread happens to allocate when a threshold is crossed: the
EM worker, a background job or Pillow's encoder. If the garbage then holds a Qt object (a closed
dialog in a reference cycle), its C++ destructor runs on that thread while the GUI thread may hold
Qt's locks and wait for the GIL: a deadlock (seen in the test suite) or a crash. So automatic
collection is switched off while the window runs, and a timer on the GUI thread collects each
generation when its count passes the usual threshold (pyqtgraph's GarbageCollector does the same).
Reference counting, which frees almost everything (numpy arrays included), is unaffected.
"""

from __future__ import annotations

import gc

from PySide6 import QtCore

__all__ = ["GuiThreadCollector"]

INTERVAL_MS = 500


class GuiThreadCollector(QtCore.QObject):
    """Switches automatic collection off until ``stop()``; collects on the GUI thread's timer."""

    def __init__(
        self, parent: QtCore.QObject | None = None, interval_ms: int = INTERVAL_MS
    ) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QtCore.QTimer(self)
        self._timer.setObjectName("gc_timer")
        self._timer.timeout.connect(self.collect_due)
        self._timer.start(interval_ms)

    def collect_due(self) -> int:
        """Collect the oldest generation whose count passed its threshold (with the younger
        ones), as automatic collection would; returns the number of unreachable objects."""
        counts = gc.get_count()
        due = -1
        for generation in range(3):
            if counts[generation] <= self._thresholds[generation]:
                break
            due = generation
        return gc.collect(due) if due >= 0 else 0

    def stop(self) -> None:
        """Stop the timer and give automatic collection back (if it was on)."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
