"""Model selection (em_engine.selection): BIC/AIC over K and covariance types."""

from __future__ import annotations

import math

import numpy as np
import pytest

from em_engine.errors import DataError
from em_engine.mixture import GaussianMixture
from em_engine.selection import SelectionRow, select_model
from em_engine.synthetic import make_preset


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    return make_preset("blobs", 400, seed=4).X


def free_parameters(k: int, d: int, cov_type: str) -> int:
    """Counted by hand: weights (K - 1), means (K D), covariances per type."""
    cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d, "spherical": k}
    return (k - 1) + k * d + cov[cov_type]


def test_finds_the_four_blobs_and_scores_every_candidate(blobs: np.ndarray) -> None:
    seen: list[tuple[int, int]] = []
    result = select_model(
        blobs, range(1, 7), ("full", "spherical"), progress=lambda row, i, n: seen.append((i, n))
    )
    assert [(r.covariance_type, r.n_components) for r in result.rows] == [
        (t, k) for t in ("full", "spherical") for k in range(1, 7)
    ]
    assert seen == [(i, 12) for i in range(1, 13)]
    assert result.best.n_components == 4
    assert result.best.bic == min(r.bic for r in result.rows)
    assert result.n_samples == 400
    n = blobs.shape[0]
    for row in result.rows:
        assert row.error is None and row.n_iter >= 1
        p = free_parameters(row.n_components, 2, row.covariance_type)
        assert math.isclose(row.bic, -2 * row.log_likelihood + p * math.log(n), rel_tol=1e-12)
        assert math.isclose(row.aic, -2 * row.log_likelihood + 2 * p, rel_tol=1e-12)


def test_rows_agree_with_a_direct_fit(blobs: np.ndarray) -> None:
    result = select_model(blobs, [3], ["diag"], seed=11, n_init=2, tol=1e-4)
    model = GaussianMixture(
        n_components=3, covariance_type="diag", random_state=11, n_init=2, tol=1e-4
    ).fit(blobs)
    (row,) = result.rows
    assert row.bic == pytest.approx(model.bic(blobs), rel=1e-12)
    assert row.log_likelihood == pytest.approx(model.score(blobs) * 400, rel=1e-12)
    assert row.n_iter == model.n_iter_ and row.converged == model.converged_


def test_a_candidate_that_cannot_be_fitted_is_reported_in_its_row() -> None:
    X = np.array([[0.0, 1.0], [1.0, 0.5], [2.0, 2.0], [2.0, 2.0]])
    result = select_model(X, range(1, 5), ["full"], reg_covar=0.0)
    failed = [r for r in result.rows if r.error is not None]
    assert failed and all(r.n_components >= 2 for r in failed)
    for row in failed:
        assert row.bic is None and row.aic is None and row.log_likelihood is None
        assert not row.converged and row.n_iter == 0
        assert "reg_covar" in row.error
    assert result.best.error is None


@pytest.mark.parametrize(
    ("components", "types", "fits"),
    [
        (range(1, 100_000_001), ["full", "tied", "diag", "spherical"], 400_000_000),
        (range(1, 6), ["full"], 5),
        ([1, 2, 70], ["full", "tied"], 6),
        ([4, 4, 2], ["diag"], 2),
    ],
)
def test_more_components_than_samples_are_refused_up_front(components, types, fits) -> None:
    X = np.array([[0.0, 1.0], [1.0, 0.5], [2.0, 2.0]])
    with pytest.raises(DataError, match=rf"more than the 3 samples.* means {fits} fits"):
        select_model(X, components, types)


def test_table_marks_the_best_and_shows_failures() -> None:
    X = make_preset("overlap", 60, seed=0).X
    X = np.vstack([X, X[:2]])  # two duplicated rows: with reg_covar=0, K=62 collapses
    result = select_model(X, [1, 2, 62], ["full", "tied"], reg_covar=0.0)
    lines = result.table().splitlines()
    assert lines[0].split() == [
        "K", "covariance", "BIC", "AIC", "ICL", "log-likelihood", "converged", "iterations"
    ]  # fmt: skip
    body = lines[1:-2]
    assert len(body) == 6
    starred = [line for line in body if line.startswith("*")]
    assert len(starred) == 1
    best = result.best
    assert starred[0].split()[1:3] == [str(best.n_components), best.covariance_type]
    assert sum("failed:" in line for line in body) == 2
    assert lines[-2].startswith(f"* best by BIC: K = {best.n_components}, {best.covariance_type}")
    by_icl = result.best_icl
    assert lines[-1].startswith(
        f"  best by ICL: K = {by_icl.n_components}, {by_icl.covariance_type} covariance"
    )


def test_rows_are_named_tuples() -> None:
    row = SelectionRow(2, "full", 1.0, 2.0, -3.0, True, 5)
    assert row.error is None and row[:7] == (2, "full", 1.0, 2.0, -3.0, True, 5)


@pytest.mark.parametrize(
    ("X", "kwargs", "error", "message"),
    [
        ([[0.0], [np.nan]], {}, DataError, "non-finite value"),
        ([[0.0], [1.0]], {"components": [0, 1]}, DataError, "positive integers, got 0"),
        ([[0.0], [1.0]], {"components": []}, DataError, "nothing to compare"),
        ([[0.0], [1.0]], {"covariance_types": ["round"]}, ValueError, "covariance_type"),
        ([[0.0], [1.0]], {"components": [5, 6]}, DataError, "means 8 fits"),
        (
            [[0.0], [0.0], [0.0]],
            {"components": [2, 3], "reg_covar": 0.0},
            DataError,
            "no model could be fitted",
        ),
    ],
)
def test_bad_input(X, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        select_model(np.array(X), **kwargs)
