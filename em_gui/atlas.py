"""Restart atlas: N starts (seeds) of the current settings, grouped into distinct optima.

The starts run on a BackgroundJob's thread, each as an EMSession of the window's settings and
data run to its end (em_engine.optima.session_start); after each one the starts so far are
grouped (em_engine.optima.group_optima, in that thread) and the table shows every distinct
optimum: log-likelihood, BIC, how many starts reached it and which seeds. Selecting one draws its
components (2-sigma ellipses and means over the data) in the colours of the fit that was on
screen when the atlas ran (components matched by permutation), so the same optimum always looks
the same; Load (or a double-click) loads its best start, with its history, into the window.

The panel also keeps a log of the optima the window's own fit visited: every converged fit on
screen (after a Reseed, say) is grouped the same way ("Visited" table), until the data, K or
covariance type change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from em_engine.covariance import marginal
from em_engine.optima import (
    Optimum,
    Start,
    align_components,
    format_seeds,
    group_optima,
    session_start,
    snapshot_start,
)
from em_gui import palette
from em_gui.background import BackgroundJob, Cancelled
from em_gui.frames import CONVERGED, FitData, FitSettings, Frame, session_options
from em_gui.scatter.geometry import ellipse_polylines

__all__ = ["AtlasChoice", "AtlasPanel"]

_COLUMNS = ("#", "Log-likelihood", "BIC", "Starts", "Seeds")
#: Points drawn under the preview's ellipses (a fixed stride through the data).
_PREVIEW_POINTS = 4000


@dataclass(frozen=True, eq=False)
class AtlasChoice:
    """An optimum's best start chosen to load, with the data and settings it ran with."""

    start: Start
    data: FitData
    settings: FitSettings


def _table(columns: tuple[str, ...], name: str) -> QtWidgets.QTableWidget:
    table = QtWidgets.QTableWidget(0, len(columns), objectName=name)
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def _fill(table: QtWidgets.QTableWidget, optima: list[Optimum]) -> None:
    table.setRowCount(len(optima))
    for i, optimum in enumerate(optima):
        texts = (
            f"{'★ ' if i == 0 else ''}{i + 1}",
            f"{optimum.log_likelihood:,.2f}",
            f"{optimum.bic:,.2f}",
            str(optimum.count),
            format_seeds(optimum.seeds),
        )
        for j, text in enumerate(texts):
            item = QtWidgets.QTableWidgetItem(text)
            if j < 4:
                item.setTextAlignment(
                    QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
                )
            table.setItem(i, j, item)


