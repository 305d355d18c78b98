"""The history slider under the scatter plot: shows where the drawn frame is in the stored
history and, once the slider settles, asks to restore the iteration picked."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from em_gui.frames import Frame

__all__ = ["HistoryBar"]

SETTLE_MS = 30  # a restore is sent once the slider has rested this long


class HistoryBar(QWidget):
    """'History', the slider over stored iterations 0..n-1, and 'iteration i / n-1'.

    ``restore_requested(iteration, based_on)`` is emitted once the slider settles; ``based_on``
    is the generation of the frame whose history the position was picked from (None before
    any), so that a newer state can drop it when it no longer fits.
    """

    restore_requested = Signal(int, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("slider_history")
        self.slider.setToolTip("Go back to any stored iteration; stepping continues there")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._on_moved)
        self.label = QLabel("iteration 0 / 0")
        self.label.setMinimumWidth(130)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 0, 8, 4)
        row.addWidget(QLabel("History"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        self._shown_generation: int | None = None
        self._target: tuple[int, int | None] = (0, None)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(lambda: self.restore_requested.emit(*self._target))

    def show_position(self, frame: Frame) -> None:
        """Where ``frame`` is in its history (the slider is not moved while it is held)."""
        self._shown_generation = frame.generation
        last = max(frame.n_history - 1, 0)
        self.slider.blockSignals(True)
        self.slider.setRange(0, last)
        if not self.slider.isSliderDown():
            self.slider.setValue(frame.snapshot.iteration)
        self.slider.blockSignals(False)
        self.label.setText(f"iteration {frame.snapshot.iteration} / {last}")

    def restore_pending(self) -> bool:
        """True while a position picked is waiting for the slider to settle."""
        return self._timer.isActive()

    def stop(self) -> None:
        """Drop a restore not yet sent (the window is closing)."""
        self._timer.stop()

    def _on_moved(self, value: int) -> None:
        self._target = (value, self._shown_generation)
        self._timer.start()
