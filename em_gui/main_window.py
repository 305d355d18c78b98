"""MainWindow: the EM Explorer window, assembled from parts with one job each.

Layout: the scatter view with the history bar under it and the convergence view below (a
vertical splitter) in the centre, the controls in a dock on the left, the parameter panel in a
dock on the right; menus, a toolbar and a status bar.

Parts: ``controller`` (em_gui.controller: the EM worker on its thread, exports), the frame
scheduler (em_gui.redraw: when to draw), ``controls`` (em_gui.controls), ``history_bar``,
``status`` (em_gui.status), the actions, menus and toolbar (em_gui.actions), the remembered
settings (em_gui.app_settings) and ``files`` (em_gui.files). The window itself turns frames into
what the views show and the person's edits (settings, data, points, dragged means) into commands.
Errors are reported through an injectable sink (a non-modal message box by default), the status
bar and ``last_error``; the fit already shown is never lost.
"""

from __future__ import annotations

import platform
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QRect, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from em_engine import __version__
from em_engine.errors import EMError
from em_engine.synthetic import make_preset
from em_gui.actions import build_actions, build_menus
from em_gui.app_settings import APP_NAME, ORGANIZATION, AppSettings, default_values
from em_gui.compare_tools import CompareTools
from em_gui.controller import EMController
from em_gui.controls import MAX_SEED, ControlsPanel
from em_gui.convergence import ConvergenceView
from em_gui.files import FileActions
from em_gui.frames import RUNNING, FitData, FitSettings, Frame
from em_gui.history_bar import HistoryBar
from em_gui.learning import LearningPanels, preset_truth
from em_gui.params_panel import ParameterPanel
from em_gui.presenter import FramePresenter
from em_gui.redraw import FrameScheduler
from em_gui.scatter import ScatterView
from em_gui.status import StatusFields

__all__ = ["APP_NAME", "ORGANIZATION", "MainWindow"]

DEFAULT_SIZE = (1400, 900)  # the first window's size, made smaller to fit a smaller screen


def _show_message_box(parent: QWidget, message: str) -> None:
    """The default error sink: a non-modal warning box (the window stays usable)."""
    box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, message, parent=parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()


