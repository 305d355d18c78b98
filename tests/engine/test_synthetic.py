"""Synthetic presets (em_engine.synthetic): deterministic, as advertised, shipped samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from em_engine._resources import resource_path
from em_engine.data import read_csv
from em_engine.synthetic import (
    PRESETS,
    SAMPLE_FILES,
    make_preset,
    true_parameters,
    write_samples,
)


def test_presets_are_the_seven_named() -> None:
    assert set(PRESETS) == {
        "blobs",
        "anisotropic",
        "unequal",
        "overlap",
        "house_prices",
        "house_prices_1d",
        "collapse",
    }
    assert all(isinstance(text, str) and text for text in PRESETS.values())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_shapes_labels_and_determinism(name: str) -> None:
    ds = make_preset(name, n_samples=301, seed=7)
    weights, means, _ = true_parameters(name)
    k, d = means.shape
    assert ds.X.shape == (301, d) and ds.X.dtype == np.float64
    assert ds.labels is not None and ds.labels.shape == (301,)
    assert len(ds.feature_names) == d
    assert np.isfinite(ds.X).all()
    # Exact component sizes: the weights times N, rounded to sum to N.
    sizes = np.bincount(ds.labels, minlength=k)
    assert sizes.sum() == 301
    assert np.all(np.abs(sizes - weights * 301) < 1)
    again = make_preset(name, n_samples=301, seed=7)
    np.testing.assert_array_equal(ds.X, again.X)
    np.testing.assert_array_equal(ds.labels, again.labels)
    other = make_preset(name, n_samples=301, seed=8)
    assert not np.array_equal(ds.X, other.X)
    assert "seed 7" in ds.source and name in ds.source


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_samples_follow_the_true_mixture(name: str) -> None:
    ds = make_preset(name, n_samples=20_000, seed=1)
    _, means, covariances = true_parameters(name)
    for k in range(len(means)):
        points = ds.X[ds.labels == k]
        sd = np.sqrt(np.diag(covariances[k]))
        assert np.all(np.abs(points.mean(axis=0) - means[k]) < 5 * sd / np.sqrt(len(points)))
        np.testing.assert_allclose(
            np.cov(points.T), covariances[k], rtol=0.15, atol=0.05 * sd.max() ** 2
        )


def _nearest_mean_accuracy(name: str) -> float:
    ds = make_preset(name, n_samples=4000, seed=3)
    _, means, _ = true_parameters(name)
    nearest = np.argmin(((ds.X[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    return float(np.mean(nearest == ds.labels))


def test_blobs_are_well_separated_and_overlap_overlaps() -> None:
    assert _nearest_mean_accuracy("blobs") > 0.995
    assert _nearest_mean_accuracy("overlap") < 0.8


def test_unequal_has_unequal_sizes_and_spreads() -> None:
    weights, _, covariances = true_parameters("unequal")
    assert weights.max() / weights.min() >= 5
    spreads = np.linalg.det(covariances)
    assert spreads.max() / spreads.min() >= 100


def test_anisotropic_clusters_are_elongated() -> None:
    _, _, covariances = true_parameters("anisotropic")
    eig = np.linalg.eigvalsh(covariances)
    assert np.all(eig[:, 1] / eig[:, 0] > 10)
    assert np.all(np.abs(covariances[:, 0, 1]) > 0.1)  # tilted, not axis-aligned


def test_house_prices_1d_and_2d() -> None:
    two = make_preset("house_prices", 500, seed=0)
    one = make_preset("house_prices", 500, seed=0, n_features=1)
    assert two.feature_names == ("price", "floor_area")
    assert one.feature_names == ("price",) and one.X.shape == (500, 1)
    assert (two.X > 0).all()
    # Neighbourhoods differ in price: the hidden label explains most of the variance.
    by_hood = [one.X[one.labels == k, 0].mean() for k in range(3)]
    assert by_hood == sorted(by_hood)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "nope"}, "unknown preset 'nope'; choose one of blobs, anisotropic"),
        ({"name": "blobs", "n_features": 3}, "preset 'blobs' has 2 features, not 3"),
        ({"name": "house_prices", "n_features": 3}, "preset 'house_prices' has 1 or 2 features"),
        ({"name": "blobs", "n_samples": 0}, "n_samples must be a positive integer, got 0"),
        ({"name": "blobs", "n_samples": 2.5}, "n_samples must be a positive integer, got 2.5"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_preset(**kwargs)


def test_shipped_samples_are_up_to_date_and_readable(tmp_path: Path) -> None:
    written = write_samples(tmp_path)
    assert [p.name for p in written] == list(SAMPLE_FILES)
    for path in written:
        shipped = resource_path("samples", path.name)
        assert shipped.read_text() == path.read_text(), (
            f"{shipped} is out of date: run python -m em_engine.synthetic"
        )
        name, n_samples, n_features = SAMPLE_FILES[path.name]
        ds = read_csv(shipped)
        assert ds.X.shape == (n_samples, n_features or 2)
        assert ds.feature_names == make_preset(name, 1, n_features=n_features).feature_names
