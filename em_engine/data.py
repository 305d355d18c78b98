"""Reading numeric CSV files as people actually have them, and writing CSV files atomically.

``read_csv`` accepts a header or none (detected), comma, semicolon, tab or pipe delimiters
(sniffed), quoted fields, UTF-8 with or without a byte-order mark (Latin-1 as a fallback), Windows
line endings, blank lines, and a leading row-name column as R's ``write.csv`` (empty header cell) or
``write.table`` (header one field shorter than the rows) writes it. Text columns are skipped when no
columns are chosen. Every problem raises one ``DataError`` naming the file, the row (1-based line
number as in a text editor, the header line counting as row 1) and the column.

The file is read in blocks of whole lines (em_engine.blocks), so that reading needs about the
output array plus one block of memory. A numpy fast path (``np.loadtxt``) reads clean all-numeric
blocks; anything it cannot read, or any non-finite value, falls back to the ``csv`` module, which
finds and names the bad cell.
"""

from __future__ import annotations

import csv
import errno
import io
import itertools
import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from em_engine.blocks import Block, Progress, count_lines, gather, text_blocks
from em_engine.errors import DataError

__all__ = [
    "CsvPreview",
    "Dataset",
    "cell_problem",
    "csv_blocks",
    "delimiter_name",
    "format_names",
    "pick_columns",
    "read_csv",
    "sniff_csv",
    "write_bytes_atomic",
    "write_csv",
    "write_text_atomic",
]

#: The delimiters ``read_csv`` detects, with the names messages give them.
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
DELIMITERS = tuple(_DELIMITER_NAMES)
_SNIFF_BYTES = 256 * 1024
_SNIFF_LINES = 50
_EMPTY_LINE_CHARS = ' \t\r\n"' + "".join(DELIMITERS)
_LINE_ENDS = re.compile(r"\r\n|\r|\n|\Z")
_UMASK = os.umask(0o022)  # read once (os.umask can only be read by setting it) and put back
os.umask(_UMASK)


@dataclass(frozen=True)
class CsvPreview:
    """What ``sniff_csv`` found at the start of a file.

    ``column_names`` and ``preview_rows`` leave out the row-name column when ``has_row_names``;
    column indices given to ``read_csv`` count the remaining columns from 0. Without a header the
    names are ``x1, x2, ...``.
    """

    path: str
    delimiter: str
    has_header: bool
    column_names: tuple[str, ...]
    preview_rows: tuple[tuple[str, ...], ...]
    has_row_names: bool
    preview_lines: tuple[int, ...] = ()  # the file line (from 1) each preview row starts on


@dataclass(frozen=True)
class Dataset:
    """A numeric data set ready for EM.

    Attributes
    ----------
    X : ndarray of shape (N, D)
        The samples, float64 unless another dtype was asked for.
    feature_names : tuple of str, length D
    source : str or None
        The file it came from, or a description such as ``"preset 'blobs'"``.
    n_dropped : int
        Rows left out by ``drop_invalid=True``.
    drop_reasons : tuple of str
        One reason per dropped row, e.g. ``"row 12: column 'x' is 'abc', not a number"``.
    labels : ndarray of shape (N,) or None
        True component of each sample, for synthetic data.
    lines : sequence of N int, or None
        The 1-based line of each row in its file (as messages number rows), for a CSV file.
    sample_weight : ndarray of shape (N,) or None
        Frequency weights read from the column ``weight_column`` (not in X), or None.
    weight_column : str or None
    """

    X: np.ndarray
    feature_names: tuple[str, ...]
    source: str | None = None
    n_dropped: int = 0
    drop_reasons: tuple[str, ...] = ()
    labels: np.ndarray | None = None
    lines: Sequence[int] | None = None
    sample_weight: np.ndarray | None = None
    weight_column: str | None = None


@dataclass(frozen=True)
class _Layout:
    """How a file is laid out: delimiter, header, row names and the data columns' names."""

    delimiter: str
    has_header: bool
    has_row_names: bool
    names: tuple[str, ...]
    n_fields: int  # fields per data row, including the row-name column and a trailing empty one
    header_end: int = 0  # the file line the header ends on (0 without a header)

    @property
    def first_field(self) -> int:
        """Index in a row of the first data column's field (1 after a row-name column)."""
        return 1 if self.has_row_names else 0


def delimiter_name(delimiter: str) -> str:
    """A delimiter as messages name it: "comma", "semicolon", "tab", "pipe", else its repr."""
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


