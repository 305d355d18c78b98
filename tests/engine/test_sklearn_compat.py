"""em_engine.GaussianMixture as a drop-in for scikit-learn's: scikit-learn's own test file run
against it (only the import swapped), its estimator checks, and its machinery around an estimator
(Pipeline, GridSearchCV, cross_val_score, exceptions and warnings)."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import sklearn.exceptions
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from em_engine import ConvergenceWarning, GaussianMixture, NotFittedError, save_model

SKLEARN_IMPORT = "from sklearn.mixture import GaussianMixture\n"
OUR_IMPORT = "from em_engine import GaussianMixture\n"

# scikit-learn's tests that cannot apply to another class, deselected by test id prefix:
INAPPLICABLE = (
    # Calls scikit-learn's private GaussianMixture._initialize(X, resp).
    "test_gaussian_mixture_precisions_init[",
    # Monkeypatches sklearn.mixture._gaussian_mixture._estimate_gaussian_parameters and counts
    # its calls: our M-step is em_engine's, not that function.
    "test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters[",
    # Expects "should be in the range [0, 1], but got max value <min>, min value <max>":
    # scikit-learn's message swaps max and min; ours names the weight at fault instead (its
    # shape and normalisation messages, which the same test checks, are matched).
    "test_check_weights",
)


def _swapped_test_file(tmp_path: Path) -> Path:
    spec = importlib.util.find_spec("sklearn.mixture.tests.test_gaussian_mixture")
    assert spec is not None and spec.origin is not None
    text = Path(spec.origin).read_text(encoding="utf-8")
    assert text.count(SKLEARN_IMPORT) == 1
    path = tmp_path / "test_sklearn_gaussian_mixture.py"
    path.write_text(text.replace(SKLEARN_IMPORT, OUR_IMPORT), encoding="utf-8")
    return path


@pytest.mark.parametrize("float32", [False, True], ids=["float64", "float64+float32"])
def test_sklearn_own_test_file_passes(tmp_path: Path, float32: bool) -> None:
    """scikit-learn's sklearn/mixture/tests/test_gaussian_mixture.py with only its import of
    GaussianMixture swapped for ours passes (its array-API tests skip themselves without
    torch/cupy/array_api_strict, as they do for scikit-learn's own class)."""
    path = _swapped_test_file(tmp_path)
    env = {**os.environ, "SKLEARN_RUN_FLOAT32_TESTS": "1" if float32 else "0"}
    deselect = [arg for prefix in INAPPLICABLE for arg in ("--deselect", f"{path.name}::{prefix}")]
    options = ["-q", "-p", "sklearn.conftest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *options, *deselect, str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= (67 if float32 else 50), summary  # scikit-learn 1.9.1: exactly these
    assert "10 deselected" in summary, summary  # the float32 ones too, skipped or not
    assert "failed" not in summary and "error" not in summary, summary


def test_check_estimator() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        warnings.simplefilter("ignore", sklearn.exceptions.SkipTestWarning)  # array API: no torch
        # By design: inheriting BaseEstimator would import scikit-learn with em_engine.
        warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn.base")
        check_estimator(GaussianMixture())


def _blobs() -> np.ndarray:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(loc, 1.0, size=(60, 2)) for loc in (0.0, 6.0, 12.0)])
    return rng.permutation(X)  # every cross-validation fold sees every blob


def test_pipeline_gridsearch_and_cross_val_score() -> None:
    X = _blobs()
    pipeline = make_pipeline(StandardScaler(), GaussianMixture(random_state=0))
    labels = pipeline.fit(X).predict(X)
    assert labels.shape == (180,)
    search = GridSearchCV(
        GaussianMixture(random_state=0),
        {"n_components": [1, 2, 3], "covariance_type": ["full", "spherical"]},
        cv=3,
    ).fit(X)
    assert search.best_params_["n_components"] == 3
    nested = GridSearchCV(pipeline, {"gaussianmixture__n_components": [1, 3]}, cv=3).fit(X)
    assert nested.best_params_ == {"gaussianmixture__n_components": 3}
    scores = cross_val_score(GaussianMixture(3, random_state=0), X, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


def test_sklearn_exceptions_and_warnings_catch_ours() -> None:
    """With scikit-learn imported, ours are subclasses of its classes (and still ours)."""
    X = _blobs()
    with pytest.raises(sklearn.exceptions.NotFittedError) as info:
        GaussianMixture().predict(X)
    assert isinstance(info.value, NotFittedError)
    copy = pickle.loads(pickle.dumps(info.value))
    assert isinstance(copy, sklearn.exceptions.NotFittedError) and str(copy) == str(info.value)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning) as record:
        GaussianMixture(3, max_iter=1, random_state=0).fit(X)
    assert all(issubclass(w.category, ConvergenceWarning) for w in record)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=sklearn.exceptions.ConvergenceWarning)
        GaussianMixture(3, max_iter=1, random_state=0).fit(X)


class _Frame:
    """A table with column names, as a pandas DataFrame (pandas is not needed)."""

    def __init__(self, X: np.ndarray, columns: list[object]) -> None:
        self._X, self.columns = X, columns

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return np.asarray(self._X, dtype=dtype)


def test_feature_names_in_as_sklearn_and_into_the_model_file(tmp_path: Path) -> None:
    X = _blobs()
    model = GaussianMixture(3, random_state=0)
    labels = model.fit_predict(_Frame(X, ["price", "area"]))
    assert list(model.feature_names_in_) == ["price", "area"] and model.n_features_in_ == 2
    np.testing.assert_array_equal(model.predict(_Frame(X, ["price", "area"])), labels)
    with pytest.raises(ValueError, match=r"feature names should match .* got \['area', 'price'\]"):
        model.predict(_Frame(X, ["area", "price"]))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.score_samples(X)
    save_model(model, tmp_path / "model.json")
    document = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    assert document["feature_names"] == ["price", "area"]
    with pytest.raises(TypeError, match=r"\['int', 'str'\] as feature name"):
        GaussianMixture().fit(_Frame(X, ["price", 2]))
    model.fit(_Frame(X, [0, 1]))  # names that are not strings are no feature names
    assert not hasattr(model, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but GaussianMixture was fitted"):
        model.predict(_Frame(X, ["price", "area"]))


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        (np.ones((5, 2), dtype=complex), ValueError, "Complex data not supported"),
        (scipy.sparse.csr_matrix(np.ones((5, 2))), TypeError, "Sparse data was passed for X"),
        (np.array([[{"a": 1}, 1.0]] * 5, dtype=object), TypeError, "argument must be a string"),
        (np.ones(5), ValueError, "Reshape your data"),
        (np.ones((5, 0)), ValueError, r"0 feature\(s\) \(shape=\(5, 0\)\) while a minimum of 1"),
        (np.ones((1, 2)), ValueError, r"1 sample\(s\) \(shape=\(1, 2\)\) while a minimum of 2"),
        ([[np.nan, 1.0]] * 5, ValueError, r"NaN"),
    ],
)
def test_input_errors_as_sklearn(X: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        GaussianMixture().fit(X)
    with pytest.raises(error, match=match):  # scikit-learn raises the same
        SklearnGaussianMixture().fit(X)
