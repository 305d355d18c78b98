"""Pixmap fragments from a numpy buffer: the one place that hands Qt a C array of structs.

``QPainter::drawPixmapFragments(const PixmapFragment *fragments, int count, const QPixmap &)``
draws many sub-rectangles of one pixmap in a single call. PySide6 binds it as
``drawPixmapFragments(first_fragment, count, pixmap)``: a pointer to the first element of a C
array. ``PixmapFragment`` is a plain struct of ten public ``qreal`` fields (Qt's documented order
``FIELDS``), so an (M, 10) float64 numpy array *is* such an array, and
``shiboken6.wrapInstance`` (shiboken's public API) turns its address into that pointer: no Python
object per fragment. This replaces pyqtgraph's ``Qt.internals.PrimitiveArray`` (not public API),
which does the same for PySide. ``tests/gui/test_fragments.py`` checks the layout and the call, so a
PySide6 or Qt change that breaks either fails there with a message naming this module.
"""

from __future__ import annotations

import numpy as np
import shiboken6
from PySide6 import QtGui

#: PixmapFragment's fields in memory order (all qreal = double on desktop Qt).
FIELDS = (
    "x",
    "y",
    "sourceLeft",
    "sourceTop",
    "width",
    "height",
    "scaleX",
    "scaleY",
    "rotation",
    "opacity",
)


class FragmentBuffer:
    """A growable (M, len(FIELDS)) float64 array drawn as ``QPainter.PixmapFragment`` s.

    Columns follow ``FIELDS``: x, y is a fragment's target centre; sourceLeft, sourceTop, width,
    height its source rectangle in the pixmap; scaleX, scaleY, rotation (degrees), opacity.
    """

    def __init__(self) -> None:
        self._array = np.empty((0, len(FIELDS)), dtype=np.float64)
        self._size = 0

    def resize(self, size: int) -> np.ndarray:
        """Make room for ``size`` fragments; returns their (size, 10) rows to fill (the memory
        is reused while it is large enough, so the rows hold old values until written)."""
        if size > len(self._array):
            self._array = np.empty((size, len(FIELDS)), dtype=np.float64)
        self._size = size
        return self._array[:size]

    def draw(self, painter: QtGui.QPainter, pixmap: QtGui.QPixmap) -> None:
        """Draw the ``resize`` d fragments of ``pixmap`` with one ``drawPixmapFragments`` call."""
        if self._size == 0:
            return
        first = shiboken6.wrapInstance(self._array.ctypes.data, QtGui.QPainter.PixmapFragment)
        painter.drawPixmapFragments(first, self._size, pixmap)
