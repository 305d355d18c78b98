"""The window's "understand EM" parts, built and wired in one place.

- an "Understand EM" dock with the explain panel (em_gui.explain) and the point inspector
  (em_gui.inspector) as tabs; a click on the plot (when "Add points" is off) selects a point
  for both;
- the bound view (em_gui.bound_view), placed by the window next to the convergence view;
- the 1-D view (em_gui.oned), shown above the scatter for one-column data;
- the truth overlay: for a synthetic preset, its true components drawn dashed (dark grey: the
  true components are not numbered as EM's) on the plot (the
  "Show truth" action) and the agreement (ARI) in the bound view;
- the collapse note (em_gui.collapse_note): what happened when a component collapsed, what the
  collapse policy did, and the remedies;
- the lesson (em_gui.lesson), opened from Help.

The window calls ``attach`` once its presenter and controller exist; everything drawn comes from
the newest frame and history the window draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from em_engine.covariance import marginal
from em_engine.synthetic import true_parameters
from em_gui.bound_view import BoundView
from em_gui.collapse_note import CollapseNote
from em_gui.explain import ExplainPanel
from em_gui.frames import RUNNING, Frame, History, PointTrace, Truth
from em_gui.inspector import InspectorPanel
from em_gui.oned import OneDView
from em_gui.scatter.geometry import ellipse_polylines

if TYPE_CHECKING:
    from em_gui.main_window import MainWindow

__all__ = ["LearningPanels", "preset_truth"]

_TRUTH_SIGMA = (2.0,)
#: The scatter view's minimum height for 1-D data (a strip plot: the 1-D view gets the rest).
_STRIP_HEIGHT = 170
#: The red rings around a collapsed component's points: wider than a mean's marker (17 px).
_RING_SIZE = 26


def preset_truth(name: str, dataset: Any) -> Truth | None:
    """The true mixture and labels of a synthetic preset's data set, or None without labels."""
    labels = getattr(dataset, "labels", None)
    if labels is None:
        return None
    weights, means, covariances = true_parameters(name, np.asarray(dataset.X).shape[1])
    return Truth(weights, means, covariances, np.asarray(labels))