class AtlasPanel(QtWidgets.QWidget):
    """The restart atlas (see the module docstring)."""

    optimum_chosen = QtCore.Signal(object)  # AtlasChoice
    run_finished = QtCore.Signal(str)  # "done", "cancelled" or "failed"
    error = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("atlas_panel")
        self._job: BackgroundJob | None = None
        self._outcome = "done"
        self._optima: list[Optimum] = []
        self._frame: Frame | None = None  # the fit on screen when the atlas ran
        self._reference: np.ndarray | None = None
        self._scale: np.ndarray | None = None
        self._visited: list[Start] = []
        self._visited_key: tuple[Any, ...] | None = None
        self._visited_seen: set[tuple[int, int, float]] = set()
        self._visited_scale: np.ndarray | None = None
        self._visited_optima: list[Optimum] = []

        self.spin_starts = QtWidgets.QSpinBox(objectName="spin_starts", minimum=2, maximum=500)
        self.spin_starts.setValue(20)
        self.spin_starts.setToolTip("Starts to run: seeds S, S+1, ... from the current seed S")
        self.button_start = QtWidgets.QPushButton("Run starts", objectName="button_atlas")
        self.button_cancel = QtWidgets.QPushButton("Cancel", objectName="button_cancel_atlas")
        self.button_cancel.setEnabled(False)
        self.button_load = QtWidgets.QPushButton("Load", objectName="button_load_optimum")
        self.button_load.setToolTip("Load the selected optimum's best start, with its history")
        self.button_load.setEnabled(False)
        self.progress = QtWidgets.QProgressBar(objectName="progress_atlas")
        self.progress.setFormat("%v / %m starts")
        self.progress.setRange(0, self.spin_starts.value())
        self.progress.setValue(0)
        self.spin_starts.valueChanged.connect(self._on_starts_changed)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(QtWidgets.QLabel("Starts"))
        bar.addWidget(self.spin_starts)
        bar.addWidget(self.button_start)
        bar.addWidget(self.button_cancel)
        bar.addWidget(self.button_load)
        bar.addWidget(self.progress, 1)

        self.table = _table(_COLUMNS, "table_optima")
        self.table.setToolTip("Distinct optima, best first; double-click to load one")
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.choose(row))
        self.button_load.clicked.connect(lambda: self.choose(self.table.currentRow()))
        self.visited = _table((*_COLUMNS[:3], "Visits", "Seeds"), "table_visited")
        self.visited.setToolTip("Optima the window's fit converged to (e.g. after each Reseed)")
        left = QtWidgets.QTabWidget(objectName="tabs_atlas")
        left.addTab(self.table, "Distinct optima of the starts")
        left.addTab(self.visited, "Reseed log: optima the fit on screen visited")
        self.tabs = left

        self.preview = pg.PlotWidget(background="w")
        self.preview.setObjectName("plot_atlas")
        self.preview.setMinimumSize(200, 110)
        self.preview.hideButtons()
        self.preview.setMenuEnabled(False)
        self._points = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(150, 150, 150, 120))
        self.preview.addItem(self._points)
        self._rings: list[pg.PlotDataItem] = []
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.preview)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        self.button_cancel.clicked.connect(self.cancel)

    # ------------------------------------------------------------------ running
    def start(self, frame: Frame, scale: np.ndarray) -> None:
        """Run the starts of ``frame``'s settings on its data, seeds from its seed on; colours
        are matched to its components; ``scale`` (D,): the columns' spread for matching."""
        self.stop()
        self._frame, self._scale = frame, scale
        self._reference = np.array(frame.snapshot.means, dtype=np.float64)
        self._optima = []
        _fill(self.table, [])
        self._draw_optimum(None)
        n = self.spin_starts.value()
        first = int(frame.snapshot.seed)
        seeds = range(first, first + n)
        self.progress.setRange(0, n)
        self.progress.setValue(0)
        data, settings = frame.data, frame.settings
        weights = data.sample_weight
        total = data.X.shape[0] if weights is None else float(weights.sum())  # per-row scale

        def work(report: Any, cancelled: Any) -> list[Optimum]:
            from em_engine.session import EMSession

            starts: list[Start] = []
            optima: list[Optimum] = []
            for seed in seeds:
                session = EMSession(
                    data.X, settings.n_components, **session_options(data, settings, seed)
                )
                for _ in session.run():
                    if cancelled():
                        raise Cancelled
                starts.append(session_start(session))
                optima = group_optima(starts, total, scale)
                report((len(starts), optima))
            return optima

        job = BackgroundJob(work, "restart atlas", self)
        job.progress.connect(self._on_progress)
        job.done.connect(lambda _optima: setattr(self, "_outcome", "done"))
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_finished)
        self._job = job
        self._outcome = "cancelled"
        self.button_start.setEnabled(False)
        self.button_cancel.setEnabled(True)
        job.start()

    def _on_starts_changed(self, n: int) -> None:
        if self._job is None and self.progress.value() <= 0:  # before a run: the next total
            self.progress.setRange(0, n)

    def cancel(self) -> None:
        """Stop after the EM iteration in progress; the starts done stay shown."""
        if self._job is not None:
            self._job.cancel()

    def stop(self) -> None:
        """Cancel and wait for the thread (closing the window)."""
        if self._job is not None:
            self._job.stop()

    def is_running(self) -> bool:
        """True while starts run."""
        return self._job is not None

    def optima(self) -> list[Optimum]:
        """The distinct optima found so far, best first."""
        return list(self._optima)

    @QtCore.Slot(object)
    def _on_progress(self, item: tuple[int, list[Optimum]]) -> None:
        done, self._optima = item
        self.progress.setValue(done)
        selected = max(self.table.currentRow(), 0)
        _fill(self.table, self._optima)
        self.table.selectRow(min(selected, len(self._optima) - 1))
        self._on_selection()  # its count and seeds may have grown

    @QtCore.Slot(str)
    def _on_failed(self, message: str) -> None:
        self._outcome = "failed"
        self.error.emit(message)

    @QtCore.Slot()
    def _on_finished(self) -> None:
        self._job = None
        self.button_start.setEnabled(True)
        self.button_cancel.setEnabled(False)
        self.run_finished.emit(self._outcome)

    # ------------------------------------------------------------------ showing and choosing
    def colour_order(self, means: np.ndarray) -> np.ndarray:
        """The order (K,) of ``means``' components matched to the reference fit: component
        ``order[j]`` is drawn in colour j."""
        if self._reference is None or self._reference.shape[1] != np.shape(means)[1]:
            return np.arange(len(means))
        return align_components(self._reference, means, self._scale)

    def _on_selection(self) -> None:
        row = self.table.currentRow()
        self.button_load.setEnabled(0 <= row < len(self._optima))
        self._draw_optimum(self._optima[row] if 0 <= row < len(self._optima) else None)

    def _draw_optimum(self, optimum: Optimum | None) -> None:
        for ring in self._rings:
            self.preview.removeItem(ring)
        self._rings = []
        frame = self._frame
        if optimum is None or frame is None:
            self._points.setData([], [])
            return
        X = frame.data.X
        columns = [0, 1] if X.shape[1] > 1 else [0]
        stride = max(1, X.shape[0] // _PREVIEW_POINTS)
        shown = X[::stride]
        y = shown[:, 1] if len(columns) == 2 else np.zeros(len(shown))
        self._points.setData(shown[:, 0], y)
        best = optimum.best
        order = self.colour_order(best.means)
        if len(columns) == 1:
            return  # 1-D: the points only
        means, covs = marginal(best.means, best.covariances, best.covariance_type, columns)
        rings = ellipse_polylines(means[order], covs[order], (2.0,))
        colours = palette.component_colors(len(order))
        for k, ring in enumerate(rings):
            item = pg.PlotDataItem(ring[0][:, 0], ring[0][:, 1], pen=pg.mkPen(colours[k], width=2))
            centre = pg.PlotDataItem(
                [means[order][k, 0]], [means[order][k, 1]], pen=None, symbol="x",
                symbolSize=12, symbolPen=pg.mkPen(colours[k], width=2.5),
            )  # fmt: skip
            for part in (item, centre):
                self.preview.addItem(part)
                self._rings.append(part)
        self.preview.setTitle(
            f"optimum {self._optima.index(optimum) + 1}: {optimum.count} start"
            f"{'s' if optimum.count != 1 else ''}, BIC {optimum.bic:,.1f}",
            size="9pt",
        )

    def choose(self, index: int) -> None:
        """Load optimum ``index``'s best start into the window."""
        if self._frame is not None and 0 <= index < len(self._optima):
            best = self._optima[index].best
            self.optimum_chosen.emit(AtlasChoice(best, self._frame.data, self._frame.settings))

    # ------------------------------------------------------------------ the Reseed log
    def note_frame(self, frame: Frame) -> None:
        """Log a converged fit on screen among the optima visited (once per fit)."""
        snap = frame.snapshot
        if frame.state != CONVERGED or not snap.converged:
            return
        key = (id(frame.data), frame.settings.n_components, frame.settings.covariance_type)
        if key != self._visited_key:
            self._visited_key = key
            self._visited, self._visited_seen = [], set()
            self._visited_scale = np.asarray(np.nanstd(frame.data.X, axis=0), dtype=np.float64)
        start = snapshot_start(snap, frame.data.X.shape[0])
        seen = (start.seed, start.n_iter, start.log_likelihood) if start is not None else None
        if seen is None or seen in self._visited_seen:
            return  # not scored yet, or the same fit shown again (a restore)
        self._visited_seen.add(seen)
        self._visited.append(start)
        self._visited_optima = group_optima(
            self._visited, frame.data.X.shape[0], self._visited_scale
        )
        _fill(self.visited, self._visited_optima)

    def visited_optima(self) -> list[Optimum]:
        """The optima the window's fit visited (the Reseed log), best first."""
        return list(self._visited_optima)
