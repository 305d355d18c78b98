"""EM with missing cells: ms per iteration (E-step + M-step) of the plain engine on complete data
and of the missing-values engine on the same data with a share of the cells missing, and the
peak memory of a fit with missing cells in a fresh process.

    python benchmarks/bench_missing.py                 # N = 100k, D = 2 and 5, 20% missing
    python benchmarks/bench_missing.py --n 1000000 --d 5 --share 0.1

Not a test: figures to compare, printed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _peak import PEAK_RSS_SOURCE

from em_engine.iteration import EMIteration, Theta
from em_engine.missing import Patterns

K = 4


def problem(n: int, d: int, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Blobs (n, d), and a copy with about ``share`` of the cells NaN (no row all missing)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(K, d))
    X = centres[rng.integers(K, size=n)] + rng.normal(size=(n, d))
    holes = X.copy()
    holes[rng.random(X.shape) < share] = np.nan
    empty = np.isnan(holes).all(axis=1)
    holes[empty, 0] = X[empty, 0]
    return X, holes


def ms_per_iteration(em: EMIteration, theta: Theta, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        em.step(theta)
        times.append(time.perf_counter() - started)
    return 1000.0 * statistics.median(times)


FIT = """
import numpy as np
from em_engine import GaussianMixture
rng = np.random.default_rng(0)
X = rng.normal(size=({n}, {d})) + rng.integers(4, size=({n}, 1)) * 4.0
X[rng.random(X.shape) < {share}] = np.nan
X[np.isnan(X).all(axis=1), 0] = 0.0
GaussianMixture(4, missing="em", max_iter=10, tol=0.0, random_state=0).fit(X)
print(f"{{peak_rss_mb():.0f}} MB peak, X itself {{X.nbytes / 2**20:.0f}} MB")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, nargs="+", default=[2, 5])
    parser.add_argument("--share", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"N = {args.n:,}, K = {K}, {args.share:.0%} of the cells missing")
    for d in args.d:
        X, holes = problem(args.n, d, args.share)
        patterns = Patterns.of(holes)
        n_patterns = len(patterns.mask)
        for covariance_type in ("full", "diag"):
            cov = np.eye(d) * 2.0
            covs = np.stack([cov] * K) if covariance_type == "full" else np.full((K, d), 2.0)
            theta = Theta.of(np.full(K, 1.0 / K), X[:K].copy(), covs, covariance_type)
            plain = ms_per_iteration(EMIteration(X, covariance_type, 1e-6), theta, args.repeats)
            em = EMIteration(holes, covariance_type, 1e-6, patterns=patterns)
            missing = ms_per_iteration(em, theta, args.repeats)
            print(
                f"D = {d:2d} {covariance_type:9s} plain {plain:8.1f} ms  missing cells "
                f"{missing:8.1f} ms  ({missing / plain:.1f}x, {n_patterns} patterns)"
            )
    script = PEAK_RSS_SOURCE + FIT.format(n=args.n, d=max(args.d), share=args.share)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
    )
    print(f"fit with missing cells, {args.n:,} x {max(args.d)}: {result.stdout.strip()}")


if __name__ == "__main__":
    main()
