"""EMWorker on its own QThread: commands, states, throttled frames, generations, stop."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Slot

from em_engine.synthetic import make_preset
from em_gui.frames import CONVERGED, PAUSED, RUNNING, FitData, FitSettings, Frame
from em_gui.worker import EMWorker


class Recorder(QObject):
    """Lives in the GUI thread, so the worker's signals reach it queued, as in the window."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self.histories: list = []
        self.states: list[str] = []
        self.errors: list[str] = []
        self.notices: list[str] = []

    @Slot(object)
    def frame(self, frame: Frame) -> None:
        self.frames.append(frame)

    @Slot(object)
    def history(self, history) -> None:
        self.histories.append(history)

    @Slot(str)
    def state(self, state: str) -> None:
        self.states.append(state)

    @Slot(str)
    def error(self, message: str) -> None:
        self.errors.append(message)

    @Slot(str)
    def notice(self, message: str) -> None:
        self.notices.append(message)

    @property
    def last(self) -> Frame:
        return self.frames[-1]


class Harness:
    def __init__(self, qtbot, session_factory=None) -> None:
        self.qtbot = qtbot
        self.worker = EMWorker(session_factory)
        self.thread = QThread()
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.work)
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.rec = Recorder()
        self.worker.snapshot_ready.connect(self.rec.frame)
        self.worker.history_changed.connect(self.rec.history)
        self.worker.state_changed.connect(self.rec.state)
        self.worker.error.connect(self.rec.error)
        self.worker.notice.connect(self.rec.notice)
        self.thread.start()

    def wait_frame(self, predicate, timeout: int = 5000) -> Frame:
        """Wait for a frame of the newest generation that satisfies ``predicate``."""

        def found() -> bool:
            generation = self.worker.generation
            return any(f.generation == generation and predicate(f) for f in self.rec.frames)

        self.qtbot.waitUntil(found, timeout=timeout)
        generation = self.worker.generation
        return [f for f in self.rec.frames if f.generation == generation and predicate(f)][-1]

    def wait_idle(self, timeout: int = 5000) -> Frame:
        """Wait until the newest frame is a resting state and nothing more is queued."""
        self.qtbot.waitUntil(
            lambda: (
                bool(self.rec.frames)
                and self.rec.last.generation == self.worker.generation
                and self.rec.last.state != RUNNING
                and self.worker.pending_commands() == 0
            ),
            timeout=timeout,
        )
        return self.rec.last

    def close(self) -> float:
        started = time.perf_counter()
        self.worker.stop()
        assert self.thread.wait(2000)
        return time.perf_counter() - started


@pytest.fixture
def harness(qtbot):
    h = Harness(qtbot)
    yield h
    if h.thread.isRunning():
        h.close()


def blobs(n: int = 400, seed: int = 0) -> FitData:
    dataset = make_preset("blobs", n_samples=n, seed=seed)
    return FitData(dataset.X, tuple(dataset.feature_names), "test")


SETTINGS = FitSettings(n_components=4, init="random_from_data", tol=1e-6, max_iter=200)


def start(h: Harness, settings: FitSettings = SETTINGS, n: int = 400, seed: int = 3) -> Frame:
    h.worker.configure(data=blobs(n), settings=settings, seed=seed)
    return h.wait_frame(lambda f: f.snapshot.phase == "init")


def test_configure_sends_initial_frame(harness):
    frame = start(harness)
    snap = frame.snapshot
    assert snap.iteration == 0 and snap.seed == 3
    assert snap.means.shape == (4, 2)
    assert frame.n_history == 1 and frame.settings == SETTINGS
    assert frame.data.X.shape == (400, 2)
    assert harness.rec.errors == []


