"""Initial responsibilities and parameters for EM, as scikit-learn's ``_initialize_parameters``.

Methods (``INIT_METHODS``):

- ``"kmeans"``: one-hot responsibilities from the labels of a k-means fit (k-means++ seeding, then
  Lloyd iterations, one initialisation; scikit-learn's ``KMeans(n_clusters, n_init=1)`` in numpy).
- ``"k-means++"``: one-hot responsibilities at the K rows chosen by k-means++ seeding (only those K
  rows carry responsibility, as in scikit-learn).
- ``"random"``: uniform random responsibilities, each row normalised to sum to 1.
- ``"random_from_data"``: one-hot responsibilities at K distinct rows drawn uniformly.
- ``"random_means"`` (not in scikit-learn): K distinct rows drawn uniformly as the means, each
  with the whole data's covariance, equal weights: the textbook start, whose broad Gaussians are
  visible from iteration 0 and which EM visibly pulls apart. It has no responsibilities of its
  own; ``initial_parameters`` builds its parameters directly.

Sample weights (frequency weights, ``sample_weight``): "kmeans" and "k-means++" are weighted
k-means (seeds drawn with probability w_n d_n^2, centroids weighted means), and "k-means++" and
"random_from_data" give their chosen rows the responsibility of one copy of the row, as on the data
with rows repeated; "random_from_data" and "random_means" draw rows with probability proportional
to the weight (without replacement, so equivalent in distribution to the repeated data only while
no row is drawn twice); "random" gives all copies of a row the same random responsibilities
(equivalent to the repeated data in expectation only). Without weights nothing changes.

The random draws are scikit-learn's: for the same random state (an int or a ``RandomState``) the
same k-means++ seeds, k-means labels and initial responsibilities (checked against scikit-learn
in the tests), so a fit starts where scikit-learn's starts. All passes over the data are blocked:
memory stays O(N + block x K), never N x K x D.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeAlias

import numpy as np

from em_engine import gaussian
from em_engine.checks import work_dtype

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data", "random_means")

RandomLike: TypeAlias = int | np.random.RandomState | np.random.Generator | None

_BLOCK_ELEMENTS = 1 << 17  # block rows x max(K, D) stays around 1 MB of float64


def check_random_state(rng: RandomLike) -> np.random.RandomState | np.random.Generator:
    """Return a random generator: an int or None seeds a ``RandomState`` (as scikit-learn does).

    Parameters
    ----------
    rng : int, RandomState, Generator or None
    """
    if isinstance(rng, np.random.RandomState | np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, int | np.integer) and not isinstance(rng, bool)):
        return np.random.RandomState(rng)
    raise ValueError(f"rng={rng!r} cannot be used to seed a numpy random generator")


def _block_rows(n_samples: int, width: int) -> int:
    return int(min(max(n_samples, 1), max(1024, _BLOCK_ELEMENTS // max(width, 1))))


def _blocks(n_samples: int, block: int) -> Iterator[slice]:
    for start in range(0, n_samples, block):
        yield slice(start, min(start + block, n_samples))


def _centred_sq_norms(X: np.ndarray, centre: np.ndarray, block: int) -> np.ndarray:
    """Squared norms of the rows of X - centre, shape (N,), float64 (blocked)."""
    out = np.empty(X.shape[0])
    for sl in _blocks(X.shape[0], block):
        xb = np.asarray(X[sl], dtype=np.float64) - centre
        np.einsum("ij,ij->i", xb, xb, out=out[sl])
    return out


def _sq_distances(
    xb: np.ndarray, xb_sq: np.ndarray, centres: np.ndarray, centres_sq: np.ndarray
) -> np.ndarray:
    """Squared distances of centred rows (B, D) to centred centres (C, D): (B, C), clipped >= 0."""
    d = xb @ centres.T
    d *= -2.0
    d += xb_sq[:, None]
    d += centres_sq[None, :]
    np.maximum(d, 0.0, out=d)
    return d


def _distances_to_rows(
    X: np.ndarray, centre: np.ndarray, x_sq: np.ndarray, rows: np.ndarray, block: int
) -> np.ndarray:
    """Squared distances of every sample to the samples ``rows``, shape (N, len(rows))."""
    cand = np.asarray(X[rows], dtype=np.float64) - centre
    cand_sq = x_sq[rows]
    out = np.empty((X.shape[0], len(rows)))
    for sl in _blocks(X.shape[0], block):
        xb = np.asarray(X[sl], dtype=np.float64) - centre
        out[sl] = _sq_distances(xb, x_sq[sl], cand, cand_sq)
    return out


def kmeans_plusplus(
    X: np.ndarray,
    n_clusters: int,
    rng: RandomLike = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``n_clusters`` rows of X by greedy k-means++ seeding (scikit-learn's algorithm).

    Each new centre is the best (lowest resulting inertia) of ``2 + log(K)`` candidates drawn with
    probability proportional to the squared distance to the nearest centre chosen so far.

    Parameters
    ----------
    X : ndarray (N, D), float32 or float64
    n_clusters : int, 1 <= K <= N
    rng : int, RandomState, Generator or None
    sample_weight : ndarray (N,) float64 frequency weights, or None

    Returns
    -------
    centres : ndarray (K, D) float64, the chosen rows
    indices : ndarray (K,) intp, their row numbers
    """
    random = check_random_state(rng)
    n_samples = X.shape[0]
    block = _block_rows(n_samples, max(X.shape[1], 8))
    centre = X.mean(axis=0, dtype=np.float64)
    x_sq = _centred_sq_norms(X, centre, block)
    return _kmeans_plusplus(X, n_clusters, random, centre, x_sq, block, sample_weight)


