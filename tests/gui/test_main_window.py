"""MainWindow end to end (offscreen): controls, history, files, errors, closing, a command storm."""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QMimeData,
    QObject,
    QPointF,
    Qt,
    QTimer,
    QUrl,
)
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent

from em_engine.data import Dataset
from em_engine.synthetic import make_preset
from em_gui import MainWindow
from em_gui.frames import RUNNING
from em_gui.scatter import density as density_module
from em_gui.scatter import prepare_colors
from em_gui.scatter import view as scatter_view

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
ACTION_NAMES = (
    "action_run action_pause action_step action_e_step action_m_step action_reset action_reseed "
    "action_open_csv action_export_model action_import_model action_export_assignments "
    "action_export_figure"
).split()


@pytest.fixture
def make_window(qtbot, settings):
    """Build windows with a private settings file and errors collected in ``window.errors``."""

    def make(dataset=None, *, k=3, init="random_from_data", speed=None, **kwargs) -> MainWindow:
        errors: list[str] = []
        window = MainWindow(settings=settings, error_sink=errors.append, load_default_data=False)
        window.errors = errors
        qtbot.addWidget(window)
        window.set_speed(speed)
        window.controls.spin_k.setValue(k)
        window.controls.combo_init.setCurrentText(init)
        window.set_dataset(dataset if dataset is not None else make_preset("blobs", 300, seed=1))
        wait_drawn(qtbot, window, lambda s: s.phase == "init")
        return window

    return make


def wait_drawn(qtbot, window: MainWindow, predicate, timeout: int = 5000):
    """Wait until the drawn snapshot is current (newest generation) and satisfies predicate."""

    def ok() -> bool:
        frame = window.current_frame()
        return (
            frame is not None
            and frame.generation == window.controller.generation
            and predicate(frame.snapshot)
        )

    qtbot.waitUntil(ok, timeout=timeout)
    return window.current_snapshot()


def wait_idle(qtbot, window: MainWindow, timeout: int = 10000):
    qtbot.waitUntil(
        lambda: (
            window.worker_state != RUNNING
            and window.current_frame() is not None
            and window.current_frame().state != RUNNING
            and window.current_frame().generation == window.controller.generation
        ),
        timeout=timeout,
    )
    return window.current_snapshot()


def test_actions_and_shortcuts(make_window):
    window = make_window()
    for name in ACTION_NAMES:
        action = window.findChild(QAction, name)
        assert action is not None, name
        assert action.toolTip()
    keys = {
        "action_run": "Space",
        "action_step": "Right",
        "action_e_step": "E",
        "action_m_step": "M",
        "action_reseed": "R",
        "action_open_csv": "Ctrl+O",
        "action_export_model": "Ctrl+S",
        "action_quit": "Ctrl+Q",
    }
    for name, key in keys.items():
        assert window.findChild(QAction, name).shortcut().toString() == key, name
    # one Space shortcut at a time: the hidden one of run/pause does not compete
    assert window.action("run").isVisible() and not window.action("pause").isVisible()
    screen = window.screen().availableGeometry()  # the first window fits its screen
    assert window.width() <= max(screen.width(), window.minimumSizeHint().width())
    assert window.height() <= screen.height()
    assert not window.windowIcon().isNull()


def test_step_e_step_m_step_reset_reseed(qtbot, make_window):
    window = make_window()
    first = window.current_snapshot()
    assert first.iteration == 0 and first.labels is None

    window.action("e_step").trigger()
    e = wait_drawn(qtbot, window, lambda s: s.phase == "e")
    np.testing.assert_array_equal(e.means, first.means)  # parameters stay
    assert e.labels is not None  # colours appear

    window.action("m_step").trigger()
    m = wait_drawn(qtbot, window, lambda s: s.phase == "m")
    assert m.iteration == 1 and not np.allclose(m.means, e.means)
    np.testing.assert_array_equal(m.labels, e.labels)  # colours stay

    window.action("step").trigger()
    s = wait_drawn(qtbot, window, lambda s: s.iteration == 2)
    assert s.phase == "m"
    assert window.status.labels["iteration"].text() == "iteration 2"
    assert "log-likelihood" in window.status.labels["objective"].text()

    window.action("reset").trigger()
    r = wait_drawn(qtbot, window, lambda s: s.iteration == 0)
    np.testing.assert_array_equal(r.means, first.means)

    window.action("reseed").trigger()
    new = wait_drawn(qtbot, window, lambda s: s.seed != first.seed)
    assert new.iteration == 0 and not np.allclose(new.means, first.means)
    assert window.controls.spin_seed.value() == new.seed

    window.controls.spin_seed.setValue(first.seed)  # typing a seed reproduces its start
    window.controls.spin_seed.editingFinished.emit()
    again = wait_drawn(qtbot, window, lambda s: s.seed == first.seed)
    np.testing.assert_array_equal(again.means, first.means)
    assert window.errors == []


