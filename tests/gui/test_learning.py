"""The "understand EM" views in the window (offscreen): the numbers they show are read back from
the widgets and compared with the engine's; the 1-D view is checked in pixels; the lesson is
walked end to end."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage

from em_engine.bound import adjusted_rand_score, point_terms
from em_engine.missing import read_with_missing
from em_engine.session import EMSession
from em_gui import MainWindow
from em_gui.explain import number
from em_gui.frames import CONVERGED, RUNNING
from em_gui.inspector import MAX_PINNED
from em_gui.lesson import LESSON_ROW, STEPS, set_up
from em_gui.palette import component_colors


@pytest.fixture
def learning_window(qtbot, settings):
    errors: list[str] = []
    window = MainWindow(settings=settings, error_sink=errors.append, load_default_data=False)
    window.errors = errors
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.set_speed(None)
    window.learning.dock.raise_()  # the Understand EM tab (its panels draw while on screen)
    yield window
    assert not errors


def drawn(qtbot, window, predicate, timeout=10000):
    """Wait until the drawn frame is the newest and satisfies predicate(frame)."""

    def ok() -> bool:
        frame = window.current_frame()
        return (
            frame is not None
            and frame.generation == window.controller.generation
            and window.is_drawn_up_to_date()
            and predicate(frame)
        )

    qtbot.waitUntil(ok, timeout=timeout)
    return window.current_frame()


def preset(qtbot, window, name, k, **settings):
    set_up(window, name, k, **settings)
    return drawn(qtbot, window, lambda f: name in f.data.source and f.snapshot.phase == "init")


def plain(text: str) -> str:
    """Rich-text numbers as the panel shows them, as plain text."""
    return text.replace("<sup>", "").replace("</sup>", "")


def test_explain_panel_shows_the_engines_numbers(qtbot, learning_window):
    window = learning_window
    frame = preset(qtbot, window, "overlap", 3, init="random_means")
    window.e_step()
    frame = drawn(qtbot, window, lambda f: f.snapshot.phase == "e")
    row = 17
    window.learning.select_point(row)
    text = window.learning.explain.text.toPlainText()
    snap = frame.snapshot
    terms = point_terms(frame.data.X[row], snap.weights, snap.means, snap.covariances, "full")
    assert f"point n = {row + 1}" in text
    for k in range(3):  # each responsibility, as the engine computed it
        assert plain(number(terms.responsibilities[0, k])) in text
        assert plain(number(terms.component[0, k])) in text
    assert plain(number(terms.log_density[0])) in text
    assert plain(number(snap.evidence, 7)) in text
    assert "KL(q ‖ p(z | X, θ)) = log p(X | θ) − 𝓛 = 0" in text  # an E-step closes the gap
    window.m_step()
    frame = drawn(qtbot, window, lambda f: f.snapshot.phase == "m")
    window.learning.explain.select_component(2)
    text = window.learning.explain.text.toPlainText()
    snap = frame.snapshot
    assert "M-step for component" in text.splitlines()[1]  # the half-step just taken comes first
    assert f"Nk = Σn rnk = {plain(number(snap.nk[2]))}" in text
    assert f"= {plain(number(snap.weights[2]))}" in text
    assert plain(number(snap.kl)) in text
    assert snap.kl > 0


def test_point_inspector_numbers_click_and_pinned_traces(qtbot, learning_window):
    window = learning_window
    frame = preset(qtbot, window, "overlap", 3, init="random_means")
    window.step()
    frame = drawn(qtbot, window, lambda f: f.snapshot.iteration == 1)
    inspector = window.learning.inspector
    # a click on a point (Add points off) inspects it
    row = int(np.argmax(frame.data.X[:, 0]))  # the rightmost point: no neighbour on top of it
    window.learning.tabs.setCurrentIndex(1)
    pixel = window.scatter.widget_pixels(frame.data.X[[row]])[0]
    viewport = window.scatter.plot_widget.viewport()
    offset = viewport.pos()
    qtbot.mouseClick(
        viewport,
        Qt.MouseButton.LeftButton,
        pos=QPoint(int(pixel[0]) - offset.x(), int(pixel[1]) - offset.y()),
    )
    qtbot.waitUntil(lambda: inspector.row == row)
    snap = frame.snapshot
    terms = point_terms(frame.data.X[row], snap.weights, snap.means, snap.covariances, "full")
    table = inspector.table
    for k in range(3):
        shown = [float(table.item(k, c).text()) for c in (1, 2, 3)]
        expected = [terms.weighted[0, k], terms.log_weighted[0, k], terms.responsibilities[0, k]]
        assert shown == pytest.approx(expected, rel=1e-3)  # 4 significant digits
    log_density = float(
        re.search(r"log p\(x\) = (\S+)", inspector.density_label.text())[1].replace("−", "-")
    )
    assert log_density == pytest.approx(terms.log_density[0], rel=1e-5)
    # pins: the worker follows them across the history
    inspector.pin()
    window.learning.select_point(3)
    inspector.pin()
    assert inspector.pinned == [row, 3]
    with qtbot.waitSignal(window.controller.trace_ready, timeout=10000):
        window.run()
    qtbot.waitUntil(lambda: window.current_frame().state == CONVERGED, timeout=10000)
    qtbot.waitUntil(
        lambda: (
            len(inspector.trace_curves) == 6
            and inspector.trace_curves[0].xData[-1] == window.current_frame().n_history - 1
        ),
        timeout=10000,
    )
    final = window.current_frame().snapshot
    last = point_terms(
        frame.data.X[[row, 3]], final.weights, final.means, final.covariances, "full"
    )
    ends = [curve.yData[-1] for curve in inspector.trace_curves]
    assert ends == pytest.approx(list(last.responsibilities.ravel()), rel=1e-9)
    for extra in range(MAX_PINNED + 1):
        window.learning.select_point(10 + extra)
        inspector.pin()
    assert len(inspector.pinned) == MAX_PINNED
    inspector.unpin_all()
    assert inspector.trace_curves == [] and inspector.pinned == []


def test_bound_view_draws_the_engines_bound(qtbot, learning_window):
    window = learning_window
    frame = preset(qtbot, window, "overlap", 3, init="random_means")
    for _ in range(3):
        window.step()
    frame = drawn(qtbot, window, lambda f: f.snapshot.iteration == 3)
    view = window.learning.bound_view
    qtbot.waitUntil(lambda: len(view.bound_curve.xData) == 6)
    session = EMSession(frame.data.X, 3, init="random_means", seed=frame.snapshot.seed)
    for _ in range(3):
        session.step()
    history = session.bound_history()
    assert np.array_equal(view.bound_curve.xData, history.half_steps / 2)
    assert np.array_equal(view.bound_curve.yData, history.bound)
    assert np.array_equal(view.kl_curve.yData, history.kl)
    assert np.all(view.kl_curve.yData[1::2] > 0)  # M-steps open the gap
    readout = view.readout.text()
    assert "iteration 3" in readout and number(history.bound[-1], 7) in readout


def test_mode_switch_runs_kmeans_and_hard_em(qtbot, learning_window):
    window = learning_window
    preset(qtbot, window, "anisotropic", 3)
    controls = window.controls
    controls.combo_mode.setCurrentIndex(controls.combo_mode.findData("kmeans"))
    frame = drawn(qtbot, window, lambda f: f.snapshot.mode == "kmeans")
    assert frame.settings.mode == "kmeans" and not controls.check_prior.isEnabled()
    assert np.allclose(frame.snapshot.weights, 1 / 3)
    window.run()
    frame = drawn(qtbot, window, lambda f: f.state == CONVERGED)
    assert frame.snapshot.objective == "classification log-likelihood"
    assert "k-means" in window.learning.explain.text.toPlainText()
    controls.combo_mode.setCurrentIndex(controls.combo_mode.findData("hard"))
    frame = drawn(qtbot, window, lambda f: f.snapshot.mode == "hard")
    assert controls.check_prior.isEnabled()


def test_truth_toggle_draws_true_components_and_ari(qtbot, learning_window):
    window = learning_window
    frame = preset(qtbot, window, "house_prices", 3, init="random_means")
    assert window.learning.truth_items == []
    window.action("show_truth").setChecked(True)
    assert len(window.learning.truth_items) == 3
    assert window.learning.bound_view.shows_agreement
    window.run()
    frame = drawn(qtbot, window, lambda f: f.state == CONVERGED)
    curve = window.learning.bound_view.ari_curve
    qtbot.waitUntil(
        lambda: curve.xData is not None and curve.xData[-1] == frame.snapshot.iteration - 1
    )
    expected = adjusted_rand_score(frame.data.truth.labels, frame.snapshot.labels)
    assert curve.yData[-1] == pytest.approx(expected)
    assert expected > 0.5
    window.action("show_truth").setChecked(False)
    assert window.learning.truth_items == []


def _pixel_colour(view, plot, x: float, y: float):
    """The colour the 1-D view shows at plot coordinates (x, y)."""
    scene = plot.getViewBox().mapViewToScene(QPointF(x, y))
    point = view.graphics.mapFromScene(scene)
    image = view.graphics.grab().toImage()
    ratio = image.devicePixelRatio()
    return image.pixelColor(int(point.x() * ratio), int(point.y() * ratio))


def _rgb(widget) -> np.ndarray:
    """(H, W, 3) int: the widget as drawn (in device pixels)."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rgb = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    rgb = rgb.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()]
    return rgb.reshape(image.height(), image.width(), 3).astype(int)


