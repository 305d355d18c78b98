"""One EM iteration, written once: ``GaussianMixture.fit`` loops over it and ``EMSession`` runs its
two halves one at a time (and replays it to show an old iteration).

Maximum likelihood or MAP is chosen here, once, from ``prior``: the kernels (em_engine.gaussian)
never see the prior. The objective of parameters theta is the log-likelihood of X, or with a prior
the log posterior (log-likelihood + the log prior density of theta). Convergence is
scikit-learn's: the objective per sample changed by less than ``tol``.

The mode (MODES) is chosen here too, once:

- "soft": EM, each row shared among the components by its responsibilities;
- "hard": classification EM, each row given wholly to its most responsible component (the
  E-step's q is one-hot); the objective is the classification log-likelihood
  sum_n log(pi_{z_n} N(x_n | theta_{z_n})), which hard EM never lowers;
- "kmeans": hard EM with equal weights 1/K and one shared spherical covariance sigma^2 I (in the
  shape of the covariance type): the E-step gives each row to its nearest mean, the M-step moves
  each mean to its rows' average and sigma^2 to the mean squared distance per feature (+
  reg_covar). Maximum likelihood only. A cluster left without rows gets weight 0 (the session's
  collapse policy then re-initialises it).

Every mode reports the lower bound L(q, theta) = Q(theta | q) + H(q) (em_engine.bound) and
log p(X | theta) of its E-step (``Scored``).

Shapes: N samples, D features, K components; covariances and precision factors have
scikit-learn's shape for each type: full (K, D, D), tied (D, D), diag (K, D), spherical (K,).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from em_engine import gaussian
from em_engine import missing as em_missing
from em_engine.bound import expected_complete_log_likelihood
from em_engine.covariance import compute_precision_cholesky
from em_engine.prior import Prior, log_prior

__all__ = ["MODES", "EMIteration", "Scored", "Theta"]

#: EM's modes: soft EM, hard (classification) EM, k-means.
MODES = ("soft", "hard", "kmeans")

_Parameters = tuple[np.ndarray, np.ndarray, np.ndarray]  # weights, means, covariances


def _total_variance(array: np.ndarray, covariance_type: str) -> float:
    """The sum of the variances (traces) in a scatter or covariance array of the type's shape
    (or one component's): matrices for full and tied, vectors or numbers otherwise."""
    if covariance_type in ("full", "tied"):
        return float(np.trace(array, axis1=-2, axis2=-1).sum())
    return float(np.sum(array))


@dataclass(frozen=True, eq=False)
class Theta:
    """Valid mixture parameters with the Cholesky factors of their precisions.

    weights (K,), means (K, D), covariances and precisions_cholesky (type shape).
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray

    @classmethod
    def of(
        cls, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, covariance_type: str
    ) -> Theta:
        """Parameters with their precision factors; ValueError naming reg_covar (scikit-learn's)
        when a covariance is not positive definite."""
        pc = compute_precision_cholesky(covariances, covariance_type)
        return cls(weights, means, covariances, pc)


@dataclass(frozen=True, eq=False)
class Scored:
    """The E-step on some parameters theta.

    result : the E-step (its statistics are those of the mode's q: one-hot in hard modes)
    objective : what the mode climbs: soft: log p(X | theta); hard, kmeans: the classification
        log-likelihood; with a prior + log p(theta)
    evidence : log p(X | theta) (+ log p(theta) with a prior), whatever the mode
    theta : the parameters scored
    """

    result: gaussian.EStepResult
    objective: float
    evidence: float
    theta: Theta


class EMIteration:
    """The E-step and M-step of EM on X for one set of fit settings.

    Parameters
    ----------
    X : (N, D) float32/float64, checked (em_engine.checks.check_data)
    covariance_type : one of COVARIANCE_TYPES
    reg_covar : added to the covariance diagonals by the M-step
    prior : None (maximum likelihood) or a Prior (MAP)
    tol : convergence threshold on the objective per sample
    sample_weight : (N,) float64 frequency weights (checked), or None: the objective and the
        statistics weight each row, and "per sample" means per unit of total weight
    patterns : None (X has no missing cell: the plain engine), or ``Patterns.of(X)``: X holds
        NaN for missing cells, fitted by EM for missing at random (em_engine.missing; soft
        mode only)
    mode : one of MODES (module docstring)
    """

    def __init__(
        self,
        X: np.ndarray,
        covariance_type: str,
        reg_covar: float,
        prior: Prior | None = None,
        tol: float = 0.0,
        sample_weight: np.ndarray | None = None,
        patterns: em_missing.Patterns | None = None,
        mode: str = "soft",
    ) -> None:
        self.X = X
        self.patterns = patterns
        self.sample_weight = sample_weight
        self.total_weight = X.shape[0] if sample_weight is None else float(sample_weight.sum())
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.prior = prior
        self.tol = tol
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "kmeans" and prior is not None:
            raise ValueError("mode 'kmeans' is maximum likelihood only: it takes no prior")
        if mode != "soft" and patterns is not None:
            raise ValueError(
                f"mode {mode!r} needs complete rows: missing cells are fitted by soft EM only"
            )
        self.mode = mode
        self._maximise = gaussian.m_step if prior is None else prior.m_step

    def _log_prior(self, theta: Theta) -> float:
        if self.prior is None:
            return 0.0
        return log_prior(
            theta.weights, theta.means, theta.covariances, self.covariance_type, self.prior
        )

    def _q(self, theta: Theta, stats: gaussian.SufficientStats) -> float:
        return expected_complete_log_likelihood(
            stats, theta.weights, theta.means, theta.precisions_cholesky, self.covariance_type
        )

    def e_step(self, theta: Theta, *, with_labels: bool = False) -> Scored:
        """The blocked E-step on theta (labels and confidence when asked; always in hard modes;
        with missing cells also the imputed data, for display) and its objective."""
        hard = self.mode != "soft"
        result = self._e_pass(theta, with_labels or hard)
        log_prior_value = self._log_prior(theta)
        evidence = result.log_likelihood + log_prior_value
        if not hard:
            return Scored(result, evidence, evidence, theta)
        one_hot = np.zeros((self.X.shape[0], theta.weights.size))
        one_hot[np.arange(self.X.shape[0]), result.labels] = 1.0
        stats = gaussian.stats_from_resp(self.X, one_hot, self.covariance_type, self.sample_weight)
        result = replace(result, stats=stats)
        return Scored(result, self._q(theta, stats) + log_prior_value, evidence, theta)

    def _e_pass(self, theta: Theta, with_labels: bool) -> gaussian.EStepResult:
        """The E-step's pass over X (em_engine.distributed runs it on a Dask cluster; with
        missing cells, em_engine.missing's pass by missingness pattern)."""
        if self.patterns is not None:
            return em_missing.e_step(
                self.X,
                self.patterns,
                theta.weights,
                theta.means,
                theta.covariances,
                self.covariance_type,
                with_labels=with_labels,
                with_imputed=with_labels,
                sample_weight=self.sample_weight,
            )
        return gaussian.e_step(
            self.X,
            theta.weights,
            theta.means,
            theta.precisions_cholesky,
            self.covariance_type,
            with_labels=with_labels,
            sample_weight=self.sample_weight,
        )

    def bound(self, theta: Theta, scored: Scored) -> float:
        """L(q, theta) (+ log p(theta)) for the q of ``scored``'s E-step: on the parameters it
        scored, its objective; on the next M-step's, the bound that M-step raised."""
        stats = scored.result.stats
        entropy = 0.0  # hard modes: one-hot q
        if self.mode == "soft":  # H(q) = log p(X | scored theta) - Q(scored theta | q)
            entropy = scored.result.log_likelihood - self._q(scored.theta, stats)
        return self._q(theta, stats) + entropy + self._log_prior(theta)

    def m_step(self, stats: gaussian.SufficientStats) -> _Parameters:
        """weights (K,), means (K, D), covariances (type shape) from the E-step's statistics:
        maximum likelihood, or the posterior mode with a prior; k-means' in that mode."""
        if self.mode != "kmeans":
            return self._maximise(stats, self.covariance_type, self.reg_covar)
        n_features = stats.means.shape[1]
        variance = _total_variance(stats.scatter, self.covariance_type)
        variance = variance / (stats.nk.sum() * n_features) + self.reg_covar
        n_components = stats.nk.size
        held = stats.nk >= 0.5  # a cluster that lost its rows gets weight 0 (no mean to keep)
        weights = held / np.count_nonzero(held)
        return weights, stats.means.copy(), self.spherical(variance, n_components, n_features)

    def spherical(self, variance: float, n_components: int, n_features: int) -> np.ndarray:
        """sigma^2 I for every component, in the covariance type's shape."""
        if self.covariance_type == "full":
            return np.tile(variance * np.eye(n_features), (n_components, 1, 1))
        if self.covariance_type == "tied":
            return variance * np.eye(n_features)
        if self.covariance_type == "diag":
            return np.full((n_components, n_features), variance)
        return np.full(n_components, variance)

    def constrain(self, parameters: _Parameters) -> _Parameters:
        """Starting parameters made k-means' in that mode (weights 1/K, sigma^2 I with sigma^2
        the weighted mean variance of the given covariances); unchanged otherwise."""
        if self.mode != "kmeans":
            return parameters
        weights, means, covariances = (np.asarray(a, dtype=np.float64) for a in parameters)
        n_components, n_features = means.shape
        if self.covariance_type == "tied":
            variance = _total_variance(covariances, "tied") / n_features
        else:
            per_component = [_total_variance(c, self.covariance_type) for c in covariances]
            scale = n_features if self.covariance_type != "spherical" else 1
            variance = float(weights @ np.array(per_component) / weights.sum()) / scale
        equal = np.full(n_components, 1.0 / n_components)
        return equal, means, self.spherical(variance, n_components, n_features)

    def step(self, theta: Theta) -> tuple[float, _Parameters]:
        """One iteration: the objective of theta and the next parameters (no precision factors
        yet: the caller decides what an unusable covariance means)."""
        scored = self.e_step(theta)
        return scored.objective, self.m_step(scored.result.stats)

    def lower_bound(self, objective: float) -> float:
        """The objective per sample (scikit-learn's lower bound; per unit of total weight)."""
        return objective / self.total_weight

    def converged(self, lower_bound: float, previous: float) -> bool:
        """Whether the objective per sample changed by less than tol since ``previous``."""
        return abs(lower_bound - previous) < self.tol
