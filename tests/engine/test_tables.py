"""Parquet files (pyarrow, the optional extra) read as CSV files are: columns, errors, batches."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from em_engine import tables
from em_engine.errors import DataError
from em_engine.tables import preview_table, read_table


def _write(path: Path, columns: dict, row_group_size: int | None = None) -> Path:
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def test_numeric_columns_by_default_in_batches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tables, "_BATCH_ROWS", 7)
    x = np.arange(50.0)
    path = _write(
        tmp_path / "d.parquet",
        {"x": x, "label": [f"r{i}" for i in range(50)], "n": np.arange(50, dtype=np.int32)},
        row_group_size=20,
    )
    calls: list[tuple[int, int]] = []
    data = read_table(path, progress=lambda done, total: calls.append((done, total)))
    assert data.feature_names == ("x", "n")
    np.testing.assert_array_equal(data.X, np.column_stack([x, x]))
    assert data.X.dtype == np.float64 and list(data.lines[:3]) == [1, 2, 3]
    size = path.stat().st_size
    assert len(calls) >= 7 and calls[-1] == (size, size)


def test_columns_by_name_and_index(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.parquet", {"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5.0, 6.0]})
    assert read_table(path, columns=["c", "0"]).feature_names == ("c", "a")
    np.testing.assert_array_equal(read_table(path, columns=[1]).X, [[3.0], [4.0]])


def test_null_and_non_finite_cells_are_bad_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.parquet", {"a": [1.0, None, 3.0, 4.0], "b": [1.0, 2.0, np.inf, 4]})
    with pytest.raises(DataError, match=r"d.parquet: row 2: column 'a' is empty \(1 more invalid"):
        read_table(path)
    data = read_table(path, drop_invalid=True)
    np.testing.assert_array_equal(data.X, [[1, 1], [4, 4]])
    assert list(data.lines) == [1, 4]
    assert data.drop_reasons[1] == "row 3: column 'b' is inf, not a finite number"


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (["nope"], r"no column named 'nope' \(columns: a, s\)"),
        (["s"], r"column 's' holds string, not numbers"),
        ([5], r"column index 5 is out of range"),
    ],
)
def test_bad_column_choices(tmp_path: Path, columns, message: str) -> None:
    path = _write(tmp_path / "d.parquet", {"a": [1.0, 2.0], "s": ["x", "y"]})
    with pytest.raises(DataError, match=message):
        read_table(path, columns=columns)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing.parquet: no such file"):
        read_table(tmp_path / "missing.parquet")
    fake = tmp_path / "fake.parquet"
    fake.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"fake.parquet: not a readable Parquet file"):
        read_table(fake)
    text = _write(tmp_path / "t.parquet", {"s": ["x"]})
    with pytest.raises(DataError, match=r"t.parquet: no numeric columns \(columns: s\)"):
        read_table(text)


def test_without_pyarrow_the_message_says_how_to_install(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path / "d.parquet", {"a": [1.0, 2.0]})
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError, match=r"needs pyarrow.*pip install 'em-explorer\[parquet\]'"):
        read_table(path)


def test_preview(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.parquet", {"a": [1.5, None, 3.0], "s": ["x", "y", "z"]})
    preview = preview_table(path, n_preview=2)
    assert preview.column_names == ("a", "s") and preview.has_header
    assert preview.preview_rows == (("1.5", "x"), ("", "y"))
    assert preview.preview_lines == (1, 2)


def test_csv_goes_to_read_csv(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a;b\n1;2\n")
    data = read_table(path)
    assert data.feature_names == ("a", "b") and list(data.lines) == [2]


def test_pyarrow_is_imported_only_when_a_parquet_file_is_opened(tmp_path: Path) -> None:
    import subprocess

    csv = tmp_path / "d.csv"
    csv.write_text("a,b\n1,2\n3,4\n")
    code = (
        "import sys, em_engine.tables, em_engine.cli, em_engine.outofcore, em_gui.csv_dialog\n"
        "import em_gui.files\n"
        f"em_engine.tables.read_table({str(csv)!r})\n"
        "print('pyarrow' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
