"""The window's choice of what to do with missing cells (empty, NA or NaN) in a CSV file, and the
imputed points' look. The reading itself is em_engine.missing.read_with_missing; the imputed
positions come from the engine's snapshots (``Snapshot.imputed``)."""

from __future__ import annotations

from PySide6 import QtWidgets

__all__ = ["MISSING_LABELS", "MissingCellsCombo"]

#: Choices as shown -> em_engine.missing option.
MISSING_LABELS: dict[str, str] = {
    "Fit them by EM (missing at random)": "em",
    "Drop their rows": "drop",
    "Stop with an error": "error",
}


class MissingCellsCombo(QtWidgets.QComboBox):
    """A combo box of MISSING_LABELS; ``choice()`` is the em_engine.missing option."""

    def __init__(self, missing: str = "em", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.addItems(list(MISSING_LABELS))
        self.setToolTip(
            "Cells that are empty, NA or NaN in a chosen column:\n"
            "EM fits each row from its observed cells and draws the missing ones at their\n"
            "conditional mean (hollow markers, updated every step); or drop those rows; or stop"
        )
        self.set_choice(missing)

    def choice(self) -> str:
        """The chosen option: "em", "drop" or "error"."""
        return MISSING_LABELS[self.currentText()]

    def set_choice(self, missing: str) -> None:
        """Show the option ``missing`` ("em", "drop" or "error")."""
        labels = {option: label for label, option in MISSING_LABELS.items()}
        self.setCurrentText(labels[missing])
