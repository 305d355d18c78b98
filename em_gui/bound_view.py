"""Why EM climbs: log p(X | theta) and EM's lower bound per half-step, their gap (the KL
divergence) and, for synthetic data, the agreement of EM's labels with the true ones.

The E-step on theta_i is drawn at x = i, the M-step that made theta_i at x = i - 1/2. A soft
E-step closes the gap (the bound touches log p(X)); an M-step raises the bound and opens it again.
The numbers are the engine's (em_engine.session.BoundHistory, sent by the worker in History); the
readout gives them at the iteration shown.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from em_gui.convergence import informative_range
from em_gui.explain import gap_text, number
from em_gui.frames import History

__all__ = ["BoundView"]

_EVIDENCE = (0, 90, 160)
_BOUND = (213, 94, 0)
_KL = (120, 94, 240)
_ARI = (0, 140, 70)


def _plot(
    widget: pg.GraphicsLayoutWidget, row: int, col: int, title: str, span: int = 1
) -> pg.PlotItem:
    plot = widget.addPlot(row=row, col=col, colspan=span)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setTitle(title, size="8pt", color="#222")
    plot.getAxis("left").setWidth(50)
    plot.getAxis("left").enableAutoSIPrefix(False)
    plot.getAxis("bottom").enableAutoSIPrefix(False)
    plot.setMenuEnabled(False)
    plot.disableAutoRange(axis="y")  # see _fit: a wild start would flatten the rest
    return plot


def _fit(plot: pg.PlotItem, values: np.ndarray) -> None:
    """The y range of the informative part of ``values`` (convergence.informative_range)."""
    lo, hi, _ = informative_range(values)
    if np.isfinite(lo):
        pad = max(hi - lo, 1e-9 * max(abs(lo), abs(hi)), 1e-12) * 0.08
        plot.setYRange(lo - pad, hi + pad, padding=0)


class BoundView(QtWidgets.QWidget):
    """Bound, log-likelihood, KL and ARI per half-step (see the module docstring)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bound_view")
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.ci.setContentsMargins(2, 2, 8, 2)
        title = (
            f"<span style='color:rgb{_EVIDENCE}'>log p(X | θ)</span> and "
            f"<span style='color:rgb{_BOUND}'>EM's bound 𝓛</span>"
        )
        self.value_plot = _plot(self.graphics, 0, 0, title, span=2)
        self.kl_plot = _plot(self.graphics, 1, 0, "KL gap")
        self.ari_plot = _plot(self.graphics, 1, 1, "ARI (truth)")
        self.kl_plot.setXLink(self.value_plot)
        self.ari_plot.setXLink(self.value_plot)
        self.value_plot.setLabel("bottom", "iteration (M at i − ½)")
        for plot in (self.kl_plot, self.ari_plot):
            plot.getAxis("bottom").setStyle(showValues=False)
            plot.getAxis("bottom").setHeight(6)
        self.ari_plot.setYRange(-0.05, 1.05)
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        self.evidence_curve = self.value_plot.plot(pen=pg.mkPen(_EVIDENCE, width=2))
        self.bound_curve = self.value_plot.plot(
            pen=pg.mkPen(_BOUND, width=2, style=QtCore.Qt.PenStyle.DashLine),
            symbol="o",
            symbolSize=5,
            symbolPen=None,
            symbolBrush=_BOUND,
        )
        self.kl_curve = self.kl_plot.plot(
            pen=pg.mkPen(_KL, width=1.5),
            stepMode=None,
            symbol="s",
            symbolSize=4,
            symbolPen=None,
            symbolBrush=_KL,
        )
        self.ari_curve = self.ari_plot.plot(pen=pg.mkPen(_ARI, width=2))
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(120, 120, 120))
        self.value_plot.addItem(self.marker, ignoreBounds=True)
        self.readout = QtWidgets.QLabel("")
        self.readout.setObjectName("bound_readout")
        self.readout.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.readout.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.readout)
        self.setMinimumWidth(150)
        self._history: History | None = None
        self._iteration: int | None = None
        self._show_agreement = False
        self.graphics.removeItem(self.ari_plot)  # shown with the truth (set_show_agreement)

    def set_history(self, history: History) -> None:
        """Draw the bound, log p(X), KL and ARI of ``history``."""
        self._history = history
        bound = history.bound
        if bound is None or len(bound.half_steps) == 0:
            for curve in (self.evidence_curve, self.bound_curve, self.kl_curve):
                curve.setData([], [])
            # no numbers yet (new data before its first E-step): not the old data's range
            self.value_plot.setYRange(0.0, 1.0, padding=0)
            self.kl_plot.setYRange(0.0, 1e-3, padding=0)
        else:
            x = bound.half_steps / 2.0
            known = np.isfinite(bound.evidence)
            self.evidence_curve.setData(x[known], bound.evidence[known])
            self.bound_curve.setData(x, bound.bound)
            self.kl_curve.setData(x[known], bound.kl[known])
            # the bound's E-step values are log p(X), and log p(X) after an M-step lies below the
            # next E-step's: the bound and the newest log p(X) span the curves
            _fit(self.value_plot, np.concatenate([bound.bound, bound.evidence[-1:]]))
            kl = bound.kl[known]
            top = float(np.max(kl, initial=0.0))
            # rounding leaves |KL| ~ 1e-14 after an E-step: the axis starts at 0 and spans >= 1e-3
            self.kl_plot.setYRange(min(0.0, float(np.min(kl, initial=0.0))), max(top * 1.08, 1e-3))
        agreement = history.agreement
        if agreement is not None:
            self.ari_curve.setData(*agreement)
        else:
            self.ari_curve.setData([], [])
        last = 0.0 if bound is None or len(bound.half_steps) == 0 else bound.half_steps[-1] / 2
        self.value_plot.setXRange(-0.5, max(last, 1.0) + 0.5, padding=0)
        self._update_readout()

    def set_show_agreement(self, on: bool) -> None:
        """Show the ARI plot (with the truth toggle)."""
        if bool(on) == self._show_agreement:
            return
        self._show_agreement = bool(on)
        if on:
            self.graphics.addItem(self.ari_plot, row=1, col=1)
        else:
            self.graphics.removeItem(self.ari_plot)

    @property
    def shows_agreement(self) -> bool:
        """Whether the ARI plot is shown."""
        return self._show_agreement

    def mark_iteration(self, iteration: int) -> None:
        """Mark theta_iteration and give its numbers in the readout."""
        self._iteration = int(iteration)
        self.marker.setPos(iteration)
        self._update_readout()

    def _update_readout(self) -> None:
        history, i = self._history, self._iteration
        if history is None or i is None or history.bound is None:
            self.readout.setText("")
            return
        bound = history.bound
        parts = []
        for half, name in ((2 * i - 1, "after M"), (2 * i, "after E")):
            where = np.flatnonzero(bound.half_steps == half)
            if where.size:
                j = int(where[0])
                kl_text = gap_text(bound.evidence[j], bound.bound[j])
                parts.append(f"{name}: 𝓛 = {number(bound.bound[j], 7)}, KL = {kl_text}")
        if history.agreement is not None and self._show_agreement:
            iterations, values = history.agreement
            where = np.flatnonzero(iterations == i)
            if where.size:
                parts.append(f"ARI = {number(values[int(where[0])], 3)}")
        self.readout.setText(f"iteration {i}: " + "; ".join(parts) if parts else "")
