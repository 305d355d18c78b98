"""em_engine.prior: densities against scipy, the MAP M-step is the maximiser, EM is monotone."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from em_engine import covariance, gaussian
from em_engine.covariance import COVARIANCE_TYPES
from em_engine.prior import Prior, log_prior


def _data(seed, n_samples=40, n_features=2, n_components=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(n_components, n_features))
    return centres[rng.integers(n_components, size=n_samples)] + rng.normal(
        size=(n_samples, n_features)
    )


def _prior(n_features, alpha=1.7):
    rng = np.random.default_rng(n_features)
    a = rng.normal(size=(n_features, n_features))
    return Prior(
        weight_concentration=alpha,
        mean_prior=rng.normal(size=n_features),
        mean_precision=0.3,
        dof=n_features + 1.5,
        scale=a @ a.T + np.eye(n_features),
    )


def _parameters(seed, covariance_type, n_components=3, n_features=2):
    X = _data(seed, n_features=n_features, n_components=n_components)
    resp = np.random.default_rng(seed).dirichlet(np.ones(n_components), size=len(X))
    return (
        X,
        resp,
        *gaussian.m_step(gaussian.stats_from_resp(X, resp, covariance_type), covariance_type, 0.0),
    )


def test_default_follows_priorcontrol():
    X = _data(0, n_samples=200, n_features=3)
    prior = Prior.default(X, 4, "full")
    np.testing.assert_allclose(prior.mean_prior, X.mean(axis=0))
    assert prior.mean_precision == 0.01
    assert prior.dof == 5.0
    assert prior.weight_concentration == 1.0
    np.testing.assert_allclose(prior.scale, np.cov(X.T) / 4 ** (2 / 3))
    assert not prior.scale.flags.writeable
    # a constant column or a single row still gives a positive definite scale
    for degenerate in (np.column_stack([X[:, 0], np.ones(200)]), X[:1]):
        scale = Prior.default(degenerate, 2).scale
        assert np.all(np.linalg.eigvalsh(scale) > 0)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"weight_concentration": 0.5}, "weight_concentration should be >= 1, but got 0.5"),
        ({"mean_precision": 0.0}, "mean_precision should be > 0, but got 0.0"),
        ({"dof": 0.5}, r"dof should be > n_features - 1 = 1, but got 0.5"),
        ({"scale": -np.eye(2)}, "scale should be symmetric, positive-definite"),
        ({"scale": np.eye(3)}, r"scale should have shape \(2, 2\), but got \(3, 3\)"),
        ({"mean_prior": [np.nan, 0.0]}, "mean_prior contains NaN"),
    ],
)
def test_bad_prior_values(changes, match):
    values = _prior(2).to_dict() | changes
    with pytest.raises(ValueError, match=match):
        Prior(**values)


def test_dict_round_trip_and_feature_check():
    prior = _prior(3)
    again = Prior.from_dict(prior.to_dict())
    assert again.to_dict() == prior.to_dict()
    with pytest.raises(ValueError, match="missing dof"):
        Prior.from_dict({k: v for k, v in prior.to_dict().items() if k != "dof"})
    X, resp, *_ = _parameters(0, "full")
    with pytest.raises(ValueError, match="Prior is for 3 features, but the data have 2"):
        prior.m_step(gaussian.stats_from_resp(X, resp, "full"), "full", 0.0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_prior_matches_scipy(covariance_type):
    prior = _prior(2)
    _, _, weights, means, cov = _parameters(1, covariance_type)
    alpha, kappa, nu = prior.weight_concentration, prior.mean_precision, prior.dof
    m0, psi = prior.mean_prior, prior.scale
    expected = sps.dirichlet(np.full(3, alpha)).logpdf(weights)
    full = covariance.full_covariances(cov, covariance_type, 2, 3)
    for k in range(3):
        expected += sps.multivariate_normal(m0, full[k] / kappa).logpdf(means[k])
    if covariance_type == "full":
        expected += sum(sps.invwishart(nu, psi).logpdf(c) for c in cov)
    elif covariance_type == "tied":
        expected += sps.invwishart(nu, psi).logpdf(cov)
    elif covariance_type == "diag":
        expected += sps.invgamma(nu / 2, scale=np.diag(psi) / 2).logpdf(cov).sum()
    else:
        expected += sps.invgamma(nu / 2, scale=np.trace(psi) / 4).logpdf(cov).sum()
    assert log_prior(weights, means, cov, covariance_type, prior) == pytest.approx(
        expected, rel=1e-10
    )


def _expected_complete_log_posterior(X, resp, weights, means, cov, covariance_type, prior):
    """Q(theta) = sum_nk r_nk log(w_k N(x_n | theta_k)) + log prior(theta)."""
    pc = covariance.compute_precision_cholesky(cov, covariance_type)
    norm, log_resp = gaussian.estimate_log_prob_resp(X, weights, means, pc, covariance_type)
    return float(np.sum(resp * (log_resp + norm[:, None]))) + log_prior(
        weights, means, cov, covariance_type, prior
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_map_step_maximises_expected_log_posterior(covariance_type):
    """Every small perturbation of the MAP M-step's parameters lowers Q."""
    prior = _prior(2)
    X, resp, *_ = _parameters(2, covariance_type)
    stats = gaussian.stats_from_resp(X, resp, covariance_type)
    best = prior.m_step(stats, covariance_type, 0.0)
    q_best = _expected_complete_log_posterior(X, resp, *best, covariance_type, prior)
    rng = np.random.default_rng(0)
    for _ in range(40):
        w, m, c = (np.array(v) for v in best)
        w = w * np.exp(1e-3 * rng.normal(size=w.shape))
        w /= w.sum()
        m = m + 1e-3 * rng.normal(size=m.shape)
        if covariance_type in ("full", "tied"):
            e = 1e-3 * rng.normal(size=c.shape)
            c = c + e + np.swapaxes(e, -1, -2)
        else:
            c = c * np.exp(1e-3 * rng.normal(size=c.shape))
        assert _expected_complete_log_posterior(X, resp, w, m, c, covariance_type, prior) < q_best
    # and without a prior it is the maximum-likelihood step
    mle = gaussian.m_step(stats, covariance_type, 0.0)
    assert not np.allclose(mle[1], best[1])


