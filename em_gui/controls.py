"""The controls dock's panel: the EM group (run, steps, seed, speed), the Model group (the fit
settings) and the Data group (preset, samples, data seed, viewed columns). It holds no fit state:
it emits what the person chose, and shows what the window tells it to (a control that has the
keyboard focus keeps what is being typed)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from em_engine.covariance import COVARIANCE_TYPES
from em_engine.init import INIT_METHODS
from em_engine.synthetic import PRESETS
from em_gui.app_settings import (
    DEFAULT_INIT,
    DEFAULT_PRESET,
    DEFAULT_SAMPLES,
    DEFAULT_SPEED,
    ControlValues,
    preset_components,
)
from em_gui.frames import MODE_LABELS, FitSettings

__all__ = ["MAX_SEED", "SPEED_MAX", "ControlsPanel", "TypingKeys"]

SPEED_MAX = 61  # the speed slider's last position: as fast as possible
MAX_SEED = 2**31 - 1  # what a QSpinBox can hold


class TypingKeys(QObject):
    """Event filter for the controls: Space goes to the window's shortcuts (Run/Pause) instead of
    into a number field (where it blanked it), Enter hands the keyboard to ``focus_plot``, and the
    mouse wheel over a control without the keyboard focus scrolls the panel instead of changing
    the control's value (it changed Max iterations while a person scrolled)."""

    def __init__(self, parent: QObject, focus_plot: Callable[[], object]) -> None:
        super().__init__(parent)
        self._focus_plot = focus_plot

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget):
            return self._wheel(watched, event)
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
            QTimer.singleShot(0, self._focus_plot)  # after the edit
        return False

    @staticmethod
    def _wheel(control: QWidget, event: QEvent) -> bool:
        """A wheel turn over an unfocused control goes to the scroll area around it."""
        if control.hasFocus() or (control.focusProxy() and control.focusProxy().hasFocus()):
            return False
        area = control.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None:
            QApplication.sendEvent(area.verticalScrollBar(), event.clone())
        return True


def _tool_button(action: QAction) -> QToolButton:
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return button


def _number_edit(name: str, label: str, text: str, tip: str) -> QLineEdit:
    edit = QLineEdit(text)
    edit.setObjectName(name)
    edit.setProperty("label", label)
    edit.setToolTip(tip)
    edit.setProperty("last_good", text)
    return edit


