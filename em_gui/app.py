"""The GUI entry point: ``run_app(argv)`` creates the QApplication and the main window.

Options (the command line handles ``--version`` and the subcommands before Qt is imported):

``--smoke-test``
    Start the real window offscreen (unless ``QT_QPA_PLATFORM`` is set), fit a small synthetic
    data set for a few iterations through the worker thread, export the figure as PNG and SVG
    and a two-frame GIF (to a temporary folder), print one line
    ``READY iterations=<n> <objective>=<value> converged=<bool> seconds=<t>`` and exit 0; exit 1
    with a message on stderr if anything fails or takes longer than ``SMOKE_TIMEOUT_S``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence

__all__ = ["SMOKE_ITERATIONS", "SMOKE_TIMEOUT_S", "run_app"]

SMOKE_ITERATIONS = 5
SMOKE_TIMEOUT_S = 20.0


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="em-explorer", description="EM Explorer: watch EM fit a Gaussian mixture."
    )
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="start offscreen, run a few EM iterations, print a READY line and exit",
    )
    args, _qt_args = parser.parse_known_args(list(argv))
    return args


def run_app(argv: Sequence[str]) -> int:
    """Run the desktop application; return the process exit status.

    Parameters
    ----------
    argv : sequence of str
        Arguments after the program name (Qt's own options are passed on to QApplication).
    """
    args = _parse(argv)
    if args.smoke_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from em_engine import __version__
    from em_gui.collector import GuiThreadCollector
    from em_gui.main_window import APP_NAME, ORGANIZATION, MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else APP_NAME])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationVersion(__version__)
    icon = MainWindow.app_icon()
    if icon is not None:
        app.setWindowIcon(icon)
    collector = GuiThreadCollector(app)  # Qt objects are only ever destroyed on this thread
    if args.smoke_test:
        return _smoke_test(app)
    window = MainWindow()
    app.aboutToQuit.connect(window.shutdown)  # the worker thread ends however the app quits
    window.show()
    status = app.exec()
    collector.stop()
    return status


def _smoke_gif(window, folder: str, outcome: dict[str, object]) -> None:
    """Encode a two-frame GIF of the plot (exercises Pillow in a bundle)."""
    from pathlib import Path

    from em_gui.animation import AnimationRequest, encode, render_frame

    plot = window.scatter.plot_widget.getPlotItem()
    frames = [render_frame(plot, (64, 48), str(i)) for i in range(2)]
    try:
        encode(AnimationRequest(Path(folder) / "smoke.gif", 0, 1), frames)
    except (ImportError, OSError, ValueError) as exc:
        outcome.setdefault("error", f"could not encode a GIF: {exc}")


def _smoke_test(app) -> int:
    """Fit a small preset through the real window and worker; print READY; 0 on success."""
    from PySide6.QtCore import QSettings, QTimer

    from em_gui.frames import RUNNING
    from em_gui.main_window import MainWindow

    start = time.perf_counter()
    outcome: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="em-explorer-smoke-") as folder:
        settings = QSettings(os.path.join(folder, "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(
            settings=settings,
            error_sink=lambda _message: None,  # errors arrive through error_shown
            load_default_data=False,
        )
        window.set_speed(None)
        window.controls.spin_max_iter.setValue(SMOKE_ITERATIONS)

        def on_frame(frame) -> None:
            if "run" not in outcome:
                outcome["run"] = True
                window.run()
            elif frame.state != RUNNING and frame.snapshot.iteration > 0:
                outcome["frame"] = frame
                app.quit()

        def on_error(message: str) -> None:
            outcome.setdefault("error", message)
            app.quit()

        def on_timeout() -> None:
            outcome.setdefault("error", f"timed out after {SMOKE_TIMEOUT_S:g} s")
            app.quit()

        window.snapshot_drawn.connect(on_frame)
        window.error_shown.connect(on_error)
        QTimer.singleShot(int(SMOKE_TIMEOUT_S * 1000), on_timeout)
        window.show()
        window.controls.spin_samples.setValue(600)
        window.generate_data()
        app.exec()
        if "frame" in outcome:  # the figure exports exercise QtSvg and the PNG writer (bundles)
            for suffix in (".png", ".svg"):
                if not window.export_figure(os.path.join(folder, f"smoke{suffix}")):
                    outcome.setdefault("error", f"could not export the figure as {suffix}")
            _smoke_gif(window, folder, outcome)
        window.close()
    if "error" in outcome or "frame" not in outcome:
        print(f"smoke test failed: {outcome.get('error', 'no result')}", file=sys.stderr)
        return 1
    snap = outcome["frame"].snapshot
    objective = snap.objective.replace(" ", "-")
    print(
        f"READY iterations={snap.iteration} {objective}={snap.log_likelihood:.6f} "
        f"converged={snap.converged} seconds={time.perf_counter() - start:.2f}",
        flush=True,
    )
    return 0
