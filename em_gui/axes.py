"""The convergence plots' axes: round tick values that never crowd, and short labels."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

#: The widest tick label the value axes make (sets the axes' width): longer ones get an offset.
WIDEST_LABEL = "-8.88e-88"
#: At most this many labelled ticks on a value axis, at least LABEL_GAP text heights apart.
MAX_TICKS = 8
LABEL_GAP = 1.4


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= value (value > 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value * (1 - 1e-12))


def round_up(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k that is >= value (value > 0):
    an iteration range the curve fills to at least 80 % of its width."""
    power = 10.0 ** math.floor(math.log10(value))
    steps = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
    return next(m * power for m in steps if m * power >= value * (1 - 1e-12))


def tick_labels(values: Sequence[float], spacing: float) -> list[str]:
    """Labels of linear ticks ``values`` (T,), multiples of ``spacing`` (1, 2 or 5 x 10^k).

    As many digits as tell neighbours apart: fixed point for moderate numbers, otherwise
    scientific with a short exponent ("1.2e-15", "3e7").
    """
    power = math.floor(math.log10(spacing) + 1e-9)
    snapped = [round(v / spacing) * spacing for v in values]  # drop rounding noise
    if power >= -4 and max((abs(v) for v in snapped), default=0.0) < 1e6:
        labels = [f"{v:.{max(0, -power)}f}" for v in snapped]
        return [s[1:] if s.startswith("-") and not s.strip("-0.") else s for s in labels]
    out = []
    for v in snapped:
        if abs(v) < spacing / 2:
            out.append("0")
            continue
        digits = max(0, math.floor(math.log10(abs(v)) + 1e-9) - power)
        mantissa, exponent = f"{v:.{digits}e}".split("e")
        out.append(f"{mantissa}e{int(exponent)}")
    return out


def linear_ticks(lo: float, hi: float, size: float, gap: float) -> tuple[float, np.ndarray]:
    """Spacing and values (T,) of labelled ticks on [lo, hi] drawn over ``size`` pixels.

    Neighbouring labels are at least ``gap`` pixels apart, and there are at most MAX_TICKS.
    """
    span = hi - lo
    if not span > 0 or size <= 0:
        return 1.0, np.empty(0)
    spacing = nice_ceiling(max(span * gap / size, span / MAX_TICKS))
    first, last = math.ceil(lo / spacing - 1e-9), math.floor(hi / spacing + 1e-9)
    return spacing, np.arange(first, last + 1, dtype=np.float64) * spacing


def log_ticks(lo: float, hi: float, size: float, gap: float) -> tuple[list[float], list[float]]:
    """Labelled and unlabelled tick positions on a log10 axis [lo, hi] (view coordinates).

    Labels go at whole decades (every 1, 2, 5, 10, ... decades so that they are ``gap`` pixels
    apart); on a range of less than two decades also at 2 and 5 x 10^k, then at any multiple of
    10^k, as room allows. Unlabelled minor ticks mark 2..9 x 10^k when a decade is tall enough.
    """
    if not hi > lo or size <= 0:
        return [], []
    per_decade = size / (hi - lo)
    step = round(nice_ceiling(max(gap / per_decade, 1.0)))
    labelled = [float(d) for d in range(math.ceil(lo / step) * step, math.floor(hi) + 1, step)]
    decades = range(math.floor(lo), math.ceil(hi) + 1)
    for mantissas in ((5,), (2,), (3, 4, 6, 7, 8, 9)):
        if len(labelled) >= 2 or step > 1:
            break
        for candidate in (d + math.log10(m) for d in decades for m in mantissas):
            near = (abs(candidate - t) * per_decade < gap for t in labelled)
            if lo <= candidate <= hi and not any(near):
                labelled.append(candidate)
        labelled.sort()
    if len(labelled) < 2 and step == 1:  # within a decade: linear ticks, spaced at the top
        bottom, top = 10.0**lo, 10.0**hi
        uniform = per_decade * (top - bottom) / (top * math.log(10.0))
        linear = [math.log10(v) for v in linear_ticks(bottom, top, uniform, gap)[1] if v > 0]
        labelled = max(labelled, linear, key=len)
    minor: list[float] = []
    if step == 1 and per_decade >= 4 * gap / LABEL_GAP:
        minor = [d + math.log10(m) for d in decades for m in range(2, 10)]
        minor = [t for t in minor if lo <= t <= hi and all(abs(t - x) > 1e-9 for x in labelled)]
    return labelled, minor


