"""Per-covariance-type Gaussian kernels: precisions, a blocked E-step, the M-step from statistics.

The numbers follow scikit-learn's ``sklearn/mixture/_gaussian_mixture.py``: a log-domain E-step
with logsumexp, Cholesky factors of the precisions (upper triangular, ``precision = U @ U.T``),
log-determinants from their diagonals, ``reg_covar`` added to the covariance diagonal and
``10 * eps`` to the component counts. Shapes: N samples, D features, K components.
``covariances`` and ``precisions_cholesky`` have scikit-learn's shape for each type:
full (K, D, D), tied (D, D), diag (K, D), spherical (K,).

The E-step walks over blocks of rows. One pass gives the log-likelihood, the sufficient
statistics of the M-step (counts, first and second moments about a fixed shift) and, when asked,
labels, confidence and per-sample log densities; no N x K x D temporary is ever made. float32
data stay float32 in the blocked arithmetic (parameters and accumulated sums are float64).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from em_engine.prior import Prior

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

_LOG_2PI = math.log(2.0 * math.pi)

# Rows per block: block x K temporaries stay in the L2 cache; enough rows that numpy's per-call
# overhead is small.
_BLOCK_ELEMENTS = 1 << 15
_MIN_BLOCK_ROWS = 1024
_MAX_BLOCK_ROWS = 16384
# Blocks run on a small thread pool (numpy releases the GIL) when there are at least this many rows.
_THREADED_MIN_ROWS = 1 << 16
_N_THREADS = min(2, os.cpu_count() or 1)


def check_covariance_type(covariance_type: str) -> str:
    """Return ``covariance_type`` if it is one of COVARIANCE_TYPES, else raise ValueError."""
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"Invalid value for 'covariance_type': {covariance_type!r}; "
            f"expected one of {', '.join(repr(t) for t in COVARIANCE_TYPES)}"
        )
    return covariance_type


def _not_positive_definite(dtype: np.dtype) -> ValueError:
    message = (
        "Fitting the mixture model failed because some components have "
        "ill-defined empirical covariance (for instance caused by singleton "
        "or collapsed samples). Try to decrease the number of components, "
        "increase reg_covar, or scale the input data."
    )
    if dtype == np.float32:
        message += (
            " The numerical accuracy can also be improved by passing float64"
            " data instead of float32."
        )
    return ValueError(message)


# --- precisions ----------------------------------------------------------------------------------


def _inverse_lower_transposed(cov: np.ndarray) -> np.ndarray:
    """(..., D, D) SPD matrices -> upper-triangular U with U @ U.T = inverse (as scikit-learn)."""
    if not np.all(np.isfinite(cov)):
        raise _not_positive_definite(cov.dtype)
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise _not_positive_definite(cov.dtype) from None
    eye = np.broadcast_to(np.eye(cov.shape[-1], dtype=cov.dtype), cov.shape)
    return np.swapaxes(np.linalg.solve(chol, eye), -1, -2)


def _precision_cholesky_vector(cov: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(cov)) or np.any(cov <= 0.0):
        raise _not_positive_definite(cov.dtype)
    return 1.0 / np.sqrt(cov)


_PRECISION_CHOLESKY = {
    "full": _inverse_lower_transposed,
    "tied": _inverse_lower_transposed,
    "diag": _precision_cholesky_vector,
    "spherical": _precision_cholesky_vector,
}


def compute_precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Cholesky factors of the precisions, as scikit-learn's ``_compute_precision_cholesky``.

    Parameters
    ----------
    covariances : full (K, D, D), tied (D, D), diag (K, D), spherical (K,)
    covariance_type : one of COVARIANCE_TYPES

    Returns
    -------
    precisions_cholesky : same shape; upper-triangular U with ``U @ U.T == inv(covariance)``
        for full/tied, ``1 / sqrt(covariance)`` for diag/spherical.

    Raises
    ------
    ValueError
        scikit-learn's message naming reg_covar when a covariance is not positive definite.
    """
    covariances = np.asarray(covariances)
    return _PRECISION_CHOLESKY[check_covariance_type(covariance_type)](covariances)


def _square_factor(factor: np.ndarray) -> np.ndarray:
    """U -> U @ U.T for (..., D, D)."""
    return factor @ np.swapaxes(factor, -1, -2)


