"""Fitting data larger than memory on one machine: convert a CSV or Parquet file once, streaming,
into a memory-mapped float64 ``.npy`` cache, then run the normal engine over the memory map.

The cache lives in a cache folder (default: ``em-explorer-cache`` in the system's temporary
folder), named by the source's path, size and modification time and the reading options, so that
it is reused while the source is unchanged; it is written under a temporary name and renamed when
complete (a killed conversion leaves no cache that looks whole). A ``.json`` file beside it holds
the column names and the file row of every data row (as runs).

Memory during a fit is bounded independently of N: the E-step runs over blocks of rows of the
memory map (em_engine.gaussian), the data checks use reductions without (N, D) temporaries, the
fit computes no labels, and the start comes from a bounded random subsample (``init_rows`` rows,
default 100,000) rather than responsibilities for all N rows. Only the operating system's page
cache holds the file, and it gives pages back under memory pressure. With the same initial
parameters the fit's numbers are those of the in-memory fit.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from em_engine import gaussian
from em_engine.blocks import Progress, RowLines, gather
from em_engine.covariance import compute_precision_cholesky, precisions_from_precision_cholesky
from em_engine.data import Dataset, write_text_atomic
from em_engine.errors import DataError
from em_engine.init import check_random_state, initial_parameters
from em_engine.mixture import GaussianMixture, Scores
from em_engine.tables import table_blocks

__all__ = ["INIT_ROWS", "cached_dataset", "default_cache_dir", "fit_out_of_core", "scores"]

INIT_ROWS = 100_000
_CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """The default cache folder: ``em-explorer-cache`` in the system's temporary folder."""
    return Path(tempfile.gettempdir()) / "em-explorer-cache"


def _npy_header(n_rows: int, n_columns: int) -> bytes:
    """The .npy header of a C-ordered float64 (n_rows, n_columns) array. numpy pads it for up
    to 21 digits of rows, so it is as long for 0 rows as for the final count."""
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (n_rows, n_columns)}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def _cache_names(source: Path, folder: Path, options: Sequence[Any]) -> tuple[Path, Path]:
    """The cache's array and description files for a source and its reading options."""
    info = source.stat()
    key = json.dumps(
        [str(source.resolve()), info.st_size, info.st_mtime_ns, *options, _CACHE_VERSION]
    )
    stem = f"{source.stem}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"
    return folder / f"{stem}.npy", folder / f"{stem}.json"


