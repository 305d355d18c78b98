"""Distinct optima and component matching (em_engine.optima), and ICL (em_engine.selection)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from em_engine.mixture import GaussianMixture, build_mixture
from em_engine.optima import (
    Start,
    align_components,
    format_seeds,
    group_optima,
    permuted,
    run_starts,
    session_start,
)
from em_engine.selection import select_model
from em_engine.session import EMSession

CENTRES = np.array([[-10.0, 0.0], [0.0, 0.0], [10.0, 0.0]])


@pytest.fixture(scope="module")
def three_on_a_line() -> np.ndarray:
    """Three tight blobs on a line, the left one biggest: K = 2 has two local optima (the
    middle blob joins the right one, or the left one), with different log-likelihoods."""
    rng = np.random.default_rng(0)
    sizes = (300, 150, 150)
    return np.vstack(
        [c + 0.5 * rng.standard_normal((n, 2)) for c, n in zip(CENTRES, sizes, strict=True)]
    )


def _fit_starts(X: np.ndarray, seeds: range) -> list[Start]:
    starts, _ = run_starts(
        X,
        lambda seed: build_mixture(2, "full", init="random_from_data", seed=seed, tol=1e-6),
        seeds,
    )
    return starts


def test_starts_group_into_the_two_known_optima(three_on_a_line: np.ndarray) -> None:
    X = three_on_a_line
    starts = _fit_starts(X, range(40))
    optima = group_optima(starts, X.shape[0], X.std(axis=0))
    assert len(optima) == 2
    assert sum(o.count for o in optima) == 40
    assert sorted(s for o in optima for s in o.seeds) == list(range(40))
    assert optima[0].log_likelihood > optima[1].log_likelihood  # best first
    # the means of each optimum are the expected merges, whatever the label order
    expected = [
        np.array([CENTRES[0], (CENTRES[1] + CENTRES[2]) / 2]),  # middle joins right: the better
        np.array([(2 * CENTRES[0] + CENTRES[1]) / 3, CENTRES[2]]),
    ]
    for optimum, means in zip(optima, expected, strict=True):
        for start, order in zip(optimum.starts, optimum.orders, strict=True):
            aligned = start.means[order]
            back = aligned[align_components(means, aligned)]
            np.testing.assert_allclose(back, means, atol=0.2)
        assert optimum.bic == pytest.approx(
            GaussianMixture.from_parameters(
                optimum.best.weights, optimum.best.means, optimum.best.covariances
            ).bic(X)
        )


def test_grouping_ignores_label_order(three_on_a_line: np.ndarray) -> None:
    X = three_on_a_line
    starts = _fit_starts(X, range(12))
    swapped = [
        Start(s.seed + 100, *permuted(s.weights, s.means, s.covariances, "full", [1, 0]),
              "full", s.log_likelihood, s.bic, s.converged, s.n_iter)
        for s in starts
    ]  # fmt: skip
    plain = group_optima(starts, X.shape[0], X.std(axis=0))
    mixed = group_optima(starts + swapped, X.shape[0], X.std(axis=0))
    assert len(mixed) == len(plain)
    for a, b in zip(plain, mixed, strict=True):
        assert set(b.seeds) == set(a.seeds) | {s + 100 for s in a.seeds}


def test_different_optima_with_the_same_likelihood_stay_apart() -> None:
    means_a = np.array([[0.0, 0.0], [5.0, 0.0]])
    half = np.array([0.5, 0.5])
    a = Start(0, half, means_a, np.ones(2), "spherical", -100.0, 210.0, True, 3)
    b = Start(1, half, means_a + np.array([0.0, 3.0]), np.ones(2), "spherical", -100.0, 210.0,
              True, 3)  # fmt: skip
    assert [o.seeds for o in group_optima([a, b], 100, np.ones(2))] == [(0,), (1,)]


@pytest.mark.parametrize("k", [3, 6, 11])
def test_alignment_recovers_any_permutation(k: int) -> None:
    rng = np.random.default_rng(k)
    reference = rng.normal(scale=10.0, size=(k, 3))
    for _ in range(5):
        perm = rng.permutation(k)
        noisy = reference[perm] + rng.normal(scale=0.01, size=(k, 3))
        order = align_components(reference, noisy)
        np.testing.assert_array_equal(perm[order], np.arange(k))


def test_alignment_with_a_different_number_of_components() -> None:
    reference = np.array([[0.0], [10.0]])
    means = np.array([[20.0], [10.1], [-0.1]])
    assert align_components(reference, means).tolist() == [2, 1, 0]
    assert align_components(means, reference).tolist() == [1, 0]


def test_session_start_keeps_what_replays_the_fit(three_on_a_line: np.ndarray) -> None:
    X = three_on_a_line
    session = EMSession(X, 2, seed=3, init="random_from_data", tol=1e-6)
    for _ in session.run(200):
        pass
    start = session_start(session)
    order = [1, 0]
    replay = EMSession(
        X, 2, seed=3, tol=1e-6,
        initial_params=dict(zip(("weights", "means", "covariances"),
                                permuted(*start.initial, "full", order), strict=True)),
    )  # fmt: skip
    for _ in replay.run(200):
        pass
    np.testing.assert_allclose(replay.snapshot.means, start.means[order], rtol=1e-9)
    assert replay.snapshot.iteration == start.n_iter


def test_format_seeds() -> None:
    assert format_seeds([7, 0, 1, 2, 5, 8]) == "0-2, 5, 7-8"
    assert format_seeds([]) == ""


def test_icl_is_bic_plus_twice_the_entropy_of_the_responsibilities(
    three_on_a_line: np.ndarray,
) -> None:
    X = three_on_a_line[::3]
    models = []
    result = select_model(
        X, [1, 2, 3], ["full", "spherical"], seed=2, on_model=lambda r, m: models.append((r, m))
    )
    assert [r for r, _ in models] == list(result.rows)
    for row in result.rows:
        model = GaussianMixture(
            n_components=row.n_components, covariance_type=row.covariance_type, random_state=2
        ).fit(X)
        np.testing.assert_allclose(model.means_, models[result.rows.index(row)][1].means_)
        resp = model.predict_proba(X)
        entropy = -sum(r * math.log(r) for r in resp.ravel() if r > 0)
        assert row.icl == pytest.approx(model.bic(X) + 2 * entropy, rel=1e-9)
        assert row.icl >= row.bic
    one = [r for r in result.rows if r.n_components == 1]
    assert all(r.icl == r.bic for r in one)  # one component: no classification uncertainty
    assert result.best_icl.icl == min(r.icl for r in result.rows)
    assert "ICL" in result.table()


def test_uncertainty_summary_and_most_uncertain_points() -> None:
    from em_engine.uncertainty import most_uncertain, summarise, uncertainty

    confidence = np.array([1.0, 0.5, 0.95, 0.7, 0.5, 0.99])
    np.testing.assert_allclose(uncertainty(confidence), [0.0, 0.5, 0.05, 0.3, 0.5, 0.01])
    assert most_uncertain(confidence, 3).tolist() == [1, 4, 3]
    assert most_uncertain(confidence, 10).tolist() == [1, 4, 3, 2, 5, 0]
    summary = summarise(confidence)
    assert summary.mean == pytest.approx(1.36 / 6)
    assert summary.maximum == pytest.approx(0.5)
    assert dict(summary.above) == {0.1: 3, 0.25: 3, 0.5: 0}
    assert summary.lines()[2] == "above 0.1: 3 points (50.0%)"


@pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")
def test_a_sweep_stops_inside_a_fit_when_on_iteration_raises(three_on_a_line: np.ndarray) -> None:
    class Stop(Exception):
        pass

    calls = []

    def on_iteration(iteration: int, bound: float) -> None:
        calls.append(iteration)
        if len(calls) == 52:
            raise Stop

    rows = []
    with pytest.raises(Stop):
        select_model(
            three_on_a_line, [1, 2, 3], ["full"], tol=0.0, max_iter=50,
            on_iteration=on_iteration, progress=lambda row, i, n: rows.append(row),
        )  # fmt: skip
    assert len(rows) == 1  # K = 1 ran its 50 iterations; K = 2 stopped in its 2nd


def test_missing_cells_fit_and_score_with_missing_em(three_on_a_line: np.ndarray) -> None:
    X = three_on_a_line.copy()
    X[::7, 0] = np.nan  # missing cells, fitted by EM as the window does
    session = EMSession(X, 2, seed=3, missing="em")
    for _ in session.run(50):
        pass
    start = session_start(session)
    assert np.isfinite(start.log_likelihood) and np.isfinite(start.bic)
    starts, _ = run_starts(
        X, lambda seed: GaussianMixture(2, random_state=seed, missing="em"), [0, 1]
    )
    assert all(np.isfinite(s.log_likelihood) for s in starts)
    result = select_model(X, [1, 2], ["full", "diag"], missing="em")
    assert all(row.error is None for row in result.rows)
    assert result.best.n_components == 2
