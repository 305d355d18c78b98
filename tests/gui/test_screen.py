"""What the window draws: rendered pixels and the numbers it shows, on the paths people take.

These tests grab the real (offscreen) window and look at the picture: points after loading data of
another range, ellipse centres at the means, and the final frame of a run at full speed.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QImage

from em_engine.data import Dataset
from em_engine.missing import read_with_missing
from em_engine.synthetic import make_preset
from em_gui import MainWindow
from em_gui.frames import CONVERGED
from em_gui.palette import component_rgb
from em_gui.scatter import JITTER, JITTER_SEED, ellipse_polylines

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def rgb(image: QImage) -> np.ndarray:
    """(H, W, 3) int array of a grabbed image."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    words = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine() // 4, 4
    )
    return words[:, : image.width(), 2::-1].astype(int)  # BGRA in memory -> RGB


def current(window: MainWindow) -> bool:
    frame = window.current_frame()
    return frame is not None and frame.generation == window.controller.generation


def load_and_step(qtbot, window: MainWindow, dataset) -> np.ndarray:
    """Show ``dataset``, do one full iteration, return the drawn points' plot coordinates."""
    window.set_dataset(dataset)
    qtbot.waitUntil(lambda: current(window) and window.current_frame().data.X is not None)
    window.action("step").trigger()
    qtbot.waitUntil(lambda: current(window) and window.current_snapshot().iteration == 1)
    X = window.current_frame().data.X
    if X.shape[1] == 1:
        jitter = np.random.default_rng(JITTER_SEED).uniform(-JITTER, JITTER, len(X))
        return np.column_stack([X[:, 0], jitter])
    return X[:, :2].astype(np.float64)


def drawn_fraction(qtbot, window: MainWindow, xy: np.ndarray, n_check: int = 400) -> float:
    """Share of points (a sample of n_check) whose centre pixel is not the white background."""
    pick = np.random.default_rng(0).choice(len(xy), min(n_check, len(xy)), replace=False)
    # wait for the paint that shows the newest state (the window draws in stages)
    qtbot.waitUntil(window.is_drawn_up_to_date)
    pixels = rgb(window.scatter.plot_widget.grab().toImage())
    where = np.rint(window.scatter.widget_pixels(xy[pick])).astype(int)
    h, w, _ = pixels.shape
    inside = (where[:, 0] >= 0) & (where[:, 0] < w) & (where[:, 1] >= 0) & (where[:, 1] < h)
    assert inside.mean() > 0.95, "the view does not show the data"
    colours = pixels[where[inside, 1], where[inside, 0]]
    return float((np.abs(colours - 255).sum(axis=1) > 40).mean())


def shifted(dataset: Dataset, scale: float, offset: float, name: str) -> Dataset:
    return Dataset(X=dataset.X * scale + offset, feature_names=dataset.feature_names, source=name)


def test_points_are_drawn_after_every_sample_and_range(qtbot, window):
    """Defect: after data of another range, paint() clipped to the first data's view rect."""
    base = make_preset("blobs", 600, seed=3)
    datasets = [base]
    # (the sample with missing cells without those rows: only drawn points are counted here)
    datasets += [read_with_missing(path, "drop") for path in sorted(SAMPLES.glob("*.csv"))]
    datasets += [
        shifted(base, 1e-6, 0.0, "tiny.csv"),
        shifted(base, 1e6, -3e7, "huge.csv"),
        shifted(base, 1.0, 5e3, "far.csv"),
        Dataset(X=base.X[:, :1] * 1e4, feature_names=("one",), source="one_d_huge.csv"),
        make_preset("blobs", 30_000, seed=4),  # numpy-splatted dots instead of sprites
        base,
    ]
    for dataset in datasets:
        xy = load_and_step(qtbot, window, dataset)
        fraction = drawn_fraction(qtbot, window, xy)
        assert fraction > 0.85, f"{dataset.source}: only {fraction:.0%} of points drawn"
    assert window.errors == []


def test_ellipse_centre_is_drawn_at_the_mean(qtbot, window):
    """The 1-sigma ring's pixels (component colour) lie on the ring that the mean and covariance
    define, at the mean's screen position."""
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal((0, 0), (1.0, 0.5), (400, 2)), rng.normal((8, -6), 0.7, (400, 2))])
    window.controls.spin_k.setValue(2)
    window.controls.combo_init.setCurrentText("kmeans")
    window.set_dataset(Dataset(X=X, feature_names=("a", "b"), source="two.csv"))
    qtbot.waitUntil(lambda: current(window))  # iteration 0: grey points, coloured rings
    qtbot.waitUntil(window.is_drawn_up_to_date)
    snap = window.current_snapshot()
    assert snap.labels is None
    pixels = rgb(window.scatter.plot_widget.grab().toImage())
    legend = window.scatter.legend_rect()
    rows, cols = np.mgrid[: pixels.shape[0], : pixels.shape[1]]
    outside_legend = ~(
        (cols >= legend.left() - 2)
        & (cols <= legend.right() + 2)
        & (rows >= legend.top() - 2)
        & (rows <= legend.bottom() + 2)
    )
    colours = np.rint(component_rgb(2) * 255).astype(int)
    for k in range(2):
        # the ring a mean and covariance define, computed here, in the widget's pixels
        ring = ellipse_polylines(snap.means[k : k + 1], snap.covariances[k : k + 1])[0, 0]
        t = np.linspace(0.0, 1.0, 8, endpoint=False)[None, :, None]
        dense = (ring[:-1, None] + (ring[1:] - ring[:-1])[:, None] * t).reshape(-1, 2)
        expected = window.scatter.widget_pixels(dense)
        lo, hi = expected.min(axis=0) - 3, expected.max(axis=0) + 3
        in_box = (cols >= lo[0]) & (cols <= hi[0]) & (rows >= lo[1]) & (rows <= hi[1])
        near = np.abs(pixels - colours[k]).sum(axis=2) < 40
        found = np.column_stack(
            [cols[near & in_box & outside_legend], rows[near & in_box & outside_legend]]
        )
        assert len(found) > 50, f"component {k + 1}: its ring is not drawn"
        gaps = np.hypot(*(found[:, None, :] - expected[None, :, :]).transpose(2, 0, 1))
        # the ring's own pixels (the marker inside it also has the colour: left out)
        on_ring = gaps.min(axis=1) < 3.0
        assert np.median(gaps.min(axis=1)[on_ring]) < 1.2, f"component {k + 1}: ring misplaced"
        covered = (gaps[on_ring].min(axis=0) < 2.5).mean()  # labels may hide a part of it
        assert covered > 0.6, f"component {k + 1}: only {covered:.0%} of its ring is drawn there"


