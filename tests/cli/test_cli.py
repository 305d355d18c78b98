"""The command line (em_engine.cli via main.py): fit, score, select, --version, and bad input."""

from __future__ import annotations

import argparse
import json
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from em_engine import __version__, cli
from em_engine._resources import resource_path
from em_engine.data import read_csv, write_csv
from em_engine.errors import DensityUnderflowError
from em_engine.modelio import load_model

ROOT = Path(__file__).resolve().parents[2]
BLOBS = resource_path("samples", "blobs.csv")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(status: int, out: str, err: str, *parts: str) -> None:
    assert status == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for part in parts:
        assert part in lines[0], lines[0]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "blobs.json"
    assert cli.main(["fit", str(BLOBS), "-k", "4", "--out", str(path)]) == 0
    return path


# --- fit -----------------------------------------------------------------------------------------


def test_fit_prints_a_summary_and_writes_a_loadable_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_path = tmp_path / "m.json"
    status, out, err = run(capsys, "fit", BLOBS, "--components", "4", "--out", out_path)
    assert status == 0, err
    model = load_model(out_path)
    X = read_csv(BLOBS).X
    summary = dict(line.split(": ", 1) for line in out.splitlines())
    assert float(summary["log-likelihood"].split()[0]) == pytest.approx(
        model.fit_details_["log_likelihood"], abs=1e-6
    )
    assert float(summary["BIC"]) == pytest.approx(model.bic(X), abs=1e-6)
    assert int(summary["iterations"]) == model.fit_details_["n_iter"] >= 1
    assert summary["converged"] == "yes"
    assert summary["model file"] == str(out_path)
    assert summary["data"].startswith(f"{BLOBS}: 400 rows x 2 columns (x, y)")
    assert model.feature_names_ == ("x", "y")
    assert model.fit_details_["n_samples"] == 400
    assert model.n_components == 4 and model.covariance_type == "full"


def test_fit_options_reach_the_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "id,a,b,label\n" + "".join(f"{i},{i % 7},{(i * 3) % 11},z\n" for i in range(60))
    )
    out_path = tmp_path / "m.json"
    status, out, err = run(
        capsys, "fit", path, "-k", "2", "--covariance", "diag", "--init", "k-means++",
        "--n-init", "2", "--max-iter", "50", "--tol", "1e-4", "--reg-covar", "1e-3",
        "--seed", "9", "--columns", "a,2", "--prior", "-o", out_path,
    )  # fmt: skip
    assert status == 0, err
    assert "MAP (conjugate prior)" in out
    model = load_model(out_path)
    details = model.fit_details_
    assert model.covariance_type == "diag" and model.feature_names_ == ("a", "b")
    assert details["init"] == "k-means++" and details["seed"] in (9, 10)  # the best start
    assert details["tol"] == 1e-4 and details["reg_covar"] == 1e-3
    assert details["prior"] not in (None, False)
    assert np.all(model.covariances_ >= 1e-3)


def test_fit_reports_progress_on_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_PROGRESS_INTERVAL", 0.0)
    status, out, err = run(capsys, "fit", BLOBS, "-k", "4", "--init", "random", "--tol", "0")
    assert status == 0
    lines = err.splitlines()
    assert lines and all(line.startswith("iteration ") for line in lines)
    assert not any(line.startswith("iteration ") for line in out.splitlines())