def _grey_pixels(view) -> int:
    """How many dark grey pixels the 1-D view shows (the truth's dashes, the mixture curve)."""
    rgb = _rgb(view.graphics)
    grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2]) & (rgb[..., 0] < 90)
    return int(grey.sum())


def test_one_d_view_draws_histogram_densities_and_bands(qtbot, learning_window):
    window = learning_window
    frame = preset(qtbot, window, "house_prices_1d", 3)
    oned = window.learning.oned
    assert oned.isVisible()
    window.run()
    frame = drawn(qtbot, window, lambda f: f.state == CONVERGED)
    snap = frame.snapshot
    terms = point_terms(oned.grid[:, None], snap.weights, snap.means, snap.covariances, "full")
    assert np.array_equal(oned.mixture_curve.yData, terms.density)
    assert np.array_equal(oned.component_curves[1].yData, terms.weighted[:, 1])
    colours = component_colors(3)
    for k in range(3):
        mean = float(snap.means[k, 0])
        assert oned.mean_lines[k].value() == pytest.approx(mean)
        # the responsibility band under each mean is that component's colour (on white)
        pixel = _pixel_colour(oned, oned.band_plot, mean, 0.5)
        expected = colours[k]
        alpha = 170 / 255
        for got, base in (
            (pixel.red(), expected.red()),
            (pixel.green(), expected.green()),
            (pixel.blue(), expected.blue()),
        ):
            assert abs(got - (alpha * base + (1 - alpha) * 255)) < 40
    # the histogram is drawn: grey bars under the mixture's peak
    peak = float(oned.grid[np.argmax(terms.density)])
    bar = _pixel_colour(oned, oned.density_plot, peak, float(terms.density.max()) * 0.2)
    assert abs(bar.red() - 200) < 30 and bar.red() == bar.green() == bar.blue()
    # 2-D data hide the view again
    preset(qtbot, window, "blobs", 4)
    assert not oned.isVisible()


