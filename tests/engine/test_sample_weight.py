"""Sample weights are frequency weights: integer weights fit exactly as the data with rows repeated,
zero weights as the rows dropped; bad weights are a clear error; BIC/AIC count the total weight."""

from __future__ import annotations

import math

import numpy as np
import pytest

from em_engine import EMSession, GaussianMixture
from em_engine.collapse import CollapsePolicy
from em_engine.covariance import COVARIANCE_TYPES
from em_engine.errors import DataError
from em_engine.init import initial_parameters
from em_engine.prior import Prior

K = 3


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """Three blobs (60, 2) and integer weights 0..3 (some zero)."""
    rng = np.random.default_rng(7)
    centres = np.array([[0.0, 0.0], [5.0, 1.0], [1.0, 6.0]])
    X = np.vstack([rng.normal(c, [1.0, 0.7], size=(20, 2)) for c in centres])
    weights = rng.integers(0, 4, size=len(X)).astype(float)
    return X, weights


def _start(X: np.ndarray, covariance_type: str) -> dict[str, np.ndarray]:
    """Explicit initial parameters (so the initialisation's randomness does not enter)."""
    weights, means, covariances = initial_parameters(X, K, covariance_type, "kmeans", 0)
    precisions = np.linalg.inv(covariances) if covariance_type in ("full", "tied") else None
    if precisions is None:
        precisions = 1.0 / covariances
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


def _model(X: np.ndarray, covariance_type: str, prior: Prior | None) -> GaussianMixture:
    """A model starting from the k-means start of X (N, D), whatever it is then fitted to."""
    return GaussianMixture(
        K, covariance_type=covariance_type, tol=1e-12, max_iter=30, prior=prior,
        **_start(X, covariance_type),
    )  # fmt: skip


def _assert_same_fit(a: GaussianMixture, b: GaussianMixture) -> None:
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10, atol=1e-10)
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-10, abs=1e-10)
    assert a.n_iter_ == b.n_iter_


