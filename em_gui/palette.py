"""Component colours: a fixed qualitative palette and brushes made once.

Colours come from the Okabe-Ito / Tableau family (distinguishable, colour-blind friendly) and cycle
when there are more components than colours. Brushes are cached per (component colour, confidence
level), so drawing code reuses the same QBrush objects.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PySide6 import QtGui

#: Base colours, cycled for k >= len(_BASE).
_BASE: tuple[tuple[int, int, int], ...] = (
    (0, 114, 178),  # blue
    (230, 159, 0),  # orange
    (0, 158, 115),  # bluish green
    (204, 121, 167),  # reddish purple
    (213, 94, 0),  # vermillion
    (86, 180, 233),  # sky blue
    (153, 102, 51),  # brown
    (120, 94, 240),  # violet
    (240, 228, 66),  # yellow
    (90, 90, 90),  # dark grey
)

#: Number of distinct component colours (component k gets colour k % N_COLORS).
N_COLORS = len(_BASE)

#: Colour of points before any E-step has labelled them.
NEUTRAL = QtGui.QColor(150, 150, 150, 170)

#: Alpha per confidence level, lowest confidence first.
CONFIDENCE_ALPHA: tuple[int, ...] = (70, 120, 180, 240)
N_LEVELS = len(CONFIDENCE_ALPHA)


def component_colors(k: int) -> list[QtGui.QColor]:
    """Return ``k`` opaque colours, one per component, cycling through the fixed palette."""
    return [QtGui.QColor(*_BASE[i % len(_BASE)]) for i in range(k)]


def component_rgb(k: int) -> np.ndarray:
    """Return the palette as floats in [0, 1], shape (k, 3)."""
    return np.array([_BASE[i % len(_BASE)] for i in range(k)], dtype=np.float64) / 255.0


@cache
def component_brush(index: int, level: int = N_LEVELS - 1) -> QtGui.QBrush:
    """Return the cached brush for component ``index`` at confidence ``level`` (0..N_LEVELS-1)."""
    color = QtGui.QColor(*_BASE[index % len(_BASE)], CONFIDENCE_ALPHA[level])
    return QtGui.QBrush(color)


def confidence_levels(confidence: np.ndarray, n_components: int) -> np.ndarray:
    """Map max-responsibilities to brush levels.

    Parameters
    ----------
    confidence : (N,) array in [1/K, 1]
    n_components : K

    Returns
    -------
    (N,) int8 array in 0..N_LEVELS-1; the top level holds confidences above ~0.9 of the range.
    """
    floor = 1.0 / max(n_components, 1)
    span = max(1.0 - floor, 1e-12)
    scaled = (np.asarray(confidence, dtype=np.float64) - floor) * (N_LEVELS / span)
    return np.clip(scaled, 0, N_LEVELS - 1).astype(np.int8)
