"""Distinct optima of several EM starts, and matching components across fits.

EM from different starts (seeds) ends in different local optima, and the same optimum reached
twice can have its components in any order. Here:

- ``align_components`` orders one fit's components like a reference fit's (the permutation that
  minimises the summed squared distance between matched means, in units of ``scale``); exact
  (every permutation) for K <= ``EXACT_LIMIT``, greedy (closest pair first) above;
- ``group_optima`` groups final fits into distinct optima: two fits are the same optimum when,
  aligned, their log-likelihoods per sample differ by at most ``ll_tol`` and every matched mean
  by at most ``mean_tol`` (in units of ``scale``, e.g. the data's standard deviations) and weight
  by at most ``weight_tol``; label order never matters;
- ``run_starts`` fits one start per seed with the estimator (the command line's
  ``fit --n-init N``: start i uses seed S + i, so ``--n-init 1 --seed S+i`` reproduces it);
  ``session_start`` makes a Start from an EMSession run to its end (the window's atlas, which
  replays a start in its own session from the start's initial parameters).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "EXACT_LIMIT",
    "Optimum",
    "Start",
    "align_components",
    "format_seeds",
    "group_optima",
    "optima_table",
    "permuted",
    "run_starts",
    "session_start",
    "snapshot_start",
]

#: Largest K matched by trying every permutation (8! = 40320); greedy above.
EXACT_LIMIT = 8


@dataclass(frozen=True, eq=False)
class Start:
    """The final fit of one start.

    seed; weights (K,), means (K, D), covariances (type shape); covariance_type;
    log_likelihood (summed over the samples) and bic (lower is better) of the final parameters;
    converged; n_iter; initial: the start's initial (weights, means, covariances) when known
    (replaying them gives the same fit), else None.
    """

    seed: int
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str
    log_likelihood: float
    bic: float
    converged: bool
    n_iter: int
    initial: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True, eq=False)
class Optimum:
    """One distinct optimum: its ``starts`` (best log-likelihood first) and for each the order
    (K,) that aligns its components with the first's (``start.means[order]``)."""

    starts: tuple[Start, ...]
    orders: tuple[np.ndarray, ...]

    @property
    def best(self) -> Start:
        """The start with the highest log-likelihood."""
        return self.starts[0]

    @property
    def log_likelihood(self) -> float:
        """The best start's log-likelihood."""
        return self.best.log_likelihood

    @property
    def bic(self) -> float:
        """The best start's BIC."""
        return self.best.bic

    @property
    def count(self) -> int:
        """How many starts reached it."""
        return len(self.starts)

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds that reached it, ascending."""
        return tuple(sorted(s.seed for s in self.starts))


def _cost(reference: np.ndarray, means: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    """Squared scaled distances (K_ref, K) between reference means (K_ref, D) and means (K, D)."""
    s = np.ones(means.shape[1]) if scale is None else np.asarray(scale, dtype=np.float64)
    s = np.where(s > 0.0, s, 1.0)
    diff = (np.asarray(reference, np.float64)[:, None, :] - np.asarray(means, np.float64)) / s
    return np.einsum("rkd,rkd->rk", diff, diff)


def align_components(
    reference_means: np.ndarray, means: np.ndarray, scale: np.ndarray | None = None
) -> np.ndarray:
    """The order (K,) of a fit's components that matches a reference fit's.

    ``means[order][j]`` is matched to reference component j for j < min(K_ref, K); with more
    components than the reference, the unmatched ones follow in their own order. The match
    minimises the summed squared distance between matched means divided by ``scale`` (D,)
    (exactly for K <= EXACT_LIMIT, else greedily). reference_means: (K_ref, D); means: (K, D).
    The result does not depend on the order of ``means``' rows beyond that permutation (ties
    aside).
    """
    cost = _cost(reference_means, means, scale)
    n_ref, k = cost.shape
    m = min(n_ref, k)
    if k <= EXACT_LIMIT:
        chosen = np.array(list(itertools.permutations(range(k), m)), dtype=np.intp)
        totals = cost[np.arange(m), chosen].sum(axis=1) if m else np.zeros(1)
        matched = list(chosen[int(np.argmin(totals))]) if m else []
    else:
        matched = [-1] * m
        free_ref, free = set(range(m)), set(range(k))
        for flat in np.argsort(cost[:m], axis=None, kind="stable"):
            r, c = divmod(int(flat), k)
            if r in free_ref and c in free:
                matched[r] = c
                free_ref.discard(r)
                free.discard(c)
    rest = [c for c in range(k) if c not in set(matched)]
    return np.array([*matched, *rest], dtype=np.intp)


def permuted(
    weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, cov_type: str, order: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, means, covariances) with the components in ``order`` (K,); a tied covariance
    (D, D) is shared and stays as it is."""
    order = np.asarray(order, dtype=np.intp)
    covs = np.asarray(covariances)
    return (
        np.asarray(weights)[order],
        np.asarray(means)[order],
        covs if cov_type == "tied" else covs[order],
    )


