"""Gaussian mixtures on Dask: ``GaussianMixture`` given a dask array or a dask dataframe.

Dask is imported only here, and this module only when the data already are a Dask object
(``checks.is_dask_collection``): the desktop app and its bundle never load it.

- **E-step.** Each E-step maps ``gaussian.partial_e_step`` over X's row chunks (a task per chunk,
  on the workers that hold them) and merges the partial sums as a tree, ``SPLIT_EVERY`` at a
  time (Chan et al.'s merge, as between the blocks of one chunk): only the merged statistics,
  K x D x D numbers, reach the client. The M-step (maximum likelihood, or MAP with a prior) runs
  on the client: the loop is ``GaussianMixture``'s own, so the numbers are the in-memory fit's
  (to rounding: the sums are added in another order).
- **Data.** A dask array (N, D), or a dask dataframe's numeric columns (their names become
  ``feature_names_in_``). X is persisted on the cluster for the fit (one task graph per
  iteration reads it): the workers together must hold N x D x 8 bytes (4 for float32). Columns
  are one chunk; the row chunks are X's. A first pass checks the values (a NaN, an infinity or a
  value too large names its row and column in the whole data) and sums the data's mean and
  covariance (the default prior).
- **Initialisation.** k-means, k-means++, random, random_from_data and random_means run on the
  client on a sample of at most ``INIT_SAMPLE_ROWS`` rows drawn uniformly without replacement
  (on all rows, and so exactly the in-memory start for the same random_state, when N is at most
  that). With weights_init, means_init and precisions_init all given no sample is drawn.
- **Using the model.** ``predict``, ``predict_proba`` and ``score_samples`` of a dask X are dask
  arrays (the in-memory per-row functions mapped over the chunks), ``score`` a lazy dask scalar;
  ``scores``, ``bic`` and ``aic`` compute theirs. ``save_model`` writes the fitted model as any
  other. Sample weights are not supported for Dask data.

The scheduler is dask's current one: a ``distributed.Client``'s when one is active, else
dask's local threads. Shapes: N samples, D features, K components.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dask
import dask.array as da
import numpy as np

from em_engine import gaussian
from em_engine.checks import check_magnitude, work_dtype
from em_engine.errors import DataError, RowError
from em_engine.init import check_random_state
from em_engine.iteration import EMIteration, Theta
from em_engine.mixture import GaussianMixture, _feature_names
from em_engine.prior import Prior

__all__ = ["INIT_SAMPLE_ROWS", "SPLIT_EVERY", "DaskEMIteration", "as_dask_array", "fit_predict"]

INIT_SAMPLE_ROWS = 100_000
SPLIT_EVERY = 8


def as_dask_array(X: Any) -> tuple[da.Array, np.ndarray | None]:
    """X (a dask array (N, D), or a dask dataframe) as a float32/float64 dask array (N, D) with
    known row chunks and one column chunk, and its column names (a dataframe's numeric columns
    when they are strings, else None). DataError for data that are not numbers or not 2-D."""
    names = None
    if not isinstance(X, da.Array):
        if not hasattr(X, "select_dtypes"):
            raise DataError(f"X is a {type(X).__name__}: give a dask array or dataframe")
        numeric = X.select_dtypes("number")
        if len(numeric.columns) == 0:
            raise DataError("the dataframe has no numeric column to fit")
        names = _feature_names(numeric)  # as for a pandas DataFrame: string names only
        X = numeric.to_dask_array(lengths=True)
    if X.ndim != 2:
        raise DataError(f"X must be a 2-D array (samples x features), got {X.ndim} dimensions")
    if X.dtype.kind not in "biufc":
        raise DataError(f"X is not a numeric array (it holds {X.dtype} values)")
    dtype = work_dtype(X)  # DataError for complex numbers
    if any(np.isnan(size) for size in X.chunks[0]):
        X = X.compute_chunk_sizes()
    return X.astype(dtype, copy=False).rechunk({1: -1}), names


def _offsets(X: da.Array) -> list[int]:
    """The first row of each row chunk of X."""
    return np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int).tolist()


@contextmanager
def _rows_from(offset: int) -> Iterator[None]:
    """A RowError about a chunk's row is re-raised about the whole data's row."""
    try:
        yield
    except RowError as exc:
        raise exc.shifted(offset) from None


def _tree(parts: list[Any]) -> Any:
    """The delayed merge of delayed PartialEStep parts, SPLIT_EVERY at a time."""
    while len(parts) > 1:
        parts = [
            dask.delayed(gaussian.merge_partial)(parts[i : i + SPLIT_EVERY])
            for i in range(0, len(parts), SPLIT_EVERY)
        ]
    return parts[0]


def _chunks(X: da.Array) -> list[tuple[Any, int]]:
    """X's row chunks as delayed (B, D) arrays, with their first rows."""
    return list(zip(X.to_delayed().ravel().tolist(), _offsets(X), strict=True))


