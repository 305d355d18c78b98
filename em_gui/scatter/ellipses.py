"""The 1/2/3-sigma rings of all components in one item, painted in device pixels."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from em_gui import palette
from em_gui.scatter.geometry import empty_rings


class EllipsesItem(pg.GraphicsObject):
    """The 1/2/3-sigma rings of all components in one item: one QPainterPath per ring.

    One item instead of 2K PlotCurveItems: Qt asks every item for its bounding rect many times
    per frame, and pyqtgraph's curve items answer with Python work each time.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rings = empty_rings()
        # per component: the 1-sigma ring's path, the outer rings' paths (one each: a path of
        # several closed rings drew a stray joining line in ImageMagick's SVG renderer)
        self._paths: list[tuple[QtGui.QPainterPath, list[QtGui.QPainterPath]]] = []
        self._pens: list[tuple[QtGui.QPen, QtGui.QPen, QtGui.QPen]] = []  # outline, 1, 2-3 sd
        self._rect = QtCore.QRectF()
        self._extent: tuple[float, float, float, float] | None = None
        self._hidden = np.zeros(0, dtype=bool)

    def set_hidden(self, hidden: np.ndarray) -> None:
        """Leave out the rings of components with ``hidden[k]`` True, (K,) bool."""
        self._hidden = hidden.copy()
        self.update()

    def set_rings(self, rings: np.ndarray) -> None:
        """Draw ``rings`` (K, len(SIGMAS), RING_POINTS, 2) from ``ellipse_polylines``."""
        self.prepareGeometryChange()
        self._rings = rings
        colors = palette.component_colors(len(rings))
        while len(self._pens) < len(rings):
            color = colors[len(self._pens)]
            # Antialiased pens wider than 1 px cost ~4x more: only the 1-sigma ring has them.
            # Its dark outline (the colour's own hue) sets it apart from points of its colour
            # without hiding them (a white halo erased points where rings crowd).
            self._pens.append(
                (
                    pg.mkPen(color.darker(190), width=4),
                    pg.mkPen(color, width=2),
                    pg.mkPen(color, width=1, style=QtCore.Qt.PenStyle.DashLine),
                )
            )
        self._paths = [
            (
                pg.arrayToQPath(r[0, :, 0], r[0, :, 1]),
                [pg.arrayToQPath(ring[:, 0], ring[:, 1]) for ring in r[1:]],
            )
            for r in rings
        ]
        finite = rings[np.isfinite(rings).all(axis=-1)]
        self._extent = (*finite.min(axis=0), *finite.max(axis=0)) if len(finite) else None
        self._update_rect()
        self.update()

    def _update_rect(self) -> None:
        """Bounding rect: the rings' extent plus 3 device pixels for the pen (per zoom level)."""
        if self._extent is None:
            self._rect = QtCore.QRectF()
            return
        x0, y0, x1, y1 = self._extent
        px, py = self.pixelVectors()
        pad_x = 3 * px.length() if px is not None else 0.0
        pad_y = 3 * py.length() if py is not None else 0.0
        self._rect = QtCore.QRectF(x0 - pad_x, y0 - pad_y, x1 - x0 + 2 * pad_x, y1 - y0 + 2 * pad_y)

    def viewTransformChanged(self) -> None:
        super().viewTransformChanged()
        self.prepareGeometryChange()
        self._update_rect()

    def rings(self) -> np.ndarray:
        """The rings drawn, (K, len(SIGMAS), RING_POINTS, 2)."""
        return self._rings

    def boundingRect(self) -> QtCore.QRectF:
        return self._rect

    def paint(self, p: QtGui.QPainter, option, widget=None) -> None:
        # The paths are mapped to device pixels and drawn untransformed: an SVG then holds no
        # (anisotropic) scaling transform on a stroked path, which renderers that ignore
        # vector-effect="non-scaling-stroke" (librsvg, ImageMagick) drew as wide filled bands.
        to_device = p.transform()
        # An SVG keeps no clip (QSvgGenerator writes none): when exporting, each stroke is cut
        # to the plot's rectangle here, else rings run over the axes and their labels.
        box = None
        if self._exportOpts is not False:
            box = QtGui.QPainterPath()
            box.addRect(to_device.mapRect(self.viewRect()))
        p.save()
        p.resetTransform()
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        for k, ((inner, outer), (outline_pen, inner_pen, outer_pen)) in enumerate(
            zip(self._paths, self._pens, strict=False)
        ):
            if k < len(self._hidden) and self._hidden[k]:
                continue
            inner = to_device.map(inner)
            for path in outer:
                _stroke(p, to_device.map(path), outer_pen, box)
            _stroke(p, inner, outline_pen, box)
            _stroke(p, inner, inner_pen, box)
        p.restore()


def _stroke(
    p: QtGui.QPainter, path: QtGui.QPainterPath, pen: QtGui.QPen, box: QtGui.QPainterPath | None
) -> None:
    """Draw ``path`` with ``pen``; with a ``box``, as the stroke's outline (dashes included)
    cut to the box and filled."""
    if box is None:
        p.setPen(pen)
        p.drawPath(path)
        return
    outline = QtGui.QPainterPathStroker(pen).createStroke(path)
    p.fillPath(outline.intersected(box), pen.brush())