def _same(
    a: Start,
    b: Start,
    order: np.ndarray,
    scale: np.ndarray | None,
    n_samples: float,
    tolerances: tuple[float, float, float],
) -> bool:
    ll_tol, mean_tol, weight_tol = tolerances
    if a.means.shape != b.means.shape:
        return False
    if abs(a.log_likelihood - b.log_likelihood) > ll_tol * n_samples:
        return False
    s = np.ones(a.means.shape[1]) if scale is None else np.where(scale > 0, scale, 1.0)
    if np.max(np.abs(a.means - b.means[order]) / s) > mean_tol:
        return False
    return bool(np.max(np.abs(a.weights - b.weights[order])) <= weight_tol)


def group_optima(
    starts: Iterable[Start],
    n_samples: float,
    scale: np.ndarray | None = None,
    *,
    ll_tol: float = 1e-3,
    mean_tol: float = 0.25,
    weight_tol: float = 0.05,
) -> list[Optimum]:
    """Group final fits into distinct optima, best log-likelihood first.

    Each start joins the first optimum (in order of log-likelihood) whose best start it matches
    (see the module docstring: per-sample log-likelihood within ``ll_tol``, aligned means within
    ``mean_tol`` x ``scale`` (D,), weights within ``weight_tol``); else it opens a new one.
    n_samples: N (or the total sample weight), for the per-sample log-likelihood.
    """
    ordered = sorted(starts, key=lambda s: (-s.log_likelihood, s.seed))
    groups: list[tuple[list[Start], list[np.ndarray]]] = []
    tolerances = (ll_tol, mean_tol, weight_tol)
    for start in ordered:
        for members, orders in groups:
            head = members[0]
            if head.means.shape != start.means.shape:
                continue
            order = align_components(head.means, start.means, scale)
            if _same(head, start, order, scale, n_samples, tolerances):
                members.append(start)
                orders.append(order)
                break
        else:
            groups.append(([start], [np.arange(len(start.weights), dtype=np.intp)]))
    return [Optimum(tuple(m), tuple(o)) for m, o in groups]


def format_seeds(seeds: Iterable[int]) -> str:
    """Seeds as ascending runs: [0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8'."""
    runs: list[list[int]] = []
    for seed in sorted(set(seeds)):
        if runs and seed == runs[-1][1] + 1:
            runs[-1][1] = seed
        else:
            runs.append([seed, seed])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def optima_table(optima: Sequence[Optimum], n_starts: int) -> str:
    """A plain-text table of distinct optima, one line each (the first, the best, marked *)."""
    n = len(optima)
    lines = [
        f"starts: {n_starts}, {n} distinct optim{'um' if n == 1 else 'a'} (best first; "
        "component order does not matter)",
        f"  {'#':>3}  {'log-likelihood':>16}  {'BIC':>16}  {'starts':>6}  seeds",
    ]
    for i, optimum in enumerate(optima):
        lines.append(
            f"{'*' if i == 0 else ' '} {i + 1:>3}  {optimum.log_likelihood:>16.4f}"
            f"  {optimum.bic:>16.4f}  {optimum.count:>6}  {format_seeds(optimum.seeds)}"
        )
    return "\n".join(lines)


