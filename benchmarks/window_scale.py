"""The window at scale: 10M points, density view, EM running free; is it still usable?

Offscreen, the real MainWindow shown: loads 10M points (the "overlap" preset, K = 5), runs EM at
unlimited speed for a few seconds and prints what bench_gui_latency measures (UI event-loop
lateness p50/p99/max, iterations and frames per second), whether the density image is drawn, the
time from handing over the data to the first drawn snapshot, and the process's peak memory
(VmHWM). Targets: density view, >= 1 iteration/s, p99 lateness < 50 ms, memory < 3 GB.

    python benchmarks/window_scale.py [--n 10000000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _peak import PEAK_RSS_SOURCE
from bench_gui_latency import measure
from PySide6.QtWidgets import QApplication

from em_gui import worker

_peak: dict = {}
exec(PEAK_RSS_SOURCE, _peak)  # defines peak_rss_mb()

TARGETS = {"it_per_s": 1.0, "p99_ms": 50.0, "peak_mb": 3 * 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--em-threads", type=int, help=f"the worker's E-step threads (default {worker.EM_THREADS})"
    )
    args = parser.parse_args(argv)
    if args.em_threads:
        worker.EM_THREADS = args.em_threads
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        r = measure(app, args.n, args.components, args.seconds, folder)
    r["peak_mb"] = _peak["peak_rss_mb"]()
    checks = {
        "density view": bool(r["density_view"]),
        "iterations/s >= 1": r["it_per_s"] >= TARGETS["it_per_s"],
        "p99 lateness < 50 ms": r["p99_ms"] < TARGETS["p99_ms"],
        "peak memory < 3 GB": r["peak_mb"] < TARGETS["peak_mb"],
    }
    threads = f"E-step threads {worker.EM_THREADS}/{os.cpu_count()}"
    print(f"N = {args.n:,}, K = {args.components}, EM free for {args.seconds:g} s, {threads}")
    print(f"  first snapshot drawn after loading: {r['load_s']:.2f} s")
    late = f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, max {r['max_ms']:.1f} ms"
    print(f"  UI lateness {late}")
    print(f"  {r['it_per_s']:.2f} iterations/s, {r['frames_per_s']:.1f} frames/s")
    print(f"  peak memory (VmHWM) {r['peak_mb']:.0f} MB")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'MISS'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
