"""em_engine.GaussianMixture against sklearn.mixture.GaussianMixture from identical starts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGM

from em_engine import GaussianMixture
from em_engine.covariance import COVARIANCE_TYPES
from em_engine.errors import DataError
from em_engine.mixture import ConvergenceWarning, NotFittedError
from em_engine.prior import Prior, log_prior

RTOL = 1e-10


def _blobs(seed: int, n_features: int = 2, n_components: int = 3, n_per: int = 150):
    rng = np.random.default_rng(seed)
    parts = [
        rng.normal(size=(n_per + 40 * k, n_features)) @ rng.normal(size=(n_features, n_features))
        + 4.0 * rng.normal(size=n_features)
        for k in range(n_components)
    ]
    return np.concatenate(parts)


DATASETS = {
    "blobs2d": lambda: _blobs(0),
    "blobs4d": lambda: _blobs(1, n_features=4),
    "overlap": lambda: np.random.default_rng(2).normal(size=(400, 2)) * [1.0, 3.0] + [5.0, -2.0],
}


def _starting_point(X, covariance_type, n_components=3):
    """Identical start for both: K data rows as means, the data covariance / K, equal weights."""
    rows = np.random.default_rng(0).choice(len(X), size=n_components, replace=False)
    precision = np.linalg.inv(np.cov(X.T, bias=True) / n_components)
    precisions = {
        "full": np.stack([precision] * n_components),
        "tied": precision,
        "diag": np.tile(np.diag(precision), (n_components, 1)),
        "spherical": np.full(n_components, np.diag(precision).mean()),
    }[covariance_type]
    return {
        "weights_init": np.full(n_components, 1.0 / n_components, dtype=X.dtype),
        "means_init": X[rows].copy(),
        "precisions_init": precisions.astype(X.dtype),
    }


def _fit_both(X, covariance_type, **params):
    start = _starting_point(X, covariance_type, params.pop("n_components", 3))
    n_components = len(start["weights_init"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = SklearnGM(n_components, covariance_type=covariance_type, **start, **params).fit(X)
        ours = GaussianMixture(
            n_components, covariance_type=covariance_type, **start, **params
        ).fit(X)
    return ours, ref


def _assert_same_model(ours, ref, X, rtol=RTOL, atol=1e-12):
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=rtol)
    np.testing.assert_allclose(ours.lower_bounds_, ref.lower_bounds_, rtol=rtol)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.converged_ == ref.converged_
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=rtol, atol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_allclose(ours.score_samples(X), ref.score_samples(X), rtol=rtol)
    np.testing.assert_allclose(ours.score(X), ref.score(X), rtol=rtol)
    np.testing.assert_allclose(ours.bic(X), ref.bic(X), rtol=rtol)
    np.testing.assert_allclose(ours.aic(X), ref.aic(X), rtol=rtol)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dataset", DATASETS)
def test_agrees_with_sklearn_from_identical_start(covariance_type, dataset):
    X = DATASETS[dataset]()
    ours, ref = _fit_both(X, covariance_type, tol=1e-6, max_iter=300)
    assert ours.n_iter_ > 3
    _assert_same_model(ours, ref, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(ours.fit_predict(X), ref.fit_predict(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_agrees_with_sklearn_when_not_converged(covariance_type):
    X = DATASETS["blobs2d"]()
    ours, ref = _fit_both(X, covariance_type, tol=0.0, max_iter=7)
    assert not ours.converged_ and ours.n_iter_ == 7
    _assert_same_model(ours, ref, X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_input_close_to_sklearn(covariance_type):
    """float32 data (float32 block arithmetic, float64 parameters inside, float32 fitted
    attributes as scikit-learn's) against scikit-learn in float64 on the same values, and
    scikit-learn in float32 (less accurate: looser)."""
    X32 = DATASETS["blobs2d"]().astype(np.float32)
    ours, ref32 = _fit_both(X32, covariance_type, tol=0.0, max_iter=10)
    _, ref64 = _fit_both(X32.astype(np.float64), covariance_type, tol=0.0, max_iter=10)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(ours, name).dtype == np.float32
    assert ours.predict_proba(X32).dtype == np.float32
    assert ours.score(X32) == ours.score_samples(X32).mean()
    assert ours.score(X32).dtype == np.float32
    for name in ("weights_", "means_", "covariances_"):
        ours_value = getattr(ours, name)
        np.testing.assert_allclose(ours_value, getattr(ref64, name), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ours_value, getattr(ref32, name), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(ours.lower_bounds_, ref64.lower_bounds_, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_continues_like_sklearn(covariance_type):
    X = DATASETS["blobs4d"]()
    start = _starting_point(X, covariance_type)
    models = []
    for cls in (GaussianMixture, SklearnGM):
        model = cls(3, covariance_type=covariance_type, warm_start=True, max_iter=3, tol=0.0)
        model.set_params(**start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X)
            model.fit(X)
        models.append(model)
    _assert_same_model(*models, X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_component_is_the_closed_form(covariance_type):
    X = DATASETS["blobs4d"]()
    model = GaussianMixture(1, covariance_type=covariance_type, reg_covar=1e-6).fit(X)
    mean = X.mean(axis=0)
    cov = (X - mean).T @ (X - mean) / X.shape[0]
    expected = {
        "full": cov[None] + 1e-6 * np.eye(4),
        "tied": cov + 1e-6 * np.eye(4),
        "diag": np.diag(cov)[None] + 1e-6,
        "spherical": np.array([np.diag(cov).mean() + 1e-6]),
    }[covariance_type]
    np.testing.assert_allclose(model.weights_, [1.0], rtol=1e-14)
    np.testing.assert_allclose(model.means_, mean[None], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.covariances_, expected, rtol=1e-11)
    assert model.converged_ and model.n_iter_ == 2


def test_sample_matches_sklearn():
    X = DATASETS["blobs2d"]()
    for covariance_type in COVARIANCE_TYPES:
        ours, ref = _fit_both(X, covariance_type, random_state=3)
        ours_x, ours_y = ours.sample(500)
        ref_x, ref_y = ref.sample(500)
        np.testing.assert_array_equal(ours_y, ref_y)
        np.testing.assert_allclose(ours_x, ref_x, rtol=1e-8, atol=1e-8)
    with pytest.raises(ValueError, match="'n_samples': 0"):
        ours.sample(0)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_components": 0}, "'n_components'.*Got 0 instead"),
        ({"n_components": 1.5}, "'n_components'.*Got 1.5 instead"),
        ({"covariance_type": "round"}, "'covariance_type'.*Got 'round' instead"),
        ({"tol": -1.0}, "'tol'.*Got -1.0 instead"),
        ({"reg_covar": -1e-6}, "'reg_covar'.*Got -1e-06 instead"),
        ({"max_iter": -1}, "'max_iter'.*Got -1 instead"),
        ({"n_init": 0}, "'n_init'.*Got 0 instead"),
        ({"init_params": "median"}, "'init_params'.*Got 'median' instead"),
        ({"verbose_interval": 0}, "'verbose_interval'.*Got 0 instead"),
        (
            {"weights_init": [0.5, 0.5]},
            r"'weights' should have the shape of \(3,\), but got \(2,\)",
        ),
        (
            {"weights_init": [0.5, 0.3, 0.1]},
            r"'weights' should be normalized, but got sum\(weights\) = 0.90000",
        ),
        ({"weights_init": [1.5, -0.25, -0.25]}, r"'weights\[1\]' is invalid: must not be negative"),
        ({"means_init": np.zeros((3, 3))}, r"'means' should have the shape of \(3, 2\), but got"),
        (
            {"precisions_init": np.ones((3, 2, 2))},
            r"'full precision' should be symmetric, positive-definite \(precisions\[0\]: .*",
        ),
        (
            {"precisions_init": np.ones((2, 2))},
            r"'full precision' should have the shape of \(3, 2, 2",
        ),
    ],
)
def test_bad_parameters_like_sklearn(params, match):
    X = DATASETS["blobs2d"]()
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**{"n_components": 3, **params}).fit(X)
    with pytest.raises(ValueError):  # scikit-learn rejects the same value
        SklearnGM(**{"n_components": 3, **params}).fit(X)


@pytest.mark.parametrize(
    ("covariance_type", "bad", "match"),
    [
        ("tied", -np.eye(2), "'tied precision' should be symmetric, positive-definite"),
        (
            "diag",
            np.zeros((3, 2)),
            r"'diag precision' should be positive \(precisions\[0\]\[0\]: a precision must be > 0",
        ),
        (
            "spherical",
            np.array([1.0, -1.0, 1.0]),
            r"'spherical precision' should be positive \(precisions\[1\]: .* > 0, got -1.0",
        ),
    ],
)
def test_bad_precisions_init(covariance_type, bad, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(3, covariance_type=covariance_type, precisions_init=bad).fit(
            DATASETS["blobs2d"]()
        )


def test_prior_parameter_checked():
    with pytest.raises(ValueError, match=r"'prior'.*Got 'yes' instead"):
        GaussianMixture(2, prior="yes").fit(DATASETS["blobs2d"]())


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_degenerate_data_never_nan(covariance_type):
    rng = np.random.default_rng(5)
    x = rng.normal(size=60)
    cases = {
        "duplicates": np.repeat(rng.normal(size=(4, 2)), 15, axis=0),
        "collinear": np.column_stack([x, 2.0 * x - 1.0]),
        "constant column": np.column_stack([x, np.full(60, 7.0)]),
        "all identical": np.ones((10, 2)),
        "two rows": np.array([[0.0, 1.0], [2.0, 3.0]]),
    }
    for name, X in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
        for value in (model.weights_, model.means_, model.covariances_, model.score_samples(X)):
            assert np.all(np.isfinite(value)), name
        assert np.isfinite(model.lower_bound_), name


def test_degenerate_data_clear_errors():
    X = np.repeat(np.array([[0.0, 1.0], [2.0, 3.0]]), 5, axis=0)
    with pytest.raises(ValueError, match="Expected n_samples >= n_components but got"):
        GaussianMixture(4).fit(X[:3])
    with pytest.raises(DataError, match="minimum of 2 is required"):
        GaussianMixture(1).fit(X[:1])
    with pytest.raises(ValueError, match="increase reg_covar"):
        GaussianMixture(2, reg_covar=0.0, random_state=0).fit(X)
    with pytest.raises(DataError, match="X has a non-finite value nan at row 0, column 1"):
        GaussianMixture(1).fit([[1.0, np.nan], [2.0, 3.0]])
    with pytest.raises(DataError, match=r"got shape \(3,\); Reshape your data: X.reshape\(-1, 1\)"):
        GaussianMixture(1).fit([1.0, 2.0, 3.0])


def test_unfitted_and_wrong_features():
    model = GaussianMixture(2)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(np.zeros((3, 2)))
    model.fit(DATASETS["blobs2d"]())
    with pytest.raises(DataError, match="X has 3 features, but GaussianMixture is expecting 2"):
        model.score_samples(np.zeros((3, 3)))


def test_params_protocol():
    model = GaussianMixture(3, covariance_type="diag", tol=1e-4, prior=True)
    params = model.get_params()
    assert set(SklearnGM().get_params()) <= set(params)
    assert params["covariance_type"] == "diag" and params["prior"] is True
    clone = GaussianMixture(**params)
    assert clone.get_params() == params
    assert model.set_params(n_components=5) is model and model.n_components == 5
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        model.set_params(bogus=1)
    assert "covariance_type='diag'" in repr(model)


@pytest.mark.filterwarnings("ignore::em_engine.mixture.ConvergenceWarning")
def test_n_init_keeps_the_best_run():
    X = DATASETS["overlap"]()
    best = GaussianMixture(3, init_params="random", n_init=4, random_state=0, tol=1e-6).fit(X)
    rng = np.random.RandomState(0)
    bounds = []
    for _ in range(4):  # the same random stream, one run at a time
        single = GaussianMixture(3, init_params="random", random_state=rng, tol=1e-6).fit(X)
        bounds.append(single.lower_bound_)
    assert best.lower_bound_ == max(bounds)
    assert best.lower_bounds_[-1] == best.lower_bound_


def test_progress_and_convergence_warning():
    X = DATASETS["blobs2d"]()
    seen = []
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = GaussianMixture(
            3, max_iter=4, tol=0.0, random_state=0, progress=lambda i, b: seen.append((i, b))
        ).fit(X)
    assert [i for i, _ in seen] == [1, 2, 3, 4]
    assert [b for _, b in seen] == model.lower_bounds_


def test_max_iter_zero_keeps_initial_parameters():
    X = DATASETS["blobs2d"]()
    start = _starting_point(X, "full")
    ours = GaussianMixture(3, max_iter=0, **start).fit(X)
    np.testing.assert_array_equal(ours.weights_, start["weights_init"])
    np.testing.assert_array_equal(ours.means_, start["means_init"])
    np.testing.assert_allclose(ours.precisions_, start["precisions_init"], rtol=1e-12)
    assert ours.n_iter_ == 0 and ours.lower_bounds_ == []


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_from_parameters_is_a_fitted_model(covariance_type):
    X = DATASETS["blobs2d"]()
    _, ref = _fit_both(X, covariance_type)
    rebuilt = GaussianMixture.from_parameters(
        ref.weights_, ref.means_, ref.covariances_, covariance_type, tol=1e-4
    )
    assert rebuilt.n_components == 3 and rebuilt.tol == 1e-4 and rebuilt.n_features_in_ == 2
    np.testing.assert_allclose(rebuilt.predict_proba(X), ref.predict_proba(X), rtol=1e-9)
    np.testing.assert_allclose(
        rebuilt.precisions_cholesky_, ref.precisions_cholesky_, rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(rebuilt.bic(X), ref.bic(X), rtol=1e-10)
    with pytest.raises(
        ValueError, match=r"'weights' should be normalized, but got sum\(weights\) = 1\.10000"
    ):
        GaussianMixture.from_parameters([0.5, 0.6], ref.means_[:2], ref.covariances_[:2])
    with pytest.raises(
        ValueError, match=r"'covariances\[0\]' is invalid: .* not positive definite"
    ):
        GaussianMixture.from_parameters([1.0], [[0.0, 0.0]], -np.eye(2)[None])
    with pytest.raises(ValueError, match=r"'covariances' should have the shape of \(1, 2, 2\)"):
        GaussianMixture.from_parameters([1.0], [[0.0, 0.0]], np.eye(3)[None])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.filterwarnings("ignore::em_engine.mixture.ConvergenceWarning")
def test_prior_fit_is_monotone_map(covariance_type):
    X = DATASETS["blobs2d"]()
    model = GaussianMixture(
        3, covariance_type=covariance_type, prior=True, random_state=0, tol=1e-8, max_iter=500
    ).fit(X)
    assert isinstance(model.prior_, Prior)
    bounds = np.array(model.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert model.converged_
    # the lower bound is the log posterior per sample: log-likelihood + log prior, over N
    posterior = model.score(X) + log_prior(
        model.weights_, model.means_, model.covariances_, covariance_type, model.prior_
    ) / len(X)
    assert model.lower_bound_ == pytest.approx(posterior, abs=1e-7)
    mle = GaussianMixture(3, covariance_type=covariance_type, random_state=0, tol=1e-8).fit(X)
    assert abs(mle.lower_bound_ - model.lower_bound_) > 1e-4


def test_score_samples_and_proba_is_both_in_one_pass():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 4])
    model = GaussianMixture(2, random_state=0).fit(X)
    log_density, resp = model.score_samples_and_proba(X)
    np.testing.assert_allclose(log_density, model.score_samples(X), rtol=1e-12)
    np.testing.assert_array_equal(resp, model.predict_proba(X))


# --- issue 8: the same start as scikit-learn, outliers, wide data, bad parameters ----------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_same_random_state_fits_the_same_model_as_sklearn(covariance_type, init_params):
    X = DATASETS["blobs4d"]()
    params = {"covariance_type": covariance_type, "init_params": init_params, "tol": 1e-6}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SklearnGM(3, random_state=7, max_iter=300, **params).fit(X)
        ours = GaussianMixture(3, random_state=7, max_iter=300, **params).fit(X)
    _assert_same_model(ours, ref, X, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_one_row_per_component_starts_fit_the_same_model_as_sklearn(covariance_type, init_params):
    """The same responsibilities as scikit-learn's (test_init), one row per component, so the
    first covariances are reg_covar plus rounding noise: the first lower bound agrees to 1e-6
    only, then the same fit. Not "tied": scikit-learn's first covariance there is
    X.T @ X - sum_k nk mu_k mu_k^T, whose cancellation (it depends on where the origin is)
    decides where its fit goes; ours is the scatter about the means."""
    X = DATASETS["blobs4d"]()
    params = {"covariance_type": covariance_type, "init_params": init_params, "tol": 1e-6}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SklearnGM(3, random_state=7, max_iter=300, **params).fit(X)
        ours = GaussianMixture(3, random_state=7, max_iter=300, **params).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours.lower_bounds_[0], ref.lower_bounds_[0], rtol=1e-6)
    np.testing.assert_allclose(ours.lower_bounds_[1:], ref.lower_bounds_[1:], rtol=1e-9)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("offset", [1e6, 1e9, 1e12])
@pytest.mark.parametrize("seed", [0, 1])
def test_one_far_outlier_is_fitted(covariance_type, offset, seed):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(200, 2)), [offset, -offset]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
        try:
            ref_bound = SklearnGM(3, covariance_type=covariance_type, random_state=0).fit(X)
            ref_bound = ref_bound.lower_bound_
        except ValueError:
            ref_bound = -np.inf
    assert np.isfinite(ours.lower_bound_) and ours.converged_
    # as good as scikit-learn's wherever it fits (up to where EM stops: tol 1e-3 per sample);
    # its own arithmetic cancels for far points (its diag and tied fits get worse)
    assert ours.lower_bound_ >= ref_bound - 1e-3
    outlier = ours.predict(X[-1:])[0]
    np.testing.assert_allclose(ours.means_[outlier], X[-1], rtol=1e-12)
    assert ours.weights_[outlier] == pytest.approx(1 / len(X), rel=1e-9)
    assert np.all(np.isfinite(ours.predict_proba(X))) and np.all(np.isfinite(ours.score_samples(X)))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_moments_do_not_depend_on_where_the_origin_is(covariance_type):
    from em_engine import gaussian

    rng = np.random.default_rng(4)
    X = rng.normal(size=(5000, 3)) @ rng.normal(size=(3, 3))
    resp = rng.dirichlet(np.ones(3), size=len(X))
    _, means, cov = gaussian.m_step(
        gaussian.stats_from_resp(X, resp, covariance_type), covariance_type, 0.0
    )
    for offset in (1e4, 1e8):
        shifted = gaussian.m_step(
            gaussian.stats_from_resp(X + offset, resp, covariance_type), covariance_type, 0.0
        )
        np.testing.assert_allclose(shifted[1] - offset, means, atol=1e-7 * offset / 1e4)
        # x + offset is rounded by about eps * offset: the only error left
        np.testing.assert_allclose(shifted[2], cov, rtol=1e-10 * offset)


@pytest.mark.parametrize(
    "make",
    [
        lambda X: X.astype(np.complex128),
        lambda X: X + 1j,
        lambda X: X.astype(np.complex64),
    ],
)
def test_complex_data_is_refused_everywhere(make):
    from em_engine.checks import check_data
    from em_engine.selection import select_model
    from em_engine.session import EMSession

    X = DATASETS["blobs2d"]()
    bad = make(X)
    with pytest.raises(DataError, match="complex"):
        GaussianMixture(2).fit(bad)
    fitted = GaussianMixture(2, random_state=0).fit(X)
    for method in (fitted.predict, fitted.predict_proba, fitted.score_samples, fitted.score):
        with pytest.raises(DataError, match="complex"):
            method(bad)
    with pytest.raises(DataError, match="complex"):
        check_data(bad)
    with pytest.raises(DataError, match="complex"):
        select_model(bad, [1, 2], ["full"])
    with pytest.raises(DataError):
        EMSession(bad, 2)


@pytest.mark.parametrize("reg_covar", [np.inf, float("nan"), -1.0, 1e400])
def test_reg_covar_must_be_finite_and_non_negative(reg_covar):
    with pytest.raises(ValueError, match=r"'reg_covar' parameter .* finite"):
        GaussianMixture(2, reg_covar=reg_covar).fit(DATASETS["blobs2d"]())


def test_a_covariance_that_overflows_names_the_overflow():
    X = DATASETS["blobs2d"]()
    with pytest.raises(ValueError, match=r"infinite or NaN entry .* decrease reg_covar"):
        GaussianMixture(2, reg_covar=np.finfo(float).max, covariance_type="diag").fit(X * 1e149)
    with pytest.raises(DataError, match="is too large for the arithmetic"):
        GaussianMixture(2).fit(X * 1e160)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("scale", [1e100, 1e154, 1e200, 1e300])
def test_far_rows_are_scored_right_or_refused_never_nan(covariance_type, scale):
    from em_engine.errors import DensityUnderflowError

    X = DATASETS["blobs2d"]()
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    far = X.copy()
    far[:4] *= scale
    try:
        log_density, resp = model.score_samples_and_proba(far)
    except DensityUnderflowError as exc:
        assert exc.row in range(4) and str(exc).startswith(f"data row {exc.row + 1}: ")
    else:
        assert np.all(np.isfinite(log_density)) and np.all(np.isfinite(resp))
        np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_array_equal(model.predict(far), resp.argmax(axis=1))
    near = model.score_samples_and_proba(X[4:])  # the other rows are unaffected
    np.testing.assert_allclose(near[1].sum(axis=1), 1.0, rtol=1e-12)


def test_a_tiny_variance_from_python_is_refused_at_construction():
    with pytest.raises(
        ValueError, match=r"'covariances\[0\]\[1\]' .* at least 2.2e-308 \(its inverse"
    ):
        GaussianMixture.from_parameters([1.0], [[0.0, 0.0]], [[1.0, 1e-320]], "diag")


def test_build_mixture_maps_settings_for_the_cli_and_the_window():
    from em_engine.mixture import build_mixture

    settings = dict(init="random", seed=5, tol=1e-4, reg_covar=1e-5, max_iter=7, prior=True)
    unfitted = build_mixture(2, "diag", n_init=3, **settings)
    assert (unfitted.n_components, unfitted.covariance_type, unfitted.init_params) == (
        2,
        "diag",
        "random",
    )
    assert (unfitted.random_state, unfitted.tol, unfitted.reg_covar) == (5, 1e-4, 1e-5)
    assert (unfitted.max_iter, unfitted.prior, unfitted.n_init) == (7, True, 3)
    weights, means, covariances = [0.25, 0.75], np.array([[0.0, 1.0], [2.0, 3.0]]), np.ones((2, 2))
    fitted = build_mixture(2, "diag", parameters=(weights, means, covariances), **settings)
    np.testing.assert_array_equal(fitted.means_, means)
    np.testing.assert_array_equal(fitted.covariances_, covariances)
    assert fitted.random_state == 5 and fitted.init_params == "random"
    with pytest.raises(ValueError, match="2 weights given for 3 components"):
        build_mixture(3, "diag", parameters=(weights, means, covariances))
