"""The command line: ``fit``, ``score``, ``select`` and ``--version`` (through main.py).

Every bad input ends with exactly one line ``error: ...`` on stderr and exit status 2, with no
traceback and no partial output file (outputs are written atomically, after all work is done).
Usage errors found by argparse are reported the same way. Progress of long runs goes to stderr at
most once a second; results go to stdout or the --out file.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import numpy as np

from em_engine._version import __version__
from em_engine.covariance import COVARIANCE_TYPES
from em_engine.errors import DataError, EMError, RowError
from em_engine.init import INIT_METHODS

if TYPE_CHECKING:
    from em_engine.data import Dataset

__all__ = ["COMMAND_WORDS", "main"]

EXIT_ERROR = 2
EXIT_TERMINATED = 128 + signal.SIGTERM
_PROGRESS_INTERVAL = 1.0  # seconds between progress lines on stderr
_DATA_HELP = "CSV or Parquet (.parquet, needs pyarrow) file with one sample per row"


class CliError(Exception):
    """A problem to report as one ``error:`` line."""


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that cleanups run (no temporary file is left)."""


def _display(text: str) -> str:
    """Text as a terminal should get it: bytes of a file name that are not UTF-8 as \\xNN,
    control and other unprintable characters escaped (a NUL or an escape sequence is never
    written raw); line breaks kept."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() or ch == "\n" else ascii(ch)[1:-1] for ch in text)


def _say(text: str, stream: TextIO) -> None:
    """Print text safely for the stream's encoding (what it cannot encode is escaped)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    text = _display(text).encode(encoding, "backslashreplace").decode(encoding)
    print(text, file=stream, flush=True)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one ``error:`` line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')")


# --- argument types ------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed >= 0, got {text!r}")
    return value


def _component_range(text: str) -> list[tuple[int, int]]:
    """'1-8', '3' or '2,4,6-8' -> sorted, merged (first, last) ranges of positive K (a range is
    not expanded here: '1-100000000' is refused later, once the number of rows is known)."""
    ranges = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            first = int(lo)
            last = int(hi) if sep else first
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected K, a range such as 1-8, or a list such as 2,4,6-8; got {text!r}"
            ) from None
        if first < 1 or last < first:
            raise argparse.ArgumentTypeError(
                f"expected a range of positive K such as 1-8, got {text!r}"
            )
        ranges.append((first, last))
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _covariance_list(text: str) -> list[str]:
    """'all', a type, or a comma list of types."""
    if text == "all":
        return list(COVARIANCE_TYPES)
    types = [t.strip() for t in text.split(",")]
    for t in types:
        if t not in COVARIANCE_TYPES:
            raise argparse.ArgumentTypeError(
                f"unknown covariance type {t!r}; choose from {', '.join(COVARIANCE_TYPES)} or all"
            )
    return list(dict.fromkeys(types))


def _columns(text: str) -> list[str]:
    columns = [c.strip() for c in text.split(",")]
    if not all(columns):
        raise argparse.ArgumentTypeError(
            f"expected column names or indices such as a,b or 0,2; got {text!r}"
        )
    return columns


# --- parser --------------------------------------------------------------------------------------


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--drop-invalid",
        action="store_true",
        help="skip rows with a missing, non-numeric or infinite value (counted on stderr) "
        "instead of stopping with an error",
    )
    parser.add_argument(
        "--columns",
        type=_columns,
        metavar="A,B",
        help="columns to use, by header name or 0-based index (default: every numeric column)",
    )
    parser.add_argument(
        "--delimiter",
        metavar="CHAR",
        help="field delimiter (default: detected among comma, semicolon, tab and |); 'tab' for tab",
    )


