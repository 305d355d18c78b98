"""The status bar: an elided message (errors, notices, events) and the permanent fields (state,
iteration, phase, objective, convergence, time per step)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar

from em_gui.frames import CONVERGED, Frame

__all__ = ["PHASE_NAMES", "StatusFields", "StatusMessage"]

PHASE_NAMES = {"init": "initial", "e": "E-step", "m": "M-step", "edit": "edited"}
_FIELDS = (
    ("state", 80),
    ("iteration", 100),
    ("phase", 110),
    ("objective", 260),
    ("converged", 110),
    ("time", 110),
)


class StatusMessage(QLabel):
    """The status bar's message: elided to the room the permanent fields leave, the whole text in
    its tooltip (QStatusBar.showMessage cut long messages off without a sign)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("status_message")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._message = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self.show_message("", 0))

    def show_message(self, message: str, timeout_ms: int, detail: str | None = None) -> None:
        """Show ``message`` (one line) for ``timeout_ms`` (0: until the next one); the tooltip
        holds ``detail`` (default: the message)."""
        self._message = " ".join(message.split())
        self.setToolTip(detail or message)
        self._elide()
        if timeout_ms > 0:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def message(self) -> str:
        """The whole message shown now ('' when none)."""
        return self._message

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self._message, Qt.TextElideMode.ElideRight, self.width()))


class StatusFields:
    """The message and the permanent fields, added to ``bar``; ``labels`` by field name."""

    def __init__(self, bar: QStatusBar) -> None:
        self.message = StatusMessage()
        bar.addWidget(self.message, 1)
        self.labels: dict[str, QLabel] = {}
        for key, width in _FIELDS:
            label = QLabel()
            label.setObjectName(f"status_{key}")
            label.setMinimumWidth(width)
            bar.addPermanentWidget(label)
            self.labels[key] = label

    def show_message(self, message: str, timeout_ms: int, detail: str | None = None) -> None:
        """See StatusMessage.show_message."""
        self.message.show_message(message, timeout_ms, detail)

    def show_frame(self, frame: Frame) -> None:
        """The fields of ``frame``; its events (e.g. a collapsed component) as the message."""
        snap = frame.snapshot
        labels = self.labels
        labels["state"].setText(frame.state)
        labels["iteration"].setText(f"iteration {snap.iteration}")
        labels["phase"].setText(PHASE_NAMES.get(snap.phase, snap.phase))
        if snap.log_likelihood is None:
            labels["objective"].setText(f"{snap.objective}: not yet computed")
        else:
            labels["objective"].setText(
                f"{snap.objective} {snap.log_likelihood:.6g} (θ{snap.log_likelihood_iteration})"
            )
        labels["converged"].setText("converged" if snap.converged else "not converged")
        labels["time"].setText(f"{snap.elapsed * 1000:.3g} ms/step")
        if snap.events:
            self.show_message("; ".join(snap.events), 6000)

    def show_state(self, state: str) -> None:
        """The worker's state; 'converged' also as the message, which goes when it is no longer
        true (not left to contradict the state)."""
        self.labels["state"].setText(state)
        if state == CONVERGED:
            self.show_message("converged", 4000)
        elif self.message.message() == "converged":
            self.show_message("", 0)
