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
data stay float32 in the E-step arithmetic on (K, B) blocks (the transform, logsumexp, exp) and
are never copied whole; parameters and the per-block moment sums are float64.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from em_engine.prior import Prior

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

_LOG_2PI = math.log(2.0 * math.pi)
_FLOAT64 = np.dtype(np.float64)

# Rows per block: block x K temporaries stay in the L2 cache; enough rows that numpy's per-call
# overhead is small.
_BLOCK_ELEMENTS = 1 << 17
_MIN_BLOCK_ROWS = 2048
_MAX_BLOCK_ROWS = 16384
# Blocks run on a small thread pool (numpy releases the GIL) when there are at least this many rows.
_THREADED_MIN_ROWS = 1 << 16
_DEFAULT_THREADS = min(2, os.cpu_count() or 1)
_N_THREADS = _DEFAULT_THREADS
# OpenBLAS runs a matrix product with M * N * K above about this on all cores: inside our own
# thread pool that oversubscribes, and its busy-waiting threads stall badly on a loaded machine
# (measured: 50x11 @ 11x2048 took 100x longer than four 50x11 @ 11x512). Products are split.
_SINGLE_THREAD_PRODUCT = 1 << 18
# full covariances use the expanded quadratic form (one product with the feature rows that the
# M-step needs anyway) while its cancellation error stays negligible: the log-density error is about
# eps * lambda_max(P_k) * |x - shift|^2, bounded here by eps * _EXPANDED_LIMIT for the points that
# component k explains (|x - shift|^2 ~ |mu_k - shift|^2 + trace(Sigma_k)).
_EXPANDED_LIMIT = 1e3


def set_num_threads(n_threads: int | None) -> int:
    """Set how many threads the blocked passes use (None: the default, up to 2); returns it.

    Results do not depend on the thread count. A GUI can leave a core to its event loop.
    """
    global _N_THREADS
    if n_threads is not None and (isinstance(n_threads, bool) or int(n_threads) < 1):
        raise ValueError(f"n_threads must be a positive integer or None, got {n_threads!r}")
    _N_THREADS = _DEFAULT_THREADS if n_threads is None else int(n_threads)
    return _N_THREADS


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


