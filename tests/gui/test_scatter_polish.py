"""ScatterView polish (offscreen): density re-binned on zoom, legend toggles, 1-D jitter strip."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6 import QtCore, QtGui
from PySide6.QtTest import QTest
from two_blobs import COVS, MEANS, WEIGHTS, two_blobs

from em_gui import palette
from em_gui.scatter import (
    BOX_HALF_HEIGHTS,
    DENSITY_BINS,
    DENSITY_THRESHOLD,
    JITTER,
    SPRITE_LIMIT,
    ScatterView,
)

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
ORANGE = palette.component_colors(2)[1]
ORANGE_RGB = (ORANGE.red(), ORANGE.green(), ORANGE.blue())


def grab(view: ScatterView, name: str | None = None) -> QtGui.QImage:
    """The widget as an image (saved to test-output/ when named)."""
    image = view.grab().toImage()
    if name is not None:
        OUTPUT.mkdir(exist_ok=True)
        assert image.save(str(OUTPUT / name))
    return image


def colour_pixels(image: QtGui.QImage, rgb: tuple[int, int, int], tol: int = 40) -> int:
    """Number of pixels within ``tol`` of ``rgb`` in each channel."""
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    arr = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(
        image.height(), image.bytesPerLine()
    )
    bgr = arr[:, : image.width() * 4].reshape(image.height(), image.width(), 4)[:, :, :3]
    return int(np.count_nonzero(np.all(np.abs(bgr.astype(int) - rgb[::-1]) <= tol, axis=2)))


def image_rect(view: ScatterView) -> QtCore.QRectF:
    return view.density.rect


def click_legend(view: ScatterView, entry: int, sample: bool = False) -> None:
    """Left click on legend entry ``entry`` (0-based): its text, or with ``sample`` its sample."""
    rect = view.legend.entry_scene_rect(entry, sample=sample)
    pos = view.plot_widget.mapFromScene(rect.center())
    QTest.mouseClick(view.plot_widget.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)


@pytest.fixture(scope="module")
def big() -> tuple[np.ndarray, np.ndarray]:
    return two_blobs(DENSITY_THRESHOLD + 10_000)


# -- 1. density image re-binned for the visible range -----------------------------------------
def test_zoom_rebins_density_for_the_visible_range(scatter, qtbot, big):
    X, labels = big
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    full = image_rect(scatter)
    assert full.width() == pytest.approx(np.ptp(X[:, 0]))
    full_image = grab(scatter, "polish_density_full.png")
    binned = scatter.density.bin_count
    view_box = scatter.plot_item.getViewBox()
    for half in (3.0, 2.5, 2.0, 1.5, 1.0):  # a zoom in several steps: one re-bin at the end
        view_box.setRange(xRange=(-4 - half, -4 + half), yRange=(-half, half), padding=0)
    assert image_rect(scatter) == full  # debounced: nothing re-binned yet
    qtbot.waitUntil(lambda: scatter.density.bin_count > binned, timeout=2000)
    qtbot.wait(2 * 120)
    assert scatter.density.bin_count == binned + 1
    rect = image_rect(scatter)
    (x0, x1), (y0, y1) = view_box.viewRange()
    # the image covers the visible range with a margin, no more than the margin beyond it
    assert rect.left() <= x0 and rect.right() >= x1 and rect.top() <= y0 and rect.bottom() >= y1
    assert rect.width() <= 1.35 * (x1 - x0) and rect.height() <= 1.35 * (y1 - y0)
    # bins shrank: many more bins across the visible range than before the zoom
    assert rect.width() / DENSITY_BINS < full.width() / DENSITY_BINS / 5
    # the new bins are coloured with the state on screen: component 0 (blue) at x ~ -4
    rgba = scatter.density.image
    blue = np.array(palette.component_rgb(1)[0]) * 255
    occupied = rgba[..., 3] > 0
    assert occupied.sum() > 20_000  # thousands of small bins in view, not a few big blocks
    assert np.mean(np.all(np.abs(rgba[occupied][:, :3] - blue) < 3, axis=1)) > 0.9
    zoomed = grab(scatter, "polish_density_zoomed.png")
    assert zoomed != full_image
    # a small pan inside the margin keeps the bins
    view_box.setRange(xRange=(x0 + 0.05, x1 + 0.05), yRange=(y0, y1), padding=0)
    qtbot.wait(3 * 120)
    assert scatter.density.bin_count == binned + 1
    # reset view returns to the whole extent at once
    scatter.reset_view()
    assert image_rect(scatter) == full
    assert scatter.density.bin_count == binned + 2


def test_new_labels_after_zoom_use_the_new_bins(scatter, qtbot, big):
    X, labels = big
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    view_box = scatter.plot_item.getViewBox()
    view_box.setRange(xRange=(2.0, 6.0), yRange=(-1.0, 3.0), padding=0)
    qtbot.waitUntil(lambda: image_rect(scatter).width() < 6.0, timeout=2000)
    scatter.show_state(1 - labels, None, MEANS, COVS, WEIGHTS)  # x ~ 4 now blue
    rgba = scatter.density.image
    blue = np.array(palette.component_rgb(1)[0]) * 255
    occupied = rgba[..., 3] > 0
    assert np.mean(np.all(np.abs(rgba[occupied][:, :3] - blue) < 3, axis=1)) > 0.9


# -- 2. legend click toggles a component ------------------------------------------------------
@pytest.mark.parametrize("n", [500, SPRITE_LIMIT + 5000], ids=["sprites", "numpy-dots"])
def test_legend_click_hides_and_shows_a_component(scatter, qtbot, n):
    X, labels = two_blobs(n)
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    before = colour_pixels(grab(scatter), ORANGE_RGB)
    assert before > 500
    click_legend(scatter, 1)
    qtbot.waitUntil(lambda: scatter.is_hidden(1), timeout=1000)
    hidden = grab(scatter, f"polish_legend_hidden_{n}.png")
    # no orange points, rings or marker left (the legend sample became an eye icon)
    assert colour_pixels(hidden, ORANGE_RGB) < 20
    assert not scatter.marker_items()[1].isVisible() and scatter.marker_items()[0].isVisible()
    legend = scatter.legend
    assert legend.entry_text_color(1) == (170, 170, 170) and not legend.entry_sample_shown(1)
    # hidden state survives a new snapshot with the same K
    scatter.show_state(labels, np.full(n, 0.9), MEANS + 0.1, COVS, WEIGHTS)
    assert scatter.is_hidden(1)
    assert colour_pixels(grab(scatter), ORANGE_RGB) < 20
    click_legend(scatter, 1, sample=True)  # the sample (an eye icon now) shows it again
    qtbot.waitUntil(lambda: not scatter.is_hidden(1), timeout=1000)
    assert colour_pixels(grab(scatter), ORANGE_RGB) > before / 2
    assert legend.entry_text_color(1) == (30, 30, 30)
    assert legend.entry_sample_shown(1)  # the sample drawn as a dot again


def test_hidden_components_reset_when_k_changes(scatter, qtbot):
    X, labels = two_blobs(400)
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    scatter.toggle_component(0)
    assert scatter.is_hidden(0) and len(scatter.ring_polylines()) == 2
    means3 = np.vstack([MEANS, [[0.0, 3.0]]])
    covs3 = np.concatenate([COVS, COVS[:1]])
    scatter.show_state(labels, None, means3, covs3, np.full(3, 1 / 3))
    assert not any(scatter.is_hidden(i) for i in range(3))
    assert all(m.isVisible() for m in scatter.marker_items())


def test_legend_click_in_add_point_mode_adds_no_point(scatter, qtbot):
    X, labels = two_blobs(300)
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    scatter.set_add_point_mode(True)
    with qtbot.assertNotEmitted(scatter.point_clicked):
        click_legend(scatter, 0)
        qtbot.waitUntil(lambda: scatter.is_hidden(0), timeout=1000)


def test_hidden_component_leaves_the_density_image(scatter, big):
    X, labels = big
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    alpha = scatter.density.image[..., 3].copy()
    scatter.toggle_component(0)  # the blue blob on the left
    hidden = scatter.density.image[..., 3]
    left = np.zeros_like(alpha, dtype=bool)
    left[:, : DENSITY_BINS // 3] = True  # x < -1.5 or so: only component 0
    assert (alpha[left] > 0).sum() > 1000 and (hidden[left] > 0).sum() < 0.02 * (
        alpha[left] > 0
    ).sum()
    right = ~left
    right[:, : 2 * DENSITY_BINS // 3] = False
    np.testing.assert_array_equal(hidden[right] > 0, alpha[right] > 0)
    grab(scatter, "polish_density_hidden.png")


# -- 3. 1-D data as a jittered strip ----------------------------------------------------------
def one_d(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.6).astype(np.intp)
    x = np.where(labels == 1, rng.normal(3.0, 0.7, n), rng.normal(-2.0, 1.2, n))
    return np.column_stack([x, np.zeros(n)]), labels


def test_one_d_points_get_a_deterministic_jitter(scatter):
    xy, _ = one_d(3000)
    scatter.set_points(xy, "x", "")
    assert scatter.is_one_d
    y = scatter.points.y.copy()
    assert np.abs(y).max() <= JITTER and y.std() > JITTER / 2.5
    np.testing.assert_array_equal(scatter.points.x, xy[:, 0])
    scatter.set_points(xy, "x", "")
    np.testing.assert_array_equal(scatter.points.y, y)  # same jitter every time
    assert not scatter.plot_item.getAxis("left").style["showValues"]
    (_, _), (y0, y1) = scatter.plot_item.getViewBox().viewRange()
    assert y0 < -BOX_HALF_HEIGHTS[-1] and y1 > BOX_HALF_HEIGHTS[-1] and y1 - y0 < 2.0
    X, _ = two_blobs(300)
    scatter.set_points(X, "x", "y")  # 2-D again: no jitter, numbers on the y axis
    assert not scatter.is_one_d
    np.testing.assert_array_equal(scatter.points.y, X[:, 1])
    assert scatter.plot_item.getAxis("left").style["showValues"]


def test_one_d_rings_are_interval_boxes_and_points_spread(scatter):
    xy, labels = one_d(3000)
    scatter.set_points(xy, "x", "")
    means = np.array([[-2.0, 0.0], [3.0, 0.0]])
    covs = np.zeros((2, 2, 2))
    covs[:, 0, 0] = [1.2**2, 0.7**2]
    scatter.show_state(labels, None, means, covs, np.array([0.4, 0.6]))
    rings = scatter.ring_polylines()
    assert rings.shape[:2] == (2, 3)
    for k in range(2):
        sd = np.sqrt(covs[k, 0, 0])
        for j, s in enumerate((1, 2, 3)):
            xs, ys = rings[k, j, :, 0], rings[k, j, :, 1]
            assert xs.min() == pytest.approx(means[k, 0] - s * sd)
            assert xs.max() == pytest.approx(means[k, 0] + s * sd)
            assert ys.max() == pytest.approx(BOX_HALF_HEIGHTS[j])
            assert ys.min() == pytest.approx(-BOX_HALF_HEIGHTS[j])
    image = grab(scatter, "polish_one_d.png")
    # orange points fill a band many pixels high, not a one-dot strip
    arr = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    rows = np.frombuffer(arr.constBits(), dtype=np.uint8).reshape(arr.height(), -1, 4)
    rows = rows[:, : arr.width(), :3].astype(int)
    orange_rows = np.all(np.abs(rows - ORANGE_RGB[::-1]) <= 40, axis=2).any(axis=1)
    assert orange_rows.sum() > 100


def test_one_d_large_data_density_strip(scatter):
    xy, labels = one_d(DENSITY_THRESHOLD + 5000)
    scatter.set_points(xy, "x", "")
    assert scatter.is_one_d and scatter.uses_density_image
    scatter.show_state(labels, None, np.zeros((2, 2)), np.ones((2, 2, 2)), WEIGHTS)
    rgba = scatter.density.image
    # the jitter spreads the points over the rows of the image
    assert np.count_nonzero((rgba[..., 3] > 0).any(axis=1)) > DENSITY_BINS * 0.9


# -- rough edges: labels, rings while dragging, legend clicks ---------------------------------
def test_mean_labels_never_overlap_and_stay_in_the_plot(scatter):
    X, labels = two_blobs(400)
    scatter.set_points(X, "x", "y")
    rng = np.random.default_rng(3)
    for spread in (0.05, 0.3, 1.0):  # means a few pixels apart, then further
        means = np.array([0.0, 0.5]) + spread * rng.standard_normal((5, 2))
        covs = np.repeat(np.eye(2)[None] * 0.3, 5, axis=0)
        scatter.show_state(labels % 5, None, means, covs, np.full(5, 0.2))
        rects = scatter.label_rects()
        assert len(rects) == 5
        for i in range(5):
            for j in range(i + 1, 5):
                assert not rects[i].intersects(rects[j]), (spread, i, j)
        plot = scatter.plot_item.getViewBox().sceneBoundingRect()
        plot = plot.translated(QtCore.QPointF(scatter.plot_widget.viewport().pos()))
        assert all(plot.adjusted(-1, -1, 1, 1).contains(r) for r in rects), spread


def test_rings_follow_a_mean_while_it_is_dragged(scatter):
    X, labels = two_blobs(300)
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    before = scatter.ring_polylines().copy()
    marker = scatter.marker_items()[0]
    marker.moving = True  # what pyqtgraph sets while the mouse holds the marker
    marker.setPos(-1.0, 3.0)
    rings = scatter.ring_polylines()
    np.testing.assert_allclose(rings[0], before[0] + (np.array([-1.0, 3.0]) - MEANS[0]))
    np.testing.assert_array_equal(rings[1], before[1])  # the others stay
    scatter.show_state(labels, None, MEANS + 0.5, COVS, WEIGHTS)  # a frame arrives meanwhile
    np.testing.assert_allclose(
        scatter.ring_polylines()[0].mean(axis=(0, 1)), [-1.0, 3.0], atol=0.05
    )
    marker.moving = False
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    np.testing.assert_array_equal(scatter.ring_polylines(), before)


def test_legend_and_add_point_clicks_never_mix(scatter, qtbot):
    X, labels = two_blobs(300)
    scatter.set_points(X, "x", "y")
    scatter.show_state(labels, None, MEANS, COVS, WEIGHTS)
    scatter.set_add_point_mode(True)
    legend = scatter.legend_rect()
    viewport = scatter.plot_widget.viewport()
    offset = QtCore.QPointF(viewport.pos())

    def click(point: QtCore.QPointF) -> None:
        QTest.mouseClick(viewport, QtCore.Qt.MouseButton.LeftButton, pos=(point - offset).toPoint())

    inside = [  # the legend's corners and padding: neither a point nor a toggle
        legend.topLeft() + QtCore.QPointF(3, 3),
        legend.bottomRight() - QtCore.QPointF(3, 3),
        QtCore.QPointF(legend.right() - 4, legend.center().y()),
    ]
    with qtbot.assertNotEmitted(scatter.point_clicked):
        for point in inside:
            click(point)
    assert not scatter.is_hidden(0) and not scatter.is_hidden(1)
    below = QtCore.QPointF(legend.center().x(), legend.bottom() + 8)
    beside = QtCore.QPointF(legend.left() - 8, legend.center().y())
    outside = (
        below
        if scatter.plot_item.getViewBox().sceneBoundingRect().contains(below - offset)
        else beside
    )
    with qtbot.waitSignal(scatter.point_clicked, timeout=1000):
        click(outside)  # just outside the legend: a point, and nothing hidden
    assert not scatter.is_hidden(0) and not scatter.is_hidden(1)


def test_legend_takes_the_emptiest_corner(scatter):
    rng = np.random.default_rng(1)
    # points fill the left half and the bottom right; the top right corner is empty
    left = rng.uniform((-10, -10), (0, 10), (600, 2))
    bottom_right = rng.uniform((0, -10), (10, 0), (300, 2))
    X = np.vstack([left, bottom_right])
    scatter.set_points(X, "x", "y")
    scatter.show_state(np.zeros(len(X), dtype=int), None, MEANS, COVS, WEIGHTS)
    legend = scatter.legend_rect()
    plot = scatter.plot_item.getViewBox().sceneBoundingRect()
    plot = plot.translated(QtCore.QPointF(scatter.plot_widget.viewport().pos()))
    assert legend.center().x() > plot.center().x() and legend.center().y() < plot.center().y()
