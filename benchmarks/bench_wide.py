"""Wide data with full covariances: fit time and peak memory, em_engine against scikit-learn.

Each fit runs in a fresh subprocess (so that one's peak memory does not hide the other's) on the
same data: N rows (default 30) of D columns, K = 2, full covariances, kmeans start, the same
random_state. Prints wall time, this process's peak RSS (VmHWM) and the peak of the memory numpy
allocated during the fit (tracemalloc, which numpy reports to), and how far the two fits' lower
bounds and means are apart.

    python benchmarks/bench_wide.py                    # D = 1,000 and 3,000
    python benchmarks/bench_wide.py --d 500 1000 --n 60

Not a test: it prints figures. 10,000 columns need about 2.5 GB for each of K full covariances'
copies (K x D x D float64 is 1.6 GB at K = 2) and take minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _peak import PEAK_RSS_SOURCE

ROOT = Path(__file__).resolve().parents[1]

_FIT_SCRIPT = """
import json, sys, time, tracemalloc, warnings
import numpy as np
sys.path.insert(0, {root!r})
{peak_rss}
if {which!r} == "ours":
    from em_engine import GaussianMixture
else:
    from sklearn.mixture import GaussianMixture
rng = np.random.default_rng(0)
n, d = {n}, {d}
X = rng.normal(size=(n, d)) + np.where(np.arange(n) < n // 2, 0.0, 3.0)[:, None]
before = peak_rss_mb()
tracemalloc.start()
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = GaussianMixture(2, covariance_type="full", random_state=0).fit(X)
seconds = time.perf_counter() - start
_, traced = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps({{
    "seconds": seconds, "rss_before": before, "rss_peak": peak_rss_mb(),
    "traced_peak": traced / 2**20, "n_iter": int(model.n_iter_),
    "lower_bound": float(model.lower_bound_), "means": model.means_.tolist(),
}}))
"""


def fit(which: str, n: int, d: int) -> dict:
    """One fit in a fresh interpreter; its figures as a dict."""
    script = _FIT_SCRIPT.format(root=str(ROOT), which=which, n=n, d=d, peak_rss=PEAK_RSS_SOURCE)
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--d", type=int, nargs="+", default=[1000, 3000], help="columns")
    parser.add_argument("--n", type=int, default=30, help="rows")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs; N = {args.n}, K = 2, full covariances, kmeans start")
    print(
        f"{'D':>6} {'':>8} {'seconds':>8} {'peak RSS MB':>12} {'numpy peak MB':>14}"
        f" {'iterations':>10}"
    )
    for d in args.d:
        results = {which: fit(which, args.n, d) for which in ("ours", "sklearn")}
        for which, r in results.items():
            print(
                f"{d:>6} {which:>8} {r['seconds']:>8.2f} {r['rss_peak']:>12.0f}"
                f" {r['traced_peak']:>14.0f} {r['n_iter']:>10}",
                flush=True,
            )
        ours, ref = results["ours"], results["sklearn"]
        mean_diff = max(
            abs(a - b)
            for row_a, row_b in zip(ours["means"], ref["means"], strict=True)
            for a, b in zip(row_a, row_b, strict=True)
        )
        print(
            f"{'':>6} ratio    {ours['seconds'] / ref['seconds']:>8.2f}"
            f" {ours['rss_peak'] / ref['rss_peak']:>12.2f}"
            f" {ours['traced_peak'] / ref['traced_peak']:>14.2f}"
            f"   lower bounds {ours['lower_bound']:.10g} / {ref['lower_bound']:.10g},"
            f" largest mean difference {mean_diff:.2e}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
