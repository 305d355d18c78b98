"""EM with missing cells (NaN), missing at random (MAR).

Missing at random: whether a cell is missing may depend on the row's observed cells but not on the
missing value itself; the likelihood of a row is then the density of its observed coordinates
alone, the marginal Gaussian p(x_o) = sum_k w_k N(x_o | mu_k[o], Sigma_k[o, o]), and EM for it
(Ghahramani and Jordan 1994) is:

- E-step: each row's log-likelihood and responsibilities r_nk from the marginal Gaussian of its
  observed coordinates; for each component the conditional mean of the missing coordinates,
  E_k[x_m | x_o] = mu_k[m] + Sigma_k[m, o] Sigma_k[o, o]^-1 (x_o - mu_k[o]), and their conditional
  covariance C_k = Sigma_k[m, m] - Sigma_k[m, o] Sigma_k[o, o]^-1 Sigma_k[o, m].
- M-step: the usual one (``gaussian.m_step`` or ``Prior.m_step``) on the *expected* sufficient
  statistics: each row completed per component (x_o, E_k[x_m | x_o]), its scatter plus C_k in the
  missing block. Diag keeps the diagonal of that expected scatter, spherical its mean, tied pools
  it over components: exactly what maximises each type's expected complete-data objective, so the
  covariance update is right (not an imputed-and-refitted one) and the objective never decreases.

Rows are grouped by missingness pattern (``Patterns``), so that each pattern is one dense,
blocked computation: one Cholesky factor of Sigma_k[o, o] per pattern and component, blocks of B
rows (K x B x D temporaries at most). The arithmetic is float64 (float32 data are widened a block
at a time). The displayed imputation of a row is the responsibility-weighted conditional mean
sum_k r_nk E_k[x_m | x_o]. A row with every cell missing has no likelihood to speak of: it is
refused (``Patterns.of`` names it), as is a column with no observed value.

Shapes: N rows, D features, K components; covariances in scikit-learn's shape per type.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from em_engine import gaussian
from em_engine.covariance import check_covariance_type
from em_engine.data import Dataset
from em_engine.errors import DataError, DensityUnderflowError, RowError

__all__ = [
    "MISSING_OPTIONS",
    "Patterns",
    "check_missing",
    "drop_missing_rows",
    "e_step",
    "estimate_log_prob_resp",
    "read_with_missing",
]

#: How rows with missing cells (NaN) are treated: refused, left out, or fitted by EM (MAR).
MISSING_OPTIONS = ("error", "drop", "em")

_LOG_2PI = math.log(2.0 * math.pi)


def check_missing(missing: str, owner: str = "missing") -> str:
    """``missing`` if it is one of MISSING_OPTIONS, else ValueError naming ``owner``."""
    if not isinstance(missing, str) or missing not in MISSING_OPTIONS:
        raise ValueError(f"{owner} must be one of {MISSING_OPTIONS}, got {missing!r}")
    return missing


def read_with_missing(
    path: str | os.PathLike[str], missing: str = "error", **options: Any
) -> Dataset:
    """``read_table(path, **options)`` (CSV or Parquet) with missing cells (empty, NA, NaN;
    Parquet's nulls) treated as ``missing`` says: "error" (the reader's error naming the row and
    column), "drop" (their rows left out, counted in ``n_dropped`` with a reason each) or "em"
    (NaN in ``X``, for EM)."""
    from em_engine.tables import read_table

    check_missing(missing)
    dataset = read_table(path, missing_as_nan=missing != "error", **options)
    return drop_missing_rows(dataset) if missing == "drop" else dataset


def drop_missing_rows(dataset: Dataset) -> Dataset:
    """``dataset`` without its rows that have a missing (NaN) cell, each counted in
    ``n_dropped`` with a reason ("row 12: column 'x' is missing", rows as the file numbers
    them); DataError naming the file when no row is left."""
    missing = np.isnan(dataset.X)
    rows = np.flatnonzero(missing.any(axis=1))
    if rows.size == 0:
        return dataset
    n = dataset.X.shape[0]
    lines = np.arange(1, n + 1) if dataset.lines is None else np.asarray(dataset.lines)
    if rows.size == n:
        where = f"{dataset.source}: " if dataset.source else ""
        raise DataError(f"{where}every row has a missing cell: no row is left")
    columns = np.argmax(missing[rows], axis=1)
    names = dataset.feature_names
    reasons = [
        (int(lines[i]), f"row {lines[i]}: column '{names[j]}' is missing")
        for i, j in zip(rows, columns, strict=True)
    ]
    earlier = [(int(r.split(":")[0].split()[-1]), r) for r in dataset.drop_reasons]
    kept = np.ones(n, dtype=bool)
    kept[rows] = False
    return replace(
        dataset,
        X=np.ascontiguousarray(dataset.X[kept]),
        lines=lines[kept],
        n_dropped=dataset.n_dropped + rows.size,
        drop_reasons=tuple(reason for _, reason in sorted(earlier + reasons)),
        labels=None if dataset.labels is None else dataset.labels[kept],
    )


@dataclass(frozen=True, eq=False)
class Patterns:
    """The rows of X (N, D) grouped by which of their cells are missing.

    Attributes
    ----------
    mask : (P, D) bool, the missing cells of each pattern
    order : (N,) intp, the rows sorted by pattern (in file order within one)
    bounds : (P + 1,) intp, pattern p's rows are order[bounds[p]:bounds[p + 1]]
    n_missing : how many cells are missing in all
    """

    mask: np.ndarray
    order: np.ndarray
    bounds: np.ndarray
    n_missing: int

    @classmethod
    def of(cls, X: np.ndarray, fitting: bool = True) -> Patterns | None:
        """The patterns of X (N, D) float32/float64 whose only non-finite values are NaN; None
        when no cell is missing (the plain engine then runs, unchanged).

        Raises RowError for a row with every cell missing and, when ``fitting``, DataError for
        a column with no observed value (nothing could be learnt about it)."""
        missing = np.isnan(X)
        if not missing.any():
            return None
        n_features = X.shape[1]
        empty = np.flatnonzero(missing.all(axis=1))
        if empty.size:
            more = f"; {empty.size - 1} more rows like it" if empty.size > 1 else ""
            raise RowError(
                "every cell of the row is missing: it tells nothing about the data; remove "
                f"it{more}",
                int(empty[0]),
            )
        unseen = np.flatnonzero(missing.all(axis=0))
        if fitting and unseen.size:
            raise DataError(
                f"column {int(unseen[0]) + 1} has no observed value: every cell is missing"
            )
        packed = np.packbits(missing, axis=1)
        unique, inverse = np.unique(packed, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse))]).astype(np.intp)
        mask = np.unpackbits(unique, axis=1, count=n_features).astype(bool)
        return cls(mask, order, bounds, int(missing.sum()))


def column_means(X: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """(D,) float64 means of the observed cells of each column of X (N, D), weighted by
    sample_weight (N,) when given."""
    observed = ~np.isnan(X)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    weight = w @ observed
    return (w @ np.where(observed, X, 0.0)) / weight


def mean_filled(X: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """A copy of X (N, D) with each missing cell set to its column's observed mean (what the
    initialisation and the default prior start from; EM itself never uses it); X itself when no
    cell is missing."""
    rows, cols = np.nonzero(np.isnan(X))
    if rows.size == 0:
        return X
    filled = np.array(X, copy=True)
    filled[rows, cols] = column_means(X, sample_weight)[cols]
    return filled


class _Component:
    """Per pattern, what each component k needs: the marginal of the observed coordinates (its
    whitening transform and log normaliser) and the regression and conditional covariance of
    the missing ones given them."""

    def __init__(
        self,
        weights: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        covariance_type: str,
    ) -> None:
        self.covariance_type = check_covariance_type(covariance_type)
        self.means = np.asarray(means, dtype=np.float64)
        n_components, n_features = self.means.shape
        cov = np.asarray(covariances, dtype=np.float64)
        self.full = covariance_type in ("full", "tied")
        if covariance_type == "tied":
            cov = np.broadcast_to(cov, (n_components, n_features, n_features))
        elif covariance_type == "spherical":
            cov = np.broadcast_to(cov[:, None], (n_components, n_features))
        self.cov = cov
        with np.errstate(divide="ignore"):
            self.log_weights = np.log(np.asarray(weights, dtype=np.float64))

    def pattern(
        self, missing: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """For the missing cells ``missing`` (D,) bool: the whitening of the observed
        coordinates, (K, d_o, d_o) L_k^-1 (full) or (K, d_o) 1 / sigma (diag); the log
        normalisers (K,) log w_k - log det(Sigma_k[o, o]) / 2 - d_o log(2 pi) / 2; the
        regression (K, d_m, d_o) Sigma_k[m, o] Sigma_k[o, o]^-1 (None for diag: it is zero);
        the conditional covariances (K, d_m, d_m) (full) or variances (K, d_m) (diag)."""
        o, m = ~missing, missing
        d_o = int(o.sum())
        if self.full:
            factor = np.linalg.cholesky(self.cov[:, o][:, :, o])
            whitening = np.linalg.inv(factor)
            log_det = np.log(np.diagonal(factor, axis1=1, axis2=2)).sum(axis=1)
            cross = self.cov[:, m][:, :, o]  # Sigma[m, o]
            regression = cross @ np.swapaxes(whitening, 1, 2) @ whitening
            conditional = self.cov[:, m][:, :, m] - regression @ np.swapaxes(cross, 1, 2)
        else:
            whitening = 1.0 / np.sqrt(self.cov[:, o])
            log_det = 0.5 * np.log(self.cov[:, o]).sum(axis=1)
            regression = None
            conditional = self.cov[:, m]
        constant = self.log_weights - log_det - 0.5 * d_o * _LOG_2PI
        return whitening, constant, regression, conditional


@dataclass(frozen=True)
class _Block:
    """One block of one pattern's rows after the E-step arithmetic."""

    rows: np.ndarray  # (B,) row indices into X
    log_density: np.ndarray  # (B,) log p(x_o)
    log_resp: np.ndarray  # (K, B) log responsibilities
    resp: np.ndarray  # (K, B) responsibilities
    completed: np.ndarray  # (K, B, D) x_o and E_k[x_m | x_o]
    conditional: np.ndarray  # (K, d_m, d_m) or (K, d_m)
    missing: np.ndarray  # (D,) bool