def _add_missing_option(parser: argparse.ArgumentParser, em: str) -> None:
    parser.add_argument(
        "--missing",
        choices=("error", "drop", "em"),
        default="error",
        help="rows with missing cells (empty, NA or NaN): 'error' stops (default), 'drop' skips "
        f"the rows (counted on stderr), 'em' {em}",
    )


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--init",
        choices=INIT_METHODS,
        default="kmeans",
        help="how to choose the starting parameters (default: %(default)s)",
    )
    parser.add_argument(
        "--n-init",
        type=_positive_int,
        default=1,
        metavar="N",
        help="number of starts; the best is kept (default: %(default)s)",
    )
    parser.add_argument(
        "--max-iter",
        type=_positive_int,
        default=100,
        metavar="N",
        help="maximum number of EM iterations per start (default: %(default)s)",
    )
    parser.add_argument(
        "--tol",
        type=_non_negative_float,
        default=1e-3,
        metavar="X",
        help="stop when the per-row log-likelihood gains less than this (default: %(default)s)",
    )
    parser.add_argument(
        "--reg-covar",
        type=_non_negative_float,
        default=1e-6,
        metavar="X",
        help="added to covariance diagonals to keep them positive definite (default: %(default)s)",
    )
    parser.add_argument(
        "--prior",
        action="store_true",
        help="MAP estimation with the default conjugate prior instead of maximum likelihood",
    )
    parser.add_argument(
        "--seed", type=_seed, default=0, metavar="S", help="random seed (default: %(default)s)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for all subcommands."""
    parser = _Parser(
        prog=Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "em-explorer",
        description="EM Explorer command line: fit Gaussian mixtures by EM, score data with a "
        "saved model, compare models by BIC/AIC/ICL. Run without arguments for the desktop app.",
    )
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"EM Explorer {__version__}",
        help="print the version and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fit = sub.add_parser(
        "fit",
        help="fit a Gaussian mixture to a CSV file and save it as JSON",
        description="Fit a Gaussian mixture by EM; print log-likelihood, BIC, "
        "iterations and convergence; save the model as JSON with --out. With --n-init N, "
        "start i uses seed S+i; the best start is kept and the distinct optima the starts "
        "reached are listed (log-likelihood, BIC, how many starts, which seeds).",
    )
    fit.add_argument("data", metavar="DATA", help=_DATA_HELP)
    fit.add_argument(
        "-k",
        "--components",
        type=_positive_int,
        required=True,
        metavar="K",
        help="number of mixture components",
    )
    fit.add_argument(
        "--covariance",
        choices=COVARIANCE_TYPES,
        default="full",
        help="covariance type (default: %(default)s)",
    )
    _add_fit_options(fit)
    fit.add_argument(
        "--mode",
        choices=tuple(_MODE_NAMES),
        default="soft",
        help="soft: EM; hard: classification EM (each row to its most likely component); kmeans: "
        "hard EM with equal weights and one shared round covariance (default: %(default)s)",
    )
    _add_data_options(fit)
    _add_missing_option(
        fit, "fits them by EM, missing at random (each row's observed cells count; see README)"
    )
    fit.add_argument(
        "--weights",
        metavar="COLUMN",
        help="a column of frequency weights (name or 0-based index; not fitted): a row of weight "
        "w counts as w copies, 0 leaves it out",
    )
    fit.add_argument(
        "--dask",
        nargs="?",
        const="",
        metavar="SCHEDULER",
        help="fit on a Dask cluster (the optional extra em-explorer[dask]): the scheduler's "
        "address, e.g. tcp://host:8786, or none for a local cluster; DATA (CSV or Parquet) is "
        "read by the workers",
    )
    fit.add_argument(
        "--out-of-core",
        action="store_true",
        help="for data larger than memory: convert the file once into a memory-mapped cache "
        "and fit over it in blocks (starts from a random sample of 100,000 rows)",
    )
    fit.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="folder of the --out-of-core cache (default: em-explorer-cache in the temporary "
        "folder); a cache is reused while its file is unchanged",
    )
    fit.add_argument(
        "-o",
        "--out",
        metavar="MODEL.json",
        help="write the fitted model here (JSON; see resources/model.schema.json)",
    )

    score = sub.add_parser(
        "score",
        help="label rows of a CSV file with a saved model",
        description="For every row: the most likely component (label, from 1), "
        "the log-density and the responsibility of each component.",
    )
    score.add_argument("model", metavar="MODEL.json", help="model file written by 'fit' or the app")
    score.add_argument("data", metavar="DATA", help=_DATA_HELP)
    _add_data_options(score)
    _add_missing_option(score, "scores each row by the density of its observed cells")
    score.add_argument(
        "-o",
        "--out",
        metavar="OUT.csv",
        help="write the results to this CSV file (default: standard output)",
    )

    select = sub.add_parser(
        "select",
        help="compare numbers of components and covariance types",
        description="Fit every K and covariance type; print a BIC/AIC/ICL table "
        "with the best model (lowest BIC) marked and the best by ICL named.",
    )
    select.add_argument("data", metavar="DATA", help=_DATA_HELP)
    select.add_argument(
        "-k",
        "--components",
        type=_component_range,
        default=[(1, 8)],
        metavar="RANGE",
        help="K values: 1-8, 3, or 2,4,6-8 (default: 1-8)",
    )
    select.add_argument(
        "--covariance",
        type=_covariance_list,
        default=list(COVARIANCE_TYPES),
        metavar="TYPE",
        help="full, tied, diag, spherical, a comma list of them, or all (default: all)",
    )
    _add_fit_options(select)
    _add_data_options(select)
    _add_missing_option(select, "fits them by EM, missing at random, in every model")
    return parser