def _load(array_path: Path, meta_path: Path, source: Path) -> Dataset | None:
    """The cached data set, or None when there is no complete cache."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        X = np.load(array_path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if X.shape != (meta["rows"], len(meta["names"])) or X.dtype != np.float64:
        return None
    runs = [tuple(run) for run in meta["runs"]]
    return Dataset(
        X=X,
        feature_names=tuple(meta["names"]),
        source=str(source),
        n_dropped=meta["n_dropped"],
        drop_reasons=tuple(meta["drop_reasons"]),
        lines=RowLines.from_runs(runs, meta["rows"]).simplest(),
    )


def cached_dataset(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str | int] | None = None,
    delimiter: str | None = None,
    drop_invalid: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """A CSV or Parquet file as a Dataset whose X (N, D) is a read-only float64 memory map of
    its cache (converted now, streaming, or reused). Arguments as for ``read_table``;
    ``cache_dir`` defaults to ``default_cache_dir()``. Raises DataError as ``read_table`` does,
    or when the cache folder cannot be written."""
    source = Path(path)
    if not source.is_file():
        problem = "not a file" if source.exists() else "no such file"
        raise DataError(f"{source}: {problem}")
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    options = [[str(c) for c in columns] if columns is not None else None, delimiter, drop_invalid]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        array_path, meta_path = _cache_names(source, folder, options)
        cached = _load(array_path, meta_path, source)
        if cached is not None:
            return cached
        return _convert(source, array_path, meta_path, columns, delimiter, drop_invalid, progress)
    except OSError as exc:
        raise DataError(f"{folder}: cannot write the cache ({exc.strerror or exc})") from None


def _convert(
    source: Path,
    array_path: Path,
    meta_path: Path,
    columns: Sequence[str | int] | None,
    delimiter: str | None,
    drop_invalid: bool,
    progress: Progress | None,
) -> Dataset:
    """Stream the source into the cache (temporary name, then renamed) and load it."""
    names, blocks, _ = table_blocks(source, delimiter=delimiter, columns=columns, progress=progress)
    width = len(names)
    header = _npy_header(0, width)
    fd, tmp = tempfile.mkstemp(prefix=f".{array_path.name}.", suffix=".tmp", dir=array_path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            _, lines, problems = gather(
                source,
                blocks,
                width,
                drop_invalid=drop_invalid,
                sink=lambda X: f.write(np.ascontiguousarray(X, dtype="<f8")),
            )
            final = _npy_header(len(lines), width)
            if len(final) != len(header):  # numpy's spare room for the row count ran out
                raise DataError(f"{source}: too many rows for the cache ({len(lines)})")
            f.seek(0)
            f.write(final)
            f.flush()
            os.fsync(f.fileno())
        runs = lines.runs() if isinstance(lines, RowLines) else [(0, lines.start)]
        meta = {
            "source": str(source),
            "names": list(names),
            "rows": len(lines),
            "n_dropped": len(problems),
            "drop_reasons": problems[:100],
            "runs": runs,
        }
        write_text_atomic(meta_path, json.dumps(meta))
        os.replace(tmp, array_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    loaded = _load(array_path, meta_path, source)
    assert loaded is not None, "a cache just written could not be read back"
    return loaded


def _start(
    model: GaussianMixture,
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    rng: np.random.Generator,
    init_rows: int,
) -> dict[str, np.ndarray]:
    """Initial weights (K,), means (K, D) and precisions (type shape) by the model's init
    method on ``init_rows`` rows of X drawn at random (all rows when there are fewer)."""
    n = X.shape[0]
    rows = np.sort(rng.choice(n, size=min(n, init_rows), replace=False))
    weights = None if sample_weight is None else sample_weight[rows]
    if weights is not None and not weights.any():
        weights = None  # a sample of only weightless rows: start as if unweighted
    ct = model.covariance_type
    w, means, covariances = initial_parameters(
        np.asarray(X[rows]),
        model.n_components,
        ct,
        model.init_params,
        rng,
        model.reg_covar,
        sample_weight=weights,
    )
    pc = compute_precision_cholesky(covariances, ct)
    return {
        "weights_init": w / w.sum(),
        "means_init": means,
        "precisions_init": precisions_from_precision_cholesky(pc, ct),
    }


def fit_out_of_core(
    model: GaussianMixture,
    X: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    init_rows: int = INIT_ROWS,
) -> GaussianMixture:
    """Fit ``model``'s settings over X (N, D), typically ``cached_dataset(...).X``, with memory
    bounded independently of N.

    Each of the model's ``n_init`` starts comes from ``init_rows`` rows drawn at random (with the
    model's random_state) and its init method; the run with the largest lower bound is returned
    (a new fitted estimator). A model given weights_init, means_init and precisions_init starts
    from those, exactly as ``model.fit(X)`` would. sample_weight: (N,) or None.
    """
    params = model.get_params()
    if all(params.get(name) is not None for name in ("weights_init", "means_init")) and (
        params.get("precisions_init") is not None
    ):
        return GaussianMixture(**params).fit(X, sample_weight=sample_weight)
    state = check_random_state(model.random_state)
    seed = state.integers(2**31) if isinstance(state, np.random.Generator) else state.randint(2**31)
    rng = np.random.default_rng(int(seed))
    best = None
    for _ in range(model.n_init):
        start = _start(model, X, sample_weight, rng, init_rows)
        run = GaussianMixture(**{**params, "n_init": 1, **start})
        run.fit(X, sample_weight=sample_weight)
        if best is None or run.lower_bound_ > best.lower_bound_:
            best = run
    assert best is not None
    return best


def scores(
    model: GaussianMixture, X: np.ndarray, sample_weight: np.ndarray | None = None
) -> Scores:
    """Log-likelihood, BIC and AIC of X (N, D) under a fitted model, from one blocked pass (no
    array of N densities: ``sample_log_density`` is empty, shape (0,))."""
    result = gaussian.e_step(
        X,
        model.weights_,
        model.means_,
        model.precisions_cholesky_,
        model.covariance_type,
        sample_weight=sample_weight,
    )
    n = X.shape[0] if sample_weight is None else float(sample_weight.sum())
    p = model._n_parameters()
    log_likelihood = float(result.log_likelihood)
    return Scores(
        log_likelihood=log_likelihood,
        bic=-2.0 * log_likelihood + p * np.log(n),
        aic=-2.0 * log_likelihood + 2.0 * p,
        n_samples=n,
        sample_log_density=np.empty(0),
    )
