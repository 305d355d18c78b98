"""em_engine.session: stepping semantics, history, immutability, collapse policy, agreement."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from em_engine import covariance
from em_engine.errors import DataError
from em_engine.init import initial_parameters
from em_engine.mixture import GaussianMixture
from em_engine.prior import Prior, log_prior
from em_engine.session import EMSession, HistoryEntry, Snapshot

TYPES = covariance.COVARIANCE_TYPES


def blobs(n_per: int = 60, seed: int = 0, d: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])[:, :d]
    return np.vstack([c + rng.normal(size=(n_per, d)) for c in centres])


def precisions(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(covariances)
    return 1.0 / covariances


def sk_log_likelihood(X, covariance_type, weights, means, covariances) -> float:
    """Total log-likelihood computed by scikit-learn (an independent reference)."""
    ref = SkGaussianMixture(len(weights), covariance_type=covariance_type)
    ref.weights_, ref.means_, ref.covariances_ = weights, means, covariances
    ref.precisions_cholesky_ = covariance.compute_precision_cholesky(covariances, covariance_type)
    return float(ref.score_samples(X).sum())


def test_constructor_snapshot_is_theta_0():
    s = EMSession(blobs(), 3, seed=4)
    snap = s.snapshot
    assert isinstance(snap, Snapshot)
    assert (snap.iteration, snap.phase, snap.seed) == (0, "init", 4)
    assert snap.log_likelihood is None and snap.log_likelihood_iteration is None
    assert snap.labels is None and snap.confidence is None and not snap.converged
    assert snap.objective == "log-likelihood" and snap.covariance_type == "full"
    w, m, c = initial_parameters(s.X, 3, "full", "kmeans", 4, 1e-6)
    np.testing.assert_array_equal(snap.weights, w)
    np.testing.assert_array_equal(snap.means, m)
    np.testing.assert_array_equal(snap.covariances, c)
    assert len(s.history) == 1 and isinstance(s.history[0], HistoryEntry)
    assert s.history[0].log_likelihood is None


def poor_start(covariance_type: str) -> dict[str, np.ndarray]:
    """All three means inside one blob: the first labels are poor and change after an M-step."""
    covariances = {
        "full": np.array([np.eye(2)] * 3),
        "tied": np.eye(2),
        "diag": np.ones((3, 2)),
        "spherical": np.ones(3),
    }[covariance_type]
    means = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 0.5]])
    return {"weights": np.full(3, 1 / 3), "means": means, "covariances": covariances}


@pytest.mark.parametrize("covariance_type", TYPES)
def test_e_step_changes_labels_not_parameters(covariance_type):
    X = blobs()
    s = EMSession(X, 3, covariance_type, initial_params=poor_start(covariance_type))
    m = s.step()
    e = s.e_step()
    assert (e.phase, e.iteration, e.log_likelihood_iteration) == ("e", 1, 1)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(getattr(e, name), getattr(m, name))
    assert np.any(e.labels != m.labels)
    expected = sk_log_likelihood(X, covariance_type, e.weights, e.means, e.covariances)
    assert e.log_likelihood == pytest.approx(expected, rel=1e-10)
    assert s.history[1].log_likelihood == e.log_likelihood
    assert e.confidence.shape == (len(X),) and np.all(e.confidence >= 1 / 3 - 1e-12)
    assert s.e_step().log_likelihood == e.log_likelihood and len(s.history) == 2


@pytest.mark.parametrize("covariance_type", TYPES)
def test_m_step_changes_parameters_not_labels(covariance_type):
    s = EMSession(blobs(), 3, covariance_type, initial_params=poor_start(covariance_type))
    e = s.e_step()
    m = s.m_step()
    assert (m.phase, m.iteration) == ("m", 1)
    assert m.log_likelihood == e.log_likelihood and m.log_likelihood_iteration == 0
    np.testing.assert_array_equal(m.labels, e.labels)
    np.testing.assert_array_equal(m.confidence, e.confidence)
    assert not np.allclose(m.means, e.means)
    assert len(s.history) == 2 and s.history[0].log_likelihood == e.log_likelihood


def test_m_step_runs_a_stale_e_step_first_and_step_is_one_iteration():
    a = EMSession(blobs(), 3, seed=3)
    b = EMSession(blobs(), 3, seed=3)
    am = a.m_step()
    b.e_step()
    bm = b.step()
    assert am.iteration == bm.iteration == 1 and am.labels is not None
    np.testing.assert_array_equal(am.means, bm.means)
    for i in range(2, 5):
        snap = a.step()
        assert (snap.iteration, snap.phase, snap.log_likelihood_iteration) == (i, "m", i - 1)
        assert len(a.history) == i + 1 and a.iteration == i


def test_reset_returns_to_theta_0():
    s = EMSession(blobs(), 3, init="k-means++", seed=5)
    theta0 = s.history[0]
    for _ in range(4):
        s.step()
    s.move_mean(0, [9.0, 9.0])
    snap = s.reset()
    assert (snap.iteration, snap.phase, len(s.history), s.seed) == (0, "init", 1, 5)
    np.testing.assert_array_equal(snap.means, theta0.means)
    np.testing.assert_array_equal(snap.covariances, theta0.covariances)


def test_reseed_changes_theta_0_and_seed():
    X = blobs()
    s = EMSession(X, 3, init="random_from_data", seed=0)
    before = s.snapshot.means
    s.step()
    snap = s.reseed(11)
    assert (snap.seed, s.seed, snap.iteration, len(s.history)) == (11, 11, 0, 1)
    assert not np.array_equal(snap.means, before)
    fresh = EMSession(X, 3, init="random_from_data", seed=11)
    np.testing.assert_array_equal(snap.means, fresh.snapshot.means)
    seeds = {s.reseed().seed for _ in range(3)}
    assert len(seeds) == 3 and all(0 <= v < 2**32 for v in seeds)


def test_reseed_drops_initial_params():
    X = blobs()
    means = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    s = EMSession(X, 3, initial_params={"means": means}, seed=0)
    np.testing.assert_array_equal(s.snapshot.means, means)
    np.testing.assert_array_equal(s.reset().means, means)
    assert not np.array_equal(s.reseed(0).means, means)


def test_restore_shows_history_and_stepping_replaces_later_history():
    s = EMSession(blobs(), 3, "diag", init="random", seed=6)
    steps = [s.step() for _ in range(6)]
    snap = s.restore(2)
    entry = s.history[2]
    assert (snap.iteration, snap.phase, snap.log_likelihood_iteration) == (2, "e", 2)
    assert len(s.history) == 7  # kept until the next step
    np.testing.assert_array_equal(snap.means, entry.means)
    np.testing.assert_array_equal(snap.covariances, steps[1].covariances)
    assert snap.log_likelihood == entry.log_likelihood == steps[2].log_likelihood
    # labels of theta_2's own E-step: those the M snapshot of iteration 3 carried
    np.testing.assert_array_equal(snap.labels, steps[2].labels)
    s.restore(5)
    s.restore(1)
    again = s.step()
    assert again.iteration == 2 and len(s.history) == 3
    np.testing.assert_allclose(again.means, steps[1].means, rtol=1e-12)
    s.restore(0)
    s.e_step()
    assert len(s.history) == 1


def test_move_mean_edits_current_parameters_and_drops_later_history():
    X = blobs()
    s = EMSession(X, 3, seed=7)
    for _ in range(5):
        s.step()
    s.restore(3)
    old = s.snapshot
    snap = s.move_mean(1, (7.5, -2.0))
    assert (snap.phase, snap.iteration, len(s.history)) == ("edit", 3, 4)
    np.testing.assert_array_equal(snap.means[1], [7.5, -2.0])
    np.testing.assert_array_equal(np.delete(snap.means, 1, 0), np.delete(old.means, 1, 0))
    np.testing.assert_array_equal(snap.weights, old.weights)
    assert re.fullmatch(r"component 2 mean moved to \(7\.5, -2\)", snap.events[0])
    np.testing.assert_array_equal(s.history[3].means, snap.means)
    assert s.history[3].events == snap.events
    expected = sk_log_likelihood(X, "full", snap.weights, snap.means, snap.covariances)
    assert snap.log_likelihood == pytest.approx(expected, rel=1e-10)
    assert not snap.converged
    nxt = s.step()
    assert nxt.iteration == 4 and not nxt.converged  # the edit restarts convergence
    np.testing.assert_array_equal(nxt.labels, snap.labels)


def test_snapshots_are_immutable():
    X = blobs()
    s = EMSession(X, 3, seed=8)
    X[:] = 0.0  # the session keeps its own copy
    assert np.all(s.X[:, 0] != 0.0)
    snap = s.step()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.iteration = 5
    for name in ("weights", "means", "covariances", "labels", "confidence"):
        array = getattr(snap, name)
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array.flags.writeable = True
        with pytest.raises(ValueError):
            array[0] = 0
    with pytest.raises(ValueError):
        s.history[0].means[0, 0] = 1.0
    with pytest.raises(ValueError):
        s.X[0, 0] = 1.0
    with pytest.raises(ValueError):
        s.X.flags.writeable = True
    copies = {n: getattr(snap, n).copy() for n in ("weights", "means", "covariances", "labels")}
    for _ in range(3):
        s.step()
    s.move_mean(0, [5.0, 5.0])
    for name, value in copies.items():
        np.testing.assert_array_equal(getattr(snap, name), value)


def test_run_is_a_generator_that_stops_at_convergence():
    s = EMSession(blobs(), 3, init="random", seed=9, tol=1e-6)
    gen = s.run()
    first = [next(gen) for _ in range(3)]
    assert [x.iteration for x in first] == [1, 2, 3] and s.iteration == 3
    gen.close()
    rest = list(s.run())
    assert rest[-1].converged and not any(x.converged for x in rest[:-1])
    last = s.history[-2].log_likelihood - s.history[-3].log_likelihood
    assert abs(last) / len(s.X) < 1e-6
    assert list(s.run()) == []  # already converged
    s.reset()
    assert len(list(s.run(max_iter=2))) == 2
    with pytest.raises(ValueError, match="max_iter must be >= 1, got 0"):
        s.run(max_iter=0)
    assert all(x.elapsed > 0 for x in rest)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_session_matches_scikit_learn_from_the_same_initial_parameters(covariance_type):
    X = blobs(80, seed=10)
    w, m, c = initial_parameters(X, 3, covariance_type, "random", 10, 1e-6)
    s = EMSession(
        X, 3, covariance_type, initial_params={"weights": w, "means": m, "covariances": c}
    )
    snaps = list(s.run())
    ref = SkGaussianMixture(
        3,
        covariance_type=covariance_type,
        weights_init=w,
        means_init=m,
        precisions_init=precisions(c, covariance_type),
    ).fit(X)
    assert ref.converged_ and snaps[-1].converged
    assert s.iteration == ref.n_iter_
    np.testing.assert_allclose(s.snapshot.weights, ref.weights_, rtol=1e-8)
    np.testing.assert_allclose(s.snapshot.means, ref.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(s.snapshot.covariances, ref.covariances_, rtol=1e-8)
    bounds = [e.log_likelihood / len(X) for e in s.history[:-1]]
    np.testing.assert_allclose(bounds, ref.lower_bounds_, rtol=1e-10)
    np.testing.assert_array_equal(s.e_step().labels, ref.predict(X))


@pytest.mark.parametrize("use_prior", [False, True])
def test_session_matches_em_engine_gaussian_mixture(use_prior):
    X = blobs(80, seed=11)
    for covariance_type in TYPES:
        w, m, c = initial_parameters(X, 3, covariance_type, "kmeans", 11, 1e-6)
        start = {"weights": w, "means": m, "covariances": c}
        s = EMSession(X, 3, covariance_type, initial_params=start, prior=use_prior)
        list(s.run())
        ours = GaussianMixture(
            3,
            covariance_type=covariance_type,
            weights_init=w,
            means_init=m,
            precisions_init=precisions(c, covariance_type),
            prior=use_prior or None,
        ).fit(X)
        assert s.iteration == ours.n_iter_
        np.testing.assert_allclose(s.snapshot.weights, ours.weights_, rtol=1e-8)
        np.testing.assert_allclose(s.snapshot.means, ours.means_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(s.snapshot.covariances, ours.covariances_, rtol=1e-8)
        bounds = [e.log_likelihood / len(X) for e in s.history[:-1]]
        np.testing.assert_allclose(bounds, ours.lower_bounds_, rtol=1e-10)


@pytest.mark.parametrize("init", ["kmeans", "random"])
def test_session_seed_gives_the_same_fit_as_gaussian_mixture_random_state(init):
    X = blobs(80, seed=16)
    for covariance_type in TYPES:
        s = EMSession(X, 3, covariance_type, init=init, seed=16)
        list(s.run())
        ours = GaussianMixture(
            3, covariance_type=covariance_type, init_params=init, random_state=16
        ).fit(X)
        assert s.iteration == ours.n_iter_
        np.testing.assert_allclose(s.snapshot.means, ours.means_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(s.snapshot.covariances, ours.covariances_, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_prior_objective_is_the_log_posterior(covariance_type):
    X = blobs(40, seed=12)
    s = EMSession(X, 3, covariance_type, seed=12, prior=True)
    prior = Prior.default(X, 3, covariance_type)
    s.step()
    e = s.e_step()
    assert e.objective == "log posterior"
    ll = sk_log_likelihood(X, covariance_type, e.weights, e.means, e.covariances)
    lp = log_prior(e.weights, e.means, e.covariances, covariance_type, prior)
    assert e.log_likelihood == pytest.approx(ll + lp, rel=1e-10)
    snaps = list(s.run())
    values = [h.log_likelihood for h in s.history if h.log_likelihood is not None]
    assert np.all(np.diff(values) >= -1e-9 * np.abs(values[1:])), snaps[-1].events


def test_weight_collapse_reinitialises_at_the_worst_explained_row():
    rng = np.random.default_rng(13)
    X = np.vstack([rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 5, [[30.0, -30.0]]])
    means = np.array([[0.0, 0.0], [5.0, 5.0], [1e4, 1e4]])  # the third explains nothing
    covs = np.array([np.eye(2), np.eye(2), 1e-2 * np.eye(2)])
    s = EMSession(X, 3, initial_params={"weights": [0.45, 0.45, 0.1], "means": means,
                                        "covariances": covs})  # fmt: skip
    snap = s.step()
    assert len(snap.events) == 1
    assert re.fullmatch(
        r"component 3 collapsed \(weight \S+\) and was re-initialised at data point 101",
        snap.events[0],
    )
    np.testing.assert_array_equal(snap.means[2], X[100])
    data_cov = np.cov(X.T, bias=True) + 1e-6 * np.eye(2)
    np.testing.assert_allclose(snap.covariances[2], data_cov, rtol=1e-10)
    assert snap.weights.sum() == pytest.approx(1.0)
    # weight 1/K next to the others (summing to ~1), then renormalised: (1/3) / (4/3)
    assert snap.weights[2] == pytest.approx(0.25)
    assert s.history[1].events == snap.events
    s.e_step()
    assert not s.snapshot.converged  # a collapse iteration never counts as converged


DEGENERATE = {
    "identical rows": np.ones((6, 2)),
    "identical tiny rows": np.tile([3.1e-137, 7.7e-138], (7, 1)),  # subnormal variances
    "collinear": np.c_[np.arange(8.0), 2 * np.arange(8.0)],
    "constant column": np.c_[np.linspace(0, 1, 9), np.full(9, 3.0)],
    "two distinct rows": np.repeat([[0.0, 1.0], [5.0, 5.0]], 5, axis=0),
    "one row": np.array([[1.0, 2.0]]),
    "K == N": np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
}


@pytest.mark.parametrize("reg_covar", [0.0, 1e-6])
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("name", DEGENERATE)
def test_degenerate_data_never_nan(name, covariance_type, reg_covar):
    X = DEGENERATE[name]
    k = min(3, len(X))
    for init in ("kmeans", "random"):
        s = EMSession(X, k, covariance_type, init=init, reg_covar=reg_covar, max_iter=15)
        snaps = [s.snapshot, *s.run(), s.e_step()]
        for snap in snaps:
            for array in (snap.weights, snap.means, snap.covariances):
                assert np.all(np.isfinite(array)), (snap.iteration, snap.events)
        assert all(math.isfinite(x.log_likelihood) for x in snaps[1:])
        assert snaps[-1].weights.sum() == pytest.approx(1.0)
        events = [e for x in snaps for e in x.events]
        if reg_covar == 0.0 and singular(name, covariance_type):
            pattern = r"(component \d+ collapsed|the tied covariance was unusable) \(covariance "
            assert any(re.match(pattern, e) for e in events), (init, events)
        if reg_covar == 0.0 and name == "K == N":
            assert events  # singular covariances or, from soft starts, weights below 1/N


def singular(name: str, covariance_type: str) -> bool:
    """Without reg_covar, some covariance must become singular on these data sets."""
    if name in ("identical rows", "identical tiny rows", "one row", "two distinct rows"):
        return True
    if name == "collinear":
        return covariance_type in ("full", "tied")
    return name == "constant column" and covariance_type != "spherical"


def test_float32_end_to_end():
    X = blobs(100, seed=14)
    a = EMSession(X.astype(np.float32), 3, "full", seed=14)
    b = EMSession(X, 3, "full", seed=14)
    assert a.X.dtype == np.float32
    sa, sb = list(a.run()), list(b.run())
    assert sa[-1].converged and a.iteration == b.iteration
    assert sa[-1].means.dtype == np.float64
    np.testing.assert_allclose(sa[-1].means, sb[-1].means, rtol=1e-4, atol=1e-4)
    assert sa[-1].log_likelihood == pytest.approx(sb[-1].log_likelihood, rel=1e-5)


def test_integer_data_is_converted():
    X = np.array([[0, 0], [1, 1], [10, 10], [11, 11]])
    s = EMSession(X, 2)
    assert s.X.dtype == np.float64 and math.isfinite(s.step().log_likelihood)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_components": 0}, "n_components must be between 1 and 5, got 0"),
        ({"n_components": 6}, "6 components need at least 6 data points; the data has 5"),
        ({"n_components": True}, "n_components must be an integer, got True"),
        ({"n_components": 2.0}, "n_components must be an integer, got 2.0"),
        ({"covariance_type": "round"}, "covariance_type must be one of .* got 'round'"),
        ({"init": "kmedoids"}, "init must be one of .* got 'kmedoids'"),
        ({"seed": -1}, r"seed must be between 0 and 4294967295, got -1"),
        ({"tol": -1.0}, "tol must be a finite number >= 0, got -1.0"),
        ({"reg_covar": float("nan")}, "reg_covar must be a finite number >= 0, got nan"),
        ({"max_iter": 0}, "max_iter must be >= 1, got 0"),
        ({"prior": "yes"}, "prior must be None, True or a Prior, got 'yes'"),
        (
            {"prior": Prior.default(np.arange(15.0).reshape(5, 3) ** 2, 2)},
            "prior is for 3 features, but X has 2",
        ),
        ({"initial_params": {"mean": 1}}, r"unknown key\(s\) \['mean'\]"),
        (
            {"initial_params": {"means": np.zeros((3, 2))}},
            r"\['means'\]: must have shape \(2, 2\), got \(3, 2\)",
        ),
        (
            {"initial_params": {"weights": [0.5, 0.6]}},
            r"\['weights'\]: must sum to 1, they sum to 1.1",
        ),
        (
            {"initial_params": {"means": [[0, np.nan], [1, 1]]}},
            r"\['means'\]: must not contain NaN or infinity",
        ),
        (
            {"initial_params": {"covariances": -np.ones((2, 2, 2))}},
            r"\['covariances'\]\[0\]: the matrix is not positive definite",
        ),
    ],
)
def test_bad_arguments_name_argument_and_value(kwargs, message):
    X = np.arange(10.0).reshape(5, 2)
    args = {"n_components": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        EMSession(X, **args)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.arange(4.0), r"X must be a 2-D array .* got shape \(4,\)"),
        (np.zeros((0, 2)), r"Found array with 0 sample\(s\) \(shape=\(0, 2\)\)"),
        (np.array([[1.0, 2.0], [3.0, np.inf]]), "X has a non-finite value inf at row 1, column 1"),
        (np.array([["a", "b"]]), r"X is not a numeric array \(it holds <U1 values\)"),
        (
            np.array([[1.0, 2e160]]),
            r"data row 1, column 2: 2e\+160 is too large for the arithmetic",
        ),
        (np.array([[0.0], [1e-160]]), r"X's values differ by at most 1e-160 \(column 1\)"),
        (np.array([[0.0], [1e-30]], dtype=np.float32), r"too little for the arithmetic in float32"),
    ],
)
def test_bad_data_raises_data_error(X, message):
    with pytest.raises(DataError, match=message):
        EMSession(X, 1)


def test_bad_method_arguments():
    s = EMSession(blobs(), 3)
    with pytest.raises(ValueError, match="iteration must be between 0 and 0, got 3"):
        s.restore(3)
    with pytest.raises(ValueError, match="k must be between 0 and 2, got 3"):
        s.move_mean(3, [0.0, 0.0])
    with pytest.raises(ValueError, match="mean must be 2 finite numbers"):
        s.move_mean(0, [0.0, np.nan])
    with pytest.raises(ValueError, match="seed must be an integer, got 'x'"):
        s.reseed("x")


def test_user_placed_means_take_nearest_rows():
    X = blobs(50, seed=15)
    means = np.array([[0.0, 0.0], [4.0, 0.0], [40.0, 40.0]])  # the last mean has no nearest row
    s = EMSession(X, 3, "diag", initial_params={"means": means})
    snap = s.snapshot
    np.testing.assert_array_equal(snap.means, means)
    assert snap.weights.sum() == pytest.approx(1.0) and snap.events == ()
    np.testing.assert_allclose(snap.covariances[2], X.var(axis=0) + 1e-6, rtol=1e-10)
    assert math.isfinite(s.step().log_likelihood)
    # a mean whose only nearest row would give a singular covariance keeps its place
    X1 = np.vstack([X, [[30.0, 30.0]]])
    means = np.array([[0.0, 0.0], [4.0, 0.0], [30.0, 30.0]])
    s = EMSession(X1, 3, "full", reg_covar=0.0, initial_params={"means": means})
    np.testing.assert_array_equal(s.snapshot.means, means)
    assert s.snapshot.events == ()
    np.testing.assert_allclose(s.snapshot.covariances[2], np.cov(X1.T, bias=True), rtol=1e-10)


data_sets = st.integers(1, 3).flatmap(
    lambda d: arrays(
        np.float64,
        st.tuples(st.integers(4, 30), st.just(d)),
        elements=st.floats(-10, 10, allow_nan=False, allow_infinity=False).map(
            lambda v: round(v, 1)  # coarse values: duplicates and ties happen
        ),
    )
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    X=data_sets,
    k=st.integers(1, 4),
    covariance_type=st.sampled_from(TYPES),
    use_prior=st.booleans(),
    reg_covar=st.sampled_from([0.0, 1e-6]),
    init=st.sampled_from(["kmeans", "k-means++", "random", "random_from_data"]),
    seed=st.integers(0, 1000),
)
def test_objective_never_decreases(X, k, covariance_type, use_prior, reg_covar, init, seed):
    # EM never lowers the objective. reg_covar > 0 makes the M-step a slightly perturbed
    # maximiser: the allowance grows with it (and is rounding only for reg_covar = 0).
    k = min(k, len(X))
    s = EMSession(
        X, k, covariance_type, init=init, seed=seed, prior=use_prior, reg_covar=reg_covar, tol=0.0
    )
    for _ in range(15):
        s.step()
    s.e_step()
    h = s.history
    for prev, cur in itertools.pairwise(h):
        assert math.isfinite(cur.log_likelihood)
        if cur.events:  # a collapse re-initialisation may lower the objective
            continue
        slack = 1e-9 * max(1.0, abs(prev.log_likelihood)) + len(X) * reg_covar
        assert cur.log_likelihood >= prev.log_likelihood - slack, (cur.iteration, h[-1].events)


# --- issue 8: bounded history, replayed parameters ------------------------------------------------


def _story(session: EMSession) -> list[Snapshot]:
    """Steps, a restore, a mean edit, more steps, a second edit on the same iteration."""
    snaps = [session.step() for _ in range(12)]
    session.restore(7)
    snaps.append(session.move_mean(0, session.X[3]))
    snaps += [session.step() for _ in range(9)]
    snaps.append(session.move_mean(1, session.X[10]))
    snaps.append(session.move_mean(2, session.X[20]))
    snaps += [session.step() for _ in range(14)]
    return snaps


@pytest.mark.parametrize(
    ("data", "covariance_type", "reg_covar"),
    [
        ("blobs", "full", 1e-6),
        ("blobs", "tied", 1e-6),
        ("blobs", "diag", 1e-6),
        ("duplicates", "full", 0.0),  # collapses: re-initialisations are replayed too
        ("duplicates", "spherical", 0.0),
    ],
)
def test_replayed_history_is_the_computed_history_bit_for_bit(data, covariance_type, reg_covar):
    X = blobs() if data == "blobs" else np.repeat(blobs(n_per=4), 3, axis=0)
    params = {"init": "random", "seed": 4, "reg_covar": reg_covar, "tol": 0.0}
    kept = EMSession(X, 4, covariance_type, **params)  # the default budget keeps every iteration
    thin = EMSession(X, 4, covariance_type, history_budget=0, **params)
    snaps = _story(kept)
    _story(thin)
    assert len(thin._checkpoints) <= 3 < len(kept._checkpoints) == len(kept.history)
    if data == "duplicates":
        assert any(e.events and "collapsed" in e.events[0] for e in kept.history)
    full, replayed = kept.history, thin.history
    assert len(full) == len(replayed) == 31
    for a, b in zip(full, replayed, strict=True):
        assert (a.iteration, a.log_likelihood, a.events) == (
            b.iteration,
            b.log_likelihood,
            b.events,
        )
        for name in ("weights", "means", "covariances"):
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name))
    np.testing.assert_array_equal(replayed[-1].means, snaps[-1].means)
    for i in (29, 5, 19, 20, 0, 30):  # restores, out of order: replays from checkpoints
        a, b = kept.restore(i), thin.restore(i)
        for name in ("weights", "means", "covariances", "labels", "confidence"):
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name))
        assert a.log_likelihood == b.log_likelihood and a.events == b.events
    thin.restore(12)
    assert thin.step().iteration == 13 and len(thin.history) == 14  # continues from there


def test_history_memory_is_bounded():
    import tracemalloc

    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 5)) + np.repeat(rng.normal(scale=4.0, size=(3, 5)), 20, axis=0)
    session = EMSession(X, 5, "full", init="random", tol=0.0, history_budget=64 << 10)
    theta_bytes = sum(a.nbytes for a in (session._theta.weights, session._theta.means))
    theta_bytes += 2 * session._theta.covariances.nbytes
    for _ in range(300):
        session.step()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(1500):
        session.step()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(session._checkpoints) * theta_bytes <= (64 << 10) + theta_bytes
    # kept per step: the objective, evidence and bound values, an events entry, a birth number;
    # not the parameters
    assert grown < 180 * 1500 < theta_bytes * 1500 / 10, grown
    iterations, values = session.objective_values()
    assert len(values) == 1800 and np.all(np.isfinite(values))
    np.testing.assert_array_equal(iterations, np.arange(1800))
    assert session.history[1234].log_likelihood == values[1234]


def test_a_replaced_history_entry_refuses_to_show_other_parameters():
    s = EMSession(blobs(), 3, seed=2, history_budget=0)
    for _ in range(6):
        s.step()
    entry = s.history[5]  # between checkpoints: replayed when read
    assert entry.log_likelihood is None or math.isfinite(entry.log_likelihood)
    early = s.history[3].means  # read now: kept
    s.restore(2)
    s.move_mean(0, [0.0, 0.0])
    with pytest.raises(RuntimeError, match="history entry 5 was replaced"):
        _ = entry.means
    np.testing.assert_array_equal(early, early.copy())
    with pytest.raises(IndexError):
        s.history[3]
    with pytest.raises(ValueError, match="history_budget"):
        EMSession(blobs(), 3, history_budget=-1)


def test_a_mean_moved_too_far_to_score_changes_nothing():
    from em_engine.errors import DensityUnderflowError

    s = EMSession(blobs(), 1, seed=0)
    for _ in range(3):
        s.step()
    before = s.snapshot
    with pytest.raises(DensityUnderflowError):
        s.move_mean(0, [1e300, -1e300])
    assert s.snapshot is before and len(s.history) == 4 and s.iteration == 3
    after = s.step()  # the session goes on from where it was
    assert after.iteration == 4 and math.isfinite(after.log_likelihood)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data"])
def test_a_map_start_is_a_point_of_the_map_objective(covariance_type, init):
    """Found by Hypothesis: constant data, K=1, MAP. The start came from a maximum-likelihood
    M-step (covariance reg_covar alone), above the first MAP step: the log posterior fell."""
    session = EMSession(np.zeros((4, 1)), 1, covariance_type=covariance_type, init=init, prior=True)
    for _ in range(3):
        session.step()
    _, values = session.objective_values()
    assert np.all(np.diff(values) >= -1e-9 * np.abs(values[1:])), values
