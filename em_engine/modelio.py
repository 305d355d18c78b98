"""Model files: a fitted Gaussian mixture as JSON, written atomically and validated on loading.

Format ``em-explorer-gmm`` version 1 (JSON Schema: ``resources/model.schema.json``)::

    {"format": "em-explorer-gmm", "version": 1, "covariance_type": "full", "n_components": K,
     "n_features": D, "feature_names": [D names], "weights": [K], "means": [K][D],
     "covariances": scikit-learn's shape for the type (full [K][D][D], tied [D][D], diag [K][D],
     spherical [K]),
     "fit": {"log_likelihood", "bic", "aic", "n_iter", "converged", "tol", "reg_covar", "init",
             "seed", "prior", "n_samples"},
     "created": ISO 8601 UTC time, "app_version": em_engine.__version__}

Floats are written with Python's shortest round-trip representation, so loading gives back the
very same float64 values. Loading parses with ``json`` only (nothing is ever executed), checks every
field and raises one ``ModelFileError`` naming the file and the field.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from em_engine._version import __version__
from em_engine.checks import ParameterError, check_data, check_parameters, is_dask_collection
from em_engine.covariance import COVARIANCE_TYPES, covariance_shape
from em_engine.data import write_csv, write_text_atomic
from em_engine.errors import ModelFileError
from em_engine.init import INIT_METHODS

if TYPE_CHECKING:
    from em_engine.mixture import GaussianMixture, Scores

__all__ = [
    "FIT_FIELDS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "load_model",
    "model_document",
    "save_model",
    "scores_details",
    "write_assignments",
]

FORMAT_NAME = "em-explorer-gmm"
FORMAT_VERSION = 1
FIT_FIELDS = (
    "log_likelihood",
    "bic",
    "aic",
    "n_iter",
    "converged",
    "tol",
    "reg_covar",
    "init",
    "seed",
    "prior",
    "n_samples",
)
_TOP_FIELDS = (
    "format",
    "version",
    "covariance_type",
    "n_components",
    "n_features",
    "feature_names",
    "weights",
    "means",
    "covariances",
    "fit",
    "created",
    "app_version",
)
_MAX_DIGITS = 4000  # below Python's int-from-text limit (4300 digits), which raises ValueError
_MAX_INT = 2**63 - 1  # counts, iterations, versions: anything larger is not a real value
_MAX_FLOAT = float(np.finfo(np.float64).max)
_MAX_SEED = 2**32 - 1  # numpy's RandomState seeds


# --- writing -------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Numbers, arrays, priors and mappings as plain JSON values (floats stay exact)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "to_dict"):  # a Prior
        value = value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    raise TypeError(f"cannot write a {type(value).__name__} to a model file")


def _fit_details(model: Any, X: np.ndarray | None) -> dict[str, Any]:
    """The "fit" object: from the estimator (a loaded model keeps its file's details), then, if X
    is given, its scores on X."""
    seed = getattr(model, "random_state", None)
    prior = getattr(model, "prior_", None)
    if prior is None and getattr(model, "prior", None) is True:
        prior = True
    details: dict[str, Any] = {
        "log_likelihood": None,
        "bic": None,
        "aic": None,
        "n_iter": getattr(model, "n_iter_", None),
        "converged": getattr(model, "converged_", None),
        "tol": model.tol,
        "reg_covar": model.reg_covar,
        "init": getattr(model, "init_params", None),
        "seed": seed if isinstance(seed, (int, np.integer)) else None,
        "prior": prior,
        "n_samples": None,
    }
    loaded = getattr(model, "fit_details_", None)
    if isinstance(loaded, Mapping):
        details.update({key: loaded[key] for key in FIT_FIELDS if key in loaded})
    if X is not None:
        if not is_dask_collection(X):  # a dask X is scored on its cluster
            allow_nan = getattr(model, "missing", "error") != "error"  # missing cells: marginal
            X = check_data(X, column=True, allow_nan=allow_nan)
        details.update(scores_details(model.scores(X)))
    return details


def _whole(n: float) -> float:
    """A count as an int when it is whole (a weighted fit's total weight may not be)."""
    return int(n) if float(n).is_integer() else float(n)


def scores_details(scores: Scores) -> dict[str, Any]:
    """The "fit" fields that a model's scores on its data fill in."""
    return {
        "log_likelihood": scores.log_likelihood,
        "bic": scores.bic,
        "aic": scores.aic,
        "n_samples": _whole(scores.n_samples),
    }


def model_document(
    model: Any,
    *,
    feature_names: list[str] | tuple[str, ...] | None = None,
    X: np.ndarray | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document ``save_model`` writes (a dict of plain JSON values)."""
    if not hasattr(model, "weights_"):
        raise ValueError("the model is not fitted: fit it before saving")
    means = np.asarray(model.means_, dtype=np.float64)
    n_components, n_features = means.shape
    if feature_names is None:
        fitted = getattr(model, "feature_names_in_", None)  # a fit on a DataFrame
        feature_names = getattr(model, "feature_names_", None) or (
            [f"x{j + 1}" for j in range(n_features)] if fitted is None else list(fitted)
        )
    names = [str(name) for name in feature_names]
    if len(names) != n_features:
        raise ValueError(f"{len(names)} feature names given for a model of {n_features} features")
    fit = _fit_details(model, X)
    if details:
        unknown = sorted(set(details) - set(FIT_FIELDS))
        if unknown:
            raise ValueError(f"unknown fit detail(s) {', '.join(unknown)}; known: {FIT_FIELDS}")
        fit.update(details)
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "covariance_type": model.covariance_type,
        "n_components": int(n_components),
        "n_features": int(n_features),
        "feature_names": names,
        "weights": np.asarray(model.weights_, dtype=np.float64),
        "means": means,
        "covariances": np.asarray(model.covariances_, dtype=np.float64),
        "fit": fit,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "app_version": __version__,
    }
    return _jsonable(document)


def _format(value: Any, indent: str = "") -> str:
    """JSON text with objects and nested lists over several lines, lists of scalars on one."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_format(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        items = [inner + _format(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value, allow_nan=False, ensure_ascii=False)


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    feature_names: list[str] | tuple[str, ...] | None = None,
    X: np.ndarray | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Write a fitted mixture to a JSON model file, atomically (temporary file, then rename).

    Parameters
    ----------
    model : fitted GaussianMixture
        Anything with ``weights_`` (K,), ``means_`` (K, D), ``covariances_`` (type shape),
        ``covariance_type``, ``tol`` and ``reg_covar`` (and ``score``, ``bic``, ``aic`` if X is
        given).
    path : str or path-like
    feature_names : sequence of D str, optional
        Default: ``model.feature_names_`` if set (a loaded model), else
        ``model.feature_names_in_`` (a fit on data with column names), else ``x1 .. xD``.
    X : ndarray of shape (N, D), optional
        Data the model was fitted to: fills log_likelihood (summed over samples), bic, aic and
        n_samples in "fit".
    details : mapping, optional
        Values for "fit" fields (keys from ``FIT_FIELDS``) that override those taken from the model,
        e.g. ``{"seed": 3, "init": "kmeans"}`` for a model built from a GUI session.

    Raises
    ------
    ValueError
        If the model is not fitted, feature_names has the wrong length, a detail is unknown, or a
        value is not finite.
    """
    document = model_document(model, feature_names=feature_names, X=X, details=details)
    try:
        text = _format(document) + "\n"
    except ValueError:
        raise ValueError("the model has a NaN or infinite value; it cannot be saved") from None
    write_text_atomic(path, text)


# --- reading and validation ----------------------------------------------------------------------


class _TooLarge:
    """A JSON number beyond float64 (or a whole number of more than ``_MAX_DIGITS`` digits), kept
    as its text so that the field check can name the field; Python would raise on converting it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        digits = sum(c.isdigit() for c in self.text)
        return self.text if len(self.text) <= 24 else f"{self.text[:20]}... ({digits} digits)"


def _parse_int(text: str) -> int | _TooLarge:
    return int(text) if len(text) <= _MAX_DIGITS else _TooLarge(text)


def _parse_float(text: str) -> float | _TooLarge:
    value = float(text)
    return value if math.isfinite(value) else _TooLarge(text)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, _TooLarge)) and not isinstance(value, bool)


class _Checker:
    """Field checks for one file; every failure is a ModelFileError naming the file and field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, problem: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: field '{field}': {problem}")

    def get(self, obj: Mapping[str, Any], key: str, prefix: str = "") -> Any:
        if key not in obj:
            raise ModelFileError(f"{self.path}: missing field '{prefix}{key}'")
        return obj[key]

    def integer(
        self, value: Any, field: str, minimum: int | None = None, maximum: int = _MAX_INT
    ) -> int:
        if not _is_number(value) or isinstance(value, float):
            raise self.fail(field, f"expected an integer, got {_show(value)}")
        if isinstance(value, _TooLarge) or value > maximum:
            raise self.fail(field, f"must be at most {maximum}, got {_show(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(field, f"must be at least {minimum}, got {_show(value)}")
        return value

    def number(self, value: Any, field: str, minimum: float | None = None) -> float:
        """A finite number (an integer too large for float64 is refused, not rounded to inf)."""
        if not _is_number(value):
            raise self.fail(field, f"expected a number, got {_show(value)}")
        if isinstance(value, _TooLarge) or (isinstance(value, int) and abs(value) > _MAX_FLOAT):
            raise self.fail(field, f"the number {_show(value)} is too large for a float64")
        if not math.isfinite(value):
            raise self.fail(field, f"must be a finite number, got {value}")
        if minimum is not None and value < minimum:
            raise self.fail(field, f"must be at least {minimum}, got {value}")
        return float(value)

    def array(self, value: Any, field: str, shape: tuple[int, ...]) -> np.ndarray:
        """A nested list of finite numbers with exactly this shape, as float64."""
        self._check_nested(value, field, shape)
        return np.array(value, dtype=np.float64)

    def _check_nested(self, value: Any, field: str, shape: tuple[int, ...]) -> None:
        if not shape:
            self.number(value, field)
            return
        if not isinstance(value, list):
            raise self.fail(field, f"expected a list of {shape[0]}, got {_show(value)}")
        if len(value) != shape[0]:
            raise self.fail(field, f"expected {shape[0]} entries, got {len(value)}")
        for i, item in enumerate(value):
            self._check_nested(item, f"{field}[{i}]", shape[1:])


def _show(value: Any) -> str:
    """A short description of a JSON value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, _TooLarge):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else f"a list of {len(value)}"
    if isinstance(value, int) and abs(value) >= 10**24:
        digits = len(str(abs(value)))
        return f"{str(value)[:20]}... ({digits} digits)"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_fit(check: _Checker, fit: Any) -> dict[str, Any]:
    if not isinstance(fit, dict):
        raise check.fail("fit", f"expected an object, got {_show(fit)}")
    out: dict[str, Any] = {}
    for key in FIT_FIELDS:
        value = check.get(fit, key, "fit.")
        field = f"fit.{key}"
        if value is None and key not in ("tol", "reg_covar"):
            out[key] = None
        elif key in ("log_likelihood", "bic", "aic"):
            out[key] = check.number(value, field)
        elif key in ("tol", "reg_covar"):
            out[key] = check.number(value, field, minimum=0.0)
        elif key == "n_iter":
            out[key] = check.integer(value, field, minimum=0)
        elif key == "n_samples":  # rows, or a weighted fit's total weight (maybe fractional)
            number = check.number(value, field)
            if not number > 0:
                raise check.fail(field, f"must be more than 0, got {_show(value)}")
            out[key] = int(number) if number.is_integer() else number
        elif key == "seed":
            out[key] = check.integer(value, field, minimum=0, maximum=_MAX_SEED)
        elif key == "converged":
            if not isinstance(value, bool):
                raise check.fail(field, f"expected true or false, got {_show(value)}")
            out[key] = value
        elif key == "init":
            if not isinstance(value, str):
                raise check.fail(field, f"expected a string, got {_show(value)}")
            out[key] = value
        elif isinstance(value, dict):  # prior
            out[key] = _check_prior(check, value)
        else:
            if not isinstance(value, bool):
                raise check.fail(
                    field, f"expected null, true, false or an object, got {_show(value)}"
                )
            out[key] = value
    return out


