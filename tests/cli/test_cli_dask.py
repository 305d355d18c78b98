"""``fit DATA --dask [SCHEDULER]`` end to end: on the tests' 2-worker cluster by its address and
on a local cluster of its own; CSV and Parquet; the same model as the in-memory fit; one-line
errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from em_engine import cli
from em_engine.data import read_csv, write_csv
from em_engine.modelio import load_model
from tests.cli.test_cli import BLOBS, assert_one_error_line, run


@pytest.fixture(scope="module")
def address(dask_client) -> str:
    return dask_client.scheduler.address


def _numbers(out: str) -> dict[str, str]:
    """The summary's lines by their label, except the data line (the sources differ)."""
    pairs = (line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return {key: value for key, value in pairs if key not in ("data", "model file")}


def test_fit_on_a_cluster_gives_the_in_memory_model(capsys, tmp_path: Path, address) -> None:
    local, remote = tmp_path / "local.json", tmp_path / "dask.json"
    status, expected, _ = run(capsys, "fit", BLOBS, "-k", "3", "--prior", "-o", local)
    assert status == 0
    status, out, err = run(
        capsys, "fit", BLOBS, "-k", "3", "--prior", "-o", remote, "--dask", address
    )
    assert status == 0, err
    assert _numbers(out) == _numbers(expected)
    assert re.search(r"^data: .*blobs\.csv: \d+ rows x 2 columns \(x, y\)$", out, re.M), out
    a, b = load_model(local), load_model(remote)
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-10)
    np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=1e-10)
    assert b.fit_details_["log_likelihood"] == pytest.approx(a.fit_details_["log_likelihood"])


def test_fit_reads_parquet_and_chosen_columns(capsys, tmp_path: Path, address) -> None:
    import pandas as pd

    data = read_csv(BLOBS)
    path = tmp_path / "blobs.parquet"
    frame = pd.DataFrame(data.X, columns=list(data.feature_names))
    frame.insert(0, "id", np.arange(len(frame)))
    frame.to_parquet(path)
    status, expected, _ = run(capsys, "fit", BLOBS, "-k", "2", "--covariance", "diag")
    status, out, err = run(
        capsys,
        "fit",
        path,
        "-k",
        "2",
        "--covariance",
        "diag",
        "--columns",
        "x,y",
        "--dask",
        address,
    )
    assert status == 0, err
    assert _numbers(out) == _numbers(expected)


def test_fit_starts_and_closes_a_local_cluster(capsys, tmp_path: Path) -> None:
    import psutil

    before = set(psutil.Process().children(recursive=True))  # the module's cluster, if started
    status, out, err = run(capsys, "fit", BLOBS, "-k", "2", "--dask")
    assert status == 0, err
    assert "converged: yes" in out
    left = set(psutil.Process().children(recursive=True)) - before
    assert [c for c in left if "resource_tracker" not in " ".join(c.cmdline())] == []


def test_a_bad_value_is_one_line_naming_its_row_and_column(capsys, tmp_path: Path, address):
    data = read_csv(BLOBS)
    X = data.X.copy()
    X[41, 1] = np.inf
    path = tmp_path / "bad.csv"
    write_csv(path, X, data.feature_names)
    out = tmp_path / "model.json"
    status, stdout, err = run(capsys, "fit", path, "-k", "2", "-o", out, "--dask", address)
    assert_one_error_line(status, stdout, err, "bad.csv: data row 42, column 'y'", "infinity")
    assert not out.exists()


def test_text_past_the_guessed_types_is_one_line_naming_its_column(capsys, tmp_path, address):
    """dask guesses column types from the file's start; text further on is named, not dask's
    table of dtypes."""
    X = np.random.default_rng(0).normal(size=(20_000, 2))  # ~800 kB: past dask's 256 kB sample
    lines = ["a,b", *(f"{a!r},{b!r}" for a, b in X.tolist())]
    lines[15_001] = "abc,1.5"
    path = tmp_path / "text.csv"
    path.write_text("\n".join(lines) + "\n")
    status, out, err = run(capsys, "fit", path, "-k", "2", "--dask", address)
    assert_one_error_line(status, out, err, "text.csv: column 'a'", "not a number", "'abc'")


@pytest.mark.parametrize("columns", [[], ["--columns", "x,y"]], ids=["all", "chosen"])
def test_text_in_a_column_of_numbers_is_not_dropped_silently(capsys, tmp_path, address, columns):
    """A column whose first rows hold numbers, or a chosen one, that dask reads as text is an
    error naming it (never a fit without it); a column of text only is left out, as without
    --dask."""
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,abc\n5,6\n")
    out = tmp_path / "model.json"
    status, stdout, err = run(
        capsys, "fit", path, "-k", "1", *columns, "-o", out, "--dask", address
    )
    assert_one_error_line(status, stdout, err, "bad.csv: column 'y'", "not a number")
    assert not out.exists()
    named = tmp_path / "named.csv"
    named.write_text("name,x,y\na,1,2\nb,3,4.5\nc,5,6\nd,7,9\n")
    status, stdout, err = run(capsys, "fit", named, "-k", "1", "--dask", address)
    assert status == 0 and "2 columns (x, y)" in stdout, (stdout, err)


@pytest.mark.parametrize(
    "option",
    [["--weights", "x"], ["--drop-invalid"], ["--missing", "em"], ["--n-init", "3"]],
)
def test_options_dask_cannot_take_are_refused(capsys, option, address) -> None:
    status, out, err = run(capsys, "fit", BLOBS, "-k", "2", *option, "--dask", address)
    named = option[0] if option[0] in ("--weights", "--drop-invalid") else " ".join(option)
    assert_one_error_line(status, out, err, f"{named} cannot be used with --dask")


def test_help_names_the_option() -> None:
    assert "--dask" in cli.build_parser()._subparsers._group_actions[0].choices["fit"].format_help()
