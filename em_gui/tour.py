"""Screenshot tour: drive the real window through the main journeys and save a PNG of each.

    python -m em_gui.tour OUTDIR [--size 1280x800] [--only NAME ...] [--big-points N]
                                 [--timeout S] [--offscreen]

Each journey starts a fresh MainWindow on a private, temporary QSettings file (the user's settings
are never read or written), so it shows what a newcomer sees, whether it runs alone (``--only``) or
in the whole tour. The tour drives the window's public commands (actions, ``open_csv``, the history
slider, the speed), waits in the event loop until the state it needs is drawn and every staged
redraw is done, then saves ``window.grab()`` as ``OUTDIR/NN-journey[-part].png`` (NN is the
journey's place in the whole tour, so a picture keeps its name when run alone). One line per PNG
is printed. Exit status 0; 2 when a state is not reached within the timeout or the window reports
an unexpected error (the message says which journey and what it waited for).

Without a display (Linux, no ``DISPLAY``/``WAYLAND_DISPLAY``) or with ``--offscreen`` the window
is drawn offscreen.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from em_gui.tour_compare import COMPARE_JOURNEYS, CompareJourneys
from em_gui.tour_learning import LEARNING_JOURNEYS, LearningJourneys

if TYPE_CHECKING:  # Qt is imported only once the arguments are parsed (``--help`` stays fast)
    from PySide6.QtGui import QImage

    from em_gui.main_window import MainWindow

__all__ = ["JOURNEYS", "main"]

#: The journeys, in tour order.
JOURNEYS = (
    "first-launch",
    "e-step",
    "m-step",
    "converged",
    "samples",
    "one-d",
    "big",
    "history",
    "bad-csv",
    "missing-values",
    "import-weights",
    *COMPARE_JOURNEYS,
    *LEARNING_JOURNEYS,
)
DEFAULT_SIZE = (1280, 800)
DEFAULT_BIG_POINTS = 1_000_000
DEFAULT_TIMEOUT_S = 60.0
POLL_MS = 15
PNG_QUALITY = 0  # Qt's PNG "quality" 0: the strongest (lossless) compression
ONE_D_SAMPLE = "house_prices_1d.csv"
#: The bad CSV: a sample's first rows with one cell mistyped (a letter O for a zero).
BAD_CSV_ROW = 12
BAD_CSV_CELL = "3O5.1"
#: A sample with missing (empty) cells, fitted by EM for missing at random.
MISSING_SAMPLE = "blobs_missing.csv"
MISSING_STEPS = 3


class TourError(Exception):
    """A journey did not reach its state in time, or the window reported an unexpected error."""


def _size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` (e.g. 1280x800)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT, e.g. 1280x800, not {text!r}"
        ) from None
    if width < 200 or height < 200:
        raise argparse.ArgumentTypeError(f"{text}: width and height must be at least 200")
    return width, height


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    return parse


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m em_gui.tour",
        description="Drive the EM Explorer window through its main journeys and save a PNG of "
        "each in OUTDIR.",
    )
    parser.add_argument("outdir", type=Path, metavar="OUTDIR", help="folder for the PNGs")
    parser.add_argument(
        "--size",
        type=_size,
        default=DEFAULT_SIZE,
        metavar="WxH",
        help="window size in pixels (default 1280x800)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=JOURNEYS,
        metavar="NAME",
        help="run only this journey (repeatable); one of: " + ", ".join(JOURNEYS),
    )
    parser.add_argument(
        "--big-points",
        type=_positive(int),
        default=DEFAULT_BIG_POINTS,
        metavar="N",
        help="points in the 'big' journey (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help="seconds each journey may take (default %(default)s)",
    )
    parser.add_argument(
        "--offscreen", action="store_true", help="draw offscreen even when there is a display"
    )
    return parser.parse_args(list(argv))


def _describe(window: MainWindow) -> str:
    """What the window shows now, for the line printed per PNG."""
    frame = window.current_frame()
    snap = frame.snapshot
    n, d = frame.data.X.shape
    source = Path(frame.data.source).name if frame.data.source else "synthetic"
    return (
        f"{source}: {n:,} points, {d}-D, K={len(snap.weights)}, iteration {snap.iteration} "
        f"({snap.phase}), {frame.state}"
    )


class Tour(CompareJourneys, LearningJourneys):
    """Runs journeys; each journey gets a fresh window (see the module docstring)."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder  # private settings files and the bad CSV
        self.window: MainWindow | None = None
        self.errors: list[str] = []
        self._journey = ""
        self._number = 0
        self._deadline = 0.0
        self._expect_error = False
        self._windows_made = 0

    # ------------------------------------------------------------------ running
    def run(self, names: Sequence[str]) -> None:
        """Run the named journeys in tour order; raises TourError."""
        for number, name in enumerate(JOURNEYS, start=1):
            if name not in names:
                continue
            self._journey, self._number = name, number
            self._deadline = time.monotonic() + self.args.timeout
            self._expect_error = False
            with self._fresh_window():
                getattr(self, "journey_" + name.replace("-", "_"))()

    @contextmanager
    def _fresh_window(self) -> Iterator[MainWindow]:
        """A new window as on first launch (private settings), shown at the requested size;
        shut down and deleted afterwards."""
        from PySide6.QtCore import QCoreApplication, QEvent, QSettings

        from em_gui.main_window import MainWindow

        self._windows_made += 1
        path = self.folder / f"settings-{self._windows_made}.ini"
        settings = QSettings(str(path), QSettings.Format.IniFormat)
        self.errors = []
        window = MainWindow(settings=settings)
        window.error_shown.connect(self.errors.append)
        self.window = window
        try:
            window.resize(*self.args.size)
            window.show()
            self.wait(
                lambda: window.windowHandle() is not None and window.windowHandle().isExposed(),
                "the window shown",
            )
            if (window.width(), window.height()) != self.args.size:
                print(
                    f"note: the window is {window.width()}x{window.height()}, not the requested "
                    f"{self.args.size[0]}x{self.args.size[1]} (its minimum size)",
                    file=sys.stderr,
                )
            yield window
        finally:
            self.window = None
            window.shutdown()
            window.close()  # also closes an error box (the window is its parent)
            window.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    # ------------------------------------------------------------------ waiting
    def wait(self, condition: Callable[[], bool], what: str) -> None:
        """Run the event loop until ``condition()`` holds; TourError at the journey's deadline
        or when the window reports an error the journey does not expect."""
        from PySide6.QtCore import QEventLoop, QTimer

        reached = [False]

        def done() -> bool:
            if self.errors and not self._expect_error:
                return True
            reached[0] = condition()
            return reached[0] or time.monotonic() > self._deadline

        if not done():
            loop = QEventLoop()
            timer = QTimer()
            timer.setInterval(POLL_MS)
            timer.timeout.connect(lambda: loop.quit() if done() else None)
            timer.start()
            loop.exec()
            timer.stop()
        if self.errors and not self._expect_error:
            raise TourError(f"{self._journey}: the window reported an error: {self.errors[0]}")
        if not reached[0]:
            raise TourError(f"{self._journey}: not reached within {self.args.timeout:g} s: {what}")

    def wait_drawn(self, predicate: Callable[[Any], bool], what: str) -> None:
        """Wait until the drawn frame is current (no newer command posted), satisfies
        ``predicate(frame)``, and every staged redraw is done."""
        window = self.window

        def drawn() -> bool:
            frame = window.current_frame()
            return frame is not None and window.is_drawn_up_to_date() and predicate(frame)

        self.wait(drawn, what)
        self.settle()

    def settle(self) -> None:
        """Wait until no redraw is pending or staged (scatter, panels, history, density re-bin),
        on two polls in a row, so posted layout and paint events have run too."""
        window = self.window

        def idle() -> bool:
            return window.is_drawn_up_to_date()

        quiet = [0]

        def twice() -> bool:
            quiet[0] = quiet[0] + 1 if idle() else 0
            return quiet[0] >= 2

        self.wait(twice, "the redraw finished")

    # ------------------------------------------------------------------ saving
    def save(self, description: str, part: str = "", image: QImage | None = None) -> None:
        """Save ``image`` (default: the window grabbed) as OUTDIR/NN-journey[-part].png."""
        name = f"{self._number:02d}-{self._journey}" + (f"-{part}" if part else "")
        path = self.args.outdir / f"{name}.png"
        if image is None:
            image = self.window.grab().toImage()
        if not image.save(str(path), "PNG", PNG_QUALITY):
            raise TourError(f"{self._journey}: could not write {path}")
        print(f"{path}  {description}", flush=True)

    # ------------------------------------------------------------------ journeys
    def _start(self) -> None:
        """Wait for the first-launch state: the default data at iteration 0."""
        self.wait_drawn(lambda f: f.snapshot.phase == "init", "the start-up data at iteration 0")

    def _run_to_convergence(self, what: str) -> None:
        from em_gui.frames import CONVERGED

        self.window.set_speed(None)
        self.window.action("run").trigger()
        self.wait_drawn(lambda f: f.state == CONVERGED, f"{what} converged and drawn")

    def journey_first_launch(self) -> None:
        """The window as it opens: the default synthetic data and the initial parameters."""
        self._start()
        self.save(_describe(self.window))

    def journey_e_step(self) -> None:
        """The E-step of iteration 1: colours from the initial parameters, ellipses unchanged."""
        self._start()
        self.window.action("e_step").trigger()
        self.wait_drawn(lambda f: f.snapshot.phase == "e", "the E-step")
        self.save(_describe(self.window))

    def journey_m_step(self) -> None:
        """The M-step that follows: new ellipses, the E-step's colours."""
        self._start()
        self.window.action("e_step").trigger()
        self.wait_drawn(lambda f: f.snapshot.phase == "e", "the E-step")
        self.window.action("m_step").trigger()
        self.wait_drawn(
            lambda f: f.snapshot.phase == "m" and f.snapshot.iteration == 1, "the M-step"
        )
        self.save(_describe(self.window))

    def journey_converged(self) -> None:
        """Run at full speed on the start-up data until converged."""
        self._start()
        self._run_to_convergence("the start-up data")
        self.save(_describe(self.window))

    def journey_samples(self) -> None:
        """Each sample CSV opened one after another in one window, each fitted to convergence."""
        from em_engine._resources import resource_path

        self._start()
        for path in sorted(resource_path("samples").glob("*.csv")):
            self._open(path)
            self._run_to_convergence(path.name)
            self.save(_describe(self.window), part=path.stem)

    def _open(self, path: Path) -> None:
        self.window.open_csv(path)
        self.wait_drawn(
            lambda f: f.data.source is not None and Path(f.data.source).name == path.name,
            f"{path.name} loaded",
        )

    def journey_one_d(self) -> None:
        """One-dimensional data (house prices): a jittered strip with interval boxes."""
        from em_engine._resources import resource_path

        self._start()
        self._open(resource_path("samples", ONE_D_SAMPLE))
        self._run_to_convergence(ONE_D_SAMPLE)
        self.save(_describe(self.window))

    def journey_big(self) -> None:
        """The default preset with --big-points samples (a density image), fitted."""
        window = self.window
        n = self.args.big_points
        self._start()
        window.controls.spin_samples.setValue(n)
        if window.controls.spin_samples.value() != n:
            raise TourError(
                f"big: the Samples box takes {window.controls.spin_samples.value():,}, not {n:,}"
            )
        window.action("generate").trigger()
        self.wait_drawn(lambda f: len(f.data.X) == n, f"{n:,} points generated")
        self._run_to_convergence(f"{n:,} points")
        self.save(_describe(self.window))

    def journey_history(self) -> None:
        """A converged run, then the history slider moved to the middle iteration."""
        window = self.window
        self._start()
        self._run_to_convergence("the start-up data")
        middle = window.history_bar.slider.maximum() // 2
        window.history_bar.slider.setValue(middle)
        self.wait_drawn(
            lambda f: f.snapshot.iteration == middle and f.state != "running",
            f"iteration {middle} restored from the history",
        )
        self.save(_describe(self.window))

    def journey_bad_csv(self) -> None:
        """A CSV with one mistyped cell: the window's error message over the window."""
        from PySide6.QtWidgets import QMessageBox

        from em_engine._resources import resource_path

        window = self.window
        self._start()
        lines = resource_path("samples", "blobs.csv").read_text().splitlines()[:40]
        cells = lines[BAD_CSV_ROW - 1].split(",")
        cells[0] = BAD_CSV_CELL
        lines[BAD_CSV_ROW - 1] = ",".join(cells)
        path = self.folder / "measurements.csv"
        path.write_text("\n".join(lines) + "\n")
        self._expect_error = True
        window.open_csv(path)

        def boxes() -> list[QMessageBox]:
            return [b for b in window.findChildren(QMessageBox) if b.isVisible()]

        self.wait(lambda: bool(self.errors) and bool(boxes()), "the error message shown")
        self.settle()
        self.save(f"message: {self.errors[-1]}", image=_composite(window, boxes()[-1]))

    def journey_missing_values(self) -> None:
        """A CSV with empty cells, fitted by EM (the window's default for missing cells): after a
        few steps, hollow markers at the imputed positions and an "imputed" legend entry."""
        from em_engine._resources import resource_path

        self._start()
        self._open(resource_path("samples", MISSING_SAMPLE))
        for step in range(1, MISSING_STEPS + 1):
            self.window.action("step").trigger()
            self.wait_drawn(
                lambda f, i=step: f.snapshot.iteration == i and f.snapshot.imputed is not None,
                f"iteration {step} with imputed cells",
            )
        self.save(_describe(self.window))

    def journey_import_weights(self) -> None:
        """The import dialog on a CSV with a count column chosen as the sample weights."""
        from em_engine._resources import resource_path
        from em_gui.csv_dialog import CsvImportDialog

        self._start()
        lines = resource_path("samples", "blobs.csv").read_text().splitlines()[:200]
        counts = [str(1 + (3 * n) % 7) for n in range(len(lines) - 1)]
        path = self.folder / "counted.csv"
        rows = zip(lines, ["count", *counts], strict=True)
        path.write_text("\n".join(f"{a},{b}" for a, b in rows) + "\n")
        dialog = CsvImportDialog(path, self.window)
        dialog.weight_combo.setCurrentText("count")
        dialog.show()
        self.settle()
        chosen = dialog.weight_combo.currentText()
        self.save(f"import dialog: weights from {chosen!r}", image=_composite(self.window, dialog))
        dialog.close()


