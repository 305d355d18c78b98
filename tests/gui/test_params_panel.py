"""ParameterPanel (offscreen): rounding noise shown as 0, wide matrices in a narrow dock."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6 import QtGui

from em_gui.params_panel import ParameterPanel, format_matrix

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def numbers(text: str) -> list[str]:
    return [word for line in text.splitlines()[1:] for word in line.split()[1:]]


def test_rounding_noise_shows_as_zero_relative_to_the_scale():
    text = format_matrix(np.array([[1.0, 7.55e-15], [7.55e-15, 2.0]]), ["a", "b"])
    assert "e-15" not in text and numbers(text) == ["1", "0", "0", "2"]
    # small in absolute terms, but not next to its own scale: kept
    small = format_matrix(np.array([[1e-6, 3e-7], [3e-7, 1e-6]]), ["a", "b"])
    assert numbers(small) == ["1e-6", "3e-7", "3e-7", "1e-6"]
    # features in very different units: a covariance is judged by sqrt(var_i var_j)
    units = format_matrix(np.array([[1e12, 999.0], [999.0, 1e-6]]), ["a", "b"])
    assert numbers(units) == ["1e12", "999", "999", "1e-6"]
    assert format_matrix(np.array([1.0, 7.55e-15, -2.0])).split() == ["1", "0", "-2"]
    assert format_matrix(np.array([1e-8, 2e-8])).split() == ["1e-8", "2e-8"]


@pytest.fixture
def panel(qtbot):
    widget = ParameterPanel()
    qtbot.addWidget(widget)
    widget.resize(300, 600)  # the dock's width in the window
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_means_are_zero_only_when_they_are_rounding_noise(panel):
    means = np.array([[5.0, 7.55e-15], [1e-5, 3e-6], [2.2, 0.7]])
    covs = np.array([np.eye(2), np.diag([1e-10, 1e-12]), np.eye(2) * 1e8])
    panel.show_parameters(np.full(3, 1 / 3), means, covs, ["x", "y"])
    text = panel.plain_text()
    assert "e-15" not in text
    blocks = text.split("Component ")
    assert blocks[1].splitlines()[3].split() == ["5", "0"]  # mean row of component 1
    assert blocks[2].splitlines()[3].split() == ["1e-5", "3e-6"]
    # a real mean is shown however wide its component (reg_covar 1e8 showed it as 0 0)
    assert blocks[3].splitlines()[3].split() == ["2.2", "0.7"]


def line_width(text: str, panel: ParameterPanel) -> int:
    metrics = QtGui.QFontMetrics(panel.text.document().defaultFont())
    return max(metrics.horizontalAdvance(line) for line in text.splitlines())


def test_short_names_fit_the_dock_without_scrolling(panel):
    covs = np.array([[[2263.0, 604.0], [604.0, 303.0]], [[1.184e4, 2802.0], [2802.0, 1102.0]]])
    means = np.array([[331.6, 106.8], [603.6, 146.4]])
    panel.show_parameters(np.array([0.4, 0.6]), means, covs, ["price", "floor_area"])
    text = panel.plain_text()
    assert "features" not in text
    assert text.splitlines()[-1].split() == ["floor_area", "2802", "1102"]
    assert line_width(text, panel) <= panel.text.viewport().width()
    assert panel.text.horizontalScrollBar().maximum() == 0
    assert panel.width() == 300


@pytest.mark.parametrize("d", [6, 20])
def test_large_covariance_with_long_names_numbers_the_features_and_scrolls(panel, qtbot, d):
    names = [f"sensor_{i:02d}_temperature_reading_in_kelvin" for i in range(d)]
    rng = np.random.default_rng(d)
    a = rng.standard_normal((3, d, d))
    covs = a @ a.transpose(0, 2, 1) / d + np.eye(d)
    panel.show_parameters(np.array([0.2, 0.3, 0.5]), rng.standard_normal((3, d)), covs, names)
    assert panel.width() == 300 and panel.minimumSizeHint().width() <= 300
    text = panel.plain_text()
    assert [f"Component {k}" in text for k in (1, 2, 3, 4)] == [True, True, True, False]
    legend = text.split("Component 1")[0].splitlines()[1:]  # "features", then one name a line
    assert len(legend) == d
    assert line_width("\n".join(legend), panel) <= panel.text.viewport().width()
    for i, line in enumerate(legend):  # each name or its start and end, by its number
        number, name = line.split(maxsplit=1)
        assert number == str(i + 1)
        assert name == names[i] or ("…" in name and names[i].endswith(name.split("…")[1]))
    header = text.split("covariance")[1].splitlines()[1].split()
    assert header == [str(i + 1) for i in range(d)]
    # what does not fit the width can be scrolled to
    overflow = line_width(text, panel) - panel.text.viewport().width()
    scrollbar = panel.text.horizontalScrollBar()
    assert (overflow <= 0 and scrollbar.maximum() == 0) or scrollbar.maximum() >= overflow
    OUTPUT.mkdir(exist_ok=True)
    assert panel.grab().save(str(OUTPUT / f"parameter_panel_{d}x{d}.png"))
    panel.resize(2400, 600)  # a wide panel: names again, when they fit
    if d == 6:
        qtbot.waitUntil(lambda: "features" not in panel.plain_text())
        assert names[5] in panel.plain_text().split("covariance")[1].splitlines()[1]