def test_run_pause_and_converge(qtbot, make_window):
    window = make_window(make_preset("blobs", 2000, seed=2), k=4, speed=20)
    window.action("run").trigger()
    qtbot.waitUntil(lambda: window.worker_state == RUNNING)
    assert window.action("pause").isVisible() and not window.action("run").isVisible()
    assert window.controls.button_run.text() == "Pause"
    wait_drawn(qtbot, window, lambda s: s.iteration >= 2)
    window.action("pause").trigger()
    paused = wait_idle(qtbot, window)
    assert window.action("run").isVisible()
    window.set_speed(None)
    window.toggle_run()
    final = wait_drawn(qtbot, window, lambda s: s.converged, timeout=10000)
    assert final.iteration > paused.iteration
    assert window.status.labels["converged"].text() == "converged"
    history = window.convergence.values()
    assert len(history[0]) >= final.iteration  # every iteration's value, not only drawn frames


def test_history_slider_shows_stored_parameters_and_continues_there(qtbot, make_window):
    window = make_window()
    drawn = {}
    window.snapshot_drawn.connect(lambda f: drawn.setdefault(f.snapshot.iteration, f.snapshot))
    for i in range(4):
        window.action("step").trigger()
        wait_drawn(qtbot, window, lambda s, i=i: s.iteration == i + 1)
    assert window.history_bar.slider.maximum() == 4
    window.history_bar.slider.setValue(2)
    shown = wait_drawn(qtbot, window, lambda s: s.iteration == 2)
    np.testing.assert_allclose(shown.means, drawn[2].means)
    np.testing.assert_allclose(shown.weights, drawn[2].weights)
    assert window.history_bar.slider.maximum() == 4  # later history kept until a new step
    window.action("step").trigger()
    wait_drawn(qtbot, window, lambda s: s.iteration == 3 and s.phase == "m")
    assert window.history_bar.slider.maximum() == 3  # ... then replaced


def test_settings_controls_rebuild_the_session(qtbot, make_window):
    window = make_window()
    window.controls.spin_k.setValue(5)
    snap = wait_drawn(qtbot, window, lambda s: len(s.weights) == 5)
    assert snap.iteration == 0
    window.controls.combo_covariance.setCurrentText("diag")
    snap = wait_drawn(qtbot, window, lambda s: s.covariance_type == "diag")
    assert snap.covariances.shape == (5, 2)
    window.controls.check_prior.setChecked(True)
    snap = wait_drawn(qtbot, window, lambda s: s.objective == "log posterior")
    window.controls.edit_tol.setText("not a number")
    window.controls.edit_tol.editingFinished.emit()
    assert window.controls.edit_tol.text() == "0.001"  # bad input put back, nothing sent
    assert window.current_frame().settings.tol == 1e-3


def test_raising_max_iter_keeps_the_fit(qtbot, make_window):
    window = make_window()
    window.controls.edit_tol.setText("0")  # never converges: only max_iter stops a run
    window.controls.edit_tol.editingFinished.emit()
    qtbot.waitUntil(lambda: window.current_frame().settings.tol == 0)
    window.controls.spin_max_iter.setValue(2)
    window.controls.spin_max_iter.editingFinished.emit()
    qtbot.waitUntil(lambda: window.current_frame().settings.max_iter == 2)
    window.action("run").trigger()
    stopped = wait_drawn(qtbot, window, lambda s: s.iteration == 2)
    wait_idle(qtbot, window)
    window.controls.spin_max_iter.setValue(4)
    window.controls.spin_max_iter.editingFinished.emit()
    qtbot.waitUntil(lambda: window.current_frame().settings.max_iter == 4)
    assert window.current_snapshot().iteration == 2  # not restarted
    np.testing.assert_array_equal(window.current_snapshot().means, stopped.means)
    window.action("run").trigger()
    wait_drawn(qtbot, window, lambda s: s.iteration == 4)


def test_bad_settings_show_an_error_and_keep_the_fit(qtbot, make_window):
    window = make_window(make_preset("blobs", 30, seed=1))
    window.action("step").trigger()
    before = wait_drawn(qtbot, window, lambda s: s.iteration == 1)
    window.controls.spin_k.setValue(40)  # more components than points
    qtbot.waitUntil(lambda: bool(window.errors))
    assert window.last_error.startswith("Cannot start the fit: 40 components need at least 40")
    qtbot.waitUntil(lambda: window.controls.spin_k.value() == 3)  # controls show what is in use
    np.testing.assert_array_equal(window.current_snapshot().means, before.means)


