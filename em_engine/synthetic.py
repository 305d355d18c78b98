"""Synthetic data sets drawn from known Gaussian mixtures, deterministic for a given seed.

Each preset is a mixture (weights, means, full covariances) with feature names; ``make_preset``
draws from it with exact component sizes (the weights times N, rounded so they sum to N) in a
shuffled order, and returns the true component of every sample as ``Dataset.labels``.

``python -m em_engine.synthetic [FOLDER]`` rewrites the sample CSV files shipped in
``resources/samples/`` (the default folder).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from em_engine.data import Dataset, write_csv

__all__ = ["PRESETS", "SAMPLE_FILES", "make_preset", "true_parameters", "write_samples"]

#: The sample files ``write_samples`` makes: file name -> (preset, n_samples, n_features).
SAMPLE_FILES: dict[str, tuple[str, int, int | None]] = {
    "blobs.csv": ("blobs", 400, None),
    "anisotropic.csv": ("anisotropic", 400, None),
    "unequal.csv": ("unequal", 400, None),
    "overlap.csv": ("overlap", 400, None),
    "house_prices.csv": ("house_prices", 300, 2),
    "house_prices_1d.csv": ("house_prices", 300, 1),
}
_SAMPLE_SEED = 0


@dataclass(frozen=True)
class _Mixture:
    description: str
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    covariances: np.ndarray  # (K, D, D)
    feature_names: tuple[str, ...]


def _tilted(sd_major: float, sd_minor: float, angle_deg: float) -> np.ndarray:
    """A 2-D covariance with the given axis standard deviations, major axis at ``angle_deg``."""
    t = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return rot @ np.diag([sd_major**2, sd_minor**2]) @ rot.T


def _round(sd: float) -> np.ndarray:
    return np.eye(2) * sd**2


def _house(sd_price: float, sd_area: float, corr: float) -> np.ndarray:
    off = corr * sd_price * sd_area
    return np.array([[sd_price**2, off], [off, sd_area**2]])


_MIXTURES: dict[str, _Mixture] = {
    "blobs": _Mixture(
        "four well-separated round clusters",
        np.full(4, 0.25),
        np.array([[-5.0, -2.0], [0.0, 5.0], [5.0, -1.0], [0.5, -6.0]]),
        np.stack([_round(0.8), _round(0.7), _round(0.9), _round(0.6)]),
        ("x", "y"),
    ),
    "anisotropic": _Mixture(
        "three elongated, tilted clusters",
        np.array([0.35, 0.35, 0.30]),
        np.array([[-3.0, 0.0], [2.0, 3.0], [3.0, -3.0]]),
        np.stack([_tilted(2.5, 0.4, 60.0), _tilted(2.2, 0.5, -20.0), _tilted(1.8, 0.3, 10.0)]),
        ("x", "y"),
    ),
    "unequal": _Mixture(
        "three clusters of unequal sizes and spreads",
        np.array([0.6, 0.3, 0.1]),
        np.array([[0.0, 0.0], [6.0, 3.0], [5.0, -3.0]]),
        np.stack([_round(2.0), _round(0.8), _round(0.3)]),
        ("x", "y"),
    ),
    "overlap": _Mixture(
        "three heavily overlapping clusters",
        np.array([0.4, 0.35, 0.25]),
        np.array([[0.0, 0.0], [1.6, 0.6], [0.5, 1.7]]),
        np.stack([_round(1.0), _tilted(1.1, 0.8, 30.0), _round(0.9)]),
        ("x", "y"),
    ),
    "house_prices": _Mixture(
        "house price (thousands) and floor area (m²) by a hidden neighbourhood (1-D: price only)",
        np.array([0.5, 0.35, 0.15]),
        np.array([[190.0, 72.0], [330.0, 105.0], [620.0, 150.0]]),
        np.stack([_house(35.0, 14.0, 0.7), _house(55.0, 20.0, 0.75), _house(110.0, 30.0, 0.8)]),
        ("price", "floor_area"),
    ),
}
_MIXTURES["house_prices_1d"] = replace(
    _MIXTURES["house_prices"],
    description="house price (thousands) by a hidden neighbourhood: one column",
    means=_MIXTURES["house_prices"].means[:, :1],
    covariances=_MIXTURES["house_prices"].covariances[:, :1, :1],
    feature_names=("price",),
)
_MIXTURES["collapse"] = _Mixture(
    "two clusters and a few nearly identical points: maximum likelihood shrinks a component "
    "onto them",
    np.array([0.498, 0.498, 0.004]),
    np.array([[-2.0, 0.0], [2.0, 0.5], [0.5, 25.0]]),
    np.stack([_round(1.0), _round(1.0), _round(0.002)]),
    ("x", "y"),
)

#: Preset name -> one-line description, in the order the GUI lists them.
PRESETS: dict[str, str] = {name: mix.description for name, mix in _MIXTURES.items()}


def _mixture(name: str, n_features: int | None) -> _Mixture:
    """The preset's mixture, restricted to its first ``n_features`` features when asked."""
    if name not in _MIXTURES:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    mix = _MIXTURES[name]
    if n_features is None or n_features == len(mix.feature_names):
        return mix
    if name != "house_prices" or n_features != 1:
        allowed = "1 or 2" if name == "house_prices" else "2"
        raise ValueError(f"preset {name!r} has {allowed} features, not {n_features}")
    return replace(
        mix,
        means=mix.means[:, :1],
        covariances=mix.covariances[:, :1, :1],
        feature_names=mix.feature_names[:1],
    )


