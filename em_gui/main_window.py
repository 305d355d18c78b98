"""MainWindow: the EM Explorer window.

Layout: the scatter view with the history slider under it and the convergence view below (a
vertical splitter) in the centre, the controls in a dock on the left, the parameter panel in a
dock on the right; menus, a toolbar and a status bar.

All EM work happens in one EMWorker on its own QThread (em_gui.worker). The window sends commands,
keeps only the newest frame the worker sends (frames older than the newest posted command are
dropped) and redraws from a single-shot QTimer at most ``MAX_FRAME_RATE`` times a second.
Errors are reported through an injectable sink (a non-modal message box by default), the status
bar and ``last_error``; the fit already shown is never lost.
"""

from __future__ import annotations

import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRect, QSettings, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from em_engine import __version__
from em_engine.errors import EMError
from em_engine.gaussian import COVARIANCE_TYPES, full_covariances
from em_engine.init import INIT_METHODS
from em_engine.synthetic import PRESETS, make_preset, true_parameters
from em_gui.convergence import ConvergenceView
from em_gui.params_panel import ParameterPanel
from em_gui.scatter import ScatterView
from em_gui.worker import (
    CONVERGED,
    MAX_FRAME_RATE,
    RUNNING,
    EMWorker,
    FitData,
    FitSettings,
    FitState,
    Frame,
    History,
)

__all__ = ["APP_NAME", "ORGANIZATION", "MainWindow"]

APP_NAME = "EM Explorer"
ORGANIZATION = "EM Explorer"
SPEED_MAX = 61  # the speed slider's last position: as fast as possible
MAX_RECENT = 8
PANELS_AFTER_MS = 40  # a redraw's panels wait for the scatter's paint at most this long
DRAW_SHARE_FACTOR = 2.0  # redraw gap >= this x the last redraw+paint cost (GUI <= ~half busy)
MAX_SEED = 2**31 - 1  # what a QSpinBox can hold
DEFAULT_PRESET, DEFAULT_SAMPLES, DEFAULT_SPEED = "blobs", 1500, 10
DEFAULT_INIT = "random_means"  # broad Gaussians at K random points: visible, EM visibly moves
DEFAULT_SIZE = (1400, 900)  # the first window's size, made smaller to fit a smaller screen
PHASE_NAMES = {"init": "initial", "e": "E-step", "m": "M-step", "edit": "edited"}


def preset_components(name: str) -> int:
    """The number of components a synthetic preset is drawn from (its true K)."""
    return len(true_parameters(name)[0])


def default_fit_settings() -> FitSettings:
    """The fit settings of a first launch (and of View → Restore default settings)."""
    return FitSettings(n_components=preset_components(DEFAULT_PRESET), init=DEFAULT_INIT)


