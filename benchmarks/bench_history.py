"""EMSession's history: memory after many steps, and the time to show an old iteration.

Runs STEPS full iterations (E-step + M-step, tol 0 so that it never stops) of an EMSession in a
fresh process and prints the memory numpy holds afterwards (tracemalloc, which numpy reports to;
the data and the session's copy of it are counted before the steps and left out) at a few points,
the process's peak RSS, the checkpoint spacing, and how long restoring iterations takes (a
restore replays at most spacing - 1 iterations from the nearest checkpoint).

    python benchmarks/bench_history.py                          # N=2000, D=40, K=10, 10,000 steps
    python benchmarks/bench_history.py --steps 2000 --n 500 --d 10 --k 5

Not a test: it prints figures (the default case takes a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _peak import PEAK_RSS_SOURCE

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = """
import json, sys, time, tracemalloc
import numpy as np
sys.path.insert(0, {root!r})
from em_engine.session import EMSession
{peak_rss}
rng = np.random.default_rng(0)
n, d, k, steps = {n}, {d}, {k}, {steps}
centres = rng.normal(scale=3.0, size=(k, d))
X = centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))
tracemalloc.start()
session = EMSession(X, k, "full", init="kmeans", seed=0, tol=0.0, max_iter=steps)
base = tracemalloc.get_traced_memory()[0]
marks = sorted({{min(steps, m) for m in (steps // 10, steps // 2, steps)}})
memory = {{}}
start = time.perf_counter()
for i in range(1, steps + 1):
    session.step()
    if i in marks:
        memory[i] = (tracemalloc.get_traced_memory()[0] - base) / 2**20
seconds = time.perf_counter() - start
tracemalloc.stop()
restores = []
for target in (steps - 1, steps // 2 + 1, 3, steps // 3 + 7):
    t = time.perf_counter()
    session.restore(target)
    restores.append(time.perf_counter() - t)
print(json.dumps({{
    "memory": memory, "seconds": seconds, "rss": peak_rss_mb(),
    "stride": getattr(session, "_stride", 1),
    "checkpoints": len(getattr(session, "_checkpoints", session.history)),
    "restores": restores,
}}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=40)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose em_engine to use")
    args = parser.parse_args(argv)
    script = _SCRIPT.format(
        root=args.root, n=args.n, d=args.d, k=args.k, steps=args.steps, peak_rss=PEAK_RSS_SOURCE
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    r = json.loads(out.splitlines()[-1])
    print(f"EMSession N={args.n}, D={args.d}, K={args.k} full, {args.steps} steps ({args.root})")
    for step, mb in r["memory"].items():
        print(f"  after {int(step):>6} steps: {mb:8.1f} MB held by the session (numpy, traced)")
    print(
        f"  {r['seconds']:.1f} s for the steps ({1e3 * r['seconds'] / args.steps:.2f} ms each);"
        f" peak RSS {r['rss']:.0f} MB; {r['checkpoints']} checkpoints, every {r['stride']}"
    )
    shown = ", ".join(f"{1e3 * t:.0f}" for t in r["restores"])
    print(f"  restore of an old iteration (ms, with its E-step): {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
