"""ConvergenceView (offscreen): informative y range, off-scale start, tick labels, scale, layout."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from em_gui.convergence import ConvergenceView, informative_range

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
# A random_from_data start (iteration 0 scores about -2e10), then an ordinary EM curve.
OUTLIER_START = np.array(
    [-2.0859e10, -6943.11, -6895.23, -6815.24, -6700.5, -6612.0, -6590.3, -6589.9, -6589.85]
)


@pytest.fixture
def view(qtbot):
    widget = ConvergenceView()
    qtbot.addWidget(widget)
    widget.resize(560, 400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def y_range(plot) -> tuple[float, float]:
    return tuple(plot.getViewBox().viewRange()[1])


def user_zoom_out(plot) -> None:
    """What a wheel turn or drag does to a ViewBox: scale, then report a manual range change."""
    box = plot.getViewBox()
    box.scaleBy((4.0, 4.0))
    box.sigRangeChangedManually.emit([True, True])


def test_informative_range_leaves_out_a_dominating_start_and_extreme_leading_values():
    lo, hi, n_off = informative_range(OUTLIER_START)
    assert (lo, hi, n_off) == (-6943.11, -6589.85, 1)
    # a k-means start further below than the rest of the curve spans: it would take most of the
    # height, so it is left out; the second value only with an extreme distance
    kmeans = np.array([-5727.47, -5596.09, -5590.47, -5589.54, -5589.37])
    assert informative_range(kmeans) == (-5596.09, -5589.37, 1)
    assert informative_range(np.r_[-1e4, kmeans[1:]]) == (-5596.09, -5589.37, 1)
    # a start within the rest's span is part of the curve
    assert informative_range(np.r_[-5600.0, kmeans[1:]]) == (-5600.0, -5589.37, 0)
    # two extreme leading values, NaN ignored
    two = np.r_[-1e12, np.nan, -3e9, -10.0, -5.0, -4.0, -3.9]
    assert informative_range(two) == (-10.0, -3.9, 2)
    # too few values after it to judge: kept
    assert informative_range(np.array([-2e10, -6000.0, -5990.0])) == (-2e10, -5990.0, 0)
    lo, hi, n_off = informative_range(np.array([np.nan, np.nan]))
    assert np.isnan(lo) and np.isnan(hi) and n_off == 0


def widget_point(view: ConvergenceView, plot, x: float, y: float) -> QtCore.QPoint:
    """Where view coordinates (x, y) of ``plot`` are drawn in ``view``'s pixels."""
    scene = plot.getViewBox().mapViewToScene(QtCore.QPointF(x, y))
    return view.graphics.mapTo(view, view.graphics.mapFromScene(scene))


def line_coloured(image: QtGui.QImage, centre: QtCore.QPoint, radius: int = 6) -> int:
    """Pixels near ``centre`` in the objective curve's blue (0, 90, 160)."""
    count = 0
    for dx in range(-radius, radius + 1):
        for dy in range(-radius, radius + 1):
            c = image.pixelColor(centre.x() + dx, centre.y() + dy)
            count += abs(c.red()) < 50 and abs(c.green() - 90) < 50 and abs(c.blue() - 160) < 50
    return count


def test_outlier_start_is_drawn_but_off_scale(view, qtbot):
    iterations = np.arange(OUTLIER_START.size)
    view.set_history(iterations, OUTLIER_START, "log-likelihood")
    np.testing.assert_array_equal(view.curve.getOriginalDataset()[1], OUTLIER_START)
    lo, hi = y_range(view.objective_plot)
    assert -7500 < lo < -6943.11 and -6589.85 < hi < -6000  # the curve fills the plot
    assert view.off_scale() == 1
    # the start is marked by an arrow at the bottom edge, and its value is written
    assert view.off_scale_text() == "↓ θ0 −2.0859e10"
    image = view.grab().toImage()
    arrow = widget_point(view, view.objective_plot, 0, lo) - QtCore.QPoint(0, 7)
    assert line_coloured(image, arrow) > 20
    view.mark_iteration(3)
    assert view.readout.text() == "θ3: −6815.24  |change| 80"
    view.mark_iteration(20)  # not scored yet: the latest scored value
    assert view.readout.text().startswith("θ8: −6589.85  |change| 0.05")
    view.set_show_change(True)
    OUTPUT.mkdir(exist_ok=True)
    assert view.grab().save(str(OUTPUT / "convergence_view_outlier.png"))
    user_zoom_out(view.objective_plot)  # until the start is in view: no arrow
    view.objective_plot.getViewBox().setYRange(-3e10, 0.0)
    assert view.off_scale_text() == ""
    image = view.grab().toImage()
    arrow = widget_point(view, view.objective_plot, 0, -3e10) - QtCore.QPoint(0, 7)
    assert line_coloured(image, arrow) < 10  # only the curve's end, no arrow


