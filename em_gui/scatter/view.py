"""ScatterView: the scatter plot's parts put together, with its labels, legend and interaction.

Drawing is built for speed at every redraw (see docs/ARCHITECTURE.md, "Send snapshots, draw only the
newest"): per frame only an int code per point (``points``) or a colour per density bin
(``density``) changes, computed with numpy in ``prepare_state``; the rings are one item
(``ellipses``), the means reused markers (``markers``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from em_gui import palette
from em_gui.scatter import export
from em_gui.scatter.colours import PreparedColors, prepare_color_steps
from em_gui.scatter.density import DENSITY_THRESHOLD, DensityImage
from em_gui.scatter.ellipses import EllipsesItem
from em_gui.scatter.geometry import (
    BOX_HALF_HEIGHTS,
    ellipse_polylines,
    empty_rings,
    interval_boxes,
    strip_jitter,
)
from em_gui.scatter.imputed import ImputedItem
from em_gui.scatter.legend import ComponentLegend
from em_gui.scatter.markers import MeanMarker, label_offsets
from em_gui.scatter.points import PointsItem

#: Quiet time after the last view range change before the density is re-binned (ms).
REBIN_DELAY_MS = 120
#: A click selects the nearest point within this many pixels (inspect mode).
INSPECT_RADIUS = 12.0


class ScatterView(QtWidgets.QWidget):
    """Data points coloured by component, 1/2/3-sigma ellipses, draggable mean markers.

    Parts (read-only properties): ``points`` (PointsItem), ``density`` (DensityImage),
    ``legend`` (ComponentLegend); ``prepared`` the colours of the last prepared state.

    Signals
    -------
    mean_dragged(int, float, float)
        component, new x, new y: emitted when the user releases a dragged mean marker.
    point_clicked(float, float)
        data coordinates of a left click, only while add-point mode is on.
    point_inspected(int)
        the row (0-based) of the point nearest a left click (within INSPECT_RADIUS pixels),
        while add-point mode is off.
    """

    mean_dragged = QtCore.Signal(int, float, float)
    point_clicked = QtCore.Signal(float, float)
    point_inspected = QtCore.Signal(int)

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

        view_box = self.plot_item.getViewBox()
        self._points = PointsItem()
        self.plot_item.addItem(self._points)
        self._density = DensityImage()
        self.plot_item.addItem(self._density.item)
        self._imputed = ImputedItem()
        self.plot_item.addItem(self._imputed, ignoreBounds=True)
        self._imputed_shown: tuple[Any, Any] = (None, None)  # positions, labels
        self._legend = ComponentLegend(view_box)
        self._legend.entry_clicked.connect(self.toggle_component)
        self._legend_k = -1
        self._ellipses = EllipsesItem()
        # the rings of the state shown and the means they were drawn around
        self._state_rings: tuple[np.ndarray, np.ndarray] = (empty_rings(), np.empty((0, 2)))
        self._ellipses.setZValue(5)
        self.plot_item.addItem(self._ellipses, ignoreBounds=True)
        self._markers: list[MeanMarker] = []
        self._n = 0
        self._use_density = False
        self._one_d = False
        self._strip_y = 0.0  # 1-D data: the y of every point before the jitter
        self._prepared: PreparedColors | None = None
        # prepare_state in steps: the state (labels, confidence, k, hidden) and its steps
        self._preparing: tuple[tuple[Any, ...], Iterator[PreparedColors | None]] | None = None
        self._applied: np.ndarray | None = None  # the colours on screen
        self._shown: tuple[Any, Any, int] = (None, None, 1)  # labels, confidence, k on screen
        self._hidden = np.zeros(0, dtype=bool)  # (K,) components hidden from the legend
        self._add_point_mode = False
        self._plot_xy = np.empty((0, 2))  # where the points are drawn (1-D: with the jitter)
        self.plot_item.scene().sigMouseClicked.connect(self._on_scene_click)
        self._rebin_timer = QtCore.QTimer(self)
        self._rebin_timer.setSingleShot(True)
        self._rebin_timer.setInterval(REBIN_DELAY_MS)
        self._rebin_timer.timeout.connect(self._rebin_density)
        view_box.sigRangeChanged.connect(self._on_range_changed)

    # -- parts -----------------------------------------------------------------------------
    @property
    def points(self) -> PointsItem:
        """The points item (hidden while the density image is used)."""
        return self._points

    @property
    def density(self) -> DensityImage:
        """The density image (shown above DENSITY_THRESHOLD points)."""
        return self._density

    @property
    def imputed(self) -> ImputedItem:
        """The imputed points (rows with a missing cell in a viewed column)."""
        return self._imputed

    @property
    def legend(self) -> ComponentLegend:
        """The components' legend."""
        return self._legend

    @property
    def prepared(self) -> PreparedColors | None:
        """The colours of the last prepared state (None after ``set_points``)."""
        return self._prepared

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
        self._plot_xy = xy
        finite_y = y[np.isfinite(y)]
        self._one_d = len(finite_y) > 0 and bool(finite_y.min() == finite_y.max())
        if self._one_d:
            self._strip_y = float(finite_y[0])
            y = y + strip_jitter(self._n)
            self._plot_xy = np.column_stack([x, y])
        self.plot_item.getAxis("left").setStyle(showValues=not self._one_d)
        density = self.uses_density_image and bool(np.isfinite(xy).all(axis=1).any())
        self._use_density = density
        self._density.item.setVisible(density)
        self._points.setVisible(not density)
        self._legend.set_points(x, y)
        if density:
            self._points.set_points(np.empty(0), np.empty(0))
            self._density.set_points(x, y)
        else:
            self._points.set_points(x, y)
        self._prepared = self._applied = self._preparing = None
        if density:
            self._show_points(None, None, 1)
        self.plot_item.setLabel("bottom", x_label, color="#222")
        self.plot_item.setLabel("left", y_label, color="#222")
        self._set_component_count(0)
        self.show_imputed(None, None)
        self._state_rings = (empty_rings(), np.empty((0, 2)))
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

    def show_imputed(self, xy: np.ndarray | None, labels: np.ndarray | None) -> None:
        """Draw the imputed points: (M, 2) positions in the viewed columns (None: none) and
        their components (M,) (None: grey, before an E-step); a legend entry says what they are.
        """
        self._imputed_shown = (xy, labels)
        self._imputed.show(xy, labels, self._hidden)
        self._legend.set_imputed(xy is not None and len(xy) > 0)

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
        the plot's edge (``markers.label_offsets``)."""
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
        view = view_box.sceneBoundingRect()
        bounds = (view.left(), view.top(), view.right(), view.bottom())
        for marker, (dx, dy) in zip(markers, label_offsets(centres, sizes, bounds), strict=True):
            label = marker.label()
            label.offset = pg.Point(dx, -dy)  # in view units: y up
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
        self,
        labels: np.ndarray | None,
        confidence: np.ndarray | None,
        k: int,
        *,
        in_steps: bool = False,
    ) -> bool:
        """Compute the point colours of a state ahead of ``show_state`` (nothing is drawn).

        This is the O(N) part of a frame; a window can run it in one event and ``show_state``
        (which then reuses the result) plus painting in the next, so that no single event keeps
        the GUI thread busy for both. Read-only arrays are taken as unchanged while they are the
        same memory (the engine's snapshot arrays never change), so a state whose labels did
        not change (an M-step after its E-step, a redraw) costs no O(N) work. The result is
        ``prepared``.

        Parameters
        ----------
        labels : (N,) or None, confidence : (N,) or None, as for show_state
        k : number of components
        in_steps : one step per call (density view: DENSITY_STEP_ROWS points, so that tens of
            millions of points take several short events); returns False until the colours are
            ready (call again with the same state), True then. Without it they are at once.
        """
        density = self._density if self._use_density else None
        state = (labels, confidence, k, self._hidden.tobytes())
        before = None if self._preparing is None else self._preparing[0]
        if not (
            before is not None
            and before[0] is labels
            and before[1] is confidence
            and before[2:] == state[2:]
        ):
            steps = prepare_color_steps(
                self._prepared, labels, confidence, k, self._hidden, self._n, density
            )
            self._preparing = (state, steps)
        steps = self._preparing[1]
        prepared = next(steps)
        while prepared is None and not in_steps:
            prepared = next(steps)
        if prepared is None:
            return False
        self._preparing = None
        self._prepared = prepared
        return True

    def _show_points(
        self, labels: np.ndarray | None, confidence: np.ndarray | None, k: int
    ) -> None:
        self.prepare_state(labels, confidence, k)
        self._shown = (labels, confidence, k)
        colors = self._prepared.colors
        if colors is self._applied or self._n == 0:
            return  # the same colours are on screen: no upload, no repaint of the points
        if self._use_density:
            self._density.apply(colors)
        else:
            self._points.set_codes(colors, any_hidden=self._prepared.hidden != b"")
        self._applied = colors

    def _set_component_count(self, k: int) -> None:
        """Create items up to ``k`` components (once), show the first ``k``, rebuild the legend."""
        colors = palette.component_colors(max(k, len(self._markers)))
        while len(self._markers) < k:
            i = len(self._markers)
            marker = MeanMarker(colors[i])
            self.plot_item.addItem(marker, ignoreBounds=True)
            marker.sigPositionChangeFinished.connect(
                lambda target, index=i: self._on_marker_released(index, target)
            )
            marker.sigPositionChanged.connect(lambda _t, index=i: self._on_marker_moved(index))
            self._markers.append(marker)
        if k != self._legend_k:
            self._legend_k = k
            self._legend.set_entries(colors[:k], [self.is_hidden(i) for i in range(k)])
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
        self._legend.set_hidden([self.is_hidden(i) for i in range(self._legend.entry_count)])
        self._show_points(*self._shown)
        self._imputed.show(*self._imputed_shown, self._hidden)

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
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        view_box = self.plot_item.getViewBox()
        if not view_box.sceneBoundingRect().contains(event.scenePos()):
            return
        if self._legend.isVisible() and self._legend.sceneBoundingRect().contains(event.scenePos()):
            return  # a legend click toggles a component, it adds no point
        point = view_box.mapSceneToView(event.scenePos())
        if self._add_point_mode:
            self.point_clicked.emit(float(point.x()), float(point.y()))
            return
        row = self.nearest_point(float(point.x()), float(point.y()))
        if row is not None:
            self.point_inspected.emit(row)

    def nearest_point(self, x: float, y: float) -> int | None:
        """The row drawn nearest plot coordinates (x, y), within INSPECT_RADIUS pixels, or None
        (a row with a missing viewed cell where its hollow imputed marker is drawn)."""
        xy = self._plot_xy
        if len(xy) == 0:
            return None
        imputed = self._imputed_shown[0]
        if imputed is not None and len(imputed):
            rows = np.flatnonzero(np.isnan(xy).any(axis=1))  # the rows drawn hollow, in order
            if len(rows) == len(imputed):
                xy = np.array(xy, dtype=np.float64)
                xy[rows] = imputed
        width, height = self.plot_item.getViewBox().viewPixelSize()
        distance = np.hypot((xy[:, 0] - x) / width, (xy[:, 1] - y) / height)
        distance[~np.isfinite(distance)] = np.inf
        row = int(np.argmin(distance))
        return row if distance[row] <= INSPECT_RADIUS else None

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
        self._legend.place()

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
        self._prepared = self._applied = self._preparing = None
        self._show_points(*self._shown)

    # -- export ----------------------------------------------------------------------------
    def export_size(self, scale: float = 1.0) -> tuple[int, int]:
        """(width, height) in pixels of a PNG export at ``scale`` times the plot's size."""
        return export.export_size(self.plot_item, scale)

    def export_image(self, path: str | Path, scale: float = 1.0) -> None:
        """Save the plot as PNG (``scale`` times the plot's size on screen: 2 for slides and
        print) or SVG, by suffix, atomically (em_engine.data.write_bytes_atomic).

        Raises ValueError for another suffix or a scale outside [0.5, 8], and OSError when the
        file cannot be written.
        """
        export.export_figure(path, self.plot_widget, (self._points, self._ellipses), scale)
