"""The points item: every point in one QGraphicsObject, drawn from a sprite atlas or splatted.

Each point has an int16 sprite code (``point_codes``): ``component % N_COLORS * N_LEVELS +
level``, NEUTRAL_CODE (grey, no state yet) or HIDDEN_CODE (its component is hidden). Up to
SPRITE_LIMIT points are antialiased sprites drawn with one ``drawPixmapFragments`` call
(``fragments.FragmentBuffer``); above it each point is a 3-pixel plus written into an image with
numpy. Nothing per point happens in Python.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from em_gui import palette
from em_gui.scatter.fragments import FragmentBuffer
from em_gui.scatter.geometry import point_size

#: Sprite code of a point before any state: the neutral grey.
NEUTRAL_CODE = palette.N_COLORS * palette.N_LEVELS
#: Sprite code of a point of a hidden component: a transparent sprite, no splatted dot.
HIDDEN_CODE = NEUTRAL_CODE + 1
#: Above this many points, dots are written into an image with numpy instead of drawn as sprites.
SPRITE_LIMIT = 20_000
_ARGB = QtGui.QImage.Format.Format_ARGB32_Premultiplied
_RGB = QtGui.QImage.Format.Format_RGB32


def point_codes(
    labels: np.ndarray, confidence: np.ndarray | None, k: int, hidden: np.ndarray | None = None
) -> np.ndarray:
    """Sprite code (N,) int16 of every point of a state (before one: NEUTRAL_CODE for all).

    Parameters
    ----------
    labels : (N,) component per point
    confidence : (N,) max responsibility, or None (the fullest level)
    k : number of components (sets the confidence levels)
    hidden : (K,) bool, components whose points get HIDDEN_CODE, or None
    """
    labels = np.asarray(labels)
    codes = (labels % palette.N_COLORS).astype(np.int16) * palette.N_LEVELS
    if confidence is None:
        codes += palette.N_LEVELS - 1
    else:
        codes += palette.confidence_levels(confidence, k)
    if hidden is not None:
        codes[hidden[labels]] = HIDDEN_CODE
    return codes


def _sprite_brush(code: int) -> QtGui.QBrush:
    """The brush of a drawn sprite code (0..NEUTRAL_CODE): a component at a confidence level,
    or the neutral grey."""
    if code == NEUTRAL_CODE:
        return QtGui.QBrush(palette.NEUTRAL)
    return palette.component_brush(*divmod(code, palette.N_LEVELS))


def _splat_colors() -> np.ndarray:
    """Opaque ARGB32 word per sprite code: the colour at its level's alpha, blended onto white
    (the hidden code's word is never written)."""
    words = np.full(HIDDEN_CODE + 1, 0xFFFFFFFF, dtype=np.uint32)
    for code in range(NEUTRAL_CODE + 1):
        color = _sprite_brush(code).color()
        a = color.alphaF()
        r, g, b = (round(a * c + (1 - a) * 255) for c in (color.red(), color.green(), color.blue()))
        words[code] = (0xFF << 24) | (r << 16) | (g << 8) | b
    return words


_SPLAT_COLORS = _splat_colors()


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class PointsItem(pg.GraphicsObject):
    """All points in one item, painted as pixmap fragments from a sprite atlas (or splatted).

    Read-only surface: ``x``, ``y`` (N,) float64 coordinates as drawn (1-D data: y jittered),
    ``codes`` (N,) int16 sprite codes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._x = np.empty(0)
        self._y = np.empty(0)
        self._codes = np.empty(0, dtype=np.int16)
        self._any_hidden = False
        self._bounds: tuple[float, float, float, float] | None = None
        self._size = 6
        self._dpr = 0.0
        self._atlas: QtGui.QPixmap | None = None
        self._source = np.zeros((HIDDEN_CODE + 1, 4))
        self._fragments = FragmentBuffer()
        self._buffer = np.empty((0, 0), dtype=np.uint32)
        # pixel targets of the splatted dots for one view transform: (key, points inside, targets)
        self._splat_key: tuple | None = None
        self._inside = np.empty(0, dtype=np.intp)
        self._targets = np.empty(0, dtype=np.intp)

    @property
    def x(self) -> np.ndarray:
        """Point x coordinates (N,) float64, read-only."""
        return _read_only(self._x)

    @property
    def y(self) -> np.ndarray:
        """Point y coordinates (N,) float64 as drawn, read-only."""
        return _read_only(self._y)

    @property
    def codes(self) -> np.ndarray:
        """Sprite code of every point (N,) int16 (see ``point_codes``), read-only."""
        return _read_only(self._codes)

    def set_points(self, x: np.ndarray, y: np.ndarray) -> None:
        """Set point coordinates, (N,) each; all points become neutral."""
        self.prepareGeometryChange()
        self._splat_key = None
        self._x = np.ascontiguousarray(x, dtype=np.float64)
        self._y = np.ascontiguousarray(y, dtype=np.float64)
        self._codes = np.full(len(self._x), NEUTRAL_CODE, dtype=np.int16)
        self._any_hidden = False
        finite = np.isfinite(self._x) & np.isfinite(self._y)
        if finite.any():
            xs, ys = self._x[finite], self._y[finite]
            self._bounds = (float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max()))
        else:
            self._bounds = None
        size = point_size(len(self._x))
        if size != self._size:
            self._size = size
            self._atlas = None
        self.update()

    def set_codes(self, codes: np.ndarray, any_hidden: bool = False) -> None:
        """Set the sprite code of every point, (N,) int16; ``any_hidden``: some are HIDDEN_CODE."""
        self._codes = codes
        self._any_hidden = any_hidden
        self.update()

    # -- geometry for pyqtgraph's auto-range ------------------------------------------------
    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None) -> tuple:
        if self._bounds is None:
            return (None, None)
        return self._bounds[0:2] if ax == 0 else self._bounds[2:4]

    def pixelPadding(self) -> float:
        return self._size / 2 + 1

    def boundingRect(self) -> QtCore.QRectF:
        if self._bounds is None:
            return QtCore.QRectF()
        x0, x1, y0, y1 = self._bounds
        px, py = self.pixelVectors()
        pad_x = 0.0 if px is None else px.length() * self.pixelPadding()
        pad_y = 0.0 if py is None else py.length() * self.pixelPadding()
        return QtCore.QRectF(x0 - pad_x, y0 - pad_y, x1 - x0 + 2 * pad_x, y1 - y0 + 2 * pad_y)

    def viewTransformChanged(self) -> None:
        super().viewTransformChanged()  # clears the cached view rect that paint() clips to
        self.prepareGeometryChange()

    # -- painting ---------------------------------------------------------------------------
    def _build_atlas(self, dpr: float) -> None:
        """Render one sprite per (colour, level) plus the neutral one, side by side; the hidden
        code's cell stays transparent."""
        cell = int(np.ceil((self._size + 2) * dpr))
        image = QtGui.QImage(cell * (HIDDEN_CODE + 1), cell, _ARGB)
        image.fill(QtCore.Qt.GlobalColor.transparent)
        painter = QtGui.QPainter(image)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        radius = self._size * dpr / 2
        for code in range(NEUTRAL_CODE + 1):
            painter.setBrush(_sprite_brush(code))
            centre = QtCore.QPointF(code * cell + cell / 2, cell / 2)
            painter.drawEllipse(centre, radius, radius)
        painter.end()
        self._atlas = QtGui.QPixmap.fromImage(image)
        self._atlas.setDevicePixelRatio(1.0)
        self._source = np.zeros((HIDDEN_CODE + 1, 4))
        self._source[:, 0] = np.arange(HIDDEN_CODE + 1) * cell
        self._source[:, 2:4] = cell
        self._dpr = dpr

    def paint(self, p: QtGui.QPainter, option, widget=None) -> None:
        if len(self._x) == 0:
            return
        t = p.transform()
        region = t.mapRect(self.viewRect()).toAlignedRect()
        exporting = self._exportOpts is not False
        if not exporting:
            region = region.intersected(p.viewport())
        if region.isEmpty():
            return
        w, h = region.width(), region.height()
        p.save()
        p.resetTransform()
        if len(self._x) > SPRITE_LIMIT:
            p.drawImage(region.topLeft(), self._splat(t, region))
        else:
            px, py = self._device_xy(t, region)
            pad = self._size
            visible = (px > -pad) & (px < w + pad) & (py > -pad) & (py < h + pad)
            px, py = px[visible], py[visible]
            if exporting:
                # One raster image of all points: an SVG gets one <image>, not N sprites.
                image = QtGui.QImage(w, h, _ARGB)
                image.fill(QtCore.Qt.GlobalColor.transparent)
                layer = QtGui.QPainter(image)
                self._draw_sprites(layer, px, py, visible, 1.0)
                layer.end()
                p.drawImage(region.topLeft(), image)
            else:
                p.translate(region.left(), region.top())
                # the device's pixels per logical pixel: a HiDPI screen, or a PNG export at k x
                self._draw_sprites(p, px, py, visible, p.device().devicePixelRatioF())
        p.restore()

    def _draw_sprites(
        self, p: QtGui.QPainter, px: np.ndarray, py: np.ndarray, visible: np.ndarray, dpr: float
    ) -> None:
        """Antialiased round sprites, one pixmap fragment per point (M visible points)."""
        if self._atlas is None or dpr != self._dpr:
            self._build_atlas(dpr)
        frags = self._fragments.resize(len(px))
        frags[:, 0] = px
        frags[:, 1] = py
        frags[:, 2:6] = self._source[self._codes[visible]]
        frags[:, 6:10] = (1.0 / self._dpr, 1.0 / self._dpr, 0.0, 1.0)
        self._fragments.draw(p, self._atlas)

    def _device_xy(
        self, t: QtGui.QTransform, region: QtCore.QRect
    ) -> tuple[np.ndarray, np.ndarray]:
        """Device pixel coordinates (N,) each, relative to the region's top-left corner."""
        px = t.m11() * self._x + t.m21() * self._y + (t.dx() - region.left())
        py = t.m12() * self._x + t.m22() * self._y + (t.dy() - region.top())
        return px, py

    def _splat(self, t: QtGui.QTransform, region: QtCore.QRect) -> QtGui.QImage:
        """Write every point inside the region as a plus-shaped dot (3 px across), RGB image.

        Colours are the sprite colours pre-blended onto white; a later point covers an earlier
        one, as with sprites. The buffer has a 1-pixel margin, so the dot's arms need no bounds
        checks. The dots' pixel indices depend only on the view transform, so they are kept
        while it stays (a fit in progress): a frame is then one colour gather and one index
        write over the points inside, no Qt call per point.
        """
        w, h = region.width(), region.height()
        stride = w + 2
        key = (t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy(), region.getRect())
        if key != self._splat_key:
            px, py = self._device_xy(t, region)
            inside = np.flatnonzero((px >= 0) & (px < w) & (py >= 0) & (py < h))
            centre = py[inside].astype(np.intp) * stride + px[inside].astype(np.intp)
            centre += stride + 1
            # centres first, then each arm: the order of the former five writes
            offsets = np.array([0, -1, 1, -stride, stride], dtype=np.intp)
            self._targets = (offsets[:, None] + centre).ravel()
            self._inside, self._splat_key = inside, key
        if self._buffer.shape != (h + 2, stride):
            self._buffer = np.empty((h + 2, stride), dtype=np.uint32)
        self._buffer.fill(0xFFFFFFFF)  # opaque white, as the plot background: a plain copy to draw
        flat = self._buffer.reshape(-1)
        codes = self._codes[self._inside]
        colors = np.tile(_SPLAT_COLORS[codes], 5)
        if self._any_hidden:  # points of hidden components leave no dot
            shown = np.tile(codes != HIDDEN_CODE, 5)
            flat[self._targets[shown]] = colors[shown]
        else:
            flat[self._targets] = colors
        return QtGui.QImage(flat[stride + 1 :].data, w, h, stride * 4, _RGB)
