"""em_engine.init: k-means (against scikit-learn's), k-means++ and the four initialisations."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from em_engine.covariance import COVARIANCE_TYPES
from em_engine.init import (
    INIT_METHODS,
    check_random_state,
    initial_parameters,
    initial_responsibilities,
    kmeans,
    kmeans_plusplus,
    nearest_mean_responsibilities,
)


def blobs(n_per: int, centres: np.ndarray, seed: int, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(centres)), n_per)
    X = centres[truth] + scale * rng.normal(size=(truth.size, centres.shape[1]))
    order = rng.permutation(truth.size)
    return X[order], truth[order]


CENTRES_2D = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])


def test_lloyd_matches_scikit_learn_from_the_same_centres():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 3)) + rng.integers(0, 3, size=(3000, 1)) * 2.0
    start = X[rng.choice(len(X), 5, replace=False)]
    centres, labels, n_iter = kmeans(X, 5, initial_centres=start)
    ref = KMeans(5, init=start, n_init=1, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(labels, ref.labels_)
    np.testing.assert_allclose(centres, ref.cluster_centers_, rtol=1e-10, atol=1e-12)
    assert n_iter == ref.n_iter_


def test_kmeans_finds_separated_blobs_like_scikit_learn():
    X, truth = blobs(250, CENTRES_2D, seed=0)
    centres, labels, _ = kmeans(X, 4, rng=0)
    assert adjusted_rand_score(truth, labels) == 1.0
    ref = KMeans(4, n_init=1, random_state=0).fit(X)
    order = np.lexsort(centres.T)
    ref_order = np.lexsort(ref.cluster_centers_.T)
    np.testing.assert_allclose(centres[order], ref.cluster_centers_[ref_order], rtol=1e-10)


def test_kmeans_result_is_a_fixed_point_across_block_boundaries():
    # N is not a multiple of any block size: labels are the nearest centres, centres the means.
    X, _ = blobs(40_001, CENTRES_2D[:3], seed=1, scale=3.0)
    centres, labels, _ = kmeans(X, 3, rng=1, tol=0.0)
    distances = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, distances.argmin(axis=1))
    for k in range(3):
        np.testing.assert_allclose(centres[k], X[labels == k].mean(axis=0), rtol=1e-9)


def test_kmeans_relocates_an_empty_cluster():
    X, _ = blobs(100, CENTRES_2D[:2], seed=2)
    start = np.array([[0.0, 0.0], [10.0, 0.0], [1e6, 1e6]])  # the third centre gets no row
    centres, labels, _ = kmeans(X, 3, initial_centres=start)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert np.all(np.isfinite(centres)) and np.abs(centres).max() < 100


def test_kmeans_with_fewer_distinct_points_than_clusters():
    X = np.repeat(np.array([[1.0, 2.0], [3.0, 4.0]]), 10, axis=0)
    centres, labels, _ = kmeans(X, 4, rng=0)
    assert np.all(np.isfinite(centres))
    assert labels.min() >= 0 and labels.max() < 4
    # every row is labelled with a centre at its own position
    np.testing.assert_allclose(centres[labels], X)


def test_kmeans_float32_and_reproducible():
    X, truth = blobs(200, CENTRES_2D, seed=4)
    X32 = X.astype(np.float32)
    c1, l1, _ = kmeans(X32, 4, rng=7)
    c2, l2, _ = kmeans(X32, 4, rng=np.random.RandomState(7))
    assert c1.dtype == np.float64
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(c1, c2)
    assert adjusted_rand_score(truth, l1) == 1.0


def test_kmeans_memory_is_blocked():
    # An N x K x D float64 temporary would be 48 MB here; the blocked passes need O(N) memory.
    rng = np.random.default_rng(5)
    n, d, k = 100_000, 6, 10
    X = rng.normal(size=(n, d))
    tracemalloc.start()
    try:
        kmeans(X, k, rng=0, max_iter=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < n * k * d * 8 / 4, f"peak {peak / 1e6:.1f} MB"


def test_kmeans_plusplus_picks_one_row_per_separated_blob():
    X, truth = blobs(100, CENTRES_2D, seed=6, scale=0.5)
    for seed in range(5):
        centres, indices = kmeans_plusplus(X, 4, rng=seed)
        np.testing.assert_array_equal(centres, X[indices])
        assert sorted(truth[indices]) == [0, 1, 2, 3]


def test_kmeans_plusplus_single_point_and_k_equals_n():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [5.0, -1.0]])
    _, indices = kmeans_plusplus(X, 3, rng=0)
    assert sorted(indices) == [0, 1, 2]
    _, indices = kmeans_plusplus(X[:1], 1, rng=0)
    assert list(indices) == [0]


RESP_METHODS = tuple(m for m in INIT_METHODS if m != "random_means")


@pytest.mark.parametrize("method", RESP_METHODS)
def test_initial_responsibilities_shapes_and_rows(method):
    X, _ = blobs(50, CENTRES_2D, seed=8)
    resp = initial_responsibilities(X, 4, method, rng=0)
    assert resp.shape == (200, 4) and resp.dtype == np.float64
    assert np.all(resp >= 0)
    if method in ("kmeans", "random"):
        np.testing.assert_allclose(resp.sum(axis=1), 1.0)
    else:
        # one row per component carries all of its responsibility, all other rows are zero
        rows, cols = np.nonzero(resp)
        assert sorted(cols) == [0, 1, 2, 3] and len(set(rows)) == 4
        np.testing.assert_array_equal(resp[rows, cols], 1.0)
    if method != "random":
        assert set(np.unique(resp)) <= {0.0, 1.0}
    np.testing.assert_array_equal(resp, initial_responsibilities(X, 4, method, rng=0))
    assert not np.array_equal(resp, initial_responsibilities(X, 4, method, rng=1))


@pytest.mark.parametrize("method", RESP_METHODS)
def test_initial_responsibilities_keep_float32(method):
    X, _ = blobs(20, CENTRES_2D, seed=9)
    assert initial_responsibilities(X.astype(np.float32), 3, method, 0).dtype == np.float32


def test_random_from_data_draws_uniformly():
    X = np.arange(10.0)[:, None]
    counts = np.zeros(10)
    rng = np.random.RandomState(0)
    for _ in range(2000):
        counts += initial_responsibilities(X, 2, "random_from_data", rng).sum(axis=1)
    # each row chosen with probability 2/10: 400 expected, sd ~18
    assert np.all(np.abs(counts - 400) < 90)


def test_bad_arguments_name_the_value():
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="init='bogus'"):
        initial_responsibilities(X, 2, "bogus", 0)
    with pytest.raises(ValueError, match="n_components=6"):
        initial_responsibilities(X, 6, "kmeans", 0)
    with pytest.raises(ValueError, match="n_components=0"):
        initial_responsibilities(X, 0, "random", 0)
    with pytest.raises(ValueError, match="rng='seed'"):
        check_random_state("seed")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("method", RESP_METHODS)
def test_initial_parameters_match_scikit_learn_from_the_same_responsibilities(
    method, covariance_type
):
    X, _ = blobs(60, CENTRES_2D, seed=10, scale=2.0)
    resp = initial_responsibilities(X, 4, method, rng=3)
    weights, means, covariances = initial_parameters(X, 4, covariance_type, method, 3, 1e-6)
    # scikit-learn's tied covariance sums X.T @ X over all rows; when only K rows carry
    # responsibility ("k-means++", "random_from_data") that depends on the origin. Ours is
    # scikit-learn's on data centred at the column means (the same for the other methods).
    centre = X.mean(axis=0)
    ref = SkGaussianMixture(4, covariance_type=covariance_type, reg_covar=1e-6)
    ref._initialize(X - centre, resp)
    # scikit-learn's initial weights are nk / N (not summing to 1 for the one-hot-rows methods);
    # ours are normalised, which changes no responsibility.
    np.testing.assert_allclose(weights, ref.weights_ / ref.weights_.sum(), rtol=1e-12)
    np.testing.assert_allclose(means, ref.means_ + centre, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(covariances, ref.covariances_, rtol=1e-10, atol=1e-12)
    if method in ("kmeans", "random"):
        ref._initialize(X, resp)
        np.testing.assert_allclose(covariances, ref.covariances_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_random_means_are_data_rows_with_the_data_covariance(covariance_type, dtype):
    X, _ = blobs(40, CENTRES_2D, seed=11, scale=1.5)
    X = X.astype(dtype)
    weights, means, covariances = initial_parameters(X, 3, covariance_type, "random_means", 4, 1e-6)
    np.testing.assert_array_equal(weights, np.full(3, 1 / 3))
    rows = [np.flatnonzero((X == m.astype(dtype)).all(axis=1)) for m in means]
    assert all(len(r) >= 1 for r in rows) and len({int(r[0]) for r in rows}) == 3  # distinct rows
    cov = np.cov(X.astype(np.float64).T, bias=True) + 1e-6 * np.eye(2)
    expected = {
        "full": np.repeat(cov[None], 3, axis=0),
        "tied": cov,
        "diag": np.repeat(np.diag(cov)[None], 3, axis=0),
        "spherical": np.full(3, np.diag(cov).mean()),
    }[covariance_type]
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(covariances, expected, rtol=rtol)
    again = initial_parameters(X, 3, covariance_type, "random_means", 4, 1e-6)
    np.testing.assert_array_equal(again[1], means)  # same seed, same start
    other = initial_parameters(X, 3, covariance_type, "random_means", 5, 1e-6)
    assert not np.array_equal(other[1], means)
    with pytest.raises(ValueError, match="n_components=100000"):
        initial_parameters(X, 100_000, covariance_type, "random_means", 0)
    with pytest.raises(ValueError, match="no initial responsibilities"):
        initial_responsibilities(X, 3, "random_means", 0)


def test_random_means_fits_in_the_estimator_and_the_session():
    from em_engine.mixture import GaussianMixture
    from em_engine.session import EMSession

    X, _ = blobs(100, CENTRES_2D, seed=12)
    model = GaussianMixture(4, init_params="random_means", random_state=0).fit(X)
    assert model.converged_ and np.isfinite(model.lower_bound_)
    session = EMSession(X, 4, init="random_means", seed=0)
    start = session.snapshot
    assert np.all(np.linalg.eigvalsh(start.covariances).min(axis=1) > 0.5)  # broad, visible
    final = list(session.run(200))[-1]
    assert final.converged and final.log_likelihood > model.score(X) * len(X) - 1.0


def test_nearest_mean_responsibilities():
    X = np.array([[0.0, 0.0], [0.9, 0.0], [5.0, 5.0], [4.0, 6.0]])
    resp = nearest_mean_responsibilities(X, np.array([[5.0, 5.0], [0.0, 0.0], [100.0, 0.0]]))
    np.testing.assert_array_equal(resp.argmax(axis=1), [1, 1, 0, 0])
    np.testing.assert_array_equal(resp.sum(axis=0), [2, 2, 0])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_clusters", [2, 3, 5])
def test_seeds_and_kmeans_labels_are_scikit_learns_for_the_same_random_state(seed, n_clusters):
    from sklearn.cluster import KMeans
    from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus

    X, _ = blobs(80, CENTRES_2D, seed=seed, scale=2.0)
    _, ours = kmeans_plusplus(X, n_clusters, np.random.RandomState(seed))
    _, ref = sk_kmeans_plusplus(X, n_clusters, random_state=np.random.RandomState(seed))
    np.testing.assert_array_equal(ours, ref)
    labels = kmeans(X, n_clusters, np.random.RandomState(seed))[1]
    ref_labels = KMeans(n_clusters, n_init=1, random_state=np.random.RandomState(seed)).fit(X)
    np.testing.assert_array_equal(labels, ref_labels.labels_)
