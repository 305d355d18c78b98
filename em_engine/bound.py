"""Why EM climbs: the lower bound, per-point terms and the agreement of two labellings.

For any distribution q(z_n) over the components of each row, the log-likelihood splits as

    log p(X | theta) = L(q, theta) + KL(q || p(z | X, theta)),
    L(q, theta) = sum_n sum_k q_nk log(pi_k N(x_n | mu_k, Sigma_k)) + H(q)
                = Q(theta | q) + H(q),

with Q the expected complete-data log-likelihood and H the entropy of q. The E-step sets q to the
responsibilities of theta (KL = 0: the bound touches the log-likelihood); the M-step maximises
Q(. | q) (the bound rises; the log-likelihood rises at least as much). Hard (classification) EM
restricts q to one component per row (H = 0), so its bound is the classification log-likelihood
and a gap remains. With a prior both sides gain log p(theta). Q depends on q only through the
E-step's sufficient statistics, so the bound is computed from them without another pass over X.

Shapes: N samples, D features, K components; covariances and precision factors in scikit-learn's
shape per type: full (K, D, D), tied (D, D), diag (K, D), spherical (K,).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from em_engine import gaussian, missing
from em_engine.checks import check_data
from em_engine.covariance import compute_precision_cholesky, log_det_cholesky

__all__ = [
    "PointTerms",
    "adjusted_rand_score",
    "expected_complete_log_likelihood",
    "point_terms",
    "responsibility_trace",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _mahalanobis_sums(
    stats: gaussian.SufficientStats, means: np.ndarray, pc: np.ndarray, covariance_type: str
) -> np.ndarray:
    """(K,) sum_n q_nk (x_n - mu_k)^T P_k (x_n - mu_k) = tr(P_k S_k) + n_k d_k^T P_k d_k, with
    S_k the scatter about the weighted mean m_k and d_k = m_k - mu_k (tied: the trace term of
    the summed scatter is split evenly, only the total matters)."""
    d = stats.means - means  # (K, D)
    nk = stats.nk
    if covariance_type in ("full", "tied"):
        factors = pc if covariance_type == "full" else np.broadcast_to(pc, (nk.size, *pc.shape))
        precisions = factors @ np.swapaxes(factors, -1, -2)  # P = U U^T
        shift = nk * np.einsum("ki,kij,kj->k", d, precisions, d)
        if covariance_type == "full":
            return np.einsum("kij,kij->k", precisions, stats.scatter) + shift
        return shift + np.sum(precisions[0] * stats.scatter) / nk.size
    precision = pc**2 if covariance_type == "diag" else (pc**2)[:, None]
    return np.sum(precision * stats.scatter, axis=1) + nk * np.sum(precision * d * d, axis=1)


def expected_complete_log_likelihood(
    stats: gaussian.SufficientStats,
    weights: np.ndarray,
    means: np.ndarray,
    precisions_cholesky: np.ndarray,
    covariance_type: str,
) -> float:
    """Q(theta | q) = sum_n sum_k q_nk log(pi_k N(x_n | mu_k, Sigma_k)) from the statistics of q.

    stats : the sufficient statistics of q (counts (K,), weighted means (K, D), scatter about
        them); weights (K,), means (K, D), precisions_cholesky (type shape): theta.
    A component of weight 0 holding no responsibility adds nothing.
    """
    n_features = means.shape[1]
    nk = stats.nk
    log_det = log_det_cholesky(precisions_cholesky, covariance_type, n_features)
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    per_component = nk * (log_weights + log_det - 0.5 * n_features * _LOG_2PI)
    per_component = np.where(weights > 0.0, per_component, 0.0)
    quadratic = _mahalanobis_sums(stats, means, precisions_cholesky, covariance_type)
    return math.fsum(per_component - 0.5 * quadratic)


@dataclass(frozen=True)
class PointTerms:
    """The E-step's numbers for a few rows under one set of parameters.

    log_weighted : (n, K) log(pi_k N(x | mu_k, Sigma_k))
    log_component : (n, K) log N(x | mu_k, Sigma_k)
    log_density : (n,) log p(x) = log sum_k pi_k N(x | mu_k, Sigma_k)
    responsibilities : (n, K) r_k = pi_k N(x | mu_k, Sigma_k) / p(x)
    """

    log_weighted: np.ndarray
    log_component: np.ndarray
    log_density: np.ndarray
    responsibilities: np.ndarray

    @property
    def weighted(self) -> np.ndarray:
        """(n, K) pi_k N(x | mu_k, Sigma_k) (0 where below float64's range)."""
        return np.exp(self.log_weighted)

    @property
    def component(self) -> np.ndarray:
        """(n, K) N(x | mu_k, Sigma_k) (0 where below float64's range)."""
        return np.exp(self.log_component)

    @property
    def density(self) -> np.ndarray:
        """(n,) p(x) (0 where below float64's range)."""
        return np.exp(self.log_density)


def point_terms(
    points: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
) -> PointTerms:
    """PointTerms of points (n, D) under weights (K,), means (K, D), covariances (type shape).

    Cheap for a few rows (one blocked pass over them); DensityUnderflowError for a row that
    cannot be scored in float64. A row with missing cells (NaN) is scored on its observed cells
    (the marginal densities, as em_engine.missing's E-step does)."""
    points = check_data(np.atleast_2d(np.asarray(points, dtype=np.float64)), scan=False)
    patterns = missing.Patterns.of(points, fitting=False)
    if patterns is not None:
        log_density, log_resp = missing.estimate_log_prob_resp(
            points, patterns, weights, means, np.asarray(covariances), covariance_type
        )
    else:
        pc = compute_precision_cholesky(np.asarray(covariances, dtype=np.float64), covariance_type)
        log_density, log_resp = gaussian.estimate_log_prob_resp(
            points, weights, means, pc, covariance_type
        )
    log_weighted = log_resp + log_density[:, None]
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(weights, dtype=np.float64))
    log_component = np.where(np.isfinite(log_weights), log_weighted - log_weights, -np.inf)
    return PointTerms(log_weighted, log_component, log_density, np.exp(log_resp))


