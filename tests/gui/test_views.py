"""GUI views (offscreen): ScatterView, ConvergenceView, ParameterPanel, palette."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtTest import QTest
from two_blobs import COVS, MEANS, WEIGHTS, two_blobs

from em_gui import palette
from em_gui.convergence import SYMBOL_LIMIT, ConvergenceView
from em_gui.params_panel import ParameterPanel, format_matrix
from em_gui.scatter import DENSITY_THRESHOLD, SPRITE_LIMIT, ellipse_polylines
from em_gui.scatter import density as density_module

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def screenshot(widget, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / name
    assert widget.grab().save(str(path))
    return path


def colour_pixels(image: QtGui.QImage, rgb: tuple[int, int, int], tol: int = 40) -> int:
    """Number of pixels within ``tol`` of ``rgb`` in each channel."""
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    ptr = image.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    arr = arr[:, : image.width() * 4].reshape(image.height(), image.width(), 4)
    bgr = arr[:, :, :3].astype(int)
    target = np.array(rgb[::-1])
    return int(np.count_nonzero(np.all(np.abs(bgr - target) <= tol, axis=2)))


# -- palette --------------------------------------------------------------------------------
def test_palette_cycles_and_brushes_are_cached():
    colors = palette.component_colors(12)
    assert len(colors) == 12
    assert colors[0] == colors[10] and colors[0] != colors[1]
    assert palette.component_brush(1, 2) is palette.component_brush(1, 2)


def test_confidence_levels_span_the_range_for_k():
    levels = palette.confidence_levels(np.array([0.5, 0.6, 0.8, 0.999, 1.0]), 2)
    assert levels.tolist() == [0, 0, 2, 3, 3]
    assert palette.confidence_levels(np.array([1 / 3]), 3).tolist() == [0]


# -- geometry -------------------------------------------------------------------------------
def test_ellipse_rings_lie_at_mahalanobis_distance_1_2_3():
    rings = ellipse_polylines(MEANS, COVS)
    assert rings.shape[:2] == (2, 3) and rings.shape[3] == 2
    for k in range(2):
        prec = np.linalg.inv(COVS[k])
        for j, sigma in enumerate((1.0, 2.0, 3.0)):
            d = rings[k, j] - MEANS[k]
            dist = np.sqrt(np.einsum("pi,ij,pj->p", d, prec, d))
            np.testing.assert_allclose(dist, sigma, rtol=1e-10)
        # the ring goes all the way round: the 1-sigma ring's extent along x is sqrt(cov_xx)
        np.testing.assert_allclose(
            rings[k, 0, :, 0].max() - MEANS[k, 0], np.sqrt(COVS[k, 0, 0]), rtol=1e-3
        )


def test_ellipse_of_singular_covariance_is_a_segment_not_nan():
    rings = ellipse_polylines(np.zeros((1, 2)), np.array([[[1.0, 1.0], [1.0, 1.0]]]))
    assert np.isfinite(rings).all()
    np.testing.assert_allclose(rings[0, 0, :, 0], rings[0, 0, :, 1], atol=1e-7)


# -- scatter view ---------------------------------------------------------------------------
def test_show_state_neutral_then_coloured(scatter, qtbot):
    X, labels = two_blobs(600)
    scatter.set_points(X, "price", "area")
    assert scatter.plot_item.getAxis("bottom").labelText == "price"
    scatter.show_state(None, None, MEANS, COVS, WEIGHTS)
    codes = scatter.points.codes
    assert np.all(codes == codes[0])  # every point neutral grey
    image = scatter.grab().toImage()
    assert colour_pixels(image, (150, 150, 150), tol=45) > 200

    confidence = np.where(labels == 0, 1.0, 0.55)
    scatter.show_state(labels, confidence, MEANS, COVS, WEIGHTS)
    codes = scatter.points.codes
    top, n_levels = palette.N_LEVELS - 1, palette.N_LEVELS
    assert np.all(codes[labels == 0] == 0 * n_levels + top)
    assert np.all(codes[labels == 1] == 1 * n_levels + 0)  # low confidence -> lightest level
    image = scatter.grab().toImage()
    blue = palette.component_colors(1)[0]
    assert colour_pixels(image, (blue.red(), blue.green(), blue.blue())) > 200
    screenshot(scatter, "scatter_view.png")


def test_ellipses_and_markers_follow_state(scatter):
    X, _ = two_blobs(300)
    scatter.set_points(X, "x", "y")
    scatter.show_state(None, None, MEANS, COVS, WEIGHTS)  # grey points: colour = rings + markers
    np.testing.assert_array_equal(scatter.ring_polylines(), ellipse_polylines(MEANS, COVS))
    markers = scatter.marker_items()
    assert [tuple(m.pos()) for m in markers] == [tuple(m) for m in MEANS]
    assert markers[1].label().toPlainText() == "k=2  w=0.70"
    orange = palette.component_colors(2)[1]
    orange_rgb = (orange.red(), orange.green(), orange.blue())
    assert colour_pixels(scatter.grab().toImage(), orange_rgb, tol=20) > 150
    # fewer components later: component 2's ring and marker disappear, marker items are reused
    first = markers[0]
    scatter.show_state(None, None, MEANS[:1], COVS[:1], np.ones(1))
    assert scatter.marker_items() == [first] and not markers[1].isVisible()
    assert scatter.ring_polylines().shape[0] == 1
    assert colour_pixels(scatter.grab().toImage(), orange_rgb, tol=20) < 10
    # new data clears the rings until the next state
    scatter.set_points(X[:10], "x", "y")
    assert scatter.ring_polylines().shape[0] == 0 and scatter.marker_items() == []


def test_mid_size_data_uses_numpy_dots(scatter):
    X, labels = two_blobs(SPRITE_LIMIT + 5000)
    scatter.set_points(X, "x", "y")
    assert not scatter.uses_density_image
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    image = scatter.grab().toImage()
    orange = palette.component_colors(2)[1]
    assert colour_pixels(image, (orange.red(), orange.green(), orange.blue()), tol=30) > 500


def test_large_data_uses_density_image(scatter):
    X, labels = two_blobs(DENSITY_THRESHOLD + 10_000)
    scatter.set_points(X, "x", "y")
    assert scatter.uses_density_image
    assert scatter.density.item.isVisible() and not scatter.points.isVisible()
    scatter.show_state(labels, np.ones(len(X)), MEANS, COVS, WEIGHTS)
    rgba = scatter.density.image
    assert rgba.shape == (400, 400, 4) and rgba.dtype == np.uint8
    # the image covers the data: its rect is the data bounds
    rect = scatter.density.rect
    assert rect.left() == pytest.approx(X[:, 0].min()) and rect.right() == pytest.approx(
        X[:, 0].max()
    )
    # bins of component 0 only are coloured with component 0's colour
    blue = np.array(palette.component_rgb(1)[0]) * 255
    occupied = rgba[..., 3] > 0
    left = occupied.copy()
    left[:, 200:] = False  # component 0 lies on the left (x around -4)
    close = np.all(np.abs(rgba[left][:, :3].astype(float) - blue) < 3, axis=1)
    assert close.mean() > 0.9
    screenshot(scatter, "scatter_density.png")


def test_export_png_and_svg(scatter, tmp_path):
    X, labels = two_blobs(500)
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    png = tmp_path / "figure.png"
    scatter.export_image(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QtGui.QImage(str(png))
    width, height = scatter.export_size(1)
    assert abs(image.width() - width) <= 1 and abs(image.height() - height) <= 1
    scatter.export_image(png, scale=2)  # for slides: twice the pixels, the same picture
    double = QtGui.QImage(str(png))
    assert abs(double.width() - 2 * width) <= 2 and abs(double.height() - 2 * height) <= 2
    mode = QtCore.Qt.TransformationMode.SmoothTransformation
    big = double.scaled(image.width(), image.height(), mode=mode)
    # the same picture at twice the pixels: points, rings, text and legend all scaled alike (the
    # old exporter scaled text and markers only: 7 where this is 2.5)
    assert mean_abs_difference(image, big) < 4.5
    svg = tmp_path / "figure.svg"
    scatter.export_image(str(svg))
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    tags = {el.tag.split("}")[-1] for el in root.iter()}
    assert "image" in tags  # the points, as one embedded raster
    assert "path" in tags or "polyline" in tags  # ellipses and axes stay vectors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.png", "figure.svg"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert png.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0o600


def mean_abs_difference(a: QtGui.QImage, b: QtGui.QImage) -> float:
    """Mean |difference| of two same-sized images' RGB values (0-255)."""
    arrays = []
    for image in (a, b):
        image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
        raw = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1, 4)
        arrays.append(raw[:, : image.width(), :3].astype(float))
    return float(np.abs(arrays[0] - arrays[1]).mean())


