"""BackgroundJob: one long engine computation (a model sweep, a set of restarts, a GIF encoding)
on its own QThread, with progress, cancel and a clean end.

The GUI thread makes the job with ``work(report, cancelled)``, a function that runs in the job's
thread: it calls ``report(item)`` for each partial result (queued to the GUI thread as
``progress(item)``) and should return early once ``cancelled()`` is True (``report`` itself
raises ``Cancelled`` then, which ends the work quietly). When the work returns, ``done(result)``
is emitted; when it raises, ``failed(message)`` (bad input in words; anything else is logged
with its traceback, as the EM worker does); in every case ``finished`` follows, after which the
thread has ended. ``cancel`` and ``stop`` never block the GUI thread for long: ``stop`` waits
at most ``timeout_ms`` for the work to notice (a job checks between fits or frames).

The work never touches a widget (it runs outside the GUI thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from em_engine.errors import EMError
from em_gui.errorlog import log_unexpected

__all__ = ["BackgroundJob", "Cancelled"]


class Cancelled(Exception):
    """Raised by ``report`` once the job is cancelled: the work ends without a result."""


class _Runner(QObject):
    """Lives in the job's thread and runs the work there."""

    progress = Signal(object)
    done = Signal(object)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, work: Callable[..., Any], label: str, flag: threading.Event) -> None:
        super().__init__()
        self._work = work
        self._label = label
        self._flag = flag

    def _report(self, item: Any) -> None:
        if self._flag.is_set():
            raise Cancelled
        self.progress.emit(item)

    @Slot()
    def run(self) -> None:
        try:
            result = self._work(self._report, self._flag.is_set)
        except Cancelled:
            pass
        except (EMError, ValueError, OSError) as exc:
            self.failed.emit(f"Cannot finish the {self._label}: {exc}")
        except Exception as exc:
            self.failed.emit(log_unexpected(self._label, exc))
        else:
            if not self._flag.is_set():
                self.done.emit(result)
        self.ended.emit()


class BackgroundJob(QObject):
    """A computation on its own thread (see the module docstring); ``label`` names it in
    messages ("model sweep"). Start it with ``start()``."""

    progress = Signal(object)
    done = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, work: Callable[..., Any], label: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._flag = threading.Event()
        self._thread: QThread | None = QThread(self)
        self._thread.setObjectName(f"{label.replace(' ', '_')}_thread")
        self._runner = _Runner(work, label, self._flag)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.progress.connect(self.progress)
        self._runner.done.connect(self.done)
        self._runner.failed.connect(self.failed)
        self._runner.ended.connect(self._thread.quit)
        self._thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        """Start the work (low priority, so the window is served first)."""
        if self._thread is not None:
            self._thread.start(QThread.Priority.LowPriority)

    def cancel(self) -> None:
        """Ask the work to stop; ``finished`` follows (no ``done``)."""
        self._flag.set()

    @property
    def cancelled(self) -> bool:
        """True once cancel or stop was called."""
        return self._flag.is_set()

    def stop(self, timeout_ms: int = 2000) -> bool:
        """Cancel and wait for the thread to end (closing the window); True when it ended
        within ``timeout_ms`` (else it is waited for: a fit in progress ends first)."""
        self.cancel()
        thread = self._thread
        if thread is None:
            return True
        ended = thread.wait(timeout_ms) or thread.wait()
        self._on_thread_finished()
        return ended

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.deleteLater()
        self._runner.deleteLater()
        self.finished.emit()