def test_kmeans_start_does_not_flatten_the_curve(view):
    """A start well below the rest is drawn as an arrow; the rest of the curve fills the plot."""
    values = np.array([-5727.47, -5596.09, -5590.47, -5589.54, -5589.37, -5589.36])
    view.set_history(np.arange(values.size), values, "log-likelihood")
    lo, hi = y_range(view.objective_plot)
    assert -5600 <= lo < -5596.09 and -5589.36 < hi <= -5588
    assert view.off_scale_text() == "↓ θ0 −5727.5"
    OUTPUT.mkdir(exist_ok=True)
    assert view.grab().save(str(OUTPUT / "convergence_view_kmeans_start.png"))


def test_user_zoom_is_kept_until_auto_button_or_new_fit(view):
    plot = view.objective_plot
    view.set_history(np.arange(6), OUTLIER_START[:6], "log-likelihood")
    followed = y_range(plot)
    user_zoom_out(plot)
    zoomed = y_range(plot)
    assert zoomed[1] - zoomed[0] > 2 * (followed[1] - followed[0])
    view.set_history(np.arange(9), OUTLIER_START, "log-likelihood")  # the fit goes on
    assert y_range(plot) == zoomed
    plot.autoBtn.clicked.emit(plot.autoBtn)  # the "A" button: back to the informative range
    lo, hi = y_range(plot)
    assert -7500 < lo < -6943.11 and -6589.85 < hi < -6000
    assert not any(plot.getViewBox().autoRangeEnabled())
    user_zoom_out(plot)
    view.set_history(np.arange(3), np.array([-900.0, -850.0, -840.0]), "log-likelihood")
    lo, hi = y_range(plot)  # a new fit (shorter history) is followed again
    assert -1000 <= lo < -900 and -840 < hi <= -800
    user_zoom_out(plot)  # the same fit restarted (Reset): its first value, followed again
    view.set_history(np.arange(1), np.array([-900.0]), "log-likelihood")
    lo, hi = y_range(plot)
    assert -920 <= lo < -900 < hi <= -880


def test_new_data_refits_the_ranges(view):
    """Loading data: the history empties, then the new fit's values arrive; the old range goes."""
    view.set_show_change(True)
    view.set_history(np.arange(9), -6900 + np.cumsum([0, 300, 100, 30, 9, 3, 1, 0.3, 0.1]), "x")
    view.set_history(np.empty(0), np.empty(0), "log-likelihood")
    assert view.curve.getData()[1] is None or view.curve.getData()[1].size == 0
    assert view.title() == "log-likelihood · below: |change|"  # no offset of old ticks
    assert view.empty_hint.isVisible()  # an empty plot says what will appear in it
    assert "log-likelihood of each iteration" in view.empty_hint.textItem.toPlainText()
    # two short lines: the plot shares its row with the bound view, half the window wide
    assert all(len(line) <= 40 for line in view.empty_hint.textItem.toPlainText().splitlines())
    values = -1.2e7 + np.cumsum([0.0, 5000, 2000, 700, 200, 60, 20, 6, 2, 0.5])
    for m in range(1, values.size + 1):
        view.set_history(np.arange(m), values[:m], "log-likelihood")
        lo, hi = y_range(view.objective_plot)
        assert lo <= values[:m][-1] <= hi and hi - lo <= max(np.ptp(values[:m]), 1e5)
        assert not view.empty_hint.isVisible()
        x_hi = view.objective_plot.getViewBox().viewRange()[0][1]
        assert m - 1 <= x_hi <= max(5.0, m - 1) / 0.8 + 0.5  # the curve fills most of the width
    change_lo, change_hi = y_range(view.change_plot)
    assert change_lo <= np.log10(0.5) and np.log10(5000) <= change_hi <= 5


def test_large_close_values_get_a_tick_offset(view):
    axis = view.objective_plot.getAxis("left")
    values = -2712345.0 + np.array([-0.3, 0.0, 0.21, 0.3, 0.33, 0.34])
    view.set_history(np.arange(6), values, "log posterior")
    assert view.title() == "log posterior + 2,712,346"
    ticks = [-2712345.0, -2712344.9, -2712344.8]
    strings = axis.tickStrings(ticks, 1.0, 0.1)
    assert strings == ["1.0", "1.1", "1.2"]
    # a range where plain labels are short enough: no offset
    view.set_history(np.arange(3), np.array([-7000.0, -6000.0, -5900.0]), "log-likelihood")
    assert view.title() == "log-likelihood"
    assert axis.tickStrings([-6500.0, -6000.0], 1.0, 500.0) == ["-6500", "-6000"]