def test_svg_strokes_carry_no_scaling_transform(scatter, tmp_path):
    """Renderers that ignore vector-effect="non-scaling-stroke" (librsvg, ImageMagick) scale a
    stroke by its path's transform: with data units of 1e-6 by 1e6 the rings became bands."""
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.normal(0, 1e-6, 400), rng.normal(0, 1e6, 400)])
    means = np.array([[-1e-6, 0.0], [1e-6, 5e5]])
    covs = np.array([np.diag([1e-13, 1e11]), np.diag([2e-13, 5e10])])
    scatter.set_points(X, "tiny", "huge")
    scatter.show_state(np.arange(400) % 2, None, means, covs, WEIGHTS)
    svg = tmp_path / "figure.svg"
    scatter.export_image(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    stroked = 0
    for group in ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}g"):
        paths = [p for p in group.findall("svg:path", ns) if group.get("stroke", "none") != "none"]
        if not paths:
            continue
        stroked += len(paths)
        a, b, c, d, _, _ = map(
            float, group.get("transform", "matrix(1,0,0,1,0,0)")[7:-1].split(",")
        )
        assert abs(b) < 1e-9 and abs(c) < 1e-9, group.get("transform")
        assert abs(abs(a) - 1) < 1e-6 and abs(abs(d) - 1) < 1e-6, group.get("transform")
    assert stroked >= 2  # the axes (the rings are outlines cut to the plot, filled: see below)


