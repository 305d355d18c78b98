"""Scatter geometry, pure numpy: ellipse rings, 1-D interval boxes, the 1-D jitter, symbol size."""

from __future__ import annotations

import numpy as np

#: 1-D data: points get a uniform vertical jitter of +- this (data units), from a fixed seed.
JITTER = 0.35
JITTER_SEED = 12345
#: 1-D data: half-heights of the 1/2/3-sigma interval boxes (they enclose the jittered strip).
BOX_HALF_HEIGHTS = (0.4, 0.45, 0.5)
#: Ellipse radii in standard deviations (Mahalanobis distance).
SIGMAS = (1.0, 2.0, 3.0)
#: Vertices per ellipse ring (closed: first == last).
RING_POINTS = 97


def point_size(n_points: int) -> int:
    """Symbol diameter in pixels for ``n_points`` points: larger for small data sets."""
    if n_points <= 2_000:
        return 8
    if n_points <= 20_000:
        return 6
    return 3  # splatted dots (see points.SPRITE_LIMIT)


def strip_jitter(n_points: int) -> np.ndarray:
    """The fixed vertical offsets (N,) of 1-D data drawn as a strip: uniform in +- JITTER from
    seed JITTER_SEED, so the same data always gets the same picture."""
    return np.random.default_rng(JITTER_SEED).uniform(-JITTER, JITTER, n_points)


def empty_rings() -> np.ndarray:
    """No rings: a (0, len(SIGMAS), RING_POINTS, 2) array."""
    return np.empty((0, len(SIGMAS), RING_POINTS, 2))


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
