"""``fit DATA --dask [SCHEDULER]``: the command line's fit on a Dask cluster.

With a scheduler address the fit runs on that cluster (its workers must be able to read DATA:
a path on a shared file system, or a URL that dask reads, s3://... with s3fs on the workers);
without one on a local cluster (``distributed.LocalCluster``, a worker process per core) started
for the command and closed after it. DATA is a CSV file (delimiter and header as the in-memory
reading detects them on a local file; a comma and a detected header otherwise) or Parquet (a
.parquet/.pq file or a folder of them), read by the workers through dask.dataframe; the fit uses
its numeric columns (or --columns). Dask and distributed are the optional extra
``em-explorer[dask]``: this module is imported only for --dask.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from em_engine.cli import CliError, _delimiter
from em_engine.data import Dataset, is_number, sniff_csv
from em_engine.errors import DataError, RowError

__all__ = ["dask_dataset"]

_PARQUET_SUFFIXES = (".parquet", ".pq")


def _is_local(path: str) -> bool:
    return "://" not in path


def _read(args: argparse.Namespace, dd: Any) -> Any:
    """The data as a dask dataframe of the chosen columns (without --columns: every column, less
    the text columns of a CSV file's first rows or a Parquet file's text columns). A chosen
    column, or a CSV column whose first rows hold numbers, that dask reads as text is an error
    naming it (as the command line without --dask refuses its first bad cell)."""
    path = args.data
    if _is_local(path):
        if not Path(path).exists():
            raise CliError(f"{path}: no such file or folder")
        path = str(Path(path).resolve())  # the workers' working folder may differ
    numbers_seen: set[str] = set()  # CSV columns with a number in the first rows
    if Path(path).is_dir() or path.lower().endswith(_PARQUET_SUFFIXES):
        frame = dd.read_parquet(path)
    else:
        # low_memory=False: a column with text is one error here, not also a pandas warning
        options: dict[str, Any] = {"sep": _delimiter(args.delimiter) or ",", "low_memory": False}
        if _is_local(path):
            preview = sniff_csv(path, delimiter=options["sep"] if args.delimiter else None)
            options["sep"] = preview.delimiter
            if not preview.has_header:
                options.update(header=None, names=list(preview.column_names))
            offset = 1 if preview.has_row_names else 0
            numbers_seen = {
                name
                for j, name in enumerate(preview.column_names)
                if any(
                    j + offset < len(row) and is_number(row[j + offset])
                    for row in preview.preview_rows
                )
            }
        frame = dd.read_csv(path, **options)
    names = [str(name) for name in frame.columns]
    if args.columns is None:
        meant = [name for name in names if name in numbers_seen]
    else:
        meant = []
        for column in args.columns:
            if column not in names and column.strip().isdigit() and int(column) < len(names):
                column = names[int(column)]
            if column not in names:
                raise CliError(f"{args.data}: no column named {column!r} (columns: {names[:10]})")
            meant.append(column)
    for name in meant:
        if getattr(frame.dtypes[name], "kind", "O") not in "biuf":
            raise CliError(
                f"{args.data}: column {name!r} holds a value that is not a number; --dask does "
                "not number rows: fit without --dask to find it"
            )
    return frame if args.columns is None else frame[meant]


@contextmanager
def _client(address: str) -> Iterator[Any]:
    """A distributed Client of the scheduler at ``address``, or of a new local cluster (""),
    closed (with the cluster) on leaving."""
    from distributed import Client, LocalCluster

    # a failed task is this command's one error line, not the workers' logged tracebacks
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        if address:
            with Client(address) as client:
                yield client
            return
        with (
            LocalCluster(dashboard_address=None, silence_logs=logging.CRITICAL) as cluster,
            Client(cluster) as client,
        ):
            yield client
    finally:
        logger.setLevel(level)


def _not_numbers(exc: ValueError, source: str) -> CliError | None:
    """dask's "Mismatched dtypes" error (a column with text beyond the rows its types were
    guessed from) as one line naming the column; None for other errors."""
    text = str(exc)
    if "Mismatched dtypes" not in text:
        return None
    rows = re.findall(r"^\|\s*(.+?)\s*\|[^|]*\|[^|]*\|$", text, re.MULTILINE)
    columns = [name for name in rows if name != "Column"]  # the table's header
    problem = re.search(r"ValueError\(\"(.+?)\"\)", text)
    where = f"column {', '.join(repr(c) for c in columns)}" if columns else "a column"
    why = f" ({problem.group(1)})" if problem else ""
    return CliError(
        f"{source}: {where} holds a value that is not a number{why}; --dask does not number "
        "rows: fit without --dask to find it"
    )


@contextmanager
def dask_dataset(args: argparse.Namespace) -> Iterator[Dataset]:
    """The --dask data as a Dataset whose X is a dask array (N, D) on a connected cluster, for
    the length of the with block. One-line errors: options --dask cannot take, dask missing, a
    row the fit refuses (named as the data's row, counted from 1 without the header)."""
    refused = {
        "--weights": args.weights is not None,
        "--drop-invalid": args.drop_invalid,
        f"--missing {args.missing}": args.missing != "error",
        f"--n-init {args.n_init}": args.n_init > 1,
    }
    for option, given in refused.items():
        if given:
            raise CliError(f"{option} cannot be used with --dask")
    try:
        import dask.dataframe as dd

        from em_engine.distributed import as_dask_array
    except ImportError:
        raise CliError(
            "--dask needs the optional packages dask and distributed: "
            "pip install 'em-explorer[dask]'"
        ) from None
    with _client(args.dask):
        try:
            # read once into the workers' memory: the fit's passes and the scores reuse it
            try:
                X, names = as_dask_array(_read(args, dd).persist())
            except DataError as exc:  # no numeric column, say
                raise CliError(f"{args.data}: {exc}") from None
            X = X.persist()
            if X.shape[0] < 2:
                raise CliError(f"{args.data} has {X.shape[0]} row of data; a fit needs at least 2")
            if names is None:  # a Parquet file's columns may be numbers
                names = [f"x{j + 1}" for j in range(X.shape[1])]
            yield Dataset(X=X, feature_names=tuple(names), source=args.data)
        except RowError as exc:
            column = "" if exc.column is None else f", column {names[exc.column]!r}"
            raise CliError(
                f"{args.data}: data row {exc.row + 1}{column}: {exc.reason}; nothing written"
            ) from None
        except ValueError as exc:
            error = _not_numbers(exc, args.data)
            if error is None:
                raise
            raise error from None