def covariances_from_precision_cholesky(
    precisions_cholesky: np.ndarray, covariance_type: str
) -> np.ndarray:
    """Covariances (type shape) from Cholesky factors of the precisions (type shape)."""
    pc = np.asarray(precisions_cholesky, dtype=np.float64)
    if check_covariance_type(covariance_type) in ("full", "tied"):
        eye = np.broadcast_to(np.eye(pc.shape[-1]), pc.shape)
        inv = np.linalg.solve(pc, eye)  # U^{-1}; covariance = U^{-T} U^{-1}
        return np.swapaxes(inv, -1, -2) @ inv
    return 1.0 / (pc * pc)


def precisions_from_precision_cholesky(
    precisions_cholesky: np.ndarray, covariance_type: str
) -> np.ndarray:
    """Precision matrices/vectors (type shape) from their Cholesky factors (type shape)."""
    pc = np.asarray(precisions_cholesky)
    if check_covariance_type(covariance_type) in ("full", "tied"):
        return _square_factor(pc)
    return pc * pc


def precision_cholesky_from_precisions(precisions: np.ndarray, covariance_type: str) -> np.ndarray:
    """Upper-triangular U with ``U @ U.T == precision`` (scikit-learn's flipped Cholesky).

    Parameters
    ----------
    precisions : full (K, D, D), tied (D, D), diag (K, D), spherical (K,); positive definite.
    """
    precisions = np.asarray(precisions)
    if check_covariance_type(covariance_type) in ("full", "tied"):
        flipped = np.flip(precisions, axis=(-2, -1))
        try:
            return np.flip(np.linalg.cholesky(flipped), axis=(-2, -1))
        except np.linalg.LinAlgError:
            raise ValueError(
                f"'{covariance_type} precision' should be symmetric, positive-definite"
            ) from None
    return np.sqrt(precisions)


def log_det_cholesky(
    precisions_cholesky: np.ndarray, covariance_type: str, n_features: int
) -> np.ndarray | float:
    """log det of the Cholesky factors: (K,) for full/diag/spherical, a float for tied."""
    pc = np.asarray(precisions_cholesky)
    if covariance_type == "full":
        return np.sum(np.log(np.diagonal(pc, axis1=1, axis2=2)), axis=1)
    if covariance_type == "tied":
        return float(np.sum(np.log(np.diagonal(pc))))
    if covariance_type == "diag":
        return np.sum(np.log(pc), axis=1)
    return n_features * np.log(pc)