def _kmeans_plusplus(
    X: np.ndarray,
    n_clusters: int,
    random: np.random.RandomState | np.random.Generator,
    centre: np.ndarray,
    x_sq: np.ndarray,
    block: int,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    n_samples = X.shape[0]
    n_local_trials = 2 + int(np.log(n_clusters))
    indices = np.empty(n_clusters, dtype=np.intp)
    # as scikit-learn draws it (with sample weights of one): the same first centre, and so the
    # same k-means, for the same random state
    weights = np.ones(n_samples, dtype=X.dtype) if sample_weight is None else sample_weight
    indices[0] = random.choice(n_samples, p=weights / weights.sum())
    closest = _distances_to_rows(X, centre, x_sq, indices[:1], block)[:, 0]
    potential = closest.sum() if sample_weight is None else closest @ sample_weight
    for c in range(1, n_clusters):
        targets = random.uniform(size=n_local_trials) * potential
        mass = closest if sample_weight is None else closest * sample_weight
        candidates = np.searchsorted(np.cumsum(mass), targets)
        np.clip(candidates, None, n_samples - 1, out=candidates)
        dist = _distances_to_rows(X, centre, x_sq, candidates, block)
        np.minimum(dist, closest[:, None], out=dist)
        potentials = dist.sum(axis=0) if sample_weight is None else sample_weight @ dist
        best = int(np.argmin(potentials))
        potential = potentials[best]
        closest = np.ascontiguousarray(dist[:, best])
        indices[c] = candidates[best]
    return np.asarray(X[indices], dtype=np.float64), indices


def _assign(
    X: np.ndarray,
    centre: np.ndarray,
    centres: np.ndarray,
    block: int,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest centre per row (blocked); centres are in centred (X - centre) coordinates.

    Returns labels (N,) intp, per-cluster (weighted) sums of centred rows (K, D) and (weighted)
    counts (K,) float64.
    """
    n_samples, n_features = X.shape
    n_clusters = centres.shape[0]
    centres_t = -2.0 * centres.T
    centres_sq = np.einsum("ij,ij->i", centres, centres)
    labels = np.empty(n_samples, dtype=np.intp)
    sums = np.zeros((n_clusters, n_features))
    for sl in _blocks(n_samples, block):
        xb = np.asarray(X[sl], dtype=np.float64) - centre
        scores = xb @ centres_t  # |x - c|^2 - |x|^2, shape (B, K)
        scores += centres_sq
        lb = np.argmin(scores, axis=1)
        labels[sl] = lb
        if sample_weight is not None:
            xb *= sample_weight[sl, None]
        for j in range(n_features):
            sums[:, j] += np.bincount(lb, weights=xb[:, j], minlength=n_clusters)
    counts = np.bincount(labels, weights=sample_weight, minlength=n_clusters).astype(np.float64)
    return labels, sums, counts


def _relocate_empty_clusters(
    X: np.ndarray,
    centre: np.ndarray,
    centres: np.ndarray,
    labels: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
    block: int,
    sample_weight: np.ndarray | None = None,
) -> None:
    """Move each empty cluster onto one of the rows farthest from their centre (in place).

    As scikit-learn: the row leaves its old cluster's sums and becomes the empty cluster's only row
    (with its weight).
    """
    empty = np.flatnonzero(counts == 0)
    if empty.size == 0:
        return
    own = np.empty(X.shape[0])
    for sl in _blocks(X.shape[0], block):
        xb = np.asarray(X[sl], dtype=np.float64) - centre
        diff = xb - centres[labels[sl]]
        np.einsum("ij,ij->i", diff, diff, out=own[sl])
    far = np.argsort(own, kind="stable")[::-1][: empty.size]
    for new_id, row in zip(empty, far, strict=False):
        x = np.asarray(X[row], dtype=np.float64) - centre
        old_id = labels[row]
        weight = 1.0 if sample_weight is None else float(sample_weight[row])
        sums[old_id] -= weight * x
        counts[old_id] -= weight
        sums[new_id] = weight * x
        counts[new_id] = weight


def kmeans(
    X: np.ndarray,
    n_clusters: int,
    rng: RandomLike = None,
    *,
    max_iter: int = 300,
    tol: float = 1e-4,
    initial_centres: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Lloyd's k-means from k-means++ seeds, as scikit-learn's ``KMeans(n_init=1)``.

    Stops when the labels no longer change, when the total squared centre shift is at most
    ``tol * mean(per-feature variance)``, or after ``max_iter`` iterations; the returned labels are
    those of the returned centres. Empty clusters are moved to the rows farthest from their centres.

    Parameters
    ----------
    X : ndarray (N, D), float32 or float64
    n_clusters : int, 1 <= K <= N
    rng : int, RandomState, Generator or None
    max_iter, tol : as scikit-learn's KMeans
    initial_centres : ndarray (K, D), optional; default k-means++ seeds drawn with ``rng``
    sample_weight : ndarray (N,) float64 frequency weights, or None (weighted k-means)

    Returns
    -------
    centres : ndarray (K, D) float64
    labels : ndarray (N,) intp
    n_iter : int, Lloyd iterations run
    """
    random = check_random_state(rng)
    n_samples, n_features = X.shape
    block = _block_rows(n_samples, max(n_clusters, n_features, 8))
    centre = X.mean(axis=0, dtype=np.float64)
    x_sq = _centred_sq_norms(X, centre, block)
    tol_abs = x_sq.sum() / (n_samples * n_features) * tol
    if initial_centres is None:
        initial_centres = _kmeans_plusplus(
            X, n_clusters, random, centre, x_sq, block, sample_weight
        )[0]
    centres = np.asarray(initial_centres, dtype=np.float64) - centre
    labels = np.full(n_samples, -1, dtype=np.intp)
    strict = False
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        new_labels, sums, counts = _assign(X, centre, centres, block, sample_weight)
        _relocate_empty_clusters(X, centre, centres, new_labels, sums, counts, block, sample_weight)
        filled = counts > 0
        new_centres = centres.copy()
        new_centres[filled] = sums[filled] / counts[filled, None]
        shift = float(((new_centres - centres) ** 2).sum())
        strict = bool(np.array_equal(new_labels, labels))
        labels, centres = new_labels, new_centres
        if strict or shift <= tol_abs:
            break
    if not strict:
        labels = _assign(X, centre, centres, block)[0]
    return centres + centre, labels, n_iter


def initial_responsibilities(
    X: np.ndarray,
    n_components: int,
    method: str = "kmeans",
    rng: RandomLike = None,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Initial responsibilities by ``method`` (one of ``INIT_METHODS``), as scikit-learn's.

    Parameters
    ----------
    X : ndarray (N, D), float32 or float64, finite
    n_components : int, 1 <= K <= N
    method : "kmeans", "k-means++", "random" or "random_from_data"
    rng : int, RandomState, Generator or None
    sample_weight : ndarray (N,) float64 frequency weights, or None (see the module docstring);
        a chosen row of "k-means++" and "random_from_data" gets 1 / w_n (one of its copies)

    Returns
    -------
    resp : ndarray (N, K) of X's dtype; rows sum to 1 ("kmeans", "random") or, for "k-means++" and
        "random_from_data", K rows are one-hot (one per component) and the others are zero.
    """
    n_samples = X.shape[0]
    if method not in INIT_METHODS or method == "random_means":
        methods = INIT_METHODS[:-1]
        raise ValueError(f"init={method!r} has no initial responsibilities; use one of {methods}")
    if not 1 <= n_components <= n_samples:
        raise ValueError(
            f"n_components={n_components} must be between 1 and the number of samples ({n_samples})"
        )
    random = check_random_state(rng)
    resp = np.zeros((n_samples, n_components), dtype=work_dtype(X))
    if method == "kmeans":
        labels = kmeans(X, n_components, random, sample_weight=sample_weight)[1]
        resp[np.arange(n_samples), labels] = 1
    elif method == "k-means++":
        indices = kmeans_plusplus(X, n_components, random, sample_weight)[1]
        resp[indices, np.arange(n_components)] = _one_copy(indices, sample_weight)
    elif method == "random":
        resp[...] = random.uniform(size=(n_samples, n_components))
        resp /= resp.sum(axis=1, keepdims=True)
    else:
        indices = _draw_rows(random, n_components, sample_weight, n_samples)
        resp[indices, np.arange(n_components)] = _one_copy(indices, sample_weight)
    return resp


def _one_copy(indices: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray | float:
    """The responsibility of chosen rows that gives each the weight of one copy: 1 / w."""
    return 1.0 if sample_weight is None else 1.0 / sample_weight[indices]


def _draw_rows(
    random: np.random.RandomState | np.random.Generator,
    n_components: int,
    sample_weight: np.ndarray | None,
    n_samples: int,
) -> np.ndarray:
    """K distinct row numbers (K,), uniformly or with probability proportional to the weight."""
    if sample_weight is None:
        return random.choice(n_samples, size=n_components, replace=False)
    if np.count_nonzero(sample_weight) < n_components:
        raise ValueError(
            f"n_components={n_components} is more than the number of rows with a positive "
            f"sample weight ({np.count_nonzero(sample_weight)})"
        )
    p = sample_weight / sample_weight.sum()
    return random.choice(n_samples, size=n_components, replace=False, p=p)


def nearest_mean_responsibilities(X: np.ndarray, means: np.ndarray) -> np.ndarray:
    """One-hot responsibilities: each row to its nearest mean (Euclidean), blocked.

    Parameters
    ----------
    X : ndarray (N, D), float32 or float64
    means : ndarray (K, D)

    Returns
    -------
    resp : ndarray (N, K) of X's dtype, one 1 per row.
    """
    n_samples = X.shape[0]
    means = np.asarray(means, dtype=np.float64)
    centre = X.mean(axis=0, dtype=np.float64)
    block = _block_rows(n_samples, max(means.shape[0], X.shape[1], 8))
    labels = _assign(X, centre, means - centre, block)[0]
    resp = np.zeros((n_samples, means.shape[0]), dtype=work_dtype(X))
    resp[np.arange(n_samples), labels] = 1
    return resp


def initial_parameters(
    X: np.ndarray,
    n_components: int,
    covariance_type: str = "full",
    method: str = "kmeans",
    rng: RandomLike = None,
    reg_covar: float = 1e-6,
    m_step: Callable[[gaussian.SufficientStats], tuple[np.ndarray, ...]] | None = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial mixture parameters: an M-step from ``initial_responsibilities``.

    Parameters
    ----------
    X : ndarray (N, D), float32 or float64, finite
    n_components : int, 1 <= K <= N
    covariance_type : "full", "tied", "diag" or "spherical"
    method : one of ``INIT_METHODS``
    rng : int, RandomState, Generator or None
    reg_covar : float >= 0, added to the covariance diagonals
    m_step : the fit's own M-step (statistics -> weights, means, covariances), e.g. the MAP one
        with a prior, so that the start is a point of the same objective; default: maximum
        likelihood with ``reg_covar``
    sample_weight : ndarray (N,) float64 frequency weights (checked), or None

    Returns
    -------
    weights : ndarray (K,)
    means : ndarray (K, D)
    covariances : ndarray, full (K, D, D), tied (D, D), diag (K, D), spherical (K,)
    """
    if method == "random_means":
        return _random_means(X, n_components, covariance_type, rng, reg_covar, sample_weight)
    resp = initial_responsibilities(X, n_components, method, rng, sample_weight)
    stats = gaussian.stats_from_resp(X, resp, covariance_type, sample_weight)
    if m_step is not None:
        return m_step(stats)
    return gaussian.m_step(stats, covariance_type, reg_covar)


def _random_means(
    X: np.ndarray,
    n_components: int,
    covariance_type: str,
    rng: RandomLike,
    reg_covar: float,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The "random_means" start: K distinct rows as means (K, D), the data's covariance (a
    one-component M-step, in the type's shape) for each, weights 1/K."""
    n_samples = X.shape[0]
    if not 1 <= n_components <= n_samples:
        raise ValueError(
            f"n_components={n_components} must be between 1 and the number of samples ({n_samples})"
        )
    indices = _draw_rows(check_random_state(rng), n_components, sample_weight, n_samples)
    whole = np.ones((n_samples, 1), dtype=work_dtype(X))
    stats = gaussian.stats_from_resp(X, whole, covariance_type, sample_weight)
    covariance = gaussian.m_step(stats, covariance_type, reg_covar)[2]
    if covariance_type != "tied":  # (1, ...) -> (K, ...)
        covariance = np.repeat(covariance, n_components, axis=0)
    weights = np.full(n_components, 1.0 / n_components)
    return weights, X[indices].astype(np.float64), covariance