def test_view_columns_for_wide_data(qtbot, make_window):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (100, 3)), rng.normal(5, 1, (100, 3))])
    data = Dataset(X=X, feature_names=("a", "b", "c"), source="wide.csv")
    window = make_window(data, k=2)
    assert [window.controls.combo_view_x.itemText(i) for i in range(3)] == ["a", "b", "c"]
    window.set_view_columns(0, 2)
    window.action("step").trigger()
    snap = wait_drawn(qtbot, window, lambda s: s.iteration == 1)
    assert snap.means.shape == (2, 3)  # the fit uses all three columns
    assert window.scatter.plot_item.getAxis("left").labelText == "c"


def test_one_column_data_is_drawn_along_x(qtbot, make_window):
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(100, 10, 150), rng.normal(200, 20, 150)])[:, None]
    window = make_window(Dataset(X=X, feature_names=("price",), source=None), k=2)
    assert window.controls.combo_view_y.currentText() == "(none)"
    assert not window.controls.combo_view_x.isEnabled()
    window.action("step").trigger()
    snap = wait_drawn(qtbot, window, lambda s: s.iteration == 1)
    assert snap.means.shape == (2, 1)
    assert window.scatter.plot_item.getAxis("bottom").labelText == "price"
    window.scatter.mean_dragged.emit(0, 150.0, 0.0)
    moved = wait_drawn(qtbot, window, lambda s: s.phase == "edit")
    assert moved.means[0, 0] == 150.0
    assert window.errors == []


def test_mean_drag_and_add_point(qtbot, make_window):
    window = make_window()
    window.action("step").trigger()
    wait_drawn(qtbot, window, lambda s: s.iteration == 1)
    window.scatter.mean_dragged.emit(1, 7.5, -2.5)
    moved = wait_drawn(qtbot, window, lambda s: s.phase == "edit")
    np.testing.assert_allclose(moved.means[1], [7.5, -2.5])
    assert any("moved" in event for event in moved.events)

    window.action("add_point").setChecked(True)
    window.scatter.point_clicked.emit(30.0, 40.0)
    qtbot.waitUntil(lambda: window.current_frame().data.X.shape[0] == 301)
    assert window.current_frame().data.X[-1].tolist() == [30.0, 40.0]
    # fitting continues from the parameters shown, not from a new start
    np.testing.assert_allclose(window.current_snapshot().means, moved.means)


def test_export_import_model_round_trip(qtbot, make_window, tmp_path):
    window = make_window()
    for i in range(3):
        window.action("step").trigger()
        wait_drawn(qtbot, window, lambda s, i=i: s.iteration == i + 1)
    fitted = window.current_snapshot()
    path = tmp_path / "model.json"
    with qtbot.waitSignal(window.export_done) as done:
        assert window.export_model(path)
    assert done.args == [str(path)]
    doc = json.loads(path.read_text())
    assert doc["n_components"] == 3 and doc["fit"]["seed"] == fitted.seed
    assert doc["fit"]["n_iter"] == 3
    np.testing.assert_array_equal(np.array(doc["means"]), fitted.means)

    window.controls.spin_k.setValue(2)  # something else entirely
    wait_drawn(qtbot, window, lambda s: len(s.weights) == 2)
    assert window.import_model(path)
    imported = wait_drawn(qtbot, window, lambda s: len(s.weights) == 3)
    assert imported.iteration == 0
    np.testing.assert_allclose(imported.means, fitted.means)
    np.testing.assert_allclose(imported.weights, fitted.weights)
    assert window.controls.spin_k.value() == 3
    window.action("step").trigger()  # fitting continues from the imported model
    wait_drawn(qtbot, window, lambda s: s.iteration == 1)
    assert str(path.resolve()) in window.recent_files()
    assert window.errors == []


def test_bad_files_show_an_error_and_keep_data_and_model(qtbot, make_window, tmp_path):
    window = make_window()
    window.action("step").trigger()
    before = wait_drawn(qtbot, window, lambda s: s.iteration == 1)
    data_before = window.current_frame().data

    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("x,y\n1,2\n3,abc\n")
    window.open_csv(bad_csv)  # read on a background thread
    qtbot.waitUntil(lambda: len(window.errors) == 1)
    assert "bad.csv" in window.last_error and "abc" in window.last_error

    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"format": "em-explorer-gmm", "version": 1, "weights": [NaN]}')
    assert not window.import_model(bad_json)
    assert len(window.errors) == 2 and "bad.json" in window.last_error
    assert window.status.message.message().startswith("Error: Cannot")

    # a model of the wrong width is refused too
    wide = tmp_path / "wide.json"
    from em_engine.mixture import GaussianMixture
    from em_engine.modelio import save_model

    save_model(GaussianMixture.from_parameters([1.0], np.zeros((1, 3)), np.eye(3)[None]), wide)
    assert not window.import_model(wide)
    assert "3 features" in window.last_error

    window.action("step").trigger()  # the worker was never disturbed
    after = wait_drawn(qtbot, window, lambda s: s.iteration == 2)
    assert window.current_frame().data is data_before
    assert after.seed == before.seed


