"""GUI responsiveness while EM runs free: event-loop latency and iterations per second.

Offscreen, with the real MainWindow shown (so every frame is really painted). For each data size
the window fits K components at unlimited speed (tol 0, so it never stops) for a few seconds,
while a 10 ms QTimer measures how late the GUI event loop serves it; the lateness p50/p99/max and
the iterations per second are printed (medians over the repeats). Target: p99 < 50 ms at 1M.

    python benchmarks/bench_gui_latency.py [--sizes 1000000,100000] [--seconds 6] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from em_engine.synthetic import make_preset
from em_gui import MainWindow
from em_gui.worker import EM_THREADS

TICK_MS = 10


def measure(app: QApplication, n: int, k: int, seconds: float, folder: str) -> dict[str, float]:
    """Fit n points with k components for ``seconds``; return latency and speed figures."""
    settings = QSettings(os.path.join(folder, f"bench-{n}.ini"), QSettings.Format.IniFormat)
    errors: list[str] = []
    window = MainWindow(settings=settings, error_sink=errors.append, load_default_data=False)
    window.show()
    window.set_speed(None)
    window.controls.spin_k.setValue(k)
    window.controls.combo_init.setCurrentText("random")
    window.controls.edit_tol.setText("0")
    window.controls.edit_tol.editingFinished.emit()  # a number field counts once confirmed
    window.controls.spin_max_iter.setValue(100_000)
    dataset = make_preset("overlap", n_samples=n, seed=0)
    loading = time.perf_counter()
    window.set_dataset(dataset)
    del dataset

    def wait_for(condition, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > deadline or errors:
                raise RuntimeError(f"n={n}: timed out or failed: {errors}")
            app.processEvents()
            time.sleep(0.001)  # the benchmark's own polling, not part of what is measured

    wait_for(lambda: window.current_snapshot() is not None, 60)
    load_s = time.perf_counter() - loading
    window.run()
    wait_for(lambda: window.current_snapshot().iteration >= 1, 60)

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    frames = [0]
    window.snapshot_drawn.connect(lambda _f: frames.__setitem__(0, frames[0] + 1))
    first_iteration = window.current_snapshot().iteration
    # A real event loop, as app.exec() in the app: it sleeps when idle (a processEvents() polling
    # loop would keep the GUI thread busy and fight the worker for the GIL all the time).
    loop = QEventLoop()
    QTimer.singleShot(round(seconds * 1000), loop.quit)
    started = time.perf_counter()
    timer.start()
    loop.exec()
    timer.stop()
    elapsed = time.perf_counter() - started
    iterations = window.current_snapshot().iteration - first_iteration
    density_view = window.scatter.uses_density_image
    window.close()
    if errors:
        raise RuntimeError(f"n={n}: {errors}")
    lateness = np.diff(np.array(ticks)) * 1000 - TICK_MS
    return {
        "p50_ms": float(np.percentile(lateness, 50)),
        "p99_ms": float(np.percentile(lateness, 99)),
        "max_ms": float(lateness.max()),
        "it_per_s": iterations / elapsed,
        "frames_per_s": frames[0] / elapsed,
        "density_view": float(density_view),
        "load_s": load_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,100000", help="comma-separated N values")
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    cores = os.cpu_count()
    print(f"K={args.components}, {args.seconds:g} s per size, E-step threads {EM_THREADS}/{cores}")
    header = ("N", "p50 late ms", "p99 late ms", "max ms", "it/s", "frames/s")
    widths = (9, 12, 12, 8, 8, 9)
    print(" ".join(f"{name:>{width}}" for name, width in zip(header, widths, strict=True)))
    with tempfile.TemporaryDirectory() as folder:
        for n in (int(s) for s in args.sizes.split(",")):
            runs = [measure(app, n, args.components, args.seconds, folder)
                    for _ in range(args.repeats)]  # fmt: skip
            med = {key: float(np.median([r[key] for r in runs])) for key in runs[0]}
            print(
                f"{n:>9} {med['p50_ms']:>12.2f} {med['p99_ms']:>12.2f} {med['max_ms']:>8.1f} "
                f"{med['it_per_s']:>8.2f} {med['frames_per_s']:>9.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
