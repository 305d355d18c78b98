"""EM with missing cells (missing at random) against a direct, slow, per-row implementation of the
textbook formulas; the plain engine unchanged without missing cells; the objective never
decreases; MAP and sample weights; bad input named."""

from __future__ import annotations

import math

import numpy as np
import pytest

from em_engine import EMSession, GaussianMixture
from em_engine.covariance import COVARIANCE_TYPES, full_covariances
from em_engine.errors import DataError, RowError
from em_engine.gaussian import SufficientStats
from em_engine.iteration import EMIteration, Theta
from em_engine.missing import Patterns, e_step, mean_filled
from em_engine.prior import Prior, log_prior

K = 2
REG = 1e-6


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    """(40, 3) two blobs, about 25% of the cells missing, no row all missing."""
    rng = np.random.default_rng(3)
    X = np.vstack(
        [rng.normal([0.0, 0.0, 0.0], 1.0, (20, 3)), rng.normal([4.0, 3.0, -2.0], 0.8, (20, 3))]
    )
    X[rng.random(X.shape) < 0.25] = np.nan
    X[np.isnan(X).all(axis=1), 1] = 0.5
    return X


def _start(X: np.ndarray, covariance_type: str) -> Theta:
    """Parameters to start from (not a fixed point): means at two rows' filled values."""
    filled = mean_filled(X)
    means = filled[[0, 25]] + 0.3
    d = X.shape[1]
    cov = {
        "full": np.array([np.eye(d) * 1.5 + 0.3, np.eye(d) * 0.8 + 0.1]),
        "tied": np.eye(d) * 1.2 + 0.2,
        "diag": np.array([[1.0, 2.0, 1.5], [0.7, 0.9, 1.1]]),
        "spherical": np.array([1.3, 0.9]),
    }[covariance_type]
    return Theta.of(np.array([0.4, 0.6]), means, cov, covariance_type)


# --- the direct implementation -------------------------------------------------------------------


def _direct_e_step(X, theta, covariance_type, sample_weight=None):
    """Row by row, component by component: log-likelihood, responsibilities (N, K), imputed
    (N, D) and the expected sums S0 (K,), S1 (K, D), S2 (K, D, D) (weighted)."""
    n, d = X.shape
    covs = full_covariances(theta.covariances, covariance_type, d, K)
    w = np.ones(n) if sample_weight is None else sample_weight
    s0, s1, s2 = np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d))
    log_likelihood = 0.0
    resp = np.zeros((n, K))
    imputed = X.copy()
    for i in range(n):
        o = ~np.isnan(X[i])
        m = ~o
        x_o = X[i, o]
        log_p = np.zeros(K)
        completed = np.zeros((K, d))
        cond = np.zeros((K, d, d))
        for k in range(K):
            mu, S = theta.means[k], covs[k]
            S_oo = S[np.ix_(o, o)]
            diff = x_o - mu[o]
            _, logdet = np.linalg.slogdet(S_oo)
            maha = diff @ np.linalg.solve(S_oo, diff)
            log_norm_k = o.sum() * math.log(2 * math.pi) + logdet
            log_p[k] = math.log(theta.weights[k]) - 0.5 * (log_norm_k + maha)
            completed[k, o] = x_o
            completed[k, m] = mu[m] + S[np.ix_(m, o)] @ np.linalg.solve(S_oo, diff)
            cond[k][np.ix_(m, m)] = S[np.ix_(m, m)] - S[np.ix_(m, o)] @ np.linalg.solve(
                S_oo, S[np.ix_(o, m)]
            )
        top = log_p.max()
        log_norm = top + math.log(np.exp(log_p - top).sum())
        log_likelihood += w[i] * log_norm
        r = np.exp(log_p - log_norm)
        resp[i] = r
        imputed[i, m] = r @ completed[:, m]
        for k in range(K):
            s0[k] += w[i] * r[k]
            s1[k] += w[i] * r[k] * completed[k]
            s2[k] += w[i] * r[k] * (np.outer(completed[k], completed[k]) + cond[k])
    return log_likelihood, resp, imputed, (s0, s1, s2)


