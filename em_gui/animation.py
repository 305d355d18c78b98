"""Animated export: the fit's iterations (or a range of its history) as an animated GIF or a PNG
sequence, at a chosen size and speed, for slides and teaching.

How: the window shows each chosen iteration in turn (a history restore: the EM worker replays
it and computes its responsibilities, as the history slider does) and, once it is drawn, its
scatter plot is rendered offscreen into an image of the chosen size with the iteration as a
caption. One frame is taken per event-loop turn, so the window stays responsive; a progress
dialog shows the count and can cancel. At the end the window goes back to the half-step it
showed (an M-step is made again). The images are then encoded by Pillow on a BackgroundJob's
thread (GIF: one palette per frame, looping; PNG: ``NAME-001.png`` ...) and written atomically.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from em_engine.data import write_bytes_atomic
from em_gui.background import BackgroundJob, Cancelled

if TYPE_CHECKING:
    from em_gui.main_window import MainWindow

__all__ = ["FORMATS", "MAX_FRAMES", "AnimationExporter", "AnimationRequest", "encode"]

FORMATS = ("gif", "png")
#: At most this many frames per export (choose a step for longer fits).
MAX_FRAMES = 400
_POLL_MS = 10


@dataclass(frozen=True)
class AnimationRequest:
    """What to export: ``path`` (.gif, or .png for a sequence NAME-001.png ...), iterations
    ``first``..``last`` every ``step``, ``size`` (width, height) in pixels, ``frame_ms`` per
    frame."""

    path: Path
    first: int
    last: int
    step: int = 1
    size: tuple[int, int] = (640, 480)
    frame_ms: int = 250

    @property
    def format(self) -> str:
        """ "gif" or "png" (from the suffix)."""
        return self.path.suffix.lower().lstrip(".")

    def iterations(self) -> list[int]:
        """The iterations shown, in order."""
        return list(range(self.first, self.last + 1, self.step))

    def check(self, n_history: int) -> None:
        """ValueError naming the field that cannot be used with a history of ``n_history``."""
        if self.format not in FORMATS:
            raise ValueError(f"{self.path.name}: save as .gif or .png, not {self.path.suffix!r}")
        if not 0 <= self.first <= self.last < n_history:
            raise ValueError(
                f"iterations {self.first} to {self.last}: the history has 0 to {n_history - 1}"
            )
        if self.step < 1:
            raise ValueError(f"every {self.step}th iteration: the step must be at least 1")
        if not (16 <= self.size[0] <= 4000 and 16 <= self.size[1] <= 4000):
            raise ValueError(f"size {self.size[0]} x {self.size[1]}: each between 16 and 4000")
        if not 10 <= self.frame_ms <= 10_000:
            raise ValueError(f"{self.frame_ms} ms per frame: between 10 and 10000")
        if len(self.iterations()) > MAX_FRAMES:
            raise ValueError(
                f"{len(self.iterations())} frames: at most {MAX_FRAMES}; choose a larger step"
            )
        if not self.path.parent.is_dir():
            raise ValueError(f"{self.path}: the folder {self.path.parent} does not exist")


def encode(request: AnimationRequest, frames: list[np.ndarray], report: Any = None) -> list[str]:
    """Write ``frames`` ((H, W, 4) uint8 RGBA each) as the request's GIF or PNG sequence
    (atomically, file by file); returns the paths written. ``report(i)`` after each frame
    (it may raise Cancelled)."""
    from PIL import Image

    images = []
    for i, rgba in enumerate(frames):
        image = Image.fromarray(rgba, "RGBA").convert("RGB")
        images.append(image)
        if report is not None:
            report(i + 1)
    path = request.path
    if request.format == "png":
        written = []
        for i, image in enumerate(images):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            target = path.with_name(f"{path.stem}-{i + 1:03d}.png")
            write_bytes_atomic(target, buffer.getvalue())
            written.append(str(target))
        return written
    paletted = [im.quantize(colors=255, method=Image.Quantize.MEDIANCUT) for im in images]
    buffer = io.BytesIO()
    paletted[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=paletted[1:],
        duration=request.frame_ms,
        loop=0,
        disposal=1,
    )
    write_bytes_atomic(path, buffer.getvalue())
    return [str(path)]


def render_frame(plot_item: Any, size: tuple[int, int], caption: str) -> np.ndarray:
    """The plot ``plot_item`` rendered offscreen into ``size`` under a band with ``caption``,
    laid out at that size for the time of the rendering (it fills the frame whatever the
    window's shape); (H, W, 4) uint8 RGBA."""
    width, height = size
    image = QtGui.QImage(width, height, QtGui.QImage.Format.Format_RGBA8888)
    image.fill(QtGui.QColor("white"))
    band = max(14, height // 14)
    painter = QtGui.QPainter(image)
    shown = plot_item.geometry()
    try:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        target = QtCore.QRectF(0, band, width, height - band)
        plot_item.setGeometry(QtCore.QRectF(shown.topLeft(), target.size()))
        plot_item.layout.activate()
        plot_item.scene().render(painter, target, plot_item.sceneBoundingRect())
        font = painter.font()
        font.setPixelSize(max(9, int(band * 0.7)))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QtGui.QColor("#222"))
        painter.drawText(
            QtCore.QRectF(6, 0, width - 12, band),
            QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
            caption,
        )
    finally:
        painter.end()
        plot_item.setGeometry(shown)
        plot_item.layout.activate()
    bits = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    rows = bits.reshape(height, image.bytesPerLine())[:, : width * 4]
    return rows.reshape(height, width, 4).copy()


class AnimationExporter(QtCore.QObject):
    """Takes the frames through the window and hands them to the encoder (see the module
    docstring). ``finished(paths)`` when written, ``failed(message)``, ``cancelled()``; each
    once the encoder's thread has ended."""

    finished = QtCore.Signal(object)  # the list of paths written
    failed = QtCore.Signal(str)
    cancelled = QtCore.Signal()

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._request: AnimationRequest | None = None
        self._todo: list[int] = []
        self._frames: list[np.ndarray] = []
        self._back_to = (0, "e", 0)  # iteration, phase, last iteration of the history
        self._waiting_for: int | None = None
        self._dialog: QtWidgets.QProgressDialog | None = None
        self._job: BackgroundJob | None = None
        self._written: list[str] | None = None  # what the encoder wrote
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(_POLL_MS)
        self._timer.timeout.connect(self._poll)
        self.failed.connect(window.show_error)

    def frames_taken(self) -> int:
        """Frames taken so far by the export in progress."""
        return len(self._frames)

    def is_busy(self) -> bool:
        """True while frames are taken or encoded."""
        return self._request is not None

    def ask_and_export(self) -> None:
        """Ask for the range, size, speed and file (a dialog), then export."""
        from em_gui.animation_dialog import ask_animation

        frame = self._window.current_frame()
        if frame is None:
            self._window.show_error("Nothing to export: load or generate data first")
            return
        request = ask_animation(self._window, frame.n_history)
        if request is not None:
            self.export(request)

    def export(self, request: AnimationRequest) -> bool:
        """Start exporting; False (with an error shown) when the request cannot be used."""
        frame = self._window.current_frame()
        if self.is_busy():
            self.failed.emit("An animation is being exported already")
            return False
        if frame is None:
            self.failed.emit("Nothing to export: load or generate data first")
            return False
        try:
            request.check(frame.n_history)
        except ValueError as exc:
            self.failed.emit(f"Cannot export the animation: {exc}")
            return False
        self._request = request
        self._todo = request.iterations()
        self._frames = []
        snap = frame.snapshot
        self._back_to = (int(snap.iteration), snap.phase, frame.n_history - 1)
        self._window.pause()
        dialog = QtWidgets.QProgressDialog(
            "Taking the frames…", "Cancel", 0, 2 * len(self._todo), self._window
        )
        dialog.setObjectName("progress_animation")
        dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)  # no edits meanwhile
        dialog.setWindowTitle("Export animation")
        dialog.setMinimumDuration(300)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.cancel)
        self._dialog = dialog
        self._next()
        return True

    def cancel(self) -> None:
        """Stop the export; nothing is written (files already complete stay)."""
        if self._request is None:
            return
        if self._job is not None:
            self._job.cancel()
            return
        self._go_back()
        self._end()
        self.cancelled.emit()

    def _go_back(self) -> None:
        """Back to the half-step shown before the export: an M-step (always the history's
        last: a restore would show the E-step on its parameters) is made again from the E-step
        before it; any other half-step is restored."""
        iteration, phase, last = self._back_to
        controller = self._window.controller
        if phase == "m" and iteration == last and iteration > 0:
            controller.restore(iteration - 1, None)
            controller.m_step()
        else:
            controller.restore(iteration, None)

    def _next(self) -> None:
        if not self._todo:
            self._timer.stop()
            self._go_back()
            self._encode()
            return
        self._waiting_for = self._todo.pop(0)
        self._window.controller.restore(self._waiting_for, None)
        self._timer.start()

    def _poll(self) -> None:
        window = self._window
        frame = window.current_frame()
        if (
            self._request is None
            or frame is None
            or frame.snapshot.iteration != self._waiting_for
            or not window.is_drawn_up_to_date()
        ):
            return
        self._timer.stop()
        snap = frame.snapshot
        caption = f"iteration {snap.iteration}"
        if snap.log_likelihood is not None:
            caption += f"   {snap.objective} {snap.log_likelihood:,.2f}"
        plot_item = window.scatter.plot_widget.getPlotItem()
        self._frames.append(render_frame(plot_item, self._request.size, caption))
        if self._dialog is not None:
            self._dialog.setValue(len(self._frames))
        self._next()

    def _encode(self) -> None:
        request, frames = self._request, self._frames
        if self._dialog is not None:
            self._dialog.setLabelText("Encoding…")
        n = len(frames)

        def work(report: Any, cancelled: Any) -> list[str]:
            def step(i: int) -> None:
                if cancelled():
                    raise Cancelled
                report(i)

            return encode(request, frames, step)

        job = BackgroundJob(work, "animation export", self)
        job.progress.connect(lambda i: self._dialog and self._dialog.setValue(n + int(i)))
        job.done.connect(lambda paths: setattr(self, "_written", paths))
        job.failed.connect(self.failed)
        job.finished.connect(self._on_encoded)
        self._job = job
        job.start()

    def _on_encoded(self) -> None:
        """The encoder's thread has ended: say how it went."""
        cancelled = self._job is not None and self._job.cancelled
        written, self._written = self._written, None
        self._job = None
        self._end()
        if cancelled:
            self.cancelled.emit()
        elif written is not None:
            self.finished.emit(written)

    def _end(self) -> None:
        self._timer.stop()
        self._request = None
        self._todo = []
        self._frames = []
        self._waiting_for = None
        if self._dialog is not None:
            self._dialog.canceled.disconnect(self.cancel)
            self._dialog.close()
            self._dialog.deleteLater()
            self._dialog = None

    def stop(self) -> None:
        """Cancel and wait for the encoder's thread (closing the window)."""
        if self._job is not None:
            self._job.stop()
        self.cancel()
