"""Data files of either kind: CSV (em_engine.data) or Parquet (pyarrow, an optional extra:
``pip install em-explorer[parquet]``), chosen by the file name's ending.

pyarrow is imported only when a Parquet file is opened. A Parquet file is read by row groups and
record batches, so that memory stays about the output array plus one batch. Its rows are numbered
from 1 (there is no header line); numeric columns (integers, floats) are used, a null or
non-finite cell is a bad row as in a CSV file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from em_engine.blocks import Block, Progress
from em_engine.data import (
    CsvPreview,
    Dataset,
    csv_blocks,
    dataset_of_blocks,
    format_names,
    pick_columns,
    sniff_csv,
)
from em_engine.errors import DataError

__all__ = [
    "PARQUET_SUFFIXES",
    "is_parquet",
    "preview_table",
    "read_table",
    "split_weights",
    "table_blocks",
]

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_BATCH_ROWS = 256 * 1024
INSTALL_HINT = "pip install 'em-explorer[parquet]'"


def is_parquet(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a Parquet file (by its ending: .parquet, .pq or .parq)."""
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


def _open_parquet(path: Path) -> Any:
    """A ``pyarrow.parquet.ParquetFile``; DataError without pyarrow or for a file that is not
    Parquet."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet files needs pyarrow, which is not installed "
            f"(install it with: {INSTALL_HINT})"
        ) from None
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a Parquet file")
    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:  # not Parquet, or damaged
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None


def _is_numeric(arrow_type: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)


def _parquet_columns(
    parquet: Any, path: Path, columns: Sequence[str | int] | None
) -> tuple[list[str], list[int]]:
    """All column names and the chosen numeric ones' indices (every numeric column by default)."""
    schema = parquet.schema_arrow
    names = list(schema.names)
    if columns is None:
        chosen = [j for j, field in enumerate(schema) if _is_numeric(field.type)]
        if not chosen:
            raise DataError(f"{path}: no numeric columns (columns: {format_names(names)})")
        return names, chosen
    chosen = pick_columns(columns, names, path)
    for j in chosen:
        if not _is_numeric(schema.field(j).type):
            kind = schema.field(j).type
            raise DataError(f"{path}: column '{names[j]}' holds {kind}, not numbers")
    return names, chosen


