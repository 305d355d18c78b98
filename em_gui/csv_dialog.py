"""CSV import dialog: preview, delimiter, header, columns to fit, missing cells, dropping invalid
rows."""

from __future__ import annotations

import os

from PySide6 import QtCore, QtWidgets

from em_engine.data import (
    CsvPreview,
    Dataset,
    cell_problem,
    delimiter_name,
    is_number,  # the reader's own test of a numeric cell
    sniff_csv,
)
from em_engine.errors import DataError
from em_engine.missing import read_with_missing
from em_gui.missing_cells import MissingCellsCombo

#: Delimiter choices: label -> delimiter (None: detect).
DELIMITERS: dict[str, str | None] = {
    "Detect": None,
    "Comma ( , )": ",",
    "Semicolon ( ; )": ";",
    "Tab": "\t",
    "Pipe ( | )": "|",
}
#: Header choices: label -> header argument (None: detect).
HEADERS: dict[str, bool | None] = {
    "Detect": None,
    "First row is a header": True,
    "No header": False,
}
#: Rows shown in the preview table.
PREVIEW_ROWS = 20


class CsvImportDialog(QtWidgets.QDialog):
    """Preview a CSV file and read it with the chosen options.

    OK runs ``em_engine.data.read_csv``; a ``DataError`` is shown inside the dialog, which stays
    open.
    When rows were dropped (the "drop invalid rows" option, or missing cells set to drop their
    rows), their count and reasons are shown first and a second OK imports the remaining rows.
    After ``accept()``, ``dataset()`` returns the data. ``missing`` is the missing-cells choice
    offered first ("error", "drop" or "em"; the window passes the one last chosen).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        parent: QtWidgets.QWidget | None = None,
        missing: str = "error",
    ):
        super().__init__(parent)
        self.path = os.fspath(path)
        self.setWindowTitle(f"Import CSV - {os.path.basename(self.path)}")
        self.resize(720, 560)
        self._preview: CsvPreview | None = None
        self._dataset: Dataset | None = None
        self._pending: Dataset | None = None

        self.delimiter_combo = QtWidgets.QComboBox()
        self.delimiter_combo.addItems(list(DELIMITERS))
        self.delimiter_combo.setToolTip("Field separator; Detect guesses it from the first lines")
        self.header_combo = QtWidgets.QComboBox()
        self.header_combo.addItems(list(HEADERS))
        self.header_combo.setToolTip("Whether the first row holds column names")
        self.drop_box = QtWidgets.QCheckBox("Drop invalid rows (report how many and why)")
        self.drop_box.setToolTip(
            "Leave out rows with a non-numeric, empty or non-finite value in a chosen column,\n"
            "or with the wrong number of fields, instead of stopping with an error"
        )
        self.missing_combo = MissingCellsCombo(missing)
        self.detected_label = QtWidgets.QLabel()
        self.detected_label.setStyleSheet("color: #555")

        self.columns_list = QtWidgets.QListWidget()
        self.columns_list.setToolTip("Columns used for fitting")
        self.columns_list.setMaximumHeight(64)
        self.columns_list.setFlow(QtWidgets.QListView.Flow.LeftToRight)
        self.columns_list.setWrapping(True)
        self.columns_list.setSpacing(2)

        self.table = QtWidgets.QTableWidget()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)

        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setVisible(False)

        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Import")
        self.buttons.accepted.connect(self._on_ok)
        self.buttons.rejected.connect(self.reject)

        form = QtWidgets.QFormLayout()
        form.addRow("Delimiter:", self.delimiter_combo)
        form.addRow("Header:", self.header_combo)
        form.addRow("Missing cells:", self.missing_combo)
        form.addRow("", self.drop_box)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.detected_label)
        layout.addWidget(QtWidgets.QLabel("Columns to fit:"))
        layout.addWidget(self.columns_list)
        layout.addWidget(
            QtWidgets.QLabel(
                f"Preview (first {PREVIEW_ROWS} data rows, numbered by their row in the file, "
                "as messages number them):"
            )
        )
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

        self.delimiter_combo.currentIndexChanged.connect(self._refresh_preview)
        self.header_combo.currentIndexChanged.connect(self._refresh_preview)
        self.drop_box.toggled.connect(self._clear_pending)
        self.missing_combo.currentIndexChanged.connect(self._clear_pending)
        self.columns_list.itemChanged.connect(self._clear_pending)
        self._refresh_preview()

    # -- state -----------------------------------------------------------------------------
    def delimiter(self) -> str | None:
        """The chosen delimiter, or None to detect it."""
        return DELIMITERS[self.delimiter_combo.currentText()]

    def header(self) -> bool | None:
        """The chosen header setting, or None to detect it."""
        return HEADERS[self.header_combo.currentText()]

    def selected_columns(self) -> list[int]:
        """0-based indices (counting data columns) of the checked columns."""
        return [
            i
            for i in range(self.columns_list.count())
            if self.columns_list.item(i).checkState() == QtCore.Qt.CheckState.Checked
        ]

    def set_column_checked(self, index: int, checked: bool) -> None:
        """Check or uncheck the column ``index`` for fitting."""
        state = QtCore.Qt.CheckState.Checked if checked else QtCore.Qt.CheckState.Unchecked
        self.columns_list.item(index).setCheckState(state)

    def missing_choice(self) -> str:
        """How missing cells are read: "em", "drop" or "error" (em_engine.missing)."""
        return self.missing_combo.choice()

    def dataset(self) -> Dataset | None:
        """The data read when the dialog was accepted, else None."""
        return self._dataset

    def error_text(self) -> str:
        """The message shown inside the dialog (an error or the dropped-rows report), or ''."""
        return self.message.text() if self.message.isVisible() else ""

    # -- actions ---------------------------------------------------------------------------
    def _show_message(self, text: str, error: bool) -> None:
        color = "#b00020" if error else "#7a4d00"
        self.message.setStyleSheet(f"color: {color}")
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _clear_pending(self, *_args: object) -> None:
        self._pending = None
        self.ok_button.setText("Import")
        self._show_message("", error=False)

    def _refresh_preview(self) -> None:
        self._clear_pending()
        try:
            preview = sniff_csv(
                self.path, n_preview=PREVIEW_ROWS, delimiter=self.delimiter(), header=self.header()
            )
        except (DataError, OSError) as exc:
            self._preview = None
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.columns_list.clear()
            self.detected_label.setText("")
            self._show_message(str(exc), error=True)
            self.ok_button.setEnabled(False)
            return
        self._preview = preview
        self.ok_button.setEnabled(True)
        name = delimiter_name(preview.delimiter)
        detected = [f"{name}-separated"]
        detected.append("header row" if preview.has_header else "no header row")
        if preview.has_row_names:
            detected.append("first column holds row names (skipped)")
        self.detected_label.setText("Reading as: " + ", ".join(detected) + ".")
        self._fill_table(preview)
        self._fill_columns(preview)
        if not self.selected_columns():
            self._show_message(self._why_nothing_to_fit(preview), error=True)

    @staticmethod
    def _why_nothing_to_fit(preview: CsvPreview) -> str:
        """Why no column can be ticked: no data rows, or the first cell that is not a number
        (when no column holds numbers); else the person's own choice: choose one."""
        if not preview.preview_rows:
            return "The file has a header but no data rows."
        if any(is_number(cell) for row in preview.preview_rows for cell in row):
            return "Choose at least one column to fit."
        for line, row in zip(preview.preview_lines, preview.preview_rows, strict=True):
            for name, cell in zip(preview.column_names, row, strict=False):
                problem = cell_problem(cell, name)
                if problem is not None:
                    return (
                        f"No column holds numbers in the rows shown: row {line}: {problem}. "
                        "Tick a column to fit it anyway; its bad rows are then named."
                    )
        return "Choose at least one column to fit."

    def _fill_table(self, preview: CsvPreview) -> None:
        n_cols = len(preview.column_names)
        self.table.clear()
        self.table.setColumnCount(n_cols)
        self.table.setRowCount(len(preview.preview_rows))
        self.table.setHorizontalHeaderLabels(list(preview.column_names))
        self.table.setVerticalHeaderLabels([str(line) for line in preview.preview_lines])
        for r, row in enumerate(preview.preview_rows):
            for c, cell in enumerate(row[:n_cols]):
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(cell))
        self.table.resizeColumnsToContents()

    def _fill_columns(self, preview: CsvPreview) -> None:
        self.columns_list.blockSignals(True)
        self.columns_list.clear()
        for c, name in enumerate(preview.column_names):
            item = QtWidgets.QListWidgetItem(name)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            numeric = any(is_number(row[c]) for row in preview.preview_rows if c < len(row))
            checked = QtCore.Qt.CheckState.Checked if numeric else QtCore.Qt.CheckState.Unchecked
            item.setCheckState(checked)
            self.columns_list.addItem(item)
        self.columns_list.blockSignals(False)

    def _on_ok(self) -> None:
        if self._pending is not None:
            self._dataset = self._pending
            self.accept()
            return
        columns = self.selected_columns()
        if not columns:  # the reason nothing is ticked, if there is one, stays in view
            reason = "Choose at least one column to fit."
            if self._preview is not None:
                reason = self._why_nothing_to_fit(self._preview)
            self._show_message(reason, error=True)
            return
        try:
            data = read_with_missing(
                self.path,
                self.missing_choice(),
                delimiter=self.delimiter(),
                header=self.header(),
                columns=columns,
                drop_invalid=self.drop_box.isChecked(),
            )
        except (DataError, OSError) as exc:
            self._show_message(str(exc), error=True)
            return
        if data.n_dropped:
            shown = "\n".join(data.drop_reasons[:8])
            more = data.n_dropped - min(data.n_dropped, 8)
            tail = f"\n... and {more} more" if more else ""
            self._show_message(
                f"{data.n_dropped} invalid row(s) will be dropped, {len(data.X)} kept:\n"
                f"{shown}{tail}\nPress Import again to continue.",
                error=False,
            )
            self._pending = data
            self.ok_button.setText(f"Import {len(data.X)} rows")
            return
        self._dataset = data
        self.accept()
