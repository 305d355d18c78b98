"""Point inspector: one data point's E-step, and pinned points' responsibilities over the history.

A click on the plot (when "Add points" is off) selects the nearest point. The inspector shows its
responsibilities as bars in the component colours, a table of the weighted densities
pi_k N(x | mu_k, Sigma_k) behind them (and their logs), and its log density log p(x); all from
em_engine.bound.point_terms on the parameters drawn. "Pin" keeps a point: the worker sends the
pinned points' responsibilities under every stored parameter set (em_engine.bound.
responsibility_trace), drawn below, one line per point and component (the component's colour, a
dash pattern per point).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from em_engine.bound import PointTerms, point_terms
from em_gui.explain import file_row, number
from em_gui.frames import Frame, PointTrace
from em_gui.palette import component_colors

__all__ = ["MAX_PINNED", "InspectorPanel"]

#: At most this many pinned points (then the oldest is dropped).
MAX_PINNED = 4
_DASHES = (
    QtCore.Qt.PenStyle.SolidLine,
    QtCore.Qt.PenStyle.DashLine,
    QtCore.Qt.PenStyle.DotLine,
    QtCore.Qt.PenStyle.DashDotLine,
)
_NO_POINT = "Click a point on the plot to inspect it."
_COLUMNS = ("k", "π_k 𝒩_k", "log π_k 𝒩_k", "r_k")
_COLUMN_TIPS = ("component", "π_k 𝒩(x | μ_k, Σ_k)", "its natural log", "responsibility")


class InspectorPanel(QtWidgets.QWidget):
    """The point inspector (see the module docstring). ``pins_changed(list)`` carries the pinned
    rows (0-based) whenever they change."""

    pins_changed = QtCore.Signal(list)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector_panel")
        self._frame: Frame | None = None
        self._row: int | None = None
        self._pinned: list[int] = []
        self.terms: PointTerms | None = None  # the shown point's numbers (engine's)
        self.title = QtWidgets.QLabel(_NO_POINT)
        self.title.setWordWrap(True)
        self.bars_plot = pg.PlotWidget()
        self.bars_plot.setBackground("w")
        self.bars_plot.setMinimumHeight(90)
        self.bars_plot.setYRange(0.0, 1.0)
        self.bars_plot.setMouseEnabled(False, False)
        self.bars_plot.hideButtons()
        self.bars_plot.setLabel("left", "r<sub>k</sub>")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.bars_plot.addItem(self.bars)
        self.table = QtWidgets.QTableWidget(0, len(_COLUMNS))
        self.table.setObjectName("inspector_table")
        self.table.setHorizontalHeaderLabels(list(_COLUMNS))
        for c, tip in enumerate(_COLUMN_TIPS):
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.ResizeToContents
        )
        self.density_label = QtWidgets.QLabel("")
        self.density_label.setObjectName("inspector_density")
        self.button_pin = QtWidgets.QPushButton("Pin")
        self.button_pin.setObjectName("button_pin")
        self.button_pin.setToolTip("Follow this point's responsibilities across the history")
        self.button_clear = QtWidgets.QPushButton("Unpin all")
        self.button_clear.setObjectName("button_unpin")
        self.pinned_label = QtWidgets.QLabel("No pinned points.")
        self.trace_plot = pg.PlotWidget()
        self.trace_plot.setBackground("w")
        self.trace_plot.setMinimumHeight(110)
        self.trace_plot.setYRange(0.0, 1.0)
        self.trace_plot.setLabel("bottom", "iteration")
        self.trace_plot.setLabel("left", "r<sub>k</sub>")
        self.trace_curves: list[pg.PlotDataItem] = []
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.button_pin)
        buttons.addWidget(self.button_clear)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.bars_plot, 1)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.density_label)
        layout.addLayout(buttons)
        layout.addWidget(self.pinned_label)
        layout.addWidget(self.trace_plot, 1)
        self.button_pin.clicked.connect(self.pin)
        self.button_clear.clicked.connect(self.unpin_all)

    # ------------------------------------------------------------------ selection
    @property
    def row(self) -> int | None:
        """The inspected row (0-based), or None."""
        return self._row

    @property
    def pinned(self) -> list[int]:
        """The pinned rows (0-based), oldest first."""
        return list(self._pinned)

    def select_point(self, row: int) -> None:
        """Inspect data row ``row`` (0-based)."""
        self._row = int(row)
        self._redraw()

    def forget_point(self) -> None:
        """Drop the selection and the pins (new data: its rows are other points)."""
        self._row = None
        if self._pinned:
            self.unpin_all()
        self._redraw()

    def pin(self) -> None:
        """Pin the inspected point (the oldest pin goes beyond MAX_PINNED)."""
        if self._row is None or self._row in self._pinned:
            return
        self._pinned = [*self._pinned, self._row][-MAX_PINNED:]
        self._show_pins()

    def unpin_all(self) -> None:
        """Forget the pinned points."""
        self._pinned = []
        self._show_pins()

    def _show_pins(self) -> None:
        names = ", ".join(f"{r + 1} ({_dash_name(i)})" for i, r in enumerate(self._pinned))
        self.pinned_label.setText(f"Pinned points: {names}" if names else "No pinned points.")
        if not self._pinned:
            self.trace_plot.clear()
            self.trace_curves = []
        self.pins_changed.emit(self.pinned)

    # ------------------------------------------------------------------ drawing
    @property
    def frame(self) -> Frame | None:
        """The frame shown."""
        return self._frame

    def show_frame(self, frame: Frame) -> None:
        """Inspect the selected point under ``frame``'s parameters."""
        self._frame = frame
        self._redraw()

    def _redraw(self) -> None:
        frame, row = self._frame, self._row
        if frame is None or row is None or row >= len(frame.data.X):
            self.terms = None
            self.title.setText(_NO_POINT)
            self.table.setRowCount(0)
            self.bars.setOpts(x=[], height=[])
            self.density_label.setText("")
            return
        snap, X = frame.snapshot, frame.data.X
        self.terms = point_terms(
            X[row], snap.weights, snap.means, snap.covariances, snap.covariance_type
        )
        values = ", ".join("missing" if np.isnan(v) else f"{v:.4g}" for v in X[row])
        self.title.setText(f"Point {row + 1}{file_row(frame.data, row)}: ({values})")
        k_count = len(snap.weights)
        colours = component_colors(k_count)
        resp = self.terms.responsibilities[0]
        self.bars.setOpts(
            x=np.arange(1, k_count + 1), height=resp, brushes=colours, pens=colours, width=0.7
        )
        self.bars_plot.setXRange(0.4, k_count + 0.6, padding=0)
        ticks = [(k + 1, str(k + 1)) for k in range(k_count)]
        self.bars_plot.getAxis("bottom").setTicks([ticks])
        self.table.setRowCount(k_count)
        columns = (self.terms.weighted[0], self.terms.log_weighted[0], resp)
        for k in range(k_count):
            item = QtWidgets.QTableWidgetItem(f"■ {k + 1}")
            item.setForeground(colours[k])
            self.table.setItem(k, 0, item)
            for c, values in enumerate(columns, start=1):
                self.table.setItem(k, c, QtWidgets.QTableWidgetItem(f"{values[k]:.4g}"))
        self.density_label.setText(
            f"log p(x) = {number(self.terms.log_density[0], 6)}    "
            f"p(x) = {number(self.terms.density[0])}"
        )

    def show_trace(self, trace: PointTrace) -> None:
        """Draw the pinned points' responsibilities across the history."""
        self.trace_plot.clear()
        self.trace_curves = []
        if trace.responsibilities.size == 0:
            return
        k_count = trace.responsibilities.shape[2]
        colours = component_colors(k_count)
        for p, row in enumerate(trace.rows):
            if int(row) not in self._pinned:
                continue
            dash = _DASHES[self._pinned.index(int(row)) % len(_DASHES)]
            for k in range(k_count):
                pen = pg.mkPen(colours[k], width=2, style=dash)
                curve = self.trace_plot.plot(
                    trace.iterations, trace.responsibilities[:, p, k], pen=pen
                )
                self.trace_curves.append(curve)
        self.trace_plot.setYRange(0.0, 1.0)


def _dash_name(index: int) -> str:
    return ("solid", "dashed", "dotted", "dash-dot")[index % len(_DASHES)]