def test_collapse_note_and_a_remedy(qtbot, learning_window):
    window = learning_window
    preset(qtbot, window, "collapse", 3)
    window.run()
    frame = drawn(qtbot, window, lambda f: f.state == CONVERGED, timeout=20000)
    note = window.learning.collapse_note
    assert frame.snapshot.narrow and note.isVisible()
    k = frame.snapshot.narrow[0][0]
    assert f"Component {k + 1} has collapsed" in note.text.text()
    # the collapsed component's points are ringed in red around its mean's marker, visibly
    held = np.flatnonzero(frame.snapshot.labels == k)
    qtbot.waitUntil(window.is_drawn_up_to_date)
    rgb = _rgb(window.scatter.plot_widget)
    ratio = window.scatter.plot_widget.devicePixelRatioF()
    centre = window.scatter.widget_pixels(frame.data.X[held[:1]])[0] * ratio
    yy, xx = np.mgrid[: rgb.shape[0], : rgb.shape[1]]
    near = np.hypot(xx - centre[0], yy - centre[1]) <= 16 * ratio
    red = (rgb[..., 0] > 180) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
    assert (red & near).sum() >= 20
    texts = [b.text() for b in note.buttons]
    assert texts == ["MAP prior", "reg_covar = 0.01", "K = 2", "diagonal covariance"]
    note.buttons[0].click()  # MAP: a new fit with the prior
    frame = drawn(qtbot, window, lambda f: f.settings.prior and f.snapshot.phase == "init")
    window.run()
    frame = drawn(qtbot, window, lambda f: f.state == CONVERGED, timeout=20000)
    assert not frame.snapshot.narrow and not note.isVisible()


