"""Figure export of a scatter plot: PNG at a scale of its size on screen, or SVG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtSvg

from em_engine.data import write_bytes_atomic


def export_size(plot_item: pg.PlotItem, scale: float = 1.0) -> tuple[int, int]:
    """(width, height) in pixels of a PNG export at ``scale`` times the plot's size."""
    rect = plot_item.sceneBoundingRect()
    return round(rect.width() * scale), round(rect.height() * scale)


def export_figure(
    path: str | Path,
    plot_widget: pg.PlotWidget,
    items: Sequence[pg.GraphicsObject],
    scale: float = 1.0,
) -> None:
    """Save ``plot_widget``'s plot as PNG (``scale`` times its size on screen) or SVG, by suffix,
    atomically (em_engine.data.write_bytes_atomic). ``items`` draw themselves for an SVG in
    export mode: the points as one embedded image, the rings cut to the plot.

    Raises ValueError for another suffix or a scale outside [0.5, 8], and OSError when the
    file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"{path}: figure export supports .png and .svg, not {suffix!r}")
    if not 0.5 <= scale <= 8:
        raise ValueError(f"the PNG scale must be between 0.5 and 8, not {scale}")
    if suffix == ".png":
        data = png_bytes(plot_widget.getPlotItem(), scale)
    else:
        data = svg_bytes(plot_widget, items)
    write_bytes_atomic(path, data)


def png_bytes(plot_item: pg.PlotItem, scale: float) -> bytes:
    """The plot as a PNG image, ``scale`` times its size on screen.

    The scene is rendered into an image whose device pixel ratio is ``scale``, as a HiDPI screen
    shows it: text, lines, points, markers and the legend all grow together (pyqtgraph's
    ImageExporter scaled the text and markers but not cosmetic pens, points or the legend).
    """
    source = plot_item.sceneBoundingRect()
    width, height = export_size(plot_item, scale)
    image = QtGui.QImage(width, height, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(scale)
    image.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    try:
        target = QtCore.QRectF(0, 0, width / scale, height / scale)
        plot_item.scene().render(painter, target, source)
    finally:
        painter.end()
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("could not encode the figure as PNG")
    return bytes(buffer.data())


def svg_bytes(plot_widget: pg.PlotWidget, items: Sequence[pg.GraphicsObject]) -> bytes:
    """The plot as SVG: axes, ellipses and markers as vectors; ``items`` are put in export mode
    while it is drawn (the points item then draws itself as one embedded image, the rings cut
    themselves to the plot: QSvgGenerator writes no clipping).

    pyqtgraph 0.14's SVGExporter failed on Qt 6.12's path data (it cannot parse the "Z" that
    QSvgGenerator writes there), so the scene is rendered with QSvgGenerator directly.
    """
    source = plot_widget.getPlotItem().sceneBoundingRect()
    target = QtCore.QRectF(0, 0, source.width(), source.height())
    buffer = QtCore.QBuffer()
    generator = QtSvg.QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(target.size().toSize())
    generator.setViewBox(target)
    # pyqtgraph caches axes as QPictures, which replay scaled by the ratio of device DPIs
    generator.setResolution(plot_widget.logicalDpiX())
    generator.setTitle("EM Explorer scatter plot")
    painter = QtGui.QPainter()
    if not painter.begin(generator):
        raise OSError("could not render the figure as SVG")
    for item in items:
        item.setExportMode(True, {})
    try:
        painter.fillRect(target, QtGui.QColor("white"))
        plot_widget.scene().render(painter, target, source)
    finally:
        for item in items:
            item.setExportMode(False)
        painter.end()
    return bytes(buffer.data())