def test_step_e_step_m_step(harness):
    first = start(harness).snapshot
    harness.worker.e_step()
    e = harness.wait_frame(lambda f: f.snapshot.phase == "e").snapshot
    assert e.iteration == 0
    np.testing.assert_array_equal(e.means, first.means)  # E-step: parameters stay
    assert e.labels is not None and e.log_likelihood is not None
    harness.worker.m_step()
    m = harness.wait_frame(lambda f: f.snapshot.phase == "m").snapshot
    assert m.iteration == 1
    assert not np.allclose(m.means, e.means)  # M-step: parameters move ...
    np.testing.assert_array_equal(m.labels, e.labels)  # ... labels stay those of the E-step
    harness.worker.step()
    s = harness.wait_frame(lambda f: f.snapshot.iteration == 2).snapshot
    assert s.phase == "m"
    assert s.log_likelihood >= m.log_likelihood - 1e-9 * abs(m.log_likelihood)


def test_reset_reseed_restore(harness):
    first = start(harness).snapshot
    for _ in range(3):
        harness.worker.step()
    harness.wait_frame(lambda f: f.snapshot.iteration == 3)
    stored = [f.snapshot for f in harness.rec.frames if f.snapshot.phase == "m"]

    harness.worker.restore(1)
    restored = harness.wait_frame(lambda f: True)
    assert restored.snapshot.iteration == 1 and restored.n_history == 4
    np.testing.assert_allclose(restored.snapshot.means, stored[0].means)
    harness.worker.step()  # continues from iteration 1: later history replaced
    again = harness.wait_frame(lambda f: f.snapshot.phase == "m")
    assert again.snapshot.iteration == 2 and again.n_history == 3

    harness.worker.reset()
    reset = harness.wait_frame(lambda f: True).snapshot
    assert reset.iteration == 0
    np.testing.assert_array_equal(reset.means, first.means)

    harness.worker.reseed(11)
    reseeded = harness.wait_frame(lambda f: True).snapshot
    assert reseeded.seed == 11 and reseeded.iteration == 0
    assert not np.allclose(reseeded.means, first.means)


def test_run_until_converged_sends_every_objective_value(harness):
    start(harness)
    harness.worker.set_speed(None)
    harness.worker.run()
    final = harness.wait_frame(lambda f: f.state == CONVERGED, timeout=10000)
    assert final.snapshot.converged
    assert harness.rec.states[-1] == CONVERGED and RUNNING in harness.rec.states
    n = final.snapshot.iteration
    # the history is sent right after the frame it goes with
    harness.qtbot.waitUntil(lambda: harness.rec.histories[-1].iterations.max(initial=-1) >= n - 1)
    history = harness.rec.histories[-1]
    assert history.generation == final.generation
    # every iteration's value arrives, even if only some frames were sent
    np.testing.assert_array_equal(history.iterations, np.arange(len(history.iterations)))
    assert len(history.iterations) >= n
    assert np.all(np.diff(history.values) >= -1e-9 * np.abs(history.values[1:]))


def test_max_iter_stops_a_run_with_a_notice(harness):
    start(harness, settings=FitSettings(n_components=4, init="random", tol=0.0, max_iter=4))
    harness.worker.set_speed(None)
    harness.worker.run()
    final = harness.wait_frame(lambda f: f.snapshot.iteration == 4 and f.state != RUNNING)
    assert final.state == PAUSED and harness.rec.states[-1] == PAUSED
    assert any("max iterations" in n for n in harness.rec.notices)


def test_speed_limit_and_speed_change_wake_at_once(harness):
    start(harness, settings=FitSettings(n_components=4, init="random", tol=0.0, max_iter=1000))
    harness.worker.set_speed(10.0)
    started = time.perf_counter()
    harness.worker.run()
    harness.wait_frame(lambda f: f.snapshot.iteration >= 3)
    assert time.perf_counter() - started >= 0.19  # iterations 2 and 3 each waited >= 0.1 s
    harness.worker.set_speed(0.2)  # one iteration per 5 s: the worker now sleeps ...
    harness.worker.set_speed(None)  # ... and this wakes it at once
    harness.wait_frame(lambda f: f.snapshot.iteration >= 50, timeout=3000)
    harness.worker.pause()
    final = harness.wait_idle()
    assert final.state == PAUSED
    assert harness.rec.states[-1] == PAUSED


