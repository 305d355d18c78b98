"""Convergence view: objective per iteration, the current one marked, |change| on a log scale."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

#: Up to this many iterations the curve also shows a symbol per value.
SYMBOL_LIMIT = 60

_LINE = (0, 90, 160)
_CHANGE = (200, 80, 0)


def _style_axes(plot: pg.PlotItem) -> None:
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(60, 60, 60))
        axis.setTextPen(pg.mkPen(40, 40, 40))
        axis.enableAutoSIPrefix(False)  # else the label is re-laid out per range change


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= value (value > 0)."""
    power = 10.0 ** np.floor(np.log10(value))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= value))


class ConvergenceView(QtWidgets.QWidget):
    """Objective per iteration (every value, not only drawn frames) with a current-iteration marker.

    A second plot below, shown on demand, draws |objective_i - objective_(i-1)| on a log scale.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._iterations = np.empty(0)
        self._values = np.empty(0)
        self._objective = "log-likelihood"
        self._symbols: str | None = None  # the curves start without symbols
        self._bounds: tuple[float, float, float, float] | None = None

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.objective_plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        self.change_plot: pg.PlotItem = self.graphics.addPlot(row=1, col=0)
        for plot in (self.objective_plot, self.change_plot):
            _style_axes(plot)
            plot.setMenuEnabled(False)
        self.change_plot.setXLink(self.objective_plot)
        self.objective_plot.disableAutoRange()  # see _fit_range
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        self.change_plot.setLogMode(x=False, y=True)
        self.change_plot.setLabel("left", "|change|", color="#222")
        self.change_plot.setLabel("bottom", "iteration", color="#222")
        self.objective_plot.setLabel("bottom", "iteration", color="#222")

        self.curve = self.objective_plot.plot(
            pen=pg.mkPen(_LINE, width=2), symbolPen=None, symbolBrush=_LINE, symbolSize=6
        )
        self.change_curve = self.change_plot.plot(
            pen=pg.mkPen(_CHANGE, width=1.5), symbolPen=None, symbolBrush=_CHANGE, symbolSize=5
        )
        self.marker = pg.InfiniteLine(
            angle=90,
            movable=False,
            pen=pg.mkPen(120, 120, 120, width=1.5, style=QtCore.Qt.DashLine),
        )
        self.change_marker = pg.InfiniteLine(
            angle=90,
            movable=False,
            pen=pg.mkPen(120, 120, 120, width=1.5, style=QtCore.Qt.DashLine),
        )
        self.objective_plot.addItem(self.marker, ignoreBounds=True)
        self.change_plot.addItem(self.change_marker, ignoreBounds=True)
        self.marker.setVisible(False)
        self.change_marker.setVisible(False)

        self.show_change_box = QtWidgets.QCheckBox("Show |change| per iteration (log scale)")
        self.show_change_box.setToolTip(
            "Plot the absolute change of the objective between consecutive iterations"
        )
        self.show_change_box.toggled.connect(self.set_show_change)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.graphics)
        layout.addWidget(self.show_change_box)
        self._set_objective_label()
        self.set_show_change(False)

    def _set_objective_label(self) -> None:
        self.objective_plot.setLabel("left", self._objective, color="#222")

    def set_history(self, iterations: np.ndarray, values: np.ndarray, objective: str) -> None:
        """Show the objective of every iteration so far.

        Parameters
        ----------
        iterations : (M,) iteration numbers
        values : (M,) objective values (NaN where unknown)
        objective : what the values are: "log-likelihood" or "log posterior"
        """
        iterations = np.asarray(iterations, dtype=np.float64).ravel()
        values = np.asarray(values, dtype=np.float64).ravel()
        if iterations.shape != values.shape:
            raise ValueError(f"set_history: {iterations.size} iterations but {values.size} values")
        self._iterations, self._values = iterations, values
        if objective != self._objective:
            self._objective = objective
            self._set_objective_label()
        symbols = "o" if values.size <= SYMBOL_LIMIT else None
        if symbols != self._symbols:  # re-rendering symbols is not free: only on a change
            self._symbols = symbols
            self.curve.setSymbol(symbols)
            self.change_curve.setSymbol(symbols)
        self.curve.setData(iterations, values)
        self._fit_range()
        if self.show_change:
            self.change_curve.setData(*self.change())

    def _fit_range(self) -> None:
        """Set the objective plot's range to "nice" bounds around the data, only when they change.

        Auto-range would move the axes at every new value, and pyqtgraph re-lays out an axis
        (a few ms each) whenever its range moves; rounded bounds stay put for many iterations.
        """
        finite = np.isfinite(self._values)
        if not finite.any():
            return
        x_hi = _nice_ceiling(max(float(self._iterations[finite].max()), 5.0))
        lo, hi = float(self._values[finite].min()), float(self._values[finite].max())
        span = hi - lo if hi > lo else max(abs(hi) * 1e-3, 1e-9)
        step = 10.0 ** np.floor(np.log10(span))
        y_lo, y_hi = np.floor(lo / step - 0.25) * step, np.ceil(hi / step + 0.25) * step
        bounds = (0.0, x_hi, y_lo, y_hi)
        if bounds != self._bounds:
            self._bounds = bounds
            self.objective_plot.setRange(
                xRange=(-0.02 * x_hi, x_hi), yRange=(y_lo, y_hi), padding=0
            )

    def change(self) -> tuple[np.ndarray, np.ndarray]:
        """Iterations (M-1,) and |value_i - value_(i-1)|; zeros become NaN (log axis)."""
        delta = np.abs(np.diff(self._values))
        delta[~(delta > 0)] = np.nan
        return self._iterations[1:], delta

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        """The (M,) iterations and values currently shown."""
        return self._iterations, self._values

    def mark_iteration(self, i: int | None) -> None:
        """Draw a vertical line at iteration ``i`` (None hides it)."""
        for line in (self.marker, self.change_marker):
            line.setVisible(i is not None)
            if i is not None:
                line.setValue(float(i))

    def set_show_change(self, on: bool) -> None:
        """Show or hide the |change| plot (log scale) below the objective."""
        on = bool(on)
        if on:
            self.change_curve.setData(*self.change())
        self.change_plot.setVisible(on)
        self.objective_plot.getAxis("bottom").setLabel("" if on else "iteration")
        if self.show_change_box.isChecked() != on:
            self.show_change_box.setChecked(on)

    @property
    def show_change(self) -> bool:
        """Whether the |change| plot is shown."""
        return self.show_change_box.isChecked()