def adjusted_rand_score(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Hubert and Arabie's adjusted Rand index of two labellings (N,) of the same rows.

    1 for identical partitions (whatever the label names), about 0 for independent ones; 1 when
    both put every row in one cluster (as scikit-learn)."""
    labels_true = np.asarray(labels_true).ravel()
    labels_pred = np.asarray(labels_pred).ravel()
    if labels_true.shape != labels_pred.shape:
        raise ValueError(
            f"the labellings have {labels_true.size} and {labels_pred.size} rows; they must match"
        )
    n = labels_true.size
    _, rows = np.unique(labels_true, return_inverse=True)
    _, cols = np.unique(labels_pred, return_inverse=True)
    table = np.zeros((rows.max(initial=-1) + 1, cols.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (rows, cols), 1)

    def pairs(counts: np.ndarray) -> float:
        counts = counts.astype(np.float64)
        return float(np.sum(counts * (counts - 1.0)) / 2.0)

    index = pairs(table)
    sum_rows, sum_cols = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    total = n * (n - 1) / 2.0
    if total == 0.0:
        return 1.0
    expected = sum_rows * sum_cols / total
    maximum = (sum_rows + sum_cols) / 2.0
    if maximum == expected:  # both trivial partitions (one cluster, or all singletons)
        return 1.0
    return (index - expected) / (maximum - expected)


def responsibility_trace(
    history: Sequence[Any],
    points: np.ndarray,
    covariance_type: str,
    max_entries: int = 300,
) -> tuple[np.ndarray, np.ndarray]:
    """Responsibilities of a few rows under every parameter set of a session's history.

    history : EMSession.history (entries with iteration, weights, means, covariances); points
    (P, D). At most ``max_entries`` entries, evenly spaced, the first and last included.

    Returns iterations (T,) int64 and responsibilities (T, P, K).
    """
    n = len(history)
    picked = np.unique(np.linspace(0, n - 1, min(n, max_entries)).round().astype(np.int64))
    resp = [
        point_terms(points, e.weights, e.means, e.covariances, covariance_type).responsibilities
        for e in (history[int(i)] for i in picked)
    ]
    k = len(history[0].weights) if n else 0
    stacked = np.stack(resp) if resp else np.empty((0, len(points), k))
    return picked, stacked
