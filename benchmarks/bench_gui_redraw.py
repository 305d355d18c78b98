"""Redraw time per snapshot of the GUI views, offscreen.

One "redraw" is what the window does for a new snapshot: ScatterView.show_state (point colours,
1/2/3-sigma ellipses, mean markers) + ConvergenceView.set_history/mark_iteration, then
QApplication.processEvents(), which paints both views once (the scene's deferred update), so actual
painting is included. The script counts the scatter's paints to check that each frame painted.

Prints, for N = 10k, 100k, 1M with K = 5, the median (and p90) wall time and the median CPU time
of this process (less disturbed when other programs load the machine). Targets (issue 3):
<= 16 ms at 100k, <= 50 ms at 1M.
Run: python benchmarks/bench_gui_redraw.py [--frames 30] [--sizes 10000,...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PySide6 import QtCore, QtWidgets

from em_engine.covariance import compute_precision_cholesky
from em_engine.gaussian import estimate_log_prob_resp
from em_gui.convergence import ConvergenceView
from em_gui.scatter import SPRITE_LIMIT, ScatterView

K = 5


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(N, 2) samples of a 5-component mixture, its means (K, 2), covariances (K, 2, 2), weights."""
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [4.0, 1.0], [-3.0, 3.0], [1.0, -4.0], [5.0, 5.0]])
    angles = rng.uniform(0, np.pi, K)
    rot = np.stack(
        [
            np.stack([np.cos(angles), -np.sin(angles)], -1),
            np.stack([np.sin(angles), np.cos(angles)], -1),
        ],
        1,
    )
    scales = rng.uniform(0.4, 1.5, (K, 2))
    covariances = rot @ (scales[:, :, None] ** 2 * np.eye(2)) @ rot.transpose(0, 2, 1)
    weights = np.full(K, 1.0 / K)
    labels = rng.integers(0, K, n)
    chol = np.linalg.cholesky(covariances)
    X = means[labels] + np.einsum("nij,nj->ni", chol[labels], rng.standard_normal((n, 2)))
    return X, means, covariances, weights


def responsibilities(X, weights, means, covariances) -> tuple[np.ndarray, np.ndarray]:
    """Labels (N,) and confidence (N,) from the engine's kernels."""
    prec = compute_precision_cholesky(covariances, "full")
    _, log_resp = estimate_log_prob_resp(X, weights, means, prec, "full")
    return log_resp.argmax(axis=1), np.exp(log_resp.max(axis=1))


class PaintCounter(QtCore.QObject):
    """Counts paint events of the widget it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.Paint:
            self.count += 1
        return False


def bench(app: QtWidgets.QApplication, n: int, frames: int) -> dict[str, float]:
    X, means, covariances, weights = make_data(n)
    # Two states (as after two EM iterations), alternated so labels really change per frame.
    states = []
    for shift in (0.0, 0.6):
        m = means + shift
        states.append((*responsibilities(X, weights, m, covariances), m))
    scatter, conv = ScatterView(), ConvergenceView()
    scatter.resize(900, 700)
    conv.resize(500, 300)
    scatter.show()
    conv.show()
    scatter.set_points(X, "x", "y")
    app.processEvents()
    counter = PaintCounter()
    scatter.plot_widget.viewport().installEventFilter(counter)
    history = np.cumsum(np.r_[-5.0, 1.0 / np.arange(1, frames + 3)])
    times, cpu_times, state_times = [], [], []
    for i in range(frames + 3):
        labels, confidence, m = states[i % 2]
        t0, c0 = time.perf_counter(), time.process_time()
        scatter.show_state(labels, confidence, m + 0.01 * i, covariances, weights)
        conv.set_history(np.arange(i + 1), history[: i + 1], "log-likelihood")
        conv.mark_iteration(i)
        t1 = time.perf_counter()
        app.processEvents()  # the scene's deferred update -> one paint of each view, as in the app
        t2, c2 = time.perf_counter(), time.process_time()
        if i == 2:
            counter.count = 0
        if i >= 3:  # skip warm-up frames (atlas and item creation)
            times.append(t2 - t0)
            cpu_times.append(c2 - c0)
            state_times.append(t1 - t0)
    paints_per_frame = counter.count / frames
    if scatter.uses_density_image:
        mode = "density image"
    else:
        mode = "sprites" if n <= SPRITE_LIMIT else "numpy dots"
    scatter.close()
    conv.close()
    scatter.deleteLater()
    conv.deleteLater()
    app.processEvents()
    ms = np.array(times) * 1e3
    return {
        "n": n,
        "mode": mode,
        "median": float(np.median(ms)),
        "p90": float(np.percentile(ms, 90)),
        "cpu": float(np.median(cpu_times) * 1e3),
        "update": float(np.median(state_times) * 1e3),
        "paints": paints_per_frame,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="timed frames per size")
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="comma-separated numbers of points"
    )
    args = parser.parse_args(argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    targets = {100_000: 16.0, 1_000_000: 50.0}
    print(f"redraw per snapshot, K={K}, 900x700 scatter + 500x300 convergence, offscreen")
    print("wall = elapsed; cpu = this process's CPU time (less disturbed by other load)")
    columns = ("N", "mode", "wall median", "wall p90", "cpu median", "update", "paints")
    print("{:>9}  {:<14} {:>11} {:>8} {:>10} {:>6} {:>6}  target".format(*columns))
    for n in (int(s) for s in args.sizes.split(",")):
        r = bench(app, n, args.frames)
        target = targets.get(n)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:g} ms: {'ok' if r['median'] <= target else 'MISSED'}"
        print(
            f"{n:>9}  {r['mode']:<14} {r['median']:>11.1f} {r['p90']:>8.1f} {r['cpu']:>10.1f}"
            f" {r['update']:>6.1f} {r['paints']:>6.2f}  {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
