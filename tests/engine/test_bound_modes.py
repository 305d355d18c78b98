"""EM's lower bound and KL per half-step, the soft/hard/k-means modes, per-point terms and the
adjusted Rand index, each against direct formulas on small data (or scikit-learn's numbers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score as sk_adjusted_rand_score

from em_engine import covariance
from em_engine.bound import adjusted_rand_score, point_terms
from em_engine.cli import main
from em_engine.mixture import GaussianMixture
from em_engine.prior import log_prior
from em_engine.session import EMSession

TYPES = covariance.COVARIANCE_TYPES


def small_data(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [3.0, 1.0], [1.0, 4.0]])
    return np.concatenate([rng.normal(c, 0.9, size=(12, 2)) for c in centres])


def log_weighted(X, weights, means, covariances, covariance_type) -> np.ndarray:
    """(N, K) log(pi_k N(x_n | mu_k, Sigma_k)) written out with dense matrices."""
    full = covariance.full_covariances(covariances, covariance_type, X.shape[1], len(weights))
    out = np.empty((X.shape[0], len(weights)))
    for k, (w, mu, cov) in enumerate(zip(weights, means, full, strict=True)):
        diff = X - mu
        maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
        _, logdet = np.linalg.slogdet(2 * np.pi * cov)
        out[:, k] = math.log(w) - 0.5 * (logdet + maha)
    return out


def logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=1, keepdims=True)))[:, 0]


def params(snapshot):
    return snapshot.weights, snapshot.means, snapshot.covariances


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("prior", [None, True])
def test_bound_and_kl_per_half_step_match_direct_formulas(covariance_type, prior):
    X = small_data()
    session = EMSession(X, 3, covariance_type, init="random", seed=2, prior=prior, tol=0.0)

    def extra(snapshot) -> float:
        if session.prior is None:
            return 0.0
        return log_prior(*params(snapshot), covariance_type, session.prior)

    for _ in range(4):
        e = session.e_step()
        lw = log_weighted(X, *params(e), covariance_type)
        evidence = logsumexp(lw).sum() + extra(e)
        resp = np.exp(lw - logsumexp(lw)[:, None])
        # after the E-step the bound touches log p(X): KL = 0
        assert e.evidence == pytest.approx(evidence, rel=1e-10)
        assert e.bound == pytest.approx(evidence, rel=1e-10)
        assert np.allclose(e.nk, resp.sum(axis=0), rtol=1e-9)
        m = session.m_step()
        lw_new = log_weighted(X, *params(m), covariance_type)
        entropy = -np.sum(resp * np.log(resp))
        bound = np.sum(resp * lw_new) + entropy + extra(m)
        evidence_new = logsumexp(lw_new).sum() + extra(m)
        posterior = np.exp(lw_new - logsumexp(lw_new)[:, None])
        kl = np.sum(resp * (np.log(resp) - np.log(posterior)))
        assert m.bound == pytest.approx(bound, rel=1e-10)
        assert m.evidence == pytest.approx(evidence_new, rel=1e-10)
        # log p(X) = bound + KL, with KL > 0 after the M-step; the M-step raised the bound
        assert m.evidence - m.bound == pytest.approx(kl, rel=1e-6, abs=1e-9)
        assert kl > 0
        assert m.bound >= e.bound - 1e-9 * abs(e.bound)
    history = session.bound_history()
    assert np.array_equal(history.half_steps, np.arange(8))  # E0, M1, E1, ..., M4
    gap = history.evidence - history.bound
    assert np.all(gap[::2] == pytest.approx(0.0, abs=1e-8))  # E-steps close it
    assert np.all(gap[1::2] > 0)


def test_bound_history_after_restore_and_edit():
    X = small_data()
    session = EMSession(X, 3, "full", init="random", seed=2, tol=0.0)
    for _ in range(3):
        session.step()
    session.restore(1)
    assert session.snapshot.bound == pytest.approx(session.snapshot.evidence)
    session.move_mean(0, [1.0, 1.0])
    history = session.bound_history()
    # the edit replaced theta_1: no M-step bound for it any more, and nothing after it
    assert list(history.half_steps) == [0, 2]
    assert session.snapshot.bound == pytest.approx(session.snapshot.evidence)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_hard_mode_is_classification_em(covariance_type):
    X = small_data()
    session = EMSession(X, 3, covariance_type, seed=5, mode="hard", tol=0.0)
    assert session.objective == "classification log-likelihood"
    previous = -math.inf
    for _ in range(5):
        e = session.e_step()
        lw = log_weighted(X, *params(e), covariance_type)
        labels = lw.argmax(axis=1)
        assert np.array_equal(e.labels, labels)
        classification = lw.max(axis=1).sum()
        assert e.log_likelihood == pytest.approx(classification, rel=1e-10)
        assert e.bound == pytest.approx(classification, rel=1e-10)
        # the gap that stays: KL of the one-hot q from the posterior, sum_n -log r_n,z_n
        assert e.evidence - e.bound == pytest.approx(
            np.sum(logsumexp(lw) - lw.max(axis=1)), rel=1e-6, abs=1e-9
        )
        assert classification >= previous - 1e-9 * abs(classification)  # never lowered
        previous = classification
        m = session.m_step()
        counts = np.bincount(labels, minlength=3)
        assert np.allclose(m.nk, counts, atol=1e-9)
        means = np.array([X[labels == k].mean(axis=0) for k in range(3)])
        assert np.allclose(m.means, means)
        assert np.allclose(m.weights, counts / counts.sum())
        if covariance_type == "full":
            covs = [np.cov(X[labels == k].T, bias=True) + 1e-6 * np.eye(2) for k in range(3)]
            assert np.allclose(m.covariances, covs)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_kmeans_mode_is_lloyds_algorithm(covariance_type):
    X = small_data()
    session = EMSession(X, 3, covariance_type, init="random", seed=5, mode="kmeans", tol=0.0)
    start = session.snapshot.means.copy()
    assert np.allclose(session.snapshot.weights, 1 / 3)
    reference = KMeans(3, init=start, n_init=1, algorithm="lloyd", tol=0.0).fit(X)
    for snapshot in session.run(50):
        full = covariance.full_covariances(snapshot.covariances, covariance_type, 2, 3)
        variance = full[0, 0, 0]
        assert np.allclose(full, variance * np.eye(2)[None])  # one shared round covariance
    sse = np.sum((X - snapshot.means[snapshot.labels]) ** 2)
    assert variance == pytest.approx(sse / X.size + 1e-6, rel=1e-9)
    order = np.argsort(reference.cluster_centers_[:, 0])
    assert np.allclose(np.sort(snapshot.means[:, 0]), reference.cluster_centers_[order, 0])
    assert adjusted_rand_score(snapshot.labels, reference.labels_) == 1.0
    nearest = np.argmin(((X[:, None] - snapshot.means[None]) ** 2).sum(axis=2), axis=1)
    assert np.array_equal(session.e_step().labels, nearest)


def test_estimator_and_session_share_the_modes():
    X = small_data()
    for mode in ("hard", "kmeans"):
        model = GaussianMixture(3, mode=mode, random_state=0, max_iter=50).fit(X)
        assert model.converged_
        session = EMSession(X, 3, init="kmeans", seed=0, mode=mode)
        assert model.get_params()["mode"] == mode
        for _ in session.run(model.n_iter_):
            pass
        assert np.allclose(np.sort(model.means_, axis=0), np.sort(session.snapshot.means, axis=0))
    with pytest.raises(ValueError, match="mode"):
        GaussianMixture(2, mode="fuzzy").fit(X)
    with pytest.raises(ValueError, match="no prior"):
        GaussianMixture(2, mode="kmeans", prior=True).fit(X)
    with pytest.raises(ValueError, match="no prior"):
        EMSession(X, 2, mode="kmeans", prior=True)


def test_kmeans_session_reseeds_an_empty_cluster():
    X = np.concatenate([np.zeros((5, 2)), np.ones((5, 2)) * 10.0])
    X = X + np.random.default_rng(0).normal(scale=0.1, size=X.shape)
    means = np.array([[0.0, 0.0], [10.0, 10.0], [100.0, 100.0]])  # the third gets no row
    session = EMSession(X, 3, mode="kmeans", initial_params={"means": means})
    snapshot = session.step()
    assert any("component 3 collapsed" in event for event in snapshot.events)
    assert np.allclose(snapshot.weights, 1 / 3) and np.all(np.isfinite(snapshot.means))


def test_point_terms_match_the_formula():
    X = small_data()
    session = EMSession(X, 3, "diag", seed=1)
    snapshot = session.step()
    terms = point_terms(X[:4], *params(snapshot), "diag")
    lw = log_weighted(X[:4], *params(snapshot), "diag")
    assert np.allclose(terms.log_weighted, lw)
    assert np.allclose(terms.log_component, lw - np.log(snapshot.weights))
    assert np.allclose(terms.weighted, np.exp(lw))
    assert np.allclose(terms.log_density, logsumexp(lw))
    assert np.allclose(terms.responsibilities, np.exp(lw - logsumexp(lw)[:, None]))


@pytest.mark.parametrize("covariance_type", covariance.COVARIANCE_TYPES)
def test_point_terms_of_rows_with_missing_cells_score_their_observed_cells(covariance_type):
    """A row with NaN cells gets the responsibilities and density of its observed cells, as the
    estimator with missing="em" gives them (and a complete row its usual ones)."""
    X = small_data()
    snapshot = EMSession(X, 3, covariance_type, seed=1).step()
    rows = X[:4].copy()
    rows[0, 1] = rows[2, 0] = np.nan
    terms = point_terms(rows, *params(snapshot), covariance_type)
    model = GaussianMixture.from_parameters(*params(snapshot), covariance_type, missing="em")
    np.testing.assert_allclose(terms.responsibilities, model.predict_proba(rows), rtol=1e-12)
    np.testing.assert_allclose(terms.log_density, model.score_samples(rows), rtol=1e-12)
    assert np.isfinite(terms.log_weighted).all()


@pytest.mark.parametrize("seed", range(6))
def test_adjusted_rand_index_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    a = rng.integers(0, int(rng.integers(1, 5)), size=n)
    b = np.where(rng.random(n) < 0.7, a, rng.integers(0, 4, size=n))
    assert adjusted_rand_score(a, b) == pytest.approx(sk_adjusted_rand_score(a, b), abs=1e-12)
    assert adjusted_rand_score(a, a + 7) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("a", "b"),
    [([0, 0, 0], [1, 1, 1]), ([0, 1, 2], [2, 1, 0]), ([0, 1, 2], [0, 0, 0]), ([0], [0])],
)
def test_adjusted_rand_index_edge_cases(a, b):
    assert adjusted_rand_score(a, b) == pytest.approx(sk_adjusted_rand_score(a, b))


def test_adjusted_rand_index_refuses_different_lengths():
    with pytest.raises(ValueError, match="must match"):
        adjusted_rand_score([0, 1], [0, 1, 1])


def test_cli_fit_mode(tmp_path, capsys):
    data = tmp_path / "d.csv"
    X = small_data()
    data.write_text("x,y\n" + "\n".join(f"{a},{b}" for a, b in X))
    assert main(["fit", str(data), "-k", "3", "--mode", "kmeans"]) == 0
    out = capsys.readouterr().out
    assert "k-means" in out
    model = GaussianMixture(3, mode="kmeans", random_state=0).fit(X)
    assert f"{model.score(X) * len(X):.6f}" in out
    assert main(["fit", str(data), "-k", "3", "--mode", "kmeans", "--prior"]) == 2
    assert "takes no --prior" in capsys.readouterr().err


def test_narrow_components_are_named():
    from em_engine.synthetic import make_preset

    X = make_preset("collapse", 500, seed=0).X
    ml = EMSession(X, 3, seed=0)
    for _ in ml.run(100):
        pass
    snapshot = ml.snapshot
    assert len(snapshot.narrow) == 1
    k, fraction = snapshot.narrow[0]
    smallest = np.linalg.eigvalsh(snapshot.covariances[k])[0]
    assert fraction == pytest.approx(smallest / np.mean(np.var(X, axis=0)), rel=1e-2)
    assert np.count_nonzero(snapshot.labels == k) <= 3
    map_fit = EMSession(X, 3, seed=0, prior=True)
    for _ in map_fit.run(100):
        pass
    assert map_fit.snapshot.narrow == ()


def test_responsibility_trace_follows_the_history():
    from em_engine.bound import responsibility_trace

    X = small_data()
    session = EMSession(X, 3, "spherical", seed=1)
    for _ in range(6):
        session.step()
    iterations, resp = responsibility_trace(session.history, X[[0, 5]], "spherical", max_entries=4)
    assert list(iterations) == [0, 2, 4, 6]
    for t, i in enumerate(iterations):
        entry = session.history[int(i)]
        terms = point_terms(X[[0, 5]], entry.weights, entry.means, entry.covariances, "spherical")
        assert np.allclose(resp[t], terms.responsibilities)
