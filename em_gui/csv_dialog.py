"""Import dialog for CSV and Parquet files: preview, delimiter, header (CSV), columns to fit, a
column of sample weights, missing cells, dropping invalid rows; the file is read on a background
thread with a progress bar and can be cancelled."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from em_engine.checks import check_sample_weight
from em_engine.data import (
    CsvPreview,
    Dataset,
    cell_problem,
    delimiter_name,
    is_number,  # the reader's own test of a numeric cell
)
from em_engine.errors import DataError, RowError
from em_engine.missing import read_with_missing
from em_engine.tables import is_parquet, preview_table, split_weights
from em_gui.missing_cells import MissingCellsCombo
from em_gui.reader import DataReader

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
#: The weight choice meaning "every row counts once".
NO_WEIGHTS = "(none: every row counts once)"


class CsvImportDialog(QtWidgets.QDialog):
    """Preview a CSV or Parquet file and read it with the chosen options.

    OK reads the file (``em_engine.missing.read_with_missing``) on a background thread, with a
    progress bar; Cancel then stops the read. A ``DataError`` is shown inside the dialog, which
    stays open. A weight column (``weight_combo``) is read with the fitted columns and becomes the
    data set's ``sample_weight`` (checked here: a bad weight names its row).
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
        self.parquet = is_parquet(self.path)
        kind = "Parquet" if self.parquet else "CSV"
        self.setWindowTitle(f"Import {kind} - {os.path.basename(self.path)}")
        self.resize(720, 560)
        self._preview: CsvPreview | None = None
        self._dataset: Dataset | None = None
        self._pending: Dataset | None = None
        self._reader: DataReader | None = None

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
        self.weight_combo = QtWidgets.QComboBox()
        self.weight_combo.setObjectName("weight_combo")
        self.weight_combo.setToolTip(
            "A column of frequency weights (not fitted): a row of weight w counts as w copies\n"
            "of itself, weight 0 leaves it out; negative or missing weights are refused"
        )
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
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
        self.buttons.rejected.connect(self._on_cancel)

        form = QtWidgets.QFormLayout()
        form.addRow("Delimiter:", self.delimiter_combo)
        form.addRow("Header:", self.header_combo)
        form.addRow("Sample weights:", self.weight_combo)
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
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)

        self.delimiter_combo.currentIndexChanged.connect(self._refresh_preview)
        self.header_combo.currentIndexChanged.connect(self._refresh_preview)
        self.drop_box.toggled.connect(self._clear_pending)
        self.missing_combo.currentIndexChanged.connect(self._clear_pending)
        self.columns_list.itemChanged.connect(self._clear_pending)
        self.weight_combo.currentIndexChanged.connect(self._on_weight_chosen)
        if self.parquet:  # no delimiter or header to choose
            self.delimiter_combo.setEnabled(False)
            self.header_combo.setEnabled(False)
        self._refresh_preview()

    # -- state -----------------------------------------------------------------------------
    def delimiter(self) -> str | None:
        """The chosen delimiter, or None to detect it."""
        return DELIMITERS[self.delimiter_combo.currentText()]

    def header(self) -> bool | None:
        """The chosen header setting, or None to detect it."""
        return HEADERS[self.header_combo.currentText()]

    def selected_columns(self) -> list[int]:
        """0-based indices (counting data columns) of the checked columns (not the weights)."""
        weight = self.weight_index()
        return [
            i
            for i in range(self.columns_list.count())
            if self.columns_list.item(i).checkState() == QtCore.Qt.CheckState.Checked
            and i != weight
        ]

    def weight_index(self) -> int | None:
        """0-based index of the column chosen as sample weights, or None."""
        index = self.weight_combo.currentIndex()
        return None if index <= 0 else index - 1

    def reading(self) -> bool:
        """Whether the file is being read (OK was pressed and the read has not ended)."""
        return self._reader is not None

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
            preview = preview_table(
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
        if self.parquet:
            detected = ["Parquet file", f"{len(preview.column_names)} columns"]
        else:
            detected = [f"{delimiter_name(preview.delimiter)}-separated"]
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
        chosen = self.weight_combo.currentText()
        self.weight_combo.blockSignals(True)
        self.weight_combo.clear()
        self.weight_combo.addItems([NO_WEIGHTS, *preview.column_names])
        self.weight_combo.setCurrentIndex(max(0, self.weight_combo.findText(chosen)))
        self.weight_combo.blockSignals(False)
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
        self._on_weight_chosen()

    def _on_weight_chosen(self, *_args: object) -> None:
        """The weight column is not fitted: its box is unticked and greyed out."""
        weight = self.weight_index()
        self.columns_list.blockSignals(True)
        for i in range(self.columns_list.count()):
            item = self.columns_list.item(i)
            enabled = i != weight
            if enabled != bool(item.flags() & QtCore.Qt.ItemFlag.ItemIsEnabled):
                item.setFlags(item.flags() ^ QtCore.Qt.ItemFlag.ItemIsEnabled)
            if not enabled:
                item.setCheckState(QtCore.Qt.CheckState.Unchecked)
        self.columns_list.blockSignals(False)
        self._clear_pending()

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
        weight = self.weight_index()
        path, delimiter, header, drop, missing = (
            self.path,
            self.delimiter(),
            self.header(),
            self.drop_box.isChecked(),
            self.missing_choice(),
        )
        names = self._preview.column_names if self._preview is not None else ()

        def read(progress: Callable[[int, int], None]) -> Dataset:  # the reader thread: no widgets
            chosen = columns if weight is None else [*columns, weight]
            data = read_with_missing(
                path,
                missing,
                delimiter=delimiter,
                header=header,
                columns=chosen,
                drop_invalid=drop,
                progress=progress,
            )
            if weight is None:
                return data
            data = split_weights(data, names[weight])
            try:
                check_sample_weight(data.sample_weight, len(data.sample_weight))
            except RowError as exc:
                raise DataError(exc.located(path, data.lines, None)) from None
            return data

        self._show_message("", error=False)
        self._reader = DataReader(path)
        self._reader.progress.connect(self._on_progress)
        self._reader.finished.connect(self._on_read)
        self._reader.failed.connect(self._on_failed)
        self._reader.cancelled.connect(self._on_cancelled)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.ok_button.setEnabled(False)
        self._reader.start(read)

    def _on_cancel(self) -> None:
        """Cancel: stop the read if one runs (the dialog stays), else close the dialog."""
        if self._reader is not None:
            self._reader.cancel()
        else:
            self.reject()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setValue(min(1000, done * 1000 // max(total, 1)))

    def _read_ended(self) -> None:
        self._reader = None
        self.progress.setVisible(False)
        self.ok_button.setEnabled(True)

    def _on_cancelled(self) -> None:
        self._read_ended()
        self._show_message("Reading cancelled.", error=False)

    def _on_failed(self, message: str) -> None:
        self._read_ended()
        self._show_message(message, error=True)

    def _on_read(self, data: Dataset) -> None:
        self._read_ended()
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

    def done(self, result: int) -> None:
        """Closing (also by Escape or the title bar) stops a read in progress."""
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        super().done(result)
