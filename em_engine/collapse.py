"""The session's collapse policy: what EMSession does with parameters EM cannot go on from.

After every M-step, a component is *collapsed* when

- its weight is below 1/N, i.e. it holds less than one sample's worth of responsibility (a relative
  allowance of 1e-6 absorbs rounding, so K == N components on one point each are not collapsed);
  with sample weights, below w_min / W, the lightest row's share of the total weight W (integer
  weights thus behave as the repeated rows would), or
- its covariance is not positive definite (the Cholesky factor of its precision cannot be computed,
  e.g. with ``reg_covar=0`` on duplicated or collinear points) or numerically singular (a variance,
  i.e. an eigenvalue, below 100 eps x the data's mean variance, where it is rounding noise), or
  its parameters are not finite.

A collapsed component is re-initialised: its mean moves to the worst-explained row (the lowest
log density log p(x_n) under the mixture of the healthy components; several collapsed components
take distinct rows, and distinct values where the data allow), its covariance becomes the data's
overall covariance (+ reg_covar; for diag its diagonal, for spherical the mean variance) and its
weight 1/K, after which the weights are renormalised. Rows of zero sample weight are left out of
the data moments and are never chosen as a new mean. With the tied type, an unusable tied
covariance is replaced by the data covariance. Each re-initialisation is reported as an event,
e.g. "component 3 collapsed (weight 2.1e-09) and was re-initialised at data point 18". Event texts
are for people and count components and data points from 1 (as the window's legend does); labels
and array indices count from 0. Initial parameters are checked the same way,
except for the weight test (a small starting weight is the user's choice). So a session never
raises and never produces NaN on awkward data: duplicates, collinear points, constant columns,
K == N.

The objective may drop at an iteration with such an event. Otherwise EM never lowers it, up to
rounding when reg_covar = 0; reg_covar > 0 makes each M-step a slightly perturbed maximiser, so
tiny drops of the order of N x reg_covar / variance are possible (as in scikit-learn).

Short of that, a component can still be *narrow*: maximum likelihood shrinks it onto one or a few
points (its density there grows without bound; only reg_covar holds the variance up).
``CollapsePolicy.narrow`` names the components whose smallest variance is below NARROW_FRACTION of
the data's mean variance, for the window to show; the policy leaves them alone.

``GaussianMixture`` keeps scikit-learn's behaviour instead (a ValueError naming reg_covar).
Shapes: N samples, D features, K components; covariances in scikit-learn's shape per type.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from em_engine import covariance, gaussian
from em_engine.iteration import Theta

#: A component whose smallest variance is below this fraction of the data's mean variance is narrow.
NARROW_FRACTION = 1e-3
_WEIGHT_ALLOWANCE = 1e-6  # relative allowance below 1/N (w_min / W) before a weight collapses
# Data variances below this are treated as 0 (their squares are subnormal).
_ZERO_VARIANCE = 1e-250


def frozen(array: np.ndarray, dtype: Any = None) -> np.ndarray:
    """A read-only view of a private copy of ``array`` (the view cannot be made writeable)."""
    base = np.array(array, dtype=dtype, copy=True)
    base.flags.writeable = False
    return base.view()


def _is_positive_definite(covariances: np.ndarray, covariance_type: str) -> bool:
    try:
        covariance.compute_precision_cholesky(covariances, covariance_type)
    except ValueError:
        return False
    return True


class CollapsePolicy:
    """The collapse policy (module docstring) for one session's data and settings.

    Parameters
    ----------
    X : (N, D) checked data
    n_components : K
    covariance_type : one of COVARIANCE_TYPES
    reg_covar : added to the data covariance a re-initialised component gets
    sample_weight : None or (N,) checked frequency weights (em_engine.checks.check_sample_weight)
    """

    def __init__(
        self,
        X: np.ndarray,
        n_components: int,
        covariance_type: str,
        reg_covar: float,
        sample_weight: np.ndarray | None = None,
    ) -> None:
        self.X = X
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.sample_weight = sample_weight
        if sample_weight is None:
            self._min_weight = 1.0 / X.shape[0]
        else:
            lightest = float(sample_weight[sample_weight > 0.0].min())
            self._min_weight = lightest / float(sample_weight.sum())
        self._data_moments: tuple[np.ndarray, np.ndarray] | None = None

    def _make_theta(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> Theta:
        """Valid parameters -> Theta with read-only copies and precision Cholesky factors."""
        precisions_cholesky = covariance.compute_precision_cholesky(
            covariances, self.covariance_type
        )
        return Theta(
            frozen(weights, np.float64),
            frozen(means, np.float64),
            frozen(covariances, np.float64),
            frozen(precisions_cholesky),
        )

    def sanitise(
        self,
        weights: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        *,
        check_weights: bool,
    ) -> tuple[Theta, tuple[str, ...]]:
        """Apply the collapse policy (module docstring); returns valid parameters and events."""
        weights = np.array(weights, dtype=np.float64)
        means = np.array(means, dtype=np.float64)
        covariances = np.array(covariances, dtype=np.float64)
        reasons: dict[int, str] = {}
        for k in range(self.n_components):
            if not (np.isfinite(weights[k]) and np.all(np.isfinite(means[k]))):
                reasons[k] = "non-finite parameters"
            elif check_weights and weights[k] < (1.0 - _WEIGHT_ALLOWANCE) * self._min_weight:
                reasons[k] = f"weight {weights[k]:.2g}"
        events = []
        if self.covariance_type == "tied":
            problem = self.covariance_problem(covariances)
            if problem is not None:
                covariances = self.data_covariance()
                events.append(
                    f"the tied covariance was unusable ({problem}) and was reset to the data "
                    "covariance"
                )
        else:
            for k in range(self.n_components):
                problem = self.covariance_problem(covariances[k])
                if k not in reasons and problem is not None:
                    reasons[k] = problem
        if not reasons:
            return self._make_theta(weights, means, covariances), tuple(events)
        collapsed = np.array(sorted(reasons))
        rows = self._worst_rows(weights, means, covariances, collapsed)
        data_cov = self.data_covariance()
        for k, row in zip(collapsed, rows, strict=True):
            means[k] = self.X[row]
            if self.covariance_type != "tied":
                covariances[k] = data_cov
            weights[k] = 1.0 / self.n_components
            events.append(
                f"component {k + 1} collapsed ({reasons[k]}) and was re-initialised at "
                f"data point {row + 1}"
            )
        weights /= weights.sum()
        return self._make_theta(weights, means, covariances), tuple(events)

    def covariance_problem(self, covariance: np.ndarray) -> str | None:
        """Why one component's covariance is unusable, or None.

        ``covariance`` is a (D, D) matrix (full, tied), D variances (diag) or one (spherical).
        Unusable: not finite, not positive definite, or a variance (eigenvalue) below
        100 eps x the data's mean variance, where rounding noise dominates (a singleton component
        with reg_covar=0 gets such a variance instead of exactly 0).
        """
        if not np.all(np.isfinite(covariance)):
            return "non-finite covariance"
        matrix = covariance.ndim == 2
        smallest = float(np.linalg.eigvalsh(covariance)[0] if matrix else np.min(covariance))
        if smallest <= 0.0 or (matrix and not _is_positive_definite(covariance, "tied")):
            return "covariance not positive definite"
        if smallest < self._singular_variance():
            return f"covariance singular, smallest variance {smallest:.2g}"
        return None

    def narrow(self, covariances: np.ndarray) -> tuple[tuple[int, float], ...]:
        """(k, smallest variance / data's mean variance) of every component whose fraction is
        below NARROW_FRACTION (tied: the shared covariance, reported for every component)."""
        scale = float(np.mean(np.diag(self._data_moments_checked()[1])))
        covariances = np.asarray(covariances, dtype=np.float64)
        if self.covariance_type == "tied":
            covariances = np.broadcast_to(covariances, (self.n_components, *covariances.shape))
        found = []
        for k in range(self.n_components):
            cov = covariances[k]
            smallest = float(np.linalg.eigvalsh(cov)[0] if cov.ndim == 2 else np.min(cov))
            if smallest < NARROW_FRACTION * scale:
                found.append((k, smallest / scale))
        return tuple(found)

    def _singular_variance(self) -> float:
        """Variances below this are rounding noise: 100 eps(X's dtype) x mean data variance."""
        cov = self._data_moments_checked()[1]
        return 100.0 * float(np.finfo(self.X.dtype).eps) * float(np.mean(np.diag(cov)))

    def _worst_rows(
        self,
        weights: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        collapsed: np.ndarray,
    ) -> np.ndarray:
        """Rows with the lowest log density under the healthy components, one per collapsed one.

        Distinct rows, with distinct values where possible. With no healthy component, the
        density of one Gaussian with the data's mean and covariance is used.
        """
        healthy = np.ones(self.n_components, dtype=bool)
        healthy[collapsed] = False
        if healthy.any():
            w = weights[healthy] / weights[healthy].sum()
            mu = means[healthy]
            cov = covariances if self.covariance_type == "tied" else covariances[healthy]
            covariance_type = self.covariance_type
        else:
            mu, cov = self._data_moments_checked()
            w, mu, cov, covariance_type = np.ones(1), mu[None], cov[None], "full"
        pc = covariance.compute_precision_cholesky(cov, covariance_type)
        density = gaussian.e_step(
            self.X, w, mu, pc, covariance_type, with_density=True
        ).sample_log_density
        if self.sample_weight is not None:
            density = np.where(self.sample_weight > 0.0, density, np.inf)  # never a dropped row
        n_samples, count = self.X.shape[0], len(collapsed)
        n_candidates = min(n_samples, 4 * count + 16)
        candidates = np.argpartition(density, n_candidates - 1)[:n_candidates]
        candidates = candidates[np.argsort(density[candidates], kind="stable")]
        _, first = np.unique(self.X[candidates], axis=0, return_index=True)
        distinct = candidates[np.sort(first)]
        rest = candidates[~np.isin(candidates, distinct)]
        return np.concatenate([distinct, rest])[:count]

    def _data_moments_checked(self) -> tuple[np.ndarray, np.ndarray]:
        """Data mean (D,) and covariance (D, D) + reg_covar, made well conditioned if needed.

        When the covariance is not positive definite or its condition number exceeds 1e12
        (constant columns, identical or collinear rows without reg_covar), 1e-6 x its mean
        variance (or 1e-6 if that is about 0) is added to the diagonal, growing tenfold until
        it is well conditioned.
        """
        if self._data_moments is None:
            resp = np.ones((self.X.shape[0], 1), dtype=self.X.dtype)
            stats = gaussian.stats_from_resp(self.X, resp, "full", self.sample_weight)
            _, mean, cov = gaussian.m_step(stats, "full", self.reg_covar)
            cov = cov[0]
            scale = float(np.mean(np.diag(cov)))
            jitter = 1e-6 * (scale if scale > _ZERO_VARIANCE else 1.0)
            for _ in range(30):  # finite data (checked on entry): a few decades suffice
                if _is_positive_definite(cov, "tied"):
                    eigenvalues = np.linalg.eigvalsh(cov)
                    if eigenvalues[0] >= 1e-12 * eigenvalues[-1]:
                        break
                cov = cov + jitter * np.eye(cov.shape[0])
                jitter *= 10.0
            self._data_moments = (mean[0], cov)
        return self._data_moments

    def data_covariance(self) -> np.ndarray:
        """The data covariance in the shape of one component (tied: the shared matrix)."""
        cov = self._data_moments_checked()[1]
        if self.covariance_type in ("full", "tied"):
            return cov.copy()
        diagonal = np.diag(cov).copy()
        return diagonal if self.covariance_type == "diag" else np.float64(diagonal.mean())
