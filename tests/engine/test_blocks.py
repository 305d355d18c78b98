"""Reading in blocks: the whole CSV test suite again with tiny blocks (every row, quote and
line break then crosses block boundaries), the row map, the progress calls and the memory bound."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from test_data import *  # noqa: F403  (run again below with 16-byte blocks)

from em_engine import blocks
from em_engine.blocks import RowLines
from em_engine.data import read_csv, write_csv


@pytest.fixture(autouse=True)
def tiny_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 16)


def test_row_numbers_across_blocks_with_blank_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x,y\n1,2\n\n3,4\n5,abc\n\r\n7,8\n9,10\n")
    data = read_csv(path, drop_invalid=True)
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4], [7, 8], [9, 10]])
    assert list(data.lines) == [2, 4, 7, 8]
    assert data.drop_reasons == ("row 5: column 'y' is 'abc', not a number",)


def test_a_quoted_line_break_is_never_split(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('name,x,y\n"a\nlong\nname",1,2\n"b",3,4\n')
    data = read_csv(path, columns=["x", "y"])
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4]])
    assert list(data.lines) == [2, 5]


def test_progress_reaches_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    write_csv(path, np.arange(200.0).reshape(100, 2), ["a", "b"])
    calls: list[tuple[int, int]] = []
    read_csv(path, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert len(calls) > 10 and calls[-1] == (size, size)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))


def test_row_lines_runs() -> None:
    lines = RowLines()
    lines.add(range(2, 5))
    lines.add(np.array([5, 6, 9, 10]))
    lines.add(range(12, 13))
    assert len(lines) == 8 and lines[0] == 2 and lines[4] == 6 and lines[5] == 9 and lines[-1] == 12
    np.testing.assert_array_equal(np.asarray(lines), [2, 3, 4, 5, 6, 9, 10, 12])
    assert lines.runs() == [(0, 2), (5, 9), (7, 12)]
    again = RowLines.from_runs(lines.runs(), 8)
    assert list(again) == list(lines)
    one = RowLines()
    one.add(range(2, 5))
    one.add(np.array([5, 6]))
    assert one.simplest() == range(2, 7)