def test_bad_settings_keep_the_previous_session(harness):
    start(harness)
    harness.worker.step()
    harness.wait_frame(lambda f: f.snapshot.iteration == 1)
    harness.worker.configure(settings=FitSettings(n_components=1000))  # K > N
    harness.qtbot.waitUntil(lambda: bool(harness.rec.errors))
    assert "components need at least" in harness.rec.errors[0]
    kept = harness.wait_frame(lambda f: True)
    assert kept.settings == SETTINGS and kept.snapshot.iteration == 1
    harness.worker.step()  # the old session still works
    assert harness.wait_frame(lambda f: f.snapshot.iteration == 2).settings == SETTINGS


def test_commands_without_data_report_an_error(harness):
    harness.worker.step()
    harness.qtbot.waitUntil(lambda: bool(harness.rec.errors))
    assert harness.rec.errors == ["Cannot take a step: no data loaded"]


def test_generations_tag_frames_of_replaced_states(harness):
    start(harness, settings=FitSettings(n_components=4, init="random", tol=0.0, max_iter=10_000))
    harness.worker.set_speed(None)
    harness.worker.run()
    harness.wait_frame(lambda f: f.snapshot.iteration >= 5)
    generation = harness.worker.reset()
    harness.wait_frame(lambda f: f.snapshot.iteration == 0)
    later = [f for f in harness.rec.frames if f.generation >= generation]
    # the first frame of the new generation is the reset state, not a run frame before it
    assert later[0].snapshot.iteration == 0
    harness.worker.pause()
    harness.wait_idle()


def test_stop_while_running_ends_quickly(harness):
    start(harness, settings=FitSettings(n_components=5, init="random", tol=0.0, max_iter=10**6),
          n=50_000)  # fmt: skip
    harness.worker.set_speed(None)
    harness.worker.run()
    harness.wait_frame(lambda f: f.snapshot.iteration >= 2)
    assert harness.close() < 1.0


def test_stop_while_paused_ends_quickly(harness):
    start(harness)
    assert harness.close() < 1.0


def test_command_storm(harness):
    start(harness, settings=FitSettings(n_components=4, init="random", tol=1e-4, max_iter=300))
    harness.worker.set_speed(None)
    rng = np.random.default_rng(0)
    w = harness.worker
    commands = [w.run, w.pause, w.step, w.e_step, w.m_step, w.reset, lambda: w.reseed(None),
                lambda: w.reseed(int(rng.integers(100))), lambda: w.set_speed(30.0),
                lambda: w.set_speed(None), lambda: w.restore(0)]  # fmt: skip
    for i in range(400):
        commands[int(rng.integers(len(commands)))]()
        if i % 25 == 0:
            QCoreApplication.processEvents()  # let frames arrive while commands keep coming
    w.pause()
    final = harness.wait_idle(timeout=10000)
    assert harness.rec.errors == []
    assert final.generation == w.generation
    # still responsive and consistent after the storm
    w.reset()
    assert harness.wait_frame(lambda f: True).snapshot.iteration == 0
    w.step()
    assert harness.wait_frame(lambda f: f.snapshot.phase == "m").snapshot.iteration == 1


def test_e_step_threads_leave_the_gui_a_core_while_the_worker_lives(qtbot):
    from em_engine import gaussian
    from em_gui.worker import EM_THREADS

    seen: list[int] = []

    def factory(*args, **kwargs):
        seen.append(gaussian._N_THREADS)  # read in the worker thread, as the E-step would
        from em_engine.session import EMSession

        return EMSession(*args, **kwargs)

    h = Harness(qtbot, factory)
    try:
        start(h)
        assert seen == [EM_THREADS]
        assert EM_THREADS == max(1, min(2, (os.cpu_count() or 1) - 1))
    finally:
        h.close()
    assert gaussian._N_THREADS == gaussian._DEFAULT_THREADS  # the engine's default again