def _check_finite(block: np.ndarray) -> None:
    """RowError naming the first NaN or infinity of a chunk (B, D)."""
    bad = ~np.isfinite(block)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        value = block[row, column]
        kind = "NaN" if np.isnan(value) else "infinity"
        raise RowError(f"a non-finite value {value} (input contains {kind})", row, column)


def _checked_moments(block: np.ndarray, offset: int) -> gaussian.PartialEStep:
    """A chunk (B, D) checked (RowError naming a NaN, infinity or too large value), and its
    count, mean and scatter as a one-component PartialEStep."""
    with _rows_from(offset):
        _check_finite(block)
        check_magnitude(block)
    rows = block.astype(np.float64, copy=False)
    mean = rows.mean(axis=0)
    centred = rows - mean
    return gaussian.PartialEStep(
        0.0, np.array([rows.shape[0]], float), mean[None], (centred.T @ centred)[None], len(rows)
    )


def _chunk_e_step(
    block: np.ndarray, offset: int, parameters: tuple[np.ndarray, ...], covariance_type: str
) -> gaussian.PartialEStep:
    with _rows_from(offset):
        return gaussian.partial_e_step(block, *parameters, covariance_type)


class DaskEMIteration(EMIteration):
    """``EMIteration`` whose E-step runs over a dask array's chunks on the current scheduler.

    Parameters
    ----------
    X : (N, D) float32/float64 dask array, checked (``check_values``), one column chunk
    covariance_type, reg_covar, prior, tol : as EMIteration's (no sample weights)
    """

    def __init__(
        self,
        X: da.Array,
        covariance_type: str,
        reg_covar: float,
        prior: Prior | None = None,
        tol: float = 0.0,
    ) -> None:
        super().__init__(X, covariance_type, reg_covar, prior, tol)
        self._chunks = _chunks(X)

    def _e_pass(self, theta: Theta, with_labels: bool) -> gaussian.EStepResult:
        if with_labels:
            raise NotImplementedError("labels of dask data come from per_row")
        parameters = (theta.weights, theta.means, theta.precisions_cholesky)
        task = dask.delayed(_chunk_e_step)
        ct = self.covariance_type
        parts = [task(chunk, offset, parameters, ct) for chunk, offset in self._chunks]
        (part,) = dask.compute(_tree(parts))
        stats = gaussian.finish_stats(part, self.covariance_type, self.X.dtype)
        return gaussian.EStepResult(part.log_likelihood, stats)


def check_values(X: da.Array) -> tuple[np.ndarray, np.ndarray]:
    """One pass over X (N, D): RowError for a NaN, an infinity or a value too large to fit
    (naming its row and column in X); X's mean (D,) and covariance (D, D) (divisor N - 1)."""
    parts = [dask.delayed(_checked_moments)(chunk, offset) for chunk, offset in _chunks(X)]
    (part,) = dask.compute(_tree(parts))
    return part.means[0], part.scatter[0] / max(part.n_samples - 1, 1)


