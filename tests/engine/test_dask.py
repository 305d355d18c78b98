"""GaussianMixture on Dask (em_engine.distributed), on a LocalCluster of 2 worker processes: the
same numbers as the in-memory fit from the same start, per-row results as dask arrays, errors
naming the whole data's row, and a saved model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pytest
from distributed import get_task_stream

from em_engine import GaussianMixture
from em_engine import distributed as dist
from em_engine.covariance import COVARIANCE_TYPES
from em_engine.errors import DataError, RowError
from em_engine.init import initial_parameters
from em_engine.modelio import load_model, save_model

K = 3
CHUNK_ROWS = 700  # uneven chunks: 3000 rows make 4 of 700 and one of 200

pytestmark = pytest.mark.usefixtures("dask_client")


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    """Three blobs (3000, 3) away from the origin (nothing may cancel)."""
    rng = np.random.default_rng(5)
    centres = np.array([[100.0, 0.0, 3.0], [104.0, 2.0, 0.0], [101.0, 6.0, 1.0]])
    scales = np.array([[1.0, 0.7, 0.5], [0.6, 1.2, 0.8], [0.9, 0.5, 1.1]])
    blobs = zip(centres, scales, strict=True)
    return np.vstack([rng.normal(c, s, size=(1000, 3)) for c, s in blobs])


def _start(X: np.ndarray, covariance_type: str) -> dict[str, np.ndarray]:
    """Explicit initial parameters: every fit starts from the same point."""
    weights, means, covariances = initial_parameters(X, K, covariance_type, "kmeans", 0)
    if covariance_type in ("full", "tied"):
        precisions = np.linalg.inv(covariances)
    else:
        precisions = 1.0 / covariances
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


def _in_memory(model: GaussianMixture, X: np.ndarray) -> GaussianMixture:
    return model.fit(X)


def _on_dask(model: GaussianMixture, X: np.ndarray) -> GaussianMixture:
    return model.fit(da.from_array(X, chunks=(CHUNK_ROWS, -1)))


# Fits that must give the in-memory fit's numbers: name -> fit(unfitted model, X (N, D)).
FITS: dict[str, Callable[[GaussianMixture, np.ndarray], GaussianMixture]] = {"dask": _on_dask}


def assert_same_numbers(a: GaussianMixture, b: GaussianMixture, rtol: float = 1e-10) -> None:
    """Parameters equal to rtol relative to each array's largest entry; the log-likelihood
    (lower bounds, every iteration) to rtol relative."""
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.max(np.abs(x - y)) <= rtol * np.max(np.abs(x)), name
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=rtol, atol=0)


@pytest.mark.parametrize("fit", FITS.values(), ids=FITS.keys())
@pytest.mark.parametrize("prior", [None, True], ids=["ml", "map"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fits_give_the_in_memory_numbers(X, covariance_type, prior, fit) -> None:
    def model() -> GaussianMixture:
        start = _start(X, covariance_type)
        return GaussianMixture(
            K, covariance_type=covariance_type, prior=prior, tol=0.0, max_iter=15, **start
        )

    with pytest.warns(UserWarning, match="did not converge"):  # tol 0: all 15 iterations
        expected = _in_memory(model(), X)
    with pytest.warns(UserWarning, match="did not converge"):
        got = fit(model(), X)
    assert_same_numbers(expected, got)
    if prior:
        np.testing.assert_allclose(got.prior_.scale, expected.prior_.scale, rtol=1e-12)


def test_default_start_is_the_in_memory_one_when_the_data_fit_the_sample(X) -> None:
    """N <= INIT_SAMPLE_ROWS: the k-means start runs on all rows, as in memory."""
    expected = GaussianMixture(K, random_state=3).fit(X)
    with get_task_stream() as tasks:
        got = GaussianMixture(K, random_state=3).fit(da.from_array(X, chunks=CHUNK_ROWS))
    assert_same_numbers(expected, got)
    # the E-steps ran on the cluster, on both workers
    assert len({task["worker"] for task in tasks.data}) == 2


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random_from_data", "random_means"])
def test_larger_data_start_from_a_bounded_sample(X, init, monkeypatch) -> None:
    monkeypatch.setattr(dist, "INIT_SAMPLE_ROWS", 500)
    sampled = []
    compute = da.Array.compute

    def spy(self, **kwargs):  # what reaches the client
        result = compute(self, **kwargs)
        sampled.append(result.shape)
        return result

    monkeypatch.setattr(da.Array, "compute", spy)
    model = GaussianMixture(K, init_params=init, random_state=0, max_iter=200)
    model.fit(da.from_array(X, chunks=CHUNK_ROWS))
    assert sampled == [(500, 3)]
    assert model.converged_
    # the three blobs are found: each mean within 0.5 of one of the blob centres
    reference = GaussianMixture(K, random_state=0).fit(X)
    distances = np.linalg.norm(model.means_[:, None] - reference.means_[None], axis=2)
    assert np.sort(distances.min(axis=1)).max() < 0.5


def test_per_row_results_are_dask_arrays_equal_to_in_memory(X) -> None:
    model = GaussianMixture(K, random_state=0).fit(X)
    Xd = da.from_array(X, chunks=CHUNK_ROWS)
    for method in ("predict", "predict_proba", "score_samples"):
        got = getattr(model, method)(Xd)
        assert isinstance(got, da.Array), method
        assert got.chunks[0] == Xd.chunks[0]
        expected = getattr(model, method)(X)
        np.testing.assert_allclose(got.compute(), expected, rtol=1e-12, atol=1e-12)
    labels = GaussianMixture(K, random_state=0).fit_predict(Xd)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), model.predict(X))
    assert model.bic(Xd) == pytest.approx(model.bic(X), rel=1e-12)
    assert model.score(Xd) == pytest.approx(model.score(X), rel=1e-12)


def test_a_dataframe_fits_its_numeric_columns_by_name(X, tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": X[:, 0], "label": "x", "b": X[:, 1], "c": X[:, 2]})
    ddf = dd.from_pandas(frame, npartitions=4)
    model = GaussianMixture(K, random_state=0).fit(ddf)
    expected = GaussianMixture(K, random_state=0).fit(X)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    assert_same_numbers(expected, model)
    np.testing.assert_array_equal(model.predict(ddf).compute(), expected.predict(X))
    path = tmp_path / "model.json"
    save_model(model, path, X=ddf)  # scored on the cluster
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.means_, model.means_, rtol=1e-15)
    assert loaded.fit_details_["n_iter"] == model.n_iter_
    assert loaded.fit_details_["bic"] == pytest.approx(expected.bic(X), rel=1e-12)


def test_a_bad_value_names_its_row_in_the_whole_data(X) -> None:
    bad = X.copy()
    bad[2345, 1] = np.nan
    with pytest.raises(RowError, match=r"data row 2346, column 2: .*NaN") as caught:
        GaussianMixture(K).fit(da.from_array(bad, chunks=CHUNK_ROWS))
    assert (caught.value.row, caught.value.column) == (2345, 1)
    model = GaussianMixture(K, random_state=0).fit(X)
    with pytest.raises(RowError, match="data row 2346"):
        model.predict(da.from_array(bad, chunks=CHUNK_ROWS)).compute()


def test_sample_weight_is_refused_for_dask_data(X) -> None:
    with pytest.raises(DataError, match="sample_weight is not supported for Dask data"):
        GaussianMixture(K).fit(da.from_array(X), sample_weight=np.ones(len(X)))


@pytest.mark.parametrize("missing", ["drop", "em"])
def test_missing_cells_are_refused_for_dask_data(X, missing) -> None:
    with pytest.raises(DataError, match=f"missing='{missing}' is not supported for Dask data"):
        GaussianMixture(K, missing=missing).fit(da.from_array(X))


@pytest.mark.parametrize("mode", ["hard", "kmeans"])
def test_hard_modes_are_refused_for_dask_data(X, mode) -> None:
    with pytest.raises(DataError, match=f"mode='{mode}' is not supported for Dask data"):
        GaussianMixture(K, mode=mode).fit(da.from_array(X))