def _composite(window: MainWindow, box: Any) -> QImage:
    """The window with ``box`` drawn centred over it, framed, as a window manager shows it."""
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtGui import QColor, QPainter

    image = window.grab().toImage()
    dialog = box.grab().toImage()
    ratio = image.devicePixelRatio()
    size = dialog.size() / dialog.devicePixelRatio() * ratio
    top_left = QPoint(
        max(0, (image.width() - size.width()) // 2), max(0, (image.height() - size.height()) // 2)
    )
    painter = QPainter(image)
    painter.resetTransform()  # device pixels: the grabs may have a device pixel ratio
    for grow, alpha in ((6, 30), (3, 50)):  # a soft shadow
        painter.fillRect(
            QRect(top_left, size).adjusted(-grow, -grow, grow + 2, grow + 2), QColor(0, 0, 0, alpha)
        )
    painter.drawImage(QRect(top_left, size), dialog)
    painter.setPen(QColor(120, 120, 120))
    painter.drawRect(QRect(top_left, size).adjusted(-1, -1, 0, 0))
    painter.end()
    return image


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tour; return the exit status (0, or 2 when a journey failed)."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    no_display = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif no_display:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from em_gui.collector import GuiThreadCollector
    from em_gui.main_window import APP_NAME, ORGANIZATION

    app = QApplication.instance() or QApplication([APP_NAME])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    args.outdir.mkdir(parents=True, exist_ok=True)
    collector = GuiThreadCollector(app)
    try:
        with tempfile.TemporaryDirectory(prefix="em-explorer-tour-") as folder:
            tour = Tour(args, Path(folder))
            try:
                tour.run(args.only or JOURNEYS)
            except TourError as exc:
                print(f"tour failed: {exc}", file=sys.stderr)
                return 2
    finally:
        collector.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