def full_covariances(
    covariances: np.ndarray,
    covariance_type: str,
    n_features: int,
    n_components: int | None = None,
) -> np.ndarray:
    """Expand covariances of any type to full matrices.

    Parameters
    ----------
    covariances : full (K, D, D), tied (D, D), diag (K, D), spherical (K,)
    covariance_type : one of COVARIANCE_TYPES
    n_features : D
    n_components : K, needed only for tied (the shared matrix is repeated K times; 1 if None)

    Returns
    -------
    (K, D, D) float64, a fresh array.
    """
    cov = np.asarray(covariances, dtype=np.float64)
    covariance_type = check_covariance_type(covariance_type)
    if covariance_type == "full":
        return cov.copy()
    if covariance_type == "tied":
        return np.repeat(cov[None], 1 if n_components is None else n_components, axis=0)
    if covariance_type == "diag":
        out = np.zeros((cov.shape[0], n_features, n_features))
        idx = np.arange(n_features)
        out[:, idx, idx] = cov
        return out
    return cov[:, None, None] * np.eye(n_features)


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Number of free parameters: weights (K - 1) + means (K D) + covariances (by type)."""
    cov_params = {
        "full": n_components * n_features * (n_features + 1) // 2,
        "tied": n_features * (n_features + 1) // 2,
        "diag": n_components * n_features,
        "spherical": n_components,
    }[check_covariance_type(covariance_type)]
    return int(cov_params + n_features * n_components + n_components - 1)


# --- sufficient statistics -----------------------------------------------------------------------


@dataclass(frozen=True)
class SufficientStats:
    """Per-component sums over all rows, about a fixed ``shift``.

    Attributes
    ----------
    nk : (K,) sum_n r_nk, plus 10 * eps (as scikit-learn)
    sx : (K, D) sum_n r_nk (x_n - shift)
    sxx : second moments about shift: full (K, D, D) sum_n r_nk d_n d_n^T; tied (D, D)
        sum_n d_n d_n^T (responsibilities sum to one per row); diag and spherical (K, D)
        sum_n r_nk d_n**2.
    shift : (D,) the fixed centre
    n_samples : N
    """

    nk: np.ndarray
    sx: np.ndarray
    sxx: np.ndarray
    shift: np.ndarray
    n_samples: int


def _moment_features(xc: np.ndarray, covariance_type: str) -> np.ndarray:
    """(B, F) features whose responsibility-weighted sums give nk, sx and sxx in one matmul.

    Columns: 1 | x (D) | second moments (full: D(D+1)/2 upper-triangle products; diag/spherical:
    D squares; tied: none, its unweighted second moment is summed separately).
    """
    n_rows, n_features = xc.shape
    if covariance_type == "full":
        rows, cols = np.triu_indices(n_features)
        n_second = rows.size
    elif covariance_type == "tied":
        n_second = 0
    else:
        n_second = n_features
    feats = np.empty((n_rows, 1 + n_features + n_second), dtype=xc.dtype)
    feats[:, 0] = 1.0
    feats[:, 1 : 1 + n_features] = xc
    if covariance_type == "full":
        np.multiply(xc[:, rows], xc[:, cols], out=feats[:, 1 + n_features :])
    elif covariance_type != "tied":
        np.multiply(xc, xc, out=feats[:, 1 + n_features :])
    return feats


def _block_moments(
    xc: np.ndarray, resp: np.ndarray, covariance_type: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """(K, F) float64 weighted sums for one block (see _moment_features); tied adds (D, D)."""
    sums = (resp.T @ _moment_features(xc, covariance_type)).astype(np.float64)
    if covariance_type == "tied":
        return sums, (xc.T @ xc).astype(np.float64)
    return sums, None


def _stats_from_sums(
    sums: np.ndarray,
    tied_sxx: np.ndarray | None,
    shift: np.ndarray,
    covariance_type: str,
    n_samples: int,
    eps: float,
) -> SufficientStats:
    n_components = sums.shape[0]
    n_features = shift.shape[0]
    nk = sums[:, 0] + 10.0 * eps
    sx = sums[:, 1 : 1 + n_features].copy()
    second = sums[:, 1 + n_features :]
    if covariance_type == "full":
        rows, cols = np.triu_indices(n_features)
        sxx = np.empty((n_components, n_features, n_features))
        sxx[:, rows, cols] = second
        sxx[:, cols, rows] = second
    elif covariance_type == "tied":
        sxx = tied_sxx
    else:
        sxx = second.copy()
    return SufficientStats(nk=nk, sx=sx, sxx=sxx, shift=shift, n_samples=n_samples)


def _work_dtype(X: np.ndarray) -> np.dtype:
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


def _as_data(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array of shape (n_samples, n_features), got {X.shape}")
    return X


def _block_bounds(n_rows: int, width: int, block_rows: int | None) -> list[tuple[int, int]]:
    if block_rows is None:
        block_rows = int(
            np.clip(_BLOCK_ELEMENTS // max(width, 1), _MIN_BLOCK_ROWS, _MAX_BLOCK_ROWS)
        )
    block_rows = max(int(block_rows), 1)
    return [(start, min(start + block_rows, n_rows)) for start in range(0, n_rows, block_rows)]


def _map_blocks(func: Callable[[int, int], object], bounds: list[tuple[int, int]]) -> list:
    """func(start, stop) for every block, in block order (results do not depend on threads)."""
    if _N_THREADS > 1 and len(bounds) > 1 and bounds[-1][1] >= _THREADED_MIN_ROWS:
        with ThreadPoolExecutor(_N_THREADS) as pool:
            return list(pool.map(lambda b: func(*b), bounds))
    return [func(start, stop) for start, stop in bounds]


def stats_from_resp(X: np.ndarray, resp: np.ndarray, covariance_type: str) -> SufficientStats:
    """Sufficient statistics from given responsibilities (used by initialisation).

    Parameters
    ----------
    X : (N, D) float32/float64
    resp : (N, K) responsibilities, rows summing to one
    covariance_type : one of COVARIANCE_TYPES

    Returns
    -------
    SufficientStats about the column mean of X.
    """
    X = _as_data(X)
    covariance_type = check_covariance_type(covariance_type)
    dtype = _work_dtype(X)
    resp = np.asarray(resp)
    shift = X.mean(axis=0, dtype=np.float64)
    shift_w = shift.astype(dtype)
    width = 1 + X.shape[1] * (X.shape[1] + 3) // 2

    def block(start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        xc = X[start:stop] - shift_w
        return _block_moments(xc, resp[start:stop].astype(dtype, copy=False), covariance_type)

    parts = _map_blocks(block, _block_bounds(X.shape[0], width, None))
    sums = np.sum([p[0] for p in parts], axis=0)
    tied = np.sum([p[1] for p in parts], axis=0) if covariance_type == "tied" else None
    return _stats_from_sums(
        sums, tied, shift, covariance_type, X.shape[0], float(np.finfo(resp.dtype).eps)
    )


# --- log-probabilities per block -----------------------------------------------------------------
# Each kernel returns 0.5 * squared Mahalanobis distances (B, K) of centred rows xc (B, D) from
# centred means cm (K, D); factors are prepared once per pass (scaled by sqrt(0.5)).


def _half_mahalanobis_full(xc: np.ndarray, prep: tuple) -> np.ndarray:
    if len(prep) == 4:  # D == 2: closed form on (B, K) arrays, no matmul
        cm, u00, u01, u11 = prep
        d0 = xc[:, 0:1] - cm[:, 0]
        d1 = xc[:, 1:2] - cm[:, 1]
        y1 = d0 * u01
        d1 *= u11
        y1 += d1
        d0 *= u00
        d0 *= d0
        y1 *= y1
        d0 += y1
        return d0
    factors, offsets, n_components = prep
    y = xc @ factors  # (B, K * D)
    y -= offsets
    y *= y
    return y.reshape(xc.shape[0], n_components, -1).sum(axis=2)


def _prepare_full(cm: np.ndarray, pc: np.ndarray, dtype: np.dtype) -> tuple:
    n_components, n_features, _ = pc.shape
    scaled = pc * math.sqrt(0.5)
    if n_features == 2:
        return (
            cm.astype(dtype),
            scaled[:, 0, 0].astype(dtype),
            scaled[:, 0, 1].astype(dtype),
            scaled[:, 1, 1].astype(dtype),
        )
    factors = np.transpose(scaled, (1, 0, 2)).reshape(n_features, -1)
    offsets = np.einsum("kd,kde->ke", cm, scaled).reshape(-1)
    return factors.astype(dtype), offsets.astype(dtype), n_components


def _half_mahalanobis_tied(xc: np.ndarray, prep: tuple) -> np.ndarray:
    factor, offsets = prep
    y = xc @ factor  # (B, D)
    out = np.zeros((xc.shape[0], offsets.shape[0]), dtype=xc.dtype)
    for j in range(offsets.shape[1]):
        t = y[:, j : j + 1] - offsets[:, j]
        t *= t
        out += t
    return out


def _prepare_tied(cm: np.ndarray, pc: np.ndarray, dtype: np.dtype) -> tuple:
    scaled = pc * math.sqrt(0.5)
    return scaled.astype(dtype), (cm @ scaled).astype(dtype)


def _half_mahalanobis_diag(xc: np.ndarray, prep: tuple) -> np.ndarray:
    cm, scale = prep
    out = np.zeros((xc.shape[0], cm.shape[0]), dtype=xc.dtype)
    for j in range(cm.shape[1]):
        t = xc[:, j : j + 1] - cm[:, j]
        t *= scale[:, j]
        t *= t
        out += t
    return out


def _prepare_diag(cm: np.ndarray, pc: np.ndarray, dtype: np.dtype) -> tuple:
    return cm.astype(dtype), (pc * math.sqrt(0.5)).astype(dtype)


def _half_mahalanobis_spherical(xc: np.ndarray, prep: tuple) -> np.ndarray:
    cm, scale2 = prep
    out = np.zeros((xc.shape[0], cm.shape[0]), dtype=xc.dtype)
    for j in range(cm.shape[1]):
        t = xc[:, j : j + 1] - cm[:, j]
        t *= t
        out += t
    out *= scale2
    return out


def _prepare_spherical(cm: np.ndarray, pc: np.ndarray, dtype: np.dtype) -> tuple:
    return cm.astype(dtype), (0.5 * pc * pc).astype(dtype)


_KERNELS = {
    "full": (_prepare_full, _half_mahalanobis_full),
    "tied": (_prepare_tied, _half_mahalanobis_tied),
    "diag": (_prepare_diag, _half_mahalanobis_diag),
    "spherical": (_prepare_spherical, _half_mahalanobis_spherical),
}


class _Pass:
    """Everything one pass over X needs, prepared once from the parameters."""

    def __init__(
        self,
        X: np.ndarray,
        weights: np.ndarray,
        means: np.ndarray,
        precisions_cholesky: np.ndarray,
        covariance_type: str,
    ) -> None:
        self.covariance_type = check_covariance_type(covariance_type)
        self.dtype = _work_dtype(X)
        weights = np.asarray(weights, dtype=np.float64)
        means = np.asarray(means, dtype=np.float64)
        pc = np.asarray(precisions_cholesky, dtype=np.float64)
        n_features = X.shape[1]
        if means.ndim != 2 or means.shape[1] != n_features:
            raise ValueError(
                f"means have shape {means.shape}, expected (n_components, {n_features})"
            )
        self.n_components = means.shape[0]
        self.shift = weights @ means  # a fixed centre near the data: keeps sxx well conditioned
        self.shift_w = self.shift.astype(self.dtype)
        prepare, self.kernel = _KERNELS[self.covariance_type]
        self.prep = prepare(means - self.shift, pc, self.dtype)
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        self.constant = (
            log_weights
            + log_det_cholesky(pc, self.covariance_type, n_features)
            - 0.5 * n_features * _LOG_2PI
        ).astype(self.dtype)
        self.width = max(self.n_components, 1 + n_features * (n_features + 3) // 2)

    def centred(self, X: np.ndarray, start: int, stop: int) -> np.ndarray:
        return X[start:stop] - self.shift_w

    def weighted_log_prob(self, xc: np.ndarray) -> np.ndarray:
        """(B, K) log(w_k) + log N(x | mu_k, Sigma_k) for centred rows xc (B, D)."""
        wlp = self.kernel(xc, self.prep)
        np.subtract(self.constant, wlp, out=wlp)
        return wlp


def _normalise(wlp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In place: wlp (B, K) -> exp(wlp - max); returns (max (B, 1), row sums (B, 1))."""
    top = wlp.max(axis=1, keepdims=True)
    finite = np.isfinite(top)
    if not finite.all():
        top = np.where(finite, top, 0.0).astype(wlp.dtype)
    wlp -= top
    np.exp(wlp, out=wlp)
    return top, wlp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class EStepResult:
    """One E-step over all rows.

    Attributes
    ----------
    log_likelihood : sum_n log p(x_n | parameters), of the parameters that went in
    stats : SufficientStats for the M-step
    labels : (N,) intp argmax responsibility, or None
    confidence : (N,) max responsibility, or None
    sample_log_density : (N,) log p(x_n), or None
    """

    log_likelihood: float
    stats: SufficientStats
    labels: np.ndarray | None = None
    confidence: np.ndarray | None = None
    sample_log_density: np.ndarray | None = None