def true_parameters(
    name: str, n_features: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mixture a preset draws from.

    Returns
    -------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
        Full covariances (scikit-learn's "full" shape); fresh copies.
    """
    mix = _mixture(name, n_features)
    return mix.weights.copy(), mix.means.copy(), mix.covariances.copy()


def _component_sizes(weights: np.ndarray, n_samples: int) -> np.ndarray:
    """Sizes proportional to the weights, summing to n_samples (largest remainders first)."""
    exact = weights * n_samples
    sizes = np.floor(exact).astype(np.intp)
    short = n_samples - int(sizes.sum())
    order = np.argsort(-(exact - sizes), kind="stable")
    sizes[order[:short]] += 1
    return sizes


def make_preset(
    name: str, n_samples: int = 500, seed: int = 0, *, n_features: int | None = None
) -> Dataset:
    """Draw a synthetic data set.

    Parameters
    ----------
    name : str
        One of ``PRESETS``.
    n_samples : int
        N >= 1.
    seed : int
        The same name, N, seed and n_features always give the same data.
    n_features : int or None
        None for the preset's own dimension (2); "house_prices" also takes 1 (price only).

    Returns
    -------
    Dataset
        ``X`` of shape (N, D) float64, ``labels`` of shape (N,) with the true component of each
        sample, ``source`` naming the preset and seed.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    mix = _mixture(name, n_features)
    rng = np.random.default_rng(seed)
    sizes = _component_sizes(mix.weights, int(n_samples))
    labels = np.repeat(np.arange(len(sizes)), sizes)
    n_dim = mix.means.shape[1]
    chol = np.linalg.cholesky(mix.covariances)  # (K, D, D)
    z = rng.standard_normal((int(n_samples), n_dim))
    X = mix.means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
    order = rng.permutation(int(n_samples))
    return Dataset(
        X=X[order],
        feature_names=mix.feature_names,
        source=f"preset '{name}' (seed {seed})",
        labels=labels[order],
    )


def write_samples(folder: str | os.PathLike[str]) -> list[Path]:
    """Write the sample CSV files (``SAMPLE_FILES``) into ``folder``; return their paths."""
    folder = Path(folder)
    paths = []
    for file_name, (name, n_samples, n_features) in SAMPLE_FILES.items():
        data = make_preset(name, n_samples, _SAMPLE_SEED, n_features=n_features)
        path = folder / file_name
        write_csv(path, data.X, data.feature_names, fmt="%.6g")
        paths.append(path)
    return paths


def _main(argv: list[str]) -> int:
    from em_engine._resources import resource_path

    folder = Path(argv[0]) if argv else resource_path("samples")
    folder.mkdir(parents=True, exist_ok=True)
    for path in write_samples(folder):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
