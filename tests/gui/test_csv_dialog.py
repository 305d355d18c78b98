"""CSV import dialog and synthetic-data dialog (offscreen)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6 import QtWidgets

from em_gui.csv_dialog import CsvImportDialog

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def open_dialog(qtbot, path: Path) -> CsvImportDialog:
    dialog = CsvImportDialog(path)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def press_import(qtbot, dialog: CsvImportDialog) -> None:
    """Press Import and wait for the background read (if one starts) to end."""
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.reading())


@pytest.fixture
def good_csv(tmp_path: Path) -> Path:
    path = tmp_path / "houses.csv"
    path.write_text("name;price;area\na;1.5;20\nb;2.5;30\nc;3.5;40\n", encoding="utf-8")
    return path


def test_good_file_gives_dataset_of_checked_columns(qtbot, good_csv):
    dialog = open_dialog(qtbot, good_csv)
    assert "semicolon" in dialog.detected_label.text()
    assert dialog.table.columnCount() == 3 and dialog.table.rowCount() == 3
    assert dialog.table.horizontalHeaderItem(1).text() == "price"
    assert dialog.table.item(2, 0).text() == "c"
    assert dialog.selected_columns() == [1, 2]  # the text column starts unchecked
    OUTPUT.mkdir(exist_ok=True)
    dialog.grab().save(str(OUTPUT / "csv_dialog.png"))
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.ok_button.click()
    data = dialog.dataset()
    assert data.feature_names == ("price", "area")
    np.testing.assert_array_equal(data.X, [[1.5, 20], [2.5, 30], [3.5, 40]])
    assert dialog.result() == QtWidgets.QDialog.DialogCode.Accepted


def test_unchecking_a_column_leaves_it_out(qtbot, good_csv):
    dialog = open_dialog(qtbot, good_csv)
    dialog.set_column_checked(2, False)
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.ok_button.click()
    assert dialog.dataset().feature_names == ("price",)


def test_no_column_chosen_is_an_error_in_the_dialog(qtbot, good_csv):
    dialog = open_dialog(qtbot, good_csv)
    for c in range(3):
        dialog.set_column_checked(c, False)
    press_import(qtbot, dialog)
    assert "at least one column" in dialog.error_text()
    assert dialog.isVisible() and dialog.dataset() is None


def test_bad_cell_error_is_shown_and_dialog_stays_open(qtbot, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,oops\n5,6\n", encoding="utf-8")
    dialog = open_dialog(qtbot, path)
    dialog.set_column_checked(1, True)  # force the column the user wants, text cell included
    press_import(qtbot, dialog)
    message = dialog.error_text()
    assert "bad.csv" in message and "row 3" in message and "'y'" in message
    assert dialog.isVisible() and dialog.dataset() is None
    assert dialog.result() != QtWidgets.QDialog.DialogCode.Accepted


def test_drop_invalid_rows_reports_count_and_reasons_then_imports(qtbot, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("x,y\n1,2\n3,oops\n5,6\n7,\n", encoding="utf-8")
    dialog = open_dialog(qtbot, path)
    dialog.drop_box.setChecked(True)
    press_import(qtbot, dialog)  # first press: the report
    message = dialog.error_text()
    assert message.startswith("2 invalid row(s) will be dropped, 2 kept")
    assert "row 3" in message and "row 5" in message
    assert dialog.isVisible() and dialog.ok_button.text() == "Import 2 rows"
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.ok_button.click()  # second press: import
    data = dialog.dataset()
    assert data.n_dropped == 2
    np.testing.assert_array_equal(data.X, [[1, 2], [5, 6]])


def test_changing_an_option_withdraws_the_pending_report(qtbot, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("x,y\n1,2\n3,oops\n5,6\n", encoding="utf-8")
    dialog = open_dialog(qtbot, path)
    dialog.drop_box.setChecked(True)
    press_import(qtbot, dialog)
    assert dialog.ok_button.text() == "Import 2 rows"
    dialog.drop_box.setChecked(False)
    assert dialog.ok_button.text() == "Import" and dialog.error_text() == ""
    press_import(qtbot, dialog)
    assert "row 3" in dialog.error_text() and dialog.dataset() is None


def test_delimiter_and_header_overrides_change_the_preview(qtbot, good_csv):
    dialog = open_dialog(qtbot, good_csv)
    dialog.header_combo.setCurrentText("No header")
    assert dialog.table.rowCount() == 4  # the header line is now a data row
    assert dialog.table.item(0, 1).text() == "price"
    assert dialog.table.horizontalHeaderItem(0).text() == "x1"
    dialog.header_combo.setCurrentText("Detect")
    dialog.delimiter_combo.setCurrentText("Comma ( , )")
    assert dialog.table.columnCount() == 1
    assert dialog.delimiter() == "," and "comma" in dialog.detected_label.text()


def test_empty_file_shows_error_and_disables_import(qtbot, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    dialog = open_dialog(qtbot, path)
    assert "empty" in dialog.error_text()
    assert not dialog.ok_button.isEnabled()


def test_preview_rows_are_numbered_as_the_files_rows(qtbot, tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text('x,y\n\n1,2\n3,4\n\n\n5,"6"\n7,8\n', encoding="utf-8")

    def numbers(dialog: CsvImportDialog) -> list[str]:
        header = dialog.table.verticalHeaderItem
        return [header(r).text() for r in range(dialog.table.rowCount())]

    assert numbers(open_dialog(qtbot, path)) == ["3", "4", "7", "8"]
    bad = tmp_path / "bad.csv"  # the same numbering as the message that names a bad row
    bad.write_text("x,y\n1,2\n\n3,z\n", encoding="utf-8")
    dialog = open_dialog(qtbot, bad)
    assert numbers(dialog) == ["2", "4"]
    press_import(qtbot, dialog)
    assert "row 4" in dialog.message.text()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x,y\n", "header but no data rows"),
        ("name,town\nann,york\nbob,leeds\n", "row 2: column 'name' is 'ann', not a number"),
        ("x;y\n0,5;1,5\n", "decimal commas are not supported"),
    ],
)
def test_a_file_with_nothing_to_fit_says_why(qtbot, tmp_path, text, reason):
    path = tmp_path / "nothing.csv"
    path.write_text(text, encoding="utf-8")
    dialog = open_dialog(qtbot, path)
    if dialog.selected_columns():  # decimal commas look like numbers: the read names them
        press_import(qtbot, dialog)
    assert reason in dialog.message.text()
