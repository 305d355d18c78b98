"""Out of core: the memory-mapped cache of a CSV/Parquet file and the fit over it."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

from em_engine.covariance import COVARIANCE_TYPES
from em_engine.data import write_csv
from em_engine.errors import DataError
from em_engine.mixture import GaussianMixture
from em_engine.outofcore import cached_dataset, fit_out_of_core, scores


def _blobs(n: int = 3000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X[: n // 3] += 5.0
    X[n // 3 : 2 * n // 3, 1] -= 4.0
    return X


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "data.csv"
    write_csv(path, _blobs(), ["a", "b", "c"])
    return path


def test_cache_is_a_memory_map_of_the_file_and_is_reused(csv_file, tmp_path):
    cache = tmp_path / "cache"
    first = cached_dataset(csv_file, cache_dir=cache)
    assert isinstance(first.X, np.memmap) and not first.X.flags.writeable
    np.testing.assert_array_equal(first.X, _blobs())
    assert first.feature_names == ("a", "b", "c")
    assert list(first.lines[:2]) == [2, 3]
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 2 and not any(name.endswith(".tmp") for name in files)
    mtime = (cache / files[1]).stat().st_mtime_ns
    again = cached_dataset(csv_file, cache_dir=cache)
    assert (cache / files[1]).stat().st_mtime_ns == mtime  # reused, not written again
    np.testing.assert_array_equal(again.X, first.X)
    # a changed source gets a new cache
    write_csv(csv_file, _blobs()[:10], ["a", "b", "c"])
    os.utime(csv_file, ns=(mtime + 10**9, mtime + 10**9))
    assert cached_dataset(csv_file, cache_dir=cache).X.shape == (10, 3)


def test_bad_row_leaves_no_cache_and_names_the_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,4\n5,abc\n")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"bad.csv: row 4: column 'y' is 'abc', not a number"):
        cached_dataset(path, cache_dir=cache)
    assert not any(p.suffix == ".npy" for p in cache.iterdir())
    assert not any(p.name.endswith(".tmp") for p in cache.iterdir())
    kept = cached_dataset(path, cache_dir=cache, drop_invalid=True)
    assert kept.X.shape == (2, 2) and kept.n_dropped == 1 and list(kept.lines) == [2, 3]


@pytest.mark.filterwarnings("ignore::UserWarning")  # 20 iterations do not converge
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_over_the_cache_equals_the_in_memory_fit(csv_file, tmp_path, covariance_type):
    data = cached_dataset(csv_file, cache_dir=tmp_path / "cache")
    X = _blobs()
    start = GaussianMixture(3, covariance_type=covariance_type, random_state=1, max_iter=5).fit(X)
    inits = {
        "weights_init": start.weights_,
        "means_init": start.means_ + 0.3,
        "precisions_init": start.precisions_,
    }
    settings = {"covariance_type": covariance_type, "max_iter": 20, "tol": 1e-12, **inits}
    in_memory = GaussianMixture(3, **settings).fit(X)
    out_of_core = fit_out_of_core(GaussianMixture(3, **settings), data.X)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(
            getattr(out_of_core, name), getattr(in_memory, name), rtol=1e-10, atol=0
        )
    assert out_of_core.lower_bound_ == pytest.approx(in_memory.lower_bound_, rel=1e-10)
    assert scores(out_of_core, data.X).log_likelihood == pytest.approx(
        in_memory.scores(X).log_likelihood, rel=1e-10
    )


def _fit_peak(path, n: int) -> tuple[float, GaussianMixture]:
    """Peak traced memory (bytes) of an out-of-core fit over a memory map of n rows."""
    X = np.lib.format.open_memmap(path, mode="w+", shape=(n, 2))
    X[:] = np.random.default_rng(3).normal(size=(n, 2))
    X[::2] += 6.0
    X.flush()
    mapped = np.load(path, mmap_mode="r")
    tracemalloc.start()
    settings = GaussianMixture(2, random_state=0, max_iter=3)
    model = fit_out_of_core(settings, mapped, init_rows=20_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, model


def test_fit_memory_does_not_grow_with_the_rows(tmp_path):
    small, _ = _fit_peak(tmp_path / "small.npy", 400_000)
    large, model = _fit_peak(tmp_path / "large.npy", 1_600_000)
    # 1.2M more rows: any array of N values (even N x D booleans, 2.4 MB more) would show
    assert large - small < 1_000_000
    assert sorted(np.round(model.means_[:, 0]).tolist()) == [0.0, 6.0]