def test_fit_drop_invalid_reports_the_count(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a\n" + "".join(f"{i}\n" for i in range(20)) + "oops\nnan\n")
    status, out, err = run(capsys, "fit", path, "-k", "2", "--drop-invalid")
    assert status == 0
    assert err.splitlines() == [
        "dropped 2 invalid rows (first: row 22: column 'a' is 'oops', not a number)"
    ]
    assert "20 rows x 1 column (a)" in out


# --- score ---------------------------------------------------------------------------------------


def test_score_writes_labels_densities_and_responsibilities(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    out_path = tmp_path / "scores.csv"
    status, out, err = run(capsys, "score", model_file, BLOBS, "--out", out_path)
    assert status == 0, err
    assert out == "" and "400 rows scored" in err
    scores = read_csv(out_path)
    assert scores.feature_names == (
        "row",
        "label",
        "confidence",
        "log_density",
        "resp_1",
        "resp_2",
        "resp_3",
        "resp_4",
    )
    model = load_model(model_file)
    X = read_csv(BLOBS).X
    np.testing.assert_array_equal(scores.X[:, 0], np.arange(2, 402))  # the file's rows (header: 1)
    np.testing.assert_array_equal(scores.X[:, 1], model.predict(X) + 1)  # components from 1
    np.testing.assert_allclose(scores.X[:, 2], model.predict_proba(X).max(axis=1), rtol=1e-15)
    np.testing.assert_allclose(scores.X[:, 3], model.score_samples(X), rtol=1e-15)
    np.testing.assert_allclose(scores.X[:, 4:], model.predict_proba(X), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(scores.X[:, 4:].sum(axis=1), 1.0, rtol=1e-12)


def test_score_to_stdout_picks_the_model_columns_by_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    X = read_csv(BLOBS).X[:5]
    path = tmp_path / "extra.csv"
    write_csv(path, np.column_stack([np.arange(5), X[:, 1], X[:, 0]]), ["id", "y", "x"])
    status, out, err = run(capsys, "score", model_file, path)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "row,label,confidence,log_density,resp_1,resp_2,resp_3,resp_4"
    assert len(lines) == 6
    model = load_model(model_file)
    assert [int(line.split(",")[1]) for line in lines[1:]] == (model.predict(X) + 1).tolist()


def test_score_notes_columns_that_do_not_match_the_model_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    path = tmp_path / "pq.csv"
    path.write_text("p,q\n1,2\n4,5\n")
    status, out, err = run(capsys, "score", model_file, path)
    assert status == 0
    assert err.splitlines() == [
        f"note: using the columns p, q of {path} for the model's features x, y"
    ]
    assert len(out.splitlines()) == 3


def test_score_with_the_wrong_number_of_columns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    path = tmp_path / "three.csv"
    path.write_text("p,q,r\n1,2,3\n4,5,6\n")
    out_path = tmp_path / "scores.csv"
    status, out, err = run(capsys, "score", model_file, path, "--out", out_path)
    assert_one_error_line(status, out, err, "the model has 2 features (x, y)", "--columns")
    assert not out_path.exists()


# --- select --------------------------------------------------------------------------------------


def test_select_prints_the_table_with_the_best_marked(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(
        capsys, "select", BLOBS, "--components", "2-5", "--covariance", "full,tied"
    )
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"data: {BLOBS}")
    assert lines[1].split()[4] == "ICL"
    rows = [line for line in lines[2:-2]]
    assert len(rows) == 8
    (best,) = [line for line in rows if line.startswith("*")]
    assert best.split()[:2] == ["*", "4"]
    assert lines[-2].startswith(f"* best by BIC: K = 4, {best.split()[2]} covariance")
    assert lines[-1].startswith("  best by ICL: K = 4, ")
    for row in rows:  # ICL = BIC + 2 x entropy >= BIC
        bic, icl = float(row[1:].split()[2]), float(row[1:].split()[4])
        assert icl >= bic


def test_fit_n_init_lists_the_distinct_optima_and_keeps_the_best(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_path = tmp_path / "m.json"
    status, out, err = run(
        capsys, "fit", BLOBS, "-k", "4", "--init", "random_from_data", "--n-init", "12",
        "--seed", "3", "--tol", "1e-6", "-o", out_path,
    )  # fmt: skip
    assert status == 0, err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("starts: 12, "))
    table = lines[header + 2 :]
    assert table and table[0].startswith("*")
    seeds: list[int] = []
    counts = 0
    for line in table:
        _, _, _, count, listed = line[1:].split(maxsplit=4)
        counts += int(count)
        for part in listed.split(", "):
            first, _, last = part.partition("-")
            seeds += range(int(first), int(last or first) + 1)
    assert counts == 12 and sorted(seeds) == list(range(3, 15))
    lls = [float(line[1:].split()[1]) for line in table]
    assert lls == sorted(lls, reverse=True)
    summary = dict(line.split(": ", 1) for line in lines[:header])
    assert float(summary["log-likelihood"].split()[0]) == pytest.approx(lls[0], abs=1e-4)
    # the kept start is reproduced by its own seed and one start
    seed = load_model(out_path).fit_details_["seed"]
    assert f"the best of 12 starts: seed {seed})" in summary["model"]
    status, again, err = run(
        capsys, "fit", BLOBS, "-k", "4", "--init", "random_from_data", "--seed", str(seed),
        "--tol", "1e-6",
    )  # fmt: skip
    assert status == 0, err
    assert f"log-likelihood: {summary['log-likelihood']}" in again


# --- version, help -------------------------------------------------------------------------------


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"EM Explorer {__version__}"
    for command in ([], ["fit"], ["score"], ["select"]):
        status, out, _ = run(capsys, *command, "--help")
        assert status == 0 and "usage:" in out


def test_every_option_has_help() -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == {"fit", "score", "select"}
    for p in [parser, *subparsers.choices.values()]:
        for action in p._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{p.prog}: {action.option_strings or action.dest} has no help"


# --- bad input: one line, exit 2, no partial file ------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "parts"),
    [
        (["fit", "{tmp}/missing.csv", "-k", "2"], ["missing.csv: no such file"]),
        (["fit", "{bad}", "-k", "2"], ["bad.csv: row 3: column 'b' is 'abc', not a number"]),
        (["fit", "{blobs}", "-k", "0"], ["--components", "expected a positive integer, got '0'"]),
        (["fit", "{blobs}"], ["the following arguments are required: -k/--components"]),
        (["fit", "{blobs}", "-k", "2", "--tol", "-1"], ["--tol", "expected a number >= 0"]),
        (["fit", "{blobs}", "-k", "2", "--covariance", "round"], ["invalid choice: 'round'"]),
        (["fit", "{blobs}", "-k", "2", "--columns", "x,zz"], ["no column named 'zz'"]),
        (["fit", "{blobs}", "-k", "500"], ["500 components need at least 500 rows"]),
        (["fit", "{blobs}", "-k", "2", "--bogus"], ["unrecognized arguments: --bogus"]),
        (["fit", "{blobs}", "-k", "2", "--out", "{tmp}/nodir/m.json"], ["does not exist"]),
        (["fit", "{blobs}", "-k", "2", "--delimiter", "ab"], ["--delimiter must be one"]),
        (["score", "{tmp}/bad.json", "{blobs}"], ["bad.json: not valid JSON"]),
        (["select", "{blobs}", "--components", "3-1"], ["expected a range of positive K"]),
        (["select", "{blobs}", "--covariance", "all,round"], ["unknown covariance type 'all'"]),
        (["frobnicate"], ["invalid choice: 'frobnicate'"]),
        ([], ["the following arguments are required: COMMAND"]),
    ],
)
def test_bad_input_is_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], parts: list[str]
) -> None:
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,abc\n")
    (tmp_path / "bad.json").write_text("{oops")
    values = {"tmp": tmp_path, "bad": tmp_path / "bad.csv", "blobs": BLOBS}
    status, out, err = run(capsys, *(a.format(**values) for a in argv))
    assert_one_error_line(status, out, err, *parts)