class LearningPanels(QtCore.QObject):
    """Builds the learning views for ``window`` (see the module docstring)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.explain = ExplainPanel()
        self.inspector = InspectorPanel()
        self.bound_view = BoundView()
        self.oned = OneDView()
        self.oned.setVisible(False)
        self.collapse_note = CollapseNote()
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setObjectName("tabs_understand")
        self.tabs.addTab(self.explain, "Explain")
        # scrolled: its plots and table would otherwise set the dock's (and the window's)
        # minimum height above what a 1280 x 720 screen leaves with a bottom dock open
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(self.inspector)
        self.tabs.addTab(scroll, "Inspect point")
        self.dock = QtWidgets.QDockWidget("Understand EM", window)
        self.dock.setObjectName("dock_understand")
        self.dock.setWidget(self.tabs)
        self.dock.setMinimumWidth(300)
        self._lesson: Any = None
        self._show_truth = False
        self._truth_items: list[pg.PlotCurveItem] = []
        # above the means' markers (a collapsed component's sits on its few points), wider
        self._highlight = pg.ScatterPlotItem(
            size=_RING_SIZE, pen=pg.mkPen(220, 0, 0, width=3), brush=None, symbol="o"
        )
        self._highlight.setZValue(11)
        self._selected = pg.ScatterPlotItem(
            size=18, pen=pg.mkPen(0, 0, 0, width=2.5), brush=None, symbol="o"
        )
        self._selected.setZValue(9)
        for ring in (self._highlight, self._selected):  # clicks and drags go to what is below
            ring.setAcceptedMouseButtons(QtCore.Qt.MouseButton.NoButton)
        self._traced: tuple[Any, ...] | None = None
        self._frame: Frame | None = None
        self._scatter_height: int | None = None  # the scatter view's own minimum height
        self._chosen_at = -1  # the controller's generation when a point was last selected
        # after a tab switch, once the panel is on screen (a timer of this object's: it goes
        # with the window)
        self._catch_up = QtCore.QTimer(self)
        self._catch_up.setSingleShot(True)
        self._catch_up.setInterval(0)
        self._catch_up.timeout.connect(self._show_tabs)
        self.tabs.currentChanged.connect(self._schedule_catch_up)
        self.dock.visibilityChanged.connect(self._schedule_catch_up)

    # ------------------------------------------------------------------ wiring
    def attach(self, beside: QtWidgets.QDockWidget, history_drawn: QtCore.SignalInstance) -> None:
        """Connect to the window's views and controller (after they exist): the dock goes in a
        tab ``beside`` the given one; ``history_drawn`` carries each History the window draws."""
        w = self._window
        w.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        w.tabifyDockWidget(beside, self.dock)
        beside.raise_()
        w.resizeDocks([beside], [340], QtCore.Qt.Orientation.Horizontal)  # room for the plots
        w.scatter.plot_item.addItem(self._highlight, ignoreBounds=True)
        w.scatter.plot_item.addItem(self._selected, ignoreBounds=True)
        w.snapshot_drawn.connect(self.show_frame)
        history_drawn.connect(self.show_history)
        w.controller.trace_ready.connect(self._on_trace)
        w.scatter.point_inspected.connect(self.select_point)
        self.inspector.pins_changed.connect(self._request_trace)
        self.collapse_note.remedy_chosen.connect(self._apply_remedy)

    def view_actions(self) -> list[QtWidgets.QWidgetAction | Any]:
        """The dock's show/hide action, for the View menu."""
        return [self.dock.toggleViewAction()]

    # ------------------------------------------------------------------ commands
    def select_point(self, row: int) -> None:
        """Explain and inspect data row ``row`` (0-based) of the newest data (that of the
        newest command: a row chosen just after new data is generated stays chosen)."""
        self._chosen_at = self._window.controller.generation
        frame = self._window.current_frame()
        for panel in (self.explain, self.inspector):
            if frame is not None and panel.frame is not frame:
                panel.show_frame(frame)
            panel.select_point(row)
        if frame is not None:
            self._mark_selected(frame)

    def set_show_truth(self, on: bool) -> None:
        """Draw a synthetic preset's true components (dashed 2-sigma ellipses) on the plot."""
        self._show_truth = bool(on)
        self.bound_view.set_show_agreement(self._show_truth)
        frame = self._window.current_frame()
        if frame is not None:
            self._draw_truth(frame)

    def show_lesson(self) -> None:
        """Open the lesson panel (Help → Lesson: EM step by step) at its first step."""
        from em_gui.lesson import LessonPanel

        if self._lesson is None:
            self._lesson = LessonPanel(self._window)
        self._lesson.start()

    @property
    def lesson(self) -> Any:
        """The lesson panel, once opened (else None)."""
        return self._lesson

    # ------------------------------------------------------------------ drawing
    def show_frame(self, frame: Frame) -> None:
        """Show the frame just drawn in every learning view (the explain and inspector tabs
        when they are on screen: they catch up when shown). New data drops the selected
        point and the pins (chosen before it came)."""
        previous, self._frame = self._frame, frame
        new_data = previous is not None and frame.data is not previous.data
        if new_data and frame.generation > self._chosen_at:
            self.inspector.forget_point()
            self.explain.forget_point()
        self._show_tabs()
        self.bound_view.mark_iteration(frame.snapshot.iteration)
        one_d = frame.data.X.shape[1] == 1
        self.oned.setVisible(one_d)
        # the strip plot of 1-D data needs little height: the 1-D view gets most of it
        scatter = self._window.scatter
        if self._scatter_height is None:
            self._scatter_height = scatter.minimumHeight()
        scatter.setMinimumHeight(_STRIP_HEIGHT if one_d else self._scatter_height)
        if one_d:
            self.oned.show_frame(frame)
        self._draw_truth(frame)
        self._show_collapse(frame)
        self._mark_selected(frame)
        key = (frame.generation, frame.n_history)
        if self.inspector.pinned and frame.state != RUNNING and key != self._traced:
            self._request_trace(self.inspector.pinned)

    def _schedule_catch_up(self, *_args: object) -> None:
        self._catch_up.start()

    def _show_tabs(self, *_args: object) -> None:
        frame = self._frame
        if frame is None:
            return
        for panel in (self.explain, self.inspector):
            # a dock behind another tab stays "visible", with nothing of it on screen
            on_screen = panel.isVisible() and not panel.visibleRegion().isEmpty()
            if on_screen and panel.frame is not frame:
                panel.show_frame(frame)

    def show_history(self, history: History) -> None:
        """The bound, KL and ARI per half-step."""
        self.bound_view.set_history(history)

    def _request_trace(self, rows: list[int]) -> None:
        frame = self._window.current_frame()
        if not rows or frame is None:
            return
        self._traced = (frame.generation, frame.n_history)
        self._window.controller.trace_points(rows)

    def _on_trace(self, trace: PointTrace) -> None:
        self.inspector.show_trace(trace)

    def _mark_selected(self, frame: Frame) -> None:
        """A black ring around the inspected point (on the viewed columns)."""
        row = self.inspector.row
        if row is None or row >= len(frame.data.X):
            self._selected.setData([], [])
            return
        x = frame.data.X[row]
        imputed = getattr(frame.snapshot, "imputed", None)
        if imputed is not None and np.isnan(x).any():
            x = imputed[row]  # where its hollow marker is drawn
        if len(x) == 1:
            self._selected.setData([], [])  # the strip's jitter is the scatter view's own
            return
        cx, cy = self._window.controls.view_columns()
        self._selected.setData([x[cx]], [x[cy]])

    def _draw_truth(self, frame: Frame) -> None:
        plot = self._window.scatter.plot_item
        for item in self._truth_items:
            plot.removeItem(item)
        self._truth_items = []
        truth = frame.data.truth if self._show_truth else None
        one_d = frame.data.X.shape[1] == 1
        if (truth if one_d else None) is not self.oned.truth:
            self.oned.show_truth(truth if one_d else None)
        if truth is None or one_d:
            return
        columns = self._window.controls.view_columns()
        means, covs = marginal(truth.means, truth.covariances, "full", columns)
        rings = ellipse_polylines(means, covs, _TRUTH_SIGMA)
        pen = pg.mkPen(40, 40, 40, width=2.5, style=QtCore.Qt.PenStyle.DashLine)
        for k in range(len(means)):
            item = pg.PlotCurveItem(rings[k, 0, :, 0], rings[k, 0, :, 1], pen=pen)
            item.setZValue(6)
            plot.addItem(item, ignoreBounds=True)
            self._truth_items.append(item)

    @property
    def truth_items(self) -> list[pg.PlotCurveItem]:
        """The dashed true ellipses (2-D data) or densities (1-D data) drawn now."""
        return list(self._truth_items) + self.oned.truth_curves

    def _show_collapse(self, frame: Frame) -> None:
        snap = frame.snapshot
        self.collapse_note.show_frame(frame)
        rows = np.empty(0, dtype=np.intp)
        visible = self.collapse_note.isVisible() and snap.labels is not None
        if visible and snap.narrow and frame.data.X.shape[1] >= 2:
            held = np.isin(snap.labels, [k for k, _ in snap.narrow])
            rows = np.flatnonzero(held)[:200]
        if rows.size:
            cx, cy = self._window.controls.view_columns()
            self._highlight.setData(frame.data.X[rows, cx], frame.data.X[rows, cy])
        else:
            self._highlight.setData([], [])

    def _apply_remedy(self, settings: Any) -> None:
        frame = self._window.current_frame()
        if frame is not None:
            self._window.controller.apply_settings(frame, settings)
