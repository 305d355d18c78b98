"""Importing data in the window: a weight column, Parquet files, and reads off the UI thread
with progress and cancel."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog, QPushButton

from em_engine import tables
from em_gui.csv_dialog import NO_WEIGHTS, CsvImportDialog
from em_gui.reader import DataReader


def open_dialog(qtbot, path: Path) -> CsvImportDialog:
    dialog = CsvImportDialog(path)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def press_import(qtbot, dialog: CsvImportDialog) -> None:
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.reading())


@pytest.fixture
def weighted_csv(tmp_path: Path) -> Path:
    """Two clusters; the second's rows weigh 9 each (so it holds 90% of the weight)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2))
    rows = [f"{x:.6f},{y:.6f},1" for x, y in a] + [f"{x:.6f},{y:.6f},9" for x, y in b]
    path = tmp_path / "weighted.csv"
    path.write_text("x,y,w\n" + "\n".join(rows) + "\n")
    return path


def test_a_weight_column_is_not_fitted_and_becomes_the_weights(qtbot, weighted_csv):
    dialog = open_dialog(qtbot, weighted_csv)
    assert dialog.weight_combo.currentText() == NO_WEIGHTS
    assert dialog.selected_columns() == [0, 1, 2]
    dialog.weight_combo.setCurrentText("w")
    assert dialog.selected_columns() == [0, 1]
    item = dialog.columns_list.item(2)
    assert item.checkState() == Qt.CheckState.Unchecked
    assert not item.flags() & Qt.ItemFlag.ItemIsEnabled
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        dialog.ok_button.click()
    data = dialog.dataset()
    assert data.feature_names == ("x", "y") and data.weight_column == "w"
    np.testing.assert_array_equal(data.sample_weight, [1.0] * 100 + [9.0] * 100)
    assert data.X.shape == (200, 2)


def test_a_bad_weight_is_named_by_its_row(qtbot, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y,w\n1,2,1\n3,4,-2\n5,6,1\n")
    dialog = open_dialog(qtbot, path)
    dialog.weight_combo.setCurrentText("w")
    press_import(qtbot, dialog)
    assert dialog.error_text().startswith(f"{path}: row 3")
    assert "negative" in dialog.error_text() and dialog.dataset() is None


def test_the_window_fits_with_the_weights(qtbot, window, weighted_csv):
    dialog = open_dialog(qtbot, weighted_csv)
    dialog.weight_combo.setCurrentText("w")
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        dialog.ok_button.click()
    window.controls.spin_k.setValue(2)
    window.set_dataset(dialog.dataset())
    qtbot.waitUntil(lambda: "weights from 'w'" in window.controls.label_data.text())
    window.action("run").trigger()
    qtbot.waitUntil(
        lambda: (snap := window.current_snapshot()) is not None and snap.converged, timeout=10000
    )
    weights = sorted(window.current_snapshot().weights)
    np.testing.assert_allclose(weights, [0.1, 0.9], atol=1e-6)  # unweighted: 0.5 and 0.5


def test_parquet_preview_and_import(qtbot, tmp_path):
    path = tmp_path / "d.parquet"
    table = pa.table({"a": [1.0, 2.0, 3.0], "name": ["p", "q", "r"], "b": [4, 5, 6]})
    pq.write_table(table, path)
    dialog = open_dialog(qtbot, path)
    assert "Parquet" in dialog.windowTitle() and not dialog.delimiter_combo.isEnabled()
    assert [dialog.table.horizontalHeaderItem(c).text() for c in range(3)] == ["a", "name", "b"]
    assert dialog.table.item(1, 1).text() == "q"
    assert dialog.selected_columns() == [0, 2]
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        dialog.ok_button.click()
    np.testing.assert_array_equal(dialog.dataset().X, [[1, 4], [2, 5], [3, 6]])


class _Gate:
    """A read that reports a quarter done, then waits for the test before going on."""

    def __init__(self) -> None:
        self.go = threading.Event()

    def read(self, *args, progress=None, **kwargs):
        progress(250, 1000)
        self.go.wait(10)
        progress(500, 1000)
        raise AssertionError("a cancelled read went on")


def test_the_window_reads_in_the_background_with_progress_and_cancel(
    qtbot, window, tmp_path, monkeypatch
):
    gate = _Gate()
    monkeypatch.setattr(tables, "read_table", gate.read)
    path = tmp_path / "slow.csv"
    path.write_text("x,y\n1,2\n")
    window.open_csv(path)  # returns at once: the UI thread is not reading
    reader = window.files.reader
    assert reader.is_running()
    qtbot.waitUntil(lambda: window.findChild(QProgressDialog, "read_progress") is not None)
    progress = window.findChild(QProgressDialog, "read_progress")
    qtbot.waitUntil(lambda: progress.value() == 250)
    with qtbot.waitSignal(reader.cancelled, timeout=5000):
        progress.findChild(QPushButton).click()  # its Cancel button
        gate.go.set()
    reader.wait(5)
    qtbot.waitUntil(lambda: window.findChild(QProgressDialog, "read_progress") is None)
    assert window.errors == [] and window.current_frame() is None


def test_a_reader_reports_the_result_or_the_error(qtbot):
    reader = DataReader("x.csv")
    with qtbot.waitSignal(reader.finished, timeout=5000) as done:
        reader.start(lambda progress: 42)
    assert done.args == [42]
    failing = DataReader("x.csv")
    with qtbot.waitSignal(failing.failed, timeout=5000) as failed:
        failing.start(lambda progress: tables.read_table("/nonexistent/x.csv"))
    assert failed.args == ["/nonexistent/x.csv: no such file"]
    reader.wait(5)
    failing.wait(5)
