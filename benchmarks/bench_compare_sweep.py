"""The model comparison sweep in the window: its time and the UI latency while it runs.

Offscreen, with the real MainWindow shown. The window gets N x 2 data (the 'overlap' preset),
then the comparison panel fits K = 1..10 x the four covariance types in the background with the
window's default settings; a 10 ms QTimer measures how late the GUI event loop serves it
meanwhile. Printed: the sweep's wall time, the lateness p50/p99/max, and for reference the same
sweep by the engine alone on this thread (what ``em-explorer-cli select`` does). The issue asks
for the time at 100k x 2 and the latency p99 while it runs.

    python benchmarks/bench_compare_sweep.py [--n 100000] [--kmax 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from em_engine.covariance import COVARIANCE_TYPES
from em_engine.selection import select_model
from em_engine.synthetic import make_preset
from em_gui import MainWindow

TICK_MS = 10


def in_window(app: QApplication, n: int, kmax: int, folder: str) -> dict[str, float]:
    """Sweep in the window; its time (s) and the event loop's lateness (ms)."""
    settings = QSettings(os.path.join(folder, "bench.ini"), QSettings.Format.IniFormat)
    errors: list[str] = []
    window = MainWindow(settings=settings, error_sink=errors.append, load_default_data=False)
    window.resize(1280, 800)
    window.show()
    window.set_dataset(make_preset("overlap", n_samples=n, seed=0))
    loop = QEventLoop()

    def poll_loaded() -> None:
        if window.current_snapshot() is not None or errors:
            loop.quit()

    waiter = QTimer()
    waiter.timeout.connect(poll_loaded)
    waiter.start(5)
    loop.exec()
    waiter.stop()
    panel = window.compare.comparison
    panel.spin_kmax.setValue(kmax)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    panel.sweep_finished.connect(lambda _outcome: loop.quit())
    timer.start()
    started = time.perf_counter()
    window.compare.start_comparison()
    loop.exec()  # a real event loop, as in the app
    elapsed = time.perf_counter() - started
    timer.stop()
    fitted = len(panel.candidates())
    window.close()
    if errors or fitted != kmax * len(COVARIANCE_TYPES):
        raise RuntimeError(f"the sweep did not finish: {fitted} fits, errors {errors}")
    lateness = np.diff(np.array(ticks)) * 1000 - TICK_MS
    return {
        "seconds": elapsed,
        "p50": float(np.percentile(lateness, 50)),
        "p99": float(np.percentile(lateness, 99)),
        "max": float(lateness.max()),
    }


def engine_alone(n: int, kmax: int) -> float:
    """The same sweep by the engine on this thread, as the CLI does it (seconds)."""
    X = make_preset("overlap", n_samples=n, seed=0).X
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        select_model(X, range(1, kmax + 1), COVARIANCE_TYPES, init="random_means")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--kmax", type=int, default=10)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        figures = in_window(app, args.n, args.kmax, folder)
    fits = args.kmax * len(COVARIANCE_TYPES)
    print(
        f"window: sweep K=1..{args.kmax} x 4 types ({fits} fits) at {args.n:,} x 2: "
        f"{figures['seconds']:.1f} s; UI lateness p50 {figures['p50']:.1f} ms, "
        f"p99 {figures['p99']:.1f} ms, max {figures['max']:.1f} ms"
    )
    print(f"engine alone (as the CLI's select): {engine_alone(args.n, args.kmax):.1f} s")


if __name__ == "__main__":
    main()
