"""The scatter view: data points coloured by component, 1/2/3-sigma ellipses, draggable means.

One module per part (one line each in docs/ARCHITECTURE.md):

* ``geometry``: rings, interval boxes, the 1-D jitter, symbol size (pure numpy);
* ``fragments``: the numpy buffer drawn with one ``QPainter.drawPixmapFragments`` call;
* ``points``: all points in one item, sprites from an atlas or numpy-splatted dots;
* ``density``: above DENSITY_THRESHOLD points, a density image of blended component colours;
* ``ellipses``: the rings of all components in one item; ``markers``: draggable means and where
  their labels go; ``legend``: the clickable legend in the emptiest corner;
* ``imputed``: rows with a missing viewed cell, hollow circles at the engine's imputed positions;
* ``export``: PNG/SVG figures; ``view``: ``ScatterView``, which puts them together.
"""

from em_gui.scatter.colours import PreparedColors, prepare_colors
from em_gui.scatter.density import DENSITY_BINS, DENSITY_MARGIN, DENSITY_THRESHOLD, DensityImage
from em_gui.scatter.ellipses import EllipsesItem
from em_gui.scatter.geometry import (
    BOX_HALF_HEIGHTS,
    JITTER,
    JITTER_SEED,
    RING_POINTS,
    SIGMAS,
    ellipse_polylines,
    interval_boxes,
    point_size,
    strip_jitter,
)
from em_gui.scatter.imputed import IMPUTED_LIMIT, ImputedItem
from em_gui.scatter.legend import LEGEND_OFFSET, LEGEND_SAMPLE, ComponentLegend
from em_gui.scatter.markers import LABEL_GAP, MARKER_RADIUS, MeanMarker, label_offsets
from em_gui.scatter.points import HIDDEN_CODE, NEUTRAL_CODE, SPRITE_LIMIT, PointsItem, point_codes
from em_gui.scatter.view import REBIN_DELAY_MS, ScatterView

__all__ = [
    "BOX_HALF_HEIGHTS",
    "DENSITY_BINS",
    "DENSITY_MARGIN",
    "DENSITY_THRESHOLD",
    "HIDDEN_CODE",
    "IMPUTED_LIMIT",
    "JITTER",
    "JITTER_SEED",
    "LABEL_GAP",
    "LEGEND_OFFSET",
    "LEGEND_SAMPLE",
    "MARKER_RADIUS",
    "NEUTRAL_CODE",
    "REBIN_DELAY_MS",
    "RING_POINTS",
    "SIGMAS",
    "SPRITE_LIMIT",
    "ComponentLegend",
    "DensityImage",
    "EllipsesItem",
    "ImputedItem",
    "MeanMarker",
    "PointsItem",
    "PreparedColors",
    "ScatterView",
    "ellipse_polylines",
    "interval_boxes",
    "label_offsets",
    "point_codes",
    "point_size",
    "prepare_colors",
    "strip_jitter",
]
