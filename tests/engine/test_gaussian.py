"""em_engine.gaussian against scikit-learn's private kernels (the reference numbers)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.mixture import _gaussian_mixture as skgm

from em_engine import covariance, gaussian
from em_engine.covariance import COVARIANCE_TYPES

RTOL = 1e-10


def _random_spd(rng: np.random.Generator, n_features: int) -> np.ndarray:
    a = rng.normal(size=(n_features, n_features))
    return a @ a.T + 0.5 * np.eye(n_features)


def _random_covariances(rng, covariance_type, n_components, n_features):
    if covariance_type == "full":
        return np.stack([_random_spd(rng, n_features) for _ in range(n_components)])
    if covariance_type == "tied":
        return _random_spd(rng, n_features)
    if covariance_type == "diag":
        return rng.uniform(0.3, 2.0, size=(n_components, n_features))
    return rng.uniform(0.3, 2.0, size=n_components)


def _problem(seed, covariance_type, n_samples=500, n_features=3, n_components=4):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(n_components, n_features))
    labels = rng.integers(n_components, size=n_samples)
    X = means[labels] + rng.normal(size=(n_samples, n_features))
    weights = rng.dirichlet(np.ones(n_components) * 3)
    cov = _random_covariances(rng, covariance_type, n_components, n_features)
    pc = skgm._compute_precision_cholesky(cov, covariance_type)
    return X, weights, means + rng.normal(scale=0.3, size=means.shape), cov, pc


def _sklearn_log_prob_resp(X, weights, means, pc, covariance_type):
    weighted = skgm._estimate_log_gaussian_prob(X, means, pc, covariance_type) + np.log(weights)
    norm = np.logaddexp.reduce(weighted, axis=1)
    return norm, weighted - norm[:, None]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precision_cholesky_matches_sklearn(covariance_type):
    rng = np.random.default_rng(1)
    cov = _random_covariances(rng, covariance_type, 3, 4)
    pc = covariance.compute_precision_cholesky(cov, covariance_type)
    np.testing.assert_allclose(
        pc, skgm._compute_precision_cholesky(cov, covariance_type), rtol=RTOL, atol=1e-14
    )
    np.testing.assert_allclose(
        covariance.covariances_from_precision_cholesky(pc, covariance_type), cov, rtol=1e-12
    )
    precisions = covariance.precisions_from_precision_cholesky(pc, covariance_type)
    back = covariance.precision_cholesky_from_precisions(precisions, covariance_type)
    np.testing.assert_allclose(back, pc, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        back,
        skgm._compute_precision_cholesky_from_precisions(precisions, covariance_type, xp=np),
        rtol=1e-12,
        atol=1e-14,
    )


@pytest.mark.parametrize(
    ("covariance_type", "bad"),
    [
        ("full", np.array([[[1.0, 2.0], [2.0, 1.0]]])),
        ("tied", np.array([[1.0, 0.0], [0.0, -1e-3]])),
        ("diag", np.array([[1.0, 0.0]])),
        ("spherical", np.array([-1.0])),
    ],
)
def test_not_positive_definite_raises_sklearn_message(covariance_type, bad):
    with pytest.raises(ValueError) as reference:
        skgm._compute_precision_cholesky(bad, covariance_type)
    with pytest.raises(ValueError, match="increase reg_covar") as ours:
        covariance.compute_precision_cholesky(bad, covariance_type)
    assert str(ours.value) == str(reference.value)


@pytest.mark.parametrize(
    ("covariance_type", "bad", "message"),
    [
        ("full", [[[np.nan, 0.0], [0.0, 1.0]]], "infinite or NaN entry"),
        ("tied", [[np.inf, 0.0], [0.0, 1.0]], "infinite or NaN entry"),
        ("diag", [[1.0, np.inf]], "infinite or NaN entry"),
        ("spherical", [np.nan], "infinite or NaN entry"),
        ("diag", [[1.0, 1e-320]], "its inverse \\(the precision\\) would overflow"),
        ("spherical", [1e-310], "its inverse \\(the precision\\) would overflow"),
        ("full", [np.diag([1.0, 1e-320])], "its inverse \\(the precision\\) would overflow"),
        ("tied", np.diag([1e-200, 1e-310]), "its inverse \\(the precision\\) would overflow"),
    ],
)
def test_covariances_that_overflow_are_named(covariance_type, bad, message):
    with pytest.raises(ValueError, match=message):
        covariance.compute_precision_cholesky(np.array(bad), covariance_type)


def test_float32_message_suggests_float64():
    with pytest.raises(ValueError, match="passing float64"):
        covariance.compute_precision_cholesky(np.array([0.0], dtype=np.float32), "spherical")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_features", [1, 2, 5])
def test_e_step_matches_sklearn(covariance_type, n_features):
    X, weights, means, _, pc = _problem(n_features, covariance_type, n_features=n_features)
    norm, log_resp = _sklearn_log_prob_resp(X, weights, means, pc, covariance_type)
    result = gaussian.e_step(
        X, weights, means, pc, covariance_type, with_labels=True, with_density=True
    )
    np.testing.assert_allclose(result.log_likelihood, norm.sum(), rtol=1e-12)
    np.testing.assert_allclose(result.sample_log_density, norm, rtol=1e-12)
    np.testing.assert_array_equal(result.labels, log_resp.argmax(axis=1))
    np.testing.assert_allclose(result.confidence, np.exp(log_resp).max(axis=1), rtol=1e-12)
    # the density-free path sums logs of products: same log-likelihood
    plain = gaussian.e_step(X, weights, means, pc, covariance_type)
    np.testing.assert_allclose(plain.log_likelihood, norm.sum(), rtol=1e-12)
    assert plain.labels is None and plain.sample_log_density is None

    ours_norm, ours_log_resp = gaussian.estimate_log_prob_resp(
        X, weights, means, pc, covariance_type
    )
    np.testing.assert_allclose(ours_norm, norm, rtol=1e-12)
    np.testing.assert_allclose(np.exp(ours_log_resp), np.exp(log_resp), rtol=1e-10, atol=1e-15)

    # M-step from the blocked statistics = scikit-learn's from the full responsibilities
    nk, sk_means, sk_cov = skgm._estimate_gaussian_parameters(
        X, np.exp(log_resp), 1e-6, covariance_type
    )
    w, m, c = gaussian.m_step(result.stats, covariance_type, 1e-6)
    np.testing.assert_allclose(result.stats.nk, nk, rtol=1e-12)
    np.testing.assert_allclose(w, nk / nk.sum(), rtol=1e-12)
    np.testing.assert_allclose(m, sk_means, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(c, sk_cov, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_stats_from_resp_matches_sklearn(covariance_type):
    X, *_ = _problem(7, covariance_type)
    resp = np.random.default_rng(0).dirichlet(np.ones(4), size=X.shape[0])
    stats = gaussian.stats_from_resp(X, resp, covariance_type)
    nk, sk_means, sk_cov = skgm._estimate_gaussian_parameters(X, resp, 1e-6, covariance_type)
    _, m, c = gaussian.m_step(stats, covariance_type, 1e-6)
    np.testing.assert_allclose(stats.nk, nk, rtol=1e-12)
    np.testing.assert_allclose(m, sk_means, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(c, sk_cov, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_blocks_and_threads_do_not_change_results(covariance_type, monkeypatch):
    X, weights, means, _, pc = _problem(3, covariance_type, n_samples=70_000, n_features=2)
    one = gaussian.e_step(X, weights, means, pc, covariance_type, with_labels=True)
    small = gaussian.e_step(X, weights, means, pc, covariance_type, block_rows=999)
    np.testing.assert_allclose(small.log_likelihood, one.log_likelihood, rtol=1e-13)
    np.testing.assert_allclose(small.stats.scatter, one.stats.scatter, rtol=1e-11)
    monkeypatch.setattr(gaussian, "_N_THREADS", 1)
    serial = gaussian.e_step(X, weights, means, pc, covariance_type, with_labels=True)
    assert serial.log_likelihood == one.log_likelihood
    np.testing.assert_array_equal(serial.stats.means, one.stats.means)
    np.testing.assert_array_equal(serial.stats.scatter, one.stats.scatter)
    np.testing.assert_array_equal(serial.labels, one.labels)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_stays_float32_and_close(covariance_type):
    X, weights, means, _, pc = _problem(5, covariance_type, n_features=2)
    X32 = X.astype(np.float32)
    r64 = gaussian.e_step(X, weights, means, pc, covariance_type, with_density=True)
    r32 = gaussian.e_step(X32, weights, means, pc, covariance_type, with_density=True)
    assert r32.sample_log_density.dtype == np.float32
    assert r32.stats.means.dtype == np.float64
    np.testing.assert_allclose(r32.log_likelihood, r64.log_likelihood, rtol=1e-5)
    w64, m64, c64 = gaussian.m_step(r64.stats, covariance_type, 1e-6)
    w32, m32, c32 = gaussian.m_step(r32.stats, covariance_type, 1e-6)
    assert m32.dtype == np.float64
    np.testing.assert_allclose(w32, w64, rtol=1e-4)
    np.testing.assert_allclose(m32, m64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(c32, c64, rtol=1e-4, atol=1e-4)


def test_memory_stays_blocked():
    """No N x K x D temporary, and no float64 copy of float32 data."""
    rng = np.random.default_rng(0)
    n, d, k = 300_000, 10, 5
    X = rng.normal(size=(n, d)).astype(np.float32)
    weights = np.full(k, 1 / k)
    means = rng.normal(size=(k, d))
    pc = np.tile(np.eye(d), (k, 1, 1))
    tracemalloc.start()
    try:
        gaussian.e_step(X, weights, means, pc, "full")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes  # n * d * 4 bytes; N x K x D float32 would be 5x that


def test_zero_weight_component_gives_no_nan():
    X, weights, means, _, pc = _problem(2, "full")
    weights = np.array([0.0, 0.5, 0.5, 0.0])
    result = gaussian.e_step(X, weights, means, pc, "full", with_labels=True)
    assert np.isfinite(result.log_likelihood)
    assert not np.isin(result.labels, [0, 3]).any()
    w, _, c = gaussian.m_step(result.stats, "full", 1e-6)
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(c))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_full_covariances_and_parameter_count(covariance_type):
    rng = np.random.default_rng(4)
    cov = _random_covariances(rng, covariance_type, 3, 2)
    full = covariance.full_covariances(cov, covariance_type, 2, n_components=3)
    assert full.shape == (3, 2, 2)
    x = rng.normal(size=(2,))
    expected = {
        "full": lambda k: cov[k],
        "tied": lambda k: cov,
        "diag": lambda k: np.diag(cov[k]),
        "spherical": lambda k: cov[k] * np.eye(2),
    }[covariance_type]
    for k in range(3):
        np.testing.assert_array_equal(full[k] @ x, expected(k) @ x)

    model = skgm.GaussianMixture(n_components=3, covariance_type=covariance_type)
    model.means_ = np.zeros((3, 7))
    assert covariance.n_parameters(3, 7, covariance_type) == model._n_parameters()


def test_bad_covariance_type():
    with pytest.raises(ValueError, match="'bogus'"):
        covariance.compute_precision_cholesky(np.ones(2), "bogus")


def test_empty_data_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\) \(shape=\(0, 2\)\)"):
        gaussian.e_step(np.empty((0, 2)), [1.0], [[0.0, 0.0]], np.eye(2)[None], "full")


def test_a_narrow_component_far_away_is_scored_exactly():
    rng = np.random.default_rng(5)
    # a very narrow component far from the others: lambda_max(P) * |mu - mean|^2 ~ 1e10, where an
    # expanded quadratic form would cancel
    means = np.array([[0.0, 0.0], [1e3, -1e3]])
    X = np.vstack([rng.normal(size=(300, 2)), means[1] + 1e-2 * rng.normal(size=(200, 2))])
    cov = np.stack([np.eye(2), 1e-4 * np.array([[1.0, 0.3], [0.3, 1.0]])])
    weights = np.array([0.6, 0.4])
    for scale in (1.0, 1e-4, 1e8):
        pc = skgm._compute_precision_cholesky(cov * scale**2, "full")
        norm, _ = _sklearn_log_prob_resp(X * scale, weights, means * scale, pc, "full")
        result = gaussian.e_step(X * scale, weights, means * scale, pc, "full", with_density=True)
        np.testing.assert_allclose(result.sample_log_density, norm, rtol=1e-12, atol=1e-9)


def test_set_num_threads_validates_and_restores_default():
    try:
        assert gaussian.set_num_threads(1) == 1
        with pytest.raises(ValueError, match="n_threads"):
            gaussian.set_num_threads(0)
    finally:
        assert gaussian.set_num_threads(None) == min(2, gaussian.os.cpu_count() or 1)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("columns", [(0, 2), (3, 1), (2, 2), (1,)])
def test_marginal_is_direct_slicing_of_the_full_covariances(covariance_type, columns):
    rng = np.random.default_rng(7)
    k, d = 3, 4
    means = rng.normal(size=(k, d))
    a = rng.normal(size=(k, d, d))
    full = a @ np.swapaxes(a, 1, 2) + np.eye(d)
    given = {
        "full": full,
        "tied": full[0],
        "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
        "spherical": full[:, 0, 0].copy(),
    }[covariance_type]
    expanded = covariance.full_covariances(given, covariance_type, d, k)
    m2, c2 = covariance.marginal(means, given, covariance_type, columns)
    idx = list(columns)
    np.testing.assert_array_equal(m2, means[:, idx])
    np.testing.assert_array_equal(c2, expanded[:, idx][:, :, idx])
    assert c2.shape == (k, len(idx), len(idx))


def test_precision_or_none_inverts_and_refuses_what_is_not_positive_definite():
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    np.testing.assert_allclose(covariance.precision_or_none(cov), np.linalg.inv(cov), rtol=1e-12)
    assert covariance.precision_or_none(np.zeros((2, 2))) is None
    assert covariance.precision_or_none(np.array([[1.0, 2.0], [2.0, 1.0]])) is None
