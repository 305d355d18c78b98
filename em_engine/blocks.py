"""Reading big files in blocks: a text file as blocks of whole lines, parsed blocks gathered into
one array that grows in place, and the file row of every data row kept as runs, not one integer
per row. Reading then needs about the output array plus one block, whatever the file's size.

Every reader (CSV, Parquet) yields the same blocks: ``(X, rows, problems)`` with ``X`` (n, D)
the good rows of the block, ``rows`` their n row numbers in the file and ``problems`` one
``"row R: reason"`` per bad row; ``gather`` turns them into an array or hands them to a sink
(the out-of-core cache), and raises the one error message for bad rows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from em_engine.errors import DataError

__all__ = ["BLOCK_BYTES", "Block", "Progress", "RowLines", "gather", "text_blocks"]

#: Bytes of text parsed at a time (the buffer a read needs besides its output).
BLOCK_BYTES = 4 * 1024 * 1024
#: Called with (bytes done, bytes in all) as a file is read.
Progress = Callable[[int, int], None]
#: One parsed block: good rows (n, D), their n file rows, one "row R: reason" per bad row.
Block = tuple[np.ndarray, Sequence[int], list[str]]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def count_lines(text: str) -> int:
    """Line breaks in ``text`` (\\r\\n, \\r or \\n each count once)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _cut(data: bytes) -> int:
    """Where a block of ``data`` may end: after its last line break outside quotes (0 if none).
    A \\r at the very end is not a line end yet (a \\n may follow in the next read)."""
    end = data.rfind(b"\n")
    if end < 0:
        end = data.rfind(b"\r", 0, len(data) - 1)
    if end < 0 or data.count(b'"', 0, end + 1) % 2:  # a quoted field runs on past the line end
        return 0
    return end + 1


def text_blocks(
    path: Path,
    skip_lines: int = 0,
    progress: Progress | None = None,
    block_bytes: int | None = None,
) -> Iterator[tuple[int, str]]:
    """Blocks of whole lines of a text file, as ``(lines before the block, text)``, after its
    first ``skip_lines`` lines; UTF-8 (byte-order mark removed), else Latin-1 from the first block
    that is not UTF-8. A block never ends inside a quoted field, so it is longer than
    ``block_bytes`` (default ``BLOCK_BYTES``) only when a line is (or a quote is never
    closed)."""
    total = os.path.getsize(path)
    block_bytes = block_bytes or BLOCK_BYTES
    encoding = "utf-8-sig"
    line = done = 0
    pending = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(block_bytes)
            data = pending + chunk if pending else chunk
            if not data:
                return
            cut = _cut(data) if chunk else len(data)
            if cut == 0:
                pending = data
                continue
            block, pending = data[:cut], data[cut:]
            try:
                text = block.decode(encoding)
            except UnicodeDecodeError:
                encoding = "latin-1"
                text = block.decode(encoding)
            if encoding == "utf-8-sig":
                encoding = "utf-8"  # a byte-order mark only at the start
            done += len(block)
            if skip_lines:
                text, skipped = _skip(text, skip_lines)
                skip_lines -= skipped
                line += skipped
            if text:
                yield line, text
                line += count_lines(text)
            if progress is not None:
                progress(done, total)
            if not chunk:
                return


def _skip(text: str, count: int) -> tuple[str, int]:
    """``text`` without its first ``count`` lines (fewer if it has fewer), and how many went."""
    skipped, start = 0, 0
    for match in _LINE_BREAK.finditer(text):
        skipped, start = skipped + 1, match.end()
        if skipped == count:
            break
    else:
        if start < len(text):  # a last line with no line break
            skipped, start = skipped + 1, len(text)
    return text[start:], skipped