def test_the_lesson_walks_end_to_end(qtbot, learning_window):
    window = learning_window
    window.action("lesson").trigger()
    lesson = window.learning.lesson
    assert lesson.isVisible() and lesson.index == 0
    assert not lesson.button_back.isEnabled()
    expected_presets = [
        "house_prices_1d",
        "house_prices",
        "overlap",
        "overlap",
        "overlap",
        "blobs",
        "collapse",
        "anisotropic",
    ]
    for i, name in enumerate(expected_presets):
        if i:
            lesson.button_next.click()
        assert lesson.index == i and lesson.title.text().startswith(f"{i + 1}. {STEPS[i].title}")
        frame = drawn(
            qtbot,
            window,
            lambda f, name=name: f"'{name}'" in f.data.source and f.state != RUNNING,
            timeout=20000,
        )
        if i == 2:  # the E-step: the Explain tab shows a point's responsibilities
            assert frame.snapshot.phase == "e"
            assert window.learning.explain.row == LESSON_ROW
            assert f"point n = {LESSON_ROW + 1}" in window.learning.explain.text.toPlainText()
        assert window.action("show_truth").isChecked() == (i in (0, 1, 5))
        if i == 3:
            assert frame.snapshot.phase == "m"
    assert frame.snapshot.mode == "kmeans" and not lesson.button_next.isEnabled()
    lesson.button_back.click()
    assert lesson.index == 6
    lesson.button_close.click()
    assert not lesson.isVisible()
    window.action("lesson").trigger()  # opened again: from the start
    assert lesson.isVisible() and lesson.index == 0


def test_hidden_panels_catch_up_when_shown(qtbot, learning_window):
    from PySide6.QtWidgets import QDockWidget

    window = learning_window
    preset(qtbot, window, "overlap", 3, init="random_means")
    window.findChild(QDockWidget, "dock_parameters").raise_()
    qtbot.waitUntil(lambda: window.learning.explain.visibleRegion().isEmpty())
    window.step()
    window.step()
    frame = drawn(qtbot, window, lambda f: f.snapshot.iteration == 2)
    assert window.learning.explain.frame is not frame  # not drawn while hidden
    window.learning.dock.raise_()
    qtbot.waitUntil(lambda: window.learning.explain.frame is frame)
    assert "iteration 2, after M-step" in window.learning.explain.text.toPlainText()


def test_new_data_clears_the_selected_point_and_the_bound_range(qtbot, learning_window):
    window = learning_window
    learning = window.learning
    preset(qtbot, window, "house_prices_1d", 3)
    for _ in range(3):
        window.step()
    drawn(qtbot, window, lambda f: f.snapshot.iteration == 3)
    view = learning.bound_view
    qtbot.waitUntil(lambda: len(view.bound_curve.xData) == 6)
    old_low = float(np.min(view.bound_curve.yData))
    learning.tabs.setCurrentIndex(1)
    learning.select_point(407)
    learning.inspector.pin()
    assert learning.inspector.title.text().startswith("Point 408")
    frame = preset(qtbot, window, "collapse", 3)
    qtbot.waitUntil(lambda: learning.inspector.frame is frame)
    assert learning.inspector.row is None and learning.inspector.pinned == []
    assert "Point 408" not in learning.inspector.title.text()
    assert learning.inspector.table.rowCount() == 0
    assert learning.explain.row == 0
    assert "point n = 408" not in learning.explain.text.toPlainText()
    low, high = view.value_plot.viewRange()[1]
    assert not low <= old_low <= high  # not the old data's range at iteration 0
    assert view.bound_curve.xData is None or len(view.bound_curve.xData) == 0
    # a row chosen right after new data is generated (the lesson does) stays chosen
    set_up(window, "overlap", 3, explain=LESSON_ROW)
    frame = drawn(qtbot, window, lambda f: "overlap" in f.data.source)
    assert learning.explain.row == LESSON_ROW


def test_one_d_view_is_readable_and_draws_the_truth(qtbot, learning_window):
    window = learning_window
    frame = preset(qtbot, window, "house_prices_1d", 3)
    oned = window.learning.oned
    qtbot.waitUntil(lambda: oned.height() > 0)
    # the histogram and the bands take at least half of the plots' height (the strip the rest)
    assert oned.height() >= window.scatter.height()
    density_box = oned.density_plot.getViewBox().sceneBoundingRect()
    assert density_box.height() >= 100
    assert oned.band_plot.getViewBox().sceneBoundingRect().height() >= 40
    window.action("show_truth").setChecked(True)
    truth = frame.data.truth
    terms = point_terms(oned.grid[:, None], truth.weights, truth.means, truth.covariances, "full")
    assert len(oned.truth_curves) == 3 and window.learning.truth_items == oned.truth_curves
    for k, curve in enumerate(oned.truth_curves):
        assert np.array_equal(curve.yData, terms.weighted[:, k])
    # drawn: the dashed curves change hundreds of pixels, dark grey ones
    shown = _grey_pixels(oned)
    window.action("show_truth").setChecked(False)
    assert shown > _grey_pixels(oned) + 300
    assert oned.truth_curves == [] and window.learning.truth_items == []


