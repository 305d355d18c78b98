"""EMController: owns the EMWorker and its QThread for the window's lifetime.

It starts and stops the thread, passes commands on, drops frames and histories of replaced
generations (``frame_ready`` and ``history_ready`` carry only current ones), and carries the
exports out on the worker thread: model JSON and assignments are written there from the newest
state, and ``export_done(path)`` or ``export_failed(path, reason)`` follows.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from em_gui.frames import FitData, FitSettings, FitState, Frame, History
from em_gui.worker import EMWorker

__all__ = ["EMController"]


class EMController(QObject):
    """The window's handle on the EM worker (see the module docstring).

    ``session_factory`` is passed to EMWorker (EMSession by default).
    """

    frame_ready = Signal(object)  # Frame of the newest generation
    history_ready = Signal(object)  # History of the newest generation
    state_changed = Signal(str)
    error = Signal(str)
    notice = Signal(str)
    export_done = Signal(str)
    export_failed = Signal(str, str)
    trace_ready = Signal(object)  # PointTrace of the newest generation

    def __init__(
        self, session_factory: Callable[..., Any] | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._worker: EMWorker | None = EMWorker(session_factory)
        self._thread: QThread | None = QThread()
        self._thread.setObjectName("em_worker_thread")
        self._finished = False
        worker, thread = self._worker, self._thread
        worker.moveToThread(thread)
        thread.started.connect(worker.work)
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.finished.connect(worker.deleteLater)
        worker.snapshot_ready.connect(self._on_frame)
        worker.history_changed.connect(self._on_history)
        worker.state_changed.connect(self.state_changed)
        worker.error.connect(self.error)
        worker.notice.connect(self.notice)
        worker.export_done.connect(self.export_done)
        worker.export_failed.connect(self.export_failed)
        worker.trace_ready.connect(self._on_trace)

    # ------------------------------------------------------------------ lifetime
    def start(self) -> None:
        """Start the worker thread (low priority: honoured on Windows and macOS)."""
        if self._thread is not None:
            self._thread.start(QThread.Priority.LowPriority)

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop the worker and its thread; True when the thread ended within ``timeout_ms``
        (else it is waited for: a half-step on huge data ends after that step)."""
        thread, self._thread = self._thread, None
        worker, self._worker = self._worker, None
        if thread is None:
            return self._finished
        worker.stop()
        thread.quit()
        finished = thread.wait(timeout_ms)
        if not finished:
            print("EM Explorer: waiting for the EM worker to finish its step", file=sys.stderr)
            finished = thread.wait()
        self._finished = finished and thread.isFinished()
        thread.deleteLater()
        return finished

    @property
    def worker(self) -> EMWorker | None:
        """The EMWorker (None after shutdown), for tests that watch its signals as it sends
        them; commands go through this controller."""
        return self._worker

    def is_finished(self) -> bool:
        """True once shut down with the worker thread ended."""
        return self._finished

    # ------------------------------------------------------------------ generations
    @property
    def generation(self) -> int:
        """The generation of the newest command that replaces what is shown."""
        return 0 if self._worker is None else self._worker.generation

    def is_current(self, generation: int) -> bool:
        """True unless a command posted after the one that made ``generation`` replaces it
        (after shutdown nothing newer comes)."""
        return self._worker is None or generation >= self._worker.generation

    def newest_state(self) -> FitState | None:
        """The worker's newest state (after its latest half-step or command); None before
        data or after shutdown."""
        return None if self._worker is None else self._worker.newest_state()

    @Slot(object)
    def _on_frame(self, frame: Frame) -> None:
        if self._worker is not None and self.is_current(frame.generation):
            self.frame_ready.emit(frame)

    @Slot(object)
    def _on_history(self, history: History) -> None:
        if self._worker is not None and self.is_current(history.generation):
            self.history_ready.emit(history)

    @Slot(object)
    def _on_trace(self, trace: Any) -> None:
        if self._worker is not None and self.is_current(trace.generation):
            self.trace_ready.emit(trace)

    # ------------------------------------------------------------------ commands
    def _require(self) -> EMWorker:
        if self._worker is None:
            raise RuntimeError("the EM worker has been shut down")
        return self._worker

    def run(self) -> None:
        """Iterate until converged, paused or max iterations."""
        self._require().run()

    def pause(self) -> None:
        """Pause after the current half-step."""
        self._require().pause()

    def step(self) -> None:
        """One full iteration."""
        self._require().step()

    def e_step(self) -> None:
        """Only the E-step."""
        self._require().e_step()

    def m_step(self) -> None:
        """Only the M-step."""
        self._require().m_step()

    def reset(self) -> None:
        """Back to iteration 0 of the current seed."""
        self._require().reset()

    def reseed(self, seed: int | None) -> None:
        """New initial parameters from ``seed``."""
        self._require().reseed(seed)

    def restore(self, iteration: int, based_on: int | None) -> None:
        """Show stored iteration ``iteration`` (picked in the frame of generation ``based_on``)."""
        self._require().restore(iteration, based_on=based_on)

    def move_mean(self, component: int, mean: Sequence[float], based_on: int) -> None:
        """Place a component's mean (dragged in the frame of generation ``based_on``)."""
        self._require().move_mean(component, mean, based_on=based_on)

    def configure(
        self,
        *,
        data: FitData | None = None,
        settings: FitSettings | None = None,
        seed: int | None = None,
        initial_params: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """A new fit from new data and/or settings, seed and initial parameters."""
        self._require().configure(
            data=data, settings=settings, seed=seed, initial_params=initial_params
        )

    def set_max_iter(self, max_iter: int) -> None:
        """Where runs stop; the fit so far is kept."""
        self._require().set_max_iter(max_iter)

    def apply_settings(self, frame: Frame, settings: FitSettings) -> None:
        """Settings edited while ``frame`` is shown: a new max_iter keeps the fit so far; other
        changes start a new fit; none does nothing."""
        if settings == frame.settings:
            return
        if replace(settings, max_iter=frame.settings.max_iter) == frame.settings:
            self.set_max_iter(settings.max_iter)
        else:
            self.configure(settings=settings)

    def add_point(self, frame: Frame, point: np.ndarray) -> None:
        """Add ``point`` (D,) to the data of ``frame`` and go on fitting from its parameters."""
        X, snap = frame.data.X, frame.snapshot
        lines, weights = frame.data.lines, frame.data.sample_weight
        data = FitData(
            np.vstack([X, point.astype(X.dtype)[None]]),
            frame.data.feature_names,
            frame.data.source,
            None if lines is None else np.append(lines, 0),  # an added point has no file row
            None if weights is None else np.append(weights, 1.0),  # it counts once
            frame.data.weight_column,
        )
        self.configure(
            data=data,
            settings=frame.settings,
            seed=snap.seed,
            initial_params={
                "weights": snap.weights,
                "means": snap.means,
                "covariances": snap.covariances,
            },
        )

    def trace_points(self, rows: Sequence[int]) -> None:
        """Pinned rows' responsibilities across the history (``trace_ready`` follows)."""
        self._require().trace_points(rows)

    def set_speed(self, iterations_per_second: float | None) -> None:
        """Limit the run speed (None: as fast as possible)."""
        self._require().set_speed(iterations_per_second)

    def export_model(self, path: str | Path) -> None:
        """Write the newest state as model JSON, on the worker thread."""
        self._require().export_model(path)

    def export_assignments(self, path: str | Path) -> None:
        """Write the newest state's per-row assignments (CSV), on the worker thread."""
        self._require().export_assignments(path)