# --- helpers -------------------------------------------------------------------------------------


class _Progress:
    """Prints a progress line on stderr at most once per interval, starting after one interval."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.interval = _PROGRESS_INTERVAL
        self.next_time = time.monotonic() + self.interval

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now >= self.next_time:
            self.next_time = now + self.interval
            _say(message, self.stream)


def _delimiter(text: str | None) -> str | None:
    if text is None:
        return None
    if text.lower() in ("tab", "\\t"):
        return "\t"
    if len(text) != 1:
        raise CliError(f"--delimiter must be one character or 'tab', got {text!r}")
    return text


def _load_data(args: argparse.Namespace, columns: Sequence[str] | None = None) -> Dataset:
    """The data file (CSV or Parquet), with a progress bar on a terminal, its missing cells
    treated as --missing says; with --out-of-core its memory-mapped cache."""
    from em_engine.missing import read_with_missing
    from em_engine.progressbar import TerminalBar

    missing = getattr(args, "missing", "error")
    out_of_core = getattr(args, "out_of_core", False)
    if out_of_core and missing != "error":
        raise CliError(f"--missing {missing} cannot be used with --out-of-core")
    options = {
        "delimiter": _delimiter(args.delimiter),
        "columns": columns if columns is not None else args.columns,
        "drop_invalid": getattr(args, "drop_invalid", False),
    }
    verb = "caching" if out_of_core else "reading"
    bar = TerminalBar(sys.stderr, _display(f"{verb} {args.data}"))
    try:
        if out_of_core:
            from em_engine.outofcore import cached_dataset

            dataset = cached_dataset(args.data, cache_dir=args.cache_dir, progress=bar, **options)
        else:
            dataset = read_with_missing(args.data, missing, progress=bar, **options)
    finally:
        bar.close()
    if dataset.n_dropped:  # said once the command has succeeded (a failure is one line)
        args.notes.append(
            f"dropped {dataset.n_dropped} invalid row{'s' if dataset.n_dropped > 1 else ''} "
            f"(first: {dataset.drop_reasons[0]})"
        )
    missing = np.isnan(dataset.X) if missing == "em" else np.zeros((1, 1), dtype=bool)
    if missing.any():
        cells, rows = int(missing.sum()), np.flatnonzero(missing.any(axis=1))
        first = rows[0] + 1 if dataset.lines is None else dataset.lines[rows[0]]
        how = "scored" if args.command == "score" else "fitted by EM, missing at random"
        args.notes.append(
            f"{cells} missing cell{'s' * (cells > 1)} in {len(rows)} row{'s' * (len(rows) > 1)} "
            f"(first: row {first}): {how} from the observed cells"
        )
    return dataset


def _load_weighted_data(args: argparse.Namespace) -> tuple[Dataset, np.ndarray | None]:
    """The data and, with --weights, its weight column (N,) split off the fitted columns: read
    once, as the chosen columns plus the weight column (or every numeric column)."""
    if args.weights is None:
        return _load_data(args), None
    from em_engine.tables import preview_table, split_weights

    names = preview_table(args.data, delimiter=_delimiter(args.delimiter)).column_names
    name = args.weights
    if name not in names and name.isdigit() and int(name) < len(names):
        name = names[int(name)]
    if name not in names:
        raise CliError(
            f"{args.data}: no column {args.weights!r} for --weights (columns: "
            f"{', '.join(names[:10])}{', ...' if len(names) > 10 else ''})"
        )
    columns = None if args.columns is None else [*args.columns, name]
    dataset = _load_data(args, columns)
    if name not in dataset.feature_names:
        raise CliError(f"{args.data}: the weight column {name!r} holds no numbers")
    fitted = split_weights(dataset, name)
    return fitted, fitted.sample_weight


@contextmanager
def _naming_rows(dataset: Dataset) -> Iterator[None]:
    """A row the engine refuses (one it cannot score, a value too large to fit) is named as the
    file's row (its line) and column name, not X's indices."""
    try:
        yield
    except RowError as exc:
        message = exc.located(dataset.source, dataset.lines, dataset.feature_names)
        raise CliError(f"{message}; nothing written") from None


def _check_output(path: str | None, inputs: Sequence[str]) -> None:
    """Fail early, before any work, if an output file could not be written or is one of the
    command's own inputs (it would be replaced by the output)."""
    if path is None:
        return
    out = Path(path)
    if out.is_dir():
        raise CliError(f"{out}: is a folder; give a file name for --out")
    if not out.parent.is_dir():
        raise CliError(f"{out}: the folder {out.parent} does not exist")
    for given in inputs:
        try:
            same = os.path.samefile(out, given)
        except OSError:  # either does not exist (yet)
            continue
        if same:
            raise CliError(f"{out}: --out is the input {given}; choose another file for --out")