def _direct_stats(sums, covariance_type, n):
    """SufficientStats (mean and scatter about it) from the direct expected sums."""
    s0, s1, s2 = sums
    means = s1 / s0[:, None]
    scatter = s2 - s0[:, None, None] * np.einsum("ki,kj->kij", means, means)
    if covariance_type == "tied":
        scatter = scatter.sum(axis=0)
    elif covariance_type in ("diag", "spherical"):
        scatter = np.diagonal(scatter, axis1=1, axis2=2).copy()
    return SufficientStats(s0, means, scatter, n)


def _direct_ml_m_step(sums, covariance_type):
    """The maximum-likelihood M-step written out per type from the expected second moments."""
    s0, s1, s2 = sums
    d = s1.shape[1]
    weights = s0 / s0.sum()
    means = s1 / s0[:, None]
    full = s2 / s0[:, None, None] - np.einsum("ki,kj->kij", means, means)
    if covariance_type == "full":
        cov = full + REG * np.eye(d)
    elif covariance_type == "tied":
        cov = (s2.sum(axis=0) - np.einsum("k,ki,kj->ij", s0, means, means)) / s0.sum()
        cov = cov + REG * np.eye(d)
    elif covariance_type == "diag":
        cov = np.diagonal(full, axis1=1, axis2=2) + REG
    else:
        cov = np.diagonal(full, axis1=1, axis2=2).mean(axis=1) + REG
    return weights, means, cov


def _direct_fit(X, theta, covariance_type, n_iter, prior=None, sample_weight=None):
    """n_iter direct iterations: the objectives (of each theta before its M-step) and the last
    parameters."""
    objectives = []
    for _ in range(n_iter):
        ll, _, _, sums = _direct_e_step(X, theta, covariance_type, sample_weight)
        if prior is None:
            parameters = _direct_ml_m_step(sums, covariance_type)
            objectives.append(ll)
        else:
            parameters = (theta.weights, theta.means, theta.covariances)
            objectives.append(ll + log_prior(*parameters, covariance_type, prior))
            stats = _direct_stats(sums, covariance_type, X.shape[0])
            parameters = prior.m_step(stats, covariance_type, REG)
        theta = Theta.of(*parameters, covariance_type)
    return objectives, theta


def _assert_theta(a: Theta, b: Theta) -> None:
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10, atol=1e-10)


def _engine(X, covariance_type, prior=None, sample_weight=None) -> EMIteration:
    return EMIteration(X, covariance_type, REG, prior, 0.0, sample_weight, Patterns.of(X))