def shown_labels(plot, lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Set ``plot``'s y range to [lo, hi] (view coordinates) and read its labelled ticks back."""
    plot.getViewBox().setYRange(lo, hi, padding=0)
    QtWidgets.QApplication.processEvents()
    axis = plot.getAxis("left")
    size = axis.geometry().height()
    spacing, values = axis.tickValues(lo, hi, size)[0]
    return values, axis.tickStrings(values, 1.0, spacing)


def assert_readable(view: ConvergenceView, plot, lo: float, hi: float, values, strings) -> None:
    """Two labels or more (one on a very short axis), a text height apart, inside the axis."""
    axis = plot.getAxis("left")
    metrics = QtGui.QFontMetrics(axis.font())
    size = axis.geometry().height()
    pixels = np.sort((np.asarray(values) - lo) / (hi - lo) * size)
    assert len(strings) >= (2 if size > 4 * metrics.height() else 1), (lo, hi, size, strings)
    assert np.diff(pixels, prepend=-np.inf).min() > metrics.height(), (lo, hi, strings)
    room = axis.width() - axis.style["tickLength"] - axis.style["tickTextOffset"][0]
    assert max(metrics.horizontalAdvance(s) for s in strings) <= room, strings
    assert len(set(strings)) == len(strings), strings
    # the title is one line inside the widget, not clipped
    title = view.objective_plot.titleLabel
    rect = view.graphics.mapFromScene(title.mapToScene(title.item.boundingRect())).boundingRect()
    assert view.graphics.rect().contains(rect), title.text


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (-6950.0, -6550.0),
        (-1.20001e7, -1.19999e7),  # a total of -1.2e7 changing in the 6th digit
        (-12000000.5, -12000000.1),
        (-5589.000000002, -5588.999999984),  # near convergence: changes of 1e-9
        (-5589.37, -5589.36),
        (1.0e-15, 1.3e-15),
        (-3.0e-15, 9.0e-15),
        (4.5e14, 1.05e15),
        (-1.0e15, 1.0e15),
        (0.0, 1.0),
    ],
)
def test_value_labels_never_overlap_nor_get_clipped(view, lo, hi):
    plot = view.objective_plot
    view.set_history(np.arange(2), np.array([lo, hi]), "log-likelihood")
    for height in (400, 180):
        view.resize(560, height)
        values, strings = shown_labels(plot, lo, hi)
        assert_readable(view, plot, lo, hi, values, strings)
        # each label, plus the offset the title names, is its tick's value
        title = view.title()
        offset = 0.0
        if " + " in title or " − " in title:
            sign, number = title.split(" ")[-2:]
            offset = (-1 if sign == "+" else 1) * float(number.replace(",", ""))
        spacing = values[1] - values[0]
        for value, label in zip(values, strings, strict=True):
            assert abs(float(label) + offset - value) < 0.01 * spacing, (label, title, value)


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (-11.2, -10.8),  # 1.27e-11 and 1.09e-11 near convergence: no decade inside
        (np.log10(1.05e-11), np.log10(1.3e-11)),  # zoomed in: no 1, 2, 5 x 10^k inside
        (-12.1, -9.9),
        (-16.0, 16.0),
        (-300.0, 0.0),
    ],
)
def test_change_labels_never_overlap(view, lo, hi):
    view.set_show_change(True)
    changes = np.r_[0.0, np.cumsum(10.0 ** np.linspace(hi, lo, 8))[::-1]]
    view.set_history(np.arange(changes.size), changes, "log-likelihood")
    for height in (400, 220):
        view.resize(560, height)
        values, strings = shown_labels(view.change_plot, lo, hi)
        assert_readable(view, view.change_plot, lo, hi, values, strings)
        for value, label in zip(values, strings, strict=True):
            assert float(label) == pytest.approx(10.0**value, rel=0.02), (label, value)


def test_one_point_shows_its_title_and_value(view):
    view.resize(560, 160)
    view.set_history(np.arange(1), np.array([-6943.11]), "log posterior")
    lo, hi = y_range(view.objective_plot)
    assert lo < -6943.11 < hi and hi - lo < 200
    values, strings = shown_labels(view.objective_plot, lo, hi)
    assert_readable(view, view.objective_plot, lo, hi, values, strings)
    assert view.title() == "log posterior"
    assert view.readout.text() == "θ0: −6943.11"
    OUTPUT.mkdir(exist_ok=True)
    assert view.grab().save(str(OUTPUT / "convergence_view_one_point.png"))


def test_hidden_change_plot_frees_its_row(view):
    view.set_history(np.arange(5), np.array([-10.0, -6.0, -5.0, -4.5, -4.4]), "log-likelihood")
    total = view.graphics.ci.geometry().height()
    assert view.objective_plot.geometry().height() > 0.95 * total
    view.set_show_change(True)
    objective = view.objective_plot.geometry().height()
    change = view.change_plot.geometry().height()
    assert 0.5 * total < objective < 0.7 * total and change > 0.3 * total
    # both left axes have one width, so the iteration axes (and markers) line up
    left = [
        p.getViewBox().sceneBoundingRect().left() for p in (view.objective_plot, view.change_plot)
    ]
    assert left[0] == pytest.approx(left[1])
    view.set_show_change(False)
    assert view.objective_plot.geometry().height() > 0.95 * total