def _blocks(
    X: np.ndarray,
    patterns: Patterns,
    component: _Component,
    precise: bool,
    block_rows: int | None,
) -> Iterator[_Block]:
    """The E-step arithmetic, pattern by pattern and block by block (deterministic order)."""
    means = component.means
    n_components, n_features = means.shape
    for p, missing in enumerate(patterns.mask):
        rows_of_pattern = patterns.order[patterns.bounds[p] : patterns.bounds[p + 1]]
        whitening, constant, regression, conditional = component.pattern(missing)
        o = ~missing
        bounds = gaussian._block_bounds(rows_of_pattern.size, n_components * n_features, block_rows)
        for start, stop in bounds:
            rows = rows_of_pattern[start:stop]
            x_o = X[rows][:, o].astype(np.float64)  # (B, d_o)
            diff = x_o[None] - means[:, None, o]  # (K, B, d_o)
            if component.full:
                y = diff @ np.swapaxes(whitening, 1, 2)
            else:
                y = diff * whitening[:, None, :]
            with np.errstate(over="ignore", invalid="ignore"):
                wlp = constant[:, None] - 0.5 * np.einsum("kbd,kbd->kb", y, y)
            top = wlp.max(axis=0)
            try:
                gaussian._check_scorable(wlp, top, 0, int(o.sum()), precise)
            except DensityUnderflowError as exc:
                raise DensityUnderflowError(exc.reason, int(rows[exc.row])) from None
            resp = np.exp(np.maximum(wlp - top, -700.0))
            total = resp.sum(axis=0)
            log_density = top + np.log(total)
            resp /= total
            completed = np.empty((n_components, rows.size, n_features))
            completed[:, :, o] = x_o[None]
            if regression is None:
                completed[:, :, missing] = means[:, None, missing]
            else:
                shift = diff @ np.swapaxes(regression, 1, 2)  # (K, B, d_m)
                completed[:, :, missing] = means[:, None, missing] + shift
            log_resp = wlp - log_density
            yield _Block(rows, log_density, log_resp, resp, completed, conditional, missing)


