"""Imputed points: rows with a missing cell in a viewed column, drawn where the engine's E-step
puts them (``Snapshot.imputed``, the conditional mean of the missing cells) as hollow circles in
their component's colour, so they are told apart from observed points at a glance."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from em_gui import palette

__all__ = ["IMPUTED_LIMIT", "IMPUTED_SYMBOL", "ImputedItem"]

#: At most this many imputed points are drawn (every k-th beyond it).
IMPUTED_LIMIT = 20_000
#: The marker: a hollow circle (pen only) of this diameter in pixels, pen width.
IMPUTED_SYMBOL, IMPUTED_SIZE, IMPUTED_PEN_WIDTH = "o", 9, 1.6


def imputed_pen(component: int | None) -> QtGui.QPen:
    """The outline of an imputed point of ``component`` (None: before any E-step, grey)."""
    if component is None:
        return pg.mkPen(palette.NEUTRAL.darker(130), width=IMPUTED_PEN_WIDTH)
    return pg.mkPen(palette.component_colors(component + 1)[-1], width=IMPUTED_PEN_WIDTH)


class ImputedItem(pg.ScatterPlotItem):
    """Hollow markers at the imputed positions; ``show`` replaces them all."""

    def __init__(self) -> None:
        super().__init__(
            symbol=IMPUTED_SYMBOL, size=IMPUTED_SIZE, brush=pg.mkBrush(None), pxMode=True
        )
        self.setZValue(4)  # above the points, below the rings and means

    def show(self, xy: np.ndarray | None, labels: np.ndarray | None, hidden: np.ndarray) -> None:
        """Draw (M, 2) positions (None: none), outlined in the colour of ``labels`` (M,) (None:
        grey); points of components hidden in ``hidden`` (K,) bool are left out."""
        if xy is None or len(xy) == 0:
            self.setData(x=[], y=[])
            return
        if labels is not None and hidden.any():
            shown = ~hidden[labels]
            xy, labels = xy[shown], labels[shown]
        step = max(1, -(-len(xy) // IMPUTED_LIMIT))
        xy = xy[::step]
        if labels is None:
            pens = imputed_pen(None)
        else:
            by_component = [imputed_pen(k) for k in range(int(labels.max(initial=0)) + 1)]
            pens = [by_component[k] for k in labels[::step]]
        self.setData(x=xy[:, 0], y=xy[:, 1], pen=pens)