def _read_text(path: Path, limit: int | None = None) -> tuple[str, bool]:
    """Read a file (or its first ``limit`` bytes) as text: UTF-8 (BOM removed), else Latin-1;
    line endings kept for ``csv``. Returns the text and whether it is the whole file."""
    try:
        with open(path, "rb") as f:
            raw = f.read() if limit is None else f.read(limit)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a CSV file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if b"\0" in raw[:4096]:
        raise DataError(f"{path}: not a text file (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if limit is not None and exc.start >= len(raw) - 3:  # a character cut by the limit
            text = raw[: exc.start].decode("utf-8-sig")
        else:
            text = raw.decode("latin-1")
    return text, limit is None or len(raw) < limit


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their endings, lazily (a large file is not split whole)."""
    start = 0
    for end in _LINE_ENDS.finditer(text):
        if end.end() > start:
            yield text[start : end.end()]
        start = end.end()


def _head_lines(text: str, count: int = _SNIFF_LINES) -> list[tuple[int, str]]:
    """The first ``count`` lines of ``text`` that hold something, as (line number from 1, line
    with its ending), however many blank lines, or lines of delimiters and quotes only, come
    before or between them."""
    numbered = enumerate(_lines(text), 1)
    return list(itertools.islice(((n, line) for n, line in numbered if _has_content(line)), count))


def _has_content(line: str) -> bool:
    """False for a blank line or one of delimiters, quotes and spaces only (empty fields)."""
    return bool(line.strip(_EMPTY_LINE_CHARS))


def _read_head_text(path: Path) -> str:
    """The start of a file, long enough to hold its first ``_SNIFF_LINES`` non-blank lines whole
    (the whole file if it has fewer): a file may start with any number of blank lines."""
    limit = _SNIFF_BYTES
    while True:
        text, complete = _read_text(path, limit)
        if complete or len(_head_lines(text, _SNIFF_LINES + 1)) > _SNIFF_LINES:
            return text
        limit *= 4


def format_names(names: Sequence[str], limit: int = 10) -> str:
    """Column names for a message: all of them up to ``limit``, else the first ``limit`` and how
    many more (a file may have 10,000 columns)."""
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])}, ... ({len(names) - limit} more)"


def is_number(cell: str) -> bool:
    """True if ``cell`` is a decimal number (NaN/inf count: they are numbers, just not valid)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _looks_numeric(cell: str) -> bool:
    """True for a number, or one written with a decimal comma (read later, to name the problem)."""
    return is_number(cell) or is_number(cell.replace(",", ".", 1))


def _sniff_delimiter(lines: list[str]) -> str:
    """Pick the delimiter giving the same field count (> 1) on most lines; ',' if none does."""
    best, best_score = ",", (0, 0)
    for delim in DELIMITERS:
        try:
            counts = [len(fields) for fields in csv.reader(lines, delimiter=delim) if fields]
        except csv.Error:  # e.g. a whole long line as one field, over csv's field size limit
            continue
        if not counts:
            continue
        common = max(set(counts), key=counts.count)
        if common < 2:
            continue
        score = (counts.count(common), common)
        if score > best_score:
            best, best_score = delim, score
    return best


def _detect_header(rows: list[list[str]]) -> bool:
    """Guess whether the first row is a header.

    It is when all its non-empty cells are text, or when some column is text in the first row and
    numeric in most of the following rows.
    """
    first, rest = rows[0], rows[1:]
    text_cells = [j for j, cell in enumerate(first) if cell.strip() and not is_number(cell)]
    if not text_cells:
        return False
    if len(text_cells) == sum(1 for cell in first if cell.strip()):
        return True
    for j in text_cells:
        numeric = [is_number(r[j]) for r in rest if j < len(r)]
        if numeric and sum(numeric) * 2 > len(numeric):
            return True
    return False


def _layout(rows: list[list[str]], path: Path, delimiter: str, header: bool | None) -> _Layout:
    """Work out header, row names and column names from the first rows of a file."""
    has_header = _detect_header(rows) if header is None else header
    data = rows[1:] if has_header else rows
    counts = [len(r) for r in data]
    # The most common field count; a tie goes to the earliest row.
    n_fields = max(counts, key=counts.count) if counts else len(rows[0])
    # A delimiter at the end of every row (some exports) makes an empty last field, not a column.
    trailing = bool(data) and n_fields > 1
    trailing = trailing and all(len(r) == n_fields and not r[-1].strip() for r in data)
    width = n_fields - trailing
    has_row_names = False
    if has_header:
        head = [cell.strip() for cell in rows[0]]
        if trailing and len(head) == n_fields and not head[-1]:
            head = head[:-1]
        names = head
        if len(head) == width - 1:  # R's write.table: no header cell over the row names
            has_row_names = True
        elif len(head) > 1 and head[0] == "" and (not data or width == len(head)):
            has_row_names, names = True, head[1:]  # R's write.csv: empty header cell
        elif len(set(counts)) == 1 and width != len(head):
            raise DataError(
                f"{path}: the header has {len(head)} fields, but the data rows have {width}"
            )
        else:
            n_fields = len(head) + trailing  # rows that differ are ragged
        names = [name or f"x{j + 1}" for j, name in enumerate(names)]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise DataError(f"{path}: the header names column '{name}' twice")
            seen.add(name)
    else:
        names = [f"x{j + 1}" for j in range(width)]
    return _Layout(delimiter, has_header, has_row_names, tuple(names), n_fields)


def _read_head(
    text: str, path: Path, delimiter: str | None, header: bool | None
) -> tuple[_Layout, list[list[str]], list[int]]:
    """Sniff the delimiter, parse the first non-blank rows and work out the layout.

    Returns the layout, the first data rows (the header left out) split into fields, and the
    file line each of them starts on. Blank lines, and rows of empty fields only, are skipped
    wherever they are (as ``read_csv`` does).
    """
    numbered = _head_lines(text)
    if not numbered:
        raise DataError(f"{path}: the file is empty")
    lines = [line for _, line in numbered]
    delim = _sniff_delimiter(lines) if delimiter is None else delimiter
    rows: list[list[str]] = []
    starts: list[int] = []
    ends: list[int] = []
    try:
        reader = csv.reader(lines, delimiter=delim)
        consumed = 0  # lines read so far: a quoted line break makes one row of several lines
        for fields in reader:
            if any(c.strip() for c in fields):
                rows.append(fields)
                starts.append(numbered[consumed][0])
                ends.append(numbered[reader.line_num - 1][0])
            consumed = reader.line_num
    except (csv.Error, TypeError) as exc:
        raise DataError(f"{path}: cannot split rows with delimiter {delim!r}: {exc}") from None
    if not rows:
        raise DataError(f"{path}: the file has no data (only empty fields)")
    layout = _layout(rows, path, delim, header)
    first = 1 if layout.has_header else 0
    if layout.has_header:
        layout = replace(layout, header_end=ends[0])
    return layout, rows[first:], starts[first:]


def sniff_csv(
    path: str | os.PathLike[str],
    *,
    n_preview: int = 20,
    delimiter: str | None = None,
    header: bool | None = None,
) -> CsvPreview:
    """Look at the start of a CSV file: delimiter, header, row names, column names, first rows.

    Parameters
    ----------
    path : str or path-like
    n_preview : int
        How many data rows to return in ``preview_rows`` (fewer if the file is shorter).
    delimiter, header : as for ``read_csv`` (None detects them); the import dialog's overrides.

    Returns
    -------
    CsvPreview

    Raises
    ------
    DataError
        If the file cannot be read or is empty.
    """
    path = Path(path)
    layout, data, lines = _read_head(_read_head_text(path), path, delimiter, header)
    skip = layout.first_field
    preview = tuple(tuple(r[skip:]) for r in data[:n_preview])
    return CsvPreview(
        path=str(path),
        delimiter=layout.delimiter,
        has_header=layout.has_header,
        column_names=layout.names,
        preview_rows=preview,
        has_row_names=layout.has_row_names,
        preview_lines=tuple(lines[:n_preview]),
    )


def _choose_columns(
    columns: Sequence[str | int] | None, layout: _Layout, data_rows: list[list[str]], path: Path
) -> list[int]:
    """Resolve chosen columns (names, indices or digit strings) to 0-based data-column indices.

    With no choice, the columns that hold a number in at least one of the first rows are used (a
    number with a decimal comma counts, so that reading it names the problem).
    """
    names = layout.names
    if columns is None:
        skip = layout.first_field
        chosen = [
            j
            for j in range(len(names))
            if any(j + skip < len(r) and _looks_numeric(r[j + skip]) for r in data_rows)
        ]
        if not chosen:
            raise DataError(
                f"{path}: no numeric columns (columns: {format_names(names)}; "
                f"delimiter {delimiter_name(layout.delimiter)})"
            )
        return chosen
    return pick_columns(columns, names, path)


def pick_columns(columns: Sequence[str | int], names: Sequence[str], path: Path) -> list[int]:
    """Resolve chosen columns (names, 0-based indices or digit strings) to indices into
    ``names``; a ``DataError`` naming the file for an unknown, out-of-range or repeated one."""
    chosen: list[int] = []
    for col in columns:
        if isinstance(col, str) and col in names:
            j = list(names).index(col)
        elif isinstance(col, str) and col.strip().isdigit():
            j = int(col)
        elif isinstance(col, (int, np.integer)) and not isinstance(col, bool):
            j = int(col)
        else:
            raise DataError(f"{path}: no column named '{col}' (columns: {format_names(names)})")
        if not 0 <= j < len(names):
            raise DataError(
                f"{path}: column index {j} is out of range "
                f"(the file has {len(names)} columns, 0 to {len(names) - 1})"
            )
        if j in chosen:
            raise DataError(f"{path}: column '{names[j]}' is chosen twice")
        chosen.append(j)
    if not chosen:
        raise DataError(f"{path}: no columns chosen")
    return chosen


def _fast_read(text: str, layout: _Layout, cols: list[int], before: int) -> Block | None:
    """Read a clean all-numeric block of lines (after the header) with ``np.loadtxt``: the rows,
    their file lines (``before`` lines come before the block) and no problems; None if anything
    is unusual (including blank lines among the rows, which would make the line numbers
    unknown)."""
    if not _has_content(text):  # blank lines only (loadtxt would warn)
        return None
    try:
        with np.errstate(all="ignore"):
            full = np.loadtxt(
                io.StringIO(text, newline=""),
                delimiter=layout.delimiter,
                quotechar='"',
                comments=None,
                dtype=np.float64,
                ndmin=2,
            )
    except ValueError:
        return None
    skip = layout.first_field
    if full.shape[1] != layout.n_fields:
        return None
    X = full[:, [j + skip for j in cols]]
    if X.shape[0] == 0 or not np.isfinite(X).all():
        return None
    n_lines = count_lines(text) + (not text.endswith(("\n", "\r")))
    if n_lines != X.shape[0]:
        return None
    return X, range(before + 1, before + n_lines + 1), []


def cell_problem(cell: str, name: str) -> str | None:
    """Why a cell is not a usable number (None if it is one)."""
    value = cell.strip()
    if not value:
        return f"column '{name}' is empty"
    try:
        number = float(value)
    except ValueError:
        hint = ""
        if "," in value and is_number(value.replace(",", ".", 1)):
            hint = " (decimal commas are not supported: use a decimal point)"
        return f"column '{name}' is '{cell}', not a number{hint}"
    if not np.isfinite(number):
        return f"column '{name}' is {number}, not a finite number"
    return None


#: Cells that ``read_csv(missing_as_nan=True)`` reads as missing (NaN), besides empty ones.
MISSING_CELLS = frozenset({"na", "nan"})


def _missing_or_float(cell: str) -> float:
    """float(cell), NaN for an empty cell or one of MISSING_CELLS (a missing value)."""
    text = cell.strip()
    return math.nan if not text or text.lower() in MISSING_CELLS else float(text)


def _careful_read(
    text: str, layout: _Layout, cols: list[int], path: Path, before: int, missing_as_nan: bool
) -> Block:
    """Parse a block of lines (after the header; ``before`` lines come before it) row by row with
    the csv module; return the good rows, their line numbers and one reason per bad row (with
    ``missing_as_nan``, missing cells are NaN, not a reason)."""
    number = _missing_or_float if missing_as_nan else float
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter)
    skip = layout.first_field
    names = [layout.names[j] for j in cols]
    fields = [j + skip for j in cols]
    n_fields = layout.n_fields
    values: list[list[float]] = []
    lines: list[int] = []
    problems: list[tuple[int, str]] = []
    end = before  # the last line read: the next row starts on the line after it
    try:
        for row in reader:
            start, end = end + 1, before + reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line, or empty fields only
            if len(row) != n_fields:
                n = len(row)
                reason = f"has {n} field{'s' if n != 1 else ''}, expected {n_fields}"
            else:
                try:
                    values.append([number(row[f]) for f in fields])
                    lines.append(start)
                    continue
                except ValueError:
                    cells = zip(fields, names, strict=True)
                    reason = next(r for r in (cell_problem(row[f], n) for f, n in cells) if r)
            if end > start or any("\n" in cell or "\r" in cell for cell in row):
                # a quoted field ran over a line end: most likely a missing closing quote
                reason = f"a quote opened on this row is still open on row {end} ({reason})"
            problems.append((start, reason))
    except csv.Error as exc:
        raise DataError(f"{path}: row {end + 1}: {exc}") from None
    X = np.array(values, dtype=np.float64).reshape(len(values), len(cols))
    finite = (~np.isinf(X) if missing_as_nan else np.isfinite(X)).all(axis=1)
    if not finite.all():
        for i in np.flatnonzero(~finite):
            row_problem = next(
                f"column '{n}' is {v}, not a finite number"
                for v, n in zip(X[i], names, strict=True)
                if not np.isfinite(v) and not (missing_as_nan and np.isnan(v))
            )
            problems.append((lines[i], row_problem))
        X = X[finite]
        problems.sort()
    good_lines = np.array(lines, dtype=np.int64)[finite]
    return X, good_lines, [f"row {line}: {reason}" for line, reason in problems]


