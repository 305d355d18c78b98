"""CSV reading (em_engine.data): the files people have, and one clear error for each bad one."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from em_engine import data as data_module
from em_engine.checks import check_data
from em_engine.data import read_csv, sniff_csv, write_csv, write_text_atomic
from em_engine.errors import DataError


def make(tmp_path: Path, text: str, name: str = "data.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- layouts that must read ----------------------------------------------------------------------


def test_header_and_comma(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, "x,y\n1,2\n3.5,-4e-3\n"))
    assert ds.feature_names == ("x", "y")
    np.testing.assert_array_equal(ds.X, [[1.0, 2.0], [3.5, -4e-3]])
    assert ds.X.dtype == np.float64 and ds.X.flags.c_contiguous
    assert ds.n_dropped == 0 and ds.drop_reasons == () and ds.labels is None
    assert ds.source == str(tmp_path / "data.csv")


def test_no_header_semicolon_and_trailing_blank_lines(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, "1;2;3\n4;5;6\n\n\n"))
    assert ds.feature_names == ("x1", "x2", "x3")
    np.testing.assert_array_equal(ds.X, [[1, 2, 3], [4, 5, 6]])


def test_tab_bom_and_windows_line_endings(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, "\ufeffa\tb\r\n1.5\t2\r\n3\t4\r\n\r\n"))
    assert ds.feature_names == ("a", "b")
    np.testing.assert_array_equal(ds.X, [[1.5, 2.0], [3.0, 4.0]])


def test_quoted_fields_and_spaces(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, '"width, cm","height"\n"1.5", 2\n" 3",4 \n'))
    assert ds.feature_names == ("width, cm", "height")
    np.testing.assert_array_equal(ds.X, [[1.5, 2.0], [3.0, 4.0]])


def test_r_write_csv_row_numbers(tmp_path: Path) -> None:
    path = make(tmp_path, '"","x","y"\n"1",0.5,2\n"2",3,4\n')
    ds = read_csv(path)
    assert ds.feature_names == ("x", "y")
    np.testing.assert_array_equal(ds.X, [[0.5, 2.0], [3.0, 4.0]])
    preview = sniff_csv(path)
    assert preview.has_row_names and preview.column_names == ("x", "y")
    assert preview.preview_rows == (("0.5", "2"), ("3", "4"))


def test_r_write_table_row_names_header_one_shorter(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, "mpg,wt\nMazda RX4,21,2.62\nDatsun 710,22.8,2.32\n"))
    assert ds.feature_names == ("mpg", "wt")
    np.testing.assert_array_equal(ds.X, [[21.0, 2.62], [22.8, 2.32]])


@pytest.mark.parametrize("text", ["a,b,\n1,2,\n3,4,\n", "a,b\n1,2,\n3,4,\n", "1,2,\n3,4,\n"])
def test_a_delimiter_at_the_end_of_every_row(tmp_path: Path, text: str) -> None:
    ds = read_csv(make(tmp_path, text))
    assert len(ds.feature_names) == 2
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4]])


def test_text_columns_are_skipped_unless_chosen(tmp_path: Path) -> None:
    path = make(tmp_path, "a,species,b\n1,setosa,2\n3,virginica,4\n")
    ds = read_csv(path)
    assert ds.feature_names == ("a", "b")
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4]])
    with pytest.raises(DataError) as err:
        read_csv(path, columns=["species"])
    assert str(err.value) == (
        f"{path}: row 2: column 'species' is 'setosa', not a number (1 more invalid row)"
    )


def test_choose_columns_by_name_index_and_digit_string(tmp_path: Path) -> None:
    path = make(tmp_path, "a,b,c\n1,2,3\n4,5,6\n")
    assert read_csv(path, columns=["c", "a"]).feature_names == ("c", "a")
    np.testing.assert_array_equal(read_csv(path, columns=["c", "a"]).X, [[3, 1], [6, 4]])
    np.testing.assert_array_equal(read_csv(path, columns=[1]).X, [[2], [5]])
    np.testing.assert_array_equal(read_csv(path, columns=["2"]).X, [[3], [6]])


def test_column_named_like_a_digit_is_a_name_first(tmp_path: Path) -> None:
    path = make(tmp_path, "1,0\n1e0x,5\n7,8\n", name="d.csv")  # header has a text cell
    ds = read_csv(path, header=True, columns=["0"])
    assert ds.feature_names == ("0",)
    np.testing.assert_array_equal(ds.X, [[5], [8]])


def test_header_option_overrides_detection(tmp_path: Path) -> None:
    path = make(tmp_path, "10,20\n1,2\n")
    assert read_csv(path).X.shape == (2, 2)
    forced = read_csv(path, header=True)
    assert forced.feature_names == ("10", "20")
    np.testing.assert_array_equal(forced.X, [[1, 2]])


def test_explicit_delimiter(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, "a|b\n1|2\n"), delimiter="|")
    np.testing.assert_array_equal(ds.X, [[1, 2]])


def test_single_column(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, "price\n100\n250.5\n"))
    assert ds.feature_names == ("price",) and ds.X.shape == (2, 1)


def test_float32(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, "a,b\n1,2\n"), dtype=np.float32)
    assert ds.X.dtype == np.float32


def test_latin1_fallback(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, "größe,b\n1,2\n", encoding="latin-1"))
    assert ds.feature_names == ("größe", "b")


def test_values_round_trip_exactly_through_write_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3)) * 10.0 ** rng.integers(-8, 8, size=(500, 3))
    write_csv(tmp_path / "r.csv", X, ["a", "b", "c"])
    np.testing.assert_array_equal(read_csv(tmp_path / "r.csv").X, X)


def test_fast_and_careful_paths_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = '"","u","v"\r\n"1",1.25,-3\r\n\r\n"2",7e-3,  8\r\n"3",1e300,0\r\n'
    path = make(tmp_path, text)
    fast = read_csv(path)

    def no_loadtxt(*args, **kwargs):
        raise ValueError("fast path disabled")

    monkeypatch.setattr(data_module.np, "loadtxt", no_loadtxt)
    careful = read_csv(path)
    np.testing.assert_array_equal(fast.X, careful.X)
    assert fast.feature_names == careful.feature_names == ("u", "v")


def test_sniff_csv_overrides(tmp_path: Path) -> None:
    path = make(tmp_path, "a;b\n1;2\n")
    assert sniff_csv(path, header=False).column_names == ("x1", "x2")
    assert sniff_csv(path, header=False).preview_rows == (("a", "b"), ("1", "2"))
    assert sniff_csv(path, delimiter=",").column_names == ("a;b",)


def test_sniff_csv_preview(tmp_path: Path) -> None:
    rows = "\n".join(f"{i};{i * 2}" for i in range(30))
    preview = sniff_csv(make(tmp_path, "a;b\n" + rows + "\n"), n_preview=5)
    assert preview.delimiter == ";" and preview.has_header and not preview.has_row_names
    assert preview.column_names == ("a", "b")
    assert preview.preview_rows == tuple((str(i), str(i * 2)) for i in range(5))


# --- errors: one message naming file, row and column ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n3,abc\n", "row 3: column 'b' is 'abc', not a number"),
        ("a,b\n1,2\n\n3,\n", "row 4: column 'b' is empty"),
        ("a,b\n1,2\n3,4,5\n", "row 3: has 3 fields, expected 2"),
        ("a,b\n1,2\n3\n", "row 3: has 1 field, expected 2"),
        ("a,b\n1\n2,3\n", "row 2: has 1 field, expected 2"),
        ("1,2\n3\n", "row 2: has 1 field, expected 2"),
        ("a,b\n1,nan\n", "row 2: column 'b' is nan, not a finite number"),
        ("a,b\n1,2\n-inf,2\n", "row 3: column 'a' is -inf, not a finite number"),
        ("a,b\n1,2\n3,x\n4,y\n", "row 3: column 'b' is 'x', not a number (1 more invalid row)"),
        (
            "a;b\n1,5;2\n",
            "row 2: column 'a' is '1,5', not a number (decimal commas are not supported: "
            "use a decimal point)",
        ),
        ("", "the file is empty"),
        ("\n  \n\n", "the file is empty"),
        ("a,b\n", "the file has a header but no data rows"),
        ("a,b\nx,y\n", "no numeric columns (columns: a, b; delimiter comma)"),
        ("a,b,c\n1,2\n3,4\n", "the header has 3 fields, but the data rows have 2"),
        ("a,a\n1,2\n", "the header names column 'a' twice"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = make(tmp_path, text)
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert str(err.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (["z"], "no column named 'z' (columns: a, b)"),
        ([5], "column index 5 is out of range (the file has 2 columns, 0 to 1)"),
        (["a", 0], "column 'a' is chosen twice"),
        ([], "no columns chosen"),
    ],
)
def test_bad_column_choices(tmp_path: Path, columns: list, message: str) -> None:
    path = make(tmp_path, "a,b\n1,2\n")
    with pytest.raises(DataError) as err:
        read_csv(path, columns=columns)
    assert str(err.value) == f"{path}: {message}"


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        read_csv(tmp_path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(DataError, match="not a text file"):
        read_csv(path)


def test_drop_invalid_counts_rows_with_reasons(tmp_path: Path) -> None:
    text = "a,b\n1,2\n3,abc\n5,6\n7,nan\n8\n9,10\n"
    ds = read_csv(make(tmp_path, text), drop_invalid=True)
    np.testing.assert_array_equal(ds.X, [[1, 2], [5, 6], [9, 10]])
    assert ds.n_dropped == 3
    assert ds.drop_reasons == (
        "row 3: column 'b' is 'abc', not a number",
        "row 5: column 'b' is nan, not a finite number",
        "row 6: has 1 field, expected 2",
    )


def test_drop_invalid_ignores_bad_cells_in_unchosen_columns(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, "a,b\n1,x\n2,3\n"), columns=["a"], drop_invalid=True)
    np.testing.assert_array_equal(ds.X, [[1], [2]])
    assert ds.n_dropped == 0


def test_drop_invalid_with_nothing_left(tmp_path: Path) -> None:
    path = make(tmp_path, "a\nx\ny\n")
    with pytest.raises(DataError) as err:
        read_csv(path, columns=["a"], drop_invalid=True)
    assert str(err.value) == f"{path}: no valid data rows (row 2: column 'a' is 'x', not a number)"


def test_large_file_reads_exactly(tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(200_000, 2))
    write_csv(tmp_path / "big.csv", X, ["a", "b"])
    np.testing.assert_array_equal(read_csv(tmp_path / "big.csv").X, X)


def test_rows_longer_than_the_sniffed_start(tmp_path: Path) -> None:
    # The header and a part of the first row fill the first 256 KB: the layout must come from
    # whole rows, not from the cut one.
    X = np.random.default_rng(1).normal(size=(3, 20_000))
    names = [f"c{j}" for j in range(20_000)]
    path = tmp_path / "wide.csv"
    write_csv(path, X, names)
    assert len(path.read_bytes().split(b"\n")[0]) < data_module._SNIFF_BYTES < path.stat().st_size
    ds = read_csv(path)
    assert ds.feature_names == tuple(names)
    np.testing.assert_array_equal(ds.X, X)


# --- arrays and writing --------------------------------------------------------------------------


def test_check_data() -> None:
    assert check_data([1, 2, 3], column=True).shape == (3, 1)
    assert check_data(np.ones((2, 2), np.float32)).dtype == np.float32
    assert check_data([[1, 2]]).dtype == np.float64
    X = np.ones((3, 2))
    assert check_data(X) is X  # a valid float64 array is checked, not copied
    copied = check_data(X, copy=True)
    assert copied is not X and not copied.flags.writeable and copied.flags.c_contiguous
    with pytest.raises(DataError, match=r"X has a non-finite value nan at row 1, column 0"):
        check_data([[1.0, 2.0], [np.nan, 1.0]])
    with pytest.raises(DataError, match=r"Y has a non-finite value inf at row 0, column 1"):
        check_data([[1.0, np.inf]], name="Y")
    with pytest.raises(DataError, match=r"must be a 2-D array \(samples x features\), got shape"):
        check_data(np.ones((2, 2, 2)))
    with pytest.raises(DataError, match=r"got shape \(3,\); Reshape your data: X.reshape\(-1, 1\)"):
        check_data([1.0, 2.0, 3.0])
    with pytest.raises(DataError, match=r"Found array with 0 sample\(s\) \(shape=\(0, 2\)\)"):
        check_data(np.ones((0, 2)))
    with pytest.raises(DataError, match=r"with 1 sample\(s\) .* a minimum of 2 is required"):
        check_data(np.ones((1, 2)), min_samples=2)
    with pytest.raises(DataError, match=r"not a numeric array \(it holds <U1 values\)"):
        check_data([["a", "b"]])
    with pytest.raises(DataError, match=r"data row 1, column 1: 1e\+300 is too large for the"):
        check_data([[1e300]], fitting=True)
    assert check_data([[1e300]]).shape == (1, 1)  # scoring such a value is fine
    assert check_data([[np.nan]], scan=False).shape == (1, 1)  # the kernels' own, cheap check


def test_write_text_atomic_replaces_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    write_text_atomic(path, "first")
    write_text_atomic(path, "second")
    assert path.read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_write_text_atomic_failure_leaves_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_text_atomic(path, "new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_write_csv_quotes_header_and_formats(tmp_path: Path) -> None:
    text = write_csv(tmp_path / "o.csv", np.array([[1, 0.5]]), ["a,b", "c"], fmt=["%d", "%.3f"])
    assert text == '"a,b",c\n1,0.500\n'
    assert (tmp_path / "o.csv").read_text() == text
    assert read_csv(tmp_path / "o.csv").feature_names == ("a,b", "c")


# --- issue 8: blank lines anywhere, unclosed quotes, long column lists ---------------------------


@pytest.mark.parametrize(
    "text",
    [
        "\n" * 100 + "a,b\n1,2\n3,4\n",  # before the header
        "a,b\n" + "\n" * 100 + "1,2\n3,4\n",  # between the header and the data
        "a,b\r\n" + "  \r\n" * 100 + "1,2\r\n3,4\r\n",  # lines of spaces, Windows endings
        "a,b\n1,2\n" + "\n,\n" * 100 + "3,4\n",  # blank lines and empty fields between rows
        "\n" * 30_000 + "a,b\n1,2\n3,4\n",  # more blank lines than the sniffed start holds
    ],
)
def test_blank_lines_anywhere_are_skipped(
    tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_module, "_SNIFF_BYTES", 4096)  # the long case crosses the limit
    path = make(tmp_path, text)
    ds = read_csv(path)
    assert ds.feature_names == ("a", "b")
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4]])
    preview = sniff_csv(path)
    assert preview.has_header and preview.preview_rows == (("1", "2"), ("3", "4"))


def test_forced_header_after_blank_lines_is_not_read_as_data(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, "\n\n1,2\n3,4\n5,6\n"), header=True)
    assert ds.feature_names == ("1", "2")
    np.testing.assert_array_equal(ds.X, [[3, 4], [5, 6]])


@pytest.mark.parametrize(
    ("text", "row"),
    [
        ('a,b\n1,2\n"3,4\n5,6\n7,8\n', 3),  # opened in the first field: a ragged row
        ('a,b\n1,2\n3,4\n5,"6\n7,8\n', 4),  # opened in the last field: not a number
        ("a,b\n" + "1,2\n" * 3000 + '5,"6\n7,8\n9,10\n', 3002),  # past the sniffed start
        ('\n\na,b\n\n1,2\n"3,4\n', 6),  # blank lines count as lines, as in an editor
    ],
)
def test_unclosed_quote_is_reported_on_the_row_that_opens_it(
    tmp_path: Path, text: str, row: int
) -> None:
    with pytest.raises(DataError, match=rf"data\.csv: row {row}: a quote opened on this row"):
        read_csv(make(tmp_path, text))


def test_quoted_line_break_in_a_skipped_text_column_is_fine(tmp_path: Path) -> None:
    ds = read_csv(make(tmp_path, 'name,x\n"two\nlines",1\nb,2\n'))
    np.testing.assert_array_equal(ds.X, [[1], [2]])


def test_long_column_lists_are_abbreviated(tmp_path: Path) -> None:
    names = [f"c{j}" for j in range(10_000)]
    path = make(tmp_path, ",".join(names) + "\n" + ",".join(["1"] * 10_000) + "\n")
    with pytest.raises(DataError) as info:
        read_csv(path, columns=["nope"])
    message = str(info.value)
    assert "c0, c1," in message and "c9, ... (9990 more)" in message and "c10," not in message
    assert len(message) < 300
    assert data_module.format_names(["a", "b"]) == "a, b"


def test_stale_temporary_files_of_killed_writes_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(gone.stdout)  # that process has exited
    target = tmp_path / "out.csv"
    stale = tmp_path / f".out.csv.{dead_pid}-abc_123.tmp"
    live = tmp_path / f".out.csv.{os.getppid()}-xyz.tmp"  # a running process's: kept
    other = tmp_path / f".other.csv.{dead_pid}-abc.tmp"  # another target's: kept
    mine = tmp_path / ".out.csv.backup"  # not our naming: kept
    for path in (stale, live, other, mine):
        path.write_text("partial")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out.csv", live.name, other.name, mine.name]
    )


def test_write_through_a_symlink_keeps_the_link_and_a_device_is_written_directly(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_text_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert (real.stat().st_mode & 0o777) == 0o640
    write_text_atomic(os.devnull, "nothing")  # no temporary file next to /dev/null
    with pytest.raises(IsADirectoryError):
        write_text_atomic(tmp_path, "x")
