"""Test data for the scatter view tests: two Gaussian blobs of known parameters."""

from __future__ import annotations

import numpy as np

MEANS = np.array([[-4.0, 0.0], [4.0, 1.0]])
COVS = np.array([[[1.0, 0.6], [0.6, 0.8]], [[0.5, -0.2], [-0.2, 1.5]]])
WEIGHTS = np.array([0.3, 0.7])


def two_blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) points from MEANS/COVS and their true labels (n,)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < WEIGHTS[1]).astype(np.intp)
    chol = np.linalg.cholesky(COVS)
    X = MEANS[labels] + np.einsum("nij,nj->ni", chol[labels], rng.standard_normal((n, 2)))
    return X, labels