def read_csv(
    path: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    header: bool | None = None,
    columns: Sequence[str | int] | None = None,
    drop_invalid: bool = False,
    dtype: type | np.dtype = np.float64,
    missing_as_nan: bool = False,
    progress: Progress | None = None,
) -> Dataset:
    """Read a numeric CSV file, in blocks (memory: about X plus one block of text).

    Parameters
    ----------
    path : str or path-like
    delimiter : str or None
        None sniffs comma, semicolon, tab or pipe.
    header : bool or None
        None detects whether the first row is a header.
    columns : sequence of str or int, or None
        Column names, or 0-based indices counting the data columns (the row-name column, if any,
        is not counted); a string of digits that is not a column name is an index. None uses every
        column that holds numbers (text columns are skipped).
    drop_invalid : bool
        Drop rows with a non-numeric, empty or non-finite cell in a chosen column, or with the wrong
        number of fields, instead of raising; they are counted in ``n_dropped`` with reasons.
    dtype : float dtype
        dtype of ``X`` (float64 or float32).
    missing_as_nan : bool
        Read an empty cell, ``NA`` or ``NaN`` in a chosen column as NaN, a missing value (for EM
        with missing values, em_engine.missing), instead of an invalid cell.
    progress : callable (bytes done, bytes in all) or None
        Called after each block.

    Returns
    -------
    Dataset
        ``X`` of shape (N, D) with N >= 1.

    Raises
    ------
    DataError
        Naming the file, row and column: unreadable or empty file, a header and no data, no numeric
        column, an unknown column, a ragged row, a non-numeric or non-finite cell (unless
        ``drop_invalid``), or no valid row at all.
    """
    table = csv_blocks(
        path,
        delimiter=delimiter,
        header=header,
        columns=columns,
        missing_as_nan=missing_as_nan,
        progress=progress,
    )
    return dataset_of_blocks(path, *table, drop_invalid=drop_invalid, dtype=dtype)


