"""Scatter view: data points coloured by component, 1/2/3-sigma ellipses and draggable means.

Drawing is built for speed at every redraw (see docs/ARCHITECTURE.md, "Send snapshots, draw only the
newest"):

* points (N <= DENSITY_THRESHOLD) are one custom item drawn with a single
  ``QPainter.drawPixmapFragments`` call from a small sprite atlas (component x confidence level,
  rendered once); per frame only an int code per point changes, computed with numpy;
* above DENSITY_THRESHOLD points become a density image of blended component colours: bin
  indices are computed once in ``set_points`` and again (for the visible range, debounced) after a
  zoom or pan, so the image stays crisp; each frame is a few ``np.bincount`` calls;
* a click on a legend entry hides or shows a component (points, density share, rings, marker);
* 1-D data (all y equal) is drawn with a fixed vertical jitter, the rings as interval boxes;
* ellipses are numpy polylines turned into QPainterPaths in one item; means are reused
  TargetItems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from pyqtgraph.Qt import internals
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from em_engine.data import write_bytes_atomic
from em_gui import palette

#: Above this many points the view draws a density image instead of symbols.
DENSITY_THRESHOLD = 200_000
#: Density image resolution (bins per axis).
DENSITY_BINS = 400
#: The density is re-binned for the visible range plus this fraction of it on each side.
DENSITY_MARGIN = 0.15
#: Quiet time after the last view range change before the density is re-binned (ms).
REBIN_DELAY_MS = 120
#: 1-D data: points get a uniform vertical jitter of +- this (data units), from a fixed seed.
JITTER = 0.35
JITTER_SEED = 12345
#: 1-D data: half-heights of the 1/2/3-sigma interval boxes (they enclose the jittered strip).
BOX_HALF_HEIGHTS = (0.4, 0.45, 0.5)
#: Ellipse radii in standard deviations (Mahalanobis distance).
SIGMAS = (1.0, 2.0, 3.0)
#: Vertices per ellipse ring (closed: first == last).
RING_POINTS = 97

_NEUTRAL_CODE = palette.N_COLORS * palette.N_LEVELS
#: Sprite code of a point of a hidden component: a transparent sprite, no splatted dot.
_HIDDEN_CODE = _NEUTRAL_CODE + 1
_ARGB = QtGui.QImage.Format.Format_ARGB32_Premultiplied
_RGB = QtGui.QImage.Format.Format_RGB32
#: Above this many points, dots are written into an image with numpy instead of drawn as sprites.
SPRITE_LIMIT = 20_000
#: The legend: pixels from the view's corner, and how many points decide which corner it takes.
LEGEND_OFFSET, LEGEND_SAMPLE = 10.0, 50_000
#: Mean labels: gap between a marker's centre and its label, and the marker's radius (pixels).
LABEL_GAP, MARKER_RADIUS = 12.0, 10.0


def _sprite_brush(code: int) -> QtGui.QBrush:
    """The brush of a drawn sprite code (0.._NEUTRAL_CODE): a component at a confidence level,
    or the neutral grey."""
    if code == _NEUTRAL_CODE:
        return QtGui.QBrush(palette.NEUTRAL)
    return palette.component_brush(*divmod(code, palette.N_LEVELS))


def _splat_colors() -> np.ndarray:
    """Opaque ARGB32 word per sprite code: the colour at its level's alpha, blended onto white
    (the hidden code's word is never written)."""
    words = np.full(_HIDDEN_CODE + 1, 0xFFFFFFFF, dtype=np.uint32)
    for code in range(_NEUTRAL_CODE + 1):
        color = _sprite_brush(code).color()
        a = color.alphaF()
        r, g, b = (round(a * c + (1 - a) * 255) for c in (color.red(), color.green(), color.blue()))
        words[code] = (0xFF << 24) | (r << 16) | (g << 8) | b
    return words


_SPLAT_COLORS = _splat_colors()


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """True when ``a`` and ``b`` are both None, or read-only views of the same memory with the
    same layout (read-only snapshot arrays are never written, so their contents are equal)."""
    if a is None or b is None:
        return a is b
    if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
        return False
    if a.flags.writeable or b.flags.writeable:
        return False
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.strides == b.strides
        and a.dtype == b.dtype
    )


def point_size(n_points: int) -> int:
    """Symbol diameter in pixels for ``n_points`` points: larger for small data sets."""
    if n_points <= 2_000:
        return 8
    if n_points <= 20_000:
        return 6
    return 3  # splatted dots (see SPRITE_LIMIT)


