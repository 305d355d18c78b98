"""ConvergenceView (offscreen): informative y range, tick offset, layout, tolerance line."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from em_gui.convergence import ConvergenceView, informative_range

OUTPUT = Path(__file__).resolve().parents[1] / "test-output"
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


def test_informative_range_leaves_out_only_extreme_leading_values():
    lo, hi, n_off = informative_range(OUTLIER_START)
    assert (lo, hi, n_off) == (-6943.11, -6589.85, 1)
    # a k-means start: the first step is large but part of the curve
    kmeans = np.array([-5727.47, -5596.09, -5590.47, -5589.54, -5589.37])
    assert informative_range(kmeans) == (-5727.47, -5589.37, 0)
    # two extreme leading values, NaN ignored
    two = np.r_[-1e12, np.nan, -3e9, -10.0, -5.0, -4.0, -3.9]
    assert informative_range(two) == (-10.0, -3.9, 2)
    # too few values after it to judge: kept
    assert informative_range(np.array([-2e10, -6000.0, -5990.0])) == (-2e10, -5990.0, 0)
    lo, hi, n_off = informative_range(np.array([np.nan, np.nan]))
    assert np.isnan(lo) and np.isnan(hi) and n_off == 0


def test_outlier_start_is_drawn_but_off_scale(view):
    iterations = np.arange(OUTLIER_START.size)
    view.set_history(iterations, OUTLIER_START, "log-likelihood")
    np.testing.assert_array_equal(view.curve.getOriginalDataset()[1], OUTLIER_START)
    lo, hi = y_range(view.objective_plot)
    assert -7500 < lo < -6943.11 and -6589.85 < hi < -6000  # the curve fills the plot
    assert view.off_scale() == 1
    assert view.readout.text().endswith("(1 off scale)")
    view.mark_iteration(3)
    assert view.readout.text().startswith("θ3: −6815.24  |change| 80")
    view.mark_iteration(20)  # not scored yet: the latest scored value
    assert view.readout.text().startswith("θ8: −6589.85  |change| 0.05")
    view.set_show_change(True)
    OUTPUT.mkdir(exist_ok=True)
    assert view.grab().save(str(OUTPUT / "convergence_view_outlier.png"))


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


def test_large_close_values_get_a_tick_offset(view):
    axis = view.objective_plot.getAxis("left")
    values = -2712345.0 + np.array([0.0, 0.21, 0.3, 0.33, 0.34])
    view.set_history(np.arange(5), values, "log posterior")
    assert axis.offset == -2712346.0
    assert axis.labelText == "log posterior + 2712346"
    ticks = [-2712345.0, -2712344.9, -2712344.8]
    strings = axis.tickStrings(ticks, 1.0, 0.1)
    assert strings == ["1.0", "1.1", "1.2"]
    # a range where plain labels are short enough: no offset
    view.set_history(np.arange(3), np.array([-7000.0, -6000.0, -5900.0]), "log-likelihood")
    assert axis.offset == 0 and axis.labelText == "log-likelihood"
    assert axis.tickStrings([-6500.0, -6000.0], 1.0, 500.0) == ["-6500", "-6000"]


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
        assert window.action_show_change.isChecked()
        assert view.tol_line.isVisible()
        assert view.tol_line.value() == pytest.approx(np.log10(1e-3 * 300))
        assert view.tol_line.label.textItem.toPlainText() == "tol 0.001 × 300 samples"
        window.action_show_change.setChecked(False)
        assert not view.show_change_box.isChecked()
    finally:
        window.shutdown()