def test_tolerance_line_on_the_change_plot(view):
    values = np.cumsum([-9000.0, 3000.0, 800.0, 90.0, 12.0, 4.0])
    view.set_history(np.arange(values.size), values, "log-likelihood")
    view.set_tolerance(1e-3, n_samples=1500)  # set while the |change| plot is hidden
    view.set_show_change(True)
    assert view.tol_line.isVisible()
    assert view.tol_line.value() == pytest.approx(np.log10(1.5))
    assert view.tol_line.label.textItem.toPlainText() == "tol 0.001 × 1,500 samples"
    lo, hi = y_range(view.change_plot)  # log10 decades: the line and every change shown
    assert lo <= np.log10(1.5) and hi >= np.log10(3000.0)
    OUTPUT.mkdir(exist_ok=True)
    assert view.grab().save(str(OUTPUT / "convergence_view_tol.png"))
    view.set_tolerance(None)
    assert not view.tol_line.isVisible()


def test_per_sample_scale_divides_by_n_and_moves_the_tolerance(view):
    totals = np.cumsum([-9000.0, 3000.0, 800.0, 90.0, 12.0, 4.0, 0.5])
    view.set_history(np.arange(totals.size), totals, "log-likelihood")
    view.set_tolerance(1e-3, n_samples=1500)
    view.set_show_change(True)
    assert view.title() == "log-likelihood · below: |change|"
    view.scale_box.setCurrentIndex(view.scale_box.findText("Per sample"))  # the user's choice
    assert view.per_sample
    np.testing.assert_allclose(view.curve.getData()[1], totals / 1500)
    np.testing.assert_allclose(10 ** view.change_curve.getData()[1], np.abs(np.diff(totals)) / 1500)
    assert view.title() == "log-likelihood per sample · below: |change| per sample"
    lo, hi = y_range(view.objective_plot)  # re-fitted to the per-sample values
    assert lo <= totals[1] / 1500 and totals[-1] / 1500 <= hi and hi - lo < 1.0
    # convergence is tested on the change per sample: the line is at tol itself
    assert view.tol_line.value() == pytest.approx(-3.0)
    assert view.tol_line.label.textItem.toPlainText() == "tol 0.001"
    change_lo, _ = y_range(view.change_plot)
    assert change_lo <= -3.0
    assert view.readout.text() == f"θ6: −{abs(totals[-1]) / 1500:.10g}  |change| 0.000333"
    np.testing.assert_array_equal(view.values()[1], totals)  # the data given stays the totals
    view.set_tolerance(1e-3, n_samples=3000)  # new data of another size
    np.testing.assert_allclose(view.curve.getData()[1], totals / 3000)
    OUTPUT.mkdir(exist_ok=True)
    assert view.grab().save(str(OUTPUT / "convergence_view_per_sample.png"))
    view.set_per_sample(False)
    assert view.scale_box.currentText() == "Total"
    np.testing.assert_allclose(view.curve.getData()[1], totals)
    assert view.tol_line.value() == pytest.approx(np.log10(3.0))
    assert view.tol_line.label.textItem.toPlainText() == "tol 0.001 × 3,000 samples"


def test_iteration_ticks_are_whole_numbers(view):
    view.set_history(np.arange(3), np.array([-3.0, -2.0, -1.9]), "log-likelihood")
    axis = view.objective_plot.getAxis("bottom")
    for low, high in ((0.0, 5.1), (0.0, 2.0), (0.0, 200.0)):
        spacings = [s for s, _ in axis.tickSpacing(low, high, 400)]
        assert spacings and all(s >= 1 and float(s).is_integer() for s in spacings)


def test_window_draws_the_tolerance_and_keeps_the_change_toggle_in_step(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from em_engine.synthetic import make_preset
    from em_gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, error_sink=lambda _m: None, load_default_data=False)
    qtbot.addWidget(window)
    try:
        window.set_dataset(make_preset("blobs", 300, seed=1))
        qtbot.waitUntil(lambda: window.current_snapshot() is not None, timeout=10_000)
        view = window.convergence
        view.show_change_box.setChecked(True)
        assert window.action("show_change").isChecked()
        assert view.tol_line.isVisible()
        assert view.tol_line.value() == pytest.approx(np.log10(1e-3 * 300))
        assert view.tol_line.label.textItem.toPlainText() == "tol 0.001 × 300 samples"
        window.action("show_change").setChecked(False)
        assert not view.show_change_box.isChecked()
    finally:
        window.shutdown()