def test_runs_at_full_speed_end_on_the_converged_frame_and_export_it(qtbot, window, tmp_path):
    """Defect: a frame arriving while a redraw was staged was lost; the window stayed on an early
    iteration ('running', slider 1/1) and Export model wrote that stale state."""
    window.set_speed(None)
    window.controls.spin_k.setValue(4)
    window.set_dataset(make_preset("blobs", 4000, seed=7))
    qtbot.waitUntil(lambda: current(window))
    for run in range(12):
        window.reseed(1000 + run)
        window.action("run").trigger()
        qtbot.waitUntil(
            lambda: current(window) and window.current_frame().state == CONVERGED, timeout=10_000
        )
        newest = window.controller.newest_state()
        snap = window.current_snapshot()
        assert snap is newest.snapshot and snap.converged
        last = window.history_bar.slider.maximum()
        assert last == snap.iteration > 1
        assert window.history_bar.label.text() == f"iteration {last} / {last}"
        assert window.status.labels["state"].text() == CONVERGED
        assert window.status.labels["iteration"].text() == f"iteration {snap.iteration}"
    path = tmp_path / "model.json"
    with qtbot.waitSignal(window.export_done):
        assert window.export_model(path)
    saved = json.loads(path.read_text())
    assert saved["fit"]["n_iter"] == snap.iteration and saved["fit"]["converged"] is True
    np.testing.assert_allclose(saved["means"], snap.means, rtol=1e-15)
    assert window.errors == []


def test_exports_use_the_workers_newest_state_not_the_drawn_frame(qtbot, window, tmp_path):
    """An export right after a command that has been carried out but not yet drawn."""
    window.set_dataset(make_preset("blobs", 800, seed=1))
    qtbot.waitUntil(lambda: current(window))
    window.action("step").trigger()
    qtbot.waitUntil(lambda: window.controller.newest_state().snapshot.iteration == 1)
    path = tmp_path / "m.json"
    with qtbot.waitSignal(window.export_done):
        assert window.export_model(path)  # before the event loop has drawn iteration 1
    saved = json.loads(path.read_text())
    assert saved["fit"]["n_iter"] == 1
    np.testing.assert_allclose(saved["means"], window.controller.newest_state().snapshot.means)


def test_a_frame_arriving_while_a_redraw_is_staged_is_drawn(qtbot, window):
    """The exact interleaving that lost frames: frame A's scatter is painted, its panels are still
    to come, and frame B arrives before them. B must be drawn (scatter, panels, status)."""
    window.set_dataset(make_preset("blobs", 1500, seed=2))
    qtbot.waitUntil(window.is_drawn_up_to_date)
    worker = window.controller.worker
    emitted = threading.Event()
    worker.snapshot_ready.connect(
        lambda frame: emitted.set() if frame.snapshot.iteration == 2 else None,
        Qt.ConnectionType.DirectConnection,  # runs on the worker thread as it emits
    )
    interleaved = []

    class OnScatterPaint(QObject):
        def eventFilter(self, watched, event):  # runs before the window's own filter
            newest = worker.newest_state()
            if (
                event.type() == QEvent.Type.Paint
                and not interleaved
                and newest.snapshot.iteration == 1
                and window.status.labels["iteration"].text() == "iteration 0"
                and np.allclose(window.scatter.marker_items()[0].pos(), newest.snapshot.means[0])
            ):
                interleaved.append(True)  # A's scatter is painted, its panels are pending
                window.step()
                assert emitted.wait(5.0), "the worker did not send frame B"
                # deliver B (a queued call to the window) now, before A's panels
                QCoreApplication.sendPostedEvents(window, QEvent.Type.MetaCall)
            return False

    spy = OnScatterPaint()
    window.scatter.plot_widget.viewport().installEventFilter(spy)
    try:
        window.step()
        qtbot.waitUntil(lambda: bool(interleaved), timeout=5000)
        qtbot.waitUntil(
            lambda: window.status.labels["iteration"].text() == "iteration 2", timeout=3000
        )
    finally:
        window.scatter.plot_widget.viewport().removeEventFilter(spy)
    snap = window.current_snapshot()
    assert snap is worker.newest_state().snapshot
    assert window.history_bar.label.text() == "iteration 2 / 2"
    np.testing.assert_allclose(window.scatter.marker_items()[0].pos(), snap.means[0, :2])