def e_step(
    X: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    precisions_cholesky: np.ndarray,
    covariance_type: str,
    *,
    with_labels: bool = False,
    with_density: bool = False,
    block_rows: int | None = None,
) -> EStepResult:
    """Blocked E-step: log-likelihood and sufficient statistics in one pass over X.

    Parameters
    ----------
    X : (N, D) float32 or float64 (float32 stays float32 in the per-block arithmetic)
    weights : (K,)
    means : (K, D)
    precisions_cholesky : full (K, D, D), tied (D, D), diag (K, D), spherical (K,)
    covariance_type : one of COVARIANCE_TYPES
    with_labels : also return labels (N,) and confidence (N,)
    with_density : also return sample_log_density (N,)
    block_rows : rows per block (default: chosen so that block temporaries stay in cache)
    """
    X = _as_data(X)
    p = _Pass(X, weights, means, precisions_cholesky, covariance_type)
    n_samples = X.shape[0]
    labels = np.empty(n_samples, dtype=np.intp) if with_labels else None
    confidence = np.empty(n_samples, dtype=p.dtype) if with_labels else None
    density = np.empty(n_samples, dtype=p.dtype) if with_density else None

    def block(start: int, stop: int) -> tuple[float, np.ndarray, np.ndarray | None]:
        xc = p.centred(X, start, stop)
        resp = p.weighted_log_prob(xc)
        top, total = _normalise(resp)
        if labels is not None:
            labels[start:stop] = resp.argmax(axis=1)
            np.divide(1.0, total[:, 0], out=confidence[start:stop])
        log_norm = np.log(total)
        log_norm += top
        if density is not None:
            density[start:stop] = log_norm[:, 0]
        resp /= total
        sums, tied = _block_moments(xc, resp, p.covariance_type)
        return float(log_norm.sum(dtype=np.float64)), sums, tied

    parts = _map_blocks(block, _block_bounds(n_samples, p.width, block_rows))
    log_likelihood = math.fsum(part[0] for part in parts)
    sums = np.sum([part[1] for part in parts], axis=0)
    tied = np.sum([part[2] for part in parts], axis=0) if p.covariance_type == "tied" else None
    stats = _stats_from_sums(
        sums, tied, p.shift, p.covariance_type, n_samples, float(np.finfo(p.dtype).eps)
    )
    return EStepResult(log_likelihood, stats, labels, confidence, density)


