"""Missing cells in the window: chosen in the import dialog, fitted by EM step by step, rows with a
missing viewed cell drawn as hollow markers at the engine's conditional means."""

from __future__ import annotations

import numpy as np
import pytest

from em_engine import GaussianMixture
from em_engine.data import read_csv
from em_gui import MainWindow
from em_gui.app_settings import AppSettings
from em_gui.csv_dialog import CsvImportDialog
from em_gui.scatter.legend import IMPUTED_TEXT


@pytest.fixture
def gaps_csv(tmp_path):
    """(90, 3) three blobs; every 7th row misses its y, every 11th its x (row 15: both)."""
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(c, 0.7, (30, 3)) for c in ([0, 0, 0], [5, 1, 2], [1, 6, -2])])
    cells = [[f"{v:.5f}" for v in row] for row in X]
    for i in range(0, 90, 7):
        cells[i][1] = ""
    for i in range(3, 90, 11):
        cells[i][0] = "NA"
    path = tmp_path / "gaps.csv"
    path.write_text("x,y,z\n" + "\n".join(",".join(row) for row in cells) + "\n")
    return path


def test_dialog_reads_missing_cells_as_chosen(qtbot, gaps_csv):
    dialog = CsvImportDialog(gaps_csv, missing="error")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.ok_button.click()  # the file is read on a background thread
    qtbot.waitUntil(lambda: not dialog.reading())
    assert "row 2: column 'y' is empty" in dialog.error_text()
    dialog.missing_combo.set_choice("drop")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.reading())
    assert "20 invalid row(s) will be dropped, 70 kept" in dialog.error_text()
    assert "row 2: column 'y' is missing" in dialog.error_text()
    dialog.missing_combo.set_choice("em")
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.ok_button.click()
    X = dialog.dataset().X
    assert X.shape == (90, 3) and np.isnan(X).sum() == 21


def test_em_steps_draw_imputed_points_at_the_conditional_means(
    qtbot, settings, gaps_csv, monkeypatch
):
    AppSettings(settings).set_missing_cells("drop")

    def choose_em(dialog: CsvImportDialog) -> int:
        assert dialog.missing_choice() == "drop"  # the remembered choice is offered
        dialog.missing_combo.set_choice("em")
        dialog.ok_button.click()
        qtbot.waitUntil(lambda: not dialog.reading())
        return dialog.result()

    monkeypatch.setattr(CsvImportDialog, "exec", choose_em)
    window = MainWindow(settings=settings, load_default_data=False)
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    window.controls.spin_k.setValue(3)
    window.files.open_csv_with_dialog(gaps_csv)
    assert AppSettings(settings).missing_cells() == "em"
    X = read_csv(gaps_csv, missing_as_nan=True).X
    shown_rows = np.flatnonzero(np.isnan(X[:, :2]).any(axis=1))  # view x, y: rows missing one

    def drawn(phase: str, iteration: int) -> bool:
        frame = window.current_frame()
        return (
            frame is not None
            and frame.generation == window.controller.generation
            and frame.snapshot.phase == phase
            and frame.snapshot.iteration == iteration
            and window.is_drawn_up_to_date()
        )

    qtbot.waitUntil(lambda: drawn("init", 0), timeout=5000)
    for iteration in (1, 2):
        window.action("step").trigger()
        qtbot.waitUntil(lambda i=iteration: drawn("m", i), timeout=5000)
        window.action("e_step").trigger()
        qtbot.waitUntil(lambda i=iteration: drawn("e", i), timeout=5000)
        snap = window.current_snapshot()
        # the conditional means under the parameters shown, computed afresh by the estimator
        model = GaussianMixture.from_parameters(
            snap.weights, snap.means, snap.covariances, "full", missing="em"
        )
        expected = model.impute(X)[shown_rows][:, :2]
        x, y = window.scatter.imputed.getData()
        np.testing.assert_allclose(np.column_stack([x, y]), expected, rtol=1e-9, atol=1e-9)
        labels = model.predict(X)[shown_rows]
        np.testing.assert_array_equal(snap.labels[shown_rows], labels)
        assert window.scatter.legend.shows_imputed
        assert IMPUTED_TEXT in [label.text for _, label in window.scatter.legend.items]
    # the exports score rows with missing cells by their observed cells, as the estimator does
    out = gaps_csv.with_name("assignments.csv")
    with qtbot.waitSignal(window.export_done):
        assert window.export_assignments(out)
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 3], model.score_samples(X), rtol=1e-10)
    # observed points are drawn where they are; a missing viewed cell is not drawn there
    points = window.scatter.points
    assert np.isnan(points.x[shown_rows] + points.y[shown_rows]).all()
    complete = np.setdiff1d(np.arange(90), shown_rows)
    np.testing.assert_array_equal(points.x[complete], X[complete, 0])
    # the markers moved between the iterations' E-steps and follow the view's columns
    window.controls.combo_view_y.setCurrentText("z")
    qtbot.waitUntil(lambda: window.is_drawn_up_to_date(), timeout=5000)
    x, _ = window.scatter.imputed.getData()
    assert len(x) == np.isnan(X[:, [0, 2]]).any(axis=1).sum()
    window.shutdown()