#: The fit modes (em_engine.iteration.MODES) as the summary names them.
_MODE_NAMES = {"soft": "soft EM", "hard": "hard (classification) EM", "kmeans": "k-means"}


def _fit_params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "init": args.init,
        "n_init": args.n_init,
        "max_iter": args.max_iter,
        "tol": args.tol,
        "reg_covar": args.reg_covar,
        "seed": args.seed,
        "prior": bool(args.prior),
        "mode": args.mode,
        # --missing drop has left those rows out already; em fits their observed cells
        "missing": "em" if getattr(args, "missing", "error") == "em" else "error",
    }


def _describe(dataset: Dataset) -> str:
    from em_engine.data import format_names

    n, d = dataset.X.shape
    return (
        f"{dataset.source}: {n} row{'s' if n != 1 else ''} x {d} column{'s' if d != 1 else ''} "
        f"({format_names(dataset.feature_names)})"
    )


# --- commands ------------------------------------------------------------------------------------


def _check_rows(X: np.ndarray, source: str) -> None:
    """A fit needs at least 2 rows of data (scikit-learn's estimator's rule)."""
    if X.shape[0] < 2:
        raise CliError(f"{source} has {X.shape[0]} row of data; a fit needs at least 2")


def _note_reg_covar(args: argparse.Namespace, dataset: Dataset) -> None:
    """Say (after success) when reg_covar swamps a column's variance."""
    from em_engine.checks import reg_covar_note

    note = reg_covar_note(dataset.X, args.reg_covar, dataset.feature_names)
    if note is not None:
        args.notes.append(f"note: {note}")


def _cmd_fit(args: argparse.Namespace) -> int:
    if args.out == "-":
        raise CliError(
            "--out -: the model is written to a file; give its name (the summary "
            "goes to standard output)"
        )
    if args.mode == "kmeans" and args.prior:
        raise CliError("--mode kmeans is maximum likelihood only: it takes no --prior")
    _check_output(args.out, [args.data])
    if args.out_of_core and (args.dask is not None or args.n_init > 1):
        other = "--dask" if args.dask is not None else f"--n-init {args.n_init}"
        raise CliError(f"--out-of-core cannot be used with {other}")
    if args.dask is not None:
        from em_engine.cli_dask import dask_dataset

        with dask_dataset(args) as dataset:
            return _fit_and_report(args, dataset, None)
    dataset, weights = _load_weighted_data(args)
    _check_rows(dataset.X, args.data)
    _note_reg_covar(args, dataset)
    return _fit_and_report(args, dataset, weights)


def _weights_note(args: argparse.Namespace, weights: np.ndarray | None) -> str:
    """ ", weighted by column 'w' (total weight 2000)" for --weights; empty without."""
    if weights is None:
        return ""
    return f", weighted by column {args.weights!r} (total weight {float(weights.sum()):g})"


