"""Reading a data file off the UI thread: ``DataReader`` runs a read function on a background
thread and reports progress, the result or the error by Qt signals (delivered on the UI thread),
and can cancel it; ``ReadProgress`` is the window's progress dialog for a read."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from em_engine.errors import EMError
from em_gui.errorlog import log_unexpected

__all__ = ["DataReader", "ReadProgress"]

#: A read function: takes a progress(bytes done, bytes in all) callback, returns the data.
Read = Callable[[Callable[[int, int], None]], Any]
_STEPS = 1000  # progress bar resolution


class _Cancelled(Exception):
    """Raised from the progress callback to stop a read that was cancelled."""


class DataReader(QObject):
    """Runs one read on a background thread (make one reader per read, without a parent: the
    running thread keeps it alive, and a closed window's slots are disconnected by Qt).

    Signals (on the UI thread): ``progress(done, total)`` in bytes, ``finished(result)``,
    ``failed(message)`` for bad input (or an internal error, logged with its traceback) and
    ``cancelled()``. ``cancel()`` stops the read at its next block.
    """

    progress = Signal(object, object)  # Python ints: files may exceed 2 GB
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, path: str | os.PathLike[str] = "") -> None:
        super().__init__()
        self.path = path  # the file read, for the receivers
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()

    def start(self, read: Read) -> None:
        """Start ``read`` on a new thread."""
        self._thread = threading.Thread(
            target=self._run, args=(read, self._cancel), name="em-read", daemon=True
        )
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def cancel(self) -> None:
        """Ask the running read (if any) to stop; ``cancelled`` follows."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the thread has ended (for closing a window)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, read: Read, cancel: threading.Event) -> None:
        def progress(done: int, total: int) -> None:
            if cancel.is_set():
                raise _Cancelled
            self.progress.emit(done, total)

        try:
            result = read(progress)
        except _Cancelled:
            self.cancelled.emit()
            return
        except (EMError, ValueError, OSError) as exc:
            self.failed.emit(str(exc))
            return
        except MemoryError:
            self.failed.emit("out of memory: the file is too large to read into memory")
            return
        except Exception as exc:  # a programming error: logged with its traceback
            self.failed.emit(log_unexpected("reading a data file", exc))
            return
        if cancel.is_set():
            self.cancelled.emit()
        else:
            self.finished.emit(result)


class ReadProgress(QProgressDialog):
    """A progress dialog for ``reader``'s read of ``name``, not modal (the window stays usable):
    shown after half a second (a small file never flashes it); Cancel cancels the read."""

    def __init__(self, reader: DataReader, name: str, parent: QWidget) -> None:
        super().__init__(f"Reading {name}…", "Cancel", 0, _STEPS, parent)
        self.setObjectName("read_progress")
        self.setWindowTitle("Reading data")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setMinimumDuration(500)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.setValue(0)
        self.canceled.connect(reader.cancel)
        reader.progress.connect(self._on_progress)
        for done in (reader.finished, reader.failed, reader.cancelled):
            done.connect(self._finish)

    def _on_progress(self, done: int, total: int) -> None:
        self.setValue(min(_STEPS, done * _STEPS // max(total, 1)))

    def _finish(self, *_args: object) -> None:
        self.reset()
        self.deleteLater()
