"""``GaussianMixture``: scikit-learn's estimator interface over em_engine's blocked kernels.

Code written for ``sklearn.mixture.GaussianMixture`` runs unchanged: the same constructor
parameters and defaults, fitted attributes and methods, the same EM loop (``fit_predict`` in
``sklearn/mixture/_base.py``) and, from the same starting parameters, the same numbers.
scikit-learn's tools take it (Pipeline, GridSearchCV, clone, ``check_estimator``) without
em_engine importing scikit-learn: ``__sklearn_tags__`` imports it when scikit-learn asks, and
``errors.sklearn_compatible`` raises its exception classes once the program has imported it.
Additions:
``prior`` (None, True for ``Prior.default``, or a ``Prior``: MAP estimation, the lower bound is then
the log posterior per sample), ``progress`` (a callback ``progress(iteration, lower_bound)``; the
engine never prints), the classmethod ``from_parameters`` and ``sample_weight`` (frequency
weights) for ``fit``, ``fit_predict``, ``score``, ``scores``, ``bic`` and ``aic``: integer weights
fit as the data with each row repeated w_n times (zero: the row is left out), N is the total
weight; ``score_samples``, ``predict`` and ``predict_proba`` are per row, unweighted;
``missing`` ("error", "drop" or "em"): how NaN cells (missing values) are treated, see
em_engine.missing.

Shapes: N samples, D features, K components; ``covariances_`` and ``precisions_cholesky_`` have
scikit-learn's shape for each type: full (K, D, D), tied (D, D), diag (K, D), spherical (K,).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from em_engine import covariance, gaussian
from em_engine import missing as em_missing
from em_engine.checks import (
    ParameterError,
    check_data,
    check_parameters,
    check_sample_weight,
    is_dask_collection,
)
from em_engine.errors import (
    ConvergenceWarning,
    DataError,
    NotFittedError,
    RowError,
    sklearn_compatible,
)
from em_engine.init import (
    INIT_METHODS,
    check_random_state,
    initial_parameters,
    initial_responsibilities,
)
from em_engine.iteration import MODES, EMIteration, Theta
from em_engine.prior import Prior

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
    "missing",
    "mode",
)


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


def _checked(
    covariance_type: str,
    n_components: int | None = None,
    n_features: int | None = None,
    **arrays: Any,
) -> dict[str, np.ndarray]:
    """check_parameters, its error as the estimator's: scikit-learn's sentence where it has one
    ("The parameter 'weights' should be normalized, ..."; precisions are "'full precision'"), then
    the entry at fault; else "The parameter 'weights[1]' is invalid: must not be negative, ..."."""
    try:
        return check_parameters(covariance_type, n_components, n_features, **arrays)
    except ParameterError as exc:
        if not exc.sklearn:
            raise ValueError(f"The parameter {exc.field!r} is invalid: {exc.problem}") from None
        name = f"{covariance_type} precision" if exc.name == "precisions" else exc.name
        where = f" ({exc.field}: {exc.problem})" if exc.index else ""
        raise ValueError(exc.sklearn.format(name=name) + where) from None


def _feature_names(X: Any) -> np.ndarray | None:
    """The column names of X (anything with a ``columns`` attribute, a pandas DataFrame say;
    pandas is never imported) when all are strings, as scikit-learn's ``feature_names_in_``;
    None when X has none or none is a string; TypeError for a mix, as scikit-learn."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(list(columns), dtype=object)
    strings = [isinstance(name, str) for name in names]
    if names.size and all(strings):
        return names
    if any(strings):
        kinds = sorted({type(name).__name__ for name in names})
        raise TypeError(
            "Feature names are only supported if all input features have string names, but "
            f"your input has {kinds} as feature name / column name types: convert them all to "
            "strings (X.columns = X.columns.astype(str)) or remove them."
        )
    return None


