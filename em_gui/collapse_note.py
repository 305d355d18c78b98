"""Collapse, shown: a note above the plot when a component collapses.

Two cases come from the engine: a component the collapse policy re-initialised (its events, e.g.
"component 3 collapsed (weight 2.1e-09) and was re-initialised at data point 18"), and a
component maximum likelihood has shrunk onto a few points (``Snapshot.narrow``: its smallest
variance a tiny fraction of the data's; only reg_covar holds it up, and the policy leaves it).
The note says which, what the policy did, and offers the remedies side by side as buttons that
start a new fit with that one setting changed: a MAP prior, a larger reg_covar, one component
fewer, diagonal covariances.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6 import QtCore, QtWidgets

from em_gui.explain import number
from em_gui.frames import FitSettings, Frame

__all__ = ["CollapseNote", "remedies"]

#: reg_covar offered as a remedy: at least this, and 100 times the current one.
REMEDY_REG_COVAR = 1e-2


def remedies(settings: FitSettings) -> list[tuple[str, str, FitSettings]]:
    """(button text, tooltip, settings) of each remedy that changes ``settings``."""
    options = []
    if not settings.prior and settings.mode != "kmeans":
        options.append(
            (
                "MAP prior",
                "A conjugate prior adds pseudo-points to every covariance: it cannot shrink "
                "to zero",
                replace(settings, prior=True),
            )
        )
    reg = max(REMEDY_REG_COVAR, 100 * settings.reg_covar)
    options.append(
        (
            f"reg_covar = {reg:g}",
            "A larger floor under every variance",
            replace(settings, reg_covar=reg),
        )
    )
    if settings.n_components > 1:
        options.append(
            (
                f"K = {settings.n_components - 1}",
                "One component fewer: none left over to sit on a few points",
                replace(settings, n_components=settings.n_components - 1),
            )
        )
    if settings.covariance_type == "full":
        options.append(
            (
                "diagonal covariance",
                "Axis-aligned ellipses: fewer parameters to fit to a few points",
                replace(settings, covariance_type="diag"),
            )
        )
    return options


class CollapseNote(QtWidgets.QFrame):
    """The note (hidden while nothing collapsed); ``remedy_chosen(FitSettings)`` when a remedy's
    button is pressed."""

    remedy_chosen = QtCore.Signal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("collapse_note")
        self.setStyleSheet(
            "#collapse_note{background:#fff4e5;border:1px solid #e0a040;border-radius:4px;}"
        )
        self.text = QtWidgets.QLabel("")
        self.text.setObjectName("collapse_text")
        self.text.setWordWrap(True)
        self.text.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self._buttons = QtWidgets.QHBoxLayout()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.text)
        layout.addLayout(self._buttons)
        self.buttons: list[QtWidgets.QPushButton] = []
        self._settings: FitSettings | None = None
        self.setVisible(False)

    def show_frame(self, frame: Frame) -> None:
        """Show the note for ``frame`` (or hide it when nothing collapsed)."""
        snap = frame.snapshot
        events = [e for e in snap.events if "collapsed" in e or "unusable" in e]
        narrow = snap.narrow if snap.iteration > 0 else ()  # a narrow start is no collapse
        if not events and not narrow:
            self.setVisible(False)
            return
        lines = []
        if narrow:
            counts = None if snap.labels is None else snap.labels
            for k, fraction in narrow:
                held = "" if counts is None else f" ({int((counts == k).sum())}, ringed in red)"
                lines.append(
                    f"<b>Component {k + 1} has collapsed</b> onto a few points{held}: its "
                    f"smallest variance is {number(fraction, 2)} of the data's."
                )
            lines.append(
                "Maximum likelihood rewards this without bound: a Gaussian on one point has "
                "an infinite density there. Only reg_covar holds the variance up; the collapse "
                "policy acts only when a covariance becomes singular or a component holds less "
                "than one point."
            )
        for event in events:
            lines.append(f"<b>The collapse policy:</b> {event}.")
        self.text.setText("<br>".join(lines) + "<br>Remedies (each starts a new fit):")
        if frame.settings != self._settings:
            self._settings = frame.settings
            self._show_remedies(frame.settings)
        self.setVisible(True)

    def _show_remedies(self, settings: FitSettings) -> None:
        while self._buttons.count():
            widget = self._buttons.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.buttons = []
        for text, tip, remedy in remedies(settings):
            button = QtWidgets.QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, r=remedy: self.remedy_chosen.emit(r))
            self._buttons.addWidget(button)
            self.buttons.append(button)
        self._buttons.addStretch(1)