def _sampler(X: da.Array, model: GaussianMixture, em: DaskEMIteration) -> Callable[[], Any]:
    """init_data for ``GaussianMixture._run_em``: a sample of X's rows on the client and an
    EMIteration over it (the same prior); all rows, computed once, when N <= INIT_SAMPLE_ROWS."""
    n_samples = X.shape[0]
    kept: list[Any] = []
    random_state = check_random_state(model.random_state)

    def init_data() -> tuple[np.ndarray, EMIteration]:
        if kept:
            return kept[0]
        if n_samples <= INIT_SAMPLE_ROWS:
            sample = X.compute()
        else:
            rows = np.sort(random_state.choice(n_samples, INIT_SAMPLE_ROWS, replace=False))
            sample = X[rows].compute()
        result = (sample, EMIteration(sample, em.covariance_type, em.reg_covar, em.prior, em.tol))
        if n_samples <= INIT_SAMPLE_ROWS:
            kept.append(result)
        return result

    return init_data


def fit_predict(model: GaussianMixture, X: Any, sample_weight: Any = None) -> da.Array:
    """``model.fit_predict`` of a dask array or dataframe X (N, D): fits model, returns the
    labels (N,) as a dask array."""
    if sample_weight is not None:
        raise DataError("sample_weight is not supported for Dask data: fit without it")
    if model.mode != "soft":
        raise DataError(f"mode={model.mode!r} is not supported for Dask data: fit with soft EM")
    if model.missing != "error":
        raise DataError(
            f"missing={model.missing!r} is not supported for Dask data: fit complete rows "
            "(missing='error')"
        )
    X, names = as_dask_array(X)
    n_samples, n_features = X.shape
    if n_samples < 2:
        raise DataError(f"X has {n_samples} sample(s); a fit needs at least 2")
    inits = model._check_fit_shape(n_samples, n_features)
    X = X.persist()
    mean, cov = check_values(X)
    prior = model.prior
    if prior is True:
        prior = Prior.from_moments(mean, cov, model.n_components)
    elif isinstance(prior, Prior):
        prior.check_features(n_features)
    else:
        prior = None
    em = DaskEMIteration(X, model.covariance_type, model.reg_covar, prior, model.tol)
    model._run_em(em, names, inits, _sampler(X, model, em))
    return _map_rows(model, X, "labels", precise=False)


def _chunk_rows(
    block: np.ndarray,
    parameters: tuple[np.ndarray, ...],
    covariance_type: str,
    what: str,
    precise: bool,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    offset = block_info[0]["array-location"][0][0] if block_info else 0
    with _rows_from(offset):
        _check_finite(block)
        if what == "proba":
            _, log_resp = gaussian.estimate_log_prob_resp(block, *parameters, covariance_type)
            return np.exp(log_resp)
        result = gaussian.e_step(
            block,
            *parameters,
            covariance_type,
            with_labels=what == "labels",
            with_density=what == "density",
            precise=precise and what == "labels",  # as in memory: only predict is precise
        )
        return result.labels if what == "labels" else result.sample_log_density


def per_row(model: GaussianMixture, X: Any, what: str) -> da.Array:
    """A fitted model's per-row results on a dask X (N, D), as a dask array chunked as X's rows:
    what = "density" (N,) log p(x_n), "labels" (N,) the most probable component, "proba" (N, K)
    the responsibilities. A row that cannot be scored is a RowError naming it when computed."""
    model._check_is_fitted()
    X, names = as_dask_array(X)
    model._check_feature_names(names)
    model._check_n_features(X.shape[1])
    return _map_rows(model, X, what, precise=True)


def _map_rows(model: GaussianMixture, X: da.Array, what: str, precise: bool) -> da.Array:
    """per_row on a checked X; ``precise`` refuses rows whose labels rounding would decide."""
    parameters = (model.weights_, model.means_, model.precisions_cholesky_)
    dtype = np.dtype(np.intp) if what == "labels" else X.dtype
    if what == "proba":
        shape = {"chunks": (X.chunks[0], (model.n_components,))}
    else:
        shape = {"drop_axis": 1}
    return X.map_blocks(
        _chunk_rows,
        parameters,
        model.covariance_type,
        what,
        precise,
        dtype=dtype,
        meta=np.empty((0,) * (2 if what == "proba" else 1), dtype=dtype),
        **shape,
    )
