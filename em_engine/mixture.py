"""``GaussianMixture``: scikit-learn's estimator interface over em_engine's blocked kernels.

Code written for ``sklearn.mixture.GaussianMixture`` runs unchanged: the same constructor
parameters and defaults, fitted attributes and methods, the same EM loop (``fit_predict`` in
``sklearn/mixture/_base.py``) and, from the same starting parameters, the same numbers. Additions:
``prior`` (None, True for ``Prior.default``, or a ``Prior``: MAP estimation, the lower bound is then
the log posterior per sample), ``progress`` (a callback ``progress(iteration, lower_bound)``; the
engine never prints) and the classmethod ``from_parameters``.

Shapes: N samples, D features, K components; ``covariances_`` and ``precisions_cholesky_`` have
scikit-learn's shape for each type: full (K, D, D), tied (D, D), diag (K, D), spherical (K,).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np

from em_engine import gaussian
from em_engine.errors import DataError
from em_engine.init import (
    INIT_METHODS,
    check_random_state,
    initial_parameters,
    initial_responsibilities,
)
from em_engine.prior import Prior, log_prior

_PARAM_NAMES = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
    "weights_init",
    "means_init",
    "precisions_init",
    "random_state",
    "warm_start",
    "verbose",
    "verbose_interval",
    "prior",
    "progress",
)


class ConvergenceWarning(UserWarning):
    """EM stopped at max_iter before the lower bound changed by less than tol."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs fitted parameters was called before fit (as scikit-learn's)."""


def _check_interval(
    value: Any, name: str, kind: type, low: float, closed_low: bool = True, finite: bool = False
) -> None:
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok:
        ok = value >= low if closed_low else value > low
        ok = ok and (not finite or math.isfinite(value))
    if not ok:
        what = "an int" if kind is Integral else "a float"
        bracket = "[" if closed_low else "("
        raise ValueError(
            f"The '{name}' parameter of GaussianMixture must be {what} in the range "
            f"{bracket}{low}, inf){' and finite' if finite else ''}. Got {value!r} instead."
        )


def _check_option(value: Any, name: str, options: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in options:
        choices = "{" + ", ".join(repr(o) for o in sorted(options)) + "}"
        raise ValueError(
            f"The '{name}' parameter of GaussianMixture must be a str among {choices}. "
            f"Got {value!r} instead."
        )


def _check_shape(param: np.ndarray, shape: tuple[int, ...], name: str) -> None:
    if param.shape != shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {shape}, but got {param.shape}"
        )


def _as_float_array(values: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"The parameter '{name}' should be an array of numbers") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"The parameter '{name}' contains NaN or infinity")
    return array


def _check_weights(weights: Any, n_components: int) -> np.ndarray:
    atol = 1e-6 if getattr(weights, "dtype", None) == np.float32 else 1e-8
    weights = _as_float_array(weights, "weights")
    _check_shape(weights, (n_components,), "weights")
    if np.any(weights < 0.0) or np.any(weights > 1.0):
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got max value "
            f"{weights.max():.5f}, min value {weights.min():.5f}"
        )
    if not abs(1.0 - weights.sum()) <= atol:
        raise ValueError(
            "The parameter 'weights' should be normalized, "
            f"but got sum(weights) = {weights.sum():.5f}"
        )
    return weights


def _check_precisions(
    precisions: Any, covariance_type: str, n_components: int, n_features: int
) -> np.ndarray:
    name = f"{covariance_type} precision"
    precisions = _as_float_array(precisions, name)
    shape = gaussian.covariance_shape(covariance_type, n_components, n_features)
    _check_shape(precisions, shape, name)
    if covariance_type in ("full", "tied"):
        matrices = precisions.reshape(-1, n_features, n_features)
        symmetric = np.allclose(matrices, np.swapaxes(matrices, 1, 2))
        if not symmetric or np.any(np.linalg.eigvalsh(matrices) <= 0.0):
            raise ValueError(f"'{name}' should be symmetric, positive-definite")
    elif np.any(precisions <= 0.0):
        raise ValueError(f"'{name}' should be positive")
    return precisions