def test_open_csv_and_export_assignments_and_figure(qtbot, make_window, tmp_path):
    window = make_window()
    data = tmp_path / "points.csv"
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(6, 1, (60, 2))])
    data.write_text("height,weight\n" + "\n".join(f"{a},{b}" for a, b in X))
    window.open_csv(data)
    wait_drawn(qtbot, window, lambda s: window.current_frame().data.X.shape[0] == 120)
    assert window.current_frame().data.feature_names == ("height", "weight")
    assert window.controls.combo_view_x.currentText() == "height"
    assert "points.csv" in window.windowTitle()
    window.action("step").trigger()
    wait_drawn(qtbot, window, lambda s: s.iteration == 1)

    out = tmp_path / "assignments.csv"
    with qtbot.waitSignal(window.export_done):
        assert window.export_assignments(out)
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["row", "label", "confidence", "log_density", "resp_1", "resp_2", "resp_3"]
    assert len(rows) == 121
    table = np.array(rows[1:], dtype=float)
    np.testing.assert_array_equal(table[:, 0], np.arange(2, 122))  # the file's rows (header 1)
    np.testing.assert_allclose(table[:, 4:].sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(table[:, 1], table[:, 4:].argmax(axis=1) + 1)  # from 1
    np.testing.assert_allclose(table[:, 2], table[:, 4:].max(axis=1))

    for suffix, magic in ((".png", b"\x89PNG"), (".svg", b"<")):
        figure = tmp_path / f"figure{suffix}"
        assert window.export_figure(figure)
        assert figure.read_bytes().lstrip()[:4].startswith(magic)
    assert not window.export_figure(tmp_path / "figure.gif")
    assert "gif" in window.last_error
    assert str(data.resolve()) in window.recent_files()


def test_settings_are_remembered(qtbot, make_window, settings):
    window = make_window()
    window.controls.spin_k.setValue(4)
    window.controls.combo_covariance.setCurrentText("tied")
    wait_drawn(qtbot, window, lambda s: s.covariance_type == "tied")
    window.close()
    again = MainWindow(settings=settings, error_sink=lambda m: None, load_default_data=False)
    qtbot.addWidget(again)
    assert again.controls.spin_k.value() == 4
    assert again.controls.combo_covariance.currentText() == "tied"
    assert (
        again.controls.slider_speed.value() == again.controls.slider_speed.maximum()
    )  # "max", as set above


def test_close_while_running_exits_quickly(qtbot, make_window):
    window = make_window(make_preset("overlap", 200_000, seed=0), k=5, init="random")
    window.controls.spin_max_iter.setValue(10_000)
    window.controls.spin_max_iter.editingFinished.emit()
    window.controls.edit_tol.setText("0")
    window.controls.edit_tol.editingFinished.emit()
    window.action("run").trigger()
    wait_drawn(qtbot, window, lambda s: s.iteration >= 2, timeout=20000)
    assert window.worker_state == RUNNING
    controller = window.controller
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 1.0
    assert controller.is_finished()


def test_command_storm_never_shows_a_stale_state(qtbot, make_window):
    window = make_window(make_preset("overlap", 3000, seed=0), k=4, init="random")
    stale = []

    def check(frame) -> None:
        if frame.generation < window.controller.generation:
            stale.append(frame.generation)

    window.snapshot_drawn.connect(check)
    rng = np.random.default_rng(5)
    names = ("run", "pause", "step", "e_step", "m_step", "reset", "reseed")
    actions = [window.action(name) for name in names]
    for i in range(300):
        actions[int(rng.integers(len(actions)))].trigger()
        if i % 20 == 0:
            window.history_bar.slider.setValue(
                int(rng.integers(window.history_bar.slider.maximum() + 1))
            )
            QCoreApplication.processEvents()
    window.action("pause").trigger()
    wait_idle(qtbot, window)
    assert stale == []
    assert window.errors == []
    window.action("reset").trigger()
    assert wait_drawn(qtbot, window, lambda s: s.iteration == 0).phase == "init"


def test_screenshot_after_a_fit(qtbot, make_window):
    window = make_window(make_preset("anisotropic", 1500, seed=0), k=3)
    with qtbot.waitExposed(window):
        window.show()
    window.action("show_change").setChecked(False)
    window.action("run").trigger()
    wait_drawn(qtbot, window, lambda s: s.converged, timeout=10000)
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / "main_window.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 20_000


def test_smoke_test_entry_point():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--smoke-test"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("READY iterations=5 log-likelihood=-")
    assert elapsed < 15


def test_keyboard_shortcuts_drive_the_worker(qtbot, make_window):
    window = make_window()
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_E)
    wait_drawn(qtbot, window, lambda s: s.phase == "e")
    qtbot.keyClick(window, Qt.Key.Key_M)
    wait_drawn(qtbot, window, lambda s: s.phase == "m" and s.iteration == 1)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    wait_drawn(qtbot, window, lambda s: s.iteration == 2)
    window.set_speed(5)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.worker_state == RUNNING)
    qtbot.keyClick(window, Qt.Key.Key_Space)  # the same key pauses
    wait_idle(qtbot, window)
    assert window.errors == []


