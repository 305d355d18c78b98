"""One EM iteration, written once: ``GaussianMixture.fit`` loops over it and ``EMSession`` runs its
two halves one at a time (and replays it to show an old iteration).

Maximum likelihood or MAP is chosen here, once, from ``prior``: the kernels (em_engine.gaussian)
never see the prior. The objective of parameters theta is the log-likelihood of X, or with a prior
the log posterior (log-likelihood + the log prior density of theta). Convergence is
scikit-learn's: the objective per sample changed by less than ``tol``.

Shapes: N samples, D features, K components; covariances and precision factors have
scikit-learn's shape for each type: full (K, D, D), tied (D, D), diag (K, D), spherical (K,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from em_engine import gaussian
from em_engine import missing as em_missing
from em_engine.covariance import compute_precision_cholesky
from em_engine.prior import Prior, log_prior

__all__ = ["EMIteration", "Scored", "Theta"]

_Parameters = tuple[np.ndarray, np.ndarray, np.ndarray]  # weights, means, covariances


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
    """The E-step on some parameters and their objective (log-likelihood or log posterior)."""

    result: gaussian.EStepResult
    objective: float


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
        NaN for missing cells, fitted by EM for missing at random (em_engine.missing)
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
    ) -> None:
        self.X = X
        self.patterns = patterns
        self.sample_weight = sample_weight
        self.total_weight = X.shape[0] if sample_weight is None else float(sample_weight.sum())
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.prior = prior
        self.tol = tol
        self._maximise = gaussian.m_step if prior is None else prior.m_step

    def e_step(self, theta: Theta, *, with_labels: bool = False) -> Scored:
        """The blocked E-step on theta (labels and confidence when asked; with missing cells
        also the imputed data, for display) and its objective."""
        result = self._e_pass(theta, with_labels)
        objective = result.log_likelihood
        if self.prior is not None:
            objective += log_prior(
                theta.weights, theta.means, theta.covariances, self.covariance_type, self.prior
            )
        return Scored(result, objective)

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

    def m_step(self, stats: gaussian.SufficientStats) -> _Parameters:
        """weights (K,), means (K, D), covariances (type shape) from the E-step's statistics:
        maximum likelihood, or the posterior mode with a prior."""
        return self._maximise(stats, self.covariance_type, self.reg_covar)

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