def _fit_and_report(args: argparse.Namespace, dataset: Dataset, weights: np.ndarray | None) -> int:
    """Fit dataset.X (a numpy or, with --dask, a dask array), print the summary, write --out."""
    from em_engine.mixture import build_mixture
    from em_engine.modelio import save_model, scores_details

    X = dataset.X
    if args.components > X.shape[0]:
        raise CliError(
            f"{args.components} components need at least {args.components} rows; "
            f"{args.data} has {X.shape[0]}"
        )
    report = _Progress(sys.stderr)
    optima = None
    # --dask: em_engine.cli_dask names a refused row (the file's lines are not known there)
    with nullcontext() if args.dask is not None else _naming_rows(dataset):
        if args.n_init > 1:
            model, optima = _fit_starts(args, X, weights, report)
            scores = model.scores(X, sample_weight=weights)
        else:
            model = build_mixture(
                args.components,
                args.covariance,
                progress=lambda it, bound: report(f"iteration {it}: objective per row {bound:.6g}"),
                **_fit_params(args),
            )
            if args.out_of_core:
                from em_engine import outofcore

                model = outofcore.fit_out_of_core(model, X, weights)
                scores = outofcore.scores(model, X, weights)
            else:
                scores = model.fit(X, sample_weight=weights).scores(X, sample_weight=weights)
    n, log_likelihood = scores.n_samples, scores.log_likelihood
    lines = [
        f"data: {_describe(dataset)}{_weights_note(args, weights)}",
        f"model: {args.components} component{'s' if args.components > 1 else ''}, "
        f"{args.covariance} covariance, "
        f"{'MAP (conjugate prior)' if args.prior else 'maximum likelihood'}, "
        f"{_MODE_NAMES[args.mode]}, init {args.init}, seed {args.seed}",
        f"log-likelihood: {log_likelihood:.6f} "
        f"(per {'row' if weights is None else 'unit of weight'} {log_likelihood / n:.6f})",
        f"BIC: {scores.bic:.6f}",
        f"AIC: {scores.aic:.6f}",
        f"iterations: {model.n_iter_}",
        f"converged: {'yes' if model.converged_ else 'no (try a larger --max-iter or --tol)'}",
    ]
    if optima is not None:
        lines[1] = f"{lines[1]} (the best of {args.n_init} starts: seed {model.random_state})"
    if args.out is not None:
        # The scores just computed, rather than X (which would score the data again).
        details = scores_details(scores)
        _write(
            args.out,
            lambda: save_model(
                model, args.out, feature_names=dataset.feature_names, details=details
            ),
        )
        lines.append(f"model file: {args.out}")
    if optima is not None:
        lines.append(optima)
    _say("\n".join(lines), sys.stdout)
    return 0


def _fit_starts(
    args: argparse.Namespace, X: np.ndarray, weights: np.ndarray | None, report: _Progress
) -> tuple[Any, str]:
    """--n-init N: start i with seed S + i (one start each), grouped into distinct optima;
    the model with the best log-likelihood and the optima's table."""
    from em_engine.mixture import build_mixture
    from em_engine.optima import group_optima, optima_table, run_starts

    params = {**_fit_params(args), "n_init": 1}
    del params["seed"]
    starts, model = run_starts(
        X,
        lambda seed: build_mixture(args.components, args.covariance, seed=seed, **params),
        range(args.seed, args.seed + args.n_init),
        weights,
        progress=lambda done, total: report(f"start {done}/{total} done"),
    )
    n = float(X.shape[0] if weights is None else weights.sum())
    optima = group_optima(starts, n, np.nanstd(X, axis=0))  # NaN: missing cells
    return model, optima_table(optima, len(starts))


def _score_columns(args: argparse.Namespace, model: Any) -> Sequence[str] | None:
    """The model's feature names if the file has them all; else None (the default columns)."""
    if args.columns is not None:
        return args.columns
    from em_engine.tables import preview_table

    preview = preview_table(args.data, delimiter=_delimiter(args.delimiter))
    names = list(model.feature_names_)
    if preview.has_header and all(name in preview.column_names for name in names):
        return names
    return None


