"""The one check of data and the one check of parameters that every entry point uses.

``check_data`` turns what a caller gives as X into the (N, D) float32/float64 array the kernels
work on, or raises a ``DataError`` naming the problem (and the row and column of a bad value).
``check_parameters`` checks mixture parameters (weights, means, covariances or precisions) and
raises a ``ParameterError`` naming the field (``weights[2]``, ``covariances[1]``) and the problem;
the estimator, the session and model files put their own context around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from em_engine.covariance import compute_precision_cholesky, covariance_shape
from em_engine.errors import DataError, DataTypeError, RowError

__all__ = [
    "ParameterError",
    "check_data",
    "check_magnitude",
    "check_parameters",
    "check_sample_weight",
    "reg_covar_note",
    "work_dtype",
]

# Largest |x| whose square, summed over many rows, stays finite in the blocked arithmetic.
_MAX_ABS = {t: float(np.sqrt(np.finfo(t).max / 1e8)) for t in (np.float32, np.float64)}
_WEIGHT_SUM_TOL = 1e-6
_SYMMETRY_TOL = 1e-8
_MIN_VARIANCE = float(np.finfo(np.float64).tiny)  # below it the inverse 1 / variance overflows


def work_dtype(X: np.ndarray, name: str = "X") -> np.dtype:
    """The dtype EM works in on X: float32 stays float32, any other real number becomes float64.

    Raises DataError (naming the array ``name``) for complex numbers: as scikit-learn, they are
    refused rather than cut to their real part.
    """
    if np.iscomplexobj(X):
        raise DataError(
            f"Complex data not supported: {name} holds complex numbers; only real numbers can be "
            "fitted"
        )
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


def check_magnitude(X: np.ndarray) -> None:
    """RowError (a DataError) if X (N, D) float32/float64 has a value whose square, summed over
    many rows, would overflow: no covariance of such data is a float (fitting needs one; scoring
    does not).
    """
    if X.size == 0:
        return
    limit = _MAX_ABS[X.dtype.type]
    # no (N, D) temporary for good data (X may be a memory map); then name the first bad row.
    # fmax/fmin pass over NaN (a missing cell) to the largest values there are.
    if max(np.fmax.reduce(X, axis=None), -np.fmin.reduce(X, axis=None)) > limit:
        too_large = np.abs(X) > limit
        if not too_large.any():
            return
        rows = np.flatnonzero(too_large.any(axis=1))
        row, column = int(rows[0]), int(np.argmax(too_large[rows[0]]))
        more = f"; {len(rows) - 1} more rows like it" if len(rows) > 1 else ""
        raise RowError(
            f"{X[row, column]:.3g} is too large for the arithmetic (squares would overflow "
            f"{X.dtype}): rescale the data{more}",
            row,
            column,
        )


def column_variance(X: np.ndarray, block_rows: int = 65536) -> np.ndarray:
    """The variance (D,) of each column of X (N, D), in blocks of rows (two passes: the mean,
    then the squared deviations), so that a large or memory-mapped X needs no copy."""
    n = X.shape[0]
    mean = X.sum(axis=0, dtype=np.float64) / n
    total = np.zeros(X.shape[1])
    for start in range(0, n, block_rows):
        deviation = X[start : start + block_rows] - mean
        total += np.einsum("ij,ij->j", deviation, deviation)
    return total / n


def reg_covar_note(
    X: np.ndarray, reg_covar: float, names: Sequence[str] | None = None
) -> str | None:
    """A note when ``reg_covar`` is not small next to the variance of a column of X (N, D):
    every covariance is then mostly reg_covar, and the fit cannot tell components apart along
    that column (data at a scale of 1e-12 "converges" with all means together). None otherwise.
    """
    if not reg_covar > 0:
        return None
    variance = column_variance(X)
    swamped = np.flatnonzero(variance < 100.0 * reg_covar)
    if len(swamped) == 0 or (len(swamped) == X.shape[1] and not variance.any()):
        return None  # constant data: nothing to tell apart at any reg_covar
    j = int(swamped[np.argmin(variance[swamped])])
    name = f"{names[j]!r}" if names is not None else str(j + 1)
    others = len(swamped) - 1
    more = f" (and {others} more column{'s' * (others > 1)})" if others else ""
    return (
        f"reg_covar ({reg_covar:g}) is not small next to the variance of column {name} "
        f"({variance[j]:.3g}){more}: the fit cannot tell components apart along it; rescale the "
        "data or lower reg_covar"
    )


def is_dask_collection(X: Any) -> bool:
    """Whether X is a Dask array or dataframe, told by its type's module: dask is never imported
    here (only em_engine.distributed imports it, for data that is already a Dask object)."""
    return type(X).__module__.partition(".")[0] in ("dask", "dask_expr")


def check_data(
    X: Any,
    *,
    name: str = "X",
    min_samples: int = 1,
    column: bool = False,
    scan: bool = True,
    fitting: bool = False,
    copy: bool = False,
    allow_nan: bool = False,
) -> np.ndarray:
    """X as the (N, D) array EM works on: float32 stays float32, other real numbers float64.

    Parameters
    ----------
    X : array-like (N, D); with ``column``, a 1-D (N,) array is one feature
    name : what messages call it
    min_samples : rows needed (a fit needs 2)
    scan : refuse NaN and infinity (False only for the kernels, whose callers have checked X)
    fitting : also refuse values whose squares would overflow (``check_magnitude``)
    copy : return a private C-ordered, read-only copy (the session's own data)
    allow_nan : NaN marks a missing cell (em_engine.missing) and passes the scan; infinity does not

    Returns
    -------
    (N, D) float32/float64; X itself when it is such an array already and ``copy`` is False.

    Raises
    ------
    DataError
        Not numbers (DataTypeError, also a TypeError, for sparse input or objects that are no
        numbers; complex ones), not 2-D, empty, too few rows, or a NaN/inf (naming its row
        and column, from 0).
    """
    if hasattr(X, "tocsr"):  # scipy.sparse, without importing scipy
        raise DataTypeError(
            f"Sparse data was passed for {name}, but dense data is required: use "
            f"{name}.toarray() to convert it to a dense numpy array"
        )
    try:
        array = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} is not a numeric array ({exc})") from None
    dtype = work_dtype(array, name)  # DataError for complex numbers
    if array.dtype.kind not in "biufO":
        raise DataError(f"{name} is not a numeric array (it holds {array.dtype} values)")
    try:
        array = array.astype(dtype, copy=False)
    except TypeError as exc:  # an object that is no number at all, a TypeError as scikit-learn's
        raise DataTypeError(f"{name} is not a numeric array ({exc})") from None
    except ValueError as exc:
        raise DataError(f"{name} is not a numeric array ({exc})") from None
    if column and array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        hint = (
            f"; Reshape your data: {name}.reshape(-1, 1) if it has a single feature, "
            f"{name}.reshape(1, -1) if it is a single sample"
            if array.ndim == 1
            else ""
        )
        raise DataError(
            f"{name} must be a 2-D array (samples x features), got shape {array.shape}{hint}"
        )
    n_rows, n_columns = array.shape
    if n_columns < 1 or n_rows < min_samples:
        what, found, needed = (
            ("feature", n_columns, 1) if n_columns < 1 else ("sample", n_rows, min_samples)
        )
        raise DataError(
            f"Found array with {found} {what}(s) (shape={array.shape}) while a minimum of "
            f"{needed} is required; {name} has too few {what}s"
        )
    # min/max first: no (N, D) temporary for good (or mapped) data; with allow_nan, fmin/fmax
    # pass over NaN (missing cells) and only an infinity is refused
    low, high = (np.fmin, np.fmax) if allow_nan else (np.minimum, np.maximum)
    if (
        scan
        and array.size
        and not (
            np.isfinite(low.reduce(array, axis=None)) and np.isfinite(high.reduce(array, axis=None))
        )
    ):
        bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            value = array[row, col]
            raise DataError(
                f"{name} has a non-finite value {value} at row {row}, column {col} (input "
                f"contains {'NaN' if np.isnan(value) else 'infinity'})"
            )
    if fitting:
        check_magnitude(array)
    if copy:
        array = np.array(array, order="C", copy=True)
        array.flags.writeable = False
    return array


class ParameterError(ValueError):
    """A mixture parameter that is not valid.

    Attributes: ``name`` (weights, means, covariances or precisions), ``index`` (e.g. ``[2]``,
    ``[1][0]`` or empty), ``field`` (name + index), ``problem`` (what is wrong) and ``sklearn``
    (scikit-learn's estimator's sentence for it, ``{name}`` standing for the parameter's name
    there, or empty when scikit-learn has none).
    """

    def __init__(self, name: str, problem: str, index: str = "", sklearn: str = "") -> None:
        super().__init__(f"{name}{index}: {problem}")
        self.name, self.index, self.problem, self.sklearn = name, index, problem, sklearn
        self.field = name + index


def _float_array(value: Any, name: str) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(name, "must be an array of numbers") from None
    if not np.all(np.isfinite(array)):
        raise ParameterError(name, "must not contain NaN or infinity")
    return array


def _check_shape(array: np.ndarray, shape: tuple[int, ...], name: str) -> None:
    if array.shape != shape:
        raise ParameterError(
            name,
            f"must have shape {shape}, got {array.shape}",
            sklearn=f"The parameter '{{name}}' should have the shape of {shape}, but got "
            f"{array.shape}",
        )


def _check_weights(weights: np.ndarray) -> None:
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        i = int(negative[0])
        raise ParameterError("weights", f"must not be negative, got {weights[i]}", f"[{i}]")
    if abs(weights.sum() - 1.0) > _WEIGHT_SUM_TOL:
        total = float(weights.sum())
        raise ParameterError(
            "weights",
            f"must sum to 1, they sum to {total:.10g}",
            sklearn="The parameter '{name}' should be normalized, but got sum(weights) = "
            f"{total:.5f}",
        )


def _check_positive_definite(values: np.ndarray, covariance_type: str, name: str) -> None:
    """Symmetric positive definite matrices (full, tied) or positive values (diag, spherical),
    whose inverse is a float64."""
    if covariance_type in ("diag", "spherical"):
        bad = np.argwhere(values < _MIN_VARIANCE)
        if bad.size:
            index = "".join(f"[{i}]" for i in bad[0])
            value = values[tuple(bad[0])]
            noun = "a variance" if name == "covariances" else "a precision"
            if value <= 0:
                problem = f"{noun} must be > 0, got {value}"
            else:
                problem = f"{noun} must be at least 2.2e-308 (its inverse must be a float64)"
            sklearn = "'{name}' should be positive" if name == "precisions" else ""
            raise ParameterError(name, problem, index, sklearn)
        return
    matrices = values[None] if covariance_type == "tied" else values
    sklearn = "'{name}' should be symmetric, positive-definite" if name == "precisions" else ""
    for k, matrix in enumerate(matrices):
        index = "" if covariance_type == "tied" else f"[{k}]"
        scale = max(float(np.max(np.abs(matrix))), _MIN_VARIANCE)
        if np.max(np.abs(matrix - matrix.T)) > _SYMMETRY_TOL * scale:
            raise ParameterError(name, "the matrix is not symmetric", index, sklearn)
        try:
            np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            raise ParameterError(
                name, "the matrix is not positive definite", index, sklearn
            ) from None
        try:
            compute_precision_cholesky(matrix, "tied")
        except ValueError:
            raise ParameterError(
                name, "the matrix is so close to singular that its inverse overflows float64", index
            ) from None


def check_parameters(
    covariance_type: str,
    n_components: int | None = None,
    n_features: int | None = None,
    *,
    weights: Any = None,
    means: Any = None,
    covariances: Any = None,
    precisions: Any = None,
) -> dict[str, np.ndarray]:
    """Check the given mixture parameters; return them as float64 arrays by name.

    Parameters
    ----------
    covariance_type : one of COVARIANCE_TYPES
    n_components, n_features : K and D; None takes K from ``weights`` and D from ``means``
    weights : (K,), >= 0, summing to 1 (within 1e-6)
    means : (K, D)
    covariances, precisions : full (K, D, D), tied (D, D), diag (K, D), spherical (K,);
        symmetric positive definite matrices or positive values, whose inverse is a float64

    Raises
    ------
    ParameterError
        The first problem, naming the field: not numbers, a wrong shape, NaN/inf, a negative
        weight, weights not summing to 1, a matrix that is not symmetric positive definite.
    """
    given = {
        "weights": weights,
        "means": means,
        "covariances": covariances,
        "precisions": precisions,
    }
    checked = {
        name: _float_array(value, name) for name, value in given.items() if value is not None
    }
    if "weights" in checked:
        if n_components is None:
            if checked["weights"].ndim != 1 or checked["weights"].size < 1:
                raise ParameterError(
                    "weights", f"must have shape (K,), K >= 1, got {checked['weights'].shape}"
                )
            n_components = checked["weights"].size
        _check_shape(checked["weights"], (n_components,), "weights")
        _check_weights(checked["weights"])
    if "means" in checked:
        if n_features is None:
            if checked["means"].ndim != 2:
                raise ParameterError(
                    "means", f"must have shape (K, D), got {checked['means'].shape}"
                )
            n_features = checked["means"].shape[1]
        _check_shape(checked["means"], (n_components, n_features), "means")
    for name in ("covariances", "precisions"):
        if name in checked:
            shape = covariance_shape(covariance_type, n_components, n_features)
            _check_shape(checked[name], shape, name)
            _check_positive_definite(checked[name], covariance_type, name)
    return checked


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """Frequency weights of the rows: None stays None (every row counts once).

    Parameters
    ----------
    sample_weight : None or (N,) numbers >= 0, not all zero; integer weights count a row as that
        many copies of it (zero: the row is left out)
    n_samples : N

    Returns
    -------
    (N,) float64 or None

    Raises
    ------
    DataError
        Not a 1-D array of N numbers, or all weights zero; RowError (with the row) for a negative,
        NaN or infinite weight.
    """
    if sample_weight is None:
        return None
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"sample_weight must be numbers: {exc}") from None
    if weights.shape != (n_samples,):
        raise DataError(
            f"sample_weight has shape {weights.shape}, expected ({n_samples},): one weight per row"
        )
    for bad, problem in (
        (np.isnan(weights), "sample weight is NaN"),
        (np.isinf(weights), "sample weight is infinite"),
        (weights < 0.0, "sample weight is negative"),
    ):
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise RowError(f"{problem} ({float(weights[row]):g})", row)
    if not weights.any():
        raise DataError("sample weights are all zero: there is nothing to fit")
    return weights