def dataset_of_blocks(
    path: str | os.PathLike[str],
    names: tuple[str, ...],
    blocks: Iterator[Block],
    capacity: int,
    *,
    drop_invalid: bool,
    dtype: type | np.dtype,
) -> Dataset:
    """The Dataset of a file's blocks (em_engine.blocks.gather: X (N, D) of the good rows, their
    file rows, the bad rows' reasons; DataError for a bad row unless ``drop_invalid``)."""
    X, lines, problems = gather(
        Path(path), blocks, len(names), drop_invalid=drop_invalid, dtype=dtype, capacity=capacity
    )
    return Dataset(
        X=X,
        feature_names=names,
        source=str(path),
        n_dropped=len(problems),
        drop_reasons=tuple(problems),
        lines=lines,
    )


def csv_blocks(
    path: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    header: bool | None = None,
    columns: Sequence[str | int] | None = None,
    missing_as_nan: bool = False,
    progress: Progress | None = None,
) -> tuple[tuple[str, ...], Iterator[Block], int]:
    """A CSV file as blocks, for ``read_csv`` and the out-of-core cache: the chosen columns'
    names (D,), the blocks (see em_engine.blocks) and a guess of the number of data rows.
    Arguments as for ``read_csv``; the layout and column errors are raised here, the rows' ones
    when the blocks are read."""
    path = Path(path)
    head = _read_head_text(path)
    layout, data_head, _ = _read_head(head, path, delimiter, header)
    if not data_head:
        raise DataError(f"{path}: the file has a header but no data rows")
    cols = _choose_columns(columns, layout, data_head, path)
    names = tuple(layout.names[j] for j in cols)
    bytes_per_line = len(head.encode("utf-8", "surrogatepass")) / max(count_lines(head), 1)
    capacity = int(path.stat().st_size / bytes_per_line * 1.02) + 1024
    blocks = (
        _fast_read(text, layout, cols, before)
        or _careful_read(text, layout, cols, path, before, missing_as_nan)
        for before, text in text_blocks(path, layout.header_end, progress)
    )
    return names, blocks, capacity


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write text to ``path`` atomically as UTF-8 (see ``write_bytes_atomic``)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write bytes to ``path`` atomically: a temporary file in the same folder, then a rename.

    Either the whole new file is there afterwards or the old one (if any) is untouched. A new file
    gets the usual permissions (0o666 minus the umask), a replaced one keeps its own. A symbolic
    link is written through (its target is replaced, the link stays). A target that is not a
    regular file (``/dev/null``, ``/dev/stdout``, a FIFO, a terminal) is written directly, as a
    shell's ``>`` would. Temporary files are named ``.NAME.PID-RANDOM.tmp``; ones left by a killed
    process are removed by the next write to the same target.
    """
    own = _own_descriptor(path)
    if own is not None:  # /dev/stdout, /dev/fd/N: our own open file, in its own mode
        for stream in (sys.stdout, sys.stderr):
            if stream is not None and _fileno(stream) == own:
                stream.flush()
        view = memoryview(data)
        while view:
            view = view[os.write(own, view) :]
        return
    target = Path(os.path.realpath(path))
    try:
        info = target.stat()
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    else:
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        if not stat.S_ISREG(info.st_mode):  # a device, a FIFO, a socket: no rename over it
            with open(target, "wb") as f:
                f.write(data)
            return
        mode = info.st_mode & 0o7777
    _remove_stale_temporaries(target)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=target.parent
        )
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:  # also KeyboardInterrupt, and SIGTERM as the command line raises it
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise


_OWN_FD = re.compile(r"/proc/(\d+)(?:/task/\d+)?/fd/(\d+)")


def _own_descriptor(path: str | os.PathLike[str]) -> int | None:
    """The file descriptor of this process that ``path`` names through /proc/self/fd, /dev/fd or
    /dev/stdout (following symbolic links), else None."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's limit on links followed
        folder = os.path.realpath(os.path.dirname(current))
        match = _OWN_FD.fullmatch(os.path.join(folder, os.path.basename(current)))
        if match and int(match.group(1)) == os.getpid():
            return int(match.group(2))
        if not os.path.islink(current):
            return None
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    return None