def ellipse_polylines(
    means: np.ndarray, covariances: np.ndarray, sigmas: tuple[float, ...] = SIGMAS
) -> np.ndarray:
    """Vertices of the covariance ellipses of 2-D Gaussians.

    Parameters
    ----------
    means : (K, 2)
    covariances : (K, 2, 2) symmetric; negative eigenvalues (numerical noise) are clipped to 0
    sigmas : radii in Mahalanobis distance

    Returns
    -------
    (K, len(sigmas), RING_POINTS, 2) array: ring ``j`` of component ``k`` holds points ``x`` with
    ``(x - mean_k)^T cov_k^-1 (x - mean_k) == sigmas[j] ** 2``.
    """
    means = np.asarray(means, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    values, vectors = np.linalg.eigh(covariances)  # (K, 2), (K, 2, 2)
    # L = V sqrt(S): eigenvector columns scaled by the standard deviations along them
    axes = vectors * np.sqrt(np.clip(values, 0.0, None))[:, None, :]
    t = np.linspace(0.0, 2.0 * np.pi, RING_POINTS)
    circle = np.stack([np.cos(t), np.sin(t)])  # (2, P)
    unit = np.einsum("kij,jp->kpi", axes, circle)  # (K, P, 2)
    radii = np.asarray(sigmas, dtype=np.float64)
    return means[:, None, None, :] + radii[None, :, None, None] * unit[:, None, :, :]


def interval_boxes(
    means: np.ndarray, covariances: np.ndarray, sigmas: tuple[float, ...] = SIGMAS
) -> np.ndarray:
    """Boxes marking mean +- sigma standard deviations along x, for 1-D data drawn as a strip.

    Parameters
    ----------
    means : (K, 2), x the 1-D mean, y the strip's centre
    covariances : (K, 2, 2); only the x variance ``[:, 0, 0]`` is used (negative clipped to 0)
    sigmas : half-widths in standard deviations

    Returns
    -------
    (K, len(sigmas), RING_POINTS, 2) closed polylines, as ``ellipse_polylines``: box ``j`` of
    component ``k`` spans ``mean_k +- sigmas[j] * sd_k`` in x and ``+- BOX_HALF_HEIGHTS[j]``
    around the strip's centre in y.
    """
    means = np.asarray(means, dtype=np.float64)
    sd = np.sqrt(np.clip(np.asarray(covariances, dtype=np.float64)[:, 0, 0], 0.0, None))
    s = np.linspace(0.0, 4.0, RING_POINTS)  # 24 steps per side: the corners are vertices
    ux = np.interp(s, [0, 1, 2, 3, 4], [-1.0, 1.0, 1.0, -1.0, -1.0])
    uy = np.interp(s, [0, 1, 2, 3, 4], [-1.0, -1.0, 1.0, 1.0, -1.0])
    half_w = np.asarray(sigmas, dtype=np.float64)[None, :] * sd[:, None]  # (K, S)
    half_h = np.asarray(BOX_HALF_HEIGHTS[: len(sigmas)], dtype=np.float64)  # (S,)
    x = means[:, 0, None, None] + half_w[:, :, None] * ux
    y = means[:, 1, None, None] + half_h[None, :, None] * uy
    return np.stack(np.broadcast_arrays(x, y), axis=-1)


class _PointsItem(pg.GraphicsObject):
    """All points in one item, painted as pixmap fragments from a sprite atlas.

    ``codes`` (N,) picks each point's sprite: ``component % N_COLORS * N_LEVELS + level``, or the
    neutral sprite. Nothing per point happens in Python.
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
        self._source = np.zeros((_HIDDEN_CODE + 1, 4))
        self._fragments = internals.PrimitiveArray(QtGui.QPainter.PixmapFragment, 10)
        self._buffer = np.empty((0, 0), dtype=np.uint32)
        # pixel targets of the splatted dots for one view transform: (key, points inside, targets)
        self._splat_key: tuple | None = None
        self._inside = np.empty(0, dtype=np.intp)
        self._targets = np.empty(0, dtype=np.intp)

    def set_points(self, x: np.ndarray, y: np.ndarray) -> None:
        """Set point coordinates, (N,) each; all points become neutral."""
        self.prepareGeometryChange()
        self._splat_key = None
        self._x = np.ascontiguousarray(x, dtype=np.float64)
        self._y = np.ascontiguousarray(y, dtype=np.float64)
        self._codes = np.full(len(self._x), _NEUTRAL_CODE, dtype=np.int16)
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
        """Set the sprite code of every point, (N,) int16; ``any_hidden``: some are _HIDDEN_CODE."""
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
        image = QtGui.QImage(cell * (_HIDDEN_CODE + 1), cell, _ARGB)
        image.fill(QtCore.Qt.GlobalColor.transparent)
        painter = QtGui.QPainter(image)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        radius = self._size * dpr / 2
        for code in range(_NEUTRAL_CODE + 1):
            painter.setBrush(_sprite_brush(code))
            centre = QtCore.QPointF(code * cell + cell / 2, cell / 2)
            painter.drawEllipse(centre, radius, radius)
        painter.end()
        self._atlas = QtGui.QPixmap.fromImage(image)
        self._atlas.setDevicePixelRatio(1.0)
        self._source = np.zeros((_HIDDEN_CODE + 1, 4))
        self._source[:, 0] = np.arange(_HIDDEN_CODE + 1) * cell
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
                # One raster image of all points: SVG gets one <image>, not N sprites; a PNG at
                # k times the window's resolution gets sprites k times as large.
                image = QtGui.QImage(w, h, _ARGB)
                image.fill(QtCore.Qt.GlobalColor.transparent)
                layer = QtGui.QPainter(image)
                scale = float(self._exportOpts.get("resolutionScale", 1.0))
                self._draw_sprites(layer, px, py, visible, scale)
                layer.end()
                p.drawImage(region.topLeft(), image)
            else:
                p.translate(region.left(), region.top())
                dpr = widget.devicePixelRatioF() if widget is not None else 1.0
                self._draw_sprites(p, px, py, visible, dpr)
        p.restore()

    def _draw_sprites(
        self, p: QtGui.QPainter, px: np.ndarray, py: np.ndarray, visible: np.ndarray, dpr: float
    ) -> None:
        """Antialiased round sprites, one pixmap fragment per point (M visible points)."""
        if self._atlas is None or dpr != self._dpr:
            self._build_atlas(dpr)
        self._fragments.resize(len(px))
        frags = self._fragments.ndarray()
        frags[:, 0] = px
        frags[:, 1] = py
        frags[:, 2:6] = self._source[self._codes[visible]]
        frags[:, 6:10] = (1.0 / self._dpr, 1.0 / self._dpr, 0.0, 1.0)
        p.drawPixmapFragments(*self._fragments.drawargs(), self._atlas)

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
            shown = np.tile(codes != _HIDDEN_CODE, 5)
            flat[self._targets[shown]] = colors[shown]
        else:
            flat[self._targets] = colors
        return QtGui.QImage(flat[stride + 1 :].data, w, h, stride * 4, _RGB)


class _EllipsesItem(pg.GraphicsObject):
    """The 1/2/3-sigma rings of all components in one item: one QPainterPath per ring set.

    One item instead of 2K PlotCurveItems: Qt asks every item for its bounding rect many times
    per frame, and pyqtgraph's curve items answer with Python work each time.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rings = np.empty((0, len(SIGMAS), RING_POINTS, 2))
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
        p.save()
        p.resetTransform()
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        for k, ((inner, outer), (outline_pen, inner_pen, outer_pen)) in enumerate(
            zip(self._paths, self._pens, strict=False)
        ):
            if k < len(self._hidden) and self._hidden[k]:
                continue
            inner = to_device.map(inner)
            p.setPen(outer_pen)
            for path in outer:
                p.drawPath(to_device.map(path))
            p.setPen(outline_pen)
            p.drawPath(inner)
            p.setPen(inner_pen)
            p.drawPath(inner)
        p.restore()


class _MeanMarker(pg.TargetItem):
    """A draggable mean: pyqtgraph's TargetItem, its disc painted in device pixels.

    TargetItem paints a path pre-scaled by the inverse of the view's scale under the view's
    transform; in an SVG that is a path with a (hugely anisotropic) scaling transform, whose rim
    other renderers drew as wide white bands. Same look on screen.
    """

    def paint(self, p: QtGui.QPainter, *args: Any) -> None:
        to_device = p.transform()
        p.save()
        p.resetTransform()
        p.setPen(self.currentPen)
        p.setBrush(self.currentBrush)
        p.drawPath(to_device.map(self.shape()))
        p.restore()


class _DensityImage:
    """Blended-colour density of many points on a grid of bins over a range of the data.

    ``bin`` numbers the occupied bins of a range (the data bounds after ``set_points``, the
    visible range after a zoom: ``bin_view``); points outside it share one overflow bin that is
    never drawn. A frame is then two ``np.bincount`` calls over (N,) indices (into a reused index
    buffer) and arithmetic over the occupied bins only (B of them, ~50k for a million points).
    """

    def __init__(self, item: pg.ImageItem) -> None:
        self.item = item
        self._cells = np.empty(0, dtype=np.intp)  # (N,) occupied-bin number per point
        self._occupied = np.empty(0, dtype=np.intp)  # (B,) flat image index of each bin
        self._inv_total = np.empty(0)  # (B,) 1 / points per bin
        self._cells_times_k: tuple[int, np.ndarray, np.ndarray] | None = None  # K, cells*K, colours
        self._index = np.empty(0, dtype=np.intp)  # (N,) bin * K + label, rewritten per frame
        self._bins = np.zeros((0, 4), dtype=np.uint8)  # (B, 4) RGBA per bin: the alphas
        self._rgba = np.zeros((0, 0, 4), dtype=np.uint8)
        self._rect = QtCore.QRectF()
        self._x = self._y = np.empty(0)
        self._extent = (0.0, 0.0, 0.0, 0.0)  # data bounds x0, x1, y0, y1
        self._binned = self._extent  # the range binned now

    def set_points(self, x: np.ndarray, y: np.ndarray) -> None:
        """Keep the (N,) coordinates (at least one finite pair) and bin the data bounds."""
        finite = np.isfinite(x) & np.isfinite(y)
        self._x = np.ascontiguousarray(x, dtype=np.float64)
        self._y = np.ascontiguousarray(y, dtype=np.float64)
        xs, ys = self._x[finite], self._y[finite]
        self._extent = (float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max()))
        self._index = np.empty(len(x), dtype=np.intp)
        self._rgba = np.zeros((DENSITY_BINS, DENSITY_BINS, 4), dtype=np.uint8)
        self.bin(*self._extent)

    def bin(self, x0: float, x1: float, y0: float, y1: float) -> None:
        """Number the occupied bins of a DENSITY_BINS^2 grid over [x0, x1] x [y0, y1], O(N).

        The image is cleared; its colours must be computed again (``colors``) for the new bins.
        """
        w, h = max(x1 - x0, 1e-12), max(y1 - y0, 1e-12)
        n = DENSITY_BINS
        with np.errstate(invalid="ignore"):
            fx = (self._x - x0) * (n / w)
            fy = (self._y - y0) * (n / h)
            inside = (fx >= 0) & (fx <= n) & (fy >= 0) & (fy <= n)  # NaN: outside
            ix = np.minimum(fx, n - 1).astype(np.intp)
            iy = np.minimum(fy, n - 1).astype(np.intp)
        flat = np.where(inside, iy * n + ix, n * n)  # outside or non-finite: the overflow bin
        counts = np.bincount(flat, minlength=n * n + 1)
        self._occupied = np.flatnonzero(counts[: n * n])
        b = len(self._occupied)
        rank = np.full(n * n + 1, b, dtype=np.intp)  # the overflow bin is number b, not drawn
        rank[self._occupied] = np.arange(b)
        self._cells = rank[flat]
        total = counts[self._occupied].astype(np.float64)
        self._inv_total = 1.0 / total
        level = np.sqrt(np.log1p(total) / np.log1p(max(total.max(initial=1.0), 1.0)))
        self._bins = np.empty((b, 4), dtype=np.uint8)
        self._bins[:, 3] = 40 + 215 * level  # opacity from the point count
        self._cells_times_k = None
        self._rgba.fill(0)
        self._rect = QtCore.QRectF(x0, y0, w, h)
        self._binned = (x0, x1, y0, y1)

    def bin_full(self) -> bool:
        """Bin the whole data extent again if another range is binned; True when it did."""
        if self._binned == self._extent:
            return False
        self.bin(*self._extent)
        return True

    def bin_view(self, x0: float, x1: float, y0: float, y1: float) -> bool:
        """Re-bin for the visible range [x0, x1] x [y0, y1] (plus DENSITY_MARGIN of it on each
        side, within the data bounds) when the binned range does not cover the visible data or
        its bins are too coarse for it (over 1.5x). True when it re-binned."""
        ex0, ex1, ey0, ey1 = self._extent
        mx, my = DENSITY_MARGIN * (x1 - x0), DENSITY_MARGIN * (y1 - y0)
        tx0, tx1 = max(x0 - mx, ex0), min(x1 + mx, ex1)
        ty0, ty1 = max(y0 - my, ey0), min(y1 + my, ey1)
        if tx0 >= tx1 or ty0 >= ty1:
            return False  # no data in view (or a degenerate axis): keep the bins
        bx0, bx1, by0, by1 = self._binned
        covered = bx0 <= max(x0, ex0) and min(x1, ex1) <= bx1
        covered = covered and by0 <= max(y0, ey0) and min(y1, ey1) <= by1
        fine = bx1 - bx0 <= 1.5 * (tx1 - tx0) and by1 - by0 <= 1.5 * (ty1 - ty0)
        if covered and fine:
            return False
        self.bin(tx0, tx1, ty0, ty1)
        return True

    def colors(
        self,
        labels: np.ndarray | None,
        confidence: np.ndarray | None,
        k: int,
        shown: np.ndarray | None = None,
    ) -> np.ndarray:
        """RGBA of every occupied bin as (B,) uint32 words (byte order R, G, B, A), from each
        bin's component shares (labels (N,)) and mean confidence (N,); nothing is drawn.

        ``shown`` (K,) 0/1 leaves hidden components out: a bin's colour blends its shown points
        only and its opacity drops by their share (0: a bin of hidden points only).
        """
        b = len(self._occupied)
        share = None
        if labels is None:
            rgb = np.broadcast_to(np.array(palette.NEUTRAL.getRgbF()[:3]), (b, 3))
        else:
            if self._cells_times_k is None or self._cells_times_k[0] != k:
                rgb255 = np.rint(palette.component_rgb(k) * 255.0).astype(np.intp)
                self._cells_times_k = (k, self._cells * k, rgb255)
            _, cells_times_k, rgb255 = self._cells_times_k
            index = np.add(cells_times_k, labels, out=self._index, casting="unsafe")
            counts = np.bincount(index, minlength=(b + 1) * k)[: b * k].reshape(b, k)
            inv_total = self._inv_total
            if shown is not None:
                counts = counts * shown
                n_shown = counts.sum(axis=1)
                share = n_shown * self._inv_total
                inv_total = 1.0 / np.maximum(n_shown, 1)
            # (B, K) @ (K, 3) in integers: numpy's own loop (no BLAS threads on the GUI thread)
            rgb = (counts @ rgb255) * (inv_total / 255.0)[:, None]
            if confidence is not None:
                mean = np.bincount(self._cells, weights=confidence, minlength=b + 1)[:b]
                c = (mean * self._inv_total - 1.0 / k) / max(1.0 - 1.0 / k, 1e-12)
                rgb = 1.0 - (1.0 - rgb) * (0.35 + 0.65 * np.clip(c, 0.0, 1.0))[:, None]
        bins = self._bins.copy()
        bins[:, :3] = rgb * 255.0
        if share is not None:
            bins[:, 3] = bins[:, 3] * share
        return bins.view(np.uint32)[:, 0]

    def apply(self, words: np.ndarray) -> None:
        """Show bin colours from ``colors`` (a 400 x 400 RGBA upload)."""
        self._rgba.reshape(-1).view(np.uint32)[self._occupied] = words
        self.item.setImage(self._rgba, autoLevels=False, rect=self._rect)