class _TypingKeys(QObject):
    """Event filter for the number fields: Space goes to the window's shortcuts (Run/Pause) instead
    of into the field (where it blanked it), and Enter hands the keyboard back to the plot."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            # Filtered without being accepted: a ShortcutOverride then goes to the shortcut map
            # (Space runs or pauses), and a key press never reaches the field.
            return True
        if event.type() == QEvent.Type.KeyPress and event.key() in (
            Qt.Key.Key_Return,
            Qt.Key.Key_Enter,
        ):
            QTimer.singleShot(0, self._window.scatter.plot_widget.setFocus)  # after the edit
        return False


class StatusMessage(QLabel):
    """The status bar's message: elided to the room the permanent fields leave, the whole text in
    its tooltip (QStatusBar.showMessage cut long messages off without a sign)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("status_message")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._message = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self.show_message("", 0))

    def show_message(self, message: str, timeout_ms: int, detail: str | None = None) -> None:
        """Show ``message`` (one line) for ``timeout_ms`` (0: until the next one); the tooltip
        holds ``detail`` (default: the message)."""
        self._message = " ".join(message.split())
        self.setToolTip(detail or message)
        self._elide()
        if timeout_ms > 0:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def message(self) -> str:
        """The whole message shown now ('' when none)."""
        return self._message

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self._message, Qt.TextElideMode.ElideRight, self.width()))


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
        self._settings = settings if settings is not None else QSettings(ORGANIZATION, APP_NAME)
        self._error_sink = error_sink or (lambda message: _show_message_box(self, message))
        self.last_error: str | None = None
        self._pending_frame: Frame | None = None
        self._pending_history: History | None = None
        self._frame: Frame | None = None  # the frame drawn now
        # a frame drawn in the scatter view whose panels are still to be drawn (see _redraw)
        self._staged: tuple[Frame, np.ndarray] | None = None
        self._drawn_data: FitData | None = None
        self._drawn_columns: tuple[int, int] | None = None
        self._state = "paused"
        self._last_draw = -1.0
        self._draw_gap = 1.0 / MAX_FRAME_RATE  # seconds between redraws (grows with their cost)
        # the history slider's value and the generation it was picked in, sent once it settles
        self._restore_target: tuple[int, int | None] = (0, None)
        self._preset_drawn: tuple[str, int, int] | None = None  # the preset choice on screen

        icon = self.app_icon()
        if icon is not None:
            self.setWindowIcon(icon)

        self.scatter = ScatterView()
        self.convergence = ConvergenceView()
        self.parameters = ParameterPanel()
        self._build_actions()
        self._build_central()
        self._build_controls()
        self._build_menus_and_toolbar()
        self._build_status_bar()

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.timeout.connect(self._redraw)
        # the later stages of a redraw (see _redraw)
        self._stage_timers = (QTimer(self), QTimer(self))
        stages = (self._redraw_scatter, self._redraw_panels)
        for timer, stage in zip(self._stage_timers, stages, strict=True):
            timer.setSingleShot(True)
            timer.setInterval(1)
            timer.timeout.connect(stage)
        self.scatter.plot_widget.viewport().installEventFilter(self)
        self._restore_timer = QTimer(self)
        self._restore_timer.setSingleShot(True)
        self._restore_timer.setInterval(30)
        self._restore_timer.timeout.connect(self._send_restore)

        self._worker = EMWorker(session_factory)
        self._thread = QThread()
        self._thread.setObjectName("em_worker_thread")
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.work)
        self._worker.finished.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._worker.finished.connect(self._worker.deleteLater)
        self._worker.snapshot_ready.connect(self._on_frame)
        self._worker.history_changed.connect(self._on_history)
        self._worker.state_changed.connect(self._on_state)
        self._worker.error.connect(self.show_error)
        self._worker.notice.connect(self._show_notice)

        self._default_layout = self.saveState()  # docks and toolbar as built
        typing_keys = _TypingKeys(self)
        for field in (
            self.spin_seed,
            self.spin_k,
            self.spin_max_iter,
            self.spin_samples,
            self.spin_data_seed,
            self.edit_tol,
            self.edit_reg_covar,
        ):
            field.installEventFilter(typing_keys)
            if isinstance(field, QSpinBox):
                field.lineEdit().installEventFilter(typing_keys)
        self._restore_settings()
        self._apply_state("paused")
        self._thread.start(QThread.Priority.LowPriority)  # honoured on Windows and macOS
        # Keyboard focus on the plot, so the single-key shortcuts (Space, E, M, R) work at once
        # (a focused spin box or text field takes printable keys for itself).
        self.scatter.plot_widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.scatter.plot_widget.setFocus()
        self.set_speed(self._speed_from_slider())
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

    def _build_actions(self) -> None:
        """Create the window's actions as ``self.<objectName>`` (tests find them by name)."""
        sv, cv = self.scatter, self.convergence
        # objectName, text, slot, shortcut, standard icon, tooltip, checkable
        table = [
            ("action_run", "&Run", self.run, "Space", "SP_MediaPlay",
             "Run EM until it converges or reaches max iterations", False),
            ("action_pause", "&Pause", self.pause, "Space", "SP_MediaPause",
             "Pause after the current half-step", False),
            ("action_step", "&Step", self.step, "Right", "SP_MediaSeekForward",
             "One full iteration: E-step then M-step", False),
            ("action_e_step", "&E-step", self.e_step, "E", None,
             "E-step: recompute responsibilities (colours); parameters stay", False),
            ("action_m_step", "&M-step", self.m_step, "M", None,
             "M-step: recompute parameters (ellipses) from the responsibilities", False),
            ("action_reset", "Rese&t", self.reset, "Home", "SP_MediaSkipBackward",
             "Back to the initial parameters of this seed (iteration 0)", False),
            ("action_reseed", "Rese&ed", self.reseed, "R", "SP_BrowserReload",
             "New random seed: new initial parameters", False),
            ("action_open_csv", "&Open CSV…", self.open_csv, "Ctrl+O",
             "SP_DialogOpenButton", "Load data from a CSV file (preview, columns)", False),
            ("action_generate", "&New synthetic data", self.generate_data, "Ctrl+N",
             "SP_FileIcon", "Generate the synthetic preset chosen in the Data panel", False),
            ("action_import_model", "&Import model…", self.import_model, "Ctrl+I", None,
             "Load a model JSON over the current data and continue fitting from it", False),
            ("action_export_model", "E&xport model…", self.export_model,
             "Ctrl+S", "SP_DialogSaveButton",
             "Save the current mixture as model JSON", False),
            ("action_export_assignments", "Export &assignments…", self.export_assignments,
             None, None, "Save label, confidence and responsibilities per row as CSV", False),
            ("action_export_figure", "Export &figure…", self.export_figure, "Ctrl+E", None,
             "Save the scatter plot as PNG or SVG", False),
            ("action_quit", "&Quit", self.close, "Ctrl+Q", None,
             "Quit EM Explorer", False),
            ("action_add_point", "&Add points", sv.set_add_point_mode, "A",
             "SP_DialogYesButton", "While on, a click on the plot adds a data point", True),
            ("action_equal_aspect", "E&qual aspect", sv.set_equal_aspect, None, None,
             "Same scale on both axes", True),
            ("action_reset_view", "Reset &view", sv.reset_view, "Ctrl+0",
             "SP_TitleBarNormalButton", "Zoom to the data", False),
            ("action_show_change", "Show &change per iteration", cv.set_show_change, None,
             None, "Plot |change of the objective| per iteration on a log scale", True),
            ("action_about", "&About EM Explorer", self.show_about, None, None,
             "What this is, and the versions in use", False),
            ("action_restore_defaults", "Restore &default settings", self.restore_defaults,
             None, None, "Forget remembered settings and layout: start as on a first launch",
             False),
        ]  # fmt: skip
        for name, text, slot, shortcut, icon, tip, checkable in table:
            action = QAction(text, self)
            action.setObjectName(name)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            if icon is not None:
                action.setIcon(self.style().standardIcon(getattr(QStyle.StandardPixmap, icon)))
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{tip} ({keys})" if keys else tip)
            action.setStatusTip(tip)
            action.setCheckable(checkable)
            if checkable:
                action.toggled.connect(slot)
            else:
                action.triggered.connect(lambda _checked=False, slot=slot: slot())
            self.addAction(action)  # shortcuts work even with the toolbar hidden
            setattr(self, name, action)
        cv.show_change_box.toggled.connect(self.action_show_change.setChecked)  # menu follows

    def _build_central(self) -> None:
        self.slider_history = QSlider(Qt.Orientation.Horizontal)
        self.slider_history.setObjectName("slider_history")
        self.slider_history.setToolTip("Go back to any stored iteration; stepping continues there")
        self.slider_history.setRange(0, 0)
        self.slider_history.valueChanged.connect(self._on_history_slider)
        self.label_history = QLabel("iteration 0 / 0")
        self.label_history.setMinimumWidth(130)
        row = QHBoxLayout()
        row.setContentsMargins(8, 0, 8, 4)
        row.addWidget(QLabel("History"))
        row.addWidget(self.slider_history, 1)
        row.addWidget(self.label_history)
        top = QWidget()
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.scatter, 1)
        column.addLayout(row)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("splitter_central")
        splitter.addWidget(top)
        splitter.addWidget(self.convergence)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([640, 240])
        self._splitter = splitter
        self.setCentralWidget(splitter)

        self.scatter.mean_dragged.connect(self._on_mean_dragged)
        self.scatter.point_clicked.connect(self._on_point_clicked)

        dock = QDockWidget("Parameters", self)
        dock.setObjectName("dock_parameters")
        dock.setWidget(self.parameters)
        dock.setMinimumWidth(300)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self._dock_parameters = dock

    def _tool_button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def _build_controls(self) -> None:
        panel = QWidget()
        layout = QVBoxLayout(panel)

        # --- EM controls
        box = QGroupBox("EM")
        grid = QGridLayout(box)
        self.button_run = QPushButton()
        self.button_run.setObjectName("button_run")
        self.button_run.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.button_run.setMinimumHeight(34)
        self.button_run.clicked.connect(self.toggle_run)
        grid.addWidget(self.button_run, 0, 0, 1, 2)
        grid.addWidget(self._tool_button(self.action_step), 1, 0, 1, 2)
        grid.addWidget(self._tool_button(self.action_e_step), 2, 0)
        grid.addWidget(self._tool_button(self.action_m_step), 2, 1)
        grid.addWidget(self._tool_button(self.action_reset), 3, 0)
        grid.addWidget(self._tool_button(self.action_reseed), 3, 1)
        form = QFormLayout()
        self.spin_seed = QSpinBox()
        self.spin_seed.setObjectName("spin_seed")
        self.spin_seed.setRange(0, MAX_SEED)
        self.spin_seed.setToolTip("The seed of the initialisation; type one and press Enter")
        self.spin_seed.editingFinished.connect(self._on_seed_edited)
        form.addRow("Seed", self.spin_seed)
        self.slider_speed = QSlider(Qt.Orientation.Horizontal)
        self.slider_speed.setObjectName("slider_speed")
        self.slider_speed.setRange(1, SPEED_MAX)
        self.slider_speed.setValue(DEFAULT_SPEED)
        self.slider_speed.setToolTip("Iterations per second while running (right end: no limit)")
        self.label_speed = QLabel()
        self.label_speed.setMinimumWidth(56)
        self.slider_speed.valueChanged.connect(lambda _v: self.set_speed(self._speed_from_slider()))
        speed_row = QHBoxLayout()
        speed_row.addWidget(self.slider_speed, 1)
        speed_row.addWidget(self.label_speed)
        form.addRow("Speed", speed_row)
        grid.addLayout(form, 4, 0, 1, 2)
        layout.addWidget(box)

        # --- model settings
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.spin_k = QSpinBox()
        self.spin_k.setObjectName("spin_k")
        self.spin_k.setRange(1, 50)
        self.spin_k.setValue(preset_components(DEFAULT_PRESET))
        self.spin_k.setToolTip("Number of mixture components K")
        form.addRow("Components K", self.spin_k)
        self.combo_covariance = QComboBox()
        self.combo_covariance.setObjectName("combo_covariance")
        self.combo_covariance.addItems(COVARIANCE_TYPES)
        self.combo_covariance.setToolTip(
            "full: any ellipse; tied: one shared; diag: axis-aligned; spherical: circles"
        )
        form.addRow("Covariance", self.combo_covariance)
        self.combo_init = QComboBox()
        self.combo_init.setObjectName("combo_init")
        self.combo_init.addItems(INIT_METHODS)
        self.combo_init.setCurrentText(DEFAULT_INIT)
        self.combo_init.setToolTip("How the initial parameters are chosen from the seed")
        form.addRow("Initialisation", self.combo_init)
        self.edit_tol = self._number_edit(
            "edit_tol",
            "Tolerance",
            "1e-3",
            "Converged when the per-sample objective changes by less than this",
        )
        form.addRow("Tolerance", self.edit_tol)
        self.edit_reg_covar = self._number_edit(
            "edit_reg_covar",
            "reg_covar",
            "1e-6",
            "Added to covariance diagonals (keeps them invertible)",
        )
        form.addRow("reg_covar", self.edit_reg_covar)
        self.spin_max_iter = QSpinBox()
        self.spin_max_iter.setObjectName("spin_max_iter")
        self.spin_max_iter.setRange(1, 100_000)
        self.spin_max_iter.setValue(100)
        self.spin_max_iter.setToolTip("A run stops after this many iterations")
        form.addRow("Max iterations", self.spin_max_iter)
        self.check_prior = QCheckBox("MAP (conjugate prior)")
        self.check_prior.setObjectName("check_prior")
        self.check_prior.setToolTip(
            "Maximise the log posterior with a Dirichlet / normal-inverse-Wishart prior"
        )
        form.addRow(self.check_prior)
        layout.addWidget(box)
        for signal in (
            self.spin_k.valueChanged,
            self.combo_covariance.currentIndexChanged,
            self.combo_init.currentIndexChanged,
            self.check_prior.toggled,
        ):
            signal.connect(self._on_settings_edited)
        for edit in (self.edit_tol, self.edit_reg_covar):
            edit.editingFinished.connect(lambda edit=edit: self._commit_number(edit))
        self.spin_max_iter.editingFinished.connect(self._on_settings_edited)

        # --- data
        box = QGroupBox("Data")
        form = QFormLayout(box)
        self.combo_preset = QComboBox()
        self.combo_preset.setObjectName("combo_preset")
        for name, description in PRESETS.items():
            self.combo_preset.addItem(name)
            self.combo_preset.setItemData(
                self.combo_preset.count() - 1, description, Qt.ItemDataRole.ToolTipRole
            )
        form.addRow("Preset", self.combo_preset)
        self.spin_samples = QSpinBox()
        self.spin_samples.setObjectName("spin_samples")
        self.spin_samples.setRange(10, 5_000_000)
        self.spin_samples.setSingleStep(500)
        self.spin_samples.setGroupSeparatorShown(True)
        self.spin_samples.setValue(DEFAULT_SAMPLES)
        form.addRow("Samples", self.spin_samples)
        self.spin_data_seed = QSpinBox()
        self.spin_data_seed.setObjectName("spin_data_seed")
        self.spin_data_seed.setRange(0, MAX_SEED)
        form.addRow("Data seed", self.spin_data_seed)
        self.combo_preset.setToolTip(
            "A synthetic data set; choosing one generates it, with K set to its true K"
        )
        self.combo_preset.activated.connect(self._on_preset_chosen)
        for spin in (self.spin_samples, self.spin_data_seed):
            spin.setToolTip("Press Enter to draw the preset again with this value")
            spin.editingFinished.connect(self._on_data_edited)
        buttons = QHBoxLayout()
        buttons.addWidget(self._tool_button(self.action_generate))
        buttons.addWidget(self._tool_button(self.action_open_csv))
        form.addRow(buttons)
        self.combo_view_x = QComboBox()
        self.combo_view_x.setObjectName("combo_view_x")
        self.combo_view_y = QComboBox()
        self.combo_view_y.setObjectName("combo_view_y")
        for combo in (self.combo_view_x, self.combo_view_y):
            combo.setToolTip("Which fitted column to show on this axis")
            combo.currentIndexChanged.connect(self._on_view_columns)
        form.addRow("View x", self.combo_view_x)
        form.addRow("View y", self.combo_view_y)
        self.label_data = QLabel("no data")
        self.label_data.setWordWrap(True)
        self.label_data.setStyleSheet("color: #555;")
        form.addRow(self.label_data)
        form.addRow(self._tool_button(self.action_add_point))
        layout.addWidget(box)
        layout.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        dock = QDockWidget("Controls", self)
        dock.setObjectName("dock_controls")
        dock.setWidget(scroll)
        scrollbar = scroll.verticalScrollBar().sizeHint().width()
        dock.setMinimumWidth(panel.minimumSizeHint().width() + scrollbar + 4)  # never clipped
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self._dock_controls = dock

    def _number_edit(self, name: str, label: str, text: str, tip: str) -> QLineEdit:
        edit = QLineEdit(text)
        edit.setObjectName(name)
        edit.setProperty("label", label)
        edit.setToolTip(tip)
        edit.setProperty("last_good", text)
        return edit

    def _build_menus_and_toolbar(self) -> None:
        menu = self.menuBar().addMenu("&File")
        menu.addActions([self.action_open_csv, self.action_generate])
        self.menu_recent = menu.addMenu("Open &recent")
        self.menu_recent.setObjectName("menu_recent")
        self.menu_recent.aboutToShow.connect(self._fill_recent_menu)
        menu.addSeparator()
        menu.addActions([self.action_import_model, self.action_export_model])
        menu.addActions([self.action_export_assignments, self.action_export_figure])
        menu.addSeparator()
        menu.addAction(self.action_quit)
        menu = self.menuBar().addMenu("&EM")
        menu.addActions([self.action_run, self.action_pause, self.action_step])
        menu.addActions([self.action_e_step, self.action_m_step])
        menu.addSeparator()
        menu.addActions([self.action_reset, self.action_reseed])
        view = self.menuBar().addMenu("&View")
        view.addActions([self.action_equal_aspect, self.action_reset_view])
        view.addActions([self.action_show_change, self.action_add_point])
        view.addSeparator()
        view.addAction(self._dock_controls.toggleViewAction())
        view.addAction(self._dock_parameters.toggleViewAction())
        menu = self.menuBar().addMenu("&Help")
        menu.addAction(self.action_about)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("toolbar_main")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addActions([self.action_open_csv, self.action_export_model])
        toolbar.addSeparator()
        toolbar.addActions([self.action_run, self.action_pause, self.action_step])
        toolbar.addActions([self.action_e_step, self.action_m_step])
        toolbar.addActions([self.action_reset, self.action_reseed])
        toolbar.addSeparator()
        toolbar.addActions([self.action_add_point, self.action_reset_view])
        view.addAction(toolbar.toggleViewAction())
        view.addSeparator()
        view.addAction(self.action_restore_defaults)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_message = StatusMessage()
        bar.addWidget(self.status_message, 1)
        self.status_labels: dict[str, QLabel] = {}
        for key, width in (
            ("state", 80),
            ("iteration", 100),
            ("phase", 110),
            ("objective", 260),
            ("converged", 110),
            ("time", 110),
        ):
            label = QLabel()
            label.setObjectName(f"status_{key}")
            label.setMinimumWidth(width)
            bar.addPermanentWidget(label)
            self.status_labels[key] = label

    # ================================================================== commands
    def run(self) -> None:
        """Start iterating (until converged, paused or max iterations)."""
        self._worker.run()

    def pause(self) -> None:
        """Pause the run; the final state is drawn."""
        self._worker.pause()

    def toggle_run(self) -> None:
        """Run if paused, pause if running."""
        (self.pause if self._state == RUNNING else self.run)()

    def step(self) -> None:
        """One full EM iteration."""
        self._worker.step()

    def e_step(self) -> None:
        """Only the E-step: new responsibilities, same parameters."""
        self._worker.e_step()

    def m_step(self) -> None:
        """Only the M-step: new parameters from the responsibilities."""
        self._worker.m_step()

    def reset(self) -> None:
        """Back to iteration 0 of the current seed."""
        self._worker.reset()

    def reseed(self, seed: int | None = None) -> None:
        """New initial parameters from ``seed`` (if None, a random one the seed box can show)."""
        if seed is None:
            seed = random.randrange(MAX_SEED + 1)
        self._worker.reseed(seed)

    def set_speed(self, iterations_per_second: float | None) -> None:
        """Limit the run speed (None: as fast as possible); also moves the speed slider."""
        value = SPEED_MAX if iterations_per_second is None else int(iterations_per_second)
        value = min(max(value, 1), SPEED_MAX)
        if self.slider_speed.value() != value:
            self.slider_speed.setValue(value)  # calls back here through valueChanged
            return
        self.label_speed.setText("max" if value == SPEED_MAX else f"{value} it/s")
        self._worker.set_speed(None if value == SPEED_MAX else float(value))

    def _speed_from_slider(self) -> float | None:
        value = self.slider_speed.value()
        return None if value == SPEED_MAX else float(value)

    def current_snapshot(self) -> Any:
        """The engine Snapshot drawn now (None before the first frame)."""
        return None if self._frame is None else self._frame.snapshot

    def current_frame(self) -> Frame | None:
        """The worker Frame drawn now: snapshot, data, settings, history length, state."""
        return self._frame

    def is_drawn_up_to_date(self) -> bool:
        """True when the window shows the newest state it was sent: the frame drawn is of the
        newest command, and no frame, history, redraw or density re-bin is still pending (tours
        and tests wait for this before they look at the picture)."""
        frame = self._frame
        return (
            frame is not None
            and self._is_current(frame.generation)
            and self._pending_frame is None
            and self._staged is None
            and self._pending_history is None
            and not self._redraw_timer.isActive()
            and not self.scatter.rebin_pending
        )

    @property
    def worker_state(self) -> str:
        """The worker's last reported state: "running", "paused" or "converged"."""
        return self._state

    # ================================================================== data
    def generate_data(self) -> None:
        """Generate the preset, size and data seed chosen in the Data panel."""
        choice = self._preset_choice()
        name, n_samples, seed = choice
        try:
            dataset = make_preset(name, n_samples=n_samples, seed=seed)
        except (EMError, ValueError) as exc:
            self.show_error(f"Cannot generate preset {name!r}: {exc}")
            return
        self.set_dataset(dataset)
        self._preset_drawn = choice

    def _on_preset_chosen(self, _index: int) -> None:
        """A preset picked in the Data panel: K becomes its true K, and it is drawn at once."""
        self.spin_k.blockSignals(True)  # the new data carries the new K
        self.spin_k.setValue(preset_components(self.combo_preset.currentText()))
        self.spin_k.blockSignals(False)
        self.generate_data()

    def _preset_choice(self) -> tuple[str, int, int]:
        """(preset, samples, data seed) as the Data panel shows them."""
        return (
            self.combo_preset.currentText(),
            self.spin_samples.value(),
            self.spin_data_seed.value(),
        )

    def _on_data_edited(self) -> None:
        """Samples or data seed confirmed (Enter): draw the preset again if that is new data."""
        if self._preset_choice() != self._preset_drawn:
            self.generate_data()

    def set_dataset(self, dataset: Any) -> None:
        """Fit new data: anything with ``X`` (N, D), ``feature_names`` and ``source``."""
        self._preset_drawn = None
        X = np.asarray(dataset.X)
        names = tuple(dataset.feature_names) or tuple(f"x{j}" for j in range(X.shape[1]))
        source = getattr(dataset, "source", None)
        self._worker.configure(
            data=FitData(X, names, source),
            settings=self.fit_settings(),
            seed=self.spin_seed.value(),
        )
        dropped = getattr(dataset, "n_dropped", 0)
        if dropped:
            self._show_notice(f"{dropped} invalid rows dropped")

    def open_csv(self, path: str | Path | None = None) -> None:
        """Load a CSV file. Without ``path``: file dialog, then the import dialog (preview,
        delimiter, header, columns). With ``path``: read it directly (auto-detected layout)."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Open CSV", self._last_dir(), "CSV files (*.csv *.tsv *.txt);;All files (*)"
            )
            if chosen:
                self._open_csv_with_dialog(chosen)
            return
        from em_engine.data import read_csv

        try:
            dataset = read_csv(path)
        except (EMError, ValueError, OSError) as exc:
            self._report_failure("Cannot load", path, exc)
            return
        self._remember_file(path)
        self.set_dataset(dataset)

    def _open_csv_with_dialog(self, path: str | Path) -> None:
        from em_gui.csv_dialog import CsvImportDialog

        try:
            dialog = CsvImportDialog(str(path), self)
        except (EMError, ValueError, OSError) as exc:
            self._report_failure("Cannot load", path, exc)
            return
        if dialog.exec() and dialog.dataset() is not None:
            self._remember_file(path)
            self.set_dataset(dialog.dataset())

    def _on_point_clicked(self, x: float, y: float) -> None:
        """Add a data point at (x, y) in the viewed columns (other columns: their mean) and go on
        fitting from the current parameters."""
        frame = self._frame
        if frame is None:
            return
        X = frame.data.X
        point = self._placed(X.mean(axis=0), x, y)
        snap = frame.snapshot
        data = FitData(
            np.vstack([X, point.astype(X.dtype)[None]]), frame.data.feature_names, frame.data.source
        )
        self._worker.configure(
            data=data,
            settings=frame.settings,
            seed=snap.seed,
            initial_params={
                "weights": snap.weights,
                "means": snap.means,
                "covariances": snap.covariances,
            },
        )

    def _on_mean_dragged(self, component: int, x: float, y: float) -> None:
        frame = self._frame
        if frame is None or component >= len(frame.snapshot.means):
            return  # a marker of a state no longer shown
        mean = np.array(frame.snapshot.means[component], dtype=np.float64)
        self._worker.move_mean(component, self._placed(mean, x, y), based_on=frame.generation)

    def _placed(self, vector: np.ndarray, x: float, y: float) -> np.ndarray:
        """``vector`` (D,), changed in place: the viewed columns set to the plot's (x, y) (only x
        for 1-D data)."""
        cx, cy = self._view_columns()
        vector[cx] = x
        if vector.shape[0] > 1:
            vector[cy] = y
        return vector

    # ================================================================== settings controls
    def fit_settings(self) -> FitSettings:
        """The fit settings as the controls show them (a number field being typed in counts
        with its last confirmed value)."""
        return FitSettings(
            n_components=self.spin_k.value(),
            covariance_type=self.combo_covariance.currentText(),
            init=self.combo_init.currentText(),
            tol=float(self.edit_tol.property("last_good")),
            max_iter=self.spin_max_iter.value(),
            reg_covar=float(self.edit_reg_covar.property("last_good")),
            prior=self.check_prior.isChecked(),
        )

    def _commit_number(self, edit: QLineEdit) -> None:
        """A number field confirmed: keep its value if it is a number >= 0, else put back the
        last good one (with a notice); then use the settings."""
        try:
            value = float(edit.text())
            if not np.isfinite(value) or value < 0:
                raise ValueError
        except ValueError:
            edit.setText(edit.property("last_good"))
            self._show_notice(f"{edit.property('label')}: needs a number >= 0")
        else:
            edit.setProperty("last_good", edit.text())
        self._on_settings_edited()

    def _on_settings_edited(self, *_args: Any) -> None:
        settings = self.fit_settings()
        frame = self._frame
        if frame is None or settings == frame.settings:
            return  # without data, the settings go with the next data set
        if replace(settings, max_iter=frame.settings.max_iter) == frame.settings:
            self._worker.set_max_iter(settings.max_iter)  # the fit so far is kept
        else:
            self._worker.configure(settings=settings)

    def _show_settings(self, settings: FitSettings) -> None:
        """Put the settings in use into the controls, without sending them back. A control
        being edited (it has the keyboard focus) keeps what the person is typing."""

        def number(edit: QLineEdit, value: float) -> None:
            if float(edit.property("last_good")) != value:
                edit.setText(f"{value:g}")
                edit.setProperty("last_good", edit.text())

        setters = (
            (self.spin_k, lambda: self.spin_k.setValue(settings.n_components)),
            (
                self.combo_covariance,
                lambda: self.combo_covariance.setCurrentText(settings.covariance_type),
            ),
            (self.combo_init, lambda: self.combo_init.setCurrentText(settings.init)),
            (self.edit_tol, lambda: number(self.edit_tol, settings.tol)),
            (self.edit_reg_covar, lambda: number(self.edit_reg_covar, settings.reg_covar)),
            (self.spin_max_iter, lambda: self.spin_max_iter.setValue(settings.max_iter)),
            (self.check_prior, lambda: self.check_prior.setChecked(settings.prior)),
        )
        for widget, setter in setters:
            if widget.hasFocus():
                continue
            widget.blockSignals(True)
            try:
                setter()
            finally:
                widget.blockSignals(False)

    def _on_seed_edited(self) -> None:
        snap = self.current_snapshot()
        if snap is None or self.spin_seed.value() != snap.seed:
            self.reseed(self.spin_seed.value())

    # ================================================================== view columns
    def _view_columns(self) -> tuple[int, int]:
        x = max(self.combo_view_x.currentIndex(), 0)
        y = max(self.combo_view_y.currentIndex(), 0)
        return x, y

    def set_view_columns(self, x: int, y: int) -> None:
        """Show fitted columns ``x`` and ``y`` (0-based) on the plot's axes."""
        self.combo_view_x.setCurrentIndex(x)
        self.combo_view_y.setCurrentIndex(y)

    def _on_view_columns(self, *_args: Any) -> None:
        x, y = self._view_columns()
        if x == y and self.combo_view_y.count() > 1 and self._drawn_columns is not None:
            # one column on both axes says nothing: the other axis takes the column just left
            old_x, old_y = self._drawn_columns
            other, value = (self.combo_view_y, old_x) if x != old_x else (self.combo_view_x, old_y)
            other.blockSignals(True)
            other.setCurrentIndex(value)
            other.blockSignals(False)
        frame = self._staged[0] if self._staged is not None else self._frame  # the newest drawn
        if frame is not None:
            self._draw(frame)

    def _fill_view_combos(self, names: Sequence[str]) -> None:
        combos = (self.combo_view_x, self.combo_view_y)
        for combo in combos:
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(list(names))
        if len(names) == 1:
            self.combo_view_y.clear()
            self.combo_view_y.addItem("(none)")
        self.combo_view_x.setCurrentIndex(0)
        self.combo_view_y.setCurrentIndex(1 if len(names) > 1 else 0)
        for combo in combos:
            combo.setEnabled(len(names) > 1)
            combo.blockSignals(False)

    # ================================================================== frames and drawing
    def _is_current(self, generation: int) -> bool:
        """True unless a command posted after the one that made ``generation`` replaces it
        (after shutdown nothing newer comes)."""
        return self._worker is None or generation >= self._worker.generation

    @Slot(object)
    def _on_frame(self, frame: Frame) -> None:
        if self._worker is None or not self._is_current(frame.generation):
            return  # from before a reset/reseed/new data: never shown
        self._pending_frame = frame
        self._schedule_redraw()

    @Slot(object)
    def _on_history(self, history: History) -> None:
        if self._worker is None or not self._is_current(history.generation):
            return
        self._pending_history = history
        self._schedule_redraw()

    def _schedule_redraw(self) -> None:
        busy = self._redraw_timer.isActive() or any(t.isActive() for t in self._stage_timers)
        if not busy:
            since = time.perf_counter() - self._last_draw
            wait_ms = int(max(0.0, self._draw_gap - since) * 1000)
            self._redraw_timer.start(wait_ms)

    def _redraw(self) -> None:
        """Draw the newest history and frame in three events, then pace the next redraw.

        1. the O(N) point colours of the newest frame (ScatterView.prepare_state; nothing drawn);
        2. the scatter view (painted right after this event);
        3. the convergence view, parameter panel and status (painted right after).
        Stages 2 and 3 run from 1 ms timers, so timers and input due in between are served: the
        GUI thread is never busy for a whole frame at a stretch (at a million points a frame is
        tens of ms of work, twice that while EM loads both cores).
        """
        self._last_draw = time.perf_counter()
        frame = self._pending_frame
        if frame is not None and self._prepare(frame):
            self._stage_timers[0].start()
        else:
            self._redraw_scatter()

    def _prepare(self, frame: Frame) -> bool:
        """Point colours of ``frame`` when its data and viewed columns are those drawn now."""
        snap = frame.snapshot
        if (
            not self._is_current(frame.generation)
            or frame.data is not self._drawn_data
            or self._view_columns() != self._drawn_columns
            or snap.labels is None
        ):
            return False
        self.scatter.prepare_state(snap.labels, snap.confidence, len(snap.weights))
        return True

    def _redraw_scatter(self) -> None:
        frame, self._pending_frame = self._pending_frame, None
        if frame is not None and self._is_current(frame.generation):
            self._staged = (frame, self._draw_scatter(frame))
            # the panels follow the scatter's paint (eventFilter), or this long after it at most
            self._stage_timers[1].start(PANELS_AFTER_MS)
        else:
            self._redraw_panels()

    def _redraw_panels(self) -> None:
        history, self._pending_history = self._pending_history, None
        if history is not None and self._is_current(history.generation):
            self.convergence.set_history(history.iterations, history.values, history.objective)
        staged, self._staged = self._staged, None
        if staged is not None:
            self._draw_panels(*staged)
        # The cost is taken once the paint is done. The next redraw
        # waits at least DRAW_SHARE_FACTOR x that cost: when frames are expensive (a million
        # points on a busy machine) most of the GUI thread's time stays free for the user.
        started = self._last_draw
        self._after_paint(lambda: self._pace(started))
        if self._pending_frame is not None or self._pending_history is not None:
            self._schedule_redraw()  # arrived while this redraw was staged: never lost

    def _after_paint(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once what was just drawn is painted: painting follows a drawing slot
        as a queued scene update and then an update request, so two posted events later."""
        QTimer.singleShot(0, self, lambda: QTimer.singleShot(0, self, callback))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A paint of the scatter view with panels still to draw: draw them right after it."""
        if (
            event.type() == QEvent.Type.Paint
            and self._staged is not None
            and watched is self.scatter.plot_widget.viewport()
        ):
            self._stage_timers[1].start(1)
        return super().eventFilter(watched, event)

    def _pace(self, started: float) -> None:
        cost = time.perf_counter() - started
        self._draw_gap = max(1.0 / MAX_FRAME_RATE, DRAW_SHARE_FACTOR * cost)

    def _draw_newest(self) -> None:
        """Draw the newest frame received now, if a redraw still holds it (a figure export
        must not show an older picture than the window is about to)."""
        staged = self._staged[0] if self._staged is not None else None
        frame = self._pending_frame or staged
        if frame is not None and self._is_current(frame.generation):
            self._pending_frame = self._staged = None
            self._draw(frame)

    def _draw(self, frame: Frame) -> None:
        """Draw ``frame`` at once (all views)."""
        self._draw_panels(frame, self._draw_scatter(frame))

    def _draw_scatter(self, frame: Frame) -> np.ndarray:
        """Show ``frame`` in the scatter view; returns its full (K, D, D) covariances."""
        snap = frame.snapshot
        data = frame.data
        if data is not self._drawn_data:
            self._fill_view_combos(data.feature_names)
            self._drawn_data = data
            self._drawn_columns = None
            self._update_data_label(data)
        columns = self._view_columns()
        n_features = data.X.shape[1]
        if columns != self._drawn_columns:
            self._drawn_columns = columns
            cx, cy = columns
            if n_features == 1:
                xy = np.column_stack([data.X[:, 0], np.zeros(len(data.X), dtype=data.X.dtype)])
                y_label = ""
            else:
                xy = data.X[:, [cx, cy]]
                y_label = data.feature_names[cy]
            self.scatter.set_points(xy, data.feature_names[cx], y_label)
            reset_view = True
        else:
            reset_view = False
        k = len(snap.weights)
        cov = full_covariances(snap.covariances, snap.covariance_type, n_features, k)
        cx, cy = columns
        if n_features == 1:
            means2 = np.column_stack([snap.means[:, 0], np.zeros(k)])
            cov2 = np.zeros((k, 2, 2))
            cov2[:, 0, 0] = cov[:, 0, 0]
        else:
            means2 = snap.means[:, [cx, cy]]
            cov2 = cov[:, [cx, cy]][:, :, [cx, cy]]
        self.scatter.show_state(snap.labels, snap.confidence, means2, cov2, snap.weights)
        if reset_view:
            self.scatter.reset_view()
        return cov

    def _draw_panels(self, frame: Frame, cov: np.ndarray) -> None:
        """Show ``frame`` (drawn in the scatter view) in the other views and controls; it
        becomes the current frame."""
        previous, self._frame = self._frame, frame
        snap = frame.snapshot
        self.parameters.show_parameters(snap.weights, snap.means, cov, frame.data.feature_names)
        self.convergence.mark_iteration(snap.iteration)
        self.convergence.set_tolerance(frame.settings.tol, len(frame.data.X))
        self._show_history_position(frame)
        new_state = previous is None or frame.generation != previous.generation
        if new_state and frame.settings != self.fit_settings():
            self._show_settings(frame.settings)  # e.g. after settings that could not be used
        seed_shown = 0 <= snap.seed <= MAX_SEED and not self.spin_seed.hasFocus()
        if seed_shown and self.spin_seed.value() != snap.seed:
            self.spin_seed.blockSignals(True)
            self.spin_seed.setValue(int(snap.seed))
            self.spin_seed.blockSignals(False)
        self._update_status(frame)
        self.snapshot_drawn.emit(frame)

    def _show_history_position(self, frame: Frame) -> None:
        last = max(frame.n_history - 1, 0)
        self.slider_history.blockSignals(True)
        self.slider_history.setRange(0, last)
        if not self.slider_history.isSliderDown():
            self.slider_history.setValue(frame.snapshot.iteration)
        self.slider_history.blockSignals(False)
        self.label_history.setText(f"iteration {frame.snapshot.iteration} / {last}")

    def _update_data_label(self, data: FitData) -> None:
        n, d = data.X.shape
        source = Path(data.source).name if data.source else "synthetic"
        self.label_data.setText(f"{source}: {n:,} points, {d} feature{'s' * (d != 1)}")
        self.setWindowTitle(f"{source} — {APP_NAME}")

    def _update_status(self, frame: Frame) -> None:
        snap = frame.snapshot
        labels = self.status_labels
        labels["state"].setText(frame.state)
        labels["iteration"].setText(f"iteration {snap.iteration}")
        labels["phase"].setText(PHASE_NAMES.get(snap.phase, snap.phase))
        if snap.log_likelihood is None:
            labels["objective"].setText(f"{snap.objective}: not yet computed")
        else:
            labels["objective"].setText(
                f"{snap.objective} {snap.log_likelihood:.6g} (θ{snap.log_likelihood_iteration})"
            )
        labels["converged"].setText("converged" if snap.converged else "not converged")
        labels["time"].setText(f"{snap.elapsed * 1000:.3g} ms/step")
        if snap.events:
            self.status_message.show_message("; ".join(snap.events), 6000)

    @Slot(str)
    def _on_state(self, state: str) -> None:
        self._apply_state(state)

    def _apply_state(self, state: str) -> None:
        self._state = state
        running = state == RUNNING
        self.action_run.setVisible(not running)
        self.action_pause.setVisible(running)
        action = self.action_pause if running else self.action_run
        self.button_run.setText(action.text().replace("&", ""))
        self.button_run.setIcon(action.icon())
        self.button_run.setToolTip(action.toolTip())
        self.status_labels["state"].setText(state)
        if state == CONVERGED:
            self.status_message.show_message("converged", 4000)
        elif self.status_message.message() == "converged":
            self.status_message.show_message("", 0)  # no longer true: not left to contradict

    # ================================================================== history slider
    def _on_history_slider(self, value: int) -> None:
        frame = self._frame  # the history the position was picked from
        self._restore_target = (value, None if frame is None else frame.generation)
        self._restore_timer.start()

    def _send_restore(self) -> None:
        iteration, based_on = self._restore_target
        self._worker.restore(iteration, based_on=based_on)

    # ================================================================== model files
    def _last_dir(self) -> str:
        """Where file dialogs open: the last folder used, at first the sample data."""
        last = self._settings.value("last_dir")
        if last is not None:
            return str(last)
        from em_engine._resources import resource_path

        samples = resource_path("samples")
        return str(samples if samples.is_dir() else Path.home())

    def _ask_save_path(self, title: str, filters: str, suffix: str) -> Path | None:
        chosen, _ = QFileDialog.getSaveFileName(self, title, self._last_dir(), filters)
        if not chosen:
            return None
        path = Path(chosen)
        return path if path.suffix else path.with_suffix(suffix)

    def _newest_state(self) -> FitState:
        """The newest state the worker holds (exports use it, never an older drawn frame)."""
        state = self._worker.newest_state() if self._worker is not None else None
        if state is None:
            raise RuntimeError("nothing fitted yet")
        return state

    @staticmethod
    def _fitted_model(state: FitState) -> Any:
        """A fitted em_engine.GaussianMixture holding the parameters of ``state``."""
        from em_engine.mixture import GaussianMixture

        snap, settings = state.snapshot, state.settings
        return GaussianMixture.from_parameters(
            snap.weights,
            snap.means,
            snap.covariances,
            covariance_type=snap.covariance_type,
            tol=settings.tol,
            reg_covar=settings.reg_covar,
            max_iter=settings.max_iter,
            init_params=settings.init,
            random_state=snap.seed,
        )

    def export_model(self, path: str | Path | None = None) -> bool:
        """Save the current mixture as model JSON; returns True when written."""
        from em_engine.modelio import save_model

        if path is None:
            path = self._ask_save_path("Export model", "Model JSON (*.json)", ".json")
            if path is None:
                return False
        try:
            state = self._newest_state()
            snap, settings = state.snapshot, state.settings
            details = {
                "n_iter": int(snap.iteration),
                "converged": bool(snap.converged),
                "tol": settings.tol,
                "reg_covar": settings.reg_covar,
                "init": settings.init,
                "seed": int(snap.seed),
                "prior": bool(settings.prior),
            }
            save_model(
                self._fitted_model(state),
                path,
                feature_names=state.data.feature_names,
                X=state.data.X,
                details=details,
            )
        except (EMError, ValueError, OSError, RuntimeError) as exc:
            self._report_failure("Cannot export the model to", path, exc)
            return False
        self._remember_file(path, recent=False)
        self.status_message.show_message(f"model saved to {path}", 5000)
        return True

    def import_model(self, path: str | Path | None = None) -> bool:
        """Load a model JSON, show it over the current data and continue fitting from it."""
        from em_engine.modelio import load_model

        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Import model", self._last_dir(), "Model JSON (*.json);;All files (*)"
            )
            if not chosen:
                return False
            path = chosen
        frame = self._frame
        try:
            model = load_model(path)
            if frame is None:
                raise RuntimeError("load data before importing a model")
            n_features = frame.data.X.shape[1]
            if model.means_.shape[1] != n_features:
                raise ValueError(
                    f"the model has {model.means_.shape[1]} features but the data has "
                    f"{n_features} ({', '.join(frame.data.feature_names)})"
                )
        except (EMError, ValueError, OSError, RuntimeError) as exc:
            self._report_failure("Cannot import", path, exc)
            return False
        settings = replace(
            frame.settings,
            n_components=int(model.n_components),
            covariance_type=str(model.covariance_type),
        )
        self._worker.configure(
            settings=settings,
            initial_params={
                "weights": model.weights_,
                "means": model.means_,
                "covariances": model.covariances_,
            },
        )
        self._remember_file(path)
        self.status_message.show_message(f"model imported from {path}", 5000)
        return True

    def export_assignments(self, path: str | Path | None = None) -> bool:
        """Save per row: row number, label, confidence, log density and responsibilities (CSV)."""
        from em_engine.modelio import write_assignments

        if path is None:
            path = self._ask_save_path("Export assignments", "CSV files (*.csv)", ".csv")
            if path is None:
                return False
        path = Path(path)
        try:
            state = self._newest_state()
            write_assignments(path, self._fitted_model(state), state.data.X)
        except (EMError, ValueError, OSError, RuntimeError) as exc:
            self._report_failure("Cannot export assignments to", path, exc)
            return False
        self.status_message.show_message(f"assignments saved to {path}", 5000)
        return True

    def export_figure(self, path: str | Path | None = None, scale: float | None = None) -> bool:
        """Save the scatter plot as PNG or SVG (by the file suffix). A PNG is ``scale`` times the
        plot's size on screen; None asks (when the path was asked for too) or uses 1."""
        interactive = path is None
        if interactive:
            path = self._ask_save_path(
                "Export figure", "PNG image (*.png);;SVG image (*.svg)", ".png"
            )
            if path is None:
                return False
        if scale is None:
            scale = 1.0
            if interactive and Path(path).suffix.lower() == ".png":
                scale = self._ask_png_scale()
                if scale is None:
                    return False
        try:
            self._draw_newest()
            self.scatter.export_image(path, scale)
        except (ValueError, OSError) as exc:
            self._report_failure("Cannot export the figure to", path, exc)
            return False
        self.status_message.show_message(f"figure saved to {path}", 5000)
        return True

    def _ask_png_scale(self) -> float | None:
        """The PNG export's size, chosen as a multiple of the plot's size (None: cancelled)."""
        scales = (1, 2, 3, 4)
        choices = ["{}× ({} × {} pixels)".format(k, *self.scatter.export_size(k)) for k in scales]
        choice, ok = QInputDialog.getItem(self, "Export figure", "Image size:", choices, 1, False)
        return float(scales[choices.index(choice)]) if ok else None

    # ================================================================== recent files, drops
    def recent_files(self) -> list[str]:
        """Recently opened CSV and model files, newest first."""
        value = self._settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def _remember_file(self, path: str | Path, *, recent: bool = True) -> None:
        path = str(Path(path).resolve())
        self._settings.setValue("last_dir", str(Path(path).parent))
        if recent:
            files = [path, *(f for f in self.recent_files() if f != path)][:MAX_RECENT]
            self._settings.setValue("recent_files", files)

    def _fill_recent_menu(self) -> None:
        self.menu_recent.clear()
        files = self.recent_files()
        for path in files:
            action = self.menu_recent.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _c=False, p=path: self.open_file(p, interactive=True))
        if not files:
            self.menu_recent.addAction("(none)").setEnabled(False)

    def open_file(self, path: str | Path, *, interactive: bool = False) -> None:
        """Open a model JSON (import) or a CSV (with the import dialog when interactive)."""
        if str(path).lower().endswith(".json"):
            self.import_model(path)
        elif interactive:
            self._open_csv_with_dialog(path)
        else:
            self.open_csv(path)

    @staticmethod
    def _dropped_file(event: QDragEnterEvent | QDropEvent) -> str | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        for url in urls:
            if url.isLocalFile() and url.toLocalFile().lower().endswith(
                (".csv", ".tsv", ".txt", ".json")
            ):
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_file(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_file(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        # Open after the drop returns, so the source application is not kept waiting on a dialog.
        QTimer.singleShot(0, lambda: self.open_file(path, interactive=True))

    # ================================================================== messages
    def _report_failure(self, what: str, path: str | Path, exc: Exception) -> None:
        """Show '<what> <path>: <reason>', without the path again when the reason starts with it
        (the engine's messages name their file)."""
        reason = str(exc)
        for name in (str(path), str(Path(path).resolve())):
            if reason.startswith(f"{name}: "):
                reason = reason[len(name) + 2 :]
                break
        self.show_error(f"{what} {path}: {reason}", brief=f"{what} {Path(path).name}: {reason}")

    @Slot(str)
    def show_error(self, message: str, brief: str | None = None) -> None:
        """Report an error: status bar (``brief`` there if given, e.g. without the folder; the
        whole message in its tooltip), ``last_error``, ``error_shown`` and the error sink."""
        self.last_error = message
        self.status_message.show_message(f"Error: {brief or message}", 10000, f"Error: {message}")
        self.error_shown.emit(message)
        self._error_sink(message)

    @Slot(str)
    def _show_notice(self, message: str) -> None:
        self.status_message.show_message(message, 6000)

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
        s = self._settings
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.fit_to_screen()
        state = s.value("window/state")
        if state is not None:
            self.restoreState(state)
        defaults = default_fit_settings()
        try:
            settings = FitSettings(
                **{
                    key: type(value)(s.value(f"fit/{key}", value))
                    for key, value in vars(defaults).items()
                    if key != "prior"
                },
                prior=str(s.value("fit/prior", "false")).lower() == "true",
            )
            if settings.covariance_type not in COVARIANCE_TYPES or settings.init not in (
                INIT_METHODS
            ):
                raise ValueError("unknown choice")
            self._show_controls(
                settings,
                seed=int(s.value("fit/seed", 0)),
                speed=int(s.value("run/speed", DEFAULT_SPEED)),
                preset=str(s.value("data/preset", DEFAULT_PRESET)),
                samples=int(s.value("data/samples", DEFAULT_SAMPLES)),
                data_seed=int(s.value("data/seed", 0)),
            )
        except (TypeError, ValueError):
            pass  # a damaged settings file: keep the defaults

    def _show_controls(
        self,
        settings: FitSettings,
        *,
        seed: int,
        speed: int,
        preset: str,
        samples: int,
        data_seed: int,
    ) -> None:
        """Put settings into the controls without sending them (the next data set uses them)."""
        self._show_settings(settings)
        for widget, value in (
            (self.spin_seed, seed),
            (self.slider_speed, speed),
            (self.spin_samples, samples),
            (self.spin_data_seed, data_seed),
        ):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        self.set_speed(self._speed_from_slider())
        if self.combo_preset.findText(preset) >= 0:
            self.combo_preset.setCurrentText(preset)

    def restore_defaults(self) -> None:
        """Forget the remembered settings and layout, and start again as on a first launch
        (default data set and fit settings, default window size and docks)."""
        for group in ("fit", "data", "run", "window"):
            self._settings.remove(group)
        self.restoreState(self._default_layout)
        self.fit_to_screen()
        self._show_controls(
            default_fit_settings(),
            seed=0,
            speed=DEFAULT_SPEED,
            preset=DEFAULT_PRESET,
            samples=DEFAULT_SAMPLES,
            data_seed=0,
        )
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
        self.resize(max(width, self.minimumSizeHint().width()), max(height, 200))
        self.move(
            available.left() + (available.width() - self.width()) // 2,
            available.top() + max((available.height() - self.height() - 32) // 2, 0),
        )

    def _save_settings(self) -> None:
        s = self._settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        settings = self._frame.settings if self._frame is not None else self.fit_settings()
        for key, value in vars(settings).items():
            s.setValue(f"fit/{key}", value)
        s.setValue("fit/seed", self.spin_seed.value())
        s.setValue("run/speed", self.slider_speed.value())
        s.setValue("data/preset", self.combo_preset.currentText())
        s.setValue("data/samples", self.spin_samples.value())
        s.setValue("data/seed", self.spin_data_seed.value())
        s.sync()

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop the worker and its thread; True when the thread ended within ``timeout_ms``."""
        thread, self._thread = self._thread, None
        worker, self._worker = self._worker, None
        if thread is None:
            return True
        self._redraw_timer.stop()
        for timer in self._stage_timers:
            timer.stop()
        self.scatter.plot_widget.viewport().removeEventFilter(self)
        self._restore_timer.stop()
        worker.stop()
        thread.quit()
        finished = thread.wait(timeout_ms)
        if not finished:  # a half-step on huge data is still going: it ends after that step
            print(f"{APP_NAME}: waiting for the EM worker to finish its step", file=sys.stderr)
            finished = thread.wait()
        thread.deleteLater()
        return finished

    def closeEvent(self, event: Any) -> None:
        self._save_settings()
        self.shutdown()
        super().closeEvent(event)
