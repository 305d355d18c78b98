"""Small dialogs: a synthetic data set from a preset (name, size, seed)."""

from __future__ import annotations

from PySide6 import QtWidgets

from em_engine.data import Dataset
from em_engine.synthetic import PRESETS, make_preset

#: Largest synthetic data set offered.
MAX_SAMPLES = 2_000_000


class SyntheticDialog(QtWidgets.QDialog):
    """Choose a synthetic preset, its size and seed; ``dataset()`` draws it after accept."""

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        name: str = "blobs",
        n_samples: int = 500,
        seed: int = 0,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Synthetic data")
        self._dataset: Dataset | None = None
        self.preset_combo = QtWidgets.QComboBox()
        for key, description in PRESETS.items():
            self.preset_combo.addItem(f"{key} - {description}", key)
        index = self.preset_combo.findData(name)
        self.preset_combo.setCurrentIndex(max(index, 0))
        self.preset_combo.setToolTip("Which mixture the points are drawn from")
        self.samples_spin = QtWidgets.QSpinBox()
        self.samples_spin.setRange(1, MAX_SAMPLES)
        self.samples_spin.setSingleStep(100)
        self.samples_spin.setGroupSeparatorShown(True)
        self.samples_spin.setValue(n_samples)
        self.samples_spin.setToolTip("Number of points N")
        self.seed_spin = QtWidgets.QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(seed)
        self.seed_spin.setToolTip("The same preset, size and seed always give the same points")
        self.message = QtWidgets.QLabel()
        self.message.setStyleSheet("color: #b00020")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._on_ok)
        buttons.rejected.connect(self.reject)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Preset:", self.preset_combo)
        form.addRow("Points:", self.samples_spin)
        form.addRow("Seed:", self.seed_spin)
        form.addRow(self.message)
        form.addRow(buttons)

    def values(self) -> tuple[str, int, int]:
        """(preset name, n_samples, seed) as chosen."""
        return self.preset_combo.currentData(), self.samples_spin.value(), self.seed_spin.value()

    def dataset(self) -> Dataset | None:
        """The data set drawn on accept, else None."""
        return self._dataset

    def _on_ok(self) -> None:
        name, n_samples, seed = self.values()
        try:
            self._dataset = make_preset(name, n_samples=n_samples, seed=seed)
        except ValueError as exc:
            self.message.setText(str(exc))
            self.message.setVisible(True)
            return
        self.accept()
