"""The command line on big data: --out-of-core, Parquet input and the terminal progress bar."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from em_engine import cli
from em_engine._resources import resource_path
from em_engine.data import read_csv
from em_engine.modelio import load_model
from em_engine.progressbar import TerminalBar, format_bar

BLOBS = resource_path("samples", "blobs.csv")


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _summary(out: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in out.splitlines())


def test_out_of_core_fit_uses_and_reuses_the_cache(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    model_path = tmp_path / "m.json"
    argv = ["fit", BLOBS, "-k", "4", "--out-of-core", "--cache-dir", cache, "--out", model_path]
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    assert len(list(cache.glob("*.npy"))) == 1
    model = load_model(model_path)
    assert model.means_.shape == (4, 2)
    status, again, err = run(capsys, *argv)
    assert status == 0 and _summary(again)["BIC"] == _summary(out)["BIC"]


def test_out_of_core_bad_row_is_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,4\n5,6\n7,zz\n")
    status, out, err = run(capsys, "fit", path, "-k", "1", "--out-of-core", "--cache-dir", tmp_path)
    assert status == 2 and out == ""
    assert err == f"error: {path}: row 5: column 'y' is 'zz', not a number\n"


def test_parquet_fit_equals_the_csv_fit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = read_csv(BLOBS)
    path = tmp_path / "blobs.parquet"
    pq.write_table(pa.table(dict(zip(data.feature_names, data.X.T, strict=True))), path)
    status, out, err = run(capsys, "fit", path, "-k", "3", "--seed", "2")
    assert status == 0, err
    status, csv_out, _ = run(capsys, "fit", BLOBS, "-k", "3", "--seed", "2")
    assert _summary(out)["log-likelihood"] == _summary(csv_out)["log-likelihood"]
    assert _summary(out)["data"].startswith(f"{path}: {data.X.shape[0]} rows x 2 columns")


def test_format_bar() -> None:
    assert format_bar("reading a.csv", 0, 2 * 2**20, width=10) == (
        "reading a.csv [..........]   0% 0 B of 2.0 MB"
    )
    assert format_bar("x", 3 * 2**29, 2**31, width=8) == "x [######..]  75% 1.5 GB of 2.0 GB"
    assert format_bar("x", 5, 0, width=4) == "x [####] 100% 5 B of 0 B"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_bar_redraws_one_line_only_on_a_terminal() -> None:
    terminal = _Terminal()
    bar = TerminalBar(terminal, "r", interval=3600)
    bar(1, 4)
    bar(2, 4)  # within the interval: not drawn
    bar(4, 4)  # the end is always drawn
    bar.close()
    assert terminal.getvalue() == "\r" + format_bar("r", 1, 4) + "\r" + format_bar("r", 4, 4) + "\n"
    log = io.StringIO()
    silent = TerminalBar(log, "r")
    silent(4, 4)
    silent.close()
    assert log.getvalue() == ""


@pytest.mark.parametrize(("weights", "total"), [("2", 2 * 300), ("0.5", 150.0)])
def test_a_weighted_model_file_loads_with_the_total_weight(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, weights: str, total: float
) -> None:
    data = read_csv(BLOBS)
    path = tmp_path / "w.csv"
    rows = [f"{x},{y},{weights}" for x, y in data.X[:300]]
    path.write_text("x,y,w\n" + "\n".join(rows) + "\n")
    model_path = tmp_path / "w.json"
    status, _, err = run(capsys, "fit", path, "-k", "2", "--weights", "w", "--out", model_path)
    assert status == 0, err
    assert load_model(model_path).fit_details_["n_samples"] == total
    status, out, err = run(capsys, "score", model_path, path)
    assert status == 0 and len(out.splitlines()) == 301, err
