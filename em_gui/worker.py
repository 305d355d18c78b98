"""EMWorker: the one object that runs EM, on its own QThread.

The GUI thread calls the command methods (``run``, ``pause``, ``step``, ``reset``, ...). They only
append a typed command (em_gui.commands) to a mutex-guarded queue and wake the worker; the worker's
loop (``work``, started by ``QThread.started``) takes commands between half-steps, so all EM
arithmetic, every EMSession call and the exports happen in the worker thread. A fresh start
(reset, reseed, configure) drops the steps and restores queued before it, so a storm of commands
drains fast. A paused worker sleeps on a QWaitCondition; a speed limit is a
timed wait on the same condition, so any command or ``stop()`` wakes it at once.

Outgoing signals (queued to the GUI thread; the worker never touches a widget):

- ``snapshot_ready(Frame)``: throttled on the worker's own clock to at most ``MAX_FRAME_RATE`` per
  second while running; always sent for a command's result and for the final state when a run stops.
- ``history_changed(History)``: every (iteration, objective) value stored so far, sent with
  each frame (cumulative, so a throttled frame never loses a value).
- ``state_changed(str)``: ``"running"``, ``"paused"`` or ``"converged"``; sent before the frame
  that shows the new state, so a receiver that has a resting frame also has its state.
- ``error(str)``: a command failed; the previous session and its fit are kept. Bad input (EMError,
  ValueError) reads "<the command's failure phrase>: <reason>" (e.g. "Cannot start the fit: ...");
  anything else is a programming error, logged
  with its traceback (em_gui.errorlog) and reported as "Internal error in <command>; details in
  <log file>".
- ``export_done(str)`` / ``export_failed(str, str)``: an export was written to the path / could
  not be (path, reason).
- ``notice(str)``: something the user should know that is not an error (e.g. max_iter reached).
- ``trace_ready(PointTrace)``: pinned rows' responsibilities across the history (``trace_points``).

With a synthetic preset's truth (``FitData.truth``) the worker also scores EM's labels against
the true ones (adjusted Rand index, em_engine.bound) at every E-step, sent in ``History``.

Generations: a command that replaces what is shown (reset, reseed, restore, new settings, new data,
an imported model, a moved mean) gets a new generation number when it is posted, and every frame
carries the generation of the last command the worker carried out. The window drops frames older
than ``EMWorker.generation``, so a state from before a reset is never drawn as current.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QMutex, QObject, QWaitCondition, Signal, Slot

from em_engine import gaussian
from em_engine.bound import responsibility_trace
from em_engine.checks import reg_covar_note
from em_engine.errors import DataError, EMError, RowError
from em_gui import commands as cmd
from em_gui import exports
from em_gui.agreement import AgreementLog
from em_gui.errorlog import log_unexpected
from em_gui.frames import (
    CONVERGED,
    MAX_FRAME_RATE,
    PAUSED,
    RUNNING,
    FitData,
    FitSettings,
    FitState,
    Frame,
    History,
    PointTrace,
    session_options,
)

__all__ = ["EM_THREADS", "EMWorker"]

#: Threads of the engine's blocked E-step while the worker runs: one core is left to the GUI
#: thread (measured on 2 cores, EM running free at 1M points: event-loop lateness p99 22-29 ms
#: instead of 43-56, for ~10% fewer iterations per second); the engine's default of 2 with 3 or
#: more cores.
EM_THREADS = max(1, min(2, (os.cpu_count() or 1) - 1))


_ADVANCE = cmd.Posted(cmd.Run())  # the loop's own "one more iteration of the run"


def _default_session_factory(*args: Any, **kwargs: Any) -> Any:
    from em_engine.session import EMSession

    return EMSession(*args, **kwargs)


class EMWorker(QObject):
    """Owns the EMSession and runs it on the thread it lives in (see the module docstring).

    Parameters
    ----------
    session_factory : callable, optional
        Called as ``factory(X, n_components, covariance_type=, init=, seed=, tol=, reg_covar=,
        max_iter=, prior=, initial_params=, missing="em", mode=)``; em_engine.EMSession by
        default.
    """

    snapshot_ready = Signal(object)
    history_changed = Signal(object)
    state_changed = Signal(str)
    error = Signal(str)
    notice = Signal(str)
    export_done = Signal(str)
    export_failed = Signal(str, str)
    trace_ready = Signal(object)
    finished = Signal()

    def __init__(self, session_factory: Callable[..., Any] | None = None) -> None:
        super().__init__()
        self._factory = session_factory or _default_session_factory
        # Shared with the GUI thread: guarded by _mutex.
        self._mutex = QMutex()
        self._wake = QWaitCondition()
        self._queue = cmd.CommandQueue()
        self._abort = False
        self._speed: float | None = None  # iterations per second; None = as fast as possible
        self._newest: FitState | None = None
        # Worker-thread state.
        self._session: Any = None
        self._data: FitData | None = None
        self._settings = FitSettings()
        self._seed = 0
        self._generation = 0
        self._running = False
        self._state = PAUSED
        self._last_step_start = 0.0
        self._last_emit = -math.inf
        self._agreement = AgreementLog()  # ARI with the true labels per iteration
        self._handlers: dict[type[cmd.Command], Callable[[Any], None]] = {
            cmd.Run: self._do_run,
            cmd.Pause: self._do_pause,
            cmd.Step: self._do_step,
            cmd.EStep: self._do_e_step,
            cmd.MStep: self._do_m_step,
            cmd.Reset: self._do_reset,
            cmd.Reseed: self._do_reseed,
            cmd.Restore: self._do_restore,
            cmd.MoveMean: self._do_move_mean,
            cmd.SetMaxIter: self._do_max_iter,
            cmd.Configure: self._do_configure,
            cmd.ExportModel: self._do_export_model,
            cmd.ExportAssignments: self._do_export_assignments,
            cmd.TracePoints: self._do_trace_points,
        }

    # ------------------------------------------------------------------ commands (any thread)
    @property
    def generation(self) -> int:
        """The generation of the newest invalidating command posted so far."""
        self._mutex.lock()
        try:
            return self._queue.generation
        finally:
            self._mutex.unlock()

    def post(self, command: cmd.Command, *, based_on: int | None = None) -> int:
        """Queue ``command`` and wake the worker; returns the newest generation posted.

        A fresh start (reset, reseed, configure) first drops the steps, E-steps, M-steps and
        restores still queued: their results would be replaced at once. A dropped restore leaves
        a Pause in its place (a restore pauses).
        """
        self._mutex.lock()
        try:
            generation = self._queue.post(command, based_on)
            self._wake.wakeAll()
            return generation
        finally:
            self._mutex.unlock()

    def pending_commands(self) -> int:
        """How many posted commands the worker has not taken yet."""
        self._mutex.lock()
        try:
            return len(self._queue)
        finally:
            self._mutex.unlock()

    def run(self) -> None:
        """Iterate until converged, paused or max_iter."""
        self.post(cmd.Run())

    def pause(self) -> None:
        """Stop iterating after the current half-step; the final state is sent."""
        self.post(cmd.Pause())

    def step(self) -> None:
        """One full iteration (E-step then M-step)."""
        self.post(cmd.Step())

    def e_step(self) -> None:
        """Responsibilities from the current parameters (parameters unchanged)."""
        self.post(cmd.EStep())

    def m_step(self) -> None:
        """Parameters from the latest responsibilities."""
        self.post(cmd.MStep())

    def reset(self) -> int:
        """Back to the initial parameters of the current seed; returns the new generation."""
        return self.post(cmd.Reset())

    def reseed(self, seed: int | None = None) -> int:
        """New seed (random if None) and new initial parameters; returns the new generation."""
        return self.post(cmd.Reseed(seed))

    def restore(self, iteration: int, *, based_on: int | None = None) -> int:
        """Show stored parameters theta_iteration (pauses); returns the new generation.

        ``based_on``: the generation of the frame whose history the iteration was picked from;
        if a newer state has no such iteration, the command is dropped quietly as stale.
        """
        return self.post(cmd.Restore(int(iteration)), based_on=based_on)

    def move_mean(
        self, component: int, mean: Sequence[float], *, based_on: int | None = None
    ) -> int:
        """Place component's mean (D,) by hand; returns the new generation.

        ``based_on``: the generation of the frame whose marker was dragged; if a newer state has
        no such component (K dropped), the command is dropped quietly as stale.
        """
        mean = np.array(mean, dtype=np.float64)
        return self.post(cmd.MoveMean(int(component), mean), based_on=based_on)

    def configure(
        self,
        *,
        data: FitData | None = None,
        settings: FitSettings | None = None,
        seed: int | None = None,
        initial_params: Mapping[str, np.ndarray] | None = None,
    ) -> int:
        """Build a new session from new data and/or settings (the others stay as they are).

        ``initial_params`` (a dict with any of weights, means, covariances) starts the fit from
        given parameters, e.g. an imported model. If the new session cannot be built the old one
        is kept and ``error`` is emitted. Returns the new generation.
        """
        return self.post(cmd.Configure(data, settings, seed, initial_params))

    def export_model(self, path: str | Path) -> None:
        """Write the newest state as model JSON, scored on the data, in the worker thread;
        ``export_done`` or ``export_failed`` follows."""
        self.post(cmd.ExportModel(Path(path)))

    def export_assignments(self, path: str | Path) -> None:
        """Write the per-row assignments of the newest state (CSV) in the worker thread;
        ``export_done`` or ``export_failed`` follows."""
        self.post(cmd.ExportAssignments(Path(path)))

    def trace_points(self, rows: Sequence[int]) -> None:
        """Responsibilities of ``rows`` (0-based) across the history; ``trace_ready`` follows."""
        self.post(cmd.TracePoints(tuple(int(r) for r in rows)))

    def newest_state(self) -> FitState | None:
        """The newest state the worker holds (None before data): snapshot, data and settings.

        Unlike the frames, which are throttled, this is updated after every half-step and
        command, so an export taken from it is never older than the fit.
        """
        self._mutex.lock()
        try:
            return self._newest
        finally:
            self._mutex.unlock()

    def set_max_iter(self, max_iter: int) -> None:
        """Change where runs stop, keeping the session and its history (no new generation)."""
        self.post(cmd.SetMaxIter(int(max_iter)))

    def set_speed(self, iterations_per_second: float | None) -> None:
        """Limit the run speed; None runs as fast as possible. Takes effect at once."""
        self._mutex.lock()
        try:
            self._speed = None if iterations_per_second is None else float(iterations_per_second)
            self._wake.wakeAll()
        finally:
            self._mutex.unlock()

    def stop(self) -> None:
        """Ask the loop to end (after the half-step in progress); ``finished`` follows."""
        self._mutex.lock()
        try:
            self._abort = True
            self._queue.clear()
            self._wake.wakeAll()
        finally:
            self._mutex.unlock()

    # ------------------------------------------------------------------ the loop (worker thread)
    @Slot()
    def work(self) -> None:
        """The worker's loop: carry out commands; iterate while running; sleep when idle."""
        gaussian.set_num_threads(EM_THREADS)
        try:
            while True:
                posted = self._next_command()
                if posted is None:
                    break
                if posted is _ADVANCE:
                    self._guarded("iteration", "Cannot take the next iteration", self._advance)
                else:
                    self._execute(posted)
        finally:
            gaussian.set_num_threads(None)
        self.finished.emit()

    def _next_command(self) -> cmd.Posted | None:
        """Block until there is something to do; None means stop."""
        self._mutex.lock()
        try:
            while True:
                if self._abort:
                    return None
                if self._queue:
                    return self._queue.take()
                if self._running:
                    delay = 0.0
                    if self._speed is not None:
                        delay = self._last_step_start + 1.0 / self._speed - time.perf_counter()
                    if delay <= 0:
                        return _ADVANCE
                    self._wake.wait(self._mutex, max(1, math.ceil(delay * 1000)))
                else:
                    self._wake.wait(self._mutex)
        finally:
            self._mutex.unlock()

    def _execute(self, posted: cmd.Posted) -> None:
        # aimed at a frame that a later command has replaced (a drag of a component that K no
        # longer has, a history position that is gone): if it no longer fits, it is dropped
        stale = posted.based_on is not None and posted.based_on < self._generation
        if posted.generation is not None:
            self._generation = posted.generation
        command = posted.command
        handler = self._handlers[type(command)]
        ok = self._guarded(command.label, command.failure, handler, command, quiet=stale)
        if not ok and posted.generation is not None:
            self._publish(force=True)  # the window re-syncs with what is really in use

    def _guarded(
        self,
        what: str,
        failure: str,
        handler: Callable[..., None],
        *args: Any,
        quiet: bool = False,
    ) -> bool:
        """Run a handler; a failure is reported and the worker and its session live on.

        Bad input (EMError, ValueError) reads "<failure>: <reason>" (nothing when ``quiet``: a
        stale command); any other exception is a programming error: its traceback is logged and
        the message names the log file and ``what`` was being done.
        """
        try:
            handler(*args)
        except (EMError, ValueError) as exc:
            self._stop_after_failure()
            if not quiet:
                self.error.emit(f"{failure}: {exc}")
            return False
        except Exception as exc:
            self._stop_after_failure()
            self.error.emit(log_unexpected(what, exc))
            return False
        return True

    def _stop_after_failure(self) -> None:
        self._running = False
        self._set_state(self._current_state())

    # ------------------------------------------------------------------ command handlers
    def _require_session(self) -> Any:
        if self._session is None:
            raise EMError("no data loaded")
        return self._session

    def _do_run(self, _command: cmd.Run) -> None:
        session = self._require_session()
        if session.snapshot.iteration >= self._settings.max_iter:
            self.notice.emit(
                f"max iterations ({self._settings.max_iter}) reached: raise the limit to go on"
            )
            return
        self._running = True
        self._last_step_start = -math.inf
        self._set_state(RUNNING)

    def _do_pause(self, _command: cmd.Pause) -> None:
        self._running = False
        self._after_command()

    def _do_step(self, _command: cmd.Step) -> None:
        self._require_session().step()
        self._after_command()

    def _do_e_step(self, _command: cmd.EStep) -> None:
        self._require_session().e_step()
        self._after_command()

    def _do_m_step(self, _command: cmd.MStep) -> None:
        self._require_session().m_step()
        self._after_command()

    def _do_reset(self, _command: cmd.Reset) -> None:
        self._require_session().reset()
        self._after_command()

    def _do_reseed(self, command: cmd.Reseed) -> None:
        snapshot = self._require_session().reseed(command.seed)
        self._seed = int(snapshot.seed)
        self._after_command()

    def _do_restore(self, command: cmd.Restore) -> None:
        self._running = False
        self._require_session().restore(command.iteration)
        self._after_command()

    def _do_move_mean(self, command: cmd.MoveMean) -> None:
        self._require_session().move_mean(command.component, command.mean)
        self._after_command()

    def _do_max_iter(self, command: cmd.SetMaxIter) -> None:
        if command.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {command.max_iter}")
        self._settings = replace(self._settings, max_iter=command.max_iter)
        self._publish(force=True)

    def _do_configure(self, command: cmd.Configure) -> None:
        data = command.data or self._data
        if data is None:
            raise EMError("no data loaded")
        settings = command.settings or self._settings
        seed = self._seed if command.seed is None else int(command.seed)
        initial_params = command.initial_params
        source = Path(data.source).name if data.source else None
        try:
            session = self._factory(
                data.X,
                settings.n_components,
                initial_params=None if initial_params is None else dict(initial_params),
                **session_options(data, settings, seed),
            )
        except RowError as exc:  # named as the file names it: its row and the column's name
            raise DataError(exc.located(source, data.lines, data.feature_names)) from None
        except (EMError, ValueError) as exc:
            if command.data is None or source is None:
                raise
            raise DataError(f"{source}: {exc}") from None  # new data: say which
        self._session, self._data, self._settings = session, data, settings
        self._agreement.clear()
        self._seed = int(session.snapshot.seed)
        self._after_command()
        note = reg_covar_note(data.X, settings.reg_covar, data.feature_names)
        if note is not None:
            self.notice.emit(note)

    def _do_trace_points(self, command: cmd.TracePoints) -> None:
        session = self._require_session()
        rows = np.array([r for r in command.rows if 0 <= r < len(self._data.X)], dtype=np.intp)
        iterations, resp = responsibility_trace(
            session.history, self._data.X[rows], session.covariance_type
        )
        self.trace_ready.emit(PointTrace(self._generation, rows, iterations, resp))

    # ------------------------------------------------------------------ exports
    def _export(self, path: Path, write: Callable[[FitState, Path], object]) -> None:
        """Write a file from the newest state; a file that cannot be written, or a state that
        cannot be exported, is ``export_failed`` (path, reason); other exceptions go on to
        ``_guarded``."""
        self._require_session()
        try:
            write(self._newest, path)
        except (EMError, ValueError, OSError) as exc:
            self.export_failed.emit(str(path), str(exc))
        else:
            self.export_done.emit(str(path))

    def _do_export_model(self, command: cmd.ExportModel) -> None:
        self._export(command.path, exports.write_model)

    def _do_export_assignments(self, command: cmd.ExportAssignments) -> None:
        self._export(command.path, exports.write_assignments)

    # ------------------------------------------------------------------ running and publishing
    def _advance(self) -> None:
        """One iteration of a run; stops the run when converged or at max_iter."""
        self._last_step_start = time.perf_counter()
        snapshot = self._session.step()
        if snapshot.converged or snapshot.iteration >= self._settings.max_iter:
            self._running = False
            self._after_command()
            if not snapshot.converged:
                self.notice.emit(f"stopped at max iterations ({self._settings.max_iter})")
        else:
            self._publish(force=False)

    def _after_command(self) -> None:
        """Send the state, then the frame that shows it (see the module docstring)."""
        self._set_state(self._current_state())
        self._publish(force=True)

    def _current_state(self) -> str:
        if self._running:
            return RUNNING
        converged = self._session is not None and self._session.snapshot.converged
        return CONVERGED if converged else PAUSED

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    def _publish(self, *, force: bool) -> None:
        """Send the current snapshot (throttled unless forced) and any new history values."""
        session = self._session
        if session is None:
            return
        self._agreement.record(session.snapshot, None if self._data is None else self._data.truth)
        newest = FitState(self._generation, session.snapshot, self._data, self._settings)
        self._mutex.lock()
        self._newest = newest
        self._mutex.unlock()
        now = time.perf_counter()
        if not force and now - self._last_emit < 1.0 / MAX_FRAME_RATE:
            return
        self._last_emit = now
        self.snapshot_ready.emit(
            Frame(
                generation=self._generation,
                snapshot=session.snapshot,
                data=self._data,
                settings=self._settings,
                n_history=len(session.history),
                state=self._current_state(),
                prior=getattr(session, "prior", None),
            )
        )
        iterations, values = session.objective_values()  # cheap at any history length
        bound = session.bound_history() if hasattr(session, "bound_history") else None
        self.history_changed.emit(
            History(
                self._generation,
                iterations,
                values,
                session.snapshot.objective,
                bound,
                self._agreement.series(),
            )
        )