def test_failed_fit_leaves_no_partial_file_and_keeps_an_old_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "tiny.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    new_out = tmp_path / "new.json"
    status, out, err = run(capsys, "fit", data, "-k", "3", "--out", new_out)
    assert_one_error_line(status, out, err, "3 components need at least 3 rows")
    assert not new_out.exists()
    old_out = tmp_path / "old.json"
    old_out.write_text("keep me")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n1,x\n")
    status, out, err = run(capsys, "fit", bad, "-k", "1", "--out", old_out)
    assert_one_error_line(status, out, err, "row 3")
    assert old_out.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "old.json", "tiny.csv"]


def test_collapsing_fit_is_an_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "dup.csv"
    data.write_text("a,b\n" + "1,1\n" * 10)
    status, out, err = run(
        capsys, "fit", data, "-k", "2", "--reg-covar", "0", "-o", tmp_path / "m.json"
    )
    assert_one_error_line(status, out, err, "reg_covar")
    assert not (tmp_path / "m.json").exists()


# --- through main.py, as a user runs it ----------------------------------------------------------


def run_main(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *map(str, argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_main_py_fit_score_and_version(tmp_path: Path) -> None:
    version = run_main("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"EM Explorer {__version__}"
    model = tmp_path / "m.json"
    fit = run_main("fit", BLOBS, "-k", "4", "--out", model)
    assert fit.returncode == 0, fit.stderr
    assert "BIC:" in fit.stdout and json.loads(model.read_text())["n_components"] == 4
    score = run_main("score", model, BLOBS)
    assert score.returncode == 0 and len(score.stdout.splitlines()) == 401


def test_main_py_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = run_main("fit", tmp_path / "nope.csv", "-k", "2", "--out", tmp_path / "m.json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {tmp_path / 'nope.csv'}: no such file"]
    assert not (tmp_path / "m.json").exists()


def test_command_line_never_imports_qt(tmp_path: Path) -> None:
    code = (
        "import sys, main\n"
        f"status = main.main(['select', {str(BLOBS)!r}, '-k', '1-2', '--covariance', 'diag'])\n"
        "launcher = {'em_gui', 'em_gui.launcher'}  # the dispatcher; em_gui imports lazily\n"
        "qt = sorted(m for m in sys.modules if m not in launcher\n"
        "             and m.split('.')[0] in ('PySide6', 'pyqtgraph', 'em_gui'))\n"
        "print(status, qt)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.splitlines()[-1] == "0 []", result.stderr


# --- issue 8 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('"tol": 0.001', '"tol": 1' + "0" * 400, "fit.tol"),
        ('"tol": 0.001', '"tol": 1' + "0" * 5000, "fit.tol"),
        ('"n_components": 4', '"n_components": 4' + "0" * 400, "n_components"),
        ('"seed": 0', '"seed": -1', "fit.seed"),
    ],
)
def test_score_with_huge_numbers_in_the_model_is_one_error_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    model_file: Path,
    old: str,
    new: str,
    field: str,
) -> None:
    text = model_file.read_text()
    assert old in text
    bad = tmp_path / "bad.json"
    bad.write_text(text.replace(old, new))
    status, out, err = run(capsys, "score", bad, BLOBS)
    assert_one_error_line(status, out, err, str(bad), f"field '{field}'")
    assert len(err) < 300


def _model_json(model_file: Path, tmp_path: Path, **changes: Any) -> Path:
    """A copy of the module's model file with top-level fields changed."""
    doc = json.loads(model_file.read_text())
    doc.update(changes)
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("scale", [1e300, 1e200, -1e160])
def test_score_far_data_is_one_error_line_and_keeps_the_old_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path, scale: float
) -> None:
    X = read_csv(BLOBS).X.copy()
    X[2] *= scale  # the third data row: line 4 of the file (after the header)
    data = tmp_path / "far.csv"
    write_csv(data, X, ["x", "y"])
    out_path = tmp_path / "out.csv"
    out_path.write_text("keep me")
    status, out, err = run(capsys, "score", model_file, data, "--out", out_path)
    assert_one_error_line(status, out, err, f"{data}: row 4:", "too far from the model")
    assert out_path.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["far.csv", "out.csv"]


