"""Model comparison panel: BIC, AIC and ICL of K = 1..K_max for the four covariance types.

The sweep (em_engine.selection.select_model) runs on a BackgroundJob's thread, never the GUI
thread; each fitted candidate arrives as it is done (progress bar, a point on the chart, a row of
the table), Cancel stops it within one EM iteration, and closing the window stops it. The chart
is mclust's picture: one curve per covariance type over K, lower is better, the best candidate
of the criterion shown marked with a star. Clicking a point (or double-clicking a row) emits
``model_chosen(Candidate)``; the window loads that model into its session, where it can be
stepped from.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from em_engine.covariance import COVARIANCE_TYPES
from em_engine.selection import SelectionRow, select_model
from em_gui import palette
from em_gui.background import BackgroundJob, Cancelled
from em_gui.frames import FitData, FitSettings

__all__ = ["CRITERIA", "Candidate", "ComparisonPanel"]

CRITERIA = ("BIC", "AIC", "ICL")
_COLUMNS = ("K", "Covariance", "BIC", "AIC", "ICL", "Log-likelihood", "Converged")
_TYPE_COLOURS = dict(zip(COVARIANCE_TYPES, palette.component_colors(4), strict=True))
_SYMBOLS = dict(zip(COVARIANCE_TYPES, ("o", "s", "t", "d"), strict=True))


@dataclass(frozen=True, eq=False)
class Candidate:
    """A fitted candidate of the sweep: its row and model (GaussianMixture), and the data it
    was fitted on."""

    row: SelectionRow
    model: Any
    data: FitData


def _value(row: SelectionRow, criterion: str) -> float | None:
    return {"BIC": row.bic, "AIC": row.aic, "ICL": row.icl}[criterion]


class ComparisonPanel(QtWidgets.QWidget):
    """The comparison chart, its table and the sweep's controls (see the module docstring)."""

    model_chosen = QtCore.Signal(object)  # Candidate
    sweep_finished = QtCore.Signal(str)  # "done", "cancelled" or "failed"
    error = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("comparison_panel")
        self._job: BackgroundJob | None = None
        self._candidates: list[Candidate] = []
        self._data: FitData | None = None
        self._outcome = "done"

        self.spin_kmax = QtWidgets.QSpinBox(objectName="spin_kmax", minimum=1, maximum=30)
        self.spin_kmax.setValue(8)
        self.spin_kmax.setToolTip("Fit K = 1 up to this for each covariance type")
        self.combo_criterion = QtWidgets.QComboBox(objectName="combo_criterion")
        self.combo_criterion.addItems(CRITERIA)
        self.combo_criterion.setToolTip(
            "BIC = -2 log L + p log N; AIC = -2 log L + 2p; ICL = BIC + 2 x entropy of the "
            "responsibilities (penalises overlapping components). Lower is better."
        )
        self.button_start = QtWidgets.QPushButton("Compare", objectName="button_compare")
        self.button_start.setToolTip("Fit every K and covariance type with the current settings")
        self.button_cancel = QtWidgets.QPushButton("Cancel", objectName="button_cancel_compare")
        self.button_cancel.setEnabled(False)
        self.progress = QtWidgets.QProgressBar(objectName="progress_compare")
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v / %m fits")
        self.progress.setRange(0, self.spin_kmax.value() * len(COVARIANCE_TYPES))
        self.progress.setValue(0)
        self.spin_kmax.valueChanged.connect(self._on_kmax_changed)
        self.label_best = QtWidgets.QLabel(objectName="label_best")
        self.label_best.setWordWrap(True)

        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(QtWidgets.QLabel("Largest K"))
        bar.addWidget(self.spin_kmax)
        bar.addWidget(QtWidgets.QLabel("Criterion"))
        bar.addWidget(self.combo_criterion)
        bar.addWidget(self.button_start)
        bar.addWidget(self.button_cancel)
        bar.addWidget(self.progress, 1)

        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("plot_compare")
        self.plot.setMinimumSize(280, 100)
        self.plot.setLabel("bottom", "number of components K")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self._legend = self.plot.addLegend(offset=(-8, 8), labelTextColor="#222")
        self._curves: dict[str, pg.PlotDataItem] = {}
        for cov_type in COVARIANCE_TYPES:
            colour = _TYPE_COLOURS[cov_type]
            curve = self.plot.plot(
                [],
                [],
                name=cov_type,
                pen=pg.mkPen(colour, width=2),
                symbol=_SYMBOLS[cov_type],
                symbolSize=9,
                symbolBrush=colour,
                symbolPen="w",
            )
            curve.sigPointsClicked.connect(self._on_points_clicked)
            self._curves[cov_type] = curve
        self._best_mark = pg.ScatterPlotItem(
            size=22, symbol="star", brush=pg.mkBrush(255, 215, 0), pen=pg.mkPen("k", width=1.2)
        )
        self._best_mark.setZValue(10)
        self._best_mark.sigClicked.connect(self._on_star_clicked)  # on top: it gets the click
        self.plot.addItem(self._best_mark)

        self.table = QtWidgets.QTableWidget(0, len(_COLUMNS), objectName="table_compare")
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(False)
        self.table.setToolTip("Double-click a row to load that model into the window")
        self.table.setMinimumHeight(60)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.choose(row))

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([500, 500])  # half each, whatever the size hints
        splitter.setChildrenCollapsible(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.label_best)
        layout.addWidget(splitter, 1)

        self.button_cancel.clicked.connect(self.cancel)
        self.combo_criterion.currentTextChanged.connect(lambda _text: self._redraw())
        self._redraw()

    # ------------------------------------------------------------------ the sweep
    def start(self, data: FitData, settings: FitSettings, seed: int) -> None:
        """Fit K = 1..K_max x the four covariance types to ``data`` with ``settings`` (init,
        tol, reg_covar, max_iter, prior) and ``seed``, in the background."""
        self.stop()
        self._candidates.clear()
        self._data = data
        kmax = min(self.spin_kmax.value(), data.X.shape[0])
        self.progress.setRange(0, kmax * len(COVARIANCE_TYPES))
        self.progress.setValue(0)
        self.label_best.setText(f"Fitting K = 1..{kmax} for each covariance type…")
        X = data.X

        def work(report: Any, cancelled: Any) -> Any:
            def check(*_args: Any) -> None:
                if cancelled():
                    raise Cancelled

            with warnings.catch_warnings():  # not converged: the table's column says so
                warnings.simplefilter("ignore")
                return select_model(
                    X,
                    range(1, kmax + 1),
                    COVARIANCE_TYPES,
                    seed=seed,
                    init=settings.init,
                    max_iter=settings.max_iter,
                    tol=settings.tol,
                    reg_covar=settings.reg_covar,
                    prior=True if settings.prior else None,
                    missing="em",  # as the window fits: NaN only where the import chose EM
                    on_model=lambda row, model: report((row, model)),
                    on_iteration=check,
                )

        job = BackgroundJob(work, "model sweep", self)
        job.progress.connect(self._on_candidate)
        job.done.connect(lambda _result: self._set_outcome("done"))
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_finished)
        self._job = job
        self._outcome = "cancelled"
        self.button_start.setEnabled(False)
        self.button_cancel.setEnabled(True)
        self._redraw()
        job.start()

    def _on_kmax_changed(self, kmax: int) -> None:
        if self._job is None and self.progress.value() <= 0:  # before a run: the next total
            self.progress.setRange(0, kmax * len(COVARIANCE_TYPES))

    def note_data(self, data: FitData) -> None:
        """Forget a finished sweep's results (chart, table, text) when the window shows other
        data than it was run on."""
        if self._job is None and self._data is not None and data is not self._data:
            self._data = None
            self._candidates.clear()
            self.progress.setRange(0, self.spin_kmax.value() * len(COVARIANCE_TYPES))
            self.progress.setValue(0)
            self.label_best.clear()
            self._redraw()

    def cancel(self) -> None:
        """Stop the sweep (within one EM iteration); what was fitted stays shown."""
        if self._job is not None:
            self._job.cancel()

    def stop(self) -> None:
        """Cancel the sweep and wait for its thread to end (closing the window)."""
        if self._job is not None:
            self._job.stop()

    def is_running(self) -> bool:
        """True while a sweep runs."""
        return self._job is not None

    def candidates(self) -> list[Candidate]:
        """The candidates fitted so far, in the order fitted (type, then K)."""
        return list(self._candidates)

    def _set_outcome(self, outcome: str) -> None:
        self._outcome = outcome

    @QtCore.Slot(object)
    def _on_candidate(self, item: tuple[SelectionRow, Any]) -> None:
        if self._data is None:
            return
        row, model = item
        self._candidates.append(Candidate(row, model, self._data))
        self.progress.setValue(len(self._candidates))
        self._redraw()

    @QtCore.Slot(str)
    def _on_failed(self, message: str) -> None:
        self._outcome = "failed"
        self.label_best.setText(f"Failed after {len(self._candidates)} fits: {message}")
        self.error.emit(message)

    @QtCore.Slot()
    def _on_finished(self) -> None:
        self._job = None
        self.button_start.setEnabled(True)
        self.button_cancel.setEnabled(False)
        self._redraw()
        if self._outcome == "cancelled":
            self.label_best.setText(
                f"Cancelled after {len(self._candidates)} of {self.progress.maximum()} fits. "
                + self._best_text()
            )
        self.sweep_finished.emit(self._outcome)

    # ------------------------------------------------------------------ drawing
    def best(self, criterion: str | None = None) -> Candidate | None:
        """The fitted candidate with the lowest value of ``criterion`` (the one shown)."""
        criterion = criterion or self.combo_criterion.currentText()
        fitted = [c for c in self._candidates if _value(c.row, criterion) is not None]
        return min(fitted, key=lambda c: _value(c.row, criterion), default=None)

    def _best_text(self) -> str:
        criterion = self.combo_criterion.currentText()
        best = self.best()
        if best is None:
            return ""
        return (
            f"Best by {criterion} (lowest; ★): K = {best.row.n_components}, "
            f"{best.row.covariance_type} covariance, {criterion} "
            f"{_value(best.row, criterion):,.1f}. Click a point to load that model."
        )

    def _redraw(self) -> None:
        criterion = self.combo_criterion.currentText()
        self.plot.setTitle(f"{criterion} by K and covariance type (lower is better)", size="9pt")
        ks = sorted({c.row.n_components for c in self._candidates}) or [1]
        self.plot.getAxis("bottom").setTicks([[(k, str(k)) for k in ks]])
        self.plot.setLabel("left", criterion)
        for cov_type, curve in self._curves.items():
            mine = [
                (i, c)
                for i, c in enumerate(self._candidates)
                if c.row.covariance_type == cov_type and _value(c.row, criterion) is not None
            ]
            curve.setData(
                [c.row.n_components for _, c in mine],
                [_value(c.row, criterion) for _, c in mine],
                data=[i for i, _ in mine],
            )
        best = self.best()
        if best is None:
            self._best_mark.setData([], [])
        else:
            self._best_mark.setData([best.row.n_components], [_value(best.row, criterion)])
        if self._job is None and self._candidates:
            self.label_best.setText(self._best_text())
        self._fill_table(best)

    def _fill_table(self, best: Candidate | None) -> None:
        self.table.setRowCount(len(self._candidates))
        for i, candidate in enumerate(self._candidates):
            row = candidate.row
            if row.error is not None:
                texts = [str(row.n_components), row.covariance_type, "failed: " + row.error]
                texts += [""] * (len(_COLUMNS) - len(texts))
            else:
                texts = [
                    str(row.n_components),
                    row.covariance_type,
                    f"{row.bic:,.1f}",
                    f"{row.aic:,.1f}",
                    f"{row.icl:,.1f}",
                    f"{row.log_likelihood:,.1f}",
                    "yes" if row.converged else "no",
                ]
            if candidate is best:
                texts[0] = f"★ {texts[0]}"
            for j, text in enumerate(texts):
                item = QtWidgets.QTableWidgetItem(text)
                if j != 1:
                    item.setTextAlignment(
                        QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(i, j, item)

    # ------------------------------------------------------------------ choosing
    def choose(self, index: int) -> None:
        """Load candidate ``index`` (in the table's order) into the window, if it was fitted."""
        if 0 <= index < len(self._candidates):
            candidate = self._candidates[index]
            if candidate.model is not None:
                self.model_chosen.emit(candidate)

    def drawn_curve(self, cov_type: str) -> tuple[np.ndarray, np.ndarray]:
        """The K values and criterion values drawn for ``cov_type`` (read back from the plot)."""
        xs, ys = self._curves[cov_type].getData()
        return np.asarray(xs), np.asarray(ys)

    def drawn_best(self) -> tuple[float, float] | None:
        """Where the star is drawn (K, value), or None."""
        xs, ys = self._best_mark.getData()
        return (float(xs[0]), float(ys[0])) if len(xs) else None

    def point_position(self, index: int) -> QtCore.QPoint:
        """Where candidate ``index`` is drawn, in the plot widget's coordinates (tests click
        there)."""
        row = self._candidates[index].row
        value = _value(row, self.combo_criterion.currentText())
        vb = self.plot.getPlotItem().getViewBox()
        scene = vb.mapViewToScene(QtCore.QPointF(row.n_components, value))
        return self.plot.mapFromScene(scene)

    def _on_star_clicked(self, *_args: Any) -> None:
        best = self.best()
        if best is not None:
            self.choose(self._candidates.index(best))

    def _on_points_clicked(self, _curve: Any, points: Any, *_args: Any) -> None:
        if len(points):
            self.choose(int(points[0].data()))
