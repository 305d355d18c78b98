"""FramePresenter: turns a frame from the worker into what the views show: the scatter view
(points of the viewed columns, the components' Gaussians on them), the parameter panel, the
convergence marks, the history bar, the status fields and the controls' settings and seed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from em_engine.covariance import full_covariances, marginal
from em_gui.controls import ControlsPanel
from em_gui.convergence import ConvergenceView
from em_gui.frames import FitData, Frame, History
from em_gui.history_bar import HistoryBar
from em_gui.params_panel import ParameterPanel
from em_gui.redraw import Preparation
from em_gui.scatter import ScatterView
from em_gui.status import StatusFields

__all__ = ["FramePresenter"]


class FramePresenter(QObject):
    """Draws frames into the window's views (see the module docstring); ``frame`` is the one
    drawn now, ``drawn`` is emitted with each frame once all views show it. ``set_title`` gets
    the data's source name."""

    drawn = Signal(object)
    history_drawn = Signal(object)  # the History just drawn

    def __init__(
        self,
        *,
        scatter: ScatterView,
        convergence: ConvergenceView,
        parameters: ParameterPanel,
        controls: ControlsPanel,
        history_bar: HistoryBar,
        status: StatusFields,
        set_title: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._scatter = scatter
        self._convergence = convergence
        self._parameters = parameters
        self._controls = controls
        self._history_bar = history_bar
        self._status = status
        self._set_title = set_title
        self.frame: Frame | None = None
        self._drawn_data: FitData | None = None
        self._drawn_columns: tuple[int, int] | None = None
        # rows with a missing cell in a viewed column: drawn where the engine imputes them
        self._imputed_rows = np.empty(0, dtype=np.intp)

    def prepare(self, frame: Frame) -> Preparation:
        """A step of the point colours of ``frame`` when its data and viewed columns are those
        drawn now (FrameScheduler's ``prepare``)."""
        snap = frame.snapshot
        if (
            frame.data is not self._drawn_data
            or self._controls.view_columns() != self._drawn_columns
            or snap.labels is None
        ):
            return "none"
        k = len(snap.weights)
        ready = self._scatter.prepare_state(snap.labels, snap.confidence, k, in_steps=True)
        return "ready" if ready else "more"

    def draw(self, frame: Frame) -> None:
        """Draw ``frame`` at once (all views)."""
        self.draw_scatter(frame)
        self.draw_panels(frame)

    def draw_scatter(self, frame: Frame) -> None:
        """Show ``frame`` in the scatter view (new data: its columns and points first)."""
        snap, data = frame.snapshot, frame.data
        if data is not self._drawn_data:
            self._controls.fill_view_columns(data.feature_names)
            if self._drawn_data is not None and self._status.message.message().startswith("Error"):
                self._status.message.show_message("", 0)  # new data in use: that error is past
            self._drawn_data = data
            self._drawn_columns = None
            n, d = data.X.shape
            source = Path(data.source).name if data.source else "synthetic"
            gaps = int(np.isnan(data.X).sum())
            notes = f", {gaps:,} missing cell{'s' * (gaps != 1)} (EM)" if gaps else ""
            if data.weight_column:
                notes += f", weights from '{data.weight_column}'"
            self._controls.show_data(f"{source}: {n:,} points, {d} feature{'s' * (d != 1)}{notes}")
            self._set_title(source)
        columns = self._controls.view_columns()
        one_d = data.X.shape[1] == 1
        reset_view = columns != self._drawn_columns
        if reset_view:
            self._drawn_columns = columns
            cx, cy = columns
            if one_d:
                xy = np.column_stack([data.X[:, 0], np.zeros(len(data.X), dtype=data.X.dtype)])
                self._scatter.set_points(xy, data.feature_names[cx], "")
            else:
                xy = data.X[:, [cx, cy]]  # a missing cell (NaN) is not drawn there
                self._scatter.set_points(xy, data.feature_names[cx], data.feature_names[cy])
            self._imputed_rows = np.flatnonzero(np.isnan(data.X[:, [cx, cy]]).any(axis=1))
        means, covariances = marginal(
            snap.means, snap.covariances, snap.covariance_type, columns[:1] if one_d else columns
        )
        if one_d:  # drawn on a line: no spread across it
            means = np.column_stack([means, np.zeros(len(means))])
            covariances = np.pad(covariances, ((0, 0), (0, 1), (0, 1)))
        self._scatter.show_state(snap.labels, snap.confidence, means, covariances, snap.weights)
        self._show_imputed(snap, columns)
        if reset_view:
            self._scatter.reset_view()

    def _show_imputed(self, snap: object, columns: tuple[int, int]) -> None:
        """The rows with a missing viewed cell at the snapshot's imputed positions."""
        imputed = getattr(snap, "imputed", None)
        rows = self._imputed_rows
        if imputed is None or rows.size == 0:
            self._scatter.show_imputed(None, None)
            return
        labels = None if snap.labels is None else snap.labels[rows]
        self._scatter.show_imputed(imputed[np.ix_(rows, list(columns))], labels)

    def draw_panels(self, frame: Frame) -> None:
        """Show ``frame`` (drawn in the scatter view) in the other views and controls; it
        becomes the current frame."""
        previous, self.frame = self.frame, frame
        snap = frame.snapshot
        n_features = frame.data.X.shape[1]
        covariances = full_covariances(
            snap.covariances, snap.covariance_type, n_features, len(snap.weights)
        )
        self._parameters.show_parameters(
            snap.weights, snap.means, covariances, frame.data.feature_names
        )
        self._convergence.mark_iteration(snap.iteration)
        self._convergence.set_tolerance(frame.settings.tol, len(frame.data.X))
        self._history_bar.show_position(frame)
        new_state = previous is None or frame.generation != previous.generation
        if new_state and frame.settings != self._controls.fit_settings():
            self._controls.show_settings(frame.settings)  # e.g. after settings not usable
        self._controls.show_seed(int(snap.seed))
        self._status.show_frame(frame)
        self.drawn.emit(frame)

    def draw_history(self, history: History) -> None:
        """The objective per iteration."""
        self._convergence.set_history(history.iterations, history.values, history.objective)
        self.history_drawn.emit(history)
