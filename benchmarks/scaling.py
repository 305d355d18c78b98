"""Scaling: one EM fit of 10M x 2 (K = 5, full) in memory, out of core over a memory-mapped .npy
file, and on a local Dask cluster of 1 and 2 worker processes.

Prints, per way of fitting: the time per EM iteration (median over the iterations, from the fit's
own progress callback; the first pass, which also loads, checks and for Dask persists the data,
is printed apart as "setup"), and the peak memory (VmHWM) of the process that fits and, for Dask,
of each worker. Each way runs in a fresh process, so peaks are its own.

    python benchmarks/scaling.py                    # 10M rows, all four ways
    python benchmarks/scaling.py --n 1000000 --ways memory,dask-2

The data (float64, 160 MB for 10M x 2) are written once to a temporary .npy file: the in-memory
fit loads it whole, the out-of-core fit maps it (np.load(mmap_mode="r"): the engine's blocked
passes read it block by block; the page cache's pages count in the RSS while they are mapped),
and the Dask workers each read their own chunks from it (as workers read a shared file). All fits
start from the same given parameters, so the timings are EM's and not the initialisation's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _peak import PEAK_RSS_SOURCE

_peak: dict = {}
exec(PEAK_RSS_SOURCE, _peak)  # peak_rss_mb(), also run in the Dask workers by client.run
peak_rss_mb = _peak["peak_rss_mb"]

K = 5
WAYS = ("memory", "out-of-core", "dask-1", "dask-2")
CHUNK_ROWS = 1_000_000


def make_data(path: Path, n_samples: int) -> None:
    """Five Gaussian blobs (n_samples, 2), float64, saved as .npy."""
    rng = np.random.default_rng(0)
    centres = rng.uniform(-10.0, 10.0, size=(K, 2))
    X = np.empty((n_samples, 2))
    labels = rng.integers(0, K, size=n_samples)
    for start in range(0, n_samples, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_samples)
        X[start:stop] = centres[labels[start:stop]] + rng.normal(size=(stop - start, 2))
    np.save(path, X)


def start_parameters(path: Path) -> dict[str, np.ndarray]:
    """The same start for every way: k-means on the first 100k rows."""
    from em_engine.init import initial_parameters

    sample = np.load(path, mmap_mode="r")[:100_000]
    weights, means, covariances = initial_parameters(np.asarray(sample), K, "full", "kmeans", 0)
    return {
        "weights_init": weights,
        "means_init": means,
        "precisions_init": np.linalg.inv(covariances),
    }


def _rows(path: str, start: int, stop: int) -> np.ndarray:
    """Rows start:stop of the .npy file, read by the worker that runs this."""
    return np.array(np.load(path, mmap_mode="r")[start:stop])


def _dask_array(path: Path, n_samples: int) -> object:
    import dask
    import dask.array as da

    parts = [
        da.from_delayed(
            dask.delayed(_rows)(str(path), start, min(start + CHUNK_ROWS, n_samples)),
            shape=(min(start + CHUNK_ROWS, n_samples) - start, 2),
            dtype=np.float64,
        )
        for start in range(0, n_samples, CHUNK_ROWS)
    ]
    return da.concatenate(parts)


def run_way(way: str, path: Path, n_samples: int, n_iter: int) -> dict[str, object]:
    """One fit the way named; its timings and peaks (MB)."""
    import warnings

    from em_engine import GaussianMixture

    stamps: list[float] = []
    model = GaussianMixture(
        K,
        tol=0.0,
        max_iter=n_iter,
        progress=lambda it, bound: stamps.append(time.perf_counter()),
        **start_parameters(path),
    )
    result: dict[str, object] = {"way": way}
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol 0: "did not converge"
        if way == "memory":
            model.fit(np.load(path))
        elif way == "out-of-core":
            model.fit(np.load(path, mmap_mode="r"))
        else:
            from distributed import Client, LocalCluster

            workers = int(way.split("-")[1])
            with (
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    memory_limit=0,  # measured here, not managed
                ) as cluster,
                Client(cluster) as client,
            ):
                began = time.perf_counter()
                model.fit(_dask_array(path, n_samples))
                result["worker_peak_mb"] = sorted(client.run(peak_rss_mb).values())
    steps = np.diff([began, *stamps])
    result["setup_s"] = float(steps[0])
    result["iteration_s"] = float(statistics.median(steps[1:]))
    result["peak_mb"] = peak_rss_mb()
    result["log_likelihood_per_row"] = model.lower_bound_
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="rows (default 10M)")
    parser.add_argument("--iterations", type=int, default=6, help="EM iterations per fit")
    parser.add_argument("--ways", default=",".join(WAYS), help="comma list of " + ", ".join(WAYS))
    parser.add_argument("--run", nargs=2, metavar=("WAY", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:  # the child process: one way, result as JSON on stdout
        way, path = args.run
        print(json.dumps(run_way(way, Path(path), args.n, args.iterations)))
        return
    ways = [w for w in args.ways.split(",") if w]
    with tempfile.TemporaryDirectory(prefix="em-scaling-") as folder:
        path = Path(folder) / "X.npy"
        make_data(path, args.n)
        size = path.stat().st_size / 2**20
        what = f"{args.n:,} x 2 float64 ({size:.0f} MB), K = {K}, full"
        print(f"{what}; {args.iterations} iterations")
        print(f"{'way':<12} {'s/iteration':>12} {'setup s':>8} {'peak MB':>8}  workers' peak MB")
        bounds = []
        for way in ways:
            command = [sys.executable, __file__, "--n", str(args.n), "--run", way, str(path)]
            command += ["--iterations", str(args.iterations)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.splitlines()[-1])
            workers = ", ".join(f"{mb:.0f}" for mb in r.get("worker_peak_mb", []))
            print(
                f"{way:<12} {r['iteration_s']:>12.3f} {r['setup_s']:>8.2f} "
                f"{r['peak_mb']:>8.0f}  {workers}",
                flush=True,
            )
            bounds.append(r["log_likelihood_per_row"])
        spread = max(bounds) - min(bounds)
        print(f"final log-likelihood per row: {bounds[0]:.12f} (largest difference {spread:.2e})")


if __name__ == "__main__":
    main()