def test_empty_component_is_pulled_to_the_prior():
    prior = _prior(2)
    X = _data(3)
    resp = np.zeros((len(X), 2))
    resp[:, 0] = 1.0
    stats = gaussian.stats_from_resp(X, resp, "full")
    weights, means, cov = prior.m_step(stats, "full", 0.0)
    np.testing.assert_allclose(means[1], prior.mean_prior, atol=1e-12)
    np.testing.assert_allclose(cov[1], prior.scale / (prior.dof + 2 + 2), rtol=1e-12)
    assert weights[1] == pytest.approx(0.7 / (len(X) + 1.4))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_samples=st.integers(3, 30),
    n_features=st.integers(1, 3),
    n_components=st.integers(1, 3),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    alpha=st.sampled_from([1.0, 2.5]),
)
def test_map_em_never_decreases_log_posterior(
    seed, n_samples, n_features, n_components, covariance_type, alpha
):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.1, 10.0, size=n_features)
    X[: n_samples // 3] += rng.normal(scale=5.0, size=n_features)
    n_components = min(n_components, n_samples)
    base = Prior.default(X, n_components, covariance_type)
    prior = Prior(**(base.to_dict() | {"weight_concentration": alpha}))
    resp = rng.dirichlet(np.ones(n_components), size=n_samples)
    params = prior.m_step(gaussian.stats_from_resp(X, resp, covariance_type), covariance_type, 0.0)
    previous = -math.inf
    for _ in range(15):
        weights, means, cov = params
        pc = covariance.compute_precision_cholesky(cov, covariance_type)
        result = gaussian.e_step(X, weights, means, pc, covariance_type)
        objective = result.log_likelihood + log_prior(weights, means, cov, covariance_type, prior)
        assert np.isfinite(objective)
        assert objective >= previous - 1e-9 * (1.0 + abs(objective))
        previous = objective
        params = prior.m_step(result.stats, covariance_type, 0.0)
