"""Convergence view: objective per iteration, the current one marked, |change| on a log scale."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

#: Up to this many iterations the curve also shows a symbol per value.
SYMBOL_LIMIT = 60
#: A leading value further from the rest than this many times the rest's span is off scale ...
OUTLIER_FACTOR = 100.0
#: ... for at most this many leading values, and only while at least MIN_REST values remain.
MAX_OFF_SCALE = 3
MIN_REST = 3
#: Tick labels get an offset (named in the axis label) once |value| / span reaches this.
OFFSET_RATIO = 1e3

_LINE = (0, 90, 160)
_CHANGE = (200, 80, 0)
_TOL = (0, 140, 70)
_TEXT = "#222"
_MARKER_PEN = pg.mkPen(120, 120, 120, width=1.5, style=QtCore.Qt.PenStyle.DashLine)


class _ValueAxis(pg.AxisItem):
    """Value axis whose tick labels are ``value - offset``: short even for large, close values."""

    offset = 0.0

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.logMode or not self.offset:
            return super().tickStrings(values, scale, spacing)
        return super().tickStrings([v - self.offset / scale for v in values], scale, spacing)


class _IterationAxis(pg.AxisItem):
    """Iteration axis: ticks only at whole iterations."""

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        levels = super().tickSpacing(minVal, maxVal, size)
        whole = [(s, o) for s, o in levels if s >= 1 and float(s).is_integer()]
        return whole or [(1.0, 0.0)]


def informative_range(values: np.ndarray) -> tuple[float, float, int]:
    """Value range of the finite ``values`` (M,) without up to MAX_OFF_SCALE leading outliers.

    A leading value is an outlier when its distance from the range of the values after it exceeds
    OUTLIER_FACTOR times that range (e.g. iteration 0 of a random initialisation at -1e10 before a
    curve from -7000 to -5600): drawn, it would flatten the rest of the curve to a line.

    Returns
    -------
    lo, hi : range of the values kept (NaN, NaN if there are no finite values)
    n_off : how many leading values were left out
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), 0
    skip = 0
    while skip < MAX_OFF_SCALE and v.size - skip - 1 >= MIN_REST:
        rest = v[skip + 1 :]
        lo, hi = rest.min(), rest.max()
        span = max(hi - lo, 1e-9 * max(abs(lo), abs(hi)), 1e-300)
        if max(lo - v[skip], v[skip] - hi) <= OUTLIER_FACTOR * span:
            break
        skip += 1
    return float(v[skip:].min()), float(v[skip:].max()), skip


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= value (value > 0)."""
    power = 10.0 ** np.floor(np.log10(value))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= value))


def _tick_offset(lo: float, hi: float) -> float:
    """A round offset for tick labels on [lo, hi] once they would need many digits, else 0."""
    span = hi - lo
    if not span > 0 or max(abs(lo), abs(hi)) / span < OFFSET_RATIO:
        return 0.0
    unit = 10.0 ** np.ceil(np.log10(span))
    return float(np.floor(lo / unit) * unit)


def _format_value(value: float) -> str:
    return f"{value:.10g}".replace("-", "\u2212")


class ConvergenceView(QtWidgets.QWidget):
    """Objective per iteration (every value, not only drawn frames) with a current-iteration marker.

    A second plot below, shown on demand, draws |objective_i - objective_(i-1)| on a log scale with
    the convergence threshold (see ``set_tolerance``). The objective's y range follows the
    informative part of the curve (see ``informative_range``) until the user pans or zooms; the
    plot's "A" button returns to it. A readout under the plots gives the exact value at the marked
    iteration.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._iterations = np.empty(0)
        self._values = np.empty(0)
        self._objective = "log-likelihood"
        self._symbols: str | None = None  # the curves start without symbols
        self._bounds: tuple[float, float, float, float] | None = None
        self._change_bounds: tuple[float, float] | None = None
        self._n_off = 0
        self._follow = True  # False once the user has moved the view
        self._marked: int | None = None
        self._threshold: float | None = None  # tol * n_samples
        self._tolerance: tuple[float | None, int] = (None, 1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.objective_plot: pg.PlotItem = self.graphics.addPlot(
            row=0,
            col=0,
            axisItems={"left": _ValueAxis("left"), "bottom": _IterationAxis("bottom")},
        )
        self.change_plot: pg.PlotItem = self.graphics.addPlot(
            row=1, col=0, axisItems={"bottom": _IterationAxis("bottom")}
        )
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        axis_width = self._axis_width()
        for plot in (self.objective_plot, self.change_plot):
            self._style(plot, axis_width)
            plot.sigRangeChangedManually.connect(self._on_manual_range)
        self.change_plot.setXLink(self.objective_plot)
        self.objective_plot.disableAutoRange()  # see _fit_range
        self.change_plot.setLogMode(x=False, y=True)
        self.change_plot.disableAutoRange()  # see _show_change_data
        self.change_plot.setLabel("left", "|change|", color=_TEXT)
        self.change_plot.setLabel("bottom", "iteration", color=_TEXT)
        self.objective_plot.setLabel("bottom", "iteration", color=_TEXT)
        self.objective_plot.getViewBox().sigYRangeChanged.connect(self._update_offset)

        self.curve = self.objective_plot.plot(
            pen=pg.mkPen(_LINE, width=2), symbolPen=None, symbolBrush=_LINE, symbolSize=6
        )
        self.change_curve = self.change_plot.plot(
            pen=pg.mkPen(_CHANGE, width=1.5), symbolPen=None, symbolBrush=_CHANGE, symbolSize=5
        )
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=_MARKER_PEN)
        self.change_marker = pg.InfiniteLine(angle=90, movable=False, pen=_MARKER_PEN)
        self.tol_line = pg.InfiniteLine(
            angle=0,
            movable=False,
            pen=pg.mkPen(_TOL, width=1.2, style=QtCore.Qt.PenStyle.DotLine),
            label="tol",
            labelOpts={"position": 0.03, "color": _TOL, "anchors": [(0, 1), (0, 1)]},
        )
        self.objective_plot.addItem(self.marker, ignoreBounds=True)
        self.change_plot.addItem(self.change_marker, ignoreBounds=True)
        self.change_plot.addItem(self.tol_line, ignoreBounds=True)
        for line in (self.marker, self.change_marker, self.tol_line):
            line.setVisible(False)

        self.show_change_box = QtWidgets.QCheckBox("Show |change| (log scale)")
        self.show_change_box.setToolTip(
            "Plot the absolute change of the objective between consecutive iterations"
        )
        self.show_change_box.toggled.connect(self.set_show_change)
        self.readout = QtWidgets.QLabel()
        self.readout.setObjectName("convergence_readout")
        self.readout.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        self.readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setToolTip(
            "Objective at the marked iteration (exact value), its change from the previous one,\n"
            "and how many early values lie below or above the plotted range (zoom out to see them)"
        )
        self.readout.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
        )
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(4, 0, 6, 0)
        row.addWidget(self.show_change_box)
        row.addWidget(self.readout, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(row)
        self._set_objective_label()
        self.set_show_change(False)

    def _axis_width(self) -> int:
        """One left-axis width for both plots, so their iteration axes line up."""
        metrics = QtGui.QFontMetrics(self.font())
        return metrics.horizontalAdvance("\u22128.88e+88") + metrics.height() + 6

    @staticmethod
    def _style(plot: pg.PlotItem, axis_width: int) -> None:
        plot.setMenuEnabled(False)  # no grid: its lines re-render with every range change (12 ms)
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(60, 60, 60))
            axis.setTextPen(pg.mkPen(40, 40, 40))
            axis.enableAutoSIPrefix(False)  # else the label is re-laid out per range change
        plot.getAxis("left").setWidth(axis_width)

    def _set_objective_label(self) -> None:
        offset = self.objective_plot.getAxis("left").offset
        text = self._objective
        if offset:
            sign = "+" if offset < 0 else "\u2212"
            text = f"{text} {sign} {abs(offset):.12g}"
        self.objective_plot.setLabel("left", text, color=_TEXT)

    def _update_offset(self, _view: pg.ViewBox, y_range: tuple[float, float]) -> None:
        axis = self.objective_plot.getAxis("left")
        offset = _tick_offset(*y_range)
        if offset != axis.offset:
            axis.offset = offset
            self._set_objective_label()  # also redraws the axis (tick labels are cached)

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
        shorter = iterations.size < self._iterations.size
        if shorter or not np.array_equal(values[:1], self._values[:1], equal_nan=True):
            self._follow = True  # a new fit: follow it again
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
            self._show_change_data()
        self._update_readout()

    def _fit_range(self) -> None:
        """Set the objective plot's range to "nice" bounds around the informative values.

        Only while following, and only when the bounds change: auto-range would move the axes at
        every new value, and pyqtgraph re-lays out an axis (a few ms each) whenever its range
        moves; rounded bounds stay put for many iterations.
        """
        lo, hi, self._n_off = informative_range(self._values)
        if not self._follow or not np.isfinite(lo):
            return
        finite = np.isfinite(self._values)
        x_hi = _nice_ceiling(max(float(self._iterations[finite].max()), 5.0))
        span = hi - lo if hi > lo else max(abs(hi) * 1e-3, 1e-9)
        step = _nice_ceiling(span / 10)  # a margin of 5-15 % of the span each side
        y_lo = np.floor((lo - 0.05 * span) / step) * step
        y_hi = np.ceil((hi + 0.05 * span) / step) * step
        bounds = (0.0, x_hi, y_lo, y_hi)
        if bounds != self._bounds:
            self._bounds = bounds
            self.objective_plot.setRange(
                xRange=(-0.02 * x_hi, 1.02 * x_hi), yRange=(y_lo, y_hi), padding=0
            )

    def _show_change_data(self) -> None:
        """Draw |change| and set the log axis to whole decades around it and the threshold."""
        x, delta = self.change()
        self.change_curve.setData(x, delta)
        if not self._follow:
            return
        shown = delta[np.isfinite(delta)]
        if self._threshold is not None:
            shown = np.r_[shown, self._threshold]
        if shown.size == 0:
            return
        logs = np.log10(shown)
        lo, hi = float(np.floor(logs.min())), float(np.ceil(logs.max()))
        bounds = (lo, max(hi, lo + 1.0))
        if bounds != self._change_bounds:
            self._change_bounds = bounds
            self.change_plot.setYRange(bounds[0] - 0.1, bounds[1] + 0.1, padding=0)

    def _on_manual_range(self) -> None:
        """The user moved a plot: stop following; the "A" button (auto-range) follows again."""
        auto = any(self.objective_plot.getViewBox().autoRangeEnabled()) or any(
            self.change_plot.getViewBox().autoRangeEnabled()
        )
        self._follow = auto
        if auto:
            self.follow()

    def follow(self) -> None:
        """Return both plots to the ranges chosen for the data (after the user panned or zoomed)."""
        self._follow = True
        self._bounds = self._change_bounds = None
        self.objective_plot.disableAutoRange()
        self.change_plot.disableAutoRange()
        self._fit_range()
        if self.show_change:
            self._show_change_data()
        self._update_readout()

    def change(self) -> tuple[np.ndarray, np.ndarray]:
        """Iterations (M-1,) and |value_i - value_(i-1)|; zeros become NaN (log axis)."""
        delta = np.abs(np.diff(self._values))
        delta[~(delta > 0)] = np.nan
        return self._iterations[1:], delta

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        """The (M,) iterations and values currently shown."""
        return self._iterations, self._values

    def off_scale(self) -> int:
        """How many leading values lie outside the y range chosen for the curve."""
        return self._n_off

    def mark_iteration(self, i: int | None) -> None:
        """Draw a vertical line at iteration ``i`` (None hides it)."""
        self._marked = i
        for line in (self.marker, self.change_marker):
            line.setVisible(i is not None)
            if i is not None:
                line.setValue(float(i))
        self._update_readout()

    def set_tolerance(self, tol: float | None, n_samples: int = 1) -> None:
        """Draw the convergence threshold on the |change| plot (None hides it).

        The session stops when |change| / n_samples < tol, so the line is at tol * n_samples.
        """
        if (tol, n_samples) == self._tolerance:
            return  # cheap to call per frame
        self._tolerance = (tol, n_samples)
        shown = tol is not None and tol > 0 and n_samples >= 1
        self._threshold = float(tol) * n_samples if shown else None
        self.tol_line.setVisible(shown)
        if shown:
            self.tol_line.setValue(np.log10(self._threshold))  # view coordinates are log10
            per = f" \u00d7 {n_samples:,} samples" if n_samples > 1 else ""
            text = f"tol {tol:g}{per}"
            self.tol_line.label.setFormat(text)
            self.tol_line.label.setText(text)  # setFormat skips a label that is not shown
        self._change_bounds = None
        if self.show_change:
            self._show_change_data()

    def _update_readout(self) -> None:
        """Exact value at the marked iteration (or the latest scored one before it)."""
        iterations, values = self._iterations, self._values
        if self._marked is not None:
            keep = iterations <= self._marked
            iterations, values = iterations[keep], values[keep]
        if iterations.size == 0:
            self.readout.setText("")
            return
        text = f"\u03b8{int(iterations[-1])}: {_format_value(values[-1])}"
        if values.size > 1 and np.isfinite(values[-1] - values[-2]):
            text += f"  |change| {abs(values[-1] - values[-2]):.3g}"
        if self._n_off and self._follow:
            text += f"  ({self._n_off} off scale)"
        if text != self.readout.text():
            self.readout.setText(text)

    def set_show_change(self, on: bool) -> None:
        """Show or hide the |change| plot (log scale) below the objective.

        Hidden, it leaves the layout, so the objective plot takes the whole view.
        """
        on = bool(on)
        layout = self.graphics.ci
        if on and self.change_plot not in layout.items:
            layout.addItem(self.change_plot, row=1, col=0)
            layout.layout.setRowStretchFactor(1, 2)
        elif not on and self.change_plot in layout.items:
            layout.removeItem(self.change_plot)
        layout.layout.activate()  # re-lay out now, not at the next event loop pass
        if on:
            self._show_change_data()
        self.change_plot.setVisible(on)
        self.objective_plot.getAxis("bottom").setLabel("" if on else "iteration")
        if self.show_change_box.isChecked() != on:
            self.show_change_box.setChecked(on)

    @property
    def show_change(self) -> bool:
        """Whether the |change| plot is shown."""
        return self.show_change_box.isChecked()
