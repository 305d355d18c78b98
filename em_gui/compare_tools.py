"""The window's tools for comparing models and runs, and sharing them: the model comparison
panel, the restart atlas, the uncertainty view (docks, hidden until asked for) and the animated
export, with their menu ("Analyse"). It loads a chosen model or start into the window's EM
session through the controller (a new fit from given initial parameters), with the components
in the order that matches the fit on screen, so they keep their colours.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QWidget

from em_engine.optima import align_components, permuted
from em_gui.animation import AnimationExporter
from em_gui.atlas import AtlasChoice, AtlasPanel
from em_gui.comparison import Candidate, ComparisonPanel
from em_gui.frames import RUNNING, FitData, Frame
from em_gui.uncertainty_view import UncertaintyView

if TYPE_CHECKING:
    from em_gui.main_window import MainWindow

__all__ = ["CompareTools"]

_KEYS = ("weights", "means", "covariances")
#: While EM runs, the uncertainty view follows at most once per this many seconds.
UNCERTAINTY_INTERVAL_S = 0.5


class CompareTools(QObject):
    """The comparison docks, the animated export and the Analyse menu of ``window``."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.comparison = ComparisonPanel()
        self.atlas = AtlasPanel()
        self.uncertainty = UncertaintyView()
        self.animation = AnimationExporter(window)
        self._uncertainty_shown = -float("inf")
        self.docks = {
            "comparison": self._dock("Model comparison", "dock_comparison", self.comparison),
            "atlas": self._dock("Restart atlas", "dock_atlas", self.atlas),
            "uncertainty": self._dock("Uncertainty", "dock_uncertainty", self.uncertainty),
        }
        first = self.docks["comparison"]
        for dock in list(self.docks.values())[1:]:
            window.tabifyDockWidget(first, dock)
        for dock in self.docks.values():
            dock.hide()
        self.comparison.button_start.clicked.connect(self.start_comparison)
        self.comparison.model_chosen.connect(self.load_candidate)
        self.comparison.error.connect(window.show_error)
        self.atlas.button_start.clicked.connect(self.start_atlas)
        self.atlas.optimum_chosen.connect(self.load_start)
        self.atlas.error.connect(window.show_error)
        self.docks["uncertainty"].visibilityChanged.connect(self._on_uncertainty_shown)
        window.snapshot_drawn.connect(self._on_frame_drawn)
        self._build_menu()

    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self._window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self._window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        return dock

    def _build_menu(self) -> None:
        menu = self._window.menuBar().addMenu("&Analyse")
        menu.setObjectName("menu_analyse")
        help_menu = next((a for a in self._window.menuBar().actions() if a.text() == "&Help"), None)
        if help_menu is not None:  # before Help, as menus usually are
            self._window.menuBar().insertMenu(help_menu, menu)
        shortcuts = {"comparison": "Ctrl+B", "atlas": "Ctrl+L", "uncertainty": "Ctrl+U"}
        for key, dock in self.docks.items():
            action = QAction(dock.windowTitle(), self._window, checkable=True)
            action.setObjectName(f"action_show_{key}")
            action.setShortcut(QKeySequence(shortcuts[key]))
            action.triggered.connect(lambda _checked=False, key=key: self.toggle(key))
            dock.visibilityChanged.connect(action.setChecked)
            self._window.addAction(action)
            menu.addAction(action)
        menu.addSeparator()
        export = QAction("Export &animation…", self._window)
        export.setObjectName("action_export_animation")
        export.setStatusTip("Save the fit's iterations as an animated GIF or a PNG sequence")
        export.triggered.connect(lambda _checked=False: self.animation.ask_and_export())
        self._window.addAction(export)
        menu.addAction(export)
        self.menu = menu

    def show(self, key: str) -> None:
        """Show and raise dock ``key`` ("comparison", "atlas" or "uncertainty")."""
        dock = self.docks[key]
        dock.show()
        dock.raise_()

    def toggle(self, key: str) -> None:
        """The menu's action: hide dock ``key`` when it is in view, else show it and bring its
        tab forward (a dock behind another's tab is "visible" to Qt but not in view)."""
        dock = self.docks[key]
        if dock.isVisible() and not dock.visibleRegion().isEmpty():
            dock.hide()
        else:
            self.show(key)

    # ------------------------------------------------------------------ running
    def _frame(self) -> Frame | None:
        frame = self._window.current_frame()
        if frame is None:
            self._window.show_error("No data to compare: load or generate data first")
        return frame

    def start_comparison(self) -> None:
        """Fit K = 1..K_max x the four covariance types to the data on screen, in the
        background, with the current settings and seed."""
        frame = self._frame()
        if frame is not None:
            self.show("comparison")
            self.comparison.start(frame.data, frame.settings, int(frame.snapshot.seed))

    def start_atlas(self) -> None:
        """Run the atlas's starts of the current settings in the background."""
        frame = self._frame()
        if frame is not None:
            self.show("atlas")
            self.atlas.start(frame, self._scale(frame.data))

    @staticmethod
    def _scale(data: FitData) -> np.ndarray:
        """The columns' standard deviations (D,): matching distances are in these units."""
        return np.asarray(np.nanstd(data.X, axis=0), dtype=np.float64)  # NaN: missing cells

    # ------------------------------------------------------------------ loading
    def _aligned(
        self, data: FitData, parameters: tuple[Any, Any, Any], cov_type: str, final: Any
    ) -> dict[str, np.ndarray]:
        """``parameters`` (weights, means, covariances) reordered so that the components whose
        final means are ``final`` (K, D) match the fit on screen (its colours)."""
        frame = self._window.current_frame()
        order = np.arange(len(parameters[0]))
        if frame is not None and frame.data.X.shape[1] == data.X.shape[1]:
            order = align_components(frame.snapshot.means, final, self._scale(data))
        return dict(zip(_KEYS, permuted(*parameters, cov_type, order), strict=True))

    def _check_data(self, data: FitData) -> bool:
        frame = self._window.current_frame()
        if frame is None or frame.data is not data:
            self._window.show_error(
                "That result was computed on other data than the window shows now: run it again"
            )
            return False
        return True

    def load_candidate(self, candidate: Candidate) -> None:
        """Load a comparison candidate into the window's session (paused at iteration 0 with
        the fitted parameters; Step or Run go on from there)."""
        if not self._check_data(candidate.data):
            return
        model, row = candidate.model, candidate.row
        parameters = (model.weights_, model.means_, model.covariances_)
        params = self._aligned(candidate.data, parameters, row.covariance_type, model.means_)
        settings = replace(
            self._window.current_frame().settings,
            n_components=row.n_components,
            covariance_type=row.covariance_type,
        )
        self._window.controller.configure(settings=settings, initial_params=params)

    def load_start(self, choice: AtlasChoice) -> None:
        """Load an atlas start into the window's session with its history: its seed and initial
        parameters (reordered to the colours on screen), run to its end."""
        if not self._check_data(choice.data):
            return
        start = choice.start
        params = self._aligned(choice.data, start.initial, start.covariance_type, start.means)
        self._window.controller.configure(
            settings=choice.settings, seed=start.seed, initial_params=params
        )
        self._window.controller.run()

    # ------------------------------------------------------------------ following the fit
    def _on_frame_drawn(self, frame: Frame) -> None:
        self.atlas.note_frame(frame)
        self.comparison.note_data(frame.data)
        if not self.docks["uncertainty"].isVisible():
            return
        now = time.monotonic()
        if frame.state == RUNNING and now - self._uncertainty_shown < UNCERTAINTY_INTERVAL_S:
            return  # a few O(N) passes: not at every frame of a run (its last one is shown)
        self._uncertainty_shown = now
        self.uncertainty.show_frame(frame, self._window.controls.view_columns())

    def _on_uncertainty_shown(self, visible: bool) -> None:
        frame = self._window.current_frame()
        if visible and frame is not None:
            self.uncertainty.show_frame(frame, self._window.controls.view_columns())

    def shutdown(self) -> None:
        """Stop the sweep, the atlas and an export in progress, and wait for their threads."""
        self.comparison.stop()
        self.atlas.stop()
        self.animation.stop()
