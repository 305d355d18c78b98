"""The command line's --missing error|drop|em (fit, score) and the reader's missing cells."""

from __future__ import annotations

import numpy as np
import pytest

from em_engine import GaussianMixture, cli
from em_engine.data import read_csv
from em_engine.errors import DataError
from em_engine.missing import read_with_missing
from em_engine.modelio import load_model

TEXT = """x,y,z
0.1,0.2,0.3
1.0,,0.8
NA,1.5,1.1
0.4,0.1,NaN
5.2,4.9,5.1
5.0,5.3,
4.8,NA,5.0
0.3,0.5,0.2
5.4,5.1,4.7
,0.0,0.4
5.1,4.6,4.9
"""


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text(TEXT)
    return path


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_reader_returns_nan_for_missing_cells_only_when_asked(csv_file) -> None:
    with pytest.raises(DataError, match=r"gaps.csv: row 3: column 'y' is empty \(5 more"):
        read_csv(csv_file)
    data = read_csv(csv_file, missing_as_nan=True)
    assert data.X.shape == (11, 3)
    assert np.isnan(data.X).sum() == 6
    assert np.isnan(data.X[1, 1]) and np.isnan(data.X[2, 0]) and np.isnan(data.X[3, 2])
    assert list(data.lines) == list(range(2, 13))
    dropped = read_with_missing(csv_file, "drop")
    assert dropped.X.shape == (5, 3) and not np.isnan(dropped.X).any()
    assert dropped.n_dropped == 6
    assert dropped.drop_reasons[0] == "row 3: column 'y' is missing"
    assert list(dropped.lines) == [2, 6, 9, 10, 12]


def test_infinity_is_still_refused(tmp_path) -> None:
    path = tmp_path / "inf.csv"
    path.write_text("a,b\n1,2\n3,inf\n4,\n")
    with pytest.raises(DataError, match="row 3: column 'b' is inf, not a finite number"):
        read_csv(path, missing_as_nan=True)


def test_fit_missing_em_fits_the_observed_cells(capsys, csv_file, tmp_path) -> None:
    out_path = tmp_path / "model.json"
    status, out, err = run(capsys, "fit", csv_file, "-k", "2", "--missing", "em", "-o", out_path)
    assert status == 0, err
    assert "11 rows x 3 columns" in out
    assert "6 missing cells in 6 rows (first: row 3): fitted by EM, missing at random" in err
    model = load_model(out_path)
    X = read_csv(csv_file, missing_as_nan=True).X
    direct = GaussianMixture(2, missing="em", random_state=0).fit(X)
    np.testing.assert_allclose(model.means_, direct.means_, rtol=1e-12)
    log_likelihood = float(out.split("log-likelihood: ")[1].split()[0])
    expected = direct.score_samples(X).sum()
    assert log_likelihood == pytest.approx(expected, abs=1e-6)
    # score with the marginal density of the observed cells
    status, text, err = run(capsys, "score", out_path, csv_file, "--missing", "em")
    assert status == 0, err
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert [int(r[0]) for r in rows] == list(range(2, 13))
    densities = np.array([float(r[3]) for r in rows])
    np.testing.assert_allclose(densities, direct.score_samples(X), rtol=1e-10)


def test_fit_missing_drop_fits_the_complete_rows(capsys, csv_file) -> None:
    status, out, err = run(capsys, "fit", csv_file, "-k", "2", "--missing", "drop")
    assert status == 0, err
    assert "5 rows x 3 columns" in out
    assert "dropped 6 invalid rows (first: row 3: column 'y' is missing)" in err


@pytest.mark.parametrize("command", ["fit", "score"])
def test_missing_error_is_the_default(capsys, csv_file, tmp_path, command) -> None:
    model = tmp_path / "m.json"
    assert cli.main(["fit", str(csv_file), "-k", "1", "--missing", "drop", "-o", str(model)]) == 0
    capsys.readouterr()
    argv = ["fit", csv_file, "-k", "2"] if command == "fit" else ["score", model, csv_file]
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert err == "error: " + f"{csv_file}: row 3: column 'y' is empty (5 more invalid rows)\n"


def test_a_row_with_every_cell_missing_is_named(capsys, tmp_path) -> None:
    path = tmp_path / "empty_row.csv"
    path.write_text("a,b\n1,2\n3,4\nNA,NA\n5,6\n2,3\n")
    status, out, err = run(capsys, "fit", path, "-k", "1", "--missing", "em")
    assert status == 2 and out == ""
    assert err.startswith(f"error: {path}: row 4: every cell of the row is missing")
    assert len(err.splitlines()) == 1


def test_parquet_nulls_are_missing_cells_like_empty_csv_cells(csv_file, tmp_path) -> None:
    """A Parquet file's nulls (and NaN) read as the CSV file's empty/NA/NaN cells: an error
    naming the row by default, NaN for EM, the rows left out for drop."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X = read_csv(csv_file, missing_as_nan=True).X
    columns = {name: pa.array([None if np.isnan(v) else v for v in X[:, j]]) for j, name in
               enumerate("xyz")}  # fmt: skip
    path = tmp_path / "gaps.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(DataError, match=r"gaps.parquet: row 2: column 'y' is empty"):
        read_with_missing(path, "error")
    np.testing.assert_array_equal(read_with_missing(path, "em").X, X)
    dropped = read_with_missing(path, "drop")
    np.testing.assert_array_equal(dropped.X, X[~np.isnan(X).any(axis=1)])
    assert dropped.n_dropped == 6


@pytest.mark.parametrize(
    "options, message",
    [
        (["--missing", "em", "--out-of-core"], "--missing em cannot be used with --out-of-core"),
        (["--n-init", "3", "--out-of-core"], "--out-of-core cannot be used with --n-init 3"),
    ],
)
def test_options_out_of_core_cannot_take(capsys, csv_file, options, message) -> None:
    status, out, err = run(capsys, "fit", csv_file, "-k", "2", *options)
    assert status != 0 and out == ""
    assert err.strip().splitlines() == [f"error: {message}"]


def test_select_compares_models_of_data_with_missing_cells(capsys, csv_file) -> None:
    """select --missing em fits every model by EM for missing values (its rows as the
    estimator's); error stays the default, drop leaves the rows out."""
    status, out, err = run(capsys, "select", csv_file, "-k", "1-2", "--covariance", "diag")
    assert status == 2 and "row 3: column 'y' is empty" in err
    status, out, err = run(
        capsys, "select", csv_file, "-k", "1-2", "--covariance", "diag", "--missing", "em"
    )
    assert status == 0, err
    assert "6 missing cells in 6 rows" in err and "fitted by EM" in err
    X = read_csv(csv_file, missing_as_nan=True).X
    model = GaussianMixture(2, covariance_type="diag", missing="em", random_state=0).fit(X)
    best = next(line for line in out.splitlines() if line.startswith("* best by BIC"))
    assert f"K = 2, diag covariance (BIC {model.bic(X):.2f};" in best
    status, out, err = run(
        capsys, "select", csv_file, "-k", "1-2", "--covariance", "diag", "--missing", "drop"
    )
    assert status == 0 and "dropped 6" in err
