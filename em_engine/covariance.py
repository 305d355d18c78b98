"""Per-covariance-type arithmetic on parameters: precisions, conversions, shapes, marginals.

The numbers follow scikit-learn's ``sklearn/mixture/_gaussian_mixture.py``: Cholesky factors of the
precisions (upper triangular, ``precision = U @ U.T``) and log-determinants from their diagonals.
Shapes: D features, K components. ``covariances`` and ``precisions_cholesky`` have scikit-learn's
shape for each type: full (K, D, D), tied (D, D), diag (K, D), spherical (K,).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

# Triangular matrices up to this size are inverted by LAPACK's solve; larger ones by halves, with
# matrix products (about D^3 / 2 flops instead of the 8/3 D^3 of an LU solve).
_TRIANGULAR_BLOCK = 256
_TINY = float(np.finfo(np.float64).tiny)
_HUGE = float(np.finfo(np.float64).max)


def check_covariance_type(covariance_type: str) -> str:
    """Return ``covariance_type`` if it is one of COVARIANCE_TYPES, else raise ValueError."""
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"Invalid value for 'covariance_type': {covariance_type!r}; "
            f"expected one of {', '.join(repr(t) for t in COVARIANCE_TYPES)}"
        )
    return covariance_type


def _not_positive_definite(dtype: np.dtype) -> ValueError:
    message = (
        "Fitting the mixture model failed because some components have "
        "ill-defined empirical covariance (for instance caused by singleton "
        "or collapsed samples). Try to decrease the number of components, "
        "increase reg_covar, or scale the input data."
    )
    if dtype == np.float32:
        message += (
            " The numerical accuracy can also be improved by passing float64"
            " data instead of float32."
        )
    return ValueError(message)


def _precision_overflow() -> ValueError:
    return ValueError(
        "A covariance is too close to singular for float64: its inverse (the precision) would "
        "overflow (a variance below 2.2e-308). Rescale the data or increase reg_covar."
    )


def _not_finite() -> ValueError:
    return ValueError(
        "A covariance has an infinite or NaN entry (the data's spread overflows float64, or "
        "reg_covar is too large). Rescale the data or decrease reg_covar."
    )


# --- precisions ----------------------------------------------------------------------------------


def _inverse_triangular(matrix: np.ndarray, lower: bool) -> np.ndarray:
    """Inverse of (..., D, D) triangular matrices: LAPACK's solve up to _TRIANGULAR_BLOCK, else by
    halves ([[A, 0], [C, B]]^-1 = [[A^-1, 0], [-B^-1 C A^-1, B^-1]]) with BLAS matrix products."""
    n = matrix.shape[-1]
    if n <= _TRIANGULAR_BLOCK:
        eye = np.broadcast_to(np.eye(n, dtype=matrix.dtype), matrix.shape)
        return np.linalg.solve(matrix, eye)
    h = n // 2
    first = _inverse_triangular(matrix[..., :h, :h], lower)
    second = _inverse_triangular(matrix[..., h:, h:], lower)
    out = np.zeros_like(matrix)
    out[..., :h, :h] = first
    out[..., h:, h:] = second
    if lower:
        out[..., h:, :h] = -(second @ (matrix[..., h:, :h] @ first))
    else:
        out[..., :h, h:] = -(first @ (matrix[..., :h, h:] @ second))
    return out


def _inverse_lower_transposed(cov: np.ndarray) -> np.ndarray:
    """(..., D, D) SPD matrices -> upper-triangular U with U @ U.T = inverse (as scikit-learn)."""
    if not np.all(np.isfinite(cov)):
        raise _not_finite()
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise _not_positive_definite(cov.dtype) from None
    factor = np.swapaxes(_inverse_triangular(chol, lower=True), -1, -2)
    largest = max(float(np.max(factor)), -float(np.min(factor)))  # NaN if any entry is NaN
    if not largest * largest * cov.shape[-1] < _HUGE:  # precision entries sum D products
        raise _precision_overflow()
    return factor


def _precision_cholesky_vector(cov: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(cov)):
        raise _not_finite()
    if np.any(cov <= 0.0):
        raise _not_positive_definite(cov.dtype)
    if np.any(cov < _TINY):
        raise _precision_overflow()
    return 1.0 / np.sqrt(cov)


_PRECISION_CHOLESKY = {
    "full": _inverse_lower_transposed,
    "tied": _inverse_lower_transposed,
    "diag": _precision_cholesky_vector,
    "spherical": _precision_cholesky_vector,
}


def compute_precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Cholesky factors of the precisions, as scikit-learn's ``_compute_precision_cholesky``.

    Parameters
    ----------
    covariances : full (K, D, D), tied (D, D), diag (K, D), spherical (K,)
    covariance_type : one of COVARIANCE_TYPES

    Returns
    -------
    precisions_cholesky : same shape; upper-triangular U with ``U @ U.T == inv(covariance)``
        for full/tied, ``1 / sqrt(covariance)`` for diag/spherical.

    Raises
    ------
    ValueError
        scikit-learn's message naming reg_covar when a covariance is not positive definite; a
        message of its own when a covariance is not finite, or so close to singular that its
        precision would overflow float64.
    """
    covariances = np.asarray(covariances)
    return _PRECISION_CHOLESKY[check_covariance_type(covariance_type)](covariances)


def _square_factor(factor: np.ndarray) -> np.ndarray:
    """U -> U @ U.T for (..., D, D)."""
    return factor @ np.swapaxes(factor, -1, -2)


