"""Convergence view: objective per iteration, the current one marked, |change| on a log scale."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from em_gui.axes import (
    LABEL_GAP,
    IterationAxis,
    ValueAxis,
    format_offset,
    format_value,
    nice_ceiling,
    round_up,
    short_number,
)

#: Up to this many iterations the curve also shows a symbol per value.
SYMBOL_LIMIT = 60
#: The start (iteration 0) is off scale when it lies further from the rest than this many times the
#: rest's span: drawn, it would take most of the plot's height ...
START_FACTOR = 1.0
#: ... and a later leading value when further than this many times (a random start's blow-ups) ...
OUTLIER_FACTOR = 100.0
#: ... for at most this many leading values, and only while at least MIN_REST values remain.
MAX_OFF_SCALE = 3
MIN_REST = 3
#: Choices of the objective's scale: what the values are divided by.
SCALES = ("Total", "Per sample")

_LINE = (0, 90, 160)
_CHANGE = (200, 80, 0)
_TOL = (0, 140, 70)
_TEXT = "#222"
_TITLE_SIZE = "9pt"
_MARKER_PEN = pg.mkPen(120, 120, 120, width=1.5, style=QtCore.Qt.PenStyle.DashLine)


def informative_range(values: np.ndarray) -> tuple[float, float, int]:
    """Value range of the finite ``values`` (M,) without up to MAX_OFF_SCALE leading outliers.

    The start is an outlier when its distance from the range of the values after it exceeds
    START_FACTOR times that range (a k-means start below a curve that then gains little); a later
    leading value when it exceeds OUTLIER_FACTOR times (a random start's -1e10 before -7000).
    Drawn, they would flatten the rest of the curve to a line.

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
        factor = START_FACTOR if skip == 0 else OUTLIER_FACTOR
        if max(lo - v[skip], v[skip] - hi) <= factor * span:
            break
        skip += 1
    return float(v[skip:].min()), float(v[skip:].max()), skip


class ConvergenceView(QtWidgets.QWidget):
    """Objective per iteration (every value, not only drawn frames) with a current-iteration marker.

    The objective is shown in total or per sample (``set_per_sample``; N from ``set_tolerance``).
    A second plot below, shown on demand, draws |objective_i - objective_(i-1)| on a log scale with
    the convergence threshold. The objective's y range follows the informative part of the curve
    (see ``informative_range``) until the user pans or zooms; the plot's "A" button returns to it.
    Leading values below or above that range are marked by an arrow at the plot's edge with their
    value. A readout under the plots gives the exact value at the marked iteration.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._iterations = np.empty(0)
        self._totals = np.empty(0)  # as given to set_history
        self._shown = np.empty(0)  # as drawn: totals, or totals / N
        self._objective = "log-likelihood"
        self._symbols: str | None = None  # the curves start without symbols
        self._bounds: tuple[float, float, float, float] | None = None
        self._change_bounds: tuple[float, float] | None = None
        self._n_off = 0
        self._follow = True  # False once the user has moved the view
        self._marked: int | None = None
        self._tolerance: tuple[float | None, int] = (None, 1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.ci.setContentsMargins(2, 2, 8, 2)  # the height is scarce under the scatter
        self.objective_plot: pg.PlotItem = self.graphics.addPlot(
            row=0,
            col=0,
            axisItems={"left": ValueAxis("left"), "bottom": IterationAxis("bottom")},
        )
        self.change_plot: pg.PlotItem = self.graphics.addPlot(
            row=1, col=0, axisItems={"left": ValueAxis("left"), "bottom": IterationAxis("bottom")}
        )
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        for plot in (self.objective_plot, self.change_plot):
            self._style(plot)
            plot.sigRangeChangedManually.connect(self._on_manual_range)
        self.change_plot.setXLink(self.objective_plot)
        self.objective_plot.disableAutoRange()  # see _fit_range
        self.change_plot.setLogMode(x=False, y=True)
        self.change_plot.disableAutoRange()  # see _show_change_data
        self.change_plot.setLabel("bottom", "iteration", color=_TEXT)
        self.objective_plot.setLabel("bottom", "iteration", color=_TEXT)
        self.objective_plot.getViewBox().sigYRangeChanged.connect(self._place_off_scale)
        self.objective_plot.getViewBox().sigResized.connect(self._place_off_scale)

        self.curve = self.objective_plot.plot(
            pen=pg.mkPen(_LINE, width=2), symbolPen=None, symbolBrush=_LINE, symbolSize=6
        )
        self.change_curve = self.change_plot.plot(
            pen=pg.mkPen(_CHANGE, width=1.5), symbolPen=None, symbolBrush=_CHANGE, symbolSize=5
        )
        self.off_scale_marks = pg.ScatterPlotItem(size=11, pen=None, brush=pg.mkBrush(_LINE))
        self.off_scale_label = pg.TextItem(color=_LINE, fill=pg.mkBrush(255, 255, 255, 210))
        # said while nothing is scored yet (a new fit at iteration 0)
        self.empty_hint = pg.TextItem(color=(110, 110, 110), anchor=(0.5, 0.5))
        self.objective_plot.addItem(self.empty_hint, ignoreBounds=True)
        self.empty_hint.setPos(2.5, 0.5)
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=_MARKER_PEN)
        self.change_marker = pg.InfiniteLine(angle=90, movable=False, pen=_MARKER_PEN)
        self.tol_line = pg.InfiniteLine(
            angle=0,
            movable=False,
            pen=pg.mkPen(_TOL, width=1.2, style=QtCore.Qt.PenStyle.DotLine),
            label="tol",
            labelOpts={"position": 0.03, "color": _TOL, "anchors": [(0, 0), (0, 1)]},
        )
        for item in (self.marker, self.off_scale_marks, self.off_scale_label):
            self.objective_plot.addItem(item, ignoreBounds=True)
        self.off_scale_label.setZValue(10)  # above the curve
        self.change_plot.addItem(self.change_marker, ignoreBounds=True)
        self.change_plot.addItem(self.tol_line, ignoreBounds=True)
        for item in (self.marker, self.change_marker, self.tol_line, self.off_scale_label):
            item.setVisible(False)

        self.show_change_box = QtWidgets.QCheckBox("Show |change| (log scale)")
        self.show_change_box.setToolTip(
            "Plot the absolute change of the objective between consecutive iterations"
        )
        self.show_change_box.toggled.connect(self.set_show_change)
        self.scale_box = QtWidgets.QComboBox()
        self.scale_box.setObjectName("convergence_scale")
        self.scale_box.addItems(list(SCALES))
        self.scale_box.setToolTip(
            "Plot the objective summed over all samples, or divided by their number N\n"
            "(convergence is tested on the change per sample)"
        )
        self.scale_box.currentIndexChanged.connect(lambda i: self.set_per_sample(i == 1))
        self.readout = QtWidgets.QLabel()
        self.readout.setObjectName("convergence_readout")
        self.readout.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        self.readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setToolTip(
            "Objective at the marked iteration (exact value, in the chosen scale)\n"
            "and its change from the previous one"
        )
        self.readout.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
        )
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(4, 0, 6, 0)
        row.addWidget(self.show_change_box)
        row.addWidget(self.scale_box)
        row.addWidget(self.readout, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(row)
        # One line of text above both plots names the values (a vertical label gets clipped).
        self.objective_plot.setTitle("", justify="left", color=_TEXT, size=_TITLE_SIZE)
        height = QtGui.QFontMetrics(self.objective_plot.titleLabel.item.font()).height() + 2
        self.objective_plot.titleLabel.setMaximumHeight(height)
        self.objective_plot.layout.setRowFixedHeight(0, height)
        self.objective_plot.getAxis("left").offset_changed = self._update_title
        self._update_title()
        self.set_show_change(False)

    @staticmethod
    def _style(plot: pg.PlotItem) -> None:
        """Axis colours and no menu."""
        plot.setMenuEnabled(False)  # no grid: its lines re-render with every range change (12 ms)
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(60, 60, 60))
            axis.setTextPen(pg.mkPen(40, 40, 40))
            axis.enableAutoSIPrefix(False)  # else the label is re-laid out per range change

    def _quantity(self) -> str:
        return f"{self._objective} per sample" if self.per_sample else self._objective

    def _update_title(self) -> None:
        """Name the objective, its tick offset, and the |change| plot when it is shown."""
        axis = self.objective_plot.getAxis("left")
        text = self._quantity()
        if axis.offset:
            sign = "+" if axis.offset < 0 else "\u2212"
            text = f"{text} {sign} {format_offset(axis.offset, axis.offset_unit)}"
        if self.show_change:
            text += " \u00b7 below: |change|" + (" per sample" if self.per_sample else "")
        self.objective_plot.setTitle(text)

    def title(self) -> str:
        """The title above the plots as shown."""
        return self.objective_plot.titleLabel.text

    def set_history(self, iterations: np.ndarray, values: np.ndarray, objective: str) -> None:
        """Show the objective of every iteration so far.

        Parameters
        ----------
        iterations : (M,) iteration numbers
        values : (M,) objective values summed over the samples (NaN where unknown)
        objective : what the values are: "log-likelihood" or "log posterior"
        """
        iterations = np.asarray(iterations, dtype=np.float64).ravel()
        values = np.asarray(values, dtype=np.float64).ravel()
        if iterations.shape != values.shape:
            raise ValueError(f"set_history: {iterations.size} iterations but {values.size} values")
        shorter = iterations.size <= 1 or iterations.size < self._iterations.size
        if shorter or not np.array_equal(values[:1], self._totals[:1], equal_nan=True):
            self._refollow()  # a new fit or new data: fit the ranges to it again
        self._iterations, self._totals = iterations, values
        if objective != self._objective:
            self._objective = objective
            self._update_title()
        symbols = "o" if values.size <= SYMBOL_LIMIT else None
        if symbols != self._symbols:  # re-rendering symbols is not free: only on a change
            self._symbols = symbols
            self.curve.setSymbol(symbols)
            self.change_curve.setSymbol(symbols)
        self._redraw()

    def _redraw(self) -> None:
        """Draw the values in the chosen scale, fit the ranges, mark off-scale values."""
        n_samples = self._tolerance[1] if self.per_sample else 1
        self._shown = self._totals / n_samples
        self.curve.setData(self._iterations, self._shown)
        self._fit_range()
        if self.show_change:
            self._show_change_data()
        self._place_off_scale()
        self._update_readout()

    def _refollow(self) -> None:
        """Follow the data again: the next fit sets the ranges even if they look unchanged."""
        self._follow = True
        self._bounds = self._change_bounds = None

    def _fit_range(self) -> None:
        """Set the objective plot's range to "nice" bounds around the informative values.

        Only while following, and only when the bounds change: auto-range would move the axes at
        every new value, and pyqtgraph re-lays out an axis (a few ms each) whenever its range
        moves; rounded bounds stay put for many iterations.
        """
        lo, hi, self._n_off = informative_range(self._shown)
        if not self._follow:
            return
        scored = np.isfinite(lo)
        self.empty_hint.setVisible(not scored)
        if not scored:  # nothing scored yet (new data): an empty, neutral plot that says why
            self.empty_hint.setText(
                f"The {self._quantity()} of each iteration\nappears here after its E-step"
            )
            bounds = (0.0, 5.0, 0.0, 1.0)
        else:
            finite = np.isfinite(self._shown)
            x_hi = round_up(max(float(self._iterations[finite].max()), 5.0))
            span = hi - lo if hi > lo else (abs(hi) * 1e-2 or 1.0)  # one value: +-1 %
            step = nice_ceiling(span / 10)  # a margin of 5-15 % of the span each side
            y_lo = math.floor((lo - 0.05 * span) / step) * step
            y_hi = math.ceil((hi + 0.05 * span) / step) * step
            bounds = (0.0, x_hi, y_lo, y_hi)
        if bounds != self._bounds:
            self._bounds = bounds
            x_hi = bounds[1]
            self.objective_plot.setRange(
                xRange=(-0.02 * x_hi, 1.02 * x_hi), yRange=bounds[2:], padding=0
            )

    def _place_off_scale(self, *_args: object) -> None:
        """Mark leading values left off the y range by an arrow at the plot's edge, with values."""
        box = self.objective_plot.getViewBox()
        (_x_lo, x_hi), (y_lo, y_hi) = box.viewRange()
        px, py = box.viewPixelSize()
        index = np.flatnonzero(np.isfinite(self._shown))[: self._n_off]
        spots, texts = [], []
        for i in index:
            value = self._shown[i]
            if y_lo <= value <= y_hi:
                continue  # zoomed out: the value itself is in view
            below = value < y_lo
            y = y_lo + 7 * py if below else y_hi - 7 * py
            spots.append({"pos": (self._iterations[i], y), "symbol": "t" if below else "t1"})
            # enough digits to tell the value from those in view (4 to 10)
            digits = math.floor(math.log10(abs(value) or 1.0)) - math.floor(math.log10(y_hi - y_lo))
            label = short_number(value, int(np.clip(digits + 2, 4, 10)))
            texts.append(f"\u03b8{int(self._iterations[i])} {label}")
        self.off_scale_marks.setData(spots)
        self.off_scale_label.setVisible(bool(spots))
        if spots:  # in the corner on the arrows' side, where a rising curve leaves room
            below = spots[0]["symbol"] == "t"
            self.off_scale_label.setText(("\u2193 " if below else "\u2191 ") + ", ".join(texts))
            self.off_scale_label.setAnchor((1, 1) if below else (1, 0))
            self.off_scale_label.setPos(x_hi - 4 * px, y_lo if below else y_hi)

    def off_scale_text(self) -> str:
        """The label of the off-scale values ("" when none is shown)."""
        return (
            self.off_scale_label.textItem.toPlainText() if self.off_scale_label.isVisible() else ""
        )

    def _threshold(self) -> float | None:
        """The convergence threshold in the plotted scale: tol per sample, tol * N in total."""
        tol, n_samples = self._tolerance
        if tol is None or not tol > 0:
            return None
        return float(tol) if self.per_sample else float(tol) * n_samples

    def _show_change_data(self) -> None:
        """Draw |change| and set the log axis to whole decades around it and the threshold."""
        x, delta = self.change()
        self.change_curve.setData(x, delta)
        if not self._follow:
            return
        shown = delta[np.isfinite(delta)]
        threshold = self._threshold()
        if threshold is not None:
            shown = np.r_[shown, threshold]
        if shown.size == 0:
            return
        logs = np.log10(shown)
        lo, hi = float(np.floor(logs.min())), float(np.ceil(logs.max()))
        bounds = (lo, max(hi, lo + 1.0))
        if bounds != self._change_bounds:
            self._change_bounds = bounds
            # the end decades' labels half a text height inside: the top one would overlap the
            # objective plot's axis
            axis = self.change_plot.getAxis("left")
            per_decade = axis.geometry().height() / (bounds[1] - bounds[0] + 0.2)
            half_text = axis.gap() / LABEL_GAP / 2
            pad = max(0.1, half_text / per_decade) if per_decade > half_text else 0.1
            self.change_plot.setYRange(bounds[0] - pad, bounds[1] + pad, padding=0)

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
        self._refollow()
        self.objective_plot.disableAutoRange()
        self.change_plot.disableAutoRange()
        self._redraw()

    def change(self) -> tuple[np.ndarray, np.ndarray]:
        """Iterations (M-1,) and |value_i - value_(i-1)| as plotted; zeros become NaN (log axis)."""
        delta = np.abs(np.diff(self._shown))
        delta[~(delta > 0)] = np.nan
        return self._iterations[1:], delta

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        """The (M,) iterations and objective values (totals) given to ``set_history``."""
        return self._iterations, self._totals

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

        The session stops when |change| / n_samples < tol: the line is at tol per sample, or at
        tol * n_samples when the total is shown. ``n_samples`` is also the N of "per sample".
        """
        if (tol, n_samples) == self._tolerance:
            return  # cheap to call per frame
        new_n = n_samples != self._tolerance[1]
        self._tolerance = (tol, max(int(n_samples), 1))
        self._update_tol_line()
        if new_n and self.per_sample:
            self._refollow()
            self._redraw()
        elif self.show_change:
            self._change_bounds = None
            self._show_change_data()

    def _update_tol_line(self) -> None:
        threshold = self._threshold()
        self.tol_line.setVisible(threshold is not None)
        if threshold is None:
            return
        tol, n_samples = self._tolerance
        self.tol_line.setValue(math.log10(threshold))  # view coordinates are log10
        per = "" if self.per_sample or n_samples == 1 else f" \u00d7 {n_samples:,} samples"
        text = f"tol {tol:g}{per}"
        self.tol_line.label.setFormat(text)
        self.tol_line.label.setText(text)  # setFormat skips a label that is not shown

    def set_per_sample(self, on: bool) -> None:
        """Plot the objective per sample (total / N) instead of the total, or back."""
        on = bool(on)
        if self.scale_box.currentIndex() != int(on):
            self.scale_box.setCurrentIndex(int(on))  # calls back here
            return
        self._update_title()
        self._update_tol_line()
        self._refollow()
        self._redraw()

    @property
    def per_sample(self) -> bool:
        """Whether the objective is plotted per sample (total / N)."""
        return self.scale_box.currentIndex() == 1

    def _update_readout(self) -> None:
        """Exact value at the marked iteration (or the latest scored one before it)."""
        iterations, values = self._iterations, self._shown
        if self._marked is not None:
            keep = iterations <= self._marked
            iterations, values = iterations[keep], values[keep]
        if iterations.size == 0:
            self.readout.setText("")
            return
        text = f"\u03b8{int(iterations[-1])}: {format_value(values[-1])}"
        if values.size > 1 and np.isfinite(values[-1] - values[-2]):
            text += f"  |change| {abs(values[-1] - values[-2]):.3g}"
        if text != self.readout.text():  # (off-scale values are marked in the plot)
            self.readout.setText(text)

    def set_show_change(self, on: bool) -> None:
        """Show or hide the |change| plot (log scale) below the objective.

        Hidden, it leaves the layout, so the objective plot takes the whole view; shown, the
        objective's iteration axis leaves its labels to the |change| plot's.
        """
        on = bool(on)
        layout = self.graphics.ci
        if on and self.change_plot not in layout.items:
            layout.addItem(self.change_plot, row=1, col=0)
            layout.layout.setRowStretchFactor(1, 2)
        elif not on and self.change_plot in layout.items:
            layout.removeItem(self.change_plot)
        bottom = self.objective_plot.getAxis("bottom")
        bottom.setStyle(showValues=not on)
        bottom.setLabel("" if on else "iteration")
        bottom.showLabel(not on)
        layout.layout.activate()  # re-lay out now, not at the next event loop pass
        if on:
            self._show_change_data()
        self.change_plot.setVisible(on)
        if self.show_change_box.isChecked() != on:
            self.show_change_box.setChecked(on)
        self._update_title()

    @property
    def show_change(self) -> bool:
        """Whether the |change| plot is shown."""
        return self.show_change_box.isChecked()
