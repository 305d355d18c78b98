"""The components' legend: an entry per component, click to hide or show, in the emptiest corner."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from em_gui.scatter.imputed import IMPUTED_SIZE, IMPUTED_SYMBOL, imputed_pen

#: The legend: pixels from the view's corner, and how many points decide which corner it takes.
LEGEND_OFFSET, LEGEND_SAMPLE = 10.0, 50_000
#: Entry text colours: a shown component, a hidden one.
TEXT_COLOR, HIDDEN_TEXT_COLOR = (30, 30, 30), (170, 170, 170)
#: The last entry's text while imputed points are drawn.
IMPUTED_TEXT = "imputed (missing cell)"


def emptiest_corner(
    x: np.ndarray,
    y: np.ndarray,
    view_range: tuple[tuple[float, float], tuple[float, float]],
    size: tuple[float, float],
) -> tuple[int, int]:
    """The view corner whose ``size`` (w, h) box (data units) holds the fewest of the points
    ``x``, ``y`` (N,) each: (right, bottom) as 0/1 on screen, top left first among ties.
    ``view_range`` is ((x0, x1), (y0, y1)), y growing upwards."""
    (x0, x1), (y0, y1) = view_range
    w, h = size
    corners = ((0, 0), (1, 0), (0, 1), (1, 1))  # (left | right, top | bottom) on screen
    hidden = []
    for right, bottom in corners:
        in_x = (x >= x1 - w) if right else (x <= x0 + w)
        in_y = (y <= y0 + h) if bottom else (y >= y1 - h)  # view y grows upwards
        hidden.append(np.count_nonzero(in_x & in_y))
    return corners[int(np.argmin(hidden))]


class ComponentLegend(pg.LegendItem):
    """ "component 1..K" entries in a view box's corner; a left click on an entry (its text or its
    sample) emits ``entry_clicked(index)``, 0-based. Hidden entries show pyqtgraph's crossed-out
    eye as sample and grey text. While imputed points are drawn (``set_imputed``), a last entry
    IMPUTED_TEXT shows their hollow marker (not clickable).
    """

    entry_clicked = QtCore.Signal(int)

    def __init__(self, view_box: pg.ViewBox) -> None:
        super().__init__(offset=(LEGEND_OFFSET, LEGEND_OFFSET), labelTextColor=TEXT_COLOR)
        self.setParentItem(view_box)
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click a component to hide or show it")
        self.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.setPen(pg.mkPen(180, 180, 180))
        self._view_box = view_box
        self._samples: list[pg.ScatterPlotItem] = []
        self._imputed = False
        self._points: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self.sigSampleClicked.connect(self._on_sample_clicked)

    @property
    def entry_count(self) -> int:
        """Number of entries (K)."""
        return len(self._samples)

    def set_points(self, x: np.ndarray, y: np.ndarray) -> None:
        """The points (N,) each (as drawn) that decide the corner; at most LEGEND_SAMPLE of them
        are kept, every (N // LEGEND_SAMPLE)-th."""
        step = max(1, len(x) // LEGEND_SAMPLE)
        self._points = (x[::step], y[::step])

    def set_entries(self, colors: list[QtGui.QColor], hidden: list[bool]) -> None:
        """One entry per colour, "component 1".."component K"; hidden as ``set_hidden``."""
        self.clear()
        self._samples = [
            pg.ScatterPlotItem(symbol="o", size=10, pen=pg.mkPen(None), brush=c) for c in colors
        ]
        for i, sample in enumerate(self._samples):
            self.addItem(sample, f"component {i + 1}")
        self.setVisible(bool(colors))
        self.set_hidden(hidden)
        shown, self._imputed = self._imputed, False
        self.set_imputed(shown)

    def set_imputed(self, shown: bool) -> None:
        """Show or remove the IMPUTED_TEXT entry (after the components')."""
        if shown != self._imputed:
            self._imputed = shown
            if shown:
                sample = pg.ScatterPlotItem(
                    symbol=IMPUTED_SYMBOL,
                    size=IMPUTED_SIZE,
                    pen=imputed_pen(None),
                    brush=pg.mkBrush(None),
                )
                self.addItem(sample, IMPUTED_TEXT)
            else:
                self.removeItem(IMPUTED_TEXT)
        self.place()

    @property
    def shows_imputed(self) -> bool:
        """True while the IMPUTED_TEXT entry is shown."""
        return self._imputed

    def set_hidden(self, hidden: list[bool]) -> None:
        """Style entry ``i`` as hidden when ``hidden[i]`` (K entries)."""
        for (sample, label), off in zip(self.items[: len(self._samples)], hidden, strict=True):
            sample.item.setVisible(not off)
            sample.update()
            label.setText(label.text, color=HIDDEN_TEXT_COLOR if off else TEXT_COLOR)

    def entry_text_color(self, index: int) -> tuple[int, int, int]:
        """The RGB of entry ``index``'s text: TEXT_COLOR, or HIDDEN_TEXT_COLOR when hidden."""
        return tuple(self.items[index][1].opts["color"])

    def entry_sample_shown(self, index: int) -> bool:
        """True when entry ``index``'s sample is the component's dot (not the crossed-out eye)."""
        return self.items[index][0].item.isVisible()

    def entry_scene_rect(self, index: int, sample: bool = False) -> QtCore.QRectF:
        """Entry ``index``'s text (or, with ``sample``, its sample) in scene coordinates."""
        return self.items[index][0 if sample else 1].sceneBoundingRect()

    def place(self) -> None:
        """Anchor in the view's corner that hides the fewest points (``set_points``); kept there
        while the view is panned or zoomed."""
        x, y = self._points
        if not self.isVisible() or len(x) == 0:
            return
        px, py = self._view_box.viewPixelSize()
        rect = self.boundingRect()
        size = ((rect.width() + LEGEND_OFFSET) * px, (rect.height() + LEGEND_OFFSET) * py)
        corner = emptiest_corner(x, y, self._view_box.viewRange(), size)
        offset = tuple(-LEGEND_OFFSET if side else LEGEND_OFFSET for side in corner)
        self.anchor(corner, corner, offset)

    def mouseClickEvent(self, event) -> None:
        """A left click on an entry's text (a click on its sample reaches the sample first)."""
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        for i, (_, label) in enumerate(self.items[: len(self._samples)]):
            if label.geometry().contains(event.pos()):
                event.accept()
                self.entry_clicked.emit(i)
                return

    def _on_sample_clicked(self, item: pg.ScatterPlotItem) -> None:
        """A click on a sample (which flipped its own visibility: ``set_hidden`` sets it)."""
        for i, sample in enumerate(self._samples):
            if sample is item:
                self.entry_clicked.emit(i)