def _parquet_blocks(
    parquet: Any, path: Path, names: list[str], missing_as_nan: bool, progress: Progress | None
) -> Iterator[Block]:
    """Record batches of the chosen columns as blocks; row r of the file is row r (from 1).
    With ``missing_as_nan`` a null or NaN cell is NaN (missing), not a bad row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    total_rows = parquet.metadata.num_rows
    size = path.stat().st_size
    done = 0
    batches = parquet.iter_batches(batch_size=_BATCH_ROWS, columns=names, use_threads=False)
    while True:
        try:
            batch = next(batches, None)
        except (OSError, pa.ArrowException) as exc:  # a damaged row group
            raise DataError(f"{path}: cannot read rows after row {done} ({exc})") from None
        if batch is None:
            return
        n = batch.num_rows
        X = np.empty((n, len(names)), dtype=np.float64)
        bad = np.zeros(n, dtype=bool)
        for j, column in enumerate(batch.columns):
            nulls = None
            if column.null_count:
                nulls = pc.is_null(column).to_numpy(zero_copy_only=False)
                column = pc.fill_null(column, 0)
            X[:, j] = column.to_numpy(zero_copy_only=False)
            if nulls is not None and missing_as_nan:
                X[nulls, j] = np.nan
            elif nulls is not None:
                bad |= nulls
        bad |= (np.isinf(X) if missing_as_nan else ~np.isfinite(X)).any(axis=1)
        rows = range(done + 1, done + n + 1)
        problems = []
        if bad.any():
            for i in np.flatnonzero(bad):
                problem = _problem(batch, int(i), X[i], names, missing_as_nan)
                problems.append(f"row {done + i + 1}: {problem}")
            yield X[~bad], np.asarray(rows)[~bad], problems
        else:
            yield X, rows, problems
        done += n
        if progress is not None:
            progress(size * done // max(total_rows, 1), size)


def _problem(batch: Any, i: int, values: np.ndarray, names: list[str], missing_as_nan: bool) -> str:
    """Why row i of a batch is bad: its first null or non-finite chosen cell (with
    ``missing_as_nan``, its first infinite one)."""
    for j, name in enumerate(names):
        if missing_as_nan and not np.isinf(values[j]):
            continue
        if not batch.column(j)[i].is_valid:
            return f"column '{name}' is empty"
        if not np.isfinite(values[j]):
            return f"column '{name}' is {values[j]}, not a finite number"
    raise AssertionError("a row marked bad has no bad cell")


def table_blocks(
    path: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    header: bool | None = None,
    columns: Sequence[str | int] | None = None,
    missing_as_nan: bool = False,
    progress: Progress | None = None,
) -> tuple[tuple[str, ...], Iterator[Block], int]:
    """A CSV or Parquet file as blocks: the chosen columns' names (D,), the blocks (see
    em_engine.blocks) and a guess of the number of rows. ``delimiter`` and ``header`` are for
    CSV files only."""
    if not is_parquet(path):
        return csv_blocks(
            path,
            delimiter=delimiter,
            header=header,
            columns=columns,
            missing_as_nan=missing_as_nan,
            progress=progress,
        )
    path = Path(path)
    parquet = _open_parquet(path)
    all_names, chosen = _parquet_columns(parquet, path, columns)
    names = [all_names[j] for j in chosen]
    blocks = _parquet_blocks(parquet, path, names, missing_as_nan, progress)
    return tuple(names), blocks, parquet.metadata.num_rows


def read_table(
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
    """Read a CSV or Parquet file as ``read_csv`` does (the same arguments; ``delimiter`` and
    ``header`` only for CSV; with ``missing_as_nan`` Parquet's nulls are NaN too); memory is
    about X plus one block or batch. Returns a Dataset with X (N, D)."""
    table = table_blocks(
        path,
        delimiter=delimiter,
        header=header,
        columns=columns,
        missing_as_nan=missing_as_nan,
        progress=progress,
    )
    return dataset_of_blocks(path, *table, drop_invalid=drop_invalid, dtype=dtype)


def split_weights(dataset: Dataset, name: str) -> Dataset:
    """The data set with its column ``name`` taken out of X as ``sample_weight`` (N,) float64;
    X stays a view when the weight column is the first or last (no copy of the data). The
    weights are checked by the fit (a bad one is a RowError naming its row). DataError when no
    column is left to fit."""
    j = dataset.feature_names.index(name)
    width = len(dataset.feature_names)
    if width == 1:
        raise DataError(f"{dataset.source}: no column is left to fit besides the weights {name!r}")
    rest = [k for k in range(width) if k != j]
    X = dataset.X
    fitted = X[:, 1:] if j == 0 else X[:, :-1] if j == width - 1 else X[:, rest]
    return replace(
        dataset,
        X=fitted,
        feature_names=tuple(dataset.feature_names[k] for k in rest),
        sample_weight=np.array(X[:, j], dtype=np.float64),
        weight_column=name,
    )


def preview_table(
    path: str | os.PathLike[str],
    *,
    n_preview: int = 20,
    delimiter: str | None = None,
    header: bool | None = None,
) -> CsvPreview:
    """The start of a CSV file (``sniff_csv``) or of a Parquet file: its column names and first
    rows as text (a Parquet preview has an empty delimiter and always a header)."""
    if not is_parquet(path):
        return sniff_csv(path, n_preview=n_preview, delimiter=delimiter, header=header)
    path = Path(path)
    parquet = _open_parquet(path)
    names = tuple(parquet.schema_arrow.names)
    rows: list[tuple[str, ...]] = []
    if parquet.metadata.num_rows and n_preview > 0:
        batch = next(parquet.iter_batches(batch_size=n_preview, use_threads=False))
        columns = [batch.column(j).to_pylist() for j in range(len(names))]
        rows = [
            tuple("" if column[i] is None else str(column[i]) for column in columns)
            for i in range(batch.num_rows)
        ]
    return CsvPreview(
        path=str(path),
        delimiter="",
        has_header=True,
        column_names=names,
        preview_rows=tuple(rows),
        has_row_names=False,
        preview_lines=tuple(range(1, len(rows) + 1)),
    )