def _check_prior(check: _Checker, prior: dict[str, Any]) -> dict[str, Any]:
    """fit.prior as an object: the numbers checked field by field (Prior.to_dict's layout)."""
    mean = check.get(prior, "mean_prior", "fit.prior.")
    if not isinstance(mean, list):
        raise check.fail("fit.prior.mean_prior", f"expected a list, got {_show(mean)}")
    d = len(mean)
    out = {
        key: check.number(check.get(prior, key, "fit.prior."), f"fit.prior.{key}")
        for key in ("weight_concentration", "mean_precision", "dof")
    }
    out["mean_prior"] = check.array(mean, "fit.prior.mean_prior", (d,)).tolist()
    scale = check.get(prior, "scale", "fit.prior.")
    out["scale"] = check.array(scale, "fit.prior.scale", (d, d)).tolist()
    return out


def _read_document(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a model file (not UTF-8 text)") from None
    try:
        # NaN/Infinity literals become floats here and are rejected by the field checks, which
        # can name the field.
        document = json.loads(
            text, parse_constant=float, parse_int=_parse_int, parse_float=_parse_float
        )
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise ModelFileError(f"{path}: not valid JSON (nested too deeply)") from None
    if not isinstance(document, dict):
        raise ModelFileError(f"{path}: not a model file (expected a JSON object at the top level)")
    return document


def _prior_argument(prior: Any) -> Any:
    """The estimator's ``prior`` argument from the file's fit.prior (null, bool or an object)."""
    if not isinstance(prior, dict):
        return prior or None
    from em_engine.prior import Prior

    return Prior.from_dict(prior)


def load_model(path: str | os.PathLike[str]) -> GaussianMixture:
    """Read and validate a JSON model file.

    Returns
    -------
    GaussianMixture
        Fitted (``weights_`` (K,), ``means_`` (K, D), ``covariances_`` in the type's shape, and the
        precisions), with ``feature_names_`` (tuple of D str) and ``fit_details_`` (dict: the
        file's "fit" object, plus "created" and "app_version").

    Raises
    ------
    ModelFileError
        Naming the file and the field: not JSON, wrong format name or version, a missing field, a
        wrong type or shape, NaN/inf, weights negative or not summing to 1, covariances not
        symmetric positive definite, feature_names of the wrong length.
    """
    path = Path(path)
    doc = _read_document(path)
    check = _Checker(path)
    fmt = check.get(doc, "format")
    if fmt != FORMAT_NAME:
        raise check.fail("format", f"expected {FORMAT_NAME!r}, got {_show(fmt)} (not a model file)")
    version = check.integer(check.get(doc, "version"), "version", minimum=1)
    if version != FORMAT_VERSION:
        raise check.fail(
            "version",
            f"version {version} is not supported (this is EM Explorer {__version__}, which reads "
            f"version {FORMAT_VERSION}; a newer EM Explorer may read it)",
        )
    for key in _TOP_FIELDS:
        check.get(doc, key)
    cov_type = doc["covariance_type"]
    if cov_type not in COVARIANCE_TYPES:
        raise check.fail(
            "covariance_type", f"expected one of {COVARIANCE_TYPES}, got {_show(cov_type)}"
        )
    k = check.integer(doc["n_components"], "n_components", minimum=1)
    d = check.integer(doc["n_features"], "n_features", minimum=1)
    names = doc["feature_names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise check.fail("feature_names", f"expected a list of strings, got {_show(names)}")
    if len(names) != d:
        raise check.fail("feature_names", f"expected {d} names (n_features), got {len(names)}")
    if len(set(names)) != len(names):
        raise check.fail("feature_names", "the names must differ from each other")
    weights = check.array(doc["weights"], "weights", (k,))
    means = check.array(doc["means"], "means", (k, d))
    covariances = check.array(doc["covariances"], "covariances", covariance_shape(cov_type, k, d))
    try:
        check_parameters(cov_type, k, d, weights=weights, means=means, covariances=covariances)
    except ParameterError as exc:
        raise check.fail(exc.field, exc.problem) from None
    fit = _check_fit(check, doc["fit"])
    created = doc["created"]
    try:
        datetime.fromisoformat(created)
    except (TypeError, ValueError):
        raise check.fail(
            "created", f"expected an ISO 8601 date and time, got {_show(created)}"
        ) from None
    if not isinstance(doc["app_version"], str):
        raise check.fail("app_version", f"expected a string, got {_show(doc['app_version'])}")

    from em_engine.mixture import GaussianMixture

    params: dict[str, Any] = {"tol": fit["tol"], "reg_covar": fit["reg_covar"]}
    if fit["init"] in INIT_METHODS:
        params["init_params"] = fit["init"]
    if fit["seed"] is not None:
        params["random_state"] = fit["seed"]
    try:
        params["prior"] = _prior_argument(fit["prior"])
    except ValueError as exc:
        raise check.fail("fit.prior", str(exc)) from None
    try:
        model = GaussianMixture.from_parameters(weights, means, covariances, cov_type, **params)
    except ValueError as exc:
        raise ModelFileError(f"{path}: the model cannot be rebuilt: {exc}") from None
    model.feature_names_ = tuple(names)
    model.fit_details_ = {**fit, "created": created, "app_version": doc["app_version"]}
    return model


def write_assignments(
    path: str | os.PathLike[str] | None,
    model: GaussianMixture,
    X: np.ndarray,
    rows: Sequence[int] | None = None,
) -> str:
    """Per-row assignments of X under a fitted model, as CSV text (written atomically to path).

    Columns: row (``rows``, (N,): each data row's row in its file, as messages number rows;
    default 1..N), label (the component, from 1: component k is the k-th in the model file, as
    the window numbers them; the Python API's labels are 0-based), confidence (its
    responsibility), log_density (log p(x)), resp_1 .. resp_K. X : (N, D). Used by the GUI and
    ``score``.
    """
    log_density, resp = model.score_samples_and_proba(X)
    numbers = np.arange(1, len(resp) + 1) if rows is None else np.asarray(rows, dtype=np.int64)
    if numbers.shape != (len(resp),):
        raise ValueError(f"{len(numbers)} row numbers for {len(resp)} rows")
    table = np.column_stack([numbers, resp.argmax(axis=1) + 1, resp.max(axis=1), log_density, resp])
    header = [
        "row",
        "label",
        "confidence",
        "log_density",
        *(f"resp_{k + 1}" for k in range(resp.shape[1])),
    ]
    return write_csv(path, table, header, fmt=["%d", "%d"] + ["%.17g"] * (table.shape[1] - 2))