class _Legend(pg.LegendItem):
    """The components' legend; a left click on an entry's text emits its index (a click on its
    sample reaches the sample first, which emits ``sigSampleClicked``)."""

    entry_clicked = QtCore.Signal(int)

    def mouseClickEvent(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        for i, (_, label) in enumerate(self.items):
            if label.geometry().contains(event.pos()):
                event.accept()
                self.entry_clicked.emit(i)
                return


class ScatterView(QtWidgets.QWidget):
    """Data points coloured by component, 1/2/3-sigma ellipses, draggable mean markers.

    Signals
    -------
    mean_dragged(int, float, float)
        component, new x, new y: emitted when the user releases a dragged mean marker.
    point_clicked(float, float)
        data coordinates of a left click, only while add-point mode is on.
    """

    mean_dragged = QtCore.Signal(int, float, float)
    point_clicked = QtCore.Signal(float, float)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(background="w")
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        for name in ("left", "bottom"):
            axis = self.plot_item.getAxis(name)
            axis.setPen(pg.mkPen(60, 60, 60))
            axis.setTextPen(pg.mkPen(40, 40, 40))
            axis.enableAutoSIPrefix(False)  # else the label is re-laid out per range change
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)

        self._points = _PointsItem()
        self.plot_item.addItem(self._points)
        image = pg.ImageItem(axisOrder="row-major")
        image.setZValue(-1)
        image.setVisible(False)
        self.plot_item.addItem(image)
        self._density = _DensityImage(image)
        self._legend = _Legend(offset=(LEGEND_OFFSET, LEGEND_OFFSET), labelTextColor=(30, 30, 30))
        self._legend_sample: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self._legend.setParentItem(self.plot_item.getViewBox())
        self._legend.entry_clicked.connect(self.toggle_component)
        self._legend.sigSampleClicked.connect(self._on_legend_sample_clicked)
        self._legend.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        self._legend.setToolTip("Click a component to hide or show it")
        self._legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self._legend.setPen(pg.mkPen(180, 180, 180))
        self._legend_k = -1
        self._legend_samples: list[pg.ScatterPlotItem] = []
        self._ellipses = _EllipsesItem()
        self._state_rings: tuple[np.ndarray, np.ndarray] = (
            np.empty((0, len(SIGMAS), RING_POINTS, 2)),
            np.empty((0, 2)),
        )  # the rings of the state shown and the means they were drawn around
        self._ellipses.setZValue(5)
        self.plot_item.addItem(self._ellipses, ignoreBounds=True)
        self._markers: list[pg.TargetItem] = []
        self._n = 0
        self._use_density = False
        self._one_d = False
        self._strip_y = 0.0  # 1-D data: the y of every point before the jitter
        # (labels, confidence, k, colours, hidden) of the last prepared state; colours on screen
        self._prepared: tuple[Any, Any, int, np.ndarray, bytes] | None = None
        self._applied: np.ndarray | None = None
        self._shown: tuple[Any, Any, int] = (None, None, 1)  # labels, confidence, k on screen
        self._hidden = np.zeros(0, dtype=bool)  # (K,) components hidden from the legend
        self._add_point_mode = False
        self.plot_item.scene().sigMouseClicked.connect(self._on_scene_click)
        self._rebin_timer = QtCore.QTimer(self)
        self._rebin_timer.setSingleShot(True)
        self._rebin_timer.setInterval(REBIN_DELAY_MS)
        self._rebin_timer.timeout.connect(self._rebin_density)
        self.plot_item.getViewBox().sigRangeChanged.connect(self._on_range_changed)

    # -- data ------------------------------------------------------------------------------
    @property
    def uses_density_image(self) -> bool:
        """True when points are drawn as a density image (N > DENSITY_THRESHOLD)."""
        return self._n > DENSITY_THRESHOLD

    @property
    def rebin_pending(self) -> bool:
        """True while a zoom or pan waits to re-bin the density image."""
        return self._rebin_timer.isActive()

    @property
    def is_one_d(self) -> bool:
        """True when all finite y are equal: points are drawn as a jittered strip."""
        return self._one_d

    def set_points(self, xy: np.ndarray, x_label: str, y_label: str) -> None:
        """Show new data (or a new pair of viewed columns); points are neutral until show_state.

        When all finite y are equal (1-D data), each point gets a fixed vertical jitter (uniform
        in +- JITTER, seed JITTER_SEED), the y axis shows no numbers, and show_state draws
        interval boxes (``interval_boxes``) instead of ellipses.

        Parameters
        ----------
        xy : (N, 2) coordinates
        x_label, y_label : axis titles (feature names)
        """
        xy = np.asarray(xy, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"set_points expects an (N, 2) array, got shape {xy.shape}")
        self._n = len(xy)
        x, y = xy[:, 0], xy[:, 1]
        finite_y = y[np.isfinite(y)]
        self._one_d = len(finite_y) > 0 and bool(finite_y.min() == finite_y.max())
        if self._one_d:
            self._strip_y = float(finite_y[0])
            rng = np.random.default_rng(JITTER_SEED)
            y = y + rng.uniform(-JITTER, JITTER, self._n)
        self.plot_item.getAxis("left").setStyle(showValues=not self._one_d)
        density = self.uses_density_image and bool(np.isfinite(xy).all(axis=1).any())
        self._use_density = density
        self._density.item.setVisible(density)
        self._points.setVisible(not density)
        step = max(1, self._n // LEGEND_SAMPLE)
        self._legend_sample = (x[::step], y[::step])
        if density:
            self._points.set_points(np.empty(0), np.empty(0))
            self._density.set_points(x, y)
        else:
            self._points.set_points(x, y)
        self._prepared = self._applied = None
        if density:
            self._show_points(None, None, 1)
        self.plot_item.setLabel("bottom", x_label, color="#222")
        self.plot_item.setLabel("left", y_label, color="#222")
        self._set_component_count(0)
        self._state_rings = (np.empty((0, len(SIGMAS), RING_POINTS, 2)), np.empty((0, 2)))
        self._show_rings()
        self.reset_view()

    def show_state(
        self,
        labels: np.ndarray | None,
        confidence: np.ndarray | None,
        means: np.ndarray,
        covariances: np.ndarray,
        weights: np.ndarray,
    ) -> None:
        """Draw one EM state.

        Parameters
        ----------
        labels : (N,) component per point, or None (points drawn neutral grey)
        confidence : (N,) max responsibility per point, or None (full colour)
        means : (K, 2) in the viewed columns
        covariances : (K, 2, 2) in the viewed columns
        weights : (K,)
        """
        means = np.asarray(means, dtype=np.float64).reshape(-1, 2)
        k = len(means)
        if len(self._hidden) != k:
            self._hidden = np.zeros(k, dtype=bool)
            self._ellipses.set_hidden(self._hidden)
        self._show_points(labels, confidence, k)
        self._set_component_count(k)
        rings = interval_boxes if self._one_d else ellipse_polylines
        self._state_rings = (rings(means, covariances), means)
        for i in range(k):
            marker = self._markers[i]
            if not marker.moving:
                marker.setPos(float(means[i, 0]), float(means[i, 1]))
            text = f"k={i + 1}  w={float(weights[i]):.2f}"
            if marker.label().toPlainText() != text:
                marker.label().setText(text)
        self._show_rings()
        self.place_labels()

    def _show_rings(self) -> None:
        """The state's rings, those of a mean being dragged moved along with it."""
        rings, means = self._state_rings
        moving = [i for i, m in enumerate(self.marker_items()) if m.moving and i < len(rings)]
        if moving:
            rings = rings.copy()
            for i in moving:
                pos = self._markers[i].pos()
                shift = np.array([pos.x(), pos.y()]) - means[i]
                if self._one_d:
                    shift[1] = 0.0  # the boxes stay on the strip
                rings[i] += shift
        self._ellipses.set_rings(rings)

    def _on_marker_moved(self, index: int) -> None:
        if self._markers[index].moving:
            self._show_rings()
            self.place_labels()

    def place_labels(self) -> None:
        """Put each mean's label beside its marker where it overlaps no other label, marker or
        the plot's edge: greedy over places right, left, above and below the marker, then rows
        stacked beside it (the least overlap when none is free; other labels count 4x)."""
        markers = [m for m in self.marker_items() if m.isVisible()]
        if not markers:
            return
        view_box = self.plot_item.getViewBox()
        centres = np.array(
            [[p.x(), p.y()] for p in map(view_box.mapViewToScene, (m.pos() for m in markers))]
        )
        sizes = np.array(
            [[r.width(), r.height()] for r in (m.label().textItem.boundingRect() for m in markers)]
        )
        discs = np.hstack([centres - MARKER_RADIUS, centres + MARKER_RADIUS])  # (M, 4) x0 y0 x1 y1
        view = view_box.sceneBoundingRect()
        bounds = (view.left(), view.top(), view.right(), view.bottom())
        placed = np.empty((0, 4))
        rows = np.array([-1, 1, -2, 2, -3, 3])
        for i, marker in enumerate(markers):
            w, h = sizes[i]
            g = LABEL_GAP
            # (dx, dy) of the label's anchor (its left middle) from the marker's centre, screen px
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
            label = marker.label()
            label.offset = pg.Point(offsets[best, 0], -offsets[best, 1])  # in view units: y up
            label.viewTransformChanged()

    def label_rects(self) -> list[QtCore.QRectF]:
        """Where the shown means' labels are, in ``plot_widget`` pixels (for tests and tours)."""
        rects = []
        offset = QtCore.QPointF(self.plot_widget.viewport().pos())
        for marker in self.marker_items():
            if marker.isVisible():
                text = marker.label().textItem
                scene = text.mapRectToScene(text.boundingRect())
                rect = self.plot_widget.mapFromScene(scene).boundingRect()
                rects.append(QtCore.QRectF(rect).translated(offset))
        return rects

    def prepare_state(
        self, labels: np.ndarray | None, confidence: np.ndarray | None, k: int
    ) -> None:
        """Compute the point colours of a state ahead of ``show_state`` (nothing is drawn).

        This is the O(N) part of a frame; a window can run it in one event and ``show_state``
        (which then reuses the result) plus painting in the next, so that no single event keeps
        the GUI thread busy for both. Read-only arrays are taken as unchanged while they are the
        same memory (the engine's snapshot arrays never change), so a state whose labels did
        not change (an M-step after its E-step, a redraw) costs no O(N) work.

        Parameters
        ----------
        labels : (N,) or None, confidence : (N,) or None, as for show_state
        k : number of components
        """
        for name, values in (("labels", labels), ("confidence", confidence)):
            if values is not None and len(values) != self._n:
                raise ValueError(f"show_state: {len(values)} {name} for {self._n} points")
        # hidden components count while the legend has k entries (else they reset in show_state)
        hidden = self._hidden if len(self._hidden) == k and self._hidden.any() else None
        hidden_key = b"" if hidden is None else hidden.tobytes()
        key = self._prepared
        if (
            key is not None
            and key[2] == k
            and key[4] == hidden_key
            and _same_array(key[0], labels)
            and _same_array(key[1], confidence)
        ):
            return
        if self._use_density:
            shown = None if hidden is None else (~hidden).astype(np.intp)
            colors = self._density.colors(labels, confidence, max(k, 1), shown)
        elif labels is None:
            colors = np.full(self._n, _NEUTRAL_CODE, dtype=np.int16)
        else:
            labels = np.asarray(labels)
            colors = (labels % palette.N_COLORS).astype(np.int16) * palette.N_LEVELS
            if confidence is None:
                colors += palette.N_LEVELS - 1
            else:
                colors += palette.confidence_levels(confidence, k)
            if hidden is not None:
                colors[hidden[labels]] = _HIDDEN_CODE
        self._prepared = (labels, confidence, k, colors, hidden_key)

    def _show_points(
        self, labels: np.ndarray | None, confidence: np.ndarray | None, k: int
    ) -> None:
        self.prepare_state(labels, confidence, k)
        self._shown = (labels, confidence, k)
        colors = self._prepared[3]
        if colors is self._applied or self._n == 0:
            return  # the same colours are on screen: no upload, no repaint of the points
        if self._use_density:
            self._density.apply(colors)
        else:
            self._points.set_codes(colors, any_hidden=self._prepared[4] != b"")
        self._applied = colors

    def _set_component_count(self, k: int) -> None:
        """Create items up to ``k`` components (once), show the first ``k``, rebuild the legend."""
        colors = palette.component_colors(max(k, len(self._markers)))
        while len(self._markers) < k:
            i = len(self._markers)
            color = colors[i]
            marker = _MeanMarker(
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
            marker.setZValue(10)
            self.plot_item.addItem(marker, ignoreBounds=True)
            marker.sigPositionChangeFinished.connect(
                lambda target, index=i: self._on_marker_released(index, target)
            )
            marker.sigPositionChanged.connect(lambda _t, index=i: self._on_marker_moved(index))
            self._markers.append(marker)
        if k != self._legend_k:
            self._legend.clear()
            self._legend_samples = [
                pg.ScatterPlotItem(symbol="o", size=10, pen=pg.mkPen(None), brush=colors[i])
                for i in range(k)
            ]
            for i, sample in enumerate(self._legend_samples):
                self._legend.addItem(sample, f"component {i + 1}")
            self._legend.setVisible(k > 0)
            self._legend_k = k
            self._style_legend()
            self.place_legend()
        for i, marker in enumerate(self._markers):
            marker.setVisible(i < k and not self.is_hidden(i))

    def is_hidden(self, component: int) -> bool:
        """True when ``component`` (0-based) is hidden by a legend click."""
        return bool(component < len(self._hidden) and self._hidden[component])

    def toggle_component(self, component: int) -> None:
        """Hide or show one component's points (or density share), rings and mean marker.

        The state holds for later snapshots with the same number of components and resets
        when that number changes. ``component`` is 0-based (legend entry order).
        """
        if not 0 <= component < len(self._hidden):
            return
        self._hidden[component] = not self._hidden[component]
        self._ellipses.set_hidden(self._hidden)
        self._markers[component].setVisible(not self._hidden[component])
        self._style_legend()
        self._show_points(*self._shown)

    def _on_legend_sample_clicked(self, item: pg.ScatterPlotItem) -> None:
        """A click on a legend sample (which flipped its own visibility: _style_legend sets it)."""
        for i, sample in enumerate(self._legend_samples):
            if sample is item:
                self.toggle_component(i)

    def _style_legend(self) -> None:
        """Hidden entries: the sample as pyqtgraph's crossed-out eye, the text in grey."""
        for i, (sample, label) in enumerate(self._legend.items):
            hidden = self.is_hidden(i)
            sample.item.setVisible(not hidden)
            sample.update()
            label.setText(label.text, color=(170, 170, 170) if hidden else (30, 30, 30))

    def marker_items(self) -> list[pg.TargetItem]:
        """The mean markers of the components currently shown (for tests and the window)."""
        return self._markers[: self._legend_k] if self._legend_k > 0 else []

    def ring_polylines(self) -> np.ndarray:
        """The ellipse rings drawn, (K, len(SIGMAS), RING_POINTS, 2) (see ellipse_polylines)."""
        return self._ellipses.rings()

    def widget_pixels(self, xy: np.ndarray) -> np.ndarray:
        """Where plot coordinates ``xy`` (N, 2) appear in ``plot_widget``, in its pixels (N, 2)
        as (column, row); for 1-D data y is the strip's (jittered) coordinate."""
        view_box = self.plot_item.getViewBox()
        offset = self.plot_widget.viewport().pos()
        out = np.empty((len(xy), 2))
        for i, (x, y) in enumerate(np.asarray(xy, dtype=np.float64)):
            scene = view_box.mapViewToScene(QtCore.QPointF(x, y))
            local = self.plot_widget.mapFromScene(scene) + offset
            out[i] = local.x(), local.y()
        return out

    def legend_rect(self) -> QtCore.QRectF:
        """The legend's area in ``plot_widget`` pixels (empty when no legend is shown)."""
        if not self._legend.isVisible():
            return QtCore.QRectF()
        scene = self._legend.sceneBoundingRect()
        polygon = self.plot_widget.mapFromScene(scene)
        return QtCore.QRectF(polygon.boundingRect()).translated(
            QtCore.QPointF(self.plot_widget.viewport().pos())
        )

    # -- interaction -----------------------------------------------------------------------
    def _on_marker_released(self, index: int, target: pg.TargetItem) -> None:
        pos = target.pos()
        self.mean_dragged.emit(index, float(pos.x()), float(pos.y()))

    def _on_scene_click(self, event) -> None:
        if not self._add_point_mode or event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        view_box = self.plot_item.getViewBox()
        if not view_box.sceneBoundingRect().contains(event.scenePos()):
            return
        if self._legend.isVisible() and self._legend.sceneBoundingRect().contains(event.scenePos()):
            return  # a legend click toggles a component, it adds no point
        point = view_box.mapSceneToView(event.scenePos())
        self.point_clicked.emit(float(point.x()), float(point.y()))

    def set_add_point_mode(self, on: bool) -> None:
        """While on, a left click on the plot emits point_clicked(x, y)."""
        self._add_point_mode = bool(on)
        cursor = QtCore.Qt.CursorShape.CrossCursor if on else QtCore.Qt.CursorShape.ArrowCursor
        self.plot_widget.viewport().setCursor(cursor)

    def set_equal_aspect(self, on: bool) -> None:
        """Lock one data unit to the same length on both axes."""
        self.plot_item.getViewBox().setAspectLocked(bool(on), ratio=1.0)

    def reset_view(self) -> None:
        """Fit the view to the data (and the ellipses' 3-sigma extent is not required to fit);
        the density image returns to the whole data extent at once."""
        view_box = self.plot_item.getViewBox()
        if self._use_density and self._density.bin_full():
            self._recolour_density()
        items = [self._density.item] if self.uses_density_image else [self._points]
        view_box.autoRange(items=items, padding=0.04)
        if self._one_d:  # the strip and its boxes, centred
            half = BOX_HALF_HEIGHTS[-1] * 1.2
            view_box.setYRange(self._strip_y - half, self._strip_y + half, padding=0)
        self.place_legend()

    def place_legend(self) -> None:
        """Put the legend in the corner of the view that hides the fewest points (a sample of at
        most LEGEND_SAMPLE of them); kept there while the view is panned or zoomed."""
        x, y = self._legend_sample
        if not self._legend.isVisible() or len(x) == 0:
            return
        view_box = self.plot_item.getViewBox()
        (x0, x1), (y0, y1) = view_box.viewRange()
        px, py = view_box.viewPixelSize()
        rect = self._legend.boundingRect()
        w, h = (rect.width() + LEGEND_OFFSET) * px, (rect.height() + LEGEND_OFFSET) * py
        corners = ((0, 0), (1, 0), (0, 1), (1, 1))  # (left | right, top | bottom) on screen
        hidden = []
        for right, bottom in corners:
            in_x = (x >= x1 - w) if right else (x <= x0 + w)
            in_y = (y <= y0 + h) if bottom else (y >= y1 - h)  # view y grows upwards
            hidden.append(np.count_nonzero(in_x & in_y))
        corner = corners[int(np.argmin(hidden))]  # top left first when several are empty
        offset = tuple(-LEGEND_OFFSET if side else LEGEND_OFFSET for side in corner)
        self._legend.anchor(corner, corner, offset)

    def _on_range_changed(self, *args) -> None:
        self.place_labels()
        if self._use_density:
            self._rebin_timer.start()  # restarts: one re-bin after the zoom/pan settles

    def _rebin_density(self) -> None:
        """Re-bin the density image for the visible range (if needed) and colour it again."""
        if not self._use_density:
            return
        (x0, x1), (y0, y1) = self.plot_item.getViewBox().viewRange()
        if self._density.bin_view(x0, x1, y0, y1):
            self._recolour_density()

    def _recolour_density(self) -> None:
        """Colour new density bins with the state on screen (its colours were per old bin)."""
        self._prepared = self._applied = None
        self._show_points(*self._shown)

    # -- export ----------------------------------------------------------------------------
    def export_size(self, scale: float = 1.0) -> tuple[int, int]:
        """(width, height) in pixels of a PNG export at ``scale`` times the plot's size."""
        rect = self.plot_item.sceneBoundingRect()
        return round(rect.width() * scale), round(rect.height() * scale)

    def export_image(self, path: str | Path, scale: float = 1.0) -> None:
        """Save the plot as PNG (``scale`` times the plot's size on screen: 2 for slides and
        print) or SVG, by suffix, atomically (em_engine.data.write_bytes_atomic).

        Raises ValueError for another suffix or a scale outside [0.5, 8], and OSError when the
        file cannot be written.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".png", ".svg"):
            raise ValueError(f"{path}: figure export supports .png and .svg, not {suffix!r}")
        if not 0.5 <= scale <= 8:
            raise ValueError(f"the PNG scale must be between 0.5 and 8, not {scale}")
        data = self._png_bytes(scale) if suffix == ".png" else self._svg_bytes()
        write_bytes_atomic(path, data)

    def _png_bytes(self, scale: float) -> bytes:
        """The plot as a PNG image, ``scale`` times its size on screen."""
        exporter = ImageExporter(self.plot_item)
        exporter.parameters()["width"] = self.export_size(scale)[0]
        image = exporter.export(toBytes=True)
        buffer = QtCore.QBuffer()
        buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, "PNG"):
            raise OSError("could not encode the figure as PNG")
        return bytes(buffer.data())

    def _svg_bytes(self) -> bytes:
        """The plot as SVG: axes, ellipses and markers as vectors, points as one embedded image.

        pyqtgraph 0.14's SVGExporter failed on Qt 6.12's path data (it cannot parse the "Z" that
        QSvgGenerator writes there), so the scene is rendered with QSvgGenerator directly.
        """
        source = self.plot_item.sceneBoundingRect()
        target = QtCore.QRectF(0, 0, source.width(), source.height())
        buffer = QtCore.QBuffer()
        generator = QtSvg.QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(target.size().toSize())
        generator.setViewBox(target)
        # pyqtgraph caches axes as QPictures, which replay scaled by the ratio of device DPIs
        generator.setResolution(self.plot_widget.logicalDpiX())
        generator.setTitle("EM Explorer scatter plot")
        painter = QtGui.QPainter()
        if not painter.begin(generator):
            raise OSError("could not render the figure as SVG")
        self._points.setExportMode(True, {})
        try:
            painter.fillRect(target, QtGui.QColor("white"))
            self.plot_widget.scene().render(painter, target, source)
        finally:
            self._points.setExportMode(False)
            painter.end()
        return bytes(buffer.data())