def _moments(block: _Block, rw: np.ndarray, full: bool) -> gaussian._Moments:
    """Per-component weight (K,), mean of the completed rows (K, D) and expected scatter about it
    (K, D, D) or (K, D) of one block, whose responsibilities times sample weights are rw (K, B):
    the completed rows' scatter plus the weight times the conditional covariance."""
    weight = rw.sum(axis=1)
    sums = np.einsum("kb,kbd->kd", rw, block.completed)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(weight[:, None] > 0.0, sums / weight[:, None], 0.0)
    dev = block.completed - means[:, None, :]
    m = block.missing
    if full:
        scatter = np.swapaxes(dev * rw[:, :, None], 1, 2) @ dev
        if m.any():
            idx = np.ix_(np.arange(len(weight)), m, m)
            scatter[idx] += weight[:, None, None] * block.conditional
    else:
        scatter = np.einsum("kb,kbd->kd", rw, dev * dev)
        scatter[:, m] += weight[:, None] * block.conditional
    return weight, means, scatter


def e_step(
    X: np.ndarray,
    patterns: Patterns,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
    *,
    with_labels: bool = False,
    with_density: bool = False,
    with_imputed: bool = False,
    precise: bool = False,
    block_rows: int | None = None,
    sample_weight: np.ndarray | None = None,
) -> gaussian.EStepResult:
    """The E-step on data with missing cells: ``gaussian.e_step``'s result, from the marginal
    density of each row's observed cells and the expected sufficient statistics (see the module
    docstring).

    Parameters
    ----------
    X : (N, D) float32/float64, NaN where a cell is missing (no other non-finite value)
    patterns : ``Patterns.of(X)``
    weights (K,), means (K, D), covariances (type shape) : the parameters
    with_labels, with_density, precise, block_rows, sample_weight : as ``gaussian.e_step``
    with_imputed : also return ``imputed`` (N, D) float64: X with each missing cell replaced by
        sum_k r_nk E_k[x_m | x_o]
    """
    component = _Component(weights, means, covariances, covariance_type)
    n_samples = X.shape[0]
    labels = np.empty(n_samples, dtype=np.intp) if with_labels else None
    confidence = np.empty(n_samples) if with_labels else None
    density = np.empty(n_samples) if with_density else None
    imputed = np.array(X, dtype=np.float64, copy=True) if with_imputed else None
    log_likelihood: list[float] = []
    moments = gaussian._Moments64(component.covariance_type, split=False)

    def parts() -> Iterator[gaussian._Moments]:
        for block in _blocks(X, patterns, component, precise, block_rows):
            rows = block.rows
            if sample_weight is None:
                rw = block.resp
                log_likelihood.append(float(block.log_density.sum()))
            else:
                rw = block.resp * sample_weight[rows]
                log_likelihood.append(float(np.dot(sample_weight[rows], block.log_density)))
            if labels is not None:
                labels[rows] = np.argmax(block.resp, axis=0)
                confidence[rows] = np.max(block.resp, axis=0)
            if density is not None:
                density[rows] = block.log_density
            if imputed is not None and block.missing.any():
                filled = np.einsum("kb,kbd->bd", block.resp, block.completed[:, :, block.missing])
                imputed[np.ix_(rows, np.flatnonzero(block.missing))] = filled
            yield _moments(block, rw, component.full)

    merged = moments.merge(parts())
    stats = moments.stats(merged, n_samples, float(np.finfo(np.float64).eps))
    return gaussian.EStepResult(
        math.fsum(log_likelihood), stats, labels, confidence, density, imputed
    )


def estimate_log_prob_resp(
    X: np.ndarray,
    patterns: Patterns,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row marginal log density (N,) and log responsibilities (N, K) of X (N, D) with
    missing cells (``gaussian.estimate_log_prob_resp`` for such data)."""
    component = _Component(weights, means, covariances, covariance_type)
    log_density = np.empty(X.shape[0])
    log_resp = np.empty((X.shape[0], component.means.shape[0]))
    for block in _blocks(X, patterns, component, True, None):
        log_density[block.rows] = block.log_density
        log_resp[block.rows] = block.log_resp.T
    return log_density, log_resp
