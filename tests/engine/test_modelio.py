"""Model files (em_engine.modelio): exact round trip, schema, one clear error per malformed file."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from em_engine import __version__
from em_engine._resources import resource_path
from em_engine.errors import ModelFileError
from em_engine.mixture import GaussianMixture
from em_engine.modelio import FIT_FIELDS, load_model, model_document, save_model
from em_engine.synthetic import make_preset

TYPES = ("full", "tied", "diag", "spherical")


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    return make_preset("blobs", 300, seed=2).X


@pytest.fixture(scope="module")
def fitted(blobs: np.ndarray) -> dict[str, GaussianMixture]:
    return {
        t: GaussianMixture(n_components=3, covariance_type=t, random_state=5).fit(blobs)
        for t in TYPES
    }


def good_document(fitted: dict[str, GaussianMixture], blobs: np.ndarray) -> dict[str, Any]:
    return model_document(fitted["full"], feature_names=["x", "y"], X=blobs)


def write_json(tmp_path: Path, document: Any, name: str = "m.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


# --- round trip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cov_type", TYPES)
def test_round_trip_is_exact(
    tmp_path: Path, fitted: dict[str, GaussianMixture], blobs: np.ndarray, cov_type: str
) -> None:
    model = fitted[cov_type]
    path = tmp_path / "model.json"
    save_model(model, path, feature_names=("x", "y"), X=blobs)
    loaded = load_model(path)
    assert loaded.covariance_type == cov_type
    np.testing.assert_array_equal(loaded.weights_, model.weights_)
    np.testing.assert_array_equal(loaded.means_, model.means_)
    np.testing.assert_array_equal(loaded.covariances_, model.covariances_)
    np.testing.assert_allclose(loaded.precisions_cholesky_, model.precisions_cholesky_, rtol=1e-12)
    np.testing.assert_array_equal(loaded.predict(blobs), model.predict(blobs))
    np.testing.assert_allclose(loaded.score_samples(blobs), model.score_samples(blobs), rtol=1e-12)
    assert loaded.feature_names_ == ("x", "y")
    details = loaded.fit_details_
    assert details["n_samples"] == 300
    assert details["bic"] == model.bic(blobs) and details["aic"] == model.aic(blobs)
    assert math.isclose(details["log_likelihood"], model.score(blobs) * 300, rel_tol=1e-15)
    assert details["n_iter"] == model.n_iter_ and details["converged"] == model.converged_
    assert details["tol"] == model.tol and details["reg_covar"] == model.reg_covar
    assert details["init"] == "kmeans" and details["seed"] == 5 and details["prior"] is None
    assert details["app_version"] == __version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", details["created"])
    # Saving the loaded model again gives the same parameters, byte for byte.
    save_model(loaded, tmp_path / "again.json")
    first, second = (json.loads((tmp_path / n).read_text()) for n in ("model.json", "again.json"))
    for key in ("weights", "means", "covariances", "feature_names", "covariance_type"):
        assert first[key] == second[key]


def test_from_parameters_without_data_has_null_scores(tmp_path: Path) -> None:
    model = GaussianMixture.from_parameters(
        [0.25, 0.75], [[0.0], [3.0]], [[[1.0]], [[2.0]]], covariance_type="full"
    )
    save_model(model, tmp_path / "m.json", details={"init": "user", "seed": None})
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["feature_names"] == ["x1"]
    assert doc["n_components"] == 2 and doc["n_features"] == 1
    for key in ("log_likelihood", "bic", "aic", "n_samples", "seed"):
        assert doc["fit"][key] is None
    assert doc["fit"]["init"] == "user"
    loaded = load_model(tmp_path / "m.json")
    np.testing.assert_array_equal(loaded.means_, [[0.0], [3.0]])
    assert loaded.fit_details_["init"] == "user"


def test_prior_is_saved_and_restored(tmp_path: Path, blobs: np.ndarray) -> None:
    model = GaussianMixture(n_components=2, prior=True, random_state=0).fit(blobs)
    save_model(model, tmp_path / "m.json", X=blobs)
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["fit"]["prior"] not in (None, False)
    loaded = load_model(tmp_path / "m.json")
    assert loaded.fit_details_["prior"] == doc["fit"]["prior"]
    np.testing.assert_array_equal(loaded.means_, model.means_)


def test_save_rejects_bad_requests(tmp_path: Path, fitted: dict[str, GaussianMixture]) -> None:
    with pytest.raises(ValueError, match="not fitted"):
        save_model(GaussianMixture(n_components=2), tmp_path / "a.json")
    with pytest.raises(ValueError, match="3 feature names given for a model of 2 features"):
        save_model(fitted["full"], tmp_path / "a.json", feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="unknown fit detail"):
        save_model(fitted["full"], tmp_path / "a.json", details={"colour": "red"})
    broken = GaussianMixture.from_parameters([1.0], [[0.0, 0.0]], [np.eye(2)])
    broken.means_ = np.array([[np.nan, 0.0]])
    with pytest.raises(ValueError, match="NaN or infinite"):
        save_model(broken, tmp_path / "a.json")
    assert list(tmp_path.iterdir()) == []


def test_save_is_atomic(
    tmp_path: Path, fitted: dict[str, GaussianMixture], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.json"
    path.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        save_model(fitted["diag"], path)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


# --- schema --------------------------------------------------------------------------------------


def _resolve(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def schema_errors(value: Any, schema: dict, root: dict, where: str = "$") -> list[str]:
    """A small JSON Schema (2020-12 subset) validator: the keywords model.schema.json uses."""
    schema = _resolve(schema, root)
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_is_type(value, n) for n in names):
            return [f"{where}: {value!r} is not of type {types}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{where}: {value} <= {schema['exclusiveMinimum']}")
    if isinstance(value, dict):
        errors += [
            f"{where}: missing {key}" for key in schema.get("required", ()) if key not in value
        ]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors += schema_errors(value[key], sub, root, f"{where}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if schema.get("uniqueItems") and len({json.dumps(v) for v in value}) != len(value):
            errors.append(f"{where}: items not unique")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], root, f"{where}[{i}]")
    for sub in schema.get("allOf", ()):
        errors += schema_errors(value, sub, root, where)
    if "if" in schema and not schema_errors(value, schema["if"], root, where):
        errors += schema_errors(value, schema.get("then", {}), root, where)
    known = {
        "$schema", "$id", "title", "description", "type", "const", "enum", "minimum", "maximum",
        "exclusiveMinimum", "required", "properties", "items", "minItems", "uniqueItems",
        "allOf", "if", "then", "$defs", "$ref", "format",
    }  # fmt: skip
    unknown = set(schema) - known
    assert not unknown, f"the test validator does not know {unknown}"
    return errors


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(resource_path("model.schema.json").read_text(encoding="utf-8"))


def test_schema_is_draft_2020_12_and_lists_every_field(schema: dict) -> None:
    from em_engine.modelio import _TOP_FIELDS

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert tuple(schema["required"]) == _TOP_FIELDS
    assert tuple(schema["properties"]["fit"]["required"]) == FIT_FIELDS
    assert set(schema["properties"]) == set(_TOP_FIELDS)


@pytest.mark.parametrize("cov_type", TYPES)
def test_saved_files_match_the_schema(
    tmp_path: Path,
    fitted: dict[str, GaussianMixture],
    blobs: np.ndarray,
    schema: dict,
    cov_type: str,
) -> None:
    save_model(fitted[cov_type], tmp_path / "m.json", X=blobs)
    doc = json.loads((tmp_path / "m.json").read_text())
    assert schema_errors(doc, schema, schema) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("means"), "$: missing means"),
        (lambda d: d.update(version=2), "$.version: 2 != 1"),
        (lambda d: d.update(covariance_type="tied"), "$.covariances[0][0]: ["),
        (lambda d: d.update(weights=[-0.5, 0.75, 0.75]), "$.weights[0]: -0.5 < 0"),
        (lambda d: d["fit"].update(converged="yes"), "$.fit.converged: 'yes' is not of type"),
        (lambda d: d.update(feature_names=["x", "x"]), "$.feature_names: items not unique"),
    ],
)
def test_schema_rejects_broken_documents(
    fitted: dict[str, GaussianMixture], blobs: np.ndarray, schema: dict, change, expected: str
) -> None:
    doc = good_document(fitted, blobs)
    change(doc)
    errors = schema_errors(doc, schema, schema)
    assert any(e.startswith(expected) for e in errors), errors


# --- malformed files -----------------------------------------------------------------------------


def _set(path: str, value: Any):
    """A change to a document: set a (dotted) field, or delete it when value is ... ."""

    def change(doc: dict) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("format", "other"), "field 'format': expected 'em-explorer-gmm', got \"other\""),
        (_set("version", 2), "field 'version': version 2 is not supported"),
        (_set("version", "1"), "field 'version': expected an integer, got \"1\""),
        (_set("version", True), "field 'version': expected an integer, got true"),
        (_set("means", ...), "missing field 'means'"),
        (_set("fit.tol", ...), "missing field 'fit.tol'"),
        (_set("fit", []), "field 'fit': expected an object, got a list of 0"),
        (_set("covariance_type", "banana"), "field 'covariance_type': expected one of"),
        (_set("n_components", 0), "field 'n_components': must be at least 1, got 0"),
        (_set("n_features", 2.0), "field 'n_features': expected an integer, got 2.0"),
        (_set("feature_names", ["x"]), "field 'feature_names': expected 2 names (n_features)"),
        (_set("feature_names", ["x", 3]), "field 'feature_names': expected a list of strings"),
        (_set("feature_names", ["x", "x"]), "field 'feature_names': the names must differ"),
        (_set("weights", [0.5, 0.5]), "field 'weights': expected 3 entries, got 2"),
        (_set("weights", [-0.1, 0.6, 0.5]), "field 'weights[0]': must not be negative, got -0.1"),
        (_set("weights", [0.3, 0.3, 0.3]), "field 'weights': must sum to 1, they sum to 0.9"),
        (_set("weights", [0.5, "a", 0.5]), "field 'weights[1]': expected a number, got \"a\""),
        (_set("means", [[0, 0], [1, 1], [2]]), "field 'means[2]': expected 2 entries, got 1"),
        (_set("means", [[0, 0], [1, 1], 2]), "field 'means[2]': expected a list of 2, got 2"),
        (
            _set("covariances", [[[1, 0.5], [0, 1]]] * 3),
            "field 'covariances[0]': the matrix is not symmetric",
        ),
        (
            _set("covariances", [np.eye(2).tolist(), [[1, 2], [2, 1]], np.eye(2).tolist()]),
            "field 'covariances[1]': the matrix is not positive definite",
        ),
        (
            _set("fit.converged", "yes"),
            "field 'fit.converged': expected true or false, got \"yes\"",
        ),
        (_set("fit.n_iter", -1), "field 'fit.n_iter': must be at least 0, got -1"),
        (_set("fit.tol", None), "field 'fit.tol': expected a number, got null"),
        (_set("fit.prior", "strong"), "field 'fit.prior': expected null, true, false or an object"),
        (_set("created", "yesterday"), "field 'created': expected an ISO 8601 date and time"),
        (_set("app_version", 1), "field 'app_version': expected a string, got 1"),
    ],
)
def test_malformed_documents(
    tmp_path: Path, fitted: dict[str, GaussianMixture], blobs: np.ndarray, change, message: str
) -> None:
    doc = good_document(fitted, blobs)
    change(doc)
    path = write_json(tmp_path, doc)
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)


@pytest.mark.parametrize(
    ("cov_type", "covariances", "message"),
    [
        ("diag", [[1.0, 1.0], [1.0, 0.0]], "field 'covariances[1][1]': a variance must be > 0"),
        ("spherical", [1.0, -2.0], "field 'covariances[1]': a variance must be > 0, got -2.0"),
        ("tied", [[1.0, 2.0], [2.0, 1.0]], "field 'covariances': the matrix is not positive"),
        ("spherical", [[1.0], [1.0]], "field 'covariances[0]': expected a number, got a list"),
    ],
)
def test_bad_covariances_per_type(
    tmp_path: Path,
    fitted: dict[str, GaussianMixture],
    blobs: np.ndarray,
    cov_type,
    covariances,
    message,
) -> None:
    doc = good_document(fitted, blobs)
    doc.update(covariance_type=cov_type, n_components=2, weights=[0.5, 0.5], means=[[0, 0], [1, 1]])
    doc["covariances"] = covariances
    path = write_json(tmp_path, doc)
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)


@pytest.mark.parametrize(
    ("literal", "shown"), [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf")]
)
def test_nan_and_infinity_literals_are_rejected(
    tmp_path: Path, fitted: dict[str, GaussianMixture], blobs: np.ndarray, literal: str, shown: str
) -> None:
    doc = good_document(fitted, blobs)
    doc["means"][1][0] = "__HERE__"
    path = write_json(tmp_path, json.dumps(doc).replace('"__HERE__"', literal))
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert str(err.value) == f"{path}: field 'means[1][0]': must be a finite number, got {shown}"


def test_nan_in_a_fit_detail_is_rejected(
    tmp_path: Path, fitted: dict[str, GaussianMixture], blobs: np.ndarray
) -> None:
    doc = good_document(fitted, blobs)
    text = json.dumps(doc).replace(f'"bic": {json.dumps(doc["fit"]["bic"])}', '"bic": NaN')
    path = write_json(tmp_path, text)
    with pytest.raises(ModelFileError, match=r"field 'fit\.bic': must be a finite number, got nan"):
        load_model(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "not valid JSON (line 1, column 1: Expecting value)"),
        ("{'format': 1}", "not valid JSON (line 1, column 2: Expecting property name enclosed"),
        ("__import__('os').system('echo hacked')", "not valid JSON (line 1, column 1"),
        ("[1, 2]", "not a model file (expected a JSON object at the top level)"),
        ("{}", "missing field 'format'"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deeply)"),
    ],
)
def test_files_that_are_not_models(tmp_path: Path, content: str, message: str) -> None:
    path = write_json(tmp_path, content)
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "missing.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelFileError, match="not UTF-8 text"):
        load_model(tmp_path / "bin.json")


def test_model_file_error_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_model(write_json(tmp_path, "[]"))


# --- issue 8: numbers too large for float64 ------------------------------------------------------

HUGE = {400: "1" + "0" * 400, 5000: "9" * 5000}


@pytest.mark.parametrize("digits", sorted(HUGE))
@pytest.mark.parametrize(
    ("where", "field", "message"),
    [
        ("fit.tol", "fit.tol", "too large for a float64"),
        ("fit.log_likelihood", "fit.log_likelihood", "too large for a float64"),
        ("weights.0", "weights[0]", "too large for a float64"),
        ("means.1.0", "means[1][0]", "too large for a float64"),
        ("covariances.2.1.1", "covariances[2][1][1]", "too large for a float64"),
        ("fit.prior.dof", "fit.prior.dof", "too large for a float64"),
        ("fit.prior.scale.0.1", "fit.prior.scale[0][1]", "too large for a float64"),
        ("fit.seed", "fit.seed", "must be at most 4294967295"),
        ("fit.n_iter", "fit.n_iter", "must be at most"),
        ("n_components", "n_components", "must be at most"),
        ("version", "version", "must be at most"),
    ],
)
def test_huge_whole_numbers_name_the_file_and_field(
    tmp_path: Path,
    fitted: dict[str, GaussianMixture],
    blobs: np.ndarray,
    digits: int,
    where: str,
    field: str,
    message: str,
) -> None:
    doc = good_document(fitted, blobs)
    doc["fit"]["prior"] = GaussianMixture(prior=True).fit(blobs).prior_.to_dict()
    *parents, last = where.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = "__HERE__"
    path = write_json(tmp_path, json.dumps(doc).replace('"__HERE__"', HUGE[digits]))
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    text = str(err.value)
    assert text.startswith(f"{path}: field '{field}': ") and message in text, text
    assert len(text) < 200 + len(str(path))  # the number is abbreviated, not printed whole


@pytest.mark.parametrize("literal", ["1e400", "-2.5e999"])
def test_float_literals_beyond_float64_are_named(
    tmp_path: Path, fitted: dict[str, GaussianMixture], blobs: np.ndarray, literal: str
) -> None:
    doc = good_document(fitted, blobs)
    doc["means"][0][1] = "__HERE__"
    path = write_json(tmp_path, json.dumps(doc).replace('"__HERE__"', literal))
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert str(err.value) == (
        f"{path}: field 'means[0][1]': the number {literal} is too large for a float64"
    )


def test_bad_prior_values_name_the_prior(
    tmp_path: Path, fitted: dict[str, GaussianMixture], blobs: np.ndarray
) -> None:
    doc = good_document(fitted, blobs)
    doc["fit"]["prior"] = GaussianMixture(prior=True).fit(blobs).prior_.to_dict()
    doc["fit"]["prior"]["dof"] = 0.5
    with pytest.raises(ModelFileError, match=r"field 'fit\.prior': Prior dof should be"):
        load_model(write_json(tmp_path, doc))
    doc["fit"]["prior"]["mean_prior"] = "centre"
    with pytest.raises(ModelFileError, match=r"field 'fit\.prior\.mean_prior': expected a list"):
        load_model(write_json(tmp_path, doc))