# --- against the direct implementation -----------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_e_step_matches_direct(data, covariance_type) -> None:
    theta = _start(data, covariance_type)
    ll, resp, imputed, sums = _direct_e_step(data, theta, covariance_type)
    result = e_step(
        data,
        Patterns.of(data),
        theta.weights,
        theta.means,
        theta.covariances,
        covariance_type,
        with_labels=True,
        with_density=True,
        with_imputed=True,
        block_rows=3,  # several blocks per pattern: the merge is exercised
    )
    assert result.log_likelihood == pytest.approx(ll, rel=1e-12)
    np.testing.assert_array_equal(result.labels, resp.argmax(axis=1))
    np.testing.assert_allclose(result.confidence, resp.max(axis=1), rtol=1e-10)
    np.testing.assert_allclose(result.imputed, imputed, rtol=1e-10, atol=1e-10)
    assert not np.isnan(result.imputed).any()
    observed = ~np.isnan(data)
    assert (result.imputed[observed] == data[observed]).all()
    expected = _direct_stats(sums, covariance_type, data.shape[0])
    np.testing.assert_allclose(result.stats.nk, expected.nk, rtol=1e-10)
    np.testing.assert_allclose(result.stats.means, expected.means, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(result.stats.scatter, expected.scatter, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_and_several_iterations_match_direct(data, covariance_type) -> None:
    start = _start(data, covariance_type)
    em = _engine(data, covariance_type)
    theta = start
    objectives = []
    for n_iter in range(1, 6):
        objective, parameters = em.step(theta)
        objectives.append(objective)
        theta = Theta.of(*parameters, covariance_type)
        if n_iter in (1, 5):
            direct_objectives, direct = _direct_fit(data, start, covariance_type, n_iter)
            _assert_theta(theta, direct)
            np.testing.assert_allclose(objectives, direct_objectives, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_map_and_weights_match_direct(data, covariance_type) -> None:
    weights = np.random.default_rng(5).integers(0, 4, data.shape[0]).astype(float)
    weights[0] = 2.5  # frequency weights need not be integers
    prior = Prior.default(mean_filled(data, weights), K, covariance_type, weights)
    start = _start(data, covariance_type)
    em = _engine(data, covariance_type, prior, weights)
    theta = start
    for _ in range(4):
        theta = Theta.of(*em.step(theta)[1], covariance_type)
    objectives, direct = _direct_fit(data, start, covariance_type, 4, prior, weights)
    _assert_theta(theta, direct)
    assert em.e_step(start).objective == pytest.approx(objectives[0], rel=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_fit_as_repeated_rows(data, covariance_type) -> None:
    weights = np.random.default_rng(9).integers(1, 4, data.shape[0])
    start = _start(data, covariance_type)
    repeated = np.repeat(data, weights, axis=0)
    a = _engine(data, covariance_type, sample_weight=weights.astype(float)).step(start)
    b = _engine(repeated, covariance_type).step(start)
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    for x, y in zip(a[1], b[1], strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)


# --- properties ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prior", [False, True], ids=["ml", "map"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_objective_never_decreases(data, covariance_type, prior) -> None:
    model = GaussianMixture(
        3, covariance_type=covariance_type, missing="em", tol=0.0, max_iter=60, prior=prior or None,
        random_state=0,
    )  # fmt: skip
    with pytest.warns(UserWarning, match="did not converge"):
        model.fit(data)
    bounds = np.array(model.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_no_missing_cell_is_the_plain_engine_exactly(covariance_type) -> None:
    X = np.random.default_rng(1).normal(size=(60, 3))
    X[30:] += 4.0
    plain = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    em = GaussianMixture(2, covariance_type=covariance_type, random_state=0, missing="em").fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_"):
        np.testing.assert_array_equal(getattr(em, name), getattr(plain, name))
    np.testing.assert_array_equal(em.score_samples(X), plain.score_samples(X))
    a = EMSession(X, 2, covariance_type, missing="em")
    b = EMSession(X, 2, covariance_type)
    for _ in range(3):
        sa, sb = a.step(), b.step()
        np.testing.assert_array_equal(sa.means, sb.means)
        np.testing.assert_array_equal(sa.covariances, sb.covariances)
        assert sa.log_likelihood == sb.log_likelihood
        assert sa.imputed is None


def test_fit_score_predict_impute(data) -> None:
    model = GaussianMixture(2, missing="em", random_state=0).fit(data)
    log_density, resp = model.score_samples_and_proba(data)
    np.testing.assert_allclose(model.score_samples(data), log_density, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(data), resp.argmax(axis=1))
    theta = Theta.of(model.weights_, model.means_, model.covariances_, "full")
    ll, direct_resp, imputed, _ = _direct_e_step(data, theta, "full")
    np.testing.assert_allclose(resp, direct_resp, rtol=1e-9, atol=1e-12)
    assert log_density.sum() == pytest.approx(ll, rel=1e-12)
    np.testing.assert_allclose(model.impute(data), imputed, rtol=1e-10)
    # a row with one observed cell: its density is that coordinate's marginal mixture density
    row = np.array([[np.nan, 1.0, np.nan]])
    sd = np.sqrt(model.covariances_[:, 1, 1])
    marginal = model.weights_ @ (
        np.exp(-0.5 * ((1.0 - model.means_[:, 1]) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
    )
    assert model.score_samples(row)[0] == pytest.approx(math.log(marginal), rel=1e-12)


def test_drop_fits_the_complete_rows(data) -> None:
    complete = data[~np.isnan(data).any(axis=1)]
    dropped = GaussianMixture(2, missing="drop", random_state=0).fit(data)
    plain = GaussianMixture(2, random_state=0).fit(complete)
    np.testing.assert_array_equal(dropped.means_, plain.means_)
    assert dropped.predict(data).shape == (data.shape[0],)  # NaN rows scored by their marginal
    session = EMSession(data, 2, missing="drop")
    np.testing.assert_array_equal(session.X, complete)


def test_session_snapshots_carry_the_imputation(data) -> None:
    session = EMSession(data, 2, "diag", missing="em", seed=1)
    missing = np.isnan(data)
    for snapshot in (session.snapshot, session.e_step(), session.m_step(), session.step()):
        assert snapshot.imputed is not None and not snapshot.imputed.flags.writeable
        assert (snapshot.imputed[~missing] == data[~missing]).all()
        # the E-step that gave the labels gave the imputation: theta of log_likelihood_iteration
        i = snapshot.iteration if snapshot.phase == "init" else snapshot.log_likelihood_iteration
        entry = session.history[i]
        theta = Theta.of(entry.weights, entry.means, entry.covariances, "diag")
        np.testing.assert_allclose(
            snapshot.imputed, _direct_e_step(data, theta, "diag")[2], rtol=1e-10
        )
    restored = session.restore(1)
    assert restored.imputed is not None


# --- bad input -----------------------------------------------------------------------------------


def test_bad_input_messages(data) -> None:
    with pytest.raises(DataError, match="NaN"):
        GaussianMixture(2).fit(data)  # the default refuses missing cells, as before
    with pytest.raises(DataError, match="NaN"):
        EMSession(data, 2)
    with pytest.raises(ValueError, match="'missing' parameter"):
        GaussianMixture(2, missing="impute").fit(data)
    with pytest.raises(ValueError, match="missing must be one of"):
        EMSession(data, 2, missing="mean")
    empty_row = data.copy()
    empty_row[7] = np.nan
    with pytest.raises(RowError, match="data row 8: every cell of the row is missing"):
        GaussianMixture(2, missing="em").fit(empty_row)
    with pytest.raises(RowError, match="data row 8: every cell"):
        EMSession(empty_row, 2, missing="em")
    empty_column = data.copy()
    empty_column[:, 2] = np.nan
    with pytest.raises(DataError, match="column 3 has no observed value"):
        GaussianMixture(2, missing="em").fit(empty_column)
    infinite = data.copy()
    infinite[3, 0] = np.inf
    with pytest.raises(DataError, match=r"row 3, column 0 .*infinity"):
        GaussianMixture(2, missing="em").fit(infinite)
    with pytest.raises(DataError, match="every row has a missing value"):
        EMSession(np.array([[1.0, np.nan], [np.nan, 2.0]]), 1, missing="drop")


@pytest.mark.parametrize("mode", ["hard", "kmeans"])
def test_missing_cells_are_fitted_by_soft_em_only(mode) -> None:
    X = np.random.default_rng(0).normal(size=(40, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=f"mode '{mode}' needs complete rows"):
        GaussianMixture(2, missing="em", mode=mode).fit(X)
    with pytest.raises(ValueError, match=f"mode '{mode}' needs complete rows"):
        EMSession(X, 2, missing="em", mode=mode)
    # without a missing cell the mode runs as usual
    GaussianMixture(2, missing="em", mode=mode, random_state=0).fit(X[~np.isnan(X).any(axis=1)])
