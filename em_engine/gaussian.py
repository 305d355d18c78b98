"""Per-covariance-type Gaussian kernels: a blocked E-step, the maximum-likelihood M-step.

The numbers follow scikit-learn's ``sklearn/mixture/_gaussian_mixture.py``: a log-domain E-step
with logsumexp, the Cholesky factors of the precisions (em_engine.covariance),
``reg_covar`` added to the covariance diagonal and ``10 * eps`` to the component counts.
The kernels know nothing of a prior: the caller chooses this M-step or ``Prior.m_step``
(em_engine.iteration). Shapes: N samples, D features, K components.
``covariances`` and ``precisions_cholesky`` have scikit-learn's shape for each type:
full (K, D, D), tied (D, D), diag (K, D), spherical (K,).

The E-step walks over blocks of B rows. One pass gives the log-likelihood, the sufficient
statistics of the M-step (counts, means and the scatter about those means) and, when asked,
labels, confidence and per-sample log densities; no N x K x D temporary is ever made, only
(K, D, B) ones per block. Every quantity is computed about the point it describes, so that nothing
cancels however far the components are from each other or from the origin: the Mahalanobis form
``U_k^T (x - mu_k)`` of each component (a BLAS matrix product per component, for any D), and the
scatter of each block about the block's own weighted means, merged over blocks with Chan et al.'s
pairwise update. float32 data stay float32 in the E-step arithmetic (the transform, logsumexp, exp)
and are never copied whole; parameters and the moments are float64.

A row whose density is below float64's range under every component (its log-density would be
below -1.8e308), or whose responsibilities are lost to rounding (log densities of about -1e9 or
less, with two components within reach of each other), cannot be scored: a
``DensityUnderflowError`` (a ``DataError``) names it rather than returning NaN or a made-up value.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from em_engine.checks import check_data, work_dtype
from em_engine.covariance import check_covariance_type, log_det_cholesky
from em_engine.errors import DensityUnderflowError

_LOG_2PI = math.log(2.0 * math.pi)
_FLOAT64 = np.dtype(np.float64)

# Rows per block: (K, D, B) block temporaries stay in the L2 cache (more rows for tiny K x D, so
# that numpy's per-call overhead is small; fewer for wide data, down to what BLAS needs).
_BLOCK_ELEMENTS = 1 << 17
_MIN_BLOCK_ROWS = 256
_MAX_BLOCK_ROWS = 16384
# Blocks run on a small thread pool (numpy releases the GIL) when there are at least this many rows
# and at most _POOLED_FEATURES features; wider data leave the threads to BLAS.
_THREADED_MIN_ROWS = 1 << 16
_POOLED_FEATURES = 32
_DEFAULT_THREADS = min(2, os.cpu_count() or 1)
_N_THREADS = _DEFAULT_THREADS
# OpenBLAS runs a matrix product with M * N * K above about this on all cores: inside our own
# thread pool that oversubscribes, and its busy-waiting threads stall badly on a loaded machine
# (measured: 50x11 @ 11x2048 took 100x longer than four 50x11 @ 11x512). Pooled products are split.
_SINGLE_THREAD_PRODUCT = 1 << 18
# Scoring refuses a row whose responsibilities rounding could change by more than this factor:
# the rounding error of a log density is about D eps |log density|, so rows below
# _PRECISE_LOG_DENSITY (the largest over components) are checked for a second component near
# enough to share them.
_RESPONSIBILITY_ERROR = 1e-3
_PRECISE_LOG_DENSITY = -1e9
# Block buffers up to this many bytes in all are kept per thread from one pass to the next.
_KEPT_BYTES = 16 << 20
_KEPT = threading.local()


def set_num_threads(n_threads: int | None) -> int:
    """Set how many threads the blocked passes use (None: the default, up to 2); returns it.

    Results do not depend on the thread count. A GUI can leave a core to its event loop.
    """
    global _N_THREADS
    if n_threads is not None and (isinstance(n_threads, bool) or int(n_threads) < 1):
        raise ValueError(f"n_threads must be a positive integer or None, got {n_threads!r}")
    _N_THREADS = _DEFAULT_THREADS if n_threads is None else int(n_threads)
    return _N_THREADS


# --- sufficient statistics -----------------------------------------------------------------------


@dataclass(frozen=True)
class SufficientStats:
    """Per-component sums over all rows.

    Attributes
    ----------
    nk : (K,) sum_n r_nk, plus 10 * eps (as scikit-learn)
    means : (K, D) weighted means sum_n r_nk x_n / sum_n r_nk (0 for a component without weight)
    scatter : about those means: full (K, D, D) sum_n r_nk (x_n - mean_k)(x_n - mean_k)^T; tied
        (D, D) the sum of the full scatters over k; diag and spherical (K, D) sum_n r_nk
        (x_n - mean_k)**2.
    n_samples : N (rows, whatever their sample weights)

    With sample weights w_n, every sum over rows is sum_n w_n r_nk (...): integer weights give the
    statistics of the data with each row repeated w_n times.
    """

    nk: np.ndarray
    means: np.ndarray
    scatter: np.ndarray
    n_samples: int


def _matmul_columns(a: np.ndarray, b: np.ndarray, out: np.ndarray, split: bool) -> np.ndarray:
    """out = a (..., M, K) @ b (..., K, N); with ``split``, in column chunks small enough for
    single-threaded BLAS (inside our own thread pool)."""
    step = b.shape[-1]
    if split:
        step = max(1, _SINGLE_THREAD_PRODUCT // max(a.shape[-2] * a.shape[-1], 1))
    for start in range(0, b.shape[-1], step):
        np.matmul(a, b[..., start : start + step], out=out[..., start : start + step])
    return out


def _matmul_inner(a: np.ndarray, b: np.ndarray, split: bool) -> np.ndarray:
    """a (..., M, n) @ b (..., n, P); with ``split``, as a sum over chunks of n small enough for
    single-threaded BLAS."""
    step = a.shape[-1]
    if split:
        step = max(1, _SINGLE_THREAD_PRODUCT // max(a.shape[-2] * b.shape[-1], 1))
    total = a[..., :step] @ b[..., :step, :]
    for start in range(step, a.shape[-1], step):
        total += a[..., start : start + step] @ b[..., start : start + step, :]
    return total


class _Workspace:
    """One thread's block buffers, reused from block to block and, while they are small, from
    pass to pass: fresh pages (numpy allocations above glibc's mmap threshold) would cost more
    than the arithmetic (a 10,000-row E-step took 4x longer with fresh buffers)."""

    def __init__(self, block_rows: int) -> None:
        self.block_rows = block_rows
        self._buffers: dict[tuple[str, tuple[int, ...], np.dtype], np.ndarray] = {}

    @classmethod
    def for_thread(cls, block_rows: int) -> _Workspace:
        """The calling thread's kept workspace if it has this block size, else a new one that is
        kept if it stays small (see ``release``)."""
        ws = getattr(_KEPT, "ws", None)
        if ws is None or ws.block_rows != block_rows:
            ws = _KEPT.ws = cls(block_rows)
        return ws

    def release(self) -> None:
        """After a pass: forget the buffers unless they are small enough to keep."""
        if sum(b.nbytes for b in self._buffers.values()) > _KEPT_BYTES:
            self._buffers.clear()

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype = _FLOAT64) -> np.ndarray:
        """A (*shape[:-1], n) view of the buffer called name, n = shape[-1] <= block_rows
        (contents undefined)."""
        key = (name, shape[:-1], np.dtype(dtype))
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = np.empty((*shape[:-1], self.block_rows), dtype=dtype)
        return buffer[..., : shape[-1]]


_Moments = tuple[np.ndarray, np.ndarray, np.ndarray]  # (K,) weights, (K, D) means, scatter


def _widened(block: np.ndarray, name: str, ws: _Workspace) -> np.ndarray:
    """A float64 block as it is; a float32 one copied into the float64 buffer called name (sums
    of float32 products would lose digits)."""
    if block.dtype == np.float64:
        return block
    wide = ws.get(name, block.shape)
    np.copyto(wide, block)
    return wide


def _rows(X: np.ndarray, start: int, stop: int, ws: _Workspace) -> np.ndarray:
    """X[start:stop] transposed into a contiguous (D, B) buffer (per-row work is contiguous)."""
    rows = ws.get("rows", (X.shape[1], stop - start), X.dtype)
    np.copyto(rows, X[start:stop].T)
    return rows


class _Moments64:
    """Per-block moments in float64 about the block's own weighted means, and their merge."""

    def __init__(self, covariance_type: str, split: bool) -> None:
        self.full = covariance_type in ("full", "tied")
        self.covariance_type = covariance_type
        self.split = split

    def block(self, rows: np.ndarray, resp: np.ndarray, ws: _Workspace) -> _Moments:
        """rows (D, B) (a block of X, transposed), resp (K, B) -> (sum_n r, weighted means
        (K, D), scatter about them: (K, D, D) for full/tied, (K, D) for diag/spherical)."""
        k, n = resp.shape
        d = rows.shape[0]
        resp = _widened(resp, "resp64", ws)
        rows = _widened(rows, "rows64", ws)
        weight = resp.sum(axis=1)
        sums = _matmul_inner(resp, rows.T, self.split)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(weight[:, None] > 0.0, sums / weight[:, None], 0.0)
        diff = np.subtract(rows[None], means[:, :, None], out=ws.get("centred", (k, d, n)))
        if self.full:
            weighted = np.multiply(diff, resp[:, None, :], out=ws.get("weighted", (k, d, n)))
            scatter = _matmul_inner(weighted, np.swapaxes(diff, 1, 2), self.split)
        else:
            np.square(diff, out=diff)
            scatter = _matmul_inner(diff, resp[:, :, None], self.split)[:, :, 0]
        return weight, means, scatter

    def merge(self, parts: Iterator[_Moments]) -> _Moments:
        """All blocks' moments in block order (Chan et al.): the scatter gains
        n_a n_b / (n_a + n_b) (mean_b - mean_a)(...)^T per merge; nothing cancels."""
        weight, means, scatter = next(parts)
        for part_weight, part_means, part_scatter in parts:
            total = weight + part_weight
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(total > 0.0, part_weight / total, 0.0)
            delta = part_means - means
            means = means + delta * share[:, None]
            gain = weight * share  # n_a n_b / (n_a + n_b)
            scatter = scatter + part_scatter
            if self.full:
                for j in range(len(gain)):  # (D, D) at a time: wide data make big temporaries
                    scatter[j] += np.multiply.outer(gain[j] * delta[j], delta[j])
            else:
                scatter += gain[:, None] * delta * delta
            weight = total
        return weight, means, scatter

    def stats(self, moments: _Moments, n_samples: int, eps: float) -> SufficientStats:
        """SufficientStats from the merged moments (tied: the scatters summed over components)."""
        weight, means, scatter = moments
        if self.covariance_type == "tied":
            scatter = scatter.sum(axis=0)
        return SufficientStats(
            nk=weight + 10.0 * eps, means=means, scatter=scatter, n_samples=n_samples
        )


def _block_bounds(n_rows: int, width: int, block_rows: int | None) -> list[tuple[int, int]]:
    if block_rows is None:
        block_rows = _BLOCK_ELEMENTS // max(width, 1)
        block_rows = int(np.clip(block_rows, _MIN_BLOCK_ROWS, _MAX_BLOCK_ROWS))
    block_rows = max(int(block_rows), 1)
    return [(start, min(start + block_rows, n_rows)) for start in range(0, n_rows, block_rows)]


def _map_blocks(
    func: Callable[[int, int, _Workspace], Any], bounds: list[tuple[int, int]], pooled: bool
) -> Iterator[Any]:
    """func(start, stop, workspace) for every block, yielded in block order (so sums over blocks
    do not depend on the threads); each thread reuses its own workspace. ``pooled`` allows the
    thread pool (narrow data: wide data leave the threads to BLAS)."""
    size = max((stop - start for start, stop in bounds), default=0)
    if not pooled or _N_THREADS < 2 or len(bounds) < 2 or bounds[-1][1] < _THREADED_MIN_ROWS:
        ws = _Workspace.for_thread(size)
        try:
            for start, stop in bounds:
                yield func(start, stop, ws)
        finally:
            ws.release()
        return
    local = threading.local()

    def run(bound: tuple[int, int]) -> Any:
        ws = getattr(local, "ws", None)
        if ws is None:
            ws = local.ws = _Workspace(size)
        return func(*bound, ws)

    pool = ThreadPoolExecutor(_N_THREADS)
    try:
        yield from pool.map(run, bounds)
    finally:
        pool.shutdown(cancel_futures=True)


def stats_from_resp(
    X: np.ndarray,
    resp: np.ndarray,
    covariance_type: str,
    sample_weight: np.ndarray | None = None,
) -> SufficientStats:
    """Sufficient statistics from given responsibilities (used by initialisation).

    Parameters
    ----------
    X : (N, D) float32/float64
    resp : (N, K) responsibilities, rows summing to one
    covariance_type : one of COVARIANCE_TYPES
    sample_weight : (N,) float64 frequency weights (checked), or None for ones

    Returns
    -------
    SufficientStats
    """
    X = check_data(X, scan=False)  # the callers have checked the values
    covariance_type = check_covariance_type(covariance_type)
    resp = np.asarray(resp)
    if sample_weight is not None:
        resp = resp * sample_weight[:, None]
    n_samples, n_features = X.shape
    pooled = n_features <= _POOLED_FEATURES
    moments = _Moments64(covariance_type, pooled)

    def block(start: int, stop: int, ws: _Workspace) -> _Moments:
        return moments.block(_rows(X, start, stop, ws), resp[start:stop].T, ws)

    bounds = _block_bounds(n_samples, resp.shape[1] * n_features, None)
    merged = moments.merge(_map_blocks(block, bounds, pooled))
    stats = moments.stats(merged, n_samples, float(np.finfo(resp.dtype).eps))
    if covariance_type != "tied":
        return stats
    # scikit-learn's tied covariance, (X^T X - sum_k nk mu_k mu_k^T) / sum(nk), counts every row
    # whole whatever its responsibilities sum to: the k-means++ and random_from_data starts give
    # K rows all of it and the others none. Rows that do not sum to one add (1 - sum) d d^T, with
    # d = x - the column mean of X (scikit-learn's on centred data: it does not depend on where
    # the origin is).
    if sample_weight is None:
        rest = 1.0 - resp.sum(axis=1, dtype=np.float64)
        centre = X.mean(axis=0, dtype=np.float64)
    else:  # resp is already weighted: a row of weight w counts w times
        rest = sample_weight - resp.sum(axis=1, dtype=np.float64)
        centre = sample_weight @ X / sample_weight.sum()
    scatter = stats.scatter.copy()
    for start, stop in bounds:
        part = rest[start:stop]
        if part.any():
            rows = X[start:stop] - centre
            scatter += (rows.T * part) @ rows
    return replace(stats, scatter=scatter)


# --- log-probabilities per block -----------------------------------------------------------------
# log(w_k) + log N(x | mu_k, Sigma_k) = constant_k - |A_k (x - mu_k)|^2 / 2 with A_k = U_k^T
# (full: a matrix per component; tied: one matrix; diag and spherical: a diagonal), applied to
# each component's own differences x - mu_k: no expanded quadratic form, nothing cancels.


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
        self.covariance_type = covariance_type = check_covariance_type(covariance_type)
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
        self.pooled = n_features <= _POOLED_FEATURES
        self.moments = _Moments64(covariance_type, self.pooled)
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        constant = (
            log_weights
            + log_det_cholesky(pc, covariance_type, n_features)
            - 0.5 * n_features * _LOG_2PI
        )
        self.constant = constant.astype(self.dtype)[:, None]
        self.means = means.astype(self.dtype)[:, :, None]  # (K, D, 1)
        half = math.sqrt(0.5)  # |half A (x - mu)|^2 is the halved quadratic form
        if covariance_type in ("full", "tied"):
            rotation = np.swapaxes(pc, -1, -2) * half  # (K, D, D) or (D, D): A = U^T
            self.rotation = np.broadcast_to(
                rotation.astype(self.dtype, copy=False), (n_components, n_features, n_features)
            )
        else:
            scale = pc if covariance_type == "diag" else pc[:, None]
            self.scale = np.broadcast_to(
                (scale * half).astype(self.dtype)[:, :, None], (n_components, n_features, 1)
            )
        self.width = n_components * n_features

    def weighted_log_prob(
        self, rows: np.ndarray, start: int, ws: _Workspace, precise: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(K, B) log(w_k) + log N(x | mu_k, Sigma_k) of rows (D, B) (a block of X, transposed,
        from row ``start``) and its maximum over k (B,); DensityUnderflowError for a row that no
        component can score, and with ``precise`` also for one whose responsibilities rounding
        would decide."""
        k, d, n = self.n_components, self.n_features, rows.shape[1]
        diff = np.subtract(rows[None], self.means, out=ws.get("diff", (k, d, n), self.dtype))
        with np.errstate(over="ignore", invalid="ignore"):  # overflow: the density underflows
            if self.covariance_type in ("full", "tied"):
                y = ws.get("transformed", (k, d, n), self.dtype)
                _matmul_columns(self.rotation, diff, y, self.pooled)
            else:
                y = np.multiply(diff, self.scale, out=diff)
            wlp = np.einsum("kdb,kdb->kb", y, y, out=ws.get("wlp", (k, n), self.dtype))
            np.subtract(self.constant, wlp, out=wlp)
        top = np.max(wlp, axis=0, out=ws.get("top", (n,), self.dtype))
        _check_scorable(wlp, top, start, self.n_features, precise)
        return wlp, top


def _check_scorable(
    wlp: np.ndarray, top: np.ndarray, start: int, n_features: int, precise: bool
) -> None:
    """Raise DensityUnderflowError for a row of wlp (K, B), whose maxima over k are top (B,),
    that cannot be turned into a log density (and, with ``precise``, responsibilities). A NaN (an
    overflow on the way: inf - inf) stands for a density below float64's range and becomes -inf,
    in wlp and top."""
    if np.isfinite(top).all() and (not precise or top.min() >= _PRECISE_LOG_DENSITY):
        return
    np.copyto(wlp, -np.inf, where=np.isnan(wlp))
    np.max(wlp, axis=0, out=top)
    lost = np.flatnonzero(top == -np.inf)
    if lost.size:
        raise DensityUnderflowError(
            "its density under every component is below the float64 range (a log density "
            "below -1.8e308): the row is too far from the model",
            start + int(lost[0]),
        )
    if not precise:
        return
    # Far rows: responsibilities are reliable while the rounding error of the log densities,
    # about D eps |wlp|, is small, or no other component comes near enough to share the row.
    far = np.flatnonzero(top < _PRECISE_LOG_DENSITY)
    sub = wlp[:, far]
    error = 4.0 * (n_features + 2) * float(np.finfo(np.float64).eps) * np.abs(top[far])
    runner_up = np.sort(sub, axis=0)[-2] if sub.shape[0] > 1 else np.full(far.size, -np.inf)
    near = runner_up > top[far] - 750.0 - error  # exp(-750) is 0 in float64
    shared = np.flatnonzero((error > _RESPONSIBILITY_ERROR) & near)
    if shared.size:
        raise DensityUnderflowError(
            f"the row is so far from the model (log density {top[far[shared[0]]]:.3g}) that "
            "rounding decides which component it belongs to: it cannot be scored in float64",
            start + int(far[shared[0]]),
        )


def _normalise(wlp: np.ndarray, top: np.ndarray, ws: _Workspace) -> np.ndarray:
    """In place: wlp (K, B) -> exp(wlp - top), top (B,) its maxima over k; returns the sums over
    k (B,)."""
    n = wlp.shape[1]
    np.subtract(wlp, top, out=wlp)
    # exp(-700) ~ 1e-304 is nothing next to the row's 1 (the top term); below it exp takes a
    # slow subnormal path (50x slower). Only these internal weights of the moments are affected:
    # log densities and log responsibilities are computed from the unclamped values.
    np.maximum(wlp, -700.0, out=wlp)
    np.exp(wlp, out=wlp)
    return np.sum(wlp, axis=0, out=ws.get("total", (n,), wlp.dtype))


def _first_argmax(values: np.ndarray, out: np.ndarray, ws: _Workspace) -> np.ndarray:
    """out (B,) = np.argmax(values (K, B), axis=0): the first largest, by K passes over B rows.
    numpy's argmax over the first axis runs one tiny argmax per column: it took half of a
    10M-row E-step with labels (K = 5)."""
    n = values.shape[1]
    best = ws.get("best", (n,), values.dtype)
    np.copyto(best, values[0])
    better = ws.get("better", (n,), np.dtype(bool))
    out.fill(0)
    for k in range(1, values.shape[0]):
        np.greater(values[k], best, out=better)
        np.copyto(out, k, where=better)
        np.maximum(best, values[k], out=best)
    return out


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
    imputed : (N, D) the data with missing cells at their conditional means (em_engine.missing),
        or None
    """

    log_likelihood: float
    stats: SufficientStats
    labels: np.ndarray | None = None
    confidence: np.ndarray | None = None
    sample_log_density: np.ndarray | None = None
    imputed: np.ndarray | None = None


@dataclass(frozen=True)
class PartialEStep:
    """An E-step's sums over some of the rows, to be merged with the others' (``merge_partial``):
    the unit of a distributed E-step.

    Attributes
    ----------
    log_likelihood : sum over these rows of w_n log p(x_n)
    weight : (K,) sum_n w_n r_nk (no 10 * eps yet)
    means : (K, D) the weighted means of these rows
    scatter : about those means, per component: (K, D, D) for full and tied, (K, D) for diag and
        spherical
    n_samples : rows
    """

    log_likelihood: float
    weight: np.ndarray
    means: np.ndarray
    scatter: np.ndarray
    n_samples: int


def merge_partial(parts: Sequence[PartialEStep]) -> PartialEStep:
    """The sums over all the parts' rows (Chan et al.'s pairwise merge, in the parts' order)."""
    full = parts[0].scatter.ndim == 3
    moments = _Moments64("full" if full else "diag", split=False)
    weight, means, scatter = moments.merge((p.weight, p.means, p.scatter) for p in parts)
    return PartialEStep(
        math.fsum(p.log_likelihood for p in parts),
        weight,
        means,
        scatter,
        sum(p.n_samples for p in parts),
    )


def finish_stats(part: PartialEStep, covariance_type: str, dtype: np.dtype) -> SufficientStats:
    """The M-step's SufficientStats from the merged sums of all rows of data of ``dtype``."""
    moments = _Moments64(check_covariance_type(covariance_type), split=False)
    eps = float(np.finfo(dtype).eps)
    return moments.stats((part.weight, part.means, part.scatter), part.n_samples, eps)


def e_step(
    X: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    precisions_cholesky: np.ndarray,
    covariance_type: str,
    *,
    with_labels: bool = False,
    with_density: bool = False,
    precise: bool = False,
    block_rows: int | None = None,
    sample_weight: np.ndarray | None = None,
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
    precise : also refuse rows whose responsibilities (and labels) rounding would decide
    block_rows : rows per block (default: chosen so that block temporaries stay in cache)
    sample_weight : (N,) float64 frequency weights (checked), or None for ones: the
        log-likelihood is sum_n w_n log p(x_n) and the statistics sum w_n r_nk (...); labels,
        confidence and densities are per row, unweighted

    Raises
    ------
    DensityUnderflowError
        For a row these parameters cannot score in float64 (see the module docstring).
    """
    X = check_data(X, scan=False)  # the callers have checked the values
    n_samples = X.shape[0]
    dtype = work_dtype(X)
    labels = np.empty(n_samples, dtype=np.intp) if with_labels else None
    confidence = np.empty(n_samples, dtype=dtype) if with_labels else None
    density = np.empty(n_samples, dtype=dtype) if with_density else None
    part = _e_pass(
        X,
        _Pass(X, weights, means, precisions_cholesky, covariance_type),
        labels,
        confidence,
        density,
        precise,
        block_rows,
        sample_weight,
    )
    stats = finish_stats(part, covariance_type, dtype)
    return EStepResult(part.log_likelihood, stats, labels, confidence, density)


def partial_e_step(
    X: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    precisions_cholesky: np.ndarray,
    covariance_type: str,
) -> PartialEStep:
    """``e_step``'s sums over the rows of X (N, D) (a chunk of the data), unmerged with other
    chunks' and without labels: ``finish_stats(merge_partial(parts))`` over all chunks gives
    ``e_step``'s statistics of the whole data, its log-likelihood the parts' sum."""
    X = check_data(X, scan=False)  # the callers have checked the values
    p = _Pass(X, weights, means, precisions_cholesky, covariance_type)
    return _e_pass(X, p, None, None, None, False, None, None)


def _e_pass(
    X: np.ndarray,
    p: _Pass,
    labels: np.ndarray | None,
    confidence: np.ndarray | None,
    density: np.ndarray | None,
    precise: bool,
    block_rows: int | None,
    sample_weight: np.ndarray | None,
) -> PartialEStep:
    """One blocked pass over X filling labels, confidence and density (N,) where given."""
    log_likelihood = []
    weights_of_rows = None if sample_weight is None else sample_weight.astype(p.dtype)

    def block(start: int, stop: int, ws: _Workspace) -> _Moments:
        rows = _rows(X, start, stop, ws)
        resp, top = p.weighted_log_prob(rows, start, ws, precise)
        total = _normalise(resp, top, ws)
        if labels is not None:
            _first_argmax(resp, labels[start:stop], ws)
        if weights_of_rows is not None:
            out = ws.get("log_norm", top.shape, p.dtype) if density is None else density[start:stop]
            log_norm = np.log(total, out=out)
            log_norm += top
            log_likelihood.append(float(np.dot(sample_weight[start:stop], log_norm)))
        elif density is not None:
            log_norm = np.log(total, out=density[start:stop])
            log_norm += top
            log_likelihood.append(float(log_norm.sum(dtype=np.float64)))
        else:
            log_likelihood.append(float(top.sum(dtype=np.float64)) + _sum_log(total))
        inverse = np.divide(1.0, total, out=total)
        if confidence is not None:
            confidence[start:stop] = inverse
        np.multiply(resp, inverse, out=resp)
        if weights_of_rows is not None:
            np.multiply(resp, weights_of_rows[start:stop], out=resp)
        return p.moments.block(rows, resp, ws)

    bounds = _block_bounds(X.shape[0], p.width, block_rows)
    weight, means, scatter = p.moments.merge(_map_blocks(block, bounds, p.pooled))
    return PartialEStep(math.fsum(log_likelihood), weight, means, scatter, X.shape[0])


def estimate_log_prob_resp(
    X: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    precisions_cholesky: np.ndarray,
    covariance_type: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample log density (N,) and log responsibilities (N, K), computed block by block.

    Raises DensityUnderflowError for a row these parameters cannot score in float64 (including
    one whose responsibilities rounding would decide).
    """
    X = check_data(X, scan=False)  # the callers have checked the values
    p = _Pass(X, weights, means, precisions_cholesky, covariance_type)
    log_prob_norm = np.empty(X.shape[0], dtype=p.dtype)
    log_resp = np.empty((X.shape[0], p.n_components), dtype=p.dtype)

    def block(start: int, stop: int, ws: _Workspace) -> None:
        wlp, top = p.weighted_log_prob(_rows(X, start, stop, ws), start, ws, precise=True)
        scratch = ws.get("scratch", wlp.shape, wlp.dtype)
        np.copyto(scratch, wlp)
        total = _normalise(scratch, top, ws)
        norm = np.log(total, out=log_prob_norm[start:stop])
        norm += top
        np.subtract(wlp, norm, out=log_resp[start:stop].T)

    for _ in _map_blocks(block, _block_bounds(X.shape[0], p.width, None), p.pooled):
        pass
    return log_prob_norm, log_resp


# --- M-step --------------------------------------------------------------------------------------


def _covariances_full(stats: SufficientStats, reg_covar: float) -> np.ndarray:
    cov = stats.scatter / stats.nk[:, None, None]
    idx = np.arange(cov.shape[-1])
    cov[:, idx, idx] += reg_covar
    return cov


def _covariances_tied(stats: SufficientStats, reg_covar: float) -> np.ndarray:
    cov = stats.scatter / stats.nk.sum()
    cov[np.diag_indices_from(cov)] += reg_covar
    return cov


def _covariances_diag(stats: SufficientStats, reg_covar: float) -> np.ndarray:
    return stats.scatter / stats.nk[:, None] + reg_covar


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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood parameters from sufficient statistics (MAP: ``Prior.m_step``).

    Maximum likelihood (scikit-learn's ``_estimate_gaussian_parameters``), from the scatter about
    the weighted means S_k: weights = nk / sum(nk); means = the weighted means;
    full: S_k / nk_k + reg_covar I; tied: sum_k S_k / sum(nk) + reg_covar I;
    diag: S_k / nk_k + reg_covar; spherical: the mean over features of diag.

    Returns
    -------
    weights (K,), means (K, D), covariances (type shape); float64.
    """
    covariance_type = check_covariance_type(covariance_type)
    weights = stats.nk / stats.nk.sum()
    with np.errstate(over="ignore"):  # an infinite covariance is refused, and named, by
        covariances = _MLE_COVARIANCES[covariance_type](stats, reg_covar)  # its precision
    return weights, stats.means.copy(), covariances