class RowLines(Sequence[int]):
    """The file row of each of N data rows, stored as runs of consecutive rows.

    Built with ``add``; ``rows[i]`` is the row of data row i; ``np.asarray(rows)`` gives them all
    (N,) int64. A file without blank or dropped rows is one run.
    """

    def __init__(self) -> None:
        self._starts: list[int] = []  # data row where each run starts
        self._firsts: list[int] = []  # file row of that data row
        self._n = 0

    @classmethod
    def from_runs(cls, runs: Sequence[tuple[int, int]], n: int) -> RowLines:
        """Rows from ``runs()`` of another RowLines of n rows."""
        lines = cls()
        lines._starts = [int(start) for start, _ in runs]
        lines._firsts = [int(first) for _, first in runs]
        lines._n = n
        return lines

    def runs(self) -> list[tuple[int, int]]:
        """The runs as (first data row, its file row) pairs."""
        return list(zip(self._starts, self._firsts, strict=True))

    def add(self, rows: Sequence[int]) -> None:
        """Append the file rows (n,) of the next n data rows (increasing)."""
        if isinstance(rows, range) and rows.step == 1:
            starts, firsts = [0], [rows.start]
        else:
            rows = np.asarray(rows, dtype=np.int64)
            if not len(rows):
                return
            breaks = np.flatnonzero(np.diff(rows) != 1) + 1
            starts = [0, *breaks.tolist()]
            firsts = rows[starts].tolist()
        if self._n and firsts[0] == self[self._n - 1] + 1:  # the last run goes on
            starts, firsts = starts[1:], firsts[1:]
        self._starts.extend(self._n + start for start in starts)
        self._firsts.extend(firsts)
        self._n += len(rows)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int) -> int:  # type: ignore[override]
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(f"data row {index} of {self._n}")
        run = int(np.searchsorted(self._starts, index, side="right")) - 1
        return self._firsts[run] + index - self._starts[run]

    def __iter__(self) -> Iterator[int]:
        return iter(np.asarray(self).tolist())

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        rows = np.arange(self._n, dtype=np.int64)
        runs = np.searchsorted(self._starts, rows, side="right") - 1
        offsets = np.asarray(self._firsts, dtype=np.int64) - np.asarray(self._starts, np.int64)
        rows += offsets[runs]
        return rows if dtype is None else rows.astype(dtype)

    def simplest(self) -> Sequence[int]:
        """A range when the rows are one run (as a clean file's are), else self."""
        if len(self._starts) <= 1:
            first = self._firsts[0] if self._firsts else 1
            return range(first, first + self._n)
        return self


class _Rows:
    """An (N, D) array filled block by block, grown in place (``ndarray.resize``, a realloc that
    moves no data on most systems), so that it never needs twice its size."""

    def __init__(self, width: int, dtype: np.dtype, capacity: int) -> None:
        self.array = np.empty((max(capacity, 1), width), dtype=dtype)
        self.n = 0

    def __call__(self, rows: np.ndarray) -> None:
        need = self.n + rows.shape[0]
        if need > self.array.shape[0]:
            grown = max(need, self.array.shape[0] * 3 // 2 + 1024)
            self.array.resize((grown, self.array.shape[1]), refcheck=False)
        self.array[self.n : need] = rows
        self.n = need

    def finish(self) -> np.ndarray:
        self.array.resize((self.n, self.array.shape[1]), refcheck=False)
        return self.array


def gather(
    path: Path,
    blocks: Iterable[Block],
    width: int,
    *,
    drop_invalid: bool = False,
    dtype: type | np.dtype = np.float64,
    capacity: int = 0,
    sink: Callable[[np.ndarray], None] | None = None,
) -> tuple[np.ndarray | None, Sequence[int], list[str]]:
    """Collect blocks into one (N, D) array of ``dtype`` (or pass each block's rows to ``sink``,
    and return None for the array), the file row of each row and the problems.

    ``capacity`` is a guess of N (the array grows past it). Raises the ``DataError`` for the
    first bad row (and how many more there are) unless ``drop_invalid``, or when no row is good.
    """
    rows = _Rows(width, np.dtype(dtype), capacity) if sink is None else None
    put = sink if rows is None else rows
    lines = RowLines()
    problems: list[str] = []
    for X, block_rows, bad in blocks:
        problems.extend(bad)
        if X.shape[0]:
            put(X)
            lines.add(block_rows)
    if problems and not drop_invalid:
        more = len(problems) - 1
        suffix = f" ({more} more invalid row{'s' if more > 1 else ''})" if more else ""
        raise DataError(f"{path}: {problems[0]}{suffix}")
    if len(lines) == 0:
        raise DataError(f"{path}: no valid data rows" + (f" ({problems[0]})" if problems else ""))
    return (None if rows is None else rows.finish()), lines.simplest(), problems