def test_score_far_data_after_blank_lines_names_the_right_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    data = tmp_path / "far.csv"
    data.write_text("x,y\n\n1,2\n\n\n3,4\n1e300,-1e300\n")
    status, out, err = run(capsys, "score", model_file, data)
    assert_one_error_line(status, out, err, f"{data}: row 7:")


def test_score_rows_near_the_float_limit_are_right_or_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    X = read_csv(BLOBS).X.copy()
    X[:5] *= 1e154
    data = tmp_path / "big.csv"
    write_csv(data, X, ["x", "y"])
    status, out, err = run(capsys, "score", model_file, data)
    if status == 0:
        table = np.loadtxt(out.splitlines()[1:], delimiter=",")
        assert np.all(np.isfinite(table))
        np.testing.assert_allclose(table[:, 4:].sum(axis=1), 1.0, rtol=1e-12)
    else:
        assert_one_error_line(status, out, err, f"{data}: row ")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"covariance_type": "diag", "covariances": [[1.0, 1e-320]] + [[1.0, 1.0]] * 3},
            "covariances[0][1]",
        ),
        (
            {"covariance_type": "spherical", "covariances": [1.0, 1.0, 5e-324, 1.0]},
            "covariances[2]",
        ),
        (
            {"covariance_type": "tied", "covariances": [[1e-200, 0.0], [0.0, 1e-310]]},
            "covariances",
        ),
    ],
)
def test_covariances_whose_inverse_overflows_are_refused(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    model_file: Path,
    changes: dict,
    field: str,
) -> None:
    path = _model_json(model_file, tmp_path, **changes)
    status, out, err = run(capsys, "score", path, BLOBS)
    assert_one_error_line(status, out, err, str(path), f"field '{field}'")