def test_export_rejects_bad_suffix_and_missing_folder(scatter, tmp_path):
    with pytest.raises(ValueError, match=r"\.png and \.svg"):
        scatter.export_image(tmp_path / "figure.jpg")
    with pytest.raises(OSError):
        scatter.export_image(tmp_path / "missing" / "figure.png")
    assert list(tmp_path.iterdir()) == []


def test_mean_drag_emits_on_release(scatter, qtbot):
    X, labels = two_blobs(200)
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    marker = scatter.marker_items()[1]
    marker.setPos(1.5, -2.0)  # what a drag does while the button is held
    with qtbot.waitSignal(scatter.mean_dragged, timeout=1000) as blocker:
        marker.sigPositionChangeFinished.emit(marker)  # the release
    assert blocker.args == [1, 1.5, -2.0]


def test_mean_drag_with_the_mouse(scatter, qtbot, monkeypatch):
    monkeypatch.setitem(pg.CONFIG_OPTIONS, "mouseRateLimit", 0)  # deliver every synthetic move
    X, labels = two_blobs(300)
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    view_box = scatter.plot_item.getViewBox()
    viewport = scatter.plot_widget.viewport()
    before = view_box.viewRange()

    def widget_pos(x: float, y: float) -> QtCore.QPoint:
        return scatter.plot_widget.mapFromScene(view_box.mapViewToScene(QtCore.QPointF(x, y)))

    start, end = QtCore.QPointF(widget_pos(*MEANS[0])), QtCore.QPointF(widget_pos(-2.0, 2.0))
    QTest.mousePress(viewport, QtCore.Qt.MouseButton.LeftButton, pos=start.toPoint())
    with qtbot.assertNotEmitted(scatter.mean_dragged):  # nothing while the button is held
        for f in np.linspace(0.1, 1.0, 8):
            pos = start + (end - start) * float(f)
            move = QtGui.QMouseEvent(
                QtCore.QEvent.Type.MouseMove,
                pos,
                viewport.mapToGlobal(pos),
                QtCore.Qt.MouseButton.NoButton,
                QtCore.Qt.MouseButton.LeftButton,
                QtCore.Qt.KeyboardModifier.NoModifier,
            )
            QtWidgets.QApplication.sendEvent(viewport, move)
    with qtbot.waitSignal(scatter.mean_dragged, timeout=1000) as blocker:
        QTest.mouseRelease(viewport, QtCore.Qt.MouseButton.LeftButton, pos=end.toPoint())
    k, x, y = blocker.args
    px, py = view_box.viewPixelSize()
    assert k == 0 and abs(x + 2.0) <= 2 * px and abs(y - 2.0) <= 2 * py
    assert view_box.viewRange() == before  # the drag moved the marker, not the view


