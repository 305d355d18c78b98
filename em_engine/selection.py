"""Model selection: fit every (K, covariance type) pair and compare them by BIC, AIC and ICL.

All three are lower-is-better (scikit-learn's convention for BIC): BIC = -2 log L + p log N,
AIC = -2 log L + 2 p, and ICL (Biernacki, Celeux & Govaert 2000) = BIC + 2 EN, where
EN = -sum_n sum_k r_nk log r_nk is the entropy of the fitted responsibilities r (N, K). ICL adds
a penalty for components that overlap (uncertain classification), so it prefers fewer,
better-separated clusters than BIC.

A request with K larger than the number of samples is refused before any fit (it could only fail,
and '1-100000000' would mean hundreds of millions of fits); the message says how many fits the
request means. A pair that cannot be fitted otherwise (a covariance that collapses) is reported
in its row with the reason; it never stops the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from em_engine.checks import check_data
from em_engine.covariance import check_covariance_type
from em_engine.errors import DataError

__all__ = [
    "SelectionResult",
    "SelectionRow",
    "check_components",
    "classification_entropy",
    "icl",
    "select_model",
]


class SelectionRow(NamedTuple):
    """One fitted candidate. The scores are None when it failed (``error`` says why).

    ``log_likelihood`` is summed over the samples; BIC, AIC and ICL are lower-is-better.
    """

    n_components: int
    covariance_type: str
    bic: float | None
    aic: float | None
    log_likelihood: float | None
    converged: bool
    n_iter: int
    error: str | None = None
    icl: float | None = None


@dataclass(frozen=True)
class SelectionResult:
    """All candidates in the order fitted (covariance type, then K), and the best by BIC."""

    rows: tuple[SelectionRow, ...]
    best: SelectionRow
    n_samples: int

    @property
    def best_icl(self) -> SelectionRow:
        """The fitted row with the lowest ICL."""
        return min((r for r in self.rows if r.error is None), key=lambda r: r.icl)

    def table(self) -> str:
        """A plain-text table, one line per candidate, the best marked with ``*``."""
        header = (
            f"  {'K':>3}  {'covariance':<10}  {'BIC':>14}  {'AIC':>14}  {'ICL':>14}"
            f"  {'log-likelihood':>14}"
            f"  {'converged':<9}  {'iterations':>10}"
        )
        lines = [header]
        for row in self.rows:
            mark = "*" if row is self.best else " "
            if row.error is not None:
                lines.append(
                    f"{mark} {row.n_components:>3}  {row.covariance_type:<10}  failed: {row.error}"
                )
                continue
            lines.append(
                f"{mark} {row.n_components:>3}  {row.covariance_type:<10}  {row.bic:>14.2f}"
                f"  {row.aic:>14.2f}  {row.icl:>14.2f}  {row.log_likelihood:>14.2f}"
                f"  {'yes' if row.converged else 'no':<9}  {row.n_iter:>10}"
            )
        best = self.best
        lines.append(
            f"* best by BIC: K = {best.n_components}, {best.covariance_type} covariance "
            f"(BIC {best.bic:.2f}; lowest is best; {self.n_samples} samples)"
        )
        by_icl = self.best_icl
        lines.append(
            f"  best by ICL: K = {by_icl.n_components}, {by_icl.covariance_type} covariance "
            f"(ICL {by_icl.icl:.2f} = BIC + 2 x entropy of the responsibilities)"
        )
        return "\n".join(lines)


def check_components(largest: int, n_values: int, n_types: int, n_samples: int) -> None:
    """DataError unless every K (the largest is ``largest``) fits ``n_samples`` samples; the
    message counts the fits the request means (``n_values`` K values x ``n_types`` types)."""
    if largest > n_samples:
        fits = n_values * n_types
        raise DataError(
            f"K = {largest} is more than the {n_samples} samples: a mixture cannot have more "
            f"components than samples (K at most {n_samples}); the request means {fits} fits "
            f"({n_values} values of K x {n_types} covariance type{'s' if n_types != 1 else ''})"
        )


def classification_entropy(resp: np.ndarray) -> float:
    """EN = -sum_n sum_k r_nk log r_nk of responsibilities ``resp`` (N, K), >= 0 (0 log 0 = 0)."""
    resp = np.asarray(resp, dtype=np.float64)
    logs = np.log(np.where(resp > 0.0, resp, 1.0))
    return float(-np.einsum("nk,nk->", resp, logs))


def icl(bic: float, resp: np.ndarray) -> float:
    """ICL = BIC + 2 EN (lower is better), EN the entropy of ``resp`` (N, K)."""
    return bic + 2.0 * classification_entropy(resp)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def select_model(
    X: np.ndarray,
    components: Iterable[int] = range(1, 9),
    covariance_types: Sequence[str] = ("full", "tied", "diag", "spherical"),
    *,
    n_init: int = 1,
    seed: int = 0,
    init: str = "kmeans",
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    prior: Any = None,
    missing: str = "error",
    progress: Callable[[SelectionRow, int, int], None] | None = None,
    on_model: Callable[[SelectionRow, Any], None] | None = None,
    on_iteration: Callable[[int, float], object] | None = None,
) -> SelectionResult:
    """Fit a GaussianMixture for every K and covariance type; compare by BIC, AIC and ICL.

    Parameters
    ----------
    X : array-like of shape (N, D)
    components : iterable of int
        Numbers of components K to try (each >= 1).
    covariance_types : sequence of str
        Any of "full", "tied", "diag", "spherical".
    n_init, seed, init, max_iter, tol, reg_covar, prior, missing
        Passed to every GaussianMixture (``seed`` as ``random_state``, ``init`` as
        ``init_params``); with ``missing="em"`` X may hold NaN for missing cells.
    progress : callable(row, done, total), optional
        Called after each candidate (an exception it raises stops the sweep: a cancel).
    on_model : callable(row, model), optional
        Called after each candidate, before ``progress``, with its fitted GaussianMixture (None
        when it failed): the window keeps them to load one.
    on_iteration : callable(iteration, lower_bound), optional
        Called at every EM iteration of every fit (an exception other than ValueError that it
        raises stops the sweep at once: a cancel).

    Returns
    -------
    SelectionResult
        ``rows`` ordered by covariance type then K; ``best`` has the lowest BIC.

    Raises
    ------
    DataError
        If X is not a finite 2-D array (NaN allowed unless ``missing`` is "error"), a K is
        not a positive integer or is larger than the number of samples, or no candidate could
        be fitted (the message gives the first reason).
    ValueError
        If a covariance type is unknown.
    """
    from em_engine.mixture import GaussianMixture

    X = check_data(X, column=True, allow_nan=missing != "error")
    types = [check_covariance_type(t) for t in covariance_types]
    if isinstance(components, range) and len(components) > 0:  # refused before it is expanded
        check_components(max(components), len(components), len(types), X.shape[0])
    ks = list(components)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise DataError(f"numbers of components must be positive integers, got {k!r}")
    if not ks or not types:
        raise DataError("nothing to compare: give at least one K and one covariance type")
    check_components(max(ks), len(set(ks)), len(types), X.shape[0])
    total = len(ks) * len(types)
    rows: list[SelectionRow] = []
    for cov_type in types:
        for k in ks:
            model = GaussianMixture(
                n_components=int(k),
                covariance_type=cov_type,
                tol=tol,
                reg_covar=reg_covar,
                max_iter=max_iter,
                n_init=n_init,
                init_params=init,
                random_state=seed,
                prior=prior,
                missing=missing,
                progress=on_iteration,
            )
            try:
                with np.errstate(all="ignore"):
                    scores = model.fit(X).scores(X)
                    resp = model.predict_proba(X)
                if not math.isfinite(scores.bic):
                    raise ValueError("the fit gave a non-finite log-likelihood")
                row = SelectionRow(
                    int(k),
                    cov_type,
                    scores.bic,
                    scores.aic,
                    scores.log_likelihood,
                    bool(model.converged_),
                    int(model.n_iter_),
                    icl=icl(scores.bic, resp),
                )
            except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
                row = SelectionRow(int(k), cov_type, None, None, None, False, 0, _first_line(exc))
                model = None
            rows.append(row)
            if on_model is not None:
                on_model(row, model)
            if progress is not None:
                progress(row, len(rows), total)
    fitted = [row for row in rows if row.error is None]
    if not fitted:
        raise DataError(f"no model could be fitted ({rows[0].error})")
    best = min(fitted, key=lambda row: row.bic)
    return SelectionResult(rows=tuple(rows), best=best, n_samples=int(X.shape[0]))
