"""The density image: many points as blended component colours on a grid of bins."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from em_gui import palette

#: Above this many points the view draws a density image instead of symbols.
DENSITY_THRESHOLD = 200_000
#: Density image resolution (bins per axis).
DENSITY_BINS = 400
#: The density is re-binned for the visible range plus this fraction of it on each side.
DENSITY_MARGIN = 0.15
#: ``color_steps`` colours this many points per step (a step is one GUI event: tens of ms).
DENSITY_STEP_ROWS = 1 << 20


class DensityImage:
    """Blended-colour density of many points on a grid of bins over a range of the data.

    ``bin`` numbers the occupied bins of a range (the data bounds after ``set_points``, the
    visible range after a zoom: ``bin_view``); points outside it share one overflow bin that is
    never drawn. A frame is then two ``np.bincount`` calls over (N,) indices (into a reused index
    buffer) and arithmetic over the occupied bins only (B of them, ~50k for a million points):
    ``color_steps``, in steps of DENSITY_STEP_ROWS points that a window runs in separate events.

    Read-only surface: ``item`` (the pg.ImageItem to add to a plot), ``image`` (the RGBA shown),
    ``rect`` (where it is, in data coordinates), ``bin_count``.
    """

    def __init__(self) -> None:
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(-1)
        self.item.setVisible(False)
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
        self._bin_count = 0

    @property
    def image(self) -> np.ndarray | None:
        """The RGBA image shown, (DENSITY_BINS, DENSITY_BINS, 4) uint8, row 0 at the range's
        lowest y; None before the first ``apply``."""
        return self.item.image

    @property
    def rect(self) -> QtCore.QRectF:
        """Where the image is drawn, in data coordinates (its bounding rect in the plot)."""
        return self.item.mapRectToParent(self.item.boundingRect())

    @property
    def bin_count(self) -> int:
        """How many times bins have been numbered (once per data set, zoom re-bin or reset)."""
        return self._bin_count

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
        self._bin_count += 1

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

    def color_steps(
        self,
        labels: np.ndarray | None,
        confidence: np.ndarray | None,
        k: int,
        shown: np.ndarray | None = None,
    ) -> Iterator[np.ndarray | None]:
        """RGBA of every occupied bin as (B,) uint32 words (byte order R, G, B, A), from each
        bin's component shares (labels (N,)) and mean confidence (N,); nothing is drawn.

        In steps of DENSITY_STEP_ROWS points: yields None after each step but the last, then the
        words (valid while the bins stay those of its start: no ``bin`` in between).
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
            counts = np.zeros((b + 1) * k, dtype=np.intp)
            sums = None if confidence is None else np.zeros(b + 1)
            n = len(labels)
            for start in range(0, n, DENSITY_STEP_ROWS):
                rows = slice(start, min(start + DENSITY_STEP_ROWS, n))
                index = np.add(
                    cells_times_k[rows], labels[rows], out=self._index[rows], casting="unsafe"
                )
                counts += np.bincount(index, minlength=(b + 1) * k)
                if sums is not None:
                    sums += np.bincount(self._cells[rows], confidence[rows], minlength=b + 1)
                if rows.stop < n:
                    yield None
            counts = counts[: b * k].reshape(b, k)
            inv_total = self._inv_total
            if shown is not None:
                counts = counts * shown
                n_shown = counts.sum(axis=1)
                share = n_shown * self._inv_total
                inv_total = 1.0 / np.maximum(n_shown, 1)
            # (B, K) @ (K, 3) in integers: numpy's own loop (no BLAS threads on the GUI thread)
            rgb = (counts @ rgb255) * (inv_total / 255.0)[:, None]
            if sums is not None:
                c = (sums[:b] * self._inv_total - 1.0 / k) / max(1.0 - 1.0 / k, 1e-12)
                rgb = 1.0 - (1.0 - rgb) * (0.35 + 0.65 * np.clip(c, 0.0, 1.0))[:, None]
        bins = self._bins.copy()
        bins[:, :3] = rgb * 255.0
        if share is not None:
            bins[:, 3] = bins[:, 3] * share
        yield bins.view(np.uint32)[:, 0]

    def apply(self, words: np.ndarray) -> None:
        """Show bin colours from ``colors`` (a 400 x 400 RGBA upload)."""
        self._rgba.reshape(-1).view(np.uint32)[self._occupied] = words
        self.item.setImage(self._rgba, autoLevels=False, rect=self._rect)