def test_marker_being_dragged_is_not_moved_by_new_state(scatter):
    X, labels = two_blobs(200)
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    marker = scatter.marker_items()[0]
    marker.moving = True
    marker.setPos(0.5, 0.5)
    scatter.show_state(labels, None, MEANS + 1, COVS, WEIGHTS)
    assert tuple(marker.pos()) == (0.5, 0.5)


def test_add_point_mode_click(scatter, qtbot):
    X, _ = two_blobs(200)
    scatter.set_points(X, "x", "y")
    viewport = scatter.plot_widget.viewport()
    view_box = scatter.plot_item.getViewBox()
    target = QtCore.QPointF(1.0, 0.5)
    scene_pos = view_box.mapViewToScene(target)
    widget_pos = scatter.plot_widget.mapFromScene(scene_pos)
    with qtbot.assertNotEmitted(scatter.point_clicked):
        QTest.mouseClick(viewport, QtCore.Qt.MouseButton.LeftButton, pos=widget_pos)
    scatter.set_add_point_mode(True)
    with qtbot.waitSignal(scatter.point_clicked, timeout=1000) as blocker:
        QTest.mouseClick(viewport, QtCore.Qt.MouseButton.LeftButton, pos=widget_pos)
    x, y = blocker.args
    px, py = view_box.viewPixelSize()
    assert abs(x - 1.0) <= 2 * px and abs(y - 0.5) <= 2 * py


def test_equal_aspect_and_reset_view(scatter):
    X, _ = two_blobs(300)
    scatter.set_points(X, "x", "y")
    view_box = scatter.plot_item.getViewBox()
    scatter.set_equal_aspect(True)
    assert view_box.state["aspectLocked"] == 1.0
    scatter.set_equal_aspect(False)
    assert view_box.state["aspectLocked"] is False
    view_box.setRange(xRange=(100, 101), yRange=(100, 101), padding=0)
    scatter.reset_view()
    (x0, x1), (y0, y1) = view_box.viewRange()
    assert x0 <= X[:, 0].min() and x1 >= X[:, 0].max()
    assert y0 <= X[:, 1].min() and y1 >= X[:, 1].max()


def test_set_points_rejects_wrong_shape(scatter):
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        scatter.set_points(np.zeros((5, 3)), "x", "y")


def test_show_state_rejects_labels_of_other_data(scatter):
    scatter.set_points(np.zeros((5, 2)), "x", "y")
    with pytest.raises(ValueError, match="4 labels for 5 points"):
        scatter.show_state(np.zeros(4, dtype=int), None, MEANS, COVS, WEIGHTS)


# -- convergence view -----------------------------------------------------------------------
def test_convergence_receives_every_value_and_marks_iteration(qtbot):
    view = ConvergenceView()
    qtbot.addWidget(view)
    view.resize(500, 320)
    view.show()
    values = -100 + 50 * (1 - np.exp(-np.arange(25) / 4.0))
    view.set_history(np.arange(25), values, "log-likelihood")
    x, y = view.curve.getData()
    np.testing.assert_array_equal(x, np.arange(25))
    np.testing.assert_array_equal(y, values)
    assert view.curve.opts["symbol"] == "o"
    assert view.title() == "log-likelihood"
    view.mark_iteration(7)
    assert view.marker.isVisible() and view.marker.value() == 7
    view.mark_iteration(None)
    assert not view.marker.isVisible()
    long = np.linspace(-10, -1, SYMBOL_LIMIT + 1)
    view.set_history(np.arange(long.size), long, "log posterior")
    assert view.curve.opts["symbol"] is None
    assert view.title() == "log posterior"
    with pytest.raises(ValueError, match="3 iterations but 2 values"):
        view.set_history(np.arange(3), np.zeros(2), "log-likelihood")


