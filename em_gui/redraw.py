"""FrameScheduler: when the window draws. It keeps only the newest frame and history it was
given and draws them from a coalescing single-shot QTimer, in three events so that input and
timers run in between (see ``FrameScheduler._redraw``), and paces redraws by their cost.

Invariant: a frame or history that arrives while a redraw is staged is never lost: the last
stage schedules the next redraw when one is pending (tests/gui/test_screen.py replays the
interleaving that once dropped a run's final frame).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

from em_gui.frames import MAX_FRAME_RATE, Frame, History

__all__ = ["DRAW_SHARE_FACTOR", "PANELS_AFTER_MS", "FrameScheduler", "Preparation"]

#: What a ``prepare`` call did: nothing to prepare, one step with more to come, or the last step.
Preparation = Literal["none", "more", "ready"]

PANELS_AFTER_MS = 40  # a redraw's panels wait for the scatter's paint at most this long
DRAW_SHARE_FACTOR = 2.0  # redraw gap >= this x the last redraw+paint cost (GUI <= ~half busy)


class FrameScheduler(QObject):
    """Schedules the window's drawing (see the module docstring).

    Parameters
    ----------
    viewport : QWidget
        The scatter plot's viewport; its paint event releases the panels' stage.
    is_current : callable
        ``is_current(generation)``: False for frames a newer command has replaced.
    prepare : callable
        ``prepare(frame) -> Preparation``: one step of the O(N) work before drawing (point
        colours): "none" when there is none, "more" until its last step, "ready" then.
    draw_scatter : callable
        ``draw_scatter(frame)``: draws the scatter view.
    draw_panels : callable
        ``draw_panels(frame)``: draws the other views; the frame is then the one shown.
    draw_history : callable
        ``draw_history(history)``: the objective per iteration.
    """

    def __init__(
        self,
        viewport: QWidget,
        *,
        is_current: Callable[[int], bool],
        prepare: Callable[[Frame], Preparation],
        draw_scatter: Callable[[Frame], None],
        draw_panels: Callable[[Frame], None],
        draw_history: Callable[[History], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._viewport = viewport
        self._is_current = is_current
        self._prepare = prepare
        self._draw_scatter = draw_scatter
        self._draw_panels = draw_panels
        self._draw_history = draw_history
        self._pending_frame: Frame | None = None
        self._pending_history: History | None = None
        self._staged: Frame | None = None  # scatter drawn, panels still to come
        self._last_draw = -1.0
        self._draw_gap = 1.0 / MAX_FRAME_RATE  # seconds between redraws (grows with cost)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._redraw)
        self._step_timer = QTimer(self)  # the next step of a preparation in steps
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(1)
        self._step_timer.timeout.connect(self._prepare_step)
        self._stage_timers = (QTimer(self), QTimer(self))
        stages = (self._redraw_scatter, self._redraw_panels)
        for timer, stage in zip(self._stage_timers, stages, strict=True):
            timer.setSingleShot(True)
            timer.setInterval(1)
            timer.timeout.connect(stage)
        viewport.installEventFilter(self)

    # ------------------------------------------------------------------ public surface
    def submit_frame(self, frame: Frame) -> None:
        """The newest frame to draw (replaces one not drawn yet)."""
        self._pending_frame = frame
        self._schedule()

    def submit_history(self, history: History) -> None:
        """The newest history to draw (replaces one not drawn yet)."""
        self._pending_history = history
        self._schedule()

    def is_idle(self) -> bool:
        """True when nothing is pending, staged or scheduled."""
        return (
            self._pending_frame is None
            and self._staged is None
            and self._pending_history is None
            and not self._timer.isActive()
            and not self._step_timer.isActive()
        )

    def newest_drawn(self) -> Frame | None:
        """The frame whose scatter is drawn but whose panels are still to come, if any."""
        return self._staged

    def take_newest(self) -> Frame | None:
        """The newest current frame not fully drawn yet, taken out of the schedule (the caller
        draws it at once, e.g. before a figure export)."""
        frame = self._pending_frame or self.newest_drawn()
        if frame is None or not self._is_current(frame.generation):
            return None
        self._pending_frame = self._staged = None
        return frame

    def stop(self) -> None:
        """Stop drawing (the window is closing)."""
        self._timer.stop()
        self._step_timer.stop()
        for timer in self._stage_timers:
            timer.stop()
        self._viewport.removeEventFilter(self)

    # ------------------------------------------------------------------ the stages
    def _schedule(self) -> None:
        timers = (self._timer, self._step_timer, *self._stage_timers)
        busy = any(t.isActive() for t in timers)
        if not busy:
            since = time.perf_counter() - self._last_draw
            self._timer.start(int(max(0.0, self._draw_gap - since) * 1000))

    def _redraw(self) -> None:
        """Draw the newest history and frame in three events, then pace the next redraw.

        1. the O(N) point colours of the newest frame (``prepare``; nothing drawn), in one
           event per step (one step up to a million points; ten for ten million);
        2. the scatter view (painted right after this event);
        3. the convergence view, parameter panel and status (painted right after).
        Steps and stages run from 1 ms timers, so timers and input due in between are served:
        the GUI thread is never busy for a whole frame at a stretch (at a million points a frame
        is tens of ms of work, twice that while EM loads both cores). A frame that arrives while
        its predecessor is being prepared replaces it: the steps start again for it.
        """
        self._last_draw = time.perf_counter()
        self._prepare_step()

    def _prepare_step(self) -> None:
        frame = self._pending_frame
        done: Preparation = "none"
        if frame is not None and self._is_current(frame.generation):
            done = self._prepare(frame)
        if done == "more":
            self._step_timer.start()
        elif done == "ready":
            self._stage_timers[0].start()
        else:
            self._redraw_scatter()

    def _redraw_scatter(self) -> None:
        frame, self._pending_frame = self._pending_frame, None
        if frame is not None and self._is_current(frame.generation):
            self._draw_scatter(frame)
            self._staged = frame
            # the panels follow the scatter's paint (eventFilter), or this long after it at most
            self._stage_timers[1].start(PANELS_AFTER_MS)
        else:
            self._redraw_panels()

    def _redraw_panels(self) -> None:
        history, self._pending_history = self._pending_history, None
        if history is not None and self._is_current(history.generation):
            self._draw_history(history)
        staged, self._staged = self._staged, None
        if staged is not None and self._is_current(staged.generation):  # not replaced meanwhile
            self._draw_panels(staged)
        # The cost is taken once the paint is done. The next redraw waits at least
        # DRAW_SHARE_FACTOR x that cost: when frames are expensive (a million points on a busy
        # machine) most of the GUI thread's time stays free for the user.
        started = self._last_draw
        self._after_paint(lambda: self._pace(started))
        if self._pending_frame is not None or self._pending_history is not None:
            self._schedule()  # arrived while this redraw was staged: never lost

    def _after_paint(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once what was just drawn is painted: painting follows a drawing slot
        as a queued scene update and then an update request, so two posted events later."""
        QTimer.singleShot(0, self, lambda: QTimer.singleShot(0, self, callback))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A paint of the scatter view with panels still to draw: draw them right after it."""
        if (
            event.type() == QEvent.Type.Paint
            and self._staged is not None
            and watched is self._viewport
        ):
            self._stage_timers[1].start(1)
        return super().eventFilter(watched, event)

    def _pace(self, started: float) -> None:
        cost = time.perf_counter() - started
        self._draw_gap = max(1.0 / MAX_FRAME_RATE, DRAW_SHARE_FACTOR * cost)