def _fileno(stream: object) -> int | None:
    try:
        return stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None


def _remove_stale_temporaries(target: Path) -> None:
    """Delete ``.NAME.PID-RANDOM.tmp`` files next to target whose process is gone (a killed
    write). Where a process cannot be asked about (Windows), a file another process still has
    open cannot be deleted there anyway."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)-\w+\.tmp")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or (os.name == "posix" and _process_exists(int(match.group(1)))):
            continue
        try:
            os.unlink(target.parent / name)
        except OSError:
            pass


def _process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True


def write_csv(
    path: str | os.PathLike[str] | None,
    data: np.ndarray,
    header: Sequence[str],
    fmt: str | Sequence[str] = "%.17g",
) -> str:
    """Format rows as comma-separated text with a header; write it atomically if a path is given.

    Parameters
    ----------
    path : str, path-like or None
        None only returns the text.
    data : ndarray of shape (N, C)
    header : sequence of str, length C
    fmt : str or sequence of C str
        printf-style formats; the default ``%.17g`` keeps float64 values exact.

    Returns
    -------
    str
        The CSV text (``\\n`` line endings).
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(header)
    np.savetxt(buffer, np.asarray(data).reshape(len(data), len(header)), fmt=fmt, delimiter=",")
    text = buffer.getvalue()
    if path is not None:
        write_text_atomic(path, text)
    return text