def test_means_at_the_float_limit_are_refused_not_clamped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    means = [[1e300, -1e300], [-1e300, 1e300], [1e300, 1e300], [-1e300, -1e300]]
    path = _model_json(model_file, tmp_path, means=means)
    status, out, err = run(capsys, "score", path, BLOBS)
    assert_one_error_line(status, out, err, f"{BLOBS}: row 2:", "too far from the model")
    model = load_model(path)
    with pytest.raises(DensityUnderflowError):
        model.predict_proba(read_csv(BLOBS).X)
    with pytest.raises(DensityUnderflowError):
        model.score_samples(read_csv(BLOBS).X)


def test_select_refuses_more_components_than_rows_and_counts_the_fits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "select", BLOBS, "--components", "1-100000000")
    assert_one_error_line(status, out, err, str(BLOBS), "K at most 400", "400000000 fits")
    status, out, err = run(
        capsys, "select", BLOBS, "-k", "2,399-401,3", "--covariance", "diag,tied"
    )
    assert_one_error_line(status, out, err, "K = 401", "10 fits (5 values of K x 2 covariance")


# --- issue 8: output paths -----------------------------------------------------------------------


def test_out_to_dev_null_and_dev_stdout(capsys: pytest.CaptureFixture[str], model_file) -> None:
    status, _out, err = run(capsys, "fit", BLOBS, "-k", "2", "--out", os.devnull)
    assert status == 0, err
    status, _out, err = run(capsys, "score", model_file, BLOBS, "--out", os.devnull)
    assert status == 0, err
    result = run_main("score", model_file, BLOBS, "--out", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("row,label,confidence,log_density,resp_")
    assert len(result.stdout.splitlines()) == 401
    assert result.stderr == "400 rows scored; results in /dev/stdout\n"


def test_out_through_symbolic_links(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "real" / "model.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    status, _out, err = run(capsys, "fit", BLOBS, "-k", "2", "--out", link)
    assert status == 0, err
    assert link.is_symlink() and load_model(target).n_components == 2
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "real" / "new.json")
    status, _out, err = run(capsys, "fit", BLOBS, "-k", "3", "--out", dangling)
    assert status == 0, err
    assert dangling.is_symlink() and load_model(tmp_path / "real" / "new.json").n_components == 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.json", "new.json"]


def test_out_to_a_fifo_is_written_directly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    status, _out, err = run(capsys, "score", model_file, BLOBS, "--out", fifo)
    reader.join(timeout=60)
    assert status == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received[0].startswith(b"row,label,") and len(received[0].splitlines()) == 401
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_out_that_is_an_input_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    data = tmp_path / "x.csv"
    data.write_bytes(BLOBS.read_bytes())
    alias = tmp_path / "alias.csv"
    alias.symlink_to(data)
    hard = tmp_path / "hard.csv"
    os.link(data, hard)
    model = tmp_path / "m.json"
    model.write_bytes(model_file.read_bytes())
    for argv in (
        ["fit", data, "-k", "2", "--out", data],
        ["fit", data, "-k", "2", "--out", alias],
        ["fit", alias, "-k", "2", "--out", hard],
        ["score", model, data, "--out", model],
        ["score", model, data, "--out", hard],
    ):
        status, out, err = run(capsys, *argv)
        assert_one_error_line(status, out, err, "--out is the input")
    assert data.read_bytes() == BLOBS.read_bytes()
    assert model.read_bytes() == model_file.read_bytes()


_BLOCKING_WRITE = """
import os, sys
sys.path.insert(0, {root!r})
from em_engine import cli

def fsync(fd):  # the temporary file is written: say so, then wait to be signalled
    print("writing", flush=True)
    sys.stdin.read()

os.fsync = fsync
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_no_temporary_file_is_left_when_signalled(
    tmp_path: Path, model_file: Path, signum: int, status: int
) -> None:
    out_path = tmp_path / "scores.csv"
    out_path.write_text("keep me")
    process = subprocess.Popen(
        [sys.executable, "-c", _BLOCKING_WRITE.format(root=str(ROOT)), "score", str(model_file),
         str(BLOBS), "--out", str(out_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout.readline() == "writing\n"
        assert len(list(tmp_path.iterdir())) == 2  # the temporary file is there
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == status, err
    assert err.splitlines()[-1].startswith("error: ") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]
    assert out_path.read_text() == "keep me"


# --- issue 8: what is printed ---------------------------------------------------------------------


def test_control_characters_are_escaped_in_error_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "nul.csv"
    data.write_bytes(b"a,b\n" + b"1,2\n" * 2000 + b"5,6\x007\x1b[31mred\n")
    status, out, err = run(capsys, "fit", data, "-k", "1")
    assert_one_error_line(status, out, err, "'6\\x007\\x1b[31mred'")
    named = tmp_path / "x\x1b[2Jy.csv"
    status, out, err = run(capsys, "fit", named, "-k", "1")
    assert_one_error_line(status, out, err, "x\\x1b[2Jy.csv: no such file")
    header = tmp_path / "h.csv"
    header.write_text("a,b\x01c\n1,2\n")
    status, out, err = run(capsys, "fit", header, "-k", "1", "--columns", "zz")
    assert_one_error_line(status, out, err, "b\\x01c")
    for text in (out, err):
        assert not any(ord(c) < 32 and c != "\n" for c in text)


def test_drop_invalid_then_a_failure_is_still_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\nx,3\n4,5\n")
    status, out, err = run(capsys, "fit", data, "-k", "5", "--drop-invalid")
    assert_one_error_line(status, out, err, "5 components need at least 5 rows")
    status, out, err = run(capsys, "fit", data, "-k", "1", "--drop-invalid")
    assert status == 0 and err.startswith("dropped 1 invalid row (first: row 3")


def test_many_columns_are_abbreviated_in_the_data_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "wide.csv"
    rng = np.random.default_rng(0)
    write_csv(data, rng.normal(size=(5, 10_000)), [f"c{j}" for j in range(10_000)])
    status, out, err = run(capsys, "fit", data, "-k", "1", "--covariance", "diag")
    assert status == 0, err
    line = out.splitlines()[0]
    assert line.endswith(
        "5 rows x 10000 columns (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, ... (9990 more))"
    )


def test_non_utf8_file_name_on_a_strict_stdout(tmp_path: Path) -> None:
    name = os.fsdecode(b"d\xff.csv")
    (tmp_path / name).write_bytes(BLOBS.read_bytes())
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"}
    for out_name in ("m.json", os.fsdecode(b"m\xfe.json")):
        result = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "fit", name, "-k", "2", "--out", out_name],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "d\\xff.csv: 400 rows" in result.stdout
        assert load_model(tmp_path / out_name).n_components == 2
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "fit", os.fsdecode(b"no\xff.csv"), "-k", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr == "error: no\\xff.csv: no such file\n"


@pytest.mark.parametrize("value", ["9.7e300", "-2e200", "1e160"])
def test_fit_a_value_too_large_names_the_file_line_and_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    rows = [f"{i * 0.1},{(i * 7) % 5}" for i in range(40)]
    rows[25] = f"3.0,{value}"  # line 28 of the file: a header and a blank line come first
    data = tmp_path / "big.csv"
    data.write_text("a,b\n\n" + "\n".join(rows) + "\n")
    status, out, err = run(capsys, "fit", data, "-k", "2", "--out", tmp_path / "m.json")
    assert_one_error_line(status, out, err, f"{data}: row 28, column 'b'", "too large")
    assert not (tmp_path / "m.json").exists()


def test_score_numbers_rows_as_the_files_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    rows = read_csv(BLOBS)
    lines = (
        ["x,y", ""]
        + [f"{a},{b}" for a, b in rows.X[:5]]
        + ["", ""]
        + [f"{a},{b}" for a, b in rows.X[5:8]]
    )
    data = tmp_path / "gaps.csv"
    data.write_text("\n".join(lines) + "\n")
    status, out, err = run(capsys, "score", model_file, data)
    assert status == 0, err
    numbers = [int(line.split(",")[0]) for line in out.splitlines()[1:]]
    assert numbers == [3, 4, 5, 6, 7, 10, 11, 12]  # the file's rows: header 1, blanks 2, 8, 9


def test_one_row_of_data_is_one_plain_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "one.csv"
    data.write_text("x,y\n1,2\n")
    for command in (["fit", data, "-k", "1"], ["select", data, "--components", "1"]):
        status, out, err = run(capsys, *command)
        assert_one_error_line(status, out, err, f"{data} has 1 row of data", "at least 2")


def test_out_dash_and_options_of_each_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_file: Path
) -> None:
    status, out, err = run(capsys, "score", model_file, BLOBS, "--out", "-")  # "-": stdout
    assert status == 0 and out.startswith("row,label") and not Path("-").exists()
    status, out, err = run(capsys, "fit", BLOBS, "-k", "2", "--out", "-")
    assert_one_error_line(status, out, err, "--out -", "give its name")
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,abc\n5,6\n")
    status, out, err = run(capsys, "score", model_file, bad, "--drop-invalid")
    assert status == 0 and [line.split(",")[0] for line in out.splitlines()[1:]] == ["2", "4"]
    assert "dropped 1 invalid row" in err
    status, out, err = run(capsys, "score", model_file, BLOBS, "--bogus")
    assert_one_error_line(status, out, err, "unrecognized arguments: --bogus", "score --help")


def test_values_too_large_name_the_first_row_and_count_the_others(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = [f"{i},{i % 3}" for i in range(30)]
    rows[4], rows[20], rows[25] = "2e300,1", "9e305,1", "1,-3e301"
    data = tmp_path / "big.csv"
    data.write_text("a,b\n" + "\n".join(rows) + "\n")
    status, out, err = run(capsys, "fit", data, "-k", "2")
    assert_one_error_line(status, out, err, f"{data}: row 6, column 'a'", "2 more rows like it")


def test_a_reg_covar_that_swamps_the_data_is_said(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(8, 1, (40, 2))]) * 1e-9
    data = tmp_path / "tiny.csv"
    data.write_text("a,b\n" + "\n".join(f"{a:.17g},{b:.17g}" for a, b in X) + "\n")
    status, _out, err = run(capsys, "fit", data, "-k", "2")
    assert status == 0 and "reg_covar (1e-06) is not small next to the variance" in err
    assert "column 'a'" in err or "column 'b'" in err
    status, _out, err = run(capsys, "fit", data, "-k", "2", "--reg-covar", "1e-24")
    assert status == 0 and "reg_covar" not in err  # small enough: nothing to say
    status, _out, err = run(capsys, "fit", BLOBS, "-k", "2")
    assert status == 0 and "note" not in err


def test_fit_with_a_weight_column_equals_the_repeated_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(c, 0.5, (20, 2)) for c in ((0, 0), (6, 0), (0, 6))])
    weights = rng.integers(1, 4, len(X))
    weighted = tmp_path / "weighted.csv"
    weighted.write_text(
        "x,w,y\n"
        + "".join(f"{a:.17g},{w},{b:.17g}\n" for (a, b), w in zip(X, weights, strict=True))
    )
    repeated = tmp_path / "repeated.csv"
    rows = np.repeat(X, weights, axis=0)
    repeated.write_text("x,y\n" + "".join(f"{a:.17g},{b:.17g}\n" for a, b in rows))
    results = []
    for args in (["fit", weighted, "-k", "3", "--weights", "w"], ["fit", repeated, "-k", "3"]):
        status, out, err = run(capsys, *args)
        assert status == 0, err
        found = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        results.append((float(found["log-likelihood"].split()[0]), float(found["BIC"])))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9)
    status, out, err = run(capsys, "fit", weighted, "-k", "3", "--weights", "w")
    # the summary names the weights and divides by their total, which it says
    assert f"weighted by column 'w' (total weight {weights.sum()})" in out
    assert "(per unit of weight " in out
    status, out, err = run(capsys, "fit", weighted, "-k", "3", "--weights", "1", "--columns", "x,y")
    assert status == 0 and "(x, y)" in out  # the weights by index, next to chosen columns


@pytest.mark.parametrize(
    ("cell", "parts"),
    [
        ("-2", ["row 3: sample weight is negative (-2)"]),
        ("abc", ["row 3", "column 'w' is 'abc', not a number"]),
        ("nan", ["row 3", "column 'w'"]),
    ],
)
def test_a_bad_weight_is_one_error_line_naming_its_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cell: str, parts: list[str]
) -> None:
    data = tmp_path / "w.csv"
    data.write_text(f"x,y,w\n0,0,1\n1,1,{cell}\n5,5,2\n6,5,1\n")
    status, out, err = run(capsys, "fit", data, "-k", "1", "--weights", "w")
    assert_one_error_line(status, out, err, str(data), *parts)
    status, out, err = run(capsys, "fit", data, "-k", "1", "--weights", "nope")
    assert_one_error_line(status, out, err, "no column 'nope' for --weights")
