"""The Export animation dialog: iterations, step, size, speed, format and file."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets

from em_gui.animation import AnimationRequest

__all__ = ["AnimationDialog", "ask_animation"]


class AnimationDialog(QtWidgets.QDialog):
    """Asks what to export from a history of ``n_history`` iterations (0 .. n_history - 1)."""

    def __init__(self, parent: QtWidgets.QWidget | None, n_history: int) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        self.setObjectName("dialog_animation")
        last = max(n_history - 1, 0)

        def spin(
            name: str, low: int, high: int, value: int, suffix: str = ""
        ) -> QtWidgets.QSpinBox:
            box = QtWidgets.QSpinBox(objectName=name, minimum=low, maximum=high)
            box.setValue(value)
            box.setSuffix(suffix)
            return box

        self.spin_first = spin("spin_anim_first", 0, last, 0)
        self.spin_last = spin("spin_anim_last", 0, last, last)
        self.spin_step = spin("spin_anim_step", 1, max(last, 1), max(1, (last + 1) // 100 + 1))
        self.spin_width = spin("spin_anim_width", 16, 4000, 640, " px")
        self.spin_height = spin("spin_anim_height", 16, 4000, 480, " px")
        self.spin_ms = spin("spin_anim_ms", 10, 10_000, 250, " ms")
        self.combo_format = QtWidgets.QComboBox(objectName="combo_anim_format")
        self.combo_format.addItems(["Animated GIF (.gif)", "PNG sequence (.png)"])
        self.edit_path = QtWidgets.QLineEdit(str(Path.home() / "em-fit.gif"))
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.combo_format.currentIndexChanged.connect(self._on_format)
        path_row = QtWidgets.QHBoxLayout()
        path_row.addWidget(self.edit_path, 1)
        path_row.addWidget(browse)

        form = QtWidgets.QFormLayout()
        form.addRow(f"From iteration (0–{last})", self.spin_first)
        form.addRow("To iteration", self.spin_last)
        form.addRow("Every n-th iteration", self.spin_step)
        form.addRow("Width", self.spin_width)
        form.addRow("Height", self.spin_height)
        form.addRow("Time per frame", self.spin_ms)
        form.addRow("Format", self.combo_format)
        form.addRow("File", path_row)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Save
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        note = QtWidgets.QLabel(
            "The window shows each iteration in turn while the frames are taken; a PNG "
            "sequence is saved as NAME-001.png, NAME-002.png, …"
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _suffix(self) -> str:
        return ".gif" if self.combo_format.currentIndex() == 0 else ".png"

    def _on_format(self, _index: int) -> None:
        path = Path(self.edit_path.text() or "em-fit")
        self.edit_path.setText(str(path.with_suffix(self._suffix())))

    def _browse(self) -> None:
        pattern = "GIF (*.gif)" if self._suffix() == ".gif" else "PNG (*.png)"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export animation", self.edit_path.text(), pattern
        )
        if path:
            self.edit_path.setText(str(Path(path).with_suffix(self._suffix())))

    def request(self) -> AnimationRequest:
        """The choices made."""
        return AnimationRequest(
            path=Path(self.edit_path.text()).with_suffix(self._suffix()),
            first=self.spin_first.value(),
            last=self.spin_last.value(),
            step=self.spin_step.value(),
            size=(self.spin_width.value(), self.spin_height.value()),
            frame_ms=self.spin_ms.value(),
        )


def ask_animation(parent: QtWidgets.QWidget, n_history: int) -> AnimationRequest | None:
    """Show the dialog (modal); the request, or None when cancelled."""
    dialog = AnimationDialog(parent, n_history)
    try:
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            return dialog.request()
        return None
    finally:
        dialog.deleteLater()