def _validate_data(X: Any, min_samples: int = 1) -> np.ndarray:
    """X as a 2-D float32/float64 array (other dtypes become float64), finite; DataError if not."""
    try:
        X = np.asarray(X)
    except (TypeError, ValueError):
        raise DataError("X should be an array of numbers") from None
    dtype = gaussian.work_dtype(X)  # DataError for complex numbers (scikit-learn refuses them)
    try:
        X = X.astype(dtype, copy=False)
    except (TypeError, ValueError):
        raise DataError("X should be an array of numbers") from None
    if X.ndim != 2:
        raise DataError(
            f"Expected 2D array, got {X.ndim}D array instead; reshape your data with "
            "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample."
        )
    if X.shape[1] < 1:
        raise DataError(f"Found array with 0 feature(s) (shape={X.shape}); at least 1 is required")
    if X.shape[0] < min_samples:
        raise DataError(
            f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a minimum of "
            f"{min_samples} is required by GaussianMixture."
        )
    if not np.isfinite(X).all():
        what = "NaN" if np.isnan(X).any() else f"infinity or a value too large for {X.dtype!r}"
        raise DataError(f"Input X contains {what}.")
    return X


class GaussianMixture:
    """Gaussian mixture fitted by EM (maximum likelihood, or MAP with a conjugate prior).

    Parameters
    ----------
    n_components : int >= 1, default 1
    covariance_type : 'full' (default), 'tied', 'diag' or 'spherical'
    tol : float >= 0, default 1e-3; converged when the lower bound (per sample) changes less
    reg_covar : float >= 0, default 1e-6, added to the covariance diagonals
    max_iter : int >= 0, default 100
    n_init : int >= 1, default 1; the best of n_init runs is kept
    init_params : 'kmeans' (default), 'k-means++', 'random' or 'random_from_data'
    weights_init : (K,) or None
    means_init : (K, D) or None
    precisions_init : full (K, D, D), tied (D, D), diag (K, D), spherical (K,) or None
    random_state : int, RandomState, Generator or None
    warm_start : bool, default False; start from the last fit (n_init ignored)
    verbose, verbose_interval : accepted for compatibility; the engine never prints (use progress)
    prior : None (maximum likelihood), True (``Prior.default`` of the data) or a ``Prior`` (MAP)
    progress : None or a callable progress(iteration, lower_bound) called after every iteration

    Attributes (after fit)
    ----------------------
    weights_ (K,), means_ (K, D), covariances_, precisions_, precisions_cholesky_ (type shape),
    converged_, n_iter_, lower_bound_, lower_bounds_ (list, one per iteration), n_features_in_,
    prior_ (the Prior used, or None).
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        prior: bool | Prior | None = None,
        progress: Callable[[int, float], object] | None = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.prior = prior
        self.progress = progress

    def __repr__(self) -> str:
        defaults = GaussianMixture()
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name in _PARAM_NAMES
            if getattr(self, name) is not getattr(defaults, name)
            and not (
                isinstance(getattr(self, name), str | int | float)
                and getattr(self, name) == getattr(defaults, name)
            )
        ]
        return f"GaussianMixture({', '.join(changed)})"

    # --- scikit-learn estimator protocol ---------------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters by name (``deep`` is accepted for compatibility)."""
        return {name: getattr(self, name) for name in _PARAM_NAMES}

    def set_params(self, **params: Any) -> GaussianMixture:
        """Set constructor parameters; ValueError for an unknown name. Returns self."""
        for name, value in params.items():
            if name not in _PARAM_NAMES:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator GaussianMixture. "
                    f"Valid parameters are: {sorted(_PARAM_NAMES)!r}."
                )
            setattr(self, name, value)
        return self

    # --- checks ----------------------------------------------------------------------------------

    def _check_parameters(self) -> None:
        _check_interval(self.n_components, "n_components", Integral, 1)
        _check_option(self.covariance_type, "covariance_type", gaussian.COVARIANCE_TYPES)
        _check_interval(self.tol, "tol", Real, 0.0)
        _check_interval(self.reg_covar, "reg_covar", Real, 0.0, finite=True)
        _check_interval(self.max_iter, "max_iter", Integral, 0)
        _check_interval(self.n_init, "n_init", Integral, 1)
        _check_option(self.init_params, "init_params", INIT_METHODS)
        _check_interval(self.verbose_interval, "verbose_interval", Integral, 1)
        if not isinstance(self.warm_start, bool | np.bool_):
            raise ValueError(
                "The 'warm_start' parameter of GaussianMixture must be an instance of 'bool'. "
                f"Got {self.warm_start!r} instead."
            )
        if not (self.prior is None or isinstance(self.prior, bool | Prior)):
            raise ValueError(
                "The 'prior' parameter of GaussianMixture must be None, True or a Prior. "
                f"Got {self.prior!r} instead."
            )
        if self.progress is not None and not callable(self.progress):
            raise ValueError(
                "The 'progress' parameter of GaussianMixture must be None or a callable. "
                f"Got {self.progress!r} instead."
            )

    def _check_inits(
        self, n_features: int
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        k, ct = self.n_components, self.covariance_type
        weights = None if self.weights_init is None else _check_weights(self.weights_init, k)
        means = None
        if self.means_init is not None:
            means = _as_float_array(self.means_init, "means")
            _check_shape(means, (k, n_features), "means")
        precisions = None
        if self.precisions_init is not None:
            precisions = _check_precisions(self.precisions_init, ct, k, n_features)
        return weights, means, precisions

    def _resolve_prior(self, X: np.ndarray) -> Prior | None:
        if self.prior is None or self.prior is False:
            return None
        if isinstance(self.prior, Prior):
            self.prior.check_features(X.shape[1])  # before the initialisation's k-means
            return self.prior
        return Prior.default(X, self.n_components, self.covariance_type)

    def _check_is_fitted(self) -> None:
        if not hasattr(self, "precisions_cholesky_"):
            raise NotFittedError(
                "This GaussianMixture instance is not fitted yet. Call 'fit' with appropriate "
                "arguments before using this estimator."
            )

    def _check_X(self, X: Any) -> np.ndarray:
        self._check_is_fitted()
        X = _validate_data(X)
        self._check_n_features(X.shape[1])
        return X

    def _check_n_features(self, n_features: int) -> None:
        if n_features != self.n_features_in_:
            raise DataError(
                f"X has {n_features} features, but GaussianMixture is expecting "
                f"{self.n_features_in_} features as input."
            )

    # --- parameters ------------------------------------------------------------------------------

    def _set_parameters(
        self,
        weights: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        precisions_cholesky: np.ndarray,
    ) -> None:
        self.weights_ = weights
        self.means_ = means
        self.covariances_ = covariances
        self.precisions_cholesky_ = precisions_cholesky
        self.precisions_ = gaussian.precisions_from_precision_cholesky(
            precisions_cholesky, self.covariance_type
        )

    def _initial_parameters(
        self, X: np.ndarray, random_state: Any, inits: tuple
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(weights, means, covariances, precisions_cholesky), as scikit-learn's
        ``_initialize_parameters``: an M-step from initial responsibilities, then the user's
        weights_init / means_init / precisions_init in their place."""
        weights_init, means_init, precisions_init = inits
        ct = self.covariance_type
        weights = means = covariances = None
        if weights_init is None or means_init is None or precisions_init is None:
            if self.init_params == "random_means":  # parameters without responsibilities
                weights, means, covariances = initial_parameters(
                    X, self.n_components, ct, self.init_params, random_state, self.reg_covar
                )
            else:
                k, method = self.n_components, self.init_params
                resp = initial_responsibilities(X, k, method, random_state)
                stats = gaussian.stats_from_resp(X, resp, ct)
                _, means, covariances = gaussian.m_step(stats, ct, self.reg_covar)
                weights = stats.nk / X.shape[0]
        weights = weights if weights_init is None else weights_init
        means = means if means_init is None else means_init
        if precisions_init is None:
            return weights, means, covariances, gaussian.compute_precision_cholesky(covariances, ct)
        pc = gaussian.precision_cholesky_from_precisions(precisions_init, ct)
        return weights, means, gaussian.covariances_from_precision_cholesky(pc, ct), pc

    # --- fitting ---------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> GaussianMixture:
        """Fit by EM (best of n_init runs). X: (N, D). Returns self."""
        self.fit_predict(X, y)
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit by EM, then return the labels (N,) of X under the fitted model.

        Per initialisation: E-step (lower bound of the current parameters) -> M-step, until the
        lower bound changes by less than tol or max_iter iterations; the run with the largest
        final lower bound is kept. A ConvergenceWarning is issued if it did not converge.
        """
        self._check_parameters()
        X = _validate_data(X, min_samples=2)
        gaussian.check_magnitude(X)
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, n_samples = {n_samples}"
            )
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        if not do_init:
            self._check_n_features(n_features)
        inits = self._check_inits(n_features)
        prior = self._resolve_prior(X)
        ct = self.covariance_type
        n_init = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)
        max_lower_bound = -math.inf
        best = None
        converged_best = False
        for _ in range(n_init):
            if do_init:
                weights, means, covariances, pc = self._initial_parameters(X, random_state, inits)
                lower_bound = -math.inf
            else:
                weights, means = self.weights_, self.means_
                covariances, pc = self.covariances_, self.precisions_cholesky_
                lower_bound = self.lower_bound_
            lower_bounds: list[float] = []
            converged = False
            n_iter = 0
            for n_iter in range(1, self.max_iter + 1):
                previous = lower_bound
                result = gaussian.e_step(X, weights, means, pc, ct)
                objective = result.log_likelihood
                if prior is not None:
                    objective += log_prior(weights, means, covariances, ct, prior)
                weights, means, covariances = gaussian.m_step(
                    result.stats, ct, self.reg_covar, prior
                )
                del result, pc  # wide data: K x D x D each, not needed for the next ones
                pc = gaussian.compute_precision_cholesky(covariances, ct)
                lower_bound = objective / n_samples
                lower_bounds.append(lower_bound)
                if self.progress is not None:
                    self.progress(n_iter, lower_bound)
                if abs(lower_bound - previous) < self.tol:
                    converged = True
                    break
            if lower_bound > max_lower_bound or max_lower_bound == -math.inf:
                max_lower_bound = lower_bound
                best = (weights, means, covariances, pc, n_iter, lower_bounds)
                converged_best = converged
        self.converged_ = converged_best
        if not converged_best and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=2,
            )
        weights, means, covariances, pc, n_iter, lower_bounds = best
        self._set_parameters(weights, means, covariances, pc)
        self.n_features_in_ = n_features
        self.prior_ = prior
        self.n_iter_ = n_iter
        self.lower_bound_ = max_lower_bound
        self.lower_bounds_ = lower_bounds
        return self._e_step(X, with_labels=True).labels

    # --- using a fitted model --------------------------------------------------------------------

    def _e_step(self, X: np.ndarray, **options: bool) -> gaussian.EStepResult:
        return gaussian.e_step(
            X,
            self.weights_,
            self.means_,
            self.precisions_cholesky_,
            self.covariance_type,
            **options,
        )

    def score_samples(self, X: Any) -> np.ndarray:
        """Log density log p(x_n) of each sample, (N,)."""
        return self._e_step(self._check_X(X), with_density=True).sample_log_density

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per sample of X (N, D)."""
        return float(np.mean(self.score_samples(X), dtype=np.float64))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable component of each sample, (N,)."""
        return self._e_step(self._check_X(X), with_labels=True, precise=True).labels

    def predict_proba(self, X: Any) -> np.ndarray:
        """Responsibilities (N, K)."""
        return self.score_samples_and_proba(X)[1]

    def score_samples_and_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Log density (N,) and responsibilities (N, K) of X (N, D) from one pass over X."""
        X = self._check_X(X)
        log_density, log_resp = gaussian.estimate_log_prob_resp(
            X, self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type
        )
        return log_density, np.exp(log_resp)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw n_samples points: X (n_samples, D) float64 and their components y (n_samples,),
        grouped by component; the same draws as scikit-learn for the same random_state."""
        self._check_is_fitted()
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples} . The sampling requires at "
                "least one sample."
            )
        n_features = self.means_.shape[1]
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        if self.covariance_type in ("full", "tied"):
            covs = gaussian.full_covariances(
                self.covariances_, self.covariance_type, n_features, self.n_components
            )
            parts = [
                rng.multivariate_normal(mean, cov, int(count))
                for mean, cov, count in zip(self.means_, covs, counts, strict=True)
            ]
        else:
            parts = [
                mean + rng.standard_normal(size=(count, n_features)) * np.sqrt(cov)
                for mean, cov, count in zip(self.means_, self.covariances_, counts, strict=True)
            ]
        labels = np.concatenate(
            [np.full(int(count), k, dtype=np.int64) for k, count in enumerate(counts)]
        )
        return np.vstack(parts).astype(np.float64), labels

    def _n_parameters(self) -> int:
        return gaussian.n_parameters(self.n_components, self.means_.shape[1], self.covariance_type)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion on X (lower is better)."""
        n_samples = np.shape(X)[0]
        return -2.0 * self.score(X) * n_samples + self._n_parameters() * math.log(n_samples)

    def aic(self, X: Any) -> float:
        """Akaike information criterion on X (lower is better)."""
        return -2.0 * self.score(X) * np.shape(X)[0] + 2.0 * self._n_parameters()

    @classmethod
    def from_parameters(
        cls,
        weights: Any,
        means: Any,
        covariances: Any,
        covariance_type: str = "full",
        **params: Any,
    ) -> GaussianMixture:
        """A fitted estimator with the given parameters (model loading, the GUI).

        Parameters
        ----------
        weights : (K,), in [0, 1] and summing to 1
        means : (K, D)
        covariances : full (K, D, D), tied (D, D), diag (K, D), spherical (K,); positive definite
        covariance_type : one of COVARIANCE_TYPES
        **params : other constructor parameters (n_components is taken from weights)

        converged_ is True, n_iter_ 0, lower_bound_ NaN and lower_bounds_ empty.
        """
        weights = _as_float_array(weights, "weights")
        if weights.ndim != 1 or weights.size < 1:
            raise ValueError(f"The parameter 'weights' should be 1-D, but got {weights.shape}")
        model = cls(n_components=weights.size, covariance_type=covariance_type, **params)
        model._check_parameters()
        weights = _check_weights(weights, weights.size)
        means = _as_float_array(means, "means")
        if means.ndim != 2:
            raise ValueError(f"The parameter 'means' should be 2-D, but got {means.shape}")
        n_features = means.shape[1]
        _check_shape(means, (weights.size, n_features), "means")
        covariances = _as_float_array(covariances, "covariances")
        shape = gaussian.covariance_shape(covariance_type, weights.size, n_features)
        _check_shape(covariances, shape, "covariances")
        pc = gaussian.compute_precision_cholesky(covariances, covariance_type)
        model._set_parameters(weights, means, covariances.copy(), pc)
        model.n_features_in_ = n_features
        model.prior_ = model.prior if isinstance(model.prior, Prior) else None
        model.converged_ = True
        model.n_iter_ = 0
        model.lower_bound_ = math.nan
        model.lower_bounds_ = []
        return model


def build_mixture(
    n_components: int,
    covariance_type: str = "full",
    *,
    init: str = "kmeans",
    seed: Any = None,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    prior: bool = False,
    n_init: int = 1,
    parameters: tuple[Any, Any, Any] | None = None,
    progress: Callable[[int, float], object] | None = None,
) -> GaussianMixture:
    """The estimator for a fit's settings, the one mapping of settings to estimator parameters
    that the command line and the window share.

    Without ``parameters`` it is unfitted (the command line's ``fit``); with ``parameters``
    (weights, means, covariances) it is fitted with those (the window's exports).
    """
    params: dict[str, Any] = {
        "covariance_type": covariance_type,
        "init_params": init,
        "random_state": seed,
        "tol": tol,
        "reg_covar": reg_covar,
        "max_iter": max_iter,
        "prior": True if prior else None,
        "n_init": n_init,
        "progress": progress,
    }
    if parameters is None:
        return GaussianMixture(n_components, **params)
    model = GaussianMixture.from_parameters(*parameters, **params)
    if model.n_components != n_components:
        raise ValueError(f"{model.n_components} weights given for {n_components} components")
    return model