class CountingSession:
    """An EMSession that counts the half-steps and restores asked of it; its first step waits
    for ``gate``, so that commands pile up in the queue meanwhile."""

    def __init__(self, gate: threading.Event, entered: threading.Event, *args, **kwargs) -> None:
        from em_engine.session import EMSession

        self._session = EMSession(*args, **kwargs)
        self._gate, self._entered = gate, entered
        self.half_steps = 0
        self.restores = 0

    def __getattr__(self, name):
        return getattr(self._session, name)

    def step(self):
        self._entered.set()
        assert self._gate.wait(10)
        self.half_steps += 2
        return self._session.step()

    def e_step(self):
        self.half_steps += 1
        return self._session.e_step()

    def m_step(self):
        self.half_steps += 1
        return self._session.m_step()

    def restore(self, iteration):
        self.restores += 1
        return self._session.restore(iteration)


def test_a_storm_of_600_queued_commands_drains_fast(qtbot):
    """Steps, E-steps, M-steps and restores queued before a reseed are dropped, not carried out:
    600 commands take a few half-steps, and the worker catches up at once."""
    gate, entered = threading.Event(), threading.Event()
    sessions: list[CountingSession] = []

    def factory(*args, **kwargs):
        sessions.append(CountingSession(gate, entered, *args, **kwargs))
        return sessions[-1]

    h = Harness(qtbot, factory)
    try:
        start(h, n=1500)
        w = h.worker
        w.step()  # the worker is held in this step while the storm is posted
        assert entered.wait(5)
        moves = [w.step, w.e_step, w.m_step, lambda: w.restore(0)]
        for i in range(598):
            if i % 150 == 149:
                w.reseed(i)
            else:
                moves[i % len(moves)]()
        w.reseed(1234)
        w.step()  # after the last fresh start: carried out
        assert w.pending_commands() < 30  # the queue was coalesced as it was posted
        started = time.perf_counter()
        gate.set()
        final = h.wait_frame(lambda f: f.snapshot.seed == 1234 and f.snapshot.iteration == 1)
        elapsed = time.perf_counter() - started
        h.wait_idle()
        assert (sessions[0].half_steps, sessions[0].restores) == (4, 0)  # the held step + 1
        assert final.state == PAUSED  # a dropped restore still paused
        assert elapsed < 1.0, f"{elapsed:.2f} s to drain the queue"
        assert h.rec.errors == []
    finally:
        gate.set()
        h.close()


class Broken:
    """A session whose step has a programming error (not bad input)."""

    def __init__(self, *args, **kwargs) -> None:
        from em_engine.session import EMSession

        self._session = EMSession(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._session, name)

    def step(self):
        return {}["no such key"]


def test_an_unexpected_exception_is_logged_with_its_traceback(qtbot, tmp_path, monkeypatch):
    from em_gui import errorlog

    log = tmp_path / "app-data" / errorlog.LOG_NAME
    monkeypatch.setattr(errorlog, "log_file", lambda: log)
    h = Harness(qtbot, Broken)
    try:
        start(h)
        h.worker.step()
        qtbot.waitUntil(lambda: bool(h.rec.errors))
        assert h.rec.errors == [f"Internal error in step; details in {log}"]
        text = log.read_text()
        assert "Internal error in step" in text and "Traceback" in text
        assert "KeyError: 'no such key'" in text and "def step" not in text
        assert 'return {}["no such key"]' in text  # the line that failed
        h.worker.e_step()  # the worker lives on; bad input keeps its own message
        h.wait_frame(lambda f: f.snapshot.phase == "e")
        h.worker.restore(99)
        qtbot.waitUntil(lambda: len(h.rec.errors) == 2)
        assert h.rec.errors[1].startswith("Cannot show that iteration: ")
        assert log.read_text() == text  # user errors are not logged
    finally:
        h.close()


def test_an_unwritable_log_folder_never_crashes(qtbot, tmp_path, monkeypatch, capfd):
    from em_gui import errorlog

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(errorlog, "log_file", lambda: blocker / errorlog.LOG_NAME)
    h = Harness(qtbot, Broken)
    try:
        start(h)
        h.worker.step()
        qtbot.waitUntil(lambda: bool(h.rec.errors))
        assert h.rec.errors == ["Internal error in step; details in stderr"]
        assert "KeyError: 'no such key'" in capfd.readouterr().err
        h.worker.step()  # and again: still no crash
        qtbot.waitUntil(lambda: len(h.rec.errors) == 2)
    finally:
        h.close()