def covariance_shape(covariance_type: str, n_components: int, n_features: int) -> tuple[int, ...]:
    """Shape of the covariances (and precision factors) of one type: full (K, D, D), tied (D, D),
    diag (K, D), spherical (K,)."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[check_covariance_type(covariance_type)]


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


def work_dtype(X: np.ndarray) -> np.dtype:
    """The dtype EM works in on X: float32 stays float32, anything else becomes float64."""
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


def _as_data(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    X = X.astype(work_dtype(X), copy=False)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"Expected a 2-D array of shape (n_samples, n_features) with at least one row and "
            f"column, got shape {X.shape}"
        )
    return X


def _matmul_columns(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a (M, K) @ b (K, N), in column chunks small enough for single-threaded BLAS."""
    step = max(1, _SINGLE_THREAD_PRODUCT // max(a.shape[0] * a.shape[1], 1))
    for start in range(0, b.shape[1], step):
        np.matmul(a, b[:, start : start + step], out=out[:, start : start + step])
    return out


def _matmul_inner(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (M, n) @ b (n, P) as a sum over chunks of n small enough for single-threaded BLAS."""
    step = max(1, _SINGLE_THREAD_PRODUCT // max(a.shape[0] * b.shape[1], 1))
    total = a[:, :step] @ b[:step]
    for start in range(step, a.shape[1], step):
        total += a[:, start : start + step] @ b[start : start + step]
    return total


class _Workspace:
    """One thread's block buffers, reused from block to block: fresh pages per block (numpy
    allocations above glibc's mmap threshold) would cost more than the arithmetic."""

    def __init__(self, block_rows: int) -> None:
        self.block_rows = block_rows
        self._buffers: dict[tuple[str, int, np.dtype], np.ndarray] = {}

    def get(self, name: str, rows: int, n: int, dtype: np.dtype = _FLOAT64) -> np.ndarray:
        """A (rows, n) view of the buffer called name (contents undefined)."""
        key = (name, rows, np.dtype(dtype))
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = np.empty((rows, self.block_rows), dtype=dtype)
        return buffer[:, :n]


class _Features:
    """Per-block feature rows (F, B) in float64, transposed so that per-row work is contiguous.

    Rows: x - shift (D) | 1 | second moments (full: D(D+1)/2 upper-triangle products; diag and
    spherical: D squares; tied: none, its unweighted second moment is summed separately).
    The first D + 1 rows feed the E-step transform; responsibilities (K, B) @ rows.T give
    nk, sx and sxx of the block in one float64 matrix product (float32 responsibilities are
    widened per block: sums of float32 products would lose digits to cancellation in the M-step).
    """

    def __init__(self, n_features: int, covariance_type: str, shift: np.ndarray) -> None:
        self.n_features = n_features
        self.covariance_type = covariance_type
        self.shift = shift[:, None]
        if covariance_type == "full":
            self.pairs = list(zip(*np.triu_indices(n_features), strict=True))
            n_second = len(self.pairs)
        else:
            n_second = 0 if covariance_type == "tied" else n_features
        self.n_rows = n_features + 1 + n_second

    def fill(self, X: np.ndarray, start: int, stop: int, ws: _Workspace) -> np.ndarray:
        """(F, stop - start) feature rows of X[start:stop]."""
        d = self.n_features
        feats = ws.get("features", self.n_rows, stop - start)
        np.subtract(X[start:stop].T, self.shift, out=feats[:d])
        feats[d] = 1.0
        if self.covariance_type == "full":
            for row, (i, j) in enumerate(self.pairs, start=d + 1):
                np.multiply(feats[i], feats[j], out=feats[row])
        elif self.covariance_type != "tied":
            np.square(feats[:d], out=feats[d + 1 :])
        return feats

    def moments(
        self, feats: np.ndarray, resp: np.ndarray, ws: _Workspace
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Block sums: (K, F) = resp (K, B) @ feats.T, and tied's (D, D) or None."""
        if resp.dtype != np.float64:
            wide = ws.get("resp64", resp.shape[0], resp.shape[1])
            np.copyto(wide, resp)
            resp = wide
        sums = _matmul_inner(resp, feats.T)
        if self.covariance_type != "tied":
            return sums, None
        xc = feats[: self.n_features]
        return sums, _matmul_inner(xc, xc.T)

    def stats(self, parts: list, n_samples: int, eps: float, shift: np.ndarray) -> SufficientStats:
        """SufficientStats from the per-block (sums, tied) pairs, added in block order."""
        sums = np.sum([part[0] for part in parts], axis=0)
        d = self.n_features
        nk = sums[:, d] + 10.0 * eps
        sx = sums[:, :d].copy()
        second = sums[:, d + 1 :]
        if self.covariance_type == "full":
            rows, cols = np.triu_indices(d)
            sxx = np.empty((sums.shape[0], d, d))
            sxx[:, rows, cols] = second
            sxx[:, cols, rows] = second
        elif self.covariance_type == "tied":
            sxx = np.sum([part[1] for part in parts], axis=0)
        else:
            sxx = second.copy()
        return SufficientStats(nk=nk, sx=sx, sxx=sxx, shift=shift, n_samples=n_samples)


def _block_bounds(n_rows: int, width: int, block_rows: int | None) -> list[tuple[int, int]]:
    if block_rows is None:
        block_rows = _BLOCK_ELEMENTS // max(width, 1)
        block_rows = int(np.clip(block_rows, _MIN_BLOCK_ROWS, _MAX_BLOCK_ROWS))
    block_rows = max(int(block_rows), 1)
    return [(start, min(start + block_rows, n_rows)) for start in range(0, n_rows, block_rows)]


def _map_blocks(func: Callable[[int, int, _Workspace], Any], bounds: list[tuple[int, int]]) -> list:
    """func(start, stop, workspace) for every block, results in block order (so sums over blocks
    do not depend on the threads); each thread reuses its own workspace."""
    size = max((stop - start for start, stop in bounds), default=0)
    if _N_THREADS < 2 or len(bounds) < 2 or bounds[-1][1] < _THREADED_MIN_ROWS:
        ws = _Workspace(size)
        return [func(start, stop, ws) for start, stop in bounds]
    local = threading.local()

    def run(bound: tuple[int, int]) -> Any:
        ws = getattr(local, "ws", None)
        if ws is None:
            ws = local.ws = _Workspace(size)
        return func(*bound, ws)

    with ThreadPoolExecutor(_N_THREADS) as pool:
        return list(pool.map(run, bounds))


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
    resp = np.asarray(resp)
    shift = X.mean(axis=0, dtype=np.float64)
    features = _Features(X.shape[1], covariance_type, shift)

    def block(start: int, stop: int, ws: _Workspace) -> tuple[np.ndarray, np.ndarray | None]:
        return features.moments(features.fill(X, start, stop, ws), resp[start:stop].T, ws)

    parts = _map_blocks(block, _block_bounds(X.shape[0], features.n_rows, None))
    return features.stats(parts, X.shape[0], float(np.finfo(resp.dtype).eps), shift)


# --- log-probabilities per block -----------------------------------------------------------------
# diag, spherical and well-conditioned full: the expanded quadratic (x - mu)^T P (x - mu) as one
# matrix product with the feature rows (x, 1, second moments) that the M-step needs anyway, about
# the shift rather than the origin (diag and spherical as scikit-learn computes them). tied, and
# full where the expanded form would cancel: a per-component linear map U_k with
# precision_k = U_k @ U_k.T transforms centred rows with all K maps in one matrix product,
# y_k = U_k^T (x - mu_k), and sums squares (scikit-learn's form, no cancellation).


def _expanded_full(
    pc: np.ndarray, centred_means: np.ndarray, constant: np.ndarray, pairs: list[tuple[int, int]]
) -> np.ndarray | None:
    """(K, D + 1 + D(D+1)/2) weights of the full feature rows (x - shift, 1, x_i x_j for i <= j)
    giving log(w_k) + log N(x | mu_k, Sigma_k); None where the expanded form would cancel.

    pc : (K, D, D) precision Cholesky factors; centred_means : (K, D) means - shift;
    constant : (K,) log(w_k) + log det U_k - D/2 log(2 pi).
    """
    precisions = _square_factor(pc)
    with np.errstate(all="ignore"):
        spread = np.einsum("kd,kd->k", centred_means, centred_means) + np.trace(
            np.linalg.inv(precisions), axis1=1, axis2=2
        )
        largest = np.linalg.eigvalsh(precisions)[:, -1]
        if not np.all(largest * spread <= _EXPANDED_LIMIT):
            return None
    linear = np.einsum("kij,kj->ki", precisions, centred_means)
    offset = constant - 0.5 * np.einsum("ki,ki->k", linear, centred_means)
    rows, cols = np.array(pairs).T
    quadratic = np.where(rows == cols, -0.5, -1.0) * precisions[:, rows, cols]
    return np.column_stack([linear, offset, quadratic])


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
        covariance_type = check_covariance_type(covariance_type)
        self.dtype = work_dtype(X)
        weights = np.asarray(weights, dtype=np.float64)
        means = np.asarray(means, dtype=np.float64)
        pc = np.asarray(precisions_cholesky, dtype=np.float64)
        n_features = X.shape[1]
        if means.ndim != 2 or means.shape[1] != n_features:
            raise ValueError(
                f"means have shape {means.shape}, expected (n_components, {n_features})"
            )
        self.n_components = n_components = means.shape[0]
        self.n_features = n_features
        self.shift = weights @ means  # a fixed centre near the data: keeps sxx well conditioned
        self.features = _Features(n_features, covariance_type, self.shift)
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        constant = (
            log_weights
            + log_det_cholesky(pc, covariance_type, n_features)
            - 0.5 * n_features * _LOG_2PI
        )
        centred_means = means - self.shift
        self.expanded = None
        if covariance_type == "full":
            self.expanded = _expanded_full(pc, centred_means, constant, self.features.pairs)
        elif covariance_type in ("diag", "spherical"):
            # (K, 2D + 1) weights of the feature rows (x - shift, 1, (x - shift)^2)
            prec = precisions_from_precision_cholesky(pc, covariance_type)
            if covariance_type == "spherical":
                prec = np.repeat(prec[:, None], n_features, axis=1)
            offset = constant - 0.5 * np.sum(prec * centred_means**2, axis=1)
            self.expanded = np.column_stack([prec * centred_means, offset, -0.5 * prec])
        if self.expanded is None:
            # transform (K * D, D + 1): row k*D + j gives sqrt(1/2) * (U_k^T (x - mu_k))_j
            # from the feature rows (x - shift, 1)
            factors = np.broadcast_to(pc, (n_components, n_features, n_features))  # tied: K times
            rotation = np.swapaxes(math.sqrt(0.5) * factors, 1, 2)  # (K, j, i)
            offsets = -np.einsum("kji,ki->kj", rotation, centred_means)
            transform = np.concatenate([rotation, offsets[:, :, None]], axis=2)
            transform = transform.reshape(n_components * n_features, n_features + 1)
            self.transform = transform.astype(self.dtype)
            self.constant = constant.astype(self.dtype)[:, None]
        self.width = max(n_components * n_features, self.features.n_rows)

    def weighted_log_prob(self, feats: np.ndarray, ws: _Workspace) -> np.ndarray:
        """(K, B) log(w_k) + log N(x | mu_k, Sigma_k) from a block's feature rows."""
        n, d, k = feats.shape[1], self.n_features, self.n_components
        if self.expanded is not None:  # in float64 (cancellation), then float32 if X is
            wlp = ws.get("wlp" if self.dtype == np.float64 else "wlp64", k, n)
            _matmul_columns(self.expanded, feats, wlp)
            if self.dtype == np.float64:
                return wlp
            narrow = ws.get("wlp", k, n, self.dtype)
            np.copyto(narrow, wlp, casting="same_kind")
            return narrow
        rows = feats[: d + 1]
        if self.dtype != np.float64:
            rows = ws.get("rows", d + 1, n, self.dtype)
            np.copyto(rows, feats[: d + 1], casting="same_kind")
        y = ws.get("transformed", k * d, n, self.dtype)
        _matmul_columns(self.transform, rows, y)
        np.square(y, out=y)
        y = y.reshape(k, d, n)
        wlp = ws.get("wlp", k, n, self.dtype)
        if d == 1:
            np.copyto(wlp, y[:, 0])
        else:
            np.add(y[:, 0], y[:, 1], out=wlp)
        for j in range(2, d):
            np.add(wlp, y[:, j], out=wlp)
        return np.subtract(self.constant, wlp, out=wlp)


def _normalise(wlp: np.ndarray, ws: _Workspace) -> tuple[np.ndarray, np.ndarray]:
    """In place: wlp (K, B) -> exp(wlp - max over k); returns (max (B,), sums (B,))."""
    n = wlp.shape[1]
    top = ws.get("top", 1, n, wlp.dtype)[0]
    np.maximum.reduce(wlp, axis=0, out=top)
    if not np.isfinite(top).all():
        top[~np.isfinite(top)] = 0.0
    np.subtract(wlp, top, out=wlp)
    # exp(-700) ~ 1e-304 is nothing next to the row's 1; below it exp takes a slow subnormal path
    np.maximum(wlp, -700.0, out=wlp)  # (maximum, not fmax: NaN must show)
    np.exp(wlp, out=wlp)
    total = ws.get("total", 1, n, wlp.dtype)[0]
    np.add.reduce(wlp, axis=0, out=total)
    return top, total


def _sum_log(values: np.ndarray) -> float:
    """sum(log(values)) for values in [1, K]: logs of products of 16, a 16th of the log calls."""
    n = values.size - values.size % 16
    products = np.multiply.reduce(values[:n].reshape(16, -1), axis=0)
    return float(np.log(products).sum(dtype=np.float64) + np.log(values[n:]).sum(dtype=np.float64))


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
    X : (N, D) float32 or float64 (float32 stays float32 in the per-block E-step arithmetic)
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

    def block(start: int, stop: int, ws: _Workspace) -> tuple:
        feats = p.features.fill(X, start, stop, ws)
        resp = p.weighted_log_prob(feats, ws)
        top, total = _normalise(resp, ws)
        if labels is not None:
            np.argmax(resp, axis=0, out=labels[start:stop])
        if density is not None:
            log_norm = np.log(total, out=density[start:stop])
            log_norm += top
            log_likelihood = float(log_norm.sum(dtype=np.float64))
        else:
            log_likelihood = float(top.sum(dtype=np.float64)) + _sum_log(total)
        inverse = np.divide(1.0, total, out=total)
        if confidence is not None:
            confidence[start:stop] = inverse
        np.multiply(resp, inverse, out=resp)
        return (log_likelihood, *p.features.moments(feats, resp, ws))

    parts = _map_blocks(block, _block_bounds(n_samples, p.width, block_rows))
    stats = p.features.stats(
        [part[1:] for part in parts], n_samples, float(np.finfo(p.dtype).eps), p.shift
    )
    log_likelihood = math.fsum(part[0] for part in parts)
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

    def block(start: int, stop: int, ws: _Workspace) -> None:
        wlp = p.weighted_log_prob(p.features.fill(X, start, stop, ws), ws)
        scratch = ws.get("scratch", *wlp.shape, wlp.dtype)
        np.copyto(scratch, wlp)
        top, total = _normalise(scratch, ws)
        norm = np.log(total, out=log_prob_norm[start:stop])
        norm += top
        np.subtract(wlp, norm, out=log_resp[start:stop].T)

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


def marginal(
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
    columns: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """The components' marginal Gaussians on ``columns`` (e.g. the two columns a plot shows).

    A Gaussian's marginal on some columns keeps those entries of its mean and those rows and
    columns of its covariance; nothing else is computed (no (K, D, D) expansion of wide data).

    Parameters
    ----------
    means : (K, D)
    covariances : full (K, D, D), tied (D, D), diag (K, D), spherical (K,)
    covariance_type : one of COVARIANCE_TYPES
    columns : C indices into 0..D-1 (repeats allowed)

    Returns
    -------
    means (K, C) and covariances (K, C, C), float64, fresh arrays.
    """
    means = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    idx = np.asarray(columns, dtype=np.intp)
    n_components = means.shape[0]
    covariance_type = check_covariance_type(covariance_type)
    if covariance_type == "full":
        picked = cov[:, idx][:, :, idx]
    elif covariance_type == "tied":
        picked = np.repeat(cov[idx][:, idx][None], n_components, axis=0)
    else:
        diagonal = cov[:, idx] if covariance_type == "diag" else cov[:, None] * np.ones(len(idx))
        same = idx[:, None] == idx[None, :]  # a repeated column is the same variable
        picked = np.where(same, diagonal[:, :, None], 0.0)
    return means[:, idx].copy(), np.ascontiguousarray(picked)


def precision_or_none(covariance: np.ndarray) -> np.ndarray | None:
    """The precision (inverse) of one (D, D) covariance, for display; None when it is not
    positive definite."""
    try:
        factor = compute_precision_cholesky(np.asarray(covariance)[None], "full")
    except ValueError:
        return None
    return precisions_from_precision_cholesky(factor, "full")[0]