@pytest.mark.parametrize("map_fit", [False, True], ids=["ml", "map"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_fit_as_repeated_rows(data, covariance_type, map_fit) -> None:
    X, w = data
    repeated = np.repeat(X, w.astype(int), axis=0)
    prior_w = Prior.default(X, K, covariance_type, w) if map_fit else None
    prior_r = Prior.default(repeated, K, covariance_type) if map_fit else None
    if map_fit:  # the data-driven prior of the weighted data is that of the repeated data
        np.testing.assert_allclose(prior_w.scale, prior_r.scale, rtol=1e-12)
        np.testing.assert_allclose(prior_w.mean_prior, prior_r.mean_prior, rtol=1e-12)
    weighted = _model(X, covariance_type, prior_w).fit(X, sample_weight=w)
    plain = _model(X, covariance_type, prior_r).fit(repeated)
    _assert_same_fit(weighted, plain)
    assert weighted.bic(X, sample_weight=w) == pytest.approx(plain.bic(repeated), rel=1e-10)
    assert weighted.aic(X, sample_weight=w) == pytest.approx(plain.aic(repeated), rel=1e-10)
    assert weighted.score(X, sample_weight=w) == pytest.approx(plain.score(repeated), rel=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_session_integer_weights_as_repeated_rows(data, covariance_type) -> None:
    X, w = data
    repeated = np.repeat(X, w.astype(int), axis=0)
    weights, means, covariances = initial_parameters(X, K, covariance_type, "kmeans", 0)
    start = {"weights": weights, "means": means, "covariances": covariances}
    a = EMSession(X, K, covariance_type, initial_params=start, sample_weight=w, tol=0.0)
    b = EMSession(repeated, K, covariance_type, initial_params=start, tol=0.0)
    for _ in range(10):
        sa, sb = a.step(), b.step()
    np.testing.assert_allclose(sa.means, sb.means, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(sa.covariances, sb.covariances, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(sa.weights, sb.weights, rtol=1e-10, atol=1e-10)
    assert a.e_step().log_likelihood == pytest.approx(b.e_step().log_likelihood, rel=1e-10)
    assert a.snapshot.labels.shape == (len(X),)  # every row is labelled, weighted or not


def test_zero_weights_drop_rows(data) -> None:
    X, _ = data
    w = np.ones(len(X))
    w[::4] = 0.0
    X[0] = [1e6, -1e6]  # a far outlier of weight zero leaves the fit alone
    weighted = _model(X[w > 0], "full", None).fit(X, sample_weight=w)
    dropped = _model(X[w > 0], "full", None).fit(X[w > 0])
    assert np.isfinite(weighted.lower_bound_)
    _assert_same_fit(weighted, dropped)
    assert weighted.fit_predict(X, sample_weight=w).shape == (len(X),)


def test_unit_weights_change_nothing(data) -> None:
    X, _ = data
    a = GaussianMixture(K, random_state=0).fit(X)
    b = GaussianMixture(K, random_state=0).fit(X, sample_weight=np.ones(len(X)))
    _assert_same_fit(a, b)


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data"])
def test_every_init_fits_with_weights(data, init) -> None:
    X, w = data
    model = GaussianMixture(K, init_params=init, random_state=1).fit(X, sample_weight=w)
    assert np.isfinite(model.lower_bound_)
    session = EMSession(X, K, init="random_means", sample_weight=w)
    assert np.isfinite(session.step().weights).all()


@pytest.mark.parametrize(
    ("value", "words"),
    [(-1.0, "negative"), (np.nan, "NaN"), (np.inf, "infinite")],
)
def test_bad_weight_names_problem_and_row(data, value, words) -> None:
    X, _ = data
    w = np.ones(len(X))
    w[5] = value
    with pytest.raises(DataError, match=rf"data row 6: sample weight is {words}"):
        GaussianMixture(K).fit(X, sample_weight=w)
    with pytest.raises(ValueError, match=words):
        EMSession(X, K, sample_weight=w)


def test_all_zero_or_misshapen_weights(data) -> None:
    X, _ = data
    with pytest.raises(DataError, match="all zero"):
        GaussianMixture(K).fit(X, sample_weight=np.zeros(len(X)))
    with pytest.raises(DataError, match="one weight per row"):
        GaussianMixture(K).fit(X, sample_weight=np.ones(3))
    with pytest.raises(DataError, match="all zero"):
        EMSession(X, K, sample_weight=np.zeros(len(X)))


def test_bic_uses_total_weight(data) -> None:
    X, w = data
    model = GaussianMixture(K, random_state=0).fit(X, sample_weight=w)
    scores = model.scores(X, sample_weight=w)
    total = w.sum()
    log_likelihood = float(np.dot(w, model.score_samples(X)))
    n_parameters = model._n_parameters()
    assert scores.n_samples == total
    assert scores.log_likelihood == pytest.approx(log_likelihood, rel=1e-12)
    assert scores.bic == pytest.approx(
        -2 * log_likelihood + n_parameters * math.log(total), rel=1e-12
    )
    assert scores.aic == pytest.approx(-2 * log_likelihood + 2 * n_parameters, rel=1e-12)


def test_collapse_threshold_is_one_unit_of_weight() -> None:
    """A component holding less than the lightest row's share of the total weight has collapsed:
    with integer weights that is 1 / (number of repeated rows), as for the repeated data."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10, 2))
    counts = np.array([1.0] + [9.0] * 9)  # 82 rows when repeated
    repeated = np.repeat(X, counts.astype(int), axis=0)
    means, covariances = X[:2].copy(), np.stack([np.eye(2)] * 2)
    for weights, collapsed in (([0.05, 0.95], False), ([0.01, 0.99], True)):
        found = []
        for policy in (
            CollapsePolicy(X, 2, "full", 1e-6, counts),
            CollapsePolicy(repeated, 2, "full", 1e-6),
        ):
            events = policy.sanitise(np.array(weights), means, covariances, check_weights=True)[1]
            found.append(bool(events))
        assert found == [collapsed, collapsed]
    unweighted = CollapsePolicy(X, 2, "full", 1e-6)
    assert unweighted.sanitise(np.array([0.05, 0.95]), means, covariances, check_weights=True)[1]


def test_collapse_never_reinitialises_at_a_dropped_row() -> None:
    """The worst-explained row with zero weight is not in the data: the next worst is taken."""
    X = np.array([[0.0, 0.0], [0.1, 0.2], [0.2, -0.1], [1.0, 1.1], [50.0, 50.0]])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    policy = CollapsePolicy(X, 2, "spherical", 1e-6, weights)
    theta, events = policy.sanitise(
        np.array([0.5, 0.5]), np.array([[0.1, 0.0], [9.0, 9.0]]), np.array([0.1, 0.0]),
        check_weights=True,
    )  # fmt: skip
    assert events == ("component 2 collapsed (covariance not positive definite) and was "
                      "re-initialised at data point 4",)  # fmt: skip
    np.testing.assert_array_equal(theta.means[1], X[3])
    # the data moments the re-initialised covariance comes from leave the dropped row out
    np.testing.assert_allclose(theta.covariances[1], np.var(X[:4], axis=0).mean() + 1e-6)
