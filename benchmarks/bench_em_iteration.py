"""One EM iteration (E-step + M-step from the same parameters): em_engine vs scikit-learn.

Prints ms per iteration (median of a few repeats; wall clock, and CPU time of all threads, which
is steadier on a shared machine) for both, the speed ratios, and the largest
relative difference between the parameters the two iterations produce; then the peak memory of
fitting 1M x 2 (K = 5) with em_engine in a fresh subprocess.

    python benchmarks/bench_em_iteration.py            # N = 10k, 100k, 1M; D = 2, 10; all types
    python benchmarks/bench_em_iteration.py --quick    # N = 10k, 100k; D = 2
    python benchmarks/bench_em_iteration.py --n 1000000 --d 2 --types full --dtypes float64

Not a test: scikit-learn's private ``_e_step`` / ``_m_step`` are used on an estimator whose
parameters are set by hand, exactly what its ``fit`` loop calls once per iteration.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _peak import PEAK_RSS_SOURCE
from sklearn.mixture import GaussianMixture as SklearnGM
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

from em_engine import covariance, gaussian

N_COMPONENTS = 5


def make_problem(n_samples: int, n_features: int, dtype: np.dtype, seed: int = 0):
    """Data from 5 Gaussian blobs and a starting point (5 data rows, data covariance / K)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(N_COMPONENTS, n_features))
    labels = rng.integers(N_COMPONENTS, size=n_samples)
    X = (centres[labels] + rng.normal(size=(n_samples, n_features))).astype(dtype)
    means = X[rng.choice(n_samples, N_COMPONENTS, replace=False)].astype(np.float64)
    cov = np.cov(X[:10_000].T.astype(np.float64)).reshape(n_features, n_features) / N_COMPONENTS
    weights = np.full(N_COMPONENTS, 1.0 / N_COMPONENTS)
    return X, weights, means, cov


def covariances_of_type(cov: np.ndarray, covariance_type: str) -> np.ndarray:
    return {
        "full": np.stack([cov] * N_COMPONENTS),
        "tied": cov,
        "diag": np.tile(np.diag(cov), (N_COMPONENTS, 1)),
        "spherical": np.full(N_COMPONENTS, np.diag(cov).mean()),
    }[covariance_type]


def ours_iteration(X, weights, means, covariances, covariance_type, reg_covar=1e-6):
    pc = covariance.compute_precision_cholesky(covariances, covariance_type)
    result = gaussian.e_step(X, weights, means, pc, covariance_type)
    w, m, c = gaussian.m_step(result.stats, covariance_type, reg_covar)
    covariance.compute_precision_cholesky(c, covariance_type)  # as scikit-learn's _m_step does
    return w, m, c


def sklearn_iteration(model, X, weights, means, covariances, covariance_type):
    dtype = X.dtype
    model.weights_ = weights.astype(dtype)
    model.means_ = means.astype(dtype)
    model.covariances_ = covariances.astype(dtype)
    model.precisions_cholesky_ = _compute_precision_cholesky(model.covariances_, covariance_type)
    _, log_resp = model._e_step(X)
    model._m_step(X, log_resp)
    return model.weights_, model.means_, model.covariances_


def timed(func, repeats: int) -> tuple[float, float, object]:
    """Median wall-clock ms, median CPU ms (all threads of this process) and the last result."""
    wall, cpu, result = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3, result


def max_rel_diff(a, b) -> float:
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-12))))
    return worst


def run_table(args: argparse.Namespace) -> None:
    print(
        f"{'N':>9} {'D':>3} {'type':>9} {'dtype':>7} {'ours ms':>9} {'sklearn ms':>11}"
        f" {'ratio':>7} {'ours cpu':>9} {'sk cpu':>9} {'cpu ratio':>9} {'max rel diff':>13}"
    )
    for dtype_name in args.dtypes:
        for n_features in args.d:
            for n_samples in args.n:
                X, weights, means, cov = make_problem(n_samples, n_features, np.dtype(dtype_name))
                for covariance_type in args.types:
                    covariances = covariances_of_type(cov, covariance_type)
                    repeats = args.repeats if n_samples < 1_000_000 else min(args.repeats, 3)
                    start = (X, weights, means, covariances, covariance_type)
                    ours_ms, ours_cpu, ours = timed(partial(ours_iteration, *start), repeats)
                    model = SklearnGM(N_COMPONENTS, covariance_type=covariance_type)
                    sk_ms, sk_cpu, ref = timed(partial(sklearn_iteration, model, *start), repeats)
                    print(
                        f"{n_samples:>9} {n_features:>3} {covariance_type:>9} {dtype_name:>7}"
                        f" {ours_ms:>9.2f} {sk_ms:>11.2f} {sk_ms / ours_ms:>7.1f}"
                        f" {ours_cpu:>9.1f} {sk_cpu:>9.1f} {sk_cpu / max(ours_cpu, 1e-3):>9.1f}"
                        f" {max_rel_diff(ours, ref):>13.2e}",
                        flush=True,
                    )


_MEMORY_SCRIPT = """
import sys, tracemalloc
import numpy as np
sys.path.insert(0, {root!r})
from em_engine import GaussianMixture
{peak_rss}
rng = np.random.default_rng(0)
centres = rng.normal(scale=4.0, size=(5, 2))
X = centres[rng.integers(5, size=1_000_000)] + rng.normal(size=(1_000_000, 2))
before = peak_rss_mb()
tracemalloc.start()
model = GaussianMixture(5, max_iter=20, tol=0.0, random_state=0).fit(X)
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(before, peak_rss_mb(), peak / 2**20, model.n_iter_)
"""


def run_memory() -> None:
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            _MEMORY_SCRIPT.format(root=root, peak_rss=PEAK_RSS_SOURCE),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    before, after, traced, n_iter = (float(v) for v in out)
    print(
        f"\nfit 1M x 2, K = 5, full, {int(n_iter)} iterations (kmeans init): peak RSS "
        f"{after:.0f} MB (before the fit, with X: {before:.0f} MB); peak traced numpy "
        f"allocations during the fit {traced:.0f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 10k, 100k; D = 2 only")
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--d", type=int, nargs="+", default=[2, 10])
    parser.add_argument(
        "--types",
        nargs="+",
        default=list(covariance.COVARIANCE_TYPES),
        choices=covariance.COVARIANCE_TYPES,
    )
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=5, help="median of this many runs")
    parser.add_argument("--no-memory", action="store_true", help="skip the 1M x 2 memory run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.d = [10_000, 100_000], [2]
    print(
        f"numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, K = {N_COMPONENTS}"
    )
    run_table(args)
    if not args.no_memory:
        run_memory()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
