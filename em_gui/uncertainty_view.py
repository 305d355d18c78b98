"""Uncertainty view, in mclust's spirit: the points of the viewed columns shaded and sized by their
classification uncertainty 1 - max responsibility (from the engine's snapshot: its
``confidence``) in mclust's three classes (up to the 75th percentile small and light, to the
95th medium, above it large and dark red), the most uncertain points listed (file row,
uncertainty, values), and a summary (em_engine.uncertainty). It follows the fit on screen while
it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from em_engine.uncertainty import most_uncertain, summarise, uncertainty, uncertainty_classes
from em_gui.frames import Frame

__all__ = ["UncertaintyView"]

#: Points listed in the table, most uncertain first.
N_LISTED = 25
#: At most this many points are drawn (a fixed stride), the listed ones always among them.
MAX_DRAWN = 20_000
#: Per class (em_engine.uncertainty.uncertainty_classes): symbol size and RGBA.
_SIZES = np.array([3.0, 6.0, 10.0])
_COLOURS = ((200, 200, 200, 130), (230, 140, 60, 220), (180, 20, 30, 255))


class UncertaintyView(QtWidgets.QWidget):
    """The uncertainty plot, the list of the most uncertain points and the summary."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("uncertainty_view")
        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("plot_uncertainty")
        self.plot.setMinimumSize(240, 110)
        self.plot.hideButtons()
        self.plot.setTitle(
            "Uncertainty 1 − max responsibility: red above its 95th percentile, orange above "
            "the 75th",
            size="9pt",
        )
        self._points = pg.ScatterPlotItem(pen=None)
        self.plot.addItem(self._points)
        self.summary = QtWidgets.QLabel(objectName="label_uncertainty_summary")
        self.summary.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.summary.setWordWrap(True)
        self.table = QtWidgets.QTableWidget(0, 3, objectName="table_uncertain")
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        side = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.summary)
        column.addWidget(QtWidgets.QLabel(f"The {N_LISTED} most uncertain points"))
        column.addWidget(self.table, 1)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.plot)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(splitter)
        self._shown: tuple[int, tuple[int, int]] | None = None
        self.summary.setText("No responsibilities yet: take an E-step.")

    def show_frame(self, frame: Frame, columns: tuple[int, int]) -> None:
        """Show the uncertainty of ``frame``'s E-step, points on the viewed ``columns``."""
        confidence = frame.snapshot.confidence
        key = (id(confidence), columns)
        if key == self._shown:
            return
        self._shown = key
        if confidence is None:
            self._points.setData([], [])
            self.table.setRowCount(0)
            self.summary.setText("No responsibilities yet: take an E-step.")
            return
        data = frame.data
        u = uncertainty(confidence)
        top = most_uncertain(confidence, N_LISTED)
        stride = max(1, len(u) // MAX_DRAWN)
        drawn = np.union1d(np.arange(0, len(u), stride), top)
        k = len(frame.snapshot.weights)
        worst = 1.0 - 1.0 / k if k > 1 else 1.0
        classes = uncertainty_classes(confidence)[drawn]
        x = data.X[drawn, columns[0]]
        y = data.X[drawn, columns[1]] if data.X.shape[1] > 1 else np.zeros(len(drawn))
        order = np.argsort(classes, kind="stable")  # the uncertain ones on top
        brushes = [pg.mkBrush(*c) for c in _COLOURS]
        self._points.setData(
            x[order],
            y[order],
            size=_SIZES[classes[order]],
            brush=[brushes[c] for c in classes[order]],
        )
        self.plot.setLabel("bottom", data.feature_names[columns[0]])
        if data.X.shape[1] > 1:
            self.plot.setLabel("left", data.feature_names[columns[1]])
        summary = summarise(confidence)
        self.summary.setText(
            f"Classification uncertainty of {summary.n_points:,} points (iteration "
            f"{frame.snapshot.iteration}; at most {worst:.2f} with K = {k}):\n"
            + "\n".join(summary.lines())
        )
        self._fill_table(data.lines, data.X, data.feature_names, top, u, columns)

    def _fill_table(
        self,
        lines: np.ndarray | None,
        X: np.ndarray,
        names: Sequence[str],
        top: np.ndarray,
        u: np.ndarray,
        columns: tuple[int, int],
    ) -> None:
        shown = list(dict.fromkeys(columns[: min(2, X.shape[1])]))
        self.table.setColumnCount(2 + len(shown))
        self.table.setHorizontalHeaderLabels(["Row", "Uncertainty", *(names[j] for j in shown)])
        self.table.setRowCount(len(top))
        for i, n in enumerate(top):
            row = int(lines[n]) if lines is not None else int(n) + 1
            texts = [str(row) if row > 0 else "added", f"{u[n]:.3f}"]
            texts += [f"{X[n, j]:.4g}" for j in shown]
            for j, text in enumerate(texts):
                self.table.setItem(i, j, QtWidgets.QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def drawn_sizes(self) -> np.ndarray:
        """The symbol sizes of the points drawn (read back from the plot)."""
        return np.asarray(self._points.data["size"])

    def listed_rows(self) -> list[str]:
        """The Row column of the list, top to bottom (tests read it back)."""
        return [self.table.item(i, 0).text() for i in range(self.table.rowCount())]