class MainWindow(QMainWindow):
    """The EM Explorer main window (see the module docstring).

    Parameters
    ----------
    settings : QSettings, optional
        Where geometry, dock layout, the last fit settings and recent files are kept; by default
        ``QSettings(ORGANIZATION, APP_NAME)``.
    error_sink : callable, optional
        Called with each error message; a non-modal QMessageBox by default.
    load_default_data : bool
        Start with the synthetic preset chosen in the controls (default) or with no data.
    session_factory : callable, optional
        Passed to EMWorker (EMSession by default).
    """

    snapshot_drawn = Signal(object)  # the Frame just drawn
    error_shown = Signal(str)
    export_done = Signal(str)  # a model or assignments export written to this path
    export_failed = Signal(str)  # ... or not: the message shown

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        settings: QSettings | None = None,
        error_sink: Callable[[str], None] | None = None,
        load_default_data: bool = True,
        session_factory: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(APP_NAME)
        self.setObjectName("main_window")
        self.setAcceptDrops(True)
        self.resize(*DEFAULT_SIZE)
        self.app_settings = AppSettings(settings)
        self._error_sink = error_sink or (lambda message: _show_message_box(self, message))
        self.last_error: str | None = None
        self._state = "paused"
        self._preset_drawn: tuple[str, int, int] | None = None  # the preset choice on screen

        icon = self.app_icon()
        if icon is not None:
            self.setWindowIcon(icon)
        self.scatter = ScatterView()
        self.convergence = ConvergenceView()
        self.parameters = ParameterPanel()
        self.controller = EMController(session_factory, self)
        self.learning = LearningPanels(self)
        self.status = StatusFields(self.statusBar())
        self.files = FileActions(
            self,
            settings=self.app_settings,
            controller=self.controller,
            scatter=self.scatter,
            status=self.status,
            set_dataset=self.set_dataset,
            current_frame=self.current_frame,
            draw_newest=self._draw_newest,
            show_error=self.show_error,
        )
        self._actions = build_actions(self)
        self.convergence.show_change_box.toggled.connect(self._actions["show_change"].setChecked)
        self.history_bar = HistoryBar()
        self.controls = ControlsPanel(self._actions, self.scatter.plot_widget.setFocus)
        self._build_layout()
        build_menus(
            self,
            self._actions,
            self.files.menu_recent,
            [
                self._dock_controls.toggleViewAction(),
                self._dock_parameters.toggleViewAction(),
                *self.learning.view_actions(),
            ],
        )
        self._presenter = FramePresenter(
            scatter=self.scatter,
            convergence=self.convergence,
            parameters=self.parameters,
            controls=self.controls,
            history_bar=self.history_bar,
            status=self.status,
            set_title=lambda source: self.setWindowTitle(f"{source} — {APP_NAME}"),
            parent=self,
        )
        self._scheduler = FrameScheduler(
            self.scatter.plot_widget.viewport(),
            is_current=self.controller.is_current,
            prepare=self._presenter.prepare,
            draw_scatter=self._presenter.draw_scatter,
            draw_panels=self._presenter.draw_panels,
            draw_history=self._presenter.draw_history,
            parent=self,
        )
        self._connect()
        self.learning.attach(self._dock_parameters, self._presenter.history_drawn)
        self.compare = CompareTools(self)  # model comparison, restart atlas, uncertainty, GIF
        self._default_layout = self.saveState()  # docks and toolbar as built
        self._restore_settings()
        self._apply_state("paused")
        self.controller.start()
        # Keyboard focus on the plot, so the single-key shortcuts (Space, E, M, R) work at once
        # (a focused spin box or text field takes printable keys for itself).
        self.scatter.plot_widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.scatter.plot_widget.setFocus()
        self.controls.set_speed(self.controls.speed())
        if load_default_data:
            self.generate_data()

    # ================================================================== construction
    @staticmethod
    def app_icon() -> QIcon | None:
        """The application icon from resources/icon.png (None if it is missing)."""
        try:
            from em_engine._resources import resource_path

            path = resource_path("icon.png")
        except (ImportError, OSError, ValueError):
            return None
        return QIcon(str(path)) if path.is_file() else None

    def _build_layout(self) -> None:
        top = QWidget()
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.learning.collapse_note)
        column.addWidget(self.learning.oned, 2)
        column.addWidget(self.scatter, 1)
        column.addWidget(self.history_bar)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("splitter_bottom")
        bottom.addWidget(self.convergence)
        bottom.addWidget(self.learning.bound_view)
        bottom.setChildrenCollapsible(False)
        bottom.setSizes([500, 500])
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("splitter_central")
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([580, 300])
        splitter.setChildrenCollapsible(False)
        # below these the scatter plot is a strip under its legend and the curve has no height
        self.scatter.setMinimumHeight(260)
        self.convergence.setMinimumHeight(140)
        self.setCentralWidget(splitter)

        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._dock_controls = QDockWidget("Controls", self)
        self._dock_controls.setObjectName("dock_controls")
        self._dock_controls.setWidget(scroll)
        scrollbar = scroll.verticalScrollBar().sizeHint().width()
        width = self.controls.minimumSizeHint().width() + scrollbar + 4  # never clipped
        self._dock_controls.setMinimumWidth(width)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self._dock_controls)

        self._dock_parameters = QDockWidget("Parameters", self)
        self._dock_parameters.setObjectName("dock_parameters")
        self._dock_parameters.setWidget(self.parameters)
        self._dock_parameters.setMinimumWidth(300)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self._dock_parameters)

    def _connect(self) -> None:
        c = self.controller
        c.frame_ready.connect(self._scheduler.submit_frame)
        c.history_ready.connect(self._scheduler.submit_history)
        c.state_changed.connect(self._apply_state)
        c.error.connect(self.show_error)
        c.notice.connect(self._show_notice)
        self._presenter.drawn.connect(self.snapshot_drawn)
        self.files.export_done.connect(self.export_done)
        self.files.export_failed.connect(self.export_failed)
        controls = self.controls
        controls.run_toggled.connect(self.toggle_run)
        controls.seed_edited.connect(self._on_seed_edited)
        controls.speed_changed.connect(self.controller.set_speed)
        controls.settings_edited.connect(self._on_settings_edited)
        controls.preset_chosen.connect(self.generate_data)
        controls.data_edited.connect(self._on_data_edited)
        controls.view_columns_changed.connect(self._on_view_columns)
        controls.notice.connect(self._show_notice)
        self.history_bar.restore_requested.connect(self.controller.restore)
        self.scatter.mean_dragged.connect(self._on_mean_dragged)
        self.scatter.point_clicked.connect(self._on_point_clicked)

    def action(self, name: str) -> QAction:
        """The window's action ``name`` (e.g. "run", "export_model"; em_gui.actions.ACTIONS)."""
        return self._actions[name]

    # ================================================================== commands
    def run(self) -> None:
        """Start iterating (until converged, paused or max iterations)."""
        self.controller.run()

    def pause(self) -> None:
        """Pause the run; the final state is drawn."""
        self.controller.pause()

    def toggle_run(self) -> None:
        """Run if paused, pause if running."""
        (self.pause if self._state == RUNNING else self.run)()

    def step(self) -> None:
        """One full EM iteration."""
        self.controller.step()

    def e_step(self) -> None:
        """Only the E-step: new responsibilities, same parameters."""
        self.controller.e_step()

    def m_step(self) -> None:
        """Only the M-step: new parameters from the responsibilities."""
        self.controller.m_step()

    def reset(self) -> None:
        """Back to iteration 0 of the current seed."""
        self.controller.reset()

    def reseed(self, seed: int | None = None) -> None:
        """New initial parameters from ``seed`` (if None, a random one the seed box can show)."""
        self.controller.reseed(random.randrange(MAX_SEED + 1) if seed is None else seed)

    def set_speed(self, iterations_per_second: float | None) -> None:
        """Limit the run speed (None: as fast as possible); also moves the speed slider."""
        self.controls.set_speed(iterations_per_second)

    def current_snapshot(self) -> Any:
        """The engine Snapshot drawn now (None before the first frame)."""
        frame = self._presenter.frame
        return None if frame is None else frame.snapshot

    def current_frame(self) -> Frame | None:
        """The worker Frame drawn now: snapshot, data, settings, history length, state."""
        return self._presenter.frame

    def is_drawn_up_to_date(self) -> bool:
        """True when the window shows the newest state it was sent: the frame drawn is of the
        newest command, and no frame, history, redraw or density re-bin is still pending (tours
        and tests wait for this before they look at the picture)."""
        frame = self._presenter.frame
        return (
            frame is not None
            and self.controller.is_current(frame.generation)
            and self._scheduler.is_idle()
            and not self.scatter.rebin_pending
        )

    @property
    def worker_state(self) -> str:
        """The worker's last reported state: "running", "paused" or "converged"."""
        return self._state

    def fit_settings(self) -> FitSettings:
        """The fit settings as the controls show them."""
        return self.controls.fit_settings()

    # ================================================================== files (see FileActions)
    def open_csv(self, path: str | Path | None = None) -> None:
        """Load a CSV file (see FileActions.open_csv)."""
        self.files.open_csv(path)

    def import_model(self, path: str | Path | None = None) -> bool:
        """Load a model JSON over the current data and continue fitting from it."""
        return self.files.import_model(path)

    def export_model(self, path: str | Path | None = None) -> bool:
        """Start writing the newest state as model JSON on the worker thread; False when
        cancelled or nothing is fitted. ``export_done`` / ``export_failed`` follow."""
        return self.files.export_model(path)

    def export_assignments(self, path: str | Path | None = None) -> bool:
        """Start writing the per-row assignments (CSV) on the worker thread; as export_model."""
        return self.files.export_assignments(path)

    def export_figure(self, path: str | Path | None = None, scale: float | None = None) -> bool:
        """Save the scatter plot as PNG or SVG at once (see FileActions.export_figure)."""
        return self.files.export_figure(path, scale)

    def recent_files(self) -> list[str]:
        """Recently opened CSV and model files, newest first."""
        return self.app_settings.recent_files()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.files.drag_enter(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.files.drop(event)

    # ================================================================== data
    def generate_data(self) -> None:
        """Generate the preset, size and data seed chosen in the Data panel."""
        choice = self.controls.preset_choice()
        name, n_samples, seed = choice
        try:
            dataset = make_preset(name, n_samples=n_samples, seed=seed)
        except (EMError, ValueError) as exc:
            self.show_error(f"Cannot generate preset {name!r}: {exc}")
            return
        self.set_dataset(dataset, preset_truth(name, dataset))
        self._preset_drawn = choice

    def _on_data_edited(self) -> None:
        """Samples or data seed confirmed (Enter): draw the preset again if that is new data."""
        if self.controls.preset_choice() != self._preset_drawn:
            self.generate_data()

    def set_dataset(self, dataset: Any, truth: Any = None) -> None:
        """Fit new data: anything with ``X`` (N, D), ``feature_names`` and ``source``; ``truth``:
        a synthetic preset's (em_gui.frames.Truth)."""
        self._preset_drawn = None
        X = np.asarray(dataset.X)
        names = tuple(dataset.feature_names) or tuple(f"x{j}" for j in range(X.shape[1]))
        source = getattr(dataset, "source", None)
        lines = getattr(dataset, "lines", None)
        data = FitData(
            X,
            names,
            source,
            None if lines is None else np.asarray(lines),
            getattr(dataset, "sample_weight", None),
            getattr(dataset, "weight_column", None),
            truth,
        )
        self.controller.configure(
            data=data,
            settings=self.fit_settings(),
            seed=self.controls.spin_seed.value(),
        )
        dropped = getattr(dataset, "n_dropped", 0)
        if dropped:
            self._show_notice(f"{dropped} invalid row{'s' * (dropped != 1)} dropped")

    def _on_point_clicked(self, x: float, y: float) -> None:
        """Add a data point at (x, y) in the viewed columns (other columns: their mean) and go on
        fitting from the current parameters."""
        frame = self._presenter.frame
        if frame is None:
            return
        self.controller.add_point(frame, self._placed(frame.data.X.mean(axis=0), x, y))

    def _on_mean_dragged(self, component: int, x: float, y: float) -> None:
        frame = self._presenter.frame
        if frame is None or component >= len(frame.snapshot.means):
            return  # a marker of a state no longer shown
        mean = np.array(frame.snapshot.means[component], dtype=np.float64)
        self.controller.move_mean(component, self._placed(mean, x, y), frame.generation)

    def _placed(self, vector: np.ndarray, x: float, y: float) -> np.ndarray:
        """``vector`` (D,), changed in place: the viewed columns set to the plot's (x, y) (only x
        for 1-D data)."""
        cx, cy = self.controls.view_columns()
        vector[cx] = x
        if vector.shape[0] > 1:
            vector[cy] = y
        return vector

    def _on_settings_edited(self, settings: FitSettings) -> None:
        frame = self._presenter.frame
        if frame is not None:  # without data, the settings go with the next data set
            self.controller.apply_settings(frame, settings)

    def _on_seed_edited(self, seed: int) -> None:
        snap = self.current_snapshot()
        if snap is None or seed != snap.seed:
            self.reseed(seed)

    def set_view_columns(self, x: int, y: int) -> None:
        """Show fitted columns ``x`` and ``y`` (0-based) on the plot's axes."""
        self.controls.set_view_columns(x, y)

    def _on_view_columns(self) -> None:
        frame = self._scheduler.newest_drawn() or self._presenter.frame
        if frame is not None:
            self._presenter.draw(frame)

    def _draw_newest(self) -> None:
        """Draw the newest frame received now, if a redraw still holds it (a figure export
        must not show an older picture than the window is about to)."""
        frame = self._scheduler.take_newest()
        if frame is not None:
            self._presenter.draw(frame)

    @Slot(str)
    def _apply_state(self, state: str) -> None:
        self._state = state
        running = state == RUNNING
        self._actions["run"].setVisible(not running)
        self._actions["pause"].setVisible(running)
        self.controls.show_run_action(self._actions["pause" if running else "run"])
        self.status.show_state(state)

    # ================================================================== messages
    @Slot(str)
    def show_error(self, message: str, brief: str | None = None) -> None:
        """Report an error: status bar (``brief`` there if given, e.g. without the folder; the
        whole message in its tooltip), ``last_error``, ``error_shown`` and the error sink."""
        self.last_error = message
        self.status.show_message(f"Error: {brief or message}", 10000, f"Error: {message}")
        self.error_shown.emit(message)
        self._error_sink(message)

    @Slot(str)
    def _show_notice(self, message: str) -> None:
        self.status.show_message(message, 6000)

    @staticmethod
    def about_text() -> str:
        """The About box's text (HTML): what this is, and the versions in use."""
        import pyqtgraph
        import PySide6
        from PySide6.QtCore import qVersion

        return (
            f"<h3>{APP_NAME} {__version__}</h3>"
            "<p>Watch, step through and understand EM fitting a Gaussian mixture model.</p>"
            f"<p>Python {platform.python_version()}<br>Qt {qVersion()}, PySide6 "
            f"{PySide6.__version__}<br>pyqtgraph {pyqtgraph.__version__}<br>numpy "
            f"{np.__version__}<br>{platform.system()} {platform.machine()}</p>"
        )

    def show_about(self) -> None:
        """The About box."""
        QMessageBox.about(self, f"About {APP_NAME}", self.about_text())

    # ================================================================== settings and closing
    def _restore_settings(self) -> None:
        geometry, state = self.app_settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.fit_to_screen()
        if state is not None:
            self.restoreState(state)
        values = self.app_settings.control_values()
        if values is not None:
            self.controls.show_values(values)

    def restore_defaults(self) -> None:
        """Forget the remembered settings and layout, and start again as on a first launch
        (default data set and fit settings, default window size and docks)."""
        self.app_settings.forget()
        self.restoreState(self._default_layout)
        self.fit_to_screen()
        self.controls.show_values(default_values())
        self.generate_data()
        self._show_notice("default settings restored")

    def fit_to_screen(self, available: QRect | None = None) -> None:
        """Size the window to DEFAULT_SIZE or, on a smaller screen, to its available area (less
        a margin for the window frame), and centre it there."""
        if available is None:
            screen = self.screen()
            if screen is None:
                return
            available = screen.availableGeometry()
        width = min(DEFAULT_SIZE[0], available.width() - 16)
        height = min(DEFAULT_SIZE[1], available.height() - 48)  # title bar and frame
        # the minimum size now, not one left from before docks were tabified or hidden
        self.layout().invalidate()
        self.layout().activate()
        self.resize(max(width, self.minimumSizeHint().width()), max(height, 200))
        self.move(
            available.left() + (available.width() - self.width()) // 2,
            available.top() + max((available.height() - self.height() - 32) // 2, 0),
        )

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop drawing, the worker and its thread; True when the thread ended within
        ``timeout_ms``."""
        self._scheduler.stop()
        self.history_bar.stop()
        self.compare.shutdown()
        return self.controller.shutdown(timeout_ms)

    def closeEvent(self, event: Any) -> None:
        settings = (
            self._presenter.frame.settings
            if self._presenter.frame is not None
            else self.fit_settings()
        )
        values = self.controls.values(settings)
        self.app_settings.save(self.saveGeometry(), self.saveState(), values)
        self.shutdown()
        super().closeEvent(event)