def test_convergence_change_toggle_log_scale(qtbot):
    view = ConvergenceView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    values = np.array([-10.0, -6.0, -5.0, -5.0, -4.99])
    view.set_history(np.arange(5), values, "log-likelihood")
    assert not view.change_plot.isVisible()
    view.show_change_box.click()  # the user's toggle
    assert view.show_change and view.change_plot.isVisible()
    assert view.change_plot.getAxis("left").logMode
    x, y = view.change_curve.getData()  # log-mode data: log10 of |change|
    np.testing.assert_array_equal(x, [1, 2, 3, 4])
    np.testing.assert_allclose(y[[0, 1, 3]], np.log10([4.0, 1.0, 0.01]))
    assert np.isnan(y[2])  # a zero change has no place on a log axis
    view.set_history(np.arange(6), np.r_[values, -4.89], "log-likelihood")
    assert view.change_curve.getData()[0].size == 5
    view.mark_iteration(3)
    assert view.change_marker.value() == 3
    screenshot(view, "convergence_view.png")
    view.set_show_change(False)
    assert not view.change_plot.isVisible() and not view.show_change_box.isChecked()


# -- parameter panel ------------------------------------------------------------------------
def test_format_matrix_aligns_columns():
    text = format_matrix(np.array([[1.0, -0.5], [-0.5, 12345.678]]), ["a", "b"])
    lines = text.splitlines()
    assert len(lines) == 3 and len({len(line) for line in lines}) == 1
    assert "1.235e4" in text and "-0.5" in text


def test_parameter_panel_shows_values_and_precision(qtbot):
    panel = ParameterPanel()
    qtbot.addWidget(panel)
    panel.resize(360, 500)
    panel.show()
    panel.show_parameters(WEIGHTS, MEANS, COVS, ["price", "area"])
    text = panel.plain_text()
    assert "Component 1" in text and "Component 2" in text
    assert "weight 0.3000" in text and "weight 0.7000" in text
    assert "price" in text and "area" in text
    assert "-4" in text and "0.6" in text and "precision" not in text
    panel.precision_box.click()
    text = panel.plain_text()
    assert text.count("precision") == 2
    inverse = np.linalg.inv(COVS[0])
    assert f"{inverse[0, 1]:.4g}" in text
    screenshot(panel, "parameter_panel.png")
    with pytest.raises(ValueError, match="do not agree"):
        panel.show_parameters(WEIGHTS, MEANS, COVS, ["only one"])


# -- the pinned PySide6 range -------------------------------------------------------------------
def test_many_emits_and_void_calls_do_not_exhaust_none_and_true(qtbot):
    """PySide6 6.12.0 on Python 3.11 aborts the interpreter here (why pyproject pins < 6.12)."""

    class Emitter(QtCore.QObject):
        ping = QtCore.Signal(int)

    emitter, got = Emitter(), []
    emitter.ping.connect(got.append)
    widget = QtWidgets.QWidget()
    qtbot.addWidget(widget)
    for i in range(20_000):  # True has a few thousand references on Python 3.11
        emitter.ping.emit(i)
    for _ in range(40_000):  # None has ~15-20 thousand
        widget.update()  # a void method
    assert len(got) == 20_000


def test_unchanged_read_only_labels_are_not_recoloured(scatter):
    X, labels = two_blobs(DENSITY_THRESHOLD + 10_000)
    scatter.set_points(X, "x", "y")
    frozen = labels.copy()
    frozen.flags.writeable = False  # as the engine's snapshot labels
    scatter.prepare_state(frozen, None, 2)
    colours = scatter.prepared.colors
    # the window's next event: the state itself (M snapshot: a new view of the same labels)
    scatter.show_state(frozen.view(), None, MEANS + 0.1, COVS, WEIGHTS)
    assert scatter.prepared.colors is colours
    image = scatter.density.image.copy()
    assert (image[..., 3] > 0).any()
    # writable labels changed in place are recoloured
    writable = labels.copy()
    scatter.show_state(writable, None, MEANS, COVS, WEIGHTS)
    np.testing.assert_array_equal(scatter.density.image, image)
    writable[:] = 1 - writable
    scatter.show_state(writable, None, MEANS, COVS, WEIGHTS)
    swapped = scatter.density.image
    assert not np.array_equal(swapped[..., :3], image[..., :3])
    np.testing.assert_array_equal(swapped[..., 3], image[..., 3])  # same counts per bin
    # new data starts neutral again, whatever was prepared before
    scatter.set_points(X[::-1], "x", "y")
    scatter.show_state(frozen, None, MEANS, COVS, WEIGHTS)
    assert scatter.prepared.labels is frozen and scatter.prepared.colors is not colours


