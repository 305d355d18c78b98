"""The 1-D view: for one-column data, a histogram of the data with each weighted component density
pi_k N(x | mu_k, sigma_k^2) and the mixture density p(x) drawn over it, each mean marked with its
+-1 sigma, and below it the responsibilities r_k(x) as stacked bands in the component colours.
With the truth shown (a synthetic preset), the true weighted densities are drawn dashed (dark
grey: the true components are not numbered as EM's).

The curves are the engine's (em_engine.bound.point_terms on a grid of GRID_POINTS values); the
histogram is the data binned for display (density-scaled, so that it is comparable with p(x)).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from em_engine.bound import point_terms
from em_engine.covariance import full_covariances
from em_gui.frames import Frame, Truth
from em_gui.palette import component_colors

__all__ = ["GRID_POINTS", "OneDView"]

GRID_POINTS = 400
_MAX_BINS = 60
_BAND_ALPHA = 170
#: The bands' plot (with its axis) at most this tall: the histogram gets the rest.
_BAND_HEIGHT = 110
#: The view's minimum height: the histogram readable, ticks apart.
_MIN_HEIGHT = 260


class OneDView(QtWidgets.QWidget):
    """Histogram, weighted component densities, mixture density and responsibility bands."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("oned_view")
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.ci.setContentsMargins(2, 2, 8, 2)
        self.density_plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        self.band_plot: pg.PlotItem = self.graphics.addPlot(row=1, col=0)
        self.band_plot.setMaximumHeight(_BAND_HEIGHT)
        self.band_plot.setXLink(self.density_plot)
        for plot in (self.density_plot, self.band_plot):
            plot.setMenuEnabled(False)
            plot.getAxis("left").setWidth(56)
            plot.getAxis("left").enableAutoSIPrefix(False)
        self.density_plot.setLabel("left", "density")
        self.band_plot.setLabel("left", "r<sub>k</sub>(x)")
        self.band_plot.setYRange(0.0, 1.0, padding=0.02)
        self.density_plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.histogram = pg.BarGraphItem(
            x0=[], x1=[], height=[], brush=(200, 200, 200), pen=(170, 170, 170)
        )
        self.density_plot.addItem(self.histogram)
        self.mixture_curve = self.density_plot.plot(
            pen=pg.mkPen(30, 30, 30, width=2.5), name="p(x)"
        )
        self.truth_curves: list[pg.PlotCurveItem] = []
        self._truth: Truth | None = None
        self.component_curves: list[pg.PlotDataItem] = []
        self.mean_lines: list[pg.InfiniteLine] = []
        self.sigma_bars: list[pg.ErrorBarItem] = []
        self.bands: list[pg.FillBetweenItem] = []
        self._band_edges: list[pg.PlotCurveItem] = []
        self.grid = np.empty(0)
        self.responsibilities = np.empty((0, 0))
        self.weighted = np.empty((0, 0))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.setMinimumHeight(_MIN_HEIGHT)
        self._data = None

    def _set_component_count(self, k: int) -> None:
        if len(self.component_curves) == k:
            return
        for item in self.component_curves + self.mean_lines + self.sigma_bars:
            self.density_plot.removeItem(item)
        for item in self.bands + self._band_edges:
            self.band_plot.removeItem(item)
        legend = self.density_plot.legend
        legend.clear()
        legend.addItem(self.mixture_curve, "p(x)")
        self.component_curves, self.mean_lines, self.sigma_bars = [], [], []
        self.bands, self._band_edges = [], []
        edges = [pg.PlotCurveItem(pen=pg.mkPen(0, 0, 0, 0)) for _ in range(k + 1)]
        for edge in edges:
            self.band_plot.addItem(edge)
        self._band_edges = edges
        for i, colour in enumerate(component_colors(k)):
            name = f"π<sub>{i + 1}</sub>𝒩<sub>{i + 1}</sub>"
            curve = self.density_plot.plot(pen=pg.mkPen(colour, width=2), name=name)
            line = pg.InfiniteLine(
                angle=90,
                movable=False,
                pen=pg.mkPen(colour, width=1.5, style=QtCore.Qt.PenStyle.DashLine),
            )
            bar = pg.ErrorBarItem(
                x=np.zeros(1), y=np.zeros(1), pen=pg.mkPen(colour, width=2), beam=0
            )
            self.density_plot.addItem(line, ignoreBounds=True)
            self.density_plot.addItem(bar)
            fill = QtGui.QColor(colour)
            fill.setAlpha(_BAND_ALPHA)
            band = pg.FillBetweenItem(edges[i], edges[i + 1], brush=fill)
            self.band_plot.addItem(band)
            self.component_curves.append(curve)
            self.mean_lines.append(line)
            self.sigma_bars.append(bar)
            self.bands.append(band)

    def show_frame(self, frame: Frame) -> None:
        """Draw ``frame`` (one-column data)."""
        snap, x = frame.snapshot, frame.data.X[:, 0]
        if frame.data is not self._data:
            self._data = frame.data
            self._show_histogram(x, frame.data.feature_names[0])
            self.show_truth(self._truth)  # on the new grid
        k = len(snap.weights)
        self._set_component_count(k)
        terms = point_terms(
            self.grid[:, None], snap.weights, snap.means, snap.covariances, snap.covariance_type
        )
        self.weighted, self.responsibilities = terms.weighted, terms.responsibilities
        self.mixture_curve.setData(self.grid, terms.density)
        variances = full_covariances(snap.covariances, snap.covariance_type, 1, k)[:, 0, 0]
        sigma = np.sqrt(variances)
        stacked = np.zeros(len(self.grid))
        self._band_edges[0].setData(self.grid, stacked)
        for i in range(k):
            self.component_curves[i].setData(self.grid, self.weighted[:, i])
            mean = float(snap.means[i, 0])
            self.mean_lines[i].setPos(mean)
            height = float(self.weighted[:, i].max()) * 0.6
            self.sigma_bars[i].setData(
                x=np.array([mean]),
                y=np.array([height]),
                left=sigma[i : i + 1],
                right=sigma[i : i + 1],
            )
            stacked = stacked + self.responsibilities[:, i]
            self._band_edges[i + 1].setData(self.grid, np.minimum(stacked, 1.0))

    @property
    def truth(self) -> Truth | None:
        """The truth drawn (None: none)."""
        return self._truth

    def show_truth(self, truth: Truth | None) -> None:
        """Draw the true weighted densities pi_k N(x | mu_k, sigma_k^2) dashed (None: none);
        ``truth`` holds (K,), (K, 1), (K, 1, 1) arrays."""
        self._truth = truth
        for item in self.truth_curves:
            self.density_plot.removeItem(item)
        self.truth_curves = []
        if truth is None or self.grid.size == 0:
            return
        terms = point_terms(
            self.grid[:, None], truth.weights, truth.means, truth.covariances, "full"
        )
        pen = pg.mkPen(40, 40, 40, width=2, style=QtCore.Qt.PenStyle.DashLine)
        for k in range(terms.weighted.shape[1]):
            item = pg.PlotCurveItem(self.grid, terms.weighted[:, k], pen=pen)
            item.setZValue(5)
            self.density_plot.addItem(item)
            self.truth_curves.append(item)

    def _show_histogram(self, x: np.ndarray, name: str) -> None:
        finite = x[np.isfinite(x)]
        lo, hi = float(finite.min()), float(finite.max())
        span = hi - lo if hi > lo else max(abs(lo), 1.0)
        bins = int(np.clip(np.sqrt(len(finite)), 10, _MAX_BINS))
        counts, edges = np.histogram(finite, bins=bins, range=(lo, lo + span), density=True)
        self.histogram.setOpts(x0=edges[:-1], x1=edges[1:], height=counts)
        margin = 0.08 * span
        self.grid = np.linspace(lo - margin, lo + span + margin, GRID_POINTS)
        self.density_plot.setXRange(self.grid[0], self.grid[-1], padding=0)
        self.density_plot.enableAutoRange(axis="y")
        self.band_plot.setLabel("bottom", name)