def short_number(value: float, digits: int = 4) -> str:
    """A value in ``digits`` significant digits with a short exponent and a true minus sign."""
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text.replace("-", "\u2212")


def format_value(value: float) -> str:
    return f"{value:.10g}".replace("-", "\u2212")


def format_offset(offset: float, unit: float) -> str:
    """|offset| written to the precision ``unit`` (a power of ten) with thousands separators."""
    decimals = max(0, -round(math.log10(unit)))
    if abs(offset) < 1e12:
        return f"{abs(offset):,.{decimals}f}"
    digits = max(0, math.floor(math.log10(abs(offset))) - round(math.log10(unit)))
    mantissa, exponent = f"{abs(offset):.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


class ValueAxis(pg.AxisItem):
    """Value axis whose labels never overlap nor outgrow the axis (see ``tick_labels``).

    Linear: when plain labels would be longer than WIDEST_LABEL, they show ``value - offset`` and
    ``offset_changed()`` lets the plot name ``offset`` (to ``offset_unit``). Log mode: decades.
    """

    offset = 0.0
    offset_unit = 1.0
    #: Called after the offset changed (the plot names it in its title).
    offset_changed: Callable[[], None] | None = None

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        metrics = QtGui.QFontMetrics(self.font())
        self.setWidth(metrics.horizontalAdvance(WIDEST_LABEL) + 12)

    def gap(self) -> float:
        """Least distance in pixels between the centres of two labels."""
        return LABEL_GAP * QtGui.QFontMetrics(self.style.get("tickFont") or self.font()).height()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list]]:
        """One level of labelled ticks (log mode: and unlabelled minor ticks)."""
        lo, hi = sorted((minVal, maxVal))
        if self.logMode:
            labelled, minor = log_ticks(lo, hi, size, self.gap())
            return [(1.0, labelled), (0.1, minor)]
        spacing, values = linear_ticks(lo, hi, size, self.gap())
        return [(spacing, values.tolist())]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.logMode:
            return [short_number(10.0**v).replace("\u2212", "-") for v in values]
        return tick_labels([v - self.offset for v in values], spacing)

    def setRange(self, mn: float, mx: float) -> None:
        super().setRange(mn, mx)
        self._update_offset()

    def resizeEvent(self, ev: QtWidgets.QGraphicsSceneResizeEvent | None = None) -> None:
        super().resizeEvent(ev)
        self._update_offset()

    def _update_offset(self) -> None:
        """A round offset below the range once plain labels would not fit, else 0."""
        lo, hi = sorted(self.range)
        offset, unit = 0.0, 1.0
        if not self.logMode and hi > lo:
            spacing, values = linear_ticks(lo, hi, self.geometry().height(), self.gap())
            ends = [lo, hi] if values.size == 0 else [values[0], values[-1]]
            if max(len(s) for s in tick_labels(ends, spacing)) > len(WIDEST_LABEL):
                unit = 10.0 ** math.ceil(math.log10(hi - lo))
                offset = round(math.floor(lo / unit) * unit, max(0, -round(math.log10(unit))))
        if (offset, unit) != (self.offset, self.offset_unit):
            self.offset, self.offset_unit = offset, unit
            self.picture = None  # the labels are cached
            self.update()
            if self.offset_changed is not None:
                self.offset_changed()


class IterationAxis(pg.AxisItem):
    """Iteration axis: ticks only at whole iterations."""

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        levels = super().tickSpacing(minVal, maxVal, size)
        whole = [(s, o) for s, o in levels if s >= 1 and float(s).is_integer()]
        return whole or [(1.0, 0.0)]