def _scored(
    seed: int,
    parameters: tuple[np.ndarray, np.ndarray, np.ndarray],
    cov_type: str,
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    converged: bool,
    n_iter: int,
    initial: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    missing: str = "error",
) -> Start:
    """A Start with the log-likelihood and BIC of its final parameters on X (N, D) (NaN cells
    scored on their row's observed cells unless ``missing`` is "error")."""
    from em_engine.mixture import GaussianMixture

    model = GaussianMixture.from_parameters(*parameters, covariance_type=cov_type, missing=missing)
    scores = model.scores(X, sample_weight)
    weights, means, covariances = (np.array(a, dtype=np.float64) for a in parameters)
    return Start(
        int(seed),
        weights,
        means,
        covariances,
        cov_type,
        float(scores.log_likelihood),
        float(scores.bic),
        bool(converged),
        int(n_iter),
        initial,
    )


def run_starts(
    X: np.ndarray,
    make_model: Callable[[int], Any],
    seeds: Sequence[int],
    sample_weight: np.ndarray | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> tuple[list[Start], Any]:
    """Fit one estimator per seed (``make_model(seed)`` gives an unfitted GaussianMixture with
    n_init 1, and the ``missing`` it scores the starts with) on X (N, D); returns every Start
    and the fitted model with the highest log-likelihood (ties: the first seed).
    ``progress(done, total)`` after each start."""
    starts: list[Start] = []
    best_model, best_ll = None, -math.inf
    for i, seed in enumerate(seeds):
        model = make_model(int(seed)).fit(X, sample_weight=sample_weight)
        parameters = (model.weights_, model.means_, model.covariances_)
        start = _scored(
            seed, parameters, model.covariance_type, X, sample_weight, model.converged_,
            model.n_iter_, missing=model.missing,
        )  # fmt: skip
        starts.append(start)
        if start.log_likelihood > best_ll or best_model is None:
            best_model, best_ll = model, start.log_likelihood
        if progress is not None:
            progress(i + 1, len(seeds))
    return starts, best_model


def session_start(session: Any) -> Start:
    """The Start of an EMSession run to its end: its seed, final parameters (scored on its
    data), convergence, iterations and initial parameters (theta_0)."""
    snap = session.snapshot
    first = session.history[0]
    initial = (np.array(first.weights), np.array(first.means), np.array(first.covariances))
    return _scored(
        snap.seed,
        (snap.weights, snap.means, snap.covariances),
        snap.covariance_type,
        session.X,
        session.sample_weight,
        snap.converged,
        snap.iteration,
        initial,
        missing=session.missing,
    )


def snapshot_start(snapshot: Any, n_samples: float) -> Start | None:
    """A Start from a session Snapshot (the window's fit on screen), without another pass over
    the data: its objective (the log-likelihood, or the log posterior with a prior) and the BIC
    from it with N = ``n_samples``; None before the objective is known."""
    from em_engine.covariance import n_parameters

    if snapshot.log_likelihood is None:
        return None
    k, d = np.shape(snapshot.means)
    p = n_parameters(k, d, snapshot.covariance_type)
    ll = float(snapshot.log_likelihood)
    return Start(
        int(snapshot.seed),
        np.array(snapshot.weights, dtype=np.float64),
        np.array(snapshot.means, dtype=np.float64),
        np.array(snapshot.covariances, dtype=np.float64),
        snapshot.covariance_type,
        ll,
        -2.0 * ll + p * math.log(n_samples),
        bool(snapshot.converged),
        int(snapshot.iteration),
    )
