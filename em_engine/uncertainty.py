"""Classification uncertainty, in mclust's sense: 1 - the largest responsibility of each point.

A point with uncertainty 0 belongs to one component for sure; with K components the largest
value is 1 - 1/K (all components equally likely).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CLASS_QUANTILES",
    "THRESHOLDS",
    "UncertaintySummary",
    "most_uncertain",
    "summarise",
    "uncertainty",
    "uncertainty_classes",
]

#: Uncertainties whose exceedance counts the summary gives.
THRESHOLDS = (0.1, 0.25, 0.5)
#: mclust's uncertainty plot: points above these quantiles of the uncertainty are drawn larger.
CLASS_QUANTILES = (0.75, 0.95)


def uncertainty(confidence: np.ndarray) -> np.ndarray:
    """1 - confidence, clipped at 0 (rounding): (N,) from the largest responsibilities (N,)."""
    return np.maximum(1.0 - np.asarray(confidence, dtype=np.float64), 0.0)


@dataclass(frozen=True)
class UncertaintySummary:
    """Summary of the uncertainties (N,) of a fit: mean, median, 90th percentile, maximum and
    the number of points above each of ``THRESHOLDS`` (``above``: (threshold, count) pairs)."""

    n_points: int
    mean: float
    median: float
    p90: float
    maximum: float
    above: tuple[tuple[float, int], ...]

    def lines(self) -> list[str]:
        """The summary as short lines of text."""
        n = max(self.n_points, 1)
        return [
            f"mean {self.mean:.3f}, median {self.median:.3f}",
            f"90th percentile {self.p90:.3f}, largest {self.maximum:.3f}",
            *(f"above {t:g}: {c:,} points ({100.0 * c / n:.1f}%)" for t, c in self.above),
        ]


def summarise(confidence: np.ndarray) -> UncertaintySummary:
    """The summary of the uncertainties of points with largest responsibilities ``confidence``
    (N,), N >= 1."""
    u = uncertainty(confidence)
    p50, p90 = np.percentile(u, [50, 90])
    return UncertaintySummary(
        n_points=int(u.size),
        mean=float(u.mean()),
        median=float(p50),
        p90=float(p90),
        maximum=float(u.max()),
        above=tuple((t, int(np.count_nonzero(u > t))) for t in THRESHOLDS),
    )


def most_uncertain(confidence: np.ndarray, n: int) -> np.ndarray:
    """Indices (min(n, N),) of the n most uncertain points, most uncertain first (ties: the
    lower index first)."""
    u = uncertainty(confidence)
    n = min(int(n), u.size)
    if n <= 0:
        return np.zeros(0, dtype=np.intp)
    part = np.argpartition(-u, n - 1)[:n] if n < u.size else np.arange(u.size)
    return part[np.lexsort((part, -u[part]))]


def uncertainty_classes(confidence: np.ndarray) -> np.ndarray:
    """mclust's classes of the uncertainties (N,): 0 up to the 75th percentile, 1 up to the 95th,
    2 above it ((N,) int8); a point of uncertainty 0 is always in class 0."""
    u = uncertainty(confidence)
    breaks = np.percentile(u, [100 * q for q in CLASS_QUANTILES])
    classes = np.searchsorted(breaks, u, side="left").astype(np.int8)
    classes[u <= 0.0] = 0
    return classes