def test_numbers_stay_on_one_line_at_the_docks_width(qtbot, learning_window):
    from PySide6.QtGui import QTextCursor

    window = learning_window
    preset(qtbot, window, "overlap", 3, init="random_means")
    window.e_step()
    frame = drawn(qtbot, window, lambda f: f.snapshot.phase == "e")
    learning = window.learning
    window.resizeDocks([learning.dock], [300], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: learning.dock.width() <= 320)
    # the point with the smallest responsibility: numbers like 1.717×10^-13
    resp = point_terms(
        frame.data.X,
        *(getattr(frame.snapshot, a) for a in ("weights", "means")),
        frame.snapshot.covariances,
        "full",
    ).responsibilities
    row = int(np.argmin(resp.min(axis=1)))
    learning.select_point(row)
    document = learning.explain.text.document()
    learning.explain.text.viewport().update()
    cells = 0
    block = document.begin()
    while block.isValid():
        if QTextCursor(block).currentTable() is not None and block.text():
            cells += 1
            assert block.layout().lineCount() == 1, f"{block.text()!r} is broken"
        block = block.next()
    assert cells >= 15
    learning.tabs.setCurrentIndex(1)
    table = learning.inspector.table
    qtbot.waitUntil(lambda: table.isVisible() and table.rowCount() == 3)
    metrics = table.fontMetrics()
    widths = [table.columnWidth(c) for c in range(table.columnCount())]
    assert sum(widths) <= table.viewport().width()  # nothing clipped at the edge
    for k in range(3):
        for c in range(1, 4):
            text = table.item(k, c).text()
            assert metrics.horizontalAdvance(text) < widths[c], text


SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_explain_and_inspect_name_a_point_alike_with_its_file_row(qtbot, learning_window):
    window = learning_window
    window.set_dataset(read_with_missing(SAMPLES / "house_prices_1d.csv", "drop"))
    frame = drawn(qtbot, window, lambda f: "house_prices_1d.csv" in str(f.data.source))
    learning = window.learning
    learning.select_point(100)
    name = f"Point 101, file row {int(frame.data.lines[100])}"
    assert int(frame.data.lines[100]) == 102  # the header is row 1
    assert learning.explain.point_label.text().startswith(name)
    assert "point n = 101, file row 102" in learning.explain.text.toPlainText()
    learning.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: learning.inspector.title.text().startswith(name + ":"))


def test_a_click_on_an_imputed_point_inspects_its_row(qtbot, learning_window):
    from em_engine import GaussianMixture

    window = learning_window
    window.set_dataset(read_with_missing(SAMPLES / "blobs_missing.csv", "em"))
    drawn(qtbot, window, lambda f: "blobs_missing.csv" in str(f.data.source))
    window.step()
    frame = drawn(qtbot, window, lambda f: f.snapshot.iteration == 1)
    X, snap = frame.data.X, frame.snapshot
    drawn_xy = np.where(np.isnan(X), snap.imputed, X)
    pixels = window.scatter.widget_pixels(drawn_xy)
    hollow = np.flatnonzero(np.isnan(X).any(axis=1))
    gaps = np.array([np.sort(np.hypot(*(pixels - pixels[r]).T))[1] for r in hollow])
    # a hollow marker apart from the others, the nearest to the middle (not under the legend)
    middle = np.hypot(*(pixels[hollow] - np.median(pixels, axis=0)).T)
    row = int(hollow[np.argmin(np.where(gaps > 8, middle, np.inf))])
    window.learning.tabs.setCurrentIndex(1)
    viewport = window.scatter.plot_widget.viewport()
    offset = viewport.pos()
    x, y = pixels[row]
    click = QPoint(round(x) - offset.x(), round(y) - offset.y())
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=click)
    inspector = window.learning.inspector
    qtbot.waitUntil(lambda: inspector.row == row)
    assert "missing" in inspector.title.text()
    # its responsibilities are the estimator's, from its observed cells
    model = GaussianMixture.from_parameters(
        snap.weights, snap.means, snap.covariances, "full", missing="em"
    )
    expected = model.predict_proba(X[[row]])[0]
    shown = [float(inspector.table.item(k, 3).text()) for k in range(len(expected))]
    assert shown == pytest.approx(expected, rel=1e-3, abs=1e-12)
