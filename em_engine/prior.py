"""Conjugate prior for MAP estimation: Dirichlet on weights, normal-inverse-Wishart on components.

With a prior, EM maximises the log posterior ``log-likelihood + log_prior`` instead of the
log-likelihood; the E-step is unchanged and the M-step (:meth:`Prior.m_step`) gives the joint
posterior mode. The defaults follow mclust's ``priorControl`` (Fraley and Raftery 2007, "Bayesian
regularization for normal mixture estimation"): mean_prior = data mean, mean_precision = 0.01,
dof = D + 2, scale = cov(X) / K^(2/D).

Shapes: N samples, D features, K components; covariances in scikit-learn's shape per type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from em_engine.covariance import check_covariance_type
from em_engine.gaussian import SufficientStats, m_step

_LOG_2PI = math.log(2.0 * math.pi)


def _frozen(values: Any, shape: tuple[int, ...] | None, name: str) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    if shape is not None and array.shape != shape:
        raise ValueError(f"Prior {name} should have shape {shape}, but got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"Prior {name} contains NaN or infinite values")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Prior:
    """Dirichlet(weight_concentration) on the weights; normal-inverse-Wishart on (mean, covariance).

    Attributes
    ----------
    weight_concentration : alpha >= 1 of a symmetric Dirichlet (1 leaves the weights unregularised)
    mean_prior : (D,) m0, the prior centre of every component mean
    mean_precision : kappa > 0; mean_k | Sigma_k ~ N(m0, Sigma_k / kappa)
    dof : nu > D - 1, degrees of freedom of the inverse-Wishart
    scale : (D, D) Psi, symmetric positive definite. diag uses its diagonal psi_j, spherical its
        mean diagonal trace(Psi) / D, as scales of inverse-gamma(nu / 2, psi / 2) variances.
    """

    weight_concentration: float
    mean_prior: np.ndarray
    mean_precision: float
    dof: float
    scale: np.ndarray
    n_features: int = field(init=False)

    def __post_init__(self) -> None:
        mean_prior = _frozen(self.mean_prior, None, "mean_prior")
        if mean_prior.ndim != 1 or mean_prior.size < 1:
            raise ValueError(
                f"Prior mean_prior should have shape (n_features,), but got {mean_prior.shape}"
            )
        n_features = mean_prior.size
        scale = _frozen(self.scale, (n_features, n_features), "scale")
        object.__setattr__(self, "mean_prior", mean_prior)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "n_features", n_features)
        for name in ("weight_concentration", "mean_precision", "dof"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not self.weight_concentration >= 1.0:
            raise ValueError(
                f"Prior weight_concentration should be >= 1, but got {self.weight_concentration!r}"
            )
        if not self.mean_precision > 0.0:
            raise ValueError(f"Prior mean_precision should be > 0, but got {self.mean_precision!r}")
        if not self.dof > n_features - 1:
            raise ValueError(
                f"Prior dof should be > n_features - 1 = {n_features - 1}, but got {self.dof!r}"
            )
        if not np.allclose(scale, scale.T) or np.any(np.linalg.eigvalsh(scale) <= 0.0):
            raise ValueError("Prior scale should be symmetric, positive-definite")

    @classmethod
    def default(
        cls,
        X: np.ndarray,
        n_components: int,
        covariance_type: str = "full",
        sample_weight: np.ndarray | None = None,
    ) -> Prior:
        """Data-driven defaults in the spirit of mclust's priorControl.

        Parameters
        ----------
        X : (N, D) data
        n_components : K
        covariance_type : one of COVARIANCE_TYPES (diag/spherical read the same scale matrix)
        sample_weight : (N,) frequency weights, or None: mean and covariance are those of the
            data with each row repeated w_n times (N = the total weight)

        Returns
        -------
        Prior with alpha = 1, m0 = mean(X), kappa = 0.01, nu = D + 2, Psi = cov(X) / K^(2/D)
        (a small ridge is added when cov(X) is singular, e.g. a constant column or one row).
        """
        check_covariance_type(covariance_type)
        X = np.asarray(X, dtype=np.float64)
        n_samples = X.shape[0]
        if sample_weight is None:
            mean = X.mean(axis=0)
            centred = X - mean
            cov = centred.T @ centred / max(n_samples - 1, 1)
        else:
            total = float(sample_weight.sum())
            mean = sample_weight @ X / total
            centred = X - mean
            cov = (centred.T * sample_weight) @ centred / max(total - 1.0, 1.0)
        return cls.from_moments(mean, cov, n_components)

    @classmethod
    def from_moments(cls, mean: np.ndarray, cov: np.ndarray, n_components: int) -> Prior:
        """``default``'s prior from the data's mean (D,) and covariance (D, D) (with the N - 1
        divisor), however they were computed (em_engine.distributed sums them over chunks)."""
        n_features = mean.shape[0]
        scale = cov / n_components ** (2.0 / n_features)
        if np.linalg.eigvalsh(scale)[0] <= 1e-12 * max(np.trace(scale), 0.0):
            scale = scale + 1e-6 * max(np.trace(scale) / n_features, 1.0) * np.eye(n_features)
        return cls(
            weight_concentration=1.0,
            mean_prior=mean,
            mean_precision=0.01,
            dof=n_features + 2.0,
            scale=scale,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (lists of floats)."""
        return {
            "weight_concentration": self.weight_concentration,
            "mean_prior": self.mean_prior.tolist(),
            "mean_precision": self.mean_precision,
            "dof": self.dof,
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Prior:
        """Inverse of :meth:`to_dict`; ValueError naming the problem for bad values."""
        keys = ("weight_concentration", "mean_prior", "mean_precision", "dof", "scale")
        missing = [key for key in keys if key not in values]
        if missing:
            raise ValueError(f"Prior is missing {', '.join(missing)}")
        return cls(**{key: values[key] for key in keys})

    def check_features(self, n_features: int) -> None:
        """ValueError unless the prior is for ``n_features`` features."""
        if n_features != self.n_features:
            raise ValueError(
                f"Prior is for {self.n_features} features, but the data have {n_features}"
            )

    def m_step(
        self, stats: SufficientStats, covariance_type: str, reg_covar: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """MAP parameters (joint posterior mode) from sufficient statistics.

        With n_k = stats.nk, N = sum n_k, xbar_k and S_k the responsibility-weighted mean and
        scatter of component k, d_k = xbar_k - m0 and c_k = kappa n_k / (n_k + kappa):

        weights_k = (n_k + alpha - 1) / (N + K (alpha - 1))
        means_k = (n_k xbar_k + kappa m0) / (n_k + kappa)
        full: Sigma_k = (Psi + S_k + c_k d_k d_k^T) / (nu + n_k + D + 2)
        tied: Sigma = (Psi + sum_k (S_k + c_k d_k d_k^T)) / (nu + N + D + K + 1)
        diag: sigma2_kj = (Psi_jj + S_k,jj + c_k d_kj^2) / (nu + n_k + 3)
        spherical: sigma2_k = (tr(Psi) / D + tr(S_k) + c_k |d_k|^2) / (nu + (n_k + 1) D + 2)

        reg_covar is then added to the diagonal, as in the maximum-likelihood M-step.

        Returns
        -------
        weights (K,), means (K, D), covariances (type shape)
        """
        covariance_type = check_covariance_type(covariance_type)
        self.check_features(stats.means.shape[1])
        _, xbar, mle_cov = m_step(stats, covariance_type, 0.0)
        nk = stats.nk
        n_components, n_features = xbar.shape
        kappa, nu, alpha = self.mean_precision, self.dof, self.weight_concentration
        weights = (nk + alpha - 1.0) / (nk.sum() + n_components * (alpha - 1.0))
        means = (nk[:, None] * xbar + kappa * self.mean_prior) / (nk + kappa)[:, None]
        d = xbar - self.mean_prior
        shrink = kappa * nk / (nk + kappa)
        if covariance_type == "full":
            spread = mle_cov * nk[:, None, None] + shrink[:, None, None] * (
                d[:, :, None] * d[:, None]
            )
            cov = (self.scale + spread) / (nu + nk + n_features + 2.0)[:, None, None]
            cov[:, np.arange(n_features), np.arange(n_features)] += reg_covar
        elif covariance_type == "tied":
            spread = mle_cov * nk.sum() + (shrink[:, None] * d).T @ d
            cov = (self.scale + spread) / (nu + nk.sum() + n_features + n_components + 1.0)
            cov[np.diag_indices(n_features)] += reg_covar
        elif covariance_type == "diag":
            spread = mle_cov * nk[:, None] + shrink[:, None] * d * d
            cov = (np.diag(self.scale) + spread) / (nu + nk + 3.0)[:, None] + reg_covar
        else:
            spread = mle_cov * nk * n_features + shrink * np.sum(d * d, axis=1)
            psi = np.trace(self.scale) / n_features
            cov = (psi + spread) / (nu + (nk + 1.0) * n_features + 2.0) + reg_covar
        return weights, means, cov


def _log_multigamma(a: float, dim: int) -> float:
    return dim * (dim - 1) / 4.0 * math.log(math.pi) + sum(
        math.lgamma(a + (1.0 - j) / 2.0) for j in range(1, dim + 1)
    )


def _log_inverse_wishart(covs: np.ndarray, dof: float, scale: np.ndarray) -> np.ndarray:
    """log IW(Sigma | nu, Psi) for covs (K, D, D) -> (K,)."""
    dim = scale.shape[0]
    _, logdet_cov = np.linalg.slogdet(covs)
    _, logdet_scale = np.linalg.slogdet(scale)
    trace = np.trace(np.linalg.solve(covs, np.broadcast_to(scale, covs.shape)), axis1=1, axis2=2)
    return (
        0.5 * dof * logdet_scale
        - 0.5 * dof * dim * math.log(2.0)
        - _log_multigamma(0.5 * dof, dim)
        - 0.5 * (dof + dim + 1.0) * logdet_cov
        - 0.5 * trace
    )


def _log_normal_full(diff: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """log N(diff | 0, covs) for diff (K, D), covs (K, D, D) -> (K,)."""
    _, logdet = np.linalg.slogdet(covs)
    maha = np.einsum("kd,kd->k", diff, np.linalg.solve(covs, diff[:, :, None])[:, :, 0])
    return -0.5 * (diff.shape[1] * _LOG_2PI + logdet + maha)


def _log_inverse_gamma(var: np.ndarray, shape: float, rate: np.ndarray | float) -> np.ndarray:
    return shape * np.log(rate) - math.lgamma(shape) - (shape + 1.0) * np.log(var) - rate / var


def log_prior(
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
    prior: Prior,
) -> float:
    """Log prior density of the parameters (normalised densities).

    Dirichlet(alpha) on weights (K,); mean_k | Sigma_k ~ N(m0, Sigma_k / kappa) for means (K, D);
    full: Sigma_k ~ IW(nu, Psi) each, covariances (K, D, D); tied: one Sigma ~ IW(nu, Psi), (D, D);
    diag: sigma2_kj ~ inverse-gamma(nu / 2, Psi_jj / 2), (K, D); spherical: sigma2_k ~
    inverse-gamma(nu / 2, tr(Psi) / (2 D)), (K,). Returns -inf for a weight of 0 when alpha > 1.
    """
    covariance_type = check_covariance_type(covariance_type)
    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    n_components, n_features = means.shape
    prior.check_features(n_features)
    alpha, kappa, nu = prior.weight_concentration, prior.mean_precision, prior.dof
    with np.errstate(divide="ignore"):
        total = (
            math.lgamma(n_components * alpha)
            - n_components * math.lgamma(alpha)
            + ((alpha - 1.0) * np.sum(np.log(weights)) if alpha != 1.0 else 0.0)
        )
    diff = means - prior.mean_prior
    if covariance_type in ("full", "tied"):
        covs = (
            cov if covariance_type == "full" else np.broadcast_to(cov, (n_components, *cov.shape))
        )
        total += np.sum(_log_normal_full(diff, covs / kappa))
        wishart = _log_inverse_wishart(
            covs if covariance_type == "full" else cov[None], nu, prior.scale
        )
        total += np.sum(wishart)
    else:
        var = cov if covariance_type == "diag" else cov[:, None] * np.ones(n_features)
        total += np.sum(-0.5 * (_LOG_2PI + np.log(var / kappa) + kappa * diff**2 / var))
        rate = (
            0.5 * np.diag(prior.scale)
            if covariance_type == "diag"
            else 0.5 * np.trace(prior.scale) / n_features
        )
        total += np.sum(_log_inverse_gamma(cov, 0.5 * nu, rate))
    return float(total)