def test_drop_recent_files_and_about(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window()
    opened: list[str] = []
    monkeypatch.setattr(window.files, "open_csv_with_dialog", lambda path: opened.append(str(path)))
    path = tmp_path / "dropped.csv"
    path.write_text("x,y\n1,2\n3,4\n")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    position = QPointF(50, 50)
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(position.toPoint(), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    window.dropEvent(QDropEvent(position, Qt.DropAction.CopyAction, mime, buttons, modifiers))
    qtbot.waitUntil(lambda: opened == [str(path)])

    other = QMimeData()
    other.setUrls([QUrl.fromLocalFile(str(tmp_path / "picture.png"))])
    refused = QDragEnterEvent(position.toPoint(), Qt.DropAction.CopyAction, other, buttons,
                              modifiers)  # fmt: skip
    window.dragEnterEvent(refused)
    assert not refused.isAccepted()

    window.open_csv(path)
    qtbot.waitUntil(lambda: str(path.resolve()) in window.recent_files())
    window.files.fill_recent_menu()
    entries = [a.text() for a in window.files.menu_recent.actions()]
    assert entries == ["dropped.csv"]
    text = MainWindow.about_text()
    assert "PySide6" in text and "numpy" in text and "pyqtgraph" in text


class _PaintLog(QObject):
    """Appends "paint" to a log at each paint event of the widget it filters."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.log.append("paint")
        return False


def test_a_frame_is_drawn_in_stages_with_the_scatter_painted_between(qtbot, make_window):
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    log: list[str] = []
    for obj, name in (
        (window.scatter, "prepare_state"),
        (window.scatter, "show_state"),
        (window.parameters, "show_parameters"),
    ):
        method = getattr(obj, name)
        setattr(obj, name, lambda *a, _m=method, _n=name, **k: (log.append(_n), _m(*a, **k))[1])
    painted = _PaintLog(log)
    window.scatter.plot_widget.viewport().installEventFilter(painted)
    window.action("e_step").trigger()  # labels change: the point colours are prepared first
    e = wait_drawn(qtbot, window, lambda s: s.phase == "e")
    shown = log.index("show_state")
    assert "prepare_state" in log[:shown]  # the O(N) colours first, in an event of their own
    panels = log.index("show_parameters", shown)
    assert "paint" in log[shown:panels]  # the panels after the scatter's paint
    assert window.scatter.prepared.labels is e.labels  # show_state reused the prepared colours


def test_many_points_are_coloured_in_steps_with_events_between(qtbot, make_window, monkeypatch):
    monkeypatch.setattr(scatter_view, "DENSITY_THRESHOLD", 100)  # 300 points: a density image
    monkeypatch.setattr(density_module, "DENSITY_STEP_ROWS", 64)  # in 5 steps
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    assert window.scatter.uses_density_image
    log: list[str] = []
    prepare = window.scatter.prepare_state
    monkeypatch.setattr(
        window.scatter,
        "prepare_state",
        lambda *a, **k: (log.append("step" if k.get("in_steps") else "once"), prepare(*a, **k))[1],
    )
    ticks = QTimer()
    ticks.timeout.connect(lambda: log.append("tick"))
    ticks.start(0)
    window.action("e_step").trigger()
    e = wait_drawn(qtbot, window, lambda s: s.phase == "e")
    ticks.stop()
    steps = [i for i, entry in enumerate(log) if entry == "step"]
    assert len(steps) == 5
    assert all("tick" in log[a:b] for a, b in itertools.pairwise(steps))
    # the colours made in steps are those made at once
    colours = window.scatter.prepared.colors
    assert window.scatter.prepared.labels is e.labels
    hidden = np.zeros(len(e.weights), dtype=bool)
    n, density = len(e.labels), window.scatter.density
    at_once = prepare_colors(None, e.labels, e.confidence, len(e.weights), hidden, n, density)
    np.testing.assert_array_equal(at_once.colors, colours)


def test_commands_aimed_at_a_replaced_frame_are_dropped_quietly(qtbot, make_window):
    """A drag of a component K no longer has, or a history position that is gone, after a newer
    command replaced the frame they were aimed at: no error, the newest state is drawn."""
    window = make_window(k=5)
    for i in range(4):
        window.action("step").trigger()
        wait_drawn(qtbot, window, lambda s, i=i: s.iteration == i + 1)
    window.controls.spin_k.setValue(2)  # posted; the frame drawn still has 5 components
    window.scatter.mean_dragged.emit(4, 0.5, 0.5)  # the 5th marker, released now
    snap = wait_drawn(qtbot, window, lambda s: len(s.weights) == 2)
    assert snap.iteration == 0
    for i in range(3):
        window.action("step").trigger()
        wait_drawn(qtbot, window, lambda s, i=i: s.iteration == i + 1)
    window.history_bar.slider.setValue(3)  # picked from a history of 4 ...
    window.action("reset").trigger()  # ... which a reset replaces before the slider settles
    qtbot.waitUntil(lambda: not window.history_bar.restore_pending())
    wait_idle(qtbot, window)
    assert window.current_snapshot().iteration == 0
    assert window.errors == []
    # the same commands aimed at the frame shown still report a real problem
    window.scatter.mean_dragged.emit(1, float("nan"), 0.0)
    qtbot.waitUntil(lambda: len(window.errors) == 1)
    assert "mean" in window.errors[0]


def test_space_runs_after_typing_in_a_field_and_enter_returns_focus_to_the_plot(qtbot, make_window):
    window = make_window(speed=5)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    for field, text in (
        (window.controls.spin_k, "4"),
        (window.controls.spin_max_iter, "50"),
        (window.controls.spin_seed, "7"),
    ):
        field.setFocus()
        qtbot.waitUntil(field.hasFocus)
        field.lineEdit().selectAll()
        qtbot.keyClicks(field.lineEdit(), text)
        qtbot.keyClick(field.lineEdit(), Qt.Key.Key_Return)
        qtbot.waitUntil(window.scatter.plot_widget.hasFocus)  # the keys are the window's again
        assert field.text().replace(",", "") == text
    wait_drawn(qtbot, window, lambda s: len(s.weights) == 4 and s.seed == 7)
    assert window.controls.spin_max_iter.value() == 50
    # Space while a field has the focus: run, not a blank field
    window.controls.spin_seed.setFocus()
    qtbot.waitUntil(window.controls.spin_seed.hasFocus)
    qtbot.keyClick(window.controls.spin_seed.lineEdit(), Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.worker_state == RUNNING)
    assert window.controls.spin_seed.text() == "7"
    qtbot.keyClick(window.controls.spin_seed.lineEdit(), Qt.Key.Key_Space)
    wait_idle(qtbot, window)
    assert window.errors == []


def test_first_launch_starts_with_the_presets_true_k_and_visible_gaussians(qtbot, settings):
    window = MainWindow(settings=settings, error_sink=lambda m: None)
    qtbot.addWidget(window)
    snap = wait_drawn(qtbot, window, lambda s: s.iteration == 0)
    assert window.controls.combo_preset.currentText() == "blobs" and len(snap.weights) == 4
    assert window.controls.combo_init.currentText() == "random_means"
    # the starting Gaussians are broad enough to be seen: each ring spans many pixels
    rings = window.scatter.widget_pixels(window.scatter.ring_polylines()[:, 0].reshape(-1, 2))
    spans = np.ptp(rings.reshape(4, -1, 2), axis=1)
    assert spans.min() > 20, spans
    window.shutdown()


def test_choosing_a_preset_draws_it_with_its_true_k(qtbot, make_window):
    window = make_window(k=2)
    combo = window.controls.combo_preset
    index = combo.findText("anisotropic")
    combo.setCurrentIndex(index)
    combo.activated.emit(index)  # what a person's choice sends
    snap = wait_drawn(qtbot, window, lambda s: len(s.weights) == 3)
    assert window.controls.spin_k.value() == 3 and snap.iteration == 0
    assert window.controls.label_data.text().startswith("preset 'anisotropic'")
    first = window.current_frame().data
    window.controls.spin_data_seed.setValue(9)  # Enter in the data seed draws new data
    window.controls.spin_data_seed.editingFinished.emit()
    qtbot.waitUntil(lambda: window.current_frame().data is not first)
    again = window.current_frame().data
    window.controls.spin_data_seed.editingFinished.emit()  # unchanged: nothing new
    window.action("step").trigger()
    wait_drawn(qtbot, window, lambda s: s.iteration == 1)
    assert window.current_frame().data is again


def test_view_x_and_view_y_never_show_the_same_column(qtbot, make_window):
    rng = np.random.default_rng(0)
    data = Dataset(X=rng.normal(size=(200, 3)), feature_names=("a", "b", "c"), source="w.csv")
    window = make_window(data)
    assert (
        window.controls.combo_view_x.currentIndex(),
        window.controls.combo_view_y.currentIndex(),
    ) == (0, 1)
    window.controls.combo_view_x.setCurrentIndex(1)  # x takes y's column: y takes the column x left
    assert (
        window.controls.combo_view_x.currentIndex(),
        window.controls.combo_view_y.currentIndex(),
    ) == (1, 0)
    window.controls.combo_view_y.setCurrentIndex(2)
    window.controls.combo_view_y.setCurrentIndex(1)
    assert (
        window.controls.combo_view_x.currentIndex(),
        window.controls.combo_view_y.currentIndex(),
    ) == (2, 1)
    assert window.scatter.plot_item.getAxis("bottom").labelText == "c"
    # adding a point (new data, the same columns) keeps the columns viewed
    n = len(window.current_frame().data.X)
    window.scatter.point_clicked.emit(0.5, -0.5)
    qtbot.waitUntil(lambda: len(window.current_frame().data.X) == n + 1)
    assert (
        window.controls.combo_view_x.currentIndex(),
        window.controls.combo_view_y.currentIndex(),
    ) == (2, 1)
    added = window.current_frame().data.X[-1]
    assert added[2] == 0.5 and added[1] == -0.5  # placed in the viewed columns c (x), b (y)
    assert window.scatter.plot_item.getAxis("bottom").labelText == "c"


def test_window_fits_a_1280x720_screen_and_menus(qtbot, make_window):
    from PySide6.QtCore import QRect

    window = make_window()
    window.fit_to_screen(QRect(0, 0, 1280, 720))
    assert window.width() <= 1280 - 16 and window.height() <= 720 - 48
    assert window.minimumSizeHint().width() <= window.width()
    assert window.x() >= 0 and window.y() >= 0
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    names = [a.text() for a in view.actions()]
    assert "Main" in names and "Restore &default settings" in names
    assert [a.text() for a in help_menu.actions()] == [
        "&Lesson: EM step by step",
        "",
        "&About EM Explorer",
    ]


def test_restore_default_settings(qtbot, make_window, settings):
    window = make_window(k=7)
    window.controls.spin_samples.setValue(2500)
    window.controls.edit_tol.setText("1e-12")
    window.controls.edit_tol.editingFinished.emit()
    window.controls.spin_max_iter.setValue(9999)
    wait_drawn(qtbot, window, lambda s: True)
    window.close()  # the extreme settings are remembered ...
    assert settings.value("fit/tol") in (1e-12, "1e-12")
    again = make_window()
    again.action("restore_defaults").trigger()  # ... until restored
    snap = wait_drawn(
        qtbot, again, lambda s: len(s.weights) == 4 and len(again.current_frame().data.X) == 1500
    )
    assert (
        again.current_frame().settings.tol == 1e-3 and again.controls.spin_max_iter.value() == 100
    )
    assert again.controls.combo_init.currentText() == "random_means" and snap.iteration == 0
    assert settings.value("fit/tol") is None


def test_error_messages_name_the_file_once_and_the_status_bar_keeps_all(
    qtbot, make_window, tmp_path
):
    window = make_window()
    truncated = tmp_path / "model.json"
    truncated.write_text('{"format": "em-explorer-gmm", "version": 1, "weights": [0.5')
    assert not window.import_model(truncated)
    message = window.errors[-1]
    assert message.count(str(truncated)) == 1 and "not valid JSON" in message
    # the status bar names the file without its folder, so that the reason fits; the tooltip
    # holds the whole message
    brief = message.replace(str(truncated), truncated.name)
    assert window.status.message.message() == f"Error: {brief}"
    assert window.status.message.toolTip() == f"Error: {message}"
    shown = window.status.message.text()
    room = window.status.message.width()
    assert window.status.message.fontMetrics().horizontalAdvance(shown) <= room


def test_a_frame_arriving_while_typing_keeps_what_is_typed(qtbot, make_window):
    window = make_window()
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    for field, typed in (
        (window.controls.spin_max_iter.lineEdit(), "5"),
        (window.controls.edit_tol, "1e-"),
    ):
        field.setFocus()
        qtbot.waitUntil(field.hasFocus)
        field.selectAll()
        qtbot.keyClicks(field, typed)  # half typed: "50" and "1e-4" are meant
        seed = window.current_snapshot().seed
        window.reseed(seed + 1)  # a new state arrives meanwhile
        wait_drawn(qtbot, window, lambda s, seed=seed: s.seed == seed + 1)
        assert field.text() == typed  # the field being edited is left alone
    assert window.current_frame().settings.max_iter == 5  # committed when the focus moved on
    qtbot.keyClicks(window.controls.edit_tol, "4")
    qtbot.keyClick(window.controls.edit_tol, Qt.Key.Key_Return)
    wait_drawn(qtbot, window, lambda s: window.current_frame().settings.tol == 1e-4)
    assert window.errors == []


def test_the_converged_message_goes_when_the_state_changes(qtbot, make_window):
    window = make_window(speed=None)
    window.action("run").trigger()
    wait_drawn(qtbot, window, lambda s: s.converged)
    qtbot.waitUntil(lambda: window.status.message.message() == "converged")
    window.history_bar.slider.setValue(2)  # back in the history: paused, not converged
    wait_drawn(qtbot, window, lambda s: s.iteration == 2)
    qtbot.waitUntil(lambda: window.worker_state != "converged")
    assert window.status.message.message() == ""
    assert window.status.labels["converged"].text() == "not converged"


def test_typed_numbers_count_on_enter_and_the_wheel_scrolls_the_panel(qtbot, make_window):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    window = make_window(k=3)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    spin_k = window.controls.spin_k
    spin_k.setFocus()
    qtbot.waitUntil(spin_k.hasFocus)
    spin_k.lineEdit().selectAll()
    generation = window.controller.generation
    qtbot.keyClicks(spin_k.lineEdit(), "5")  # not confirmed yet: the fit stays
    assert (
        window.controller.generation == generation and window.current_snapshot().weights.size == 3
    )
    qtbot.keyClick(spin_k.lineEdit(), Qt.Key.Key_Return)
    wait_drawn(qtbot, window, lambda s: s.weights.size == 5)

    spin = window.controls.spin_max_iter  # no focus: a wheel turn over it changes nothing
    assert not spin.hasFocus()
    centre = QPointF(spin.rect().center())
    wheel = QWheelEvent(
        centre,
        QPointF(spin.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QCoreApplication.sendEvent(spin, wheel)
    assert spin.value() == 100 and not spin.hasFocus()
    assert window.errors == []


def test_importing_a_model_with_other_feature_names_says_how_they_are_read(
    qtbot, make_window, tmp_path
):
    from em_engine.mixture import GaussianMixture
    from em_engine.modelio import save_model

    houses = make_preset("house_prices", 200, seed=0)
    model = GaussianMixture(2, random_state=0).fit(houses.X)
    path = tmp_path / "houses.json"
    save_model(model, path, feature_names=houses.feature_names, X=houses.X)
    window = make_window()  # blobs: columns x, y
    assert window.files.import_model(path)
    wait_drawn(qtbot, window, lambda s: np.allclose(s.means, model.means_))
    message = window.status.message.message()
    assert "price as x" in message and "floor_area as y" in message


def test_a_value_too_large_names_the_file_row_and_column_as_the_cli_does(
    qtbot, make_window, tmp_path
):
    window = make_window()
    rows = [f"{i * 0.1},{i % 4}" for i in range(30)]
    rows[9] = "4e300,1"  # row 12 of the file: a header and a blank line come first
    path = tmp_path / "huge.csv"
    path.write_text("a,b\n\n" + "\n".join(rows) + "\n")
    window.open_csv(path)
    qtbot.waitUntil(lambda: bool(window.errors))
    assert window.errors[-1].startswith(
        "Cannot start the fit: huge.csv: row 12, column 'a': 4e+300"
    )
    # the fit on screen is kept, and loading good data clears the error from the status bar
    window.generate_data()
    qtbot.waitUntil(lambda: window.current_frame().data.source != str(path))
    wait_drawn(qtbot, window, lambda s: True)
    assert not window.status.message.message().startswith("Error")


def test_a_reg_covar_that_swamps_the_data_is_said_in_the_status_bar(qtbot, make_window):
    window = make_window(k=2, init="random_means")
    tiny = make_preset("blobs", 300, seed=2)
    window.set_dataset(Dataset(X=tiny.X * 1e-9, feature_names=("x", "y"), source="tiny.csv"))
    qtbot.waitUntil(lambda: "reg_covar (1e-06) is not small" in window.status.message.message())
    assert window.errors == []