def test_density_colours_in_steps_are_those_made_at_once(scatter, monkeypatch):
    X, labels = two_blobs(DENSITY_THRESHOLD + 10_000)
    scatter.set_points(X, "x", "y")
    confidence = np.linspace(0.5, 1.0, len(X))
    flipped = 1 - labels
    scatter.prepare_state(flipped, confidence, 2)
    flipped_colours = scatter.prepared.colors
    scatter.prepare_state(labels, confidence, 2)
    at_once = scatter.prepared.colors
    monkeypatch.setattr(density_module, "DENSITY_STEP_ROWS", 50_000)
    scatter.set_points(X, "x", "y")  # nothing prepared any more
    assert not scatter.prepare_state(labels, confidence, 2, in_steps=True)
    # a newer state half-way: its steps start again from its first row, 5 for 210,000 points
    calls = 1
    while not scatter.prepare_state(flipped, confidence, 2, in_steps=True):
        calls += 1
    assert calls == -(-len(X) // 50_000) == 5
    labels, at_once = flipped, flipped_colours
    np.testing.assert_array_equal(scatter.prepared.colors, at_once)
    assert scatter.prepared.labels is labels


def test_numpy_dots_follow_new_labels_while_the_view_stays(scatter):
    X, labels = two_blobs(SPRITE_LIMIT + 5000)
    scatter.set_points(X, "x", "y")
    orange = palette.component_colors(2)[1]
    rgb = (orange.red(), orange.green(), orange.blue())
    scatter.show_state(np.zeros_like(labels), None, MEANS, COVS, WEIGHTS)
    rings_only = colour_pixels(scatter.grab().toImage(), rgb, tol=30)  # component 1's ellipse
    scatter.show_state(np.ones_like(labels), None, MEANS, COVS, WEIGHTS)  # same transform
    assert colour_pixels(scatter.grab().toImage(), rgb, tol=30) > rings_only + 5000


def test_svg_rings_are_cut_to_the_plot(scatter, tmp_path):
    """QSvgGenerator writes no clipping: rings wider than the view ran over the axes."""
    from PySide6 import QtSvg

    X, labels = two_blobs(300)
    scatter.set_points(X, "x", "y")
    wide = COVS * 40.0  # 3-sigma rings far beyond the data's view
    scatter.show_state(labels, None, MEANS, wide, WEIGHTS)
    svg = tmp_path / "figure.svg"
    scatter.export_image(svg)
    renderer = QtSvg.QSvgRenderer(str(svg))
    size = renderer.defaultSize()
    image = QtGui.QImage(size, QtGui.QImage.Format.Format_RGB32)
    image.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(image)
    renderer.render(painter)
    painter.end()
    rgb = np.frombuffer(image.constBits(), np.uint8).reshape(size.height(), -1, 4)
    rgb = rgb[:, : size.width(), 2::-1].astype(int)
    plot = scatter.plot_item.getViewBox().sceneBoundingRect()
    origin = scatter.plot_item.sceneBoundingRect().topLeft()
    left, top = int(plot.left() - origin.x()), int(plot.top() - origin.y())
    right, bottom = int(plot.right() - origin.x()), int(plot.bottom() - origin.y())
    outside = np.ones(rgb.shape[:2], dtype=bool)  # beyond the plot and its anti-aliased edge
    outside[max(top - 2, 0) : bottom + 3, max(left - 2, 0) : right + 3] = False
    for colour in palette.component_rgb(2) * 255:
        near = np.abs(rgb - colour).sum(axis=2) < 60
        assert near[~outside].sum() > 100  # the rings are drawn inside ...
        assert near[outside].sum() == 0  # ... and nowhere outside the plot
