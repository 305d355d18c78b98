"""Comparing models and runs in the window (offscreen): the comparison sweep, the restart atlas,
the uncertainty view and the animated export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt, QThread
from PySide6.QtGui import QAction

from em_engine.data import Dataset
from em_engine.errors import DataError
from em_engine.missing import read_with_missing
from em_engine.optima import align_components
from em_engine.synthetic import make_preset
from em_engine.uncertainty import most_uncertain, summarise, uncertainty
from em_gui import MainWindow
from em_gui.animation import AnimationRequest
from em_gui.frames import CONVERGED, FitSettings

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
CENTRES = np.array([[-10.0, 0.0], [0.0, 0.0], [10.0, 0.0]])


def three_on_a_line() -> Dataset:
    """Three tight blobs on a line, the left one biggest: K = 2 has two local optima."""
    rng = np.random.default_rng(0)
    X = np.vstack(
        [
            c + 0.5 * rng.standard_normal((n, 2))
            for c, n in zip(CENTRES, (300, 150, 150), strict=True)
        ]
    )
    return Dataset(X=X, feature_names=("x", "y"), source=None)


@pytest.fixture
def window(qtbot, settings) -> MainWindow:
    errors: list[str] = []
    w = MainWindow(settings=settings, error_sink=errors.append, load_default_data=False)
    w.errors = errors
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
    assert not running_threads(w), "a background thread outlived the window"


def running_threads(window: MainWindow) -> list[QThread]:
    return [t for t in window.findChildren(QThread) if t.isRunning()]


def load(qtbot, window: MainWindow, dataset, settings: FitSettings, seed: int = 0) -> None:
    window.controller.configure(
        data=_fit_data(dataset), settings=settings, seed=seed, initial_params=None
    )
    wait_for(qtbot, window, lambda f: f.settings == settings)


def _fit_data(dataset):
    from em_gui.frames import FitData

    return FitData(np.asarray(dataset.X), tuple(dataset.feature_names), dataset.source)


def wait_for(qtbot, window: MainWindow, predicate, timeout: int = 10000):
    def ok() -> bool:
        frame = window.current_frame()
        return (
            frame is not None
            and window.controller.is_current(frame.generation)
            and window.is_drawn_up_to_date()
            and predicate(frame)
        )

    qtbot.waitUntil(ok, timeout=timeout)
    return window.current_frame()


def converge(qtbot, window: MainWindow):
    window.run()
    return wait_for(qtbot, window, lambda f: f.state == CONVERGED)


# --- model comparison ----------------------------------------------------------------------------


def test_sweep_draws_every_candidate_marks_the_best_and_loads_a_click(qtbot, window) -> None:
    data = make_preset("blobs", 400, seed=3)
    load(qtbot, window, data, FitSettings(n_components=2, init="kmeans"))
    panel = window.compare.comparison
    panel.spin_kmax.setValue(5)
    with qtbot.waitSignal(panel.sweep_finished, timeout=60000) as finished:
        window.compare.start_comparison()
    assert finished.args == ["done"]
    assert window.compare.docks["comparison"].isVisible()
    candidates = panel.candidates()
    assert len(candidates) == 20 and panel.table.rowCount() == 20
    # each curve holds its type's BIC values, read back from the plot
    for cov_type in ("full", "tied", "diag", "spherical"):
        xs, ys = panel.drawn_curve(cov_type)
        rows = [c.row for c in candidates if c.row.covariance_type == cov_type]
        assert list(xs) == [r.n_components for r in rows]
        np.testing.assert_allclose(ys, [r.bic for r in rows])
    best = min((c.row for c in candidates), key=lambda r: r.bic)
    assert best.n_components == 4
    assert panel.drawn_best() == (best.n_components, best.bic)
    assert panel.table.item(candidates.index(panel.best()), 0).text() == f"★ {best.n_components}"
    assert "Best by BIC" in panel.label_best.text()
    panel.combo_criterion.setCurrentText("ICL")
    xs, ys = panel.drawn_curve("full")
    np.testing.assert_allclose(
        ys, [c.row.icl for c in candidates if c.row.covariance_type == "full"]
    )
    # a click on a point loads that model, paused at its fitted parameters (the point drawn
    # farthest from the others, so that no other one is under the mouse)
    panel.combo_criterion.setCurrentText("BIC")
    positions = np.array([[panel.point_position(i).x(), panel.point_position(i).y()]
                          for i in range(len(candidates))])  # fmt: skip
    gaps = np.linalg.norm(positions[:, None] - positions[None], axis=2) + 1e9 * np.eye(20)
    index = int(np.argmax(gaps.min(axis=1)))
    chosen = candidates[index].row
    qtbot.mouseClick(
        panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=panel.point_position(index)
    )
    frame = wait_for(
        qtbot,
        window,
        lambda f: (
            (f.settings.n_components, f.settings.covariance_type)
            == (chosen.n_components, chosen.covariance_type)
        ),
    )
    model = candidates[index].model
    order = align_components(model.means_, frame.snapshot.means)
    np.testing.assert_allclose(frame.snapshot.means[order], model.means_, rtol=1e-9)
    assert window.controls.spin_k.value() == chosen.n_components
    window.step()  # it can be stepped from there
    wait_for(qtbot, window, lambda f: f.snapshot.iteration == 1)


def test_sweep_cancel_keeps_what_was_fitted_and_leaves_no_thread(qtbot, window) -> None:
    data = make_preset("blobs", 20000, seed=3)
    load(qtbot, window, data, FitSettings(n_components=3, init="kmeans", tol=0.0, max_iter=300))
    panel = window.compare.comparison
    panel.spin_kmax.setValue(10)
    window.compare.start_comparison()
    qtbot.waitUntil(lambda: len(panel.candidates()) >= 1, timeout=30000)
    assert running_threads(window)
    with qtbot.waitSignal(panel.sweep_finished, timeout=10000) as finished:
        panel.button_cancel.click()
    assert finished.args == ["cancelled"]
    assert 1 <= len(panel.candidates()) < 40
    assert "Cancelled after" in panel.label_best.text()
    qtbot.waitUntil(lambda: not running_threads(window))
    assert panel.button_start.isEnabled() and not panel.button_cancel.isEnabled()


def test_missing_cells_are_fitted_by_em_in_the_sweep_and_the_atlas(qtbot, window) -> None:
    # the window fits the sample's missing cells by EM: so do the sweep and the starts
    data = read_with_missing(SAMPLES / "blobs_missing.csv", "em")
    assert np.isnan(data.X).any()
    load(qtbot, window, data, FitSettings(n_components=3, init="kmeans"))
    panel = window.compare.comparison
    panel.spin_kmax.setValue(2)
    with qtbot.waitSignal(panel.sweep_finished, timeout=60000) as finished:
        window.compare.start_comparison()
    assert finished.args == ["done"] and not window.errors
    assert len(panel.candidates()) == 8
    assert all(c.row.error is None for c in panel.candidates())
    assert "Best by BIC" in panel.label_best.text()
    atlas = window.compare.atlas
    atlas.spin_starts.setValue(3)
    with qtbot.waitSignal(atlas.run_finished, timeout=60000) as finished:
        window.compare.start_atlas()
    assert finished.args == ["done"] and not window.errors
    assert sum(o.count for o in atlas.optima()) == 3
    assert all(np.isfinite(o.log_likelihood) for o in atlas.optima())
    # other data: the sweep's results and its text are forgotten
    load(qtbot, window, make_preset("blobs", 200, seed=1), FitSettings(n_components=3))
    qtbot.waitUntil(lambda: not panel.candidates())
    assert panel.label_best.text() == "" and panel.table.rowCount() == 0


def test_atlas_starts_fit_as_the_window_does_with_weights_and_mode(qtbot, window) -> None:
    """A start with the window's seed lands where the window's own fit did: the same sample
    weights and mode (the window and the atlas build their sessions from one set of options)."""
    from em_gui.frames import FitData

    data = make_preset("blobs", 300, seed=2)
    weights = np.random.default_rng(1).integers(1, 4, len(data.X)).astype(float)
    fit_data = FitData(np.asarray(data.X), ("x", "y"), None, sample_weight=weights)
    settings = FitSettings(n_components=3, init="kmeans", mode="hard")
    window.controller.configure(data=fit_data, settings=settings, seed=0, initial_params=None)
    wait_for(qtbot, window, lambda f: f.settings == settings)
    frame = converge(qtbot, window)
    atlas = window.compare.atlas
    atlas.spin_starts.setValue(2)  # seeds 0 and 1
    with qtbot.waitSignal(atlas.run_finished, timeout=60000) as finished:
        window.compare.start_atlas()
    assert finished.args == ["done"] and not window.errors
    first = next(s for o in atlas.optima() for s in o.starts if s.seed == 0)
    np.testing.assert_allclose(first.means, frame.snapshot.means, rtol=1e-10)


def test_a_failed_sweep_says_so_in_the_panel(qtbot, window, monkeypatch) -> None:
    import em_gui.comparison as comparison

    def fail(*_args, **_kwargs):
        raise DataError("nothing fits")

    monkeypatch.setattr(comparison, "select_model", fail)
    load(qtbot, window, make_preset("blobs", 200, seed=1), FitSettings(n_components=3))
    panel = window.compare.comparison
    with qtbot.waitSignal(panel.sweep_finished, timeout=60000) as finished:
        window.compare.start_comparison()
    assert finished.args == ["failed"]
    assert "Fitting" not in panel.label_best.text() and "nothing fits" in panel.label_best.text()


def test_progress_bars_show_the_next_run_total_before_it(qtbot, window) -> None:
    panel, atlas = window.compare.comparison, window.compare.atlas
    assert panel.progress.text() == "0 / 32 fits"
    assert atlas.progress.text() == "0 / 20 starts"
    panel.spin_kmax.setValue(3)
    atlas.spin_starts.setValue(7)
    assert panel.progress.text() == "0 / 12 fits"
    assert atlas.progress.text() == "0 / 7 starts"


def test_clicking_the_star_loads_the_best_model(qtbot, window) -> None:
    load(qtbot, window, make_preset("blobs", 400, seed=3), FitSettings(n_components=2))
    panel = window.compare.comparison
    panel.spin_kmax.setValue(5)
    with qtbot.waitSignal(panel.sweep_finished, timeout=60000):
        window.compare.start_comparison()
    best = panel.best()
    assert (best.row.n_components, best.row.covariance_type) != (2, "full")
    index = panel.candidates().index(best)
    qtbot.mouseClick(
        panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=panel.point_position(index)
    )
    wait_for(
        qtbot,
        window,
        lambda f: (
            (f.settings.n_components, f.settings.covariance_type)
            == (best.row.n_components, best.row.covariance_type)
        ),
    )


def test_the_menu_brings_a_tabbed_dock_forward(qtbot, window) -> None:
    docks = window.compare.docks

    def in_front() -> list[str]:
        return [k for k, d in docks.items() if d.isVisible() and not d.visibleRegion().isEmpty()]

    for key in ("comparison", "atlas", "uncertainty"):
        window.findChild(QAction, f"action_show_{key}").trigger()
        qtbot.waitUntil(lambda key=key: in_front() == [key])
        assert window.findChild(QAction, f"action_show_{key}").isChecked()
    # all three open, tabbed: the menu brings the one behind forward instead of hiding it
    window.findChild(QAction, "action_show_atlas").trigger()
    qtbot.waitUntil(lambda: in_front() == ["atlas"])
    assert docks["comparison"].isVisible() and docks["uncertainty"].isVisible()
    window.findChild(QAction, "action_show_atlas").trigger()  # in front: hidden
    qtbot.waitUntil(lambda: not docks["atlas"].isVisible())


# --- restart atlas -------------------------------------------------------------------------------


def test_atlas_groups_starts_and_loads_an_optimum_in_the_colours_on_screen(qtbot, window) -> None:
    settings = FitSettings(n_components=2, init="random_from_data", tol=1e-6, max_iter=500)
    load(qtbot, window, three_on_a_line(), settings, seed=0)
    shown = converge(qtbot, window).snapshot
    panel = window.compare.atlas
    panel.spin_starts.setValue(16)
    with qtbot.waitSignal(panel.run_finished, timeout=60000) as finished:
        window.compare.start_atlas()
    assert finished.args == ["done"]
    optima = panel.optima()
    assert len(optima) == 2 and sum(o.count for o in optima) == 16
    assert sorted(s for o in optima for s in o.seeds) == list(range(16))
    assert panel.table.rowCount() == 2
    assert panel.table.item(0, 3).text() == str(optima[0].count)
    # the optimum on screen, loaded again: its start replays with the components where they are
    mine = next(
        i
        for i, o in enumerate(optima)
        if np.isclose(o.log_likelihood, shown.log_likelihood, rtol=1e-4)
    )
    panel.choose(mine)
    best = optima[mine].best
    frame = wait_for(qtbot, window, lambda f: f.state == CONVERGED and f.snapshot.seed == best.seed)
    np.testing.assert_allclose(frame.snapshot.means, shown.means, atol=0.05)
    assert frame.snapshot.iteration == best.n_iter  # its whole history, from iteration 0
    assert frame.n_history == best.n_iter + 1
    # the other optimum: its components take the colours of the nearest ones on screen
    other = optima[1 - mine].best
    panel.choose(1 - mine)
    frame = wait_for(
        qtbot, window, lambda f: f.state == CONVERGED and f.snapshot.seed == other.seed
    )
    order = align_components(shown.means, other.means, window.current_frame().data.X.std(axis=0))
    np.testing.assert_allclose(frame.snapshot.means, other.means[order], rtol=1e-6)


def test_colour_matching_is_stable_under_label_permutation(qtbot, window) -> None:
    settings = FitSettings(n_components=4, init="kmeans")
    load(qtbot, window, make_preset("blobs", 400, seed=3), settings)
    converge(qtbot, window)
    panel = window.compare.atlas
    panel.spin_starts.setValue(2)
    with qtbot.waitSignal(panel.run_finished, timeout=60000):
        window.compare.start_atlas()
    means = panel.optima()[0].best.means
    base = means[panel.colour_order(means)]
    rng = np.random.default_rng(1)
    for _ in range(6):
        perm = rng.permutation(4)
        np.testing.assert_array_equal(means[perm][panel.colour_order(means[perm])], base)


def test_reseed_log_counts_the_optima_visited(qtbot, window) -> None:
    settings = FitSettings(n_components=2, init="random_from_data", tol=1e-6, max_iter=500)
    load(qtbot, window, three_on_a_line(), settings, seed=0)
    seen = []
    for seed in range(6):
        window.reseed(seed)
        wait_for(qtbot, window, lambda f, s=seed: f.snapshot.seed == s)
        seen.append(converge(qtbot, window).snapshot.log_likelihood)
    visited = window.compare.atlas.visited_optima()
    assert sum(o.count for o in visited) == 6
    assert sorted(s for o in visited for s in o.seeds) == list(range(6))
    assert len(visited) == len({round(v, 3) for v in seen})
    assert window.compare.atlas.visited.rowCount() == len(visited)


# --- uncertainty ---------------------------------------------------------------------------------


def test_uncertainty_view_lists_the_most_uncertain_points(qtbot, window) -> None:
    load(qtbot, window, make_preset("overlap", 500, seed=5), FitSettings(n_components=3))
    window.compare.show("uncertainty")
    window.e_step()
    frame = wait_for(qtbot, window, lambda f: f.snapshot.confidence is not None)
    view = window.compare.uncertainty
    qtbot.waitUntil(lambda: view.table.rowCount() > 0)
    top = most_uncertain(frame.snapshot.confidence, 25)
    assert view.listed_rows() == [str(i + 1) for i in top]
    summary = summarise(frame.snapshot.confidence)
    assert f"mean {summary.mean:.3f}" in view.summary.text()
    assert f"above 0.5: {dict(summary.above)[0.5]:,} points" in view.summary.text()
    # the 5% most uncertain points are drawn largest
    sizes = view.drawn_sizes()
    assert np.count_nonzero(sizes == sizes.max()) == np.count_nonzero(
        uncertainty(frame.snapshot.confidence)
        > np.percentile(uncertainty(frame.snapshot.confidence), 95)
    )
    assert sizes.max() > 2 * sizes.min()


# --- animated export -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_animation_has_the_requested_frames_and_size(qtbot, window, tmp_path, suffix) -> None:
    settings = FitSettings(n_components=3, init="random_from_data", tol=0.0, max_iter=12)
    load(qtbot, window, make_preset("blobs", 300, seed=2), settings)
    window.run()
    last = wait_for(qtbot, window, lambda f: f.state != "running" and f.n_history == 13)
    request = AnimationRequest(
        tmp_path / f"fit{suffix}", first=1, last=7, step=2, size=(240, 180), frame_ms=120
    )
    exporter = window.compare.animation
    with qtbot.waitSignal(exporter.finished, timeout=30000) as done:
        assert exporter.export(request)
    if suffix == ".gif":
        assert done.args == [[str(request.path)]]
        with Image.open(request.path) as gif:
            assert gif.n_frames == 4 and gif.size == (240, 180)
            assert gif.info["duration"] == 120 and gif.info["loop"] == 0
    else:
        paths = [tmp_path / f"fit-{i:03d}.png" for i in range(1, 5)]
        assert done.args == [[str(p) for p in paths]]
        for path in paths:
            with Image.open(path) as image:
                assert image.size == (240, 180)
    # the window is back where it was
    wait_for(qtbot, window, lambda f: f.snapshot.iteration == last.snapshot.iteration)
    assert not running_threads(window)


def test_animation_export_returns_to_the_half_step_shown(qtbot, window, tmp_path) -> None:
    load(qtbot, window, make_preset("blobs", 300, seed=2), FitSettings(n_components=3))
    for i in range(1, 4):
        window.step()
        wait_for(qtbot, window, lambda f, i=i: f.snapshot.iteration == i)
    before = window.current_frame().snapshot
    assert before.phase == "m"
    exporter = window.compare.animation
    with qtbot.waitSignal(exporter.finished, timeout=30000):
        assert exporter.export(AnimationRequest(tmp_path / "fit.gif", first=0, last=3))
    after = wait_for(
        qtbot, window, lambda f: f.snapshot.iteration == 3 and f.snapshot.phase == "m"
    ).snapshot
    assert after.log_likelihood == before.log_likelihood
    assert after.log_likelihood_iteration == before.log_likelihood_iteration == 2
    np.testing.assert_array_equal(after.means, before.means)
    np.testing.assert_array_equal(after.labels, before.labels)
    assert window.current_frame().n_history == 4


def test_animation_frames_fill_the_requested_size(qtbot, window, tmp_path) -> None:
    window.resize(1600, 600)  # a plot much wider than the frames
    load(qtbot, window, make_preset("blobs", 300, seed=2), FitSettings(n_components=3))
    window.step()
    wait_for(qtbot, window, lambda f: f.snapshot.iteration == 1)
    plot_item = window.scatter.plot_widget.getPlotItem()
    shown = plot_item.geometry()
    assert shown.width() > 2 * shown.height()
    request = AnimationRequest(tmp_path / "fit.png", first=1, last=1, size=(640, 480))
    exporter = window.compare.animation
    with qtbot.waitSignal(exporter.finished, timeout=30000):
        assert exporter.export(request)
    with Image.open(tmp_path / "fit-001.png") as image:
        rgb = np.asarray(image.convert("RGB"))
    drawn_rows = np.flatnonzero((rgb < 250).any(axis=(1, 2)))
    assert drawn_rows.max() > 0.95 * 480  # the x axis near the bottom, not a band at the top
    assert plot_item.geometry() == shown  # the window's plot is laid out as it was


def test_animation_refuses_a_bad_request(qtbot, window, tmp_path) -> None:
    load(qtbot, window, make_preset("blobs", 300, seed=2), FitSettings(n_components=3))
    exporter = window.compare.animation
    assert not exporter.export(AnimationRequest(tmp_path / "a.gif", first=0, last=50))
    assert "the history has 0 to 0" in window.errors[-1]
    assert not exporter.export(AnimationRequest(tmp_path / "a.bmp", first=0, last=0))
    assert "save as .gif or .png" in window.errors[-1]
    assert not (tmp_path / "a.gif").exists()


def test_animation_cancelled_while_taking_frames_writes_nothing(qtbot, window, tmp_path) -> None:
    settings = FitSettings(n_components=3, init="random_from_data", tol=0.0, max_iter=30)
    load(qtbot, window, make_preset("blobs", 300, seed=2), settings)
    window.run()
    last = wait_for(qtbot, window, lambda f: f.state != "running" and f.n_history == 31)
    exporter = window.compare.animation
    request = AnimationRequest(tmp_path / "fit.gif", first=0, last=30, size=(200, 150))
    assert exporter.export(request)
    qtbot.waitUntil(lambda: exporter.frames_taken() >= 2)
    with qtbot.waitSignal(exporter.cancelled):
        exporter.cancel()
    assert not exporter.is_busy()
    wait_for(qtbot, window, lambda f: f.snapshot.iteration == last.snapshot.iteration)
    assert list(tmp_path.iterdir()) == []
    assert not running_threads(window)