def covariances_from_precision_cholesky(
    precisions_cholesky: np.ndarray, covariance_type: str
) -> np.ndarray:
    """Covariances (type shape) from Cholesky factors of the precisions (type shape)."""
    pc = np.asarray(precisions_cholesky, dtype=np.float64)
    if check_covariance_type(covariance_type) in ("full", "tied"):
        inv = _inverse_triangular(pc, lower=False)  # U^{-1}; covariance = U^{-T} U^{-1}
        return np.swapaxes(inv, -1, -2) @ inv
    return 1.0 / (pc * pc)


def precisions_from_precision_cholesky(
    precisions_cholesky: np.ndarray, covariance_type: str
) -> np.ndarray:
    """Precision matrices/vectors (type shape) from their Cholesky factors (type shape)."""
    pc = np.asarray(precisions_cholesky)
    if check_covariance_type(covariance_type) in ("full", "tied"):
        return _square_factor(pc)
    return pc * pc


def precision_cholesky_from_precisions(precisions: np.ndarray, covariance_type: str) -> np.ndarray:
    """Upper-triangular U with ``U @ U.T == precision`` (scikit-learn's flipped Cholesky).

    Parameters
    ----------
    precisions : full (K, D, D), tied (D, D), diag (K, D), spherical (K,); positive definite.
    """
    precisions = np.asarray(precisions)
    if check_covariance_type(covariance_type) in ("full", "tied"):
        flipped = np.flip(precisions, axis=(-2, -1))
        try:
            return np.flip(np.linalg.cholesky(flipped), axis=(-2, -1))
        except np.linalg.LinAlgError:
            raise ValueError(
                f"'{covariance_type} precision' should be symmetric, positive-definite"
            ) from None
    return np.sqrt(precisions)


def log_det_cholesky(
    precisions_cholesky: np.ndarray, covariance_type: str, n_features: int
) -> np.ndarray | float:
    """log det of the Cholesky factors: (K,) for full/diag/spherical, a float for tied."""
    pc = np.asarray(precisions_cholesky)
    if covariance_type == "full":
        return np.sum(np.log(np.diagonal(pc, axis1=1, axis2=2)), axis=1)
    if covariance_type == "tied":
        return float(np.sum(np.log(np.diagonal(pc))))
    if covariance_type == "diag":
        return np.sum(np.log(pc), axis=1)
    return n_features * np.log(pc)


def full_covariances(
    covariances: np.ndarray,
    covariance_type: str,
    n_features: int,
    n_components: int | None = None,
) -> np.ndarray:
    """Expand covariances of any type to full matrices.

    Parameters
    ----------
    covariances : full (K, D, D), tied (D, D), diag (K, D), spherical (K,)
    covariance_type : one of COVARIANCE_TYPES
    n_features : D
    n_components : K, needed only for tied (the shared matrix is repeated K times; 1 if None)

    Returns
    -------
    (K, D, D) float64, a fresh array.
    """
    cov = np.asarray(covariances, dtype=np.float64)
    covariance_type = check_covariance_type(covariance_type)
    if covariance_type == "full":
        return cov.copy()
    if covariance_type == "tied":
        return np.repeat(cov[None], 1 if n_components is None else n_components, axis=0)
    if covariance_type == "diag":
        out = np.zeros((cov.shape[0], n_features, n_features))
        idx = np.arange(n_features)
        out[:, idx, idx] = cov
        return out
    return cov[:, None, None] * np.eye(n_features)


def covariance_shape(covariance_type: str, n_components: int, n_features: int) -> tuple[int, ...]:
    """Shape of the covariances (and precision factors) of one type: full (K, D, D), tied (D, D),
    diag (K, D), spherical (K,)."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[check_covariance_type(covariance_type)]


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Number of free parameters: weights (K - 1) + means (K D) + covariances (by type)."""
    cov_params = {
        "full": n_components * n_features * (n_features + 1) // 2,
        "tied": n_features * (n_features + 1) // 2,
        "diag": n_components * n_features,
        "spherical": n_components,
    }[check_covariance_type(covariance_type)]
    return int(cov_params + n_features * n_components + n_components - 1)


def marginal(
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
    columns: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """The components' marginal Gaussians on ``columns`` (e.g. the two columns a plot shows).

    A Gaussian's marginal on some columns keeps those entries of its mean and those rows and
    columns of its covariance; nothing else is computed (no (K, D, D) expansion of wide data).

    Parameters
    ----------
    means : (K, D)
    covariances : full (K, D, D), tied (D, D), diag (K, D), spherical (K,)
    covariance_type : one of COVARIANCE_TYPES
    columns : C indices into 0..D-1 (repeats allowed)

    Returns
    -------
    means (K, C) and covariances (K, C, C), float64, fresh arrays.
    """
    means = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    idx = np.asarray(columns, dtype=np.intp)
    n_components = means.shape[0]
    covariance_type = check_covariance_type(covariance_type)
    if covariance_type == "full":
        picked = cov[:, idx][:, :, idx]
    elif covariance_type == "tied":
        picked = np.repeat(cov[idx][:, idx][None], n_components, axis=0)
    else:
        diagonal = cov[:, idx] if covariance_type == "diag" else cov[:, None] * np.ones(len(idx))
        same = idx[:, None] == idx[None, :]  # a repeated column is the same variable
        picked = np.where(same, diagonal[:, :, None], 0.0)
    return means[:, idx].copy(), np.ascontiguousarray(picked)


def precision_or_none(covariance: np.ndarray) -> np.ndarray | None:
    """The precision (inverse) of one (D, D) covariance, for display; None when it is not
    positive definite."""
    try:
        factor = compute_precision_cholesky(np.asarray(covariance)[None], "full")
    except ValueError:
        return None
    return precisions_from_precision_cholesky(factor, "full")[0]
