"""The one binding-level contract the scatter view relies on: em_gui.scatter.fragments hands
PySide6's drawPixmapFragments a numpy array as a C array of QPainter.PixmapFragment structs.

If one of these tests fails, a PySide6/shiboken6 or Qt update changed PixmapFragment's layout or
drawPixmapFragments' binding: fix FragmentBuffer in em_gui/scatter/fragments.py (nothing else
in the app touches that memory), or fall back to one QPainter.drawPixmap call per point.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import ast
from pathlib import Path

import numpy as np
import shiboken6
from PySide6 import QtGui

from em_gui.scatter.fragments import FIELDS, FragmentBuffer

ROOT = Path(__file__).resolve().parents[2]
BROKEN = (
    "PySide6 changed QPainter.PixmapFragment / drawPixmapFragments: see em_gui/scatter/fragments.py"
)


def test_a_numpy_row_is_a_pixmap_fragment_field_for_field():
    rows = np.arange(2 * len(FIELDS), dtype=np.float64).reshape(2, len(FIELDS)) + 0.5
    second = shiboken6.wrapInstance(rows[1:].ctypes.data, QtGui.QPainter.PixmapFragment)
    got = [getattr(second, name) for name in FIELDS]
    assert got == rows[1].tolist(), f"{BROKEN}: fields read back as {got}, wrote {rows[1]}"


def test_fragments_draw_the_pixmap_cells_where_asked(qapp):
    atlas = QtGui.QImage(8, 4, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    atlas.fill(QtGui.QColor("red"))
    for x in range(4, 8):  # left cell red, right cell blue
        for y in range(4):
            atlas.setPixelColor(x, y, QtGui.QColor("blue"))
    target = QtGui.QImage(40, 20, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    target.fill(QtGui.QColor("white"))
    buffer = FragmentBuffer()
    buffer.resize(50)  # a larger buffer first: the smaller draw below reuses its memory
    rows = buffer.resize(2)
    rows[:] = [(10, 10, 0, 0, 4, 4, 1, 1, 0, 1), (30, 10, 4, 0, 4, 4, 2, 2, 0, 1)]
    painter = QtGui.QPainter(target)
    buffer.draw(painter, QtGui.QPixmap.fromImage(atlas))
    painter.end()

    def rgb(x: int, y: int) -> tuple[int, int, int]:
        return QtGui.QColor(target.pixel(x, y)).getRgb()[:3]

    assert rgb(10, 10) == (255, 0, 0), BROKEN  # the red cell at (10, 10), 4 px
    assert rgb(30, 10) == (0, 0, 255) and rgb(27, 7) == (0, 0, 255), BROKEN  # blue, 8 px
    assert rgb(20, 10) == (255, 255, 255) and rgb(10, 15) == (255, 255, 255), BROKEN
    assert rgb(25, 10) == (255, 255, 255), BROKEN  # no third fragment from the old rows


def test_no_gui_module_uses_pyqtgraph_internals():
    """pyqtgraph documents pyqtgraph.Qt.internals as not public API: fragments.py replaces it."""
    offenders = []
    for path in sorted(ROOT.joinpath("em_gui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            if any(name.startswith("pyqtgraph.Qt.internals") for name in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