def _cmd_score(args: argparse.Namespace) -> int:
    from em_engine.data import format_names, write_text_atomic
    from em_engine.modelio import load_model, write_assignments

    if args.out == "-":  # the usual name of standard output
        args.out = None
    _check_output(args.out, [args.model, args.data])
    model = load_model(args.model).set_params(missing=args.missing)
    dataset = _load_data(args, _score_columns(args, model))
    X = dataset.X
    d = model.means_.shape[1]
    ours, theirs = format_names(dataset.feature_names), format_names(model.feature_names_)
    if X.shape[1] != d:
        raise CliError(
            f"the model has {d} feature{'s' if d != 1 else ''} ({theirs}) "
            f"but {args.data} gives {X.shape[1]} ({ours}); choose them with --columns"
        )
    if tuple(dataset.feature_names) != tuple(model.feature_names_) and args.columns is None:
        args.notes.append(
            f"note: using the columns {ours} of {args.data} for the model's features {theirs}"
        )
    with _naming_rows(dataset):
        # all of it before anything is written; rows numbered as the file's rows
        text = write_assignments(None, model, X, dataset.lines)
    if args.out is None:
        sys.stdout.write(text)
    else:
        _write(args.out, lambda: write_text_atomic(args.out, text))
        args.notes.append(f"{X.shape[0]} rows scored; results in {args.out}")
    return 0


def _cmd_select(args: argparse.Namespace) -> int:
    from em_engine.selection import check_components, select_model

    dataset = _load_data(args)
    _check_rows(dataset.X, args.data)
    _note_reg_covar(args, dataset)
    n_values = sum(last - first + 1 for first, last in args.components)
    try:
        check_components(args.components[-1][1], n_values, len(args.covariance), dataset.X.shape[0])
    except DataError as exc:
        raise CliError(f"{args.data}: {exc}") from None
    components = [k for first, last in args.components for k in range(first, last + 1)]
    report = _Progress(sys.stderr)

    def progress(row: Any, done: int, total: int) -> None:
        report(f"fitted {done}/{total} (K = {row.n_components}, {row.covariance_type})")

    result = select_model(
        dataset.X,
        components,
        args.covariance,
        n_init=args.n_init,
        seed=args.seed,
        init=args.init,
        max_iter=args.max_iter,
        tol=args.tol,
        reg_covar=args.reg_covar,
        prior=True if args.prior else None,
        progress=progress,
        missing="em" if args.missing == "em" else "error",  # drop: the rows are left out already
    )
    _say(f"data: {_describe(dataset)}\n{result.table()}", sys.stdout)
    return 0


def _write(path: str, write: Callable[[], object]) -> None:
    try:
        write()
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


_COMMANDS = {"fit": _cmd_fit, "score": _cmd_score, "select": _cmd_select}
#: First arguments that mean the command line (main.py starts the window for anything else).
COMMAND_WORDS = frozenset({*_COMMANDS, "--version", "-V", "-h", "--help"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 success, 2 bad input or out of memory,
    130 interrupted, 143 terminated by SIGTERM)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    previous = _raise_on_sigterm()
    try:
        try:
            parser = build_parser()
            args, extra = parser.parse_known_args(args_list)
            if extra:  # named with the subcommand's own help, not the top level's
                raise CliError(
                    f"unrecognized arguments: {' '.join(extra)} "
                    f"(see '{parser.prog} {args.command} --help')"
                )
        except SystemExit as exc:  # --help and --version
            return exc.code if isinstance(exc.code, int) else 0
        args.notes = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            status = _COMMANDS[args.command](args)
        for note in args.notes:
            _say(note, sys.stderr)
        return status
    except (CliError, EMError, ValueError, OSError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        _say(f"error: {message}", sys.stderr)
        return EXIT_ERROR
    except MemoryError:
        _say("error: out of memory (try fewer rows, columns or components)", sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say("error: interrupted", sys.stderr)
        return 130
    except _Terminated:
        _say("error: terminated", sys.stderr)
        return EXIT_TERMINATED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_on_sigterm() -> Any:
    """Make SIGTERM raise _Terminated in the main thread (so that a temporary file being written is
    removed, as on Ctrl-C); returns the previous handler, or None where none can be set."""

    def terminate(signum: int, frame: Any) -> None:
        raise _Terminated

    try:
        return signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread
        return None