class ControlsPanel(QWidget):
    """The three control groups (see the module docstring).

    ``actions`` are the window's actions by name (step, e_step, m_step, reset, reseed, generate,
    open_csv, add_point get buttons here); ``focus_plot`` gives the plot the keyboard (after
    Enter in a number field).
    """

    run_toggled = Signal()
    seed_edited = Signal(int)
    speed_changed = Signal(object)  # iterations per second, None: as fast as possible
    settings_edited = Signal(object)  # the FitSettings the controls show
    preset_chosen = Signal()
    data_edited = Signal()  # samples or data seed confirmed
    view_columns_changed = Signal()
    notice = Signal(str)

    def __init__(
        self,
        actions: Mapping[str, QAction],
        focus_plot: Callable[[], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_em_group(actions))
        layout.addWidget(self._build_model_group())
        layout.addWidget(self._build_data_group(actions))
        layout.addStretch(1)
        self._columns = (0, 0)  # the viewed columns before the latest change
        typing_keys = TypingKeys(self, focus_plot)
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
                # a typed number counts on Enter or when the field is left, not per keystroke
                # (typing "50" in K no longer fits K=5 on the way)
                field.setKeyboardTracking(False)
                field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a wheel turn takes no focus
        for control in (
            self.combo_covariance,
            self.combo_init,
            self.combo_preset,
            self.combo_view_x,
            self.combo_view_y,
            self.slider_speed,
        ):
            control.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a wheel turn takes no focus
            control.installEventFilter(typing_keys)

    # ------------------------------------------------------------------ construction
    def _build_em_group(self, actions: Mapping[str, QAction]) -> QGroupBox:
        box = QGroupBox("EM")
        grid = QGridLayout(box)
        self.button_run = QPushButton()
        self.button_run.setObjectName("button_run")
        self.button_run.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.button_run.setMinimumHeight(34)
        self.button_run.clicked.connect(self.run_toggled)
        grid.addWidget(self.button_run, 0, 0, 1, 2)
        grid.addWidget(_tool_button(actions["step"]), 1, 0, 1, 2)
        grid.addWidget(_tool_button(actions["e_step"]), 2, 0)
        grid.addWidget(_tool_button(actions["m_step"]), 2, 1)
        grid.addWidget(_tool_button(actions["reset"]), 3, 0)
        grid.addWidget(_tool_button(actions["reseed"]), 3, 1)
        form = QFormLayout()
        self.spin_seed = QSpinBox()
        self.spin_seed.setObjectName("spin_seed")
        self.spin_seed.setRange(0, MAX_SEED)
        self.spin_seed.setToolTip("The seed of the initialisation; type one and press Enter")
        self.spin_seed.editingFinished.connect(
            lambda: self.seed_edited.emit(self.spin_seed.value())
        )
        form.addRow("Seed", self.spin_seed)
        self.slider_speed = QSlider(Qt.Orientation.Horizontal)
        self.slider_speed.setObjectName("slider_speed")
        self.slider_speed.setRange(1, SPEED_MAX)
        self.slider_speed.setValue(DEFAULT_SPEED)
        self.slider_speed.setToolTip("Iterations per second while running (right end: no limit)")
        self.label_speed = QLabel()
        self.label_speed.setMinimumWidth(56)
        self.slider_speed.valueChanged.connect(self._on_speed_slider)
        speed_row = QHBoxLayout()
        speed_row.addWidget(self.slider_speed, 1)
        speed_row.addWidget(self.label_speed)
        form.addRow("Speed", speed_row)
        grid.addLayout(form, 4, 0, 1, 2)
        return box

    def _build_model_group(self) -> QGroupBox:
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
        self.edit_tol = _number_edit(
            "edit_tol",
            "Tolerance",
            f"{FitSettings.tol:g}",
            "Converged when the per-sample objective changes by less than this",
        )
        form.addRow("Tolerance", self.edit_tol)
        self.edit_reg_covar = _number_edit(
            "edit_reg_covar",
            "reg_covar",
            f"{FitSettings.reg_covar:g}",
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
        self.combo_mode = QComboBox()
        self.combo_mode.setObjectName("combo_mode")
        for mode, label in MODE_LABELS.items():
            self.combo_mode.addItem(label, mode)
        self.combo_mode.setToolTip(
            "soft EM: each point shared by its responsibilities; hard EM: each point wholly "
            "to its most likely component; k-means: hard EM, equal weights, one round covariance"
        )
        form.addRow("Mode", self.combo_mode)
        for signal in (
            self.spin_k.valueChanged,
            self.combo_covariance.currentIndexChanged,
            self.combo_init.currentIndexChanged,
            self.check_prior.toggled,
            self.combo_mode.currentIndexChanged,
        ):
            signal.connect(self._on_settings_edited)
        for edit in (self.edit_tol, self.edit_reg_covar):
            edit.editingFinished.connect(lambda edit=edit: self._commit_number(edit))
        self.spin_max_iter.editingFinished.connect(self._on_settings_edited)
        return box

    def _build_data_group(self, actions: Mapping[str, QAction]) -> QGroupBox:
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
            spin.editingFinished.connect(self.data_edited)
        buttons = QHBoxLayout()
        buttons.addWidget(_tool_button(actions["generate"]))
        buttons.addWidget(_tool_button(actions["open_csv"]))
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
        form.addRow(_tool_button(actions["add_point"]))
        return box

    # ------------------------------------------------------------------ fit settings
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
            prior=self.check_prior.isChecked() and self.combo_mode.currentData() != "kmeans",
            mode=self.combo_mode.currentData(),
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
            self.notice.emit(f"{edit.property('label')}: needs a number >= 0")
        else:
            edit.setProperty("last_good", edit.text())
            self.notice.emit("")  # a notice about a bad number no longer holds
        self._on_settings_edited()

    def _on_settings_edited(self, *_args: Any) -> None:
        self.check_prior.setEnabled(self.combo_mode.currentData() != "kmeans")  # k-means: ML
        self.settings_edited.emit(self.fit_settings())

    def show_settings(self, settings: FitSettings) -> None:
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
            (
                self.combo_mode,
                lambda: self.combo_mode.setCurrentIndex(self.combo_mode.findData(settings.mode)),
            ),
        )
        for widget, setter in setters:
            if widget.hasFocus():
                continue
            widget.blockSignals(True)
            try:
                setter()
            finally:
                widget.blockSignals(False)
        self.check_prior.setEnabled(settings.mode != "kmeans")

    def show_seed(self, seed: int) -> None:
        """Show the seed in use (unless it is being typed, or a QSpinBox cannot hold it)."""
        if 0 <= seed <= MAX_SEED and not self.spin_seed.hasFocus():
            if self.spin_seed.value() != seed:
                self.spin_seed.blockSignals(True)
                self.spin_seed.setValue(int(seed))
                self.spin_seed.blockSignals(False)

    def show_values(self, values: ControlValues) -> None:
        """Put remembered values into the controls without sending them (the next data set
        uses them); the speed is sent."""
        self.show_settings(values.settings)
        for widget, value in (
            (self.spin_seed, values.seed),
            (self.slider_speed, values.speed),
            (self.spin_samples, values.samples),
            (self.spin_data_seed, values.data_seed),
        ):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        self._on_speed_slider()
        if self.combo_preset.findText(values.preset) >= 0:
            self.combo_preset.setCurrentText(values.preset)

    def values(self, settings: FitSettings) -> ControlValues:
        """What to remember: ``settings`` (those in use) and the other controls as shown."""
        return ControlValues(
            settings,
            seed=self.spin_seed.value(),
            speed=self.slider_speed.value(),
            preset=self.combo_preset.currentText(),
            samples=self.spin_samples.value(),
            data_seed=self.spin_data_seed.value(),
        )

    # ------------------------------------------------------------------ run and speed
    def show_run_action(self, action: QAction) -> None:
        """The run button shows ``action`` (Run while paused, Pause while running)."""
        self.button_run.setText(action.text().replace("&", ""))
        self.button_run.setIcon(action.icon())
        self.button_run.setToolTip(action.toolTip())

    def speed(self) -> float | None:
        """Iterations per second chosen (None: as fast as possible)."""
        value = self.slider_speed.value()
        return None if value == SPEED_MAX else float(value)

    def set_speed(self, iterations_per_second: float | None) -> None:
        """Move the speed slider (None: the 'max' end); ``speed_changed`` follows."""
        value = SPEED_MAX if iterations_per_second is None else int(iterations_per_second)
        value = min(max(value, 1), SPEED_MAX)
        if self.slider_speed.value() != value:
            self.slider_speed.setValue(value)  # calls _on_speed_slider through valueChanged
        else:
            self._on_speed_slider()

    def _on_speed_slider(self, *_args: Any) -> None:
        value = self.slider_speed.value()
        self.label_speed.setText("max" if value == SPEED_MAX else f"{value} it/s")
        self.speed_changed.emit(self.speed())

    # ------------------------------------------------------------------ data
    def preset_choice(self) -> tuple[str, int, int]:
        """(preset, samples, data seed) as the Data group shows them."""
        return (
            self.combo_preset.currentText(),
            self.spin_samples.value(),
            self.spin_data_seed.value(),
        )

    def _on_preset_chosen(self, _index: int) -> None:
        """A preset picked: K becomes its true K (sent with the new data), then it is drawn."""
        self.spin_k.blockSignals(True)
        self.spin_k.setValue(preset_components(self.combo_preset.currentText()))
        self.spin_k.blockSignals(False)
        self.preset_chosen.emit()

    def show_data(self, text: str) -> None:
        """The data set's description under the Data group."""
        self.label_data.setText(text)

    # ------------------------------------------------------------------ viewed columns
    def view_columns(self) -> tuple[int, int]:
        """The fitted columns shown on the x and y axes (0-based)."""
        return max(self.combo_view_x.currentIndex(), 0), max(self.combo_view_y.currentIndex(), 0)

    def set_view_columns(self, x: int, y: int) -> None:
        """Show fitted columns ``x`` and ``y`` on the plot's axes."""
        self.combo_view_x.setCurrentIndex(x)
        self.combo_view_y.setCurrentIndex(y)

    def fill_view_columns(self, names: Sequence[str]) -> None:
        """New data: its column names in View x / View y (columns 0 and 1 shown). Data with the
        same columns (a point added, the same file again) keeps the columns viewed."""
        shown = [self.combo_view_x.itemText(i) for i in range(self.combo_view_x.count())]
        if len(names) > 1 and shown == list(names):
            return
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
        self._columns = self.view_columns()

    def _on_view_columns(self, *_args: Any) -> None:
        x, y = self.view_columns()
        if x == y and self.combo_view_y.count() > 1:
            # one column on both axes says nothing: the other axis takes the column just left
            old_x, old_y = self._columns
            other, value = (self.combo_view_y, old_x) if x != old_x else (self.combo_view_x, old_y)
            other.blockSignals(True)
            other.setCurrentIndex(value)
            other.blockSignals(False)
        self._columns = self.view_columns()
        self.view_columns_changed.emit()
