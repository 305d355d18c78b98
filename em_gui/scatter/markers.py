"""Draggable mean markers and where their labels go.

``label_offsets`` is the placement rule, pure numpy over screen boxes: each label takes the first
place around its marker (right, left, above, below, then rows stacked beside it) that overlaps no
other label, marker or the plot's edge.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

#: Mean labels: gap between a marker's centre and its label, and the marker's radius (pixels).
LABEL_GAP, MARKER_RADIUS = 12.0, 10.0


class MeanMarker(pg.TargetItem):
    """A draggable mean: pyqtgraph's TargetItem, its disc painted in device pixels.

    TargetItem paints a path pre-scaled by the inverse of the view's scale under the view's
    transform; in an SVG that is a path with a (hugely anisotropic) scaling transform, whose rim
    other renderers drew as wide white bands. Same look on screen.
    """

    def __init__(self, color: QtGui.QColor) -> None:
        """A marker in component colour ``color`` with an (empty) label beside it."""
        super().__init__(
            size=17,
            symbol="o",
            # a white rim sets the disc apart from points of its own colour
            pen=pg.mkPen(255, 255, 255, width=3),
            brush=pg.mkBrush(color.darker(115)),
            hoverPen=pg.mkPen(0, 0, 0, width=3),
            hoverBrush=pg.mkBrush(color.lighter(130)),
            movable=True,
            label=" ",
            labelOpts={"color": (20, 20, 20), "fill": (255, 255, 255, 190), "offset": (12, -4)},
        )
        self.setZValue(10)

    def paint(self, p: QtGui.QPainter, *args: Any) -> None:
        to_device = p.transform()
        p.save()
        p.resetTransform()
        p.setPen(self.currentPen)
        p.setBrush(self.currentBrush)
        p.drawPath(to_device.map(self.shape()))
        p.restore()


def label_offsets(
    centres: np.ndarray, sizes: np.ndarray, bounds: tuple[float, float, float, float]
) -> np.ndarray:
    """Where each marker's label goes, greedily in marker order, in screen pixels (y down).

    Parameters
    ----------
    centres : (M, 2) marker centres
    sizes : (M, 2) label width, height
    bounds : the plot's (left, top, right, bottom)

    Returns
    -------
    (M, 2) offset of each label's anchor (its left middle) from its marker's centre: the first
    candidate (right, left, above, below, then rows stacked right and left) that overlaps no
    placed label, other marker disc or the plot's edge; else the least overlap (other labels
    and what is outside the plot count 4x).
    """
    discs = np.hstack([centres - MARKER_RADIUS, centres + MARKER_RADIUS])  # (M, 4) x0 y0 x1 y1
    placed = np.empty((0, 4))
    chosen = np.empty((len(centres), 2))
    rows = np.array([-1, 1, -2, 2, -3, 3])
    g = LABEL_GAP
    for i in range(len(centres)):
        w, h = sizes[i]
        offsets = np.vstack(
            [
                [(g, 0.0), (-g - w, 0.0), (-w / 2, -g - h / 2), (-w / 2, g + h / 2)],
                np.column_stack([np.full(6, g), rows * (h + 1)]),
                np.column_stack([np.full(6, -g - w), rows * (h + 1)]),
            ]
        )
        x0 = centres[i, 0] + offsets[:, 0]
        y0 = centres[i, 1] + offsets[:, 1] - h / 2
        boxes = np.stack([x0, y0, x0 + w, y0 + h], axis=1)  # (C, 4)
        others = np.vstack([placed, np.delete(discs, i, axis=0)])
        weight = np.r_[np.full(len(placed), 4.0), np.ones(len(discs) - 1)]
        overlap_w = np.minimum(boxes[:, None, 2], others[None, :, 2]) - np.maximum(
            boxes[:, None, 0], others[None, :, 0]
        )
        overlap_h = np.minimum(boxes[:, None, 3], others[None, :, 3]) - np.maximum(
            boxes[:, None, 1], others[None, :, 1]
        )
        area = np.clip(overlap_w, 0, None) * np.clip(overlap_h, 0, None)
        cost = area @ weight
        # a label (partly) outside the plot is cut off: what is outside counts 4x
        inside_w = np.minimum(boxes[:, 2], bounds[2]) - np.maximum(boxes[:, 0], bounds[0])
        inside_h = np.minimum(boxes[:, 3], bounds[3]) - np.maximum(boxes[:, 1], bounds[1])
        cost += 4 * (w * h - np.clip(inside_w, 0, None) * np.clip(inside_h, 0, None))
        best = int(np.argmin(cost))  # the first free place in the list's order, if any
        placed = np.vstack([placed, boxes[best]])
        chosen[i] = offsets[best]
    return chosen
