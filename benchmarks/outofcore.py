"""In memory against out of core: peak memory and time per EM iteration on a big CSV file.

Makes a CSV file of --rows rows x 2 columns (default 60M rows, about 1.6 GB; X is 0.96 GB in
memory) in --folder, then in fresh interpreters:

* in memory: ``read_table`` (the streaming reader), then ``GaussianMixture.fit`` on the array;
* out of core: ``cached_dataset`` (converts the file to a memory-mapped .npy cache the first
  time: timed separately), then ``fit_out_of_core`` over the memory map.

Both fits start from the same parameters (the out-of-core start: K-means on 100,000 random rows)
and run --iter iterations with tol=0, K=5, full covariances, so the time per iteration compares
like with like. Memory: VmHWM (peak resident set, which counts the pages of a memory-mapped file
while they are mapped: the kernel can drop those under memory pressure) and the peak of RssAnon
(anonymous memory, sampled every 20 ms: what the process really holds).

    python benchmarks/outofcore.py
    python benchmarks/outofcore.py --rows 10000000 --iter 5

Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from _peak import PEAK_RSS_SOURCE

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = """
import json, sys, threading, time, warnings
sys.path.insert(0, {root!r})
{peak_rss}
import numpy as np
warnings.simplefilter("ignore")
peak_anon = [0.0]
def sample():
    while True:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    peak_anon[0] = max(peak_anon[0], int(line.split()[1]) / 1024)
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()
from em_engine.mixture import GaussianMixture
from em_engine.outofcore import cached_dataset, fit_out_of_core
from em_engine.tables import read_table
mode, path, cache, start_file, n_iter = {mode!r}, {path!r}, {cache!r}, {start!r}, {n_iter}
t0 = time.perf_counter()
if mode == "in memory":
    X = read_table(path).X
else:
    X = cached_dataset(path, cache_dir=cache).X
read_s = time.perf_counter() - t0
start = dict(np.load(start_file))
model = GaussianMixture(5, covariance_type="full", max_iter=n_iter, tol=0.0, **start)
t1 = time.perf_counter()
if mode == "in memory":
    model.fit(X)
else:
    model = fit_out_of_core(model, X)
fit_s = time.perf_counter() - t1
print(json.dumps({{"read_s": read_s, "per_iter_s": fit_s / model.n_iter_,
                  "peak_mb": peak_rss_mb(), "peak_anon_mb": peak_anon[0],
                  "lower_bound": model.lower_bound_, "means": model.means_.tolist()}}))
"""


def make_csv(path: Path, rows: int) -> None:
    """Five blobs in two columns (10 decimals), written in blocks of a million rows."""
    if path.exists():
        return
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [6, 0], [0, 6], [6, 6], [3, 3]], dtype=float)
    with open(path, "w") as f:
        f.write("x,y\n")
        for first in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - first)
            block = centres[rng.integers(0, 5, n)] + rng.normal(size=(n, 2))
            np.savetxt(f, block, fmt="%.10f", delimiter=",")


def make_start(path: Path, cache: Path, start_file: Path) -> None:
    """The shared start: the out-of-core start (k-means on 100,000 random rows)."""
    from em_engine.mixture import GaussianMixture
    from em_engine.outofcore import _start, cached_dataset

    X = cached_dataset(path, cache_dir=cache).X
    start = _start(GaussianMixture(5, random_state=0), X, None, np.random.default_rng(0), 100_000)
    np.savez(start_file, **start)


def run(mode: str, path: Path, cache: Path, start_file: Path, n_iter: int) -> dict:
    script = _SCRIPT.format(
        root=str(ROOT),
        peak_rss=PEAK_RSS_SOURCE,
        mode=mode,
        path=str(path),
        cache=str(cache),
        start=str(start_file),
        n_iter=n_iter,
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60_000_000)
    parser.add_argument("--iter", type=int, default=3, help="EM iterations (default: 3)")
    parser.add_argument("--folder", default="/tmp")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    path = Path(args.folder) / f"em_outofcore_{args.rows}.csv"
    cache = Path(args.folder) / "em_outofcore_cache"
    start_file = Path(args.folder) / f"em_outofcore_{args.rows}_start.npz"
    Path(args.folder).mkdir(parents=True, exist_ok=True)
    make_csv(path, args.rows)
    print(f"{path}: {path.stat().st_size / 2**30:.2f} GB, {args.rows:,} rows x 2; K=5, full")
    make_start(path, cache, start_file)
    for old in cache.glob("*"):
        old.unlink()  # the first run below times the conversion from scratch
    results = {
        "out of core, first run": run("out of core", path, cache, start_file, args.iter),
        "out of core, cache reused": run("out of core", path, cache, start_file, args.iter),
        "in memory": run("in memory", path, cache, start_file, args.iter),
    }
    print(f"{'':<28} {'read/convert s':>14} {'s/iteration':>12} {'VmHWM MB':>9} {'RssAnon MB':>11}")
    for name, r in results.items():
        print(
            f"{name:<28} {r['read_s']:>14.1f} {r['per_iter_s']:>12.2f} {r['peak_mb']:>9.0f} "
            f"{r['peak_anon_mb']:>11.0f}"
        )
    a, b = results["in memory"], results["out of core, cache reused"]
    means_a, means_b = np.array(a["means"]), np.array(b["means"])
    gap = np.max(np.abs(means_a - means_b)) / np.max(np.abs(means_a))
    print(
        f"means differ by {gap:.1e} (relative to the largest); lower bounds "
        f"{a['lower_bound']:.12f} (in memory), {b['lower_bound']:.12f} (out of core)"
    )


if __name__ == "__main__":
    main()