def estimate_log_prob_resp(
    X: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    precisions_cholesky: np.ndarray,
    covariance_type: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample log density (N,) and log responsibilities (N, K), computed block by block."""
    X = _as_data(X)
    p = _Pass(X, weights, means, precisions_cholesky, covariance_type)
    log_prob_norm = np.empty(X.shape[0], dtype=p.dtype)
    log_resp = np.empty((X.shape[0], p.n_components), dtype=p.dtype)

    def block(start: int, stop: int) -> None:
        wlp = p.weighted_log_prob(p.centred(X, start, stop))
        top, total = _normalise(wlp.copy())
        norm = np.log(total)
        norm += top
        log_prob_norm[start:stop] = norm[:, 0]
        np.subtract(wlp, norm, out=log_resp[start:stop])

    _map_blocks(block, _block_bounds(X.shape[0], p.width, None))
    return log_prob_norm, log_resp


# --- M-step --------------------------------------------------------------------------------------


def _centred_means(stats: SufficientStats) -> np.ndarray:
    """(K, D) means minus shift: sx / nk."""
    return stats.sx / stats.nk[:, None]


def _covariances_full(stats: SufficientStats, reg_covar: float) -> np.ndarray:
    d = _centred_means(stats)
    cov = stats.sxx / stats.nk[:, None, None] - d[:, :, None] * d[:, None, :]
    idx = np.arange(d.shape[1])
    cov[:, idx, idx] += reg_covar
    return cov


def _covariances_tied(stats: SufficientStats, reg_covar: float) -> np.ndarray:
    d = _centred_means(stats)
    cov = (stats.sxx - (stats.nk[:, None] * d).T @ d) / stats.nk.sum()
    cov[np.diag_indices_from(cov)] += reg_covar
    return cov


def _covariances_diag(stats: SufficientStats, reg_covar: float) -> np.ndarray:
    d = _centred_means(stats)
    return stats.sxx / stats.nk[:, None] - d * d + reg_covar


def _covariances_spherical(stats: SufficientStats, reg_covar: float) -> np.ndarray:
    return _covariances_diag(stats, reg_covar).mean(axis=1)


_MLE_COVARIANCES = {
    "full": _covariances_full,
    "tied": _covariances_tied,
    "diag": _covariances_diag,
    "spherical": _covariances_spherical,
}


def m_step(
    stats: SufficientStats,
    covariance_type: str,
    reg_covar: float,
    prior: Prior | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parameters from sufficient statistics: maximum likelihood, or MAP with a ``prior``.

    Maximum likelihood (scikit-learn's ``_estimate_gaussian_parameters``), with d_k = sx_k / nk_k:
    weights = nk / sum(nk); means = shift + d_k;
    full: sxx_k / nk_k - d_k d_k^T + reg_covar I;
    tied: (sxx - sum_k nk_k d_k d_k^T) / sum(nk) + reg_covar I;
    diag: sxx_k / nk_k - d_k**2 + reg_covar; spherical: the mean over features of diag.
    The MAP update is documented in :meth:`em_engine.prior.Prior.m_step`.

    Returns
    -------
    weights (K,), means (K, D), covariances (type shape); float64.
    """
    covariance_type = check_covariance_type(covariance_type)
    if prior is not None:
        return prior.m_step(stats, covariance_type, reg_covar)
    weights = stats.nk / stats.nk.sum()
    means = stats.shift + _centred_means(stats)
    return weights, means, _MLE_COVARIANCES[covariance_type](stats, reg_covar)