@dataclass(frozen=True)
class Scores:
    """A model's scores on X (N, D), from one pass over X.

    log_likelihood : sum_n w_n log p(x_n); bic, aic : lower is better; n_samples : N (or the
    total sample weight);
    sample_log_density : (N,) log p(x_n).
    """

    log_likelihood: float
    bic: float
    aic: float
    n_samples: int | float
    sample_log_density: np.ndarray


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
    missing : how NaN cells (missing values) are treated: "error" (default, refused as
        scikit-learn does), "drop" (rows with a NaN are left out of the fit) or "em" (missing at
        random: EM on each row's observed cells, em_engine.missing). Unless "error",
        score_samples, predict and predict_proba score a row with NaN cells by the marginal
        density of its observed cells, and ``impute`` fills them in.
    mode : 'soft' (default: EM), 'hard' (classification EM: each row given wholly to its most
        responsible component; the lower bound is the classification log-likelihood) or 'kmeans'
        (hard EM with equal weights and one shared spherical covariance; no prior); see
        em_engine.iteration

    Attributes (after fit)
    ----------------------
    weights_ (K,), means_ (K, D), covariances_, precisions_, precisions_cholesky_ (type shape),
    converged_, n_iter_, lower_bound_, lower_bounds_ (list, one per iteration), n_features_in_,
    feature_names_in_ (X's column names when it has string ones, as a DataFrame), prior_ (the
    Prior used, or None).
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
        missing: str = "error",
        mode: str = "soft",
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
        self.missing = missing
        self.mode = mode

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

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags of a density estimator, as its GaussianMixture's. Only
        scikit-learn calls this, so importing it here never loads it into a program without it."""
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="density_estimator",
            target_tags=TargetTags(required=False),
            transformer_tags=None,
            classifier_tags=None,
            regressor_tags=None,
            input_tags=InputTags(),
        )

    # --- checks ----------------------------------------------------------------------------------

    def _check_parameters(self) -> None:
        _check_interval(self.n_components, "n_components", Integral, 1)
        _check_option(self.covariance_type, "covariance_type", covariance.COVARIANCE_TYPES)
        _check_interval(self.tol, "tol", Real, 0.0)
        _check_interval(self.reg_covar, "reg_covar", Real, 0.0, finite=True)
        _check_interval(self.max_iter, "max_iter", Integral, 0)
        _check_interval(self.n_init, "n_init", Integral, 1)
        _check_option(self.init_params, "init_params", INIT_METHODS)
        _check_interval(self.verbose_interval, "verbose_interval", Integral, 1)
        _check_option(self.missing, "missing", em_missing.MISSING_OPTIONS)
        _check_option(self.mode, "mode", MODES)
        if self.mode == "kmeans" and self.prior not in (None, False):
            raise ValueError("mode='kmeans' is maximum likelihood only: it takes no prior")
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

    def _check_inits(self, n_features: int) -> dict[str, np.ndarray]:
        """weights_init, means_init and precisions_init (those given), checked, by name."""
        given = {
            "weights": self.weights_init,
            "means": self.means_init,
            "precisions": self.precisions_init,
        }
        arrays = {name: value for name, value in given.items() if value is not None}
        return _checked(self.covariance_type, self.n_components, n_features, **arrays)

    def _resolve_prior(self, X: np.ndarray, sample_weight: np.ndarray | None) -> Prior | None:
        if self.prior is None or self.prior is False:
            return None
        if isinstance(self.prior, Prior):
            self.prior.check_features(X.shape[1])  # before the initialisation's k-means
            return self.prior
        return Prior.default(X, self.n_components, self.covariance_type, sample_weight)

    def __sklearn_is_fitted__(self) -> bool:
        """True once fitted (scikit-learn's ``check_is_fitted`` asks)."""
        return hasattr(self, "precisions_cholesky_")

    def _check_is_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise sklearn_compatible(NotFittedError)(
                "This GaussianMixture instance is not fitted yet. Call 'fit' with appropriate "
                "arguments before using this estimator."
            )

    def _check_X(self, X: Any) -> np.ndarray:
        self._check_is_fitted()
        self._check_feature_names(_feature_names(X))
        X = check_data(X, allow_nan=getattr(self, "missing", "error") != "error")
        self._check_n_features(X.shape[1])
        return X

    def _check_feature_names(self, names: np.ndarray | None) -> None:
        """As scikit-learn: names differing from those fitted are an error; names on one side
        only, a warning."""
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and names is not None and not np.array_equal(fitted, names):
            raise DataError(
                "The feature names should match those that were passed during fit: fitted "
                f"with {list(fitted)}, got {list(names)}"
            )
        if (fitted is None) != (names is None):
            warnings.warn(
                "X does not have valid feature names, but GaussianMixture was fitted with "
                "feature names"
                if names is None
                else "X has feature names, but GaussianMixture was fitted without feature names",
                UserWarning,
                stacklevel=4,  # the caller of predict or score_samples
            )

    def _check_n_features(self, n_features: int) -> None:
        if n_features != self.n_features_in_:
            raise DataError(
                f"X has {n_features} features, but GaussianMixture is expecting "
                f"{self.n_features_in_} features as input."
            )

    # --- parameters ------------------------------------------------------------------------------

    def _set_parameters(self, theta: Theta, dtype: np.dtype | None = None) -> None:
        """The fitted attributes from theta, in ``dtype`` (X's: float32 data gives float32
        parameters, as scikit-learn's; EM itself works on float64 parameters)."""
        precisions = covariance.precisions_from_precision_cholesky(
            theta.precisions_cholesky, self.covariance_type
        )
        (
            self.weights_,
            self.means_,
            self.covariances_,
            self.precisions_cholesky_,
            self.precisions_,
        ) = (
            np.asarray(a, dtype=dtype or np.float64)
            for a in (
                theta.weights,
                theta.means,
                theta.covariances,
                theta.precisions_cholesky,
                precisions,
            )
        )

    def _initial_parameters(
        self, X: np.ndarray | None, random_state: Any, inits: dict[str, np.ndarray], em: EMIteration
    ) -> Theta:
        """The starting parameters, as scikit-learn's ``_initialize_parameters``: an M-step from
        initial responsibilities, then the user's weights_init / means_init / precisions_init in
        their place. With a prior the M-step is the MAP one (``em``'s): the start is then a
        point of the objective the fit climbs (an ML start could lie above the first MAP step)."""
        ct = self.covariance_type
        weights = means = covariances = None
        if len(inits) < 3:
            if self.init_params == "random_means":  # parameters without responsibilities
                weights, means, covariances = initial_parameters(
                    X,
                    self.n_components,
                    ct,
                    self.init_params,
                    random_state,
                    self.reg_covar,
                    sample_weight=em.sample_weight,
                )
            else:
                k, method, w = self.n_components, self.init_params, em.sample_weight
                resp = initial_responsibilities(X, k, method, random_state, w)
                stats = gaussian.stats_from_resp(X, resp, ct, w)
                if em.prior is None:  # scikit-learn's start, its unnormalised weights too
                    _, means, covariances = gaussian.m_step(stats, ct, self.reg_covar)
                    weights = stats.nk / em.total_weight
                else:
                    weights, means, covariances = em.m_step(stats)
        weights = inits.get("weights", weights)
        means = inits.get("means", means)
        if "precisions" in inits:
            pc = covariance.precision_cholesky_from_precisions(inits["precisions"], ct)
            covariances = covariance.covariances_from_precision_cholesky(pc, ct)
            if em.mode != "kmeans":
                return Theta(weights, means, covariances, pc)
        return Theta.of(*em.constrain((weights, means, covariances)), ct)

    # --- fitting ---------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GaussianMixture:
        """Fit by EM (best of n_init runs). X: (N, D); sample_weight: (N,) frequency weights or
        None (see ``fit_predict``). Returns self."""
        if is_dask_collection(X):
            self.fit_predict(X, sample_weight=sample_weight)  # its dask labels are never computed
        else:
            self._fit(X, sample_weight)
        return self

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit by EM, then return the labels (N,) of X under the fitted model.

        sample_weight: None, or (N,) frequency weights >= 0, not all zero (DataError for a
        negative, NaN or infinite one, naming its row): integer weights fit as X with row n
        repeated w_n times, rows of weight zero are left out of the fit (they still get labels)
        and the lower bound is per unit of total weight.

        Per initialisation: E-step (lower bound of the current parameters) -> M-step, until the
        lower bound changes by less than tol or max_iter iterations; the run with the largest
        final lower bound is kept. A ConvergenceWarning is issued if it did not converge.
        """
        if is_dask_collection(X):
            from em_engine import distributed

            self._check_parameters()
            return distributed.fit_predict(self, X, sample_weight)
        return self._e_step(self._fit(X, sample_weight), with_labels=True).labels

    def _fit(self, X: Any, sample_weight: Any) -> np.ndarray:
        """The fit of ``fit_predict`` without the labels (a fit over a memory map then allocates
        nothing of N rows); returns X (N, D) as checked."""
        self._check_parameters()
        names = _feature_names(X)
        allow_nan = self.missing != "error"
        few = 1 if sample_weight is not None or self.missing == "drop" else 2
        X_all = X = check_data(X, min_samples=few, fitting=True, allow_nan=allow_nan)
        weights = check_sample_weight(sample_weight, X.shape[0])
        kept = np.ones(X.shape[0], dtype=bool) if weights is None else weights > 0.0
        if self.missing == "drop":
            kept &= ~np.isnan(X).any(axis=1)
        if not kept.all():
            X = X[kept]
            weights = None if weights is None else weights[kept]
        if weights is None and X.shape[0] < 2:
            raise DataError(
                f"{X.shape[0]} row{'s' * (X.shape[0] != 1)} without a missing value left: "
                "fitting needs at least 2"
            )
        if weights is not None:
            if weights.sum() < 2.0:
                raise DataError(
                    f"the sample weights add up to {weights.sum():g}: fitting needs a total "
                    "weight of at least 2"
                )
        inits = self._check_fit_shape(*X.shape)
        patterns = None
        if self.missing == "em":
            try:
                patterns = em_missing.Patterns.of(X)
            except RowError as exc:  # named as a row of the X given
                raise RowError(exc.reason, int(np.flatnonzero(kept)[exc.row])) from None
        # with missing cells, the start and the default prior see them at their column's mean
        start = X if patterns is None else em_missing.mean_filled(X, weights)
        em = EMIteration(
            X,
            self.covariance_type,
            self.reg_covar,
            self._resolve_prior(start, weights),
            self.tol,
            weights,
            patterns,
            self.mode,
        )
        self._run_em(em, names, inits, lambda: (start, em))
        return X_all

    def _check_fit_shape(self, n_samples: int, n_features: int) -> dict[str, np.ndarray]:
        """Check the data's shape against the settings; the checked initial parameters."""
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, n_samples = {n_samples}"
            )
        if self.warm_start and hasattr(self, "converged_"):
            self._check_n_features(n_features)
        return self._check_inits(n_features)

    def _run_em(
        self,
        em: EMIteration,
        names: np.ndarray | None,
        inits: dict[str, np.ndarray],
        init_data: Callable[[], tuple[np.ndarray, EMIteration]],
    ) -> None:
        """The EM loop over ``em`` (best of n_init runs) and the fitted attributes. Each run
        starts from the initialisation on ``init_data()``'s data (X itself, or a sample of it
        with its own EMIteration: em_engine.distributed), called only when it is needed."""
        n_features = em.X.shape[1]
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)
        max_lower_bound = -math.inf
        best = None
        converged_best = False
        for _ in range(n_init):
            if do_init:
                sample, sample_em = init_data() if len(inits) < 3 else (None, em)
                theta = self._initial_parameters(sample, random_state, inits, sample_em)
                lower_bound = -math.inf
            else:
                theta = Theta(  # float64, also after a fit on float32 data
                    *(
                        np.asarray(a, dtype=np.float64)
                        for a in (
                            self.weights_,
                            self.means_,
                            self.covariances_,
                            self.precisions_cholesky_,
                        )
                    )
                )
                lower_bound = self.lower_bound_
            lower_bounds: list[float] = []
            converged = False
            n_iter = 0
            for n_iter in range(1, self.max_iter + 1):
                previous = lower_bound
                objective, parameters = em.step(theta)
                del theta  # wide data: the old precision factors go before the new ones come
                theta = Theta.of(*parameters, self.covariance_type)
                lower_bound = em.lower_bound(objective)
                lower_bounds.append(lower_bound)
                if self.progress is not None:
                    self.progress(n_iter, lower_bound)
                if em.converged(lower_bound, previous):
                    converged = True
                    break
            if lower_bound > max_lower_bound or max_lower_bound == -math.inf:
                max_lower_bound = lower_bound
                best = (theta, n_iter, lower_bounds)
                converged_best = converged
        self.converged_ = converged_best
        if not converged_best and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                sklearn_compatible(ConvergenceWarning),
                stacklevel=4,  # the caller of fit or fit_predict (through _fit and _run_em)
            )
        theta, n_iter, lower_bounds = best
        self._set_parameters(theta, em.X.dtype)
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.prior_ = em.prior
        self.n_iter_ = n_iter
        self.lower_bound_ = max_lower_bound
        self.lower_bounds_ = lower_bounds

    # --- using a fitted model --------------------------------------------------------------------

    def _patterns(self, X: np.ndarray) -> em_missing.Patterns | None:
        """X's missingness patterns (None without NaN, or when they are refused anyway)."""
        if getattr(self, "missing", "error") == "error":
            return None
        return em_missing.Patterns.of(X, fitting=False)

    def _e_step(self, X: np.ndarray, **options: bool) -> gaussian.EStepResult:
        patterns = self._patterns(X)
        if patterns is not None:
            return em_missing.e_step(
                X,
                patterns,
                self.weights_,
                self.means_,
                self.covariances_,
                self.covariance_type,
                **options,
            )
        return gaussian.e_step(
            X,
            self.weights_,
            self.means_,
            self.precisions_cholesky_,
            self.covariance_type,
            **options,
        )

    def score_samples(self, X: Any) -> np.ndarray:
        """Log density log p(x_n) of each sample, (N,) (a dask array for a dask X)."""
        if is_dask_collection(X):
            from em_engine import distributed

            return distributed.per_row(self, X, "density")
        return self._e_step(self._check_X(X), with_density=True).sample_log_density

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Mean log-likelihood per sample of X (N, D): ``score_samples(X).mean()``, as
        scikit-learn's (a float32 for float32 data); with sample_weight (N,) the weighted mean."""
        if sample_weight is None:
            return self.score_samples(X).mean()
        scores = self.scores(X, sample_weight)
        return scores.log_likelihood / scores.n_samples

    def predict(self, X: Any) -> np.ndarray:
        """Most probable component of each sample, (N,) (a dask array for a dask X)."""
        if is_dask_collection(X):
            from em_engine import distributed

            return distributed.per_row(self, X, "labels")
        return self._e_step(self._check_X(X), with_labels=True, precise=True).labels

    def predict_proba(self, X: Any) -> np.ndarray:
        """Responsibilities (N, K) (a dask array for a dask X)."""
        if is_dask_collection(X):
            from em_engine import distributed

            return distributed.per_row(self, X, "proba")
        return self.score_samples_and_proba(X)[1]

    def score_samples_and_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Log density (N,) and responsibilities (N, K) of X (N, D) from one pass over X."""
        X = self._check_X(X)
        patterns = self._patterns(X)
        if patterns is None:
            log_density, log_resp = gaussian.estimate_log_prob_resp(
                X, self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type
            )
        else:
            log_density, log_resp = em_missing.estimate_log_prob_resp(
                X, patterns, self.weights_, self.means_, self.covariances_, self.covariance_type
            )
        return log_density, np.exp(log_resp)

    def impute(self, X: Any) -> np.ndarray:
        """X (N, D) as float64 with each missing (NaN) cell replaced by its conditional mean
        under the fitted model, sum_k r_nk E_k[x_miss | x_obs] (responsibilities from the
        observed cells); X itself, as float64, when nothing is missing. Needs missing != "error".
        """
        X = self._check_X(X)
        if self._patterns(X) is None:
            return np.array(X, dtype=np.float64)
        return self._e_step(X, with_imputed=True).imputed

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
            covs = covariance.full_covariances(
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
        return covariance.n_parameters(
            self.n_components, self.means_.shape[1], self.covariance_type
        )

    def scores(self, X: Any, sample_weight: Any = None) -> Scores:
        """Log-likelihood, BIC and AIC of X (N, D) and the log density of each row, from one
        pass over X (the same numbers as ``score``, ``bic`` and ``aic``, which make one each).

        sample_weight: None, or (N,) frequency weights: the log-likelihood is sum_n w_n log p(x_n)
        and BIC's n is the total weight (``n_samples`` is then that total; rows of weight zero
        count for nothing).
        """
        density = self.score_samples(X)
        n_samples = density.shape[0]
        weights = check_sample_weight(sample_weight, n_samples)
        if weights is None:
            per_sample = float(np.mean(density, dtype=np.float64))
            log_likelihood = per_sample * n_samples
        else:
            used = weights > 0.0  # a row of weight 0 counts for nothing, even at -inf
            log_likelihood = float(np.dot(weights[used], density[used].astype(np.float64)))
            n_samples = float(weights.sum())
        n_parameters = self._n_parameters()
        return Scores(
            log_likelihood=log_likelihood,
            bic=-2.0 * log_likelihood + n_parameters * math.log(n_samples),
            aic=-2.0 * log_likelihood + 2.0 * n_parameters,
            n_samples=n_samples,
            sample_log_density=density,
        )

    def bic(self, X: Any, sample_weight: Any = None) -> float:
        """Bayesian information criterion on X (lower is better); n is the total sample weight."""
        return self.scores(X, sample_weight).bic

    def aic(self, X: Any, sample_weight: Any = None) -> float:
        """Akaike information criterion on X (lower is better); with sample weights."""
        return self.scores(X, sample_weight).aic

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
        weights = _checked(covariance_type, weights=weights)["weights"]
        model = cls(n_components=weights.size, covariance_type=covariance_type, **params)
        model._check_parameters()
        checked = _checked(covariance_type, weights.size, means=means, covariances=covariances)
        means, covariances = checked["means"], checked["covariances"]
        model._set_parameters(Theta.of(weights, means, covariances, covariance_type))
        n_features = means.shape[1]
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
    missing: str = "error",
    mode: str = "soft",
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
        "missing": missing,
        "mode": mode,
    }
    if parameters is None:
        return GaussianMixture(n_components, **params)
    model = GaussianMixture.from_parameters(*parameters, **params)
    if model.n_components != n_components:
        raise ValueError(f"{model.n_components} weights given for {n_components} components")
    return model
