"""The commands the GUI thread posts to EMWorker: small frozen records, one class per command.

Each class says how the worker's queue treats it:

- ``label``: its name in internal-error messages ("Internal error in step; ...");
- ``failure``: how a person is told it could not be done ("Cannot start the fit: <reason>");
- ``new_generation``: it replaces what is shown, so it gets a new generation number when posted
  and older frames are dropped;
- ``fresh_start``: it starts the fit again (reset, reseed, new settings or data), so the moves
  queued before it (``moot_before_fresh_start``: steps, E-steps, M-steps, restores) would be
  thrown away at once and are dropped from the queue instead of being carried out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from em_gui.frames import FitData, FitSettings

__all__ = [
    "Command",
    "CommandQueue",
    "Configure",
    "EStep",
    "ExportAssignments",
    "ExportModel",
    "MStep",
    "MoveMean",
    "Pause",
    "Posted",
    "Reseed",
    "Reset",
    "Restore",
    "Run",
    "SetMaxIter",
    "Step",
]


@dataclass(frozen=True)
class Command:
    """Base of the worker's commands (see the module docstring)."""

    label: ClassVar[str] = "command"
    failure: ClassVar[str] = "Cannot carry out the command"
    new_generation: ClassVar[bool] = False
    fresh_start: ClassVar[bool] = False
    moot_before_fresh_start: ClassVar[bool] = False


@dataclass(frozen=True)
class Run(Command):
    """Iterate until converged, paused or max_iter."""

    label: ClassVar[str] = "run"
    failure: ClassVar[str] = "Cannot run"


@dataclass(frozen=True)
class Pause(Command):
    """Stop iterating after the current half-step."""

    label: ClassVar[str] = "pause"
    failure: ClassVar[str] = "Cannot pause"


@dataclass(frozen=True)
class Step(Command):
    """One full iteration (E-step then M-step)."""

    label: ClassVar[str] = "step"
    failure: ClassVar[str] = "Cannot take a step"
    moot_before_fresh_start: ClassVar[bool] = True


@dataclass(frozen=True)
class EStep(Command):
    """Responsibilities from the current parameters."""

    label: ClassVar[str] = "e-step"
    failure: ClassVar[str] = "Cannot take an E-step"
    moot_before_fresh_start: ClassVar[bool] = True


@dataclass(frozen=True)
class MStep(Command):
    """Parameters from the latest responsibilities."""

    label: ClassVar[str] = "m-step"
    failure: ClassVar[str] = "Cannot take an M-step"
    moot_before_fresh_start: ClassVar[bool] = True


@dataclass(frozen=True)
class Reset(Command):
    """Back to the initial parameters of the current seed."""

    label: ClassVar[str] = "reset"
    failure: ClassVar[str] = "Cannot reset"
    new_generation: ClassVar[bool] = True
    fresh_start: ClassVar[bool] = True


@dataclass(frozen=True)
class Reseed(Command):
    """New seed (random if None) and new initial parameters."""

    label: ClassVar[str] = "reseed"
    failure: ClassVar[str] = "Cannot reseed"
    new_generation: ClassVar[bool] = True
    fresh_start: ClassVar[bool] = True
    seed: int | None = None


@dataclass(frozen=True)
class Restore(Command):
    """Show stored parameters theta_iteration, paused. Dropped before a fresh start, its pause
    is kept (the queue puts a Pause in its place)."""

    label: ClassVar[str] = "restore"
    failure: ClassVar[str] = "Cannot show that iteration"
    new_generation: ClassVar[bool] = True
    moot_before_fresh_start: ClassVar[bool] = True
    iteration: int = 0


@dataclass(frozen=True, eq=False)
class MoveMean(Command):
    """Place a component's mean (D,) by hand."""

    label: ClassVar[str] = "move-mean"
    failure: ClassVar[str] = "Cannot move the mean"
    new_generation: ClassVar[bool] = True
    component: int = 0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True, eq=False)
class Configure(Command):
    """A new session from new data and/or settings, seed and initial parameters (None: as
    they are)."""

    label: ClassVar[str] = "configure"
    failure: ClassVar[str] = "Cannot start the fit"
    new_generation: ClassVar[bool] = True
    fresh_start: ClassVar[bool] = True
    data: FitData | None = None
    settings: FitSettings | None = None
    seed: int | None = None
    initial_params: Mapping[str, np.ndarray] | None = None


@dataclass(frozen=True)
class SetMaxIter(Command):
    """Change where runs stop, keeping the session and its history. A new generation all the
    same: a frame from before it carries the old max_iter, which the controls must not show
    again (the fit itself is kept, and the worker sends it again at once)."""

    label: ClassVar[str] = "max-iter"
    failure: ClassVar[str] = "Cannot change Max iterations"
    new_generation: ClassVar[bool] = True
    max_iter: int = 100


@dataclass(frozen=True)
class ExportModel(Command):
    """Write the newest state as model JSON (scored on the data)."""

    label: ClassVar[str] = "export model"
    failure: ClassVar[str] = "Cannot export the model"
    path: Path = Path()


@dataclass(frozen=True)
class ExportAssignments(Command):
    """Write label, confidence, log density and responsibilities per data row (CSV)."""

    label: ClassVar[str] = "export assignments"
    failure: ClassVar[str] = "Cannot export the assignments"
    path: Path = Path()


@dataclass(frozen=True)
class TracePoints(Command):
    """Compute the responsibilities of the given rows (0-based) across the stored history."""

    label: ClassVar[str] = "trace points"
    failure: ClassVar[str] = "Cannot follow the pinned points"
    rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class Posted:
    """A command in the queue with its generation (if it makes one) and ``based_on``, the
    generation of the frame the person acted on."""

    command: Command
    generation: int | None = None
    based_on: int | None = None


class CommandQueue:
    """The worker's queue of posted commands and the generation counter (not thread-safe: the
    worker guards it with its mutex)."""

    def __init__(self) -> None:
        self._items: deque[Posted] = deque()
        self.generation = 0  # of the newest command posted that replaces what is shown

    def __len__(self) -> int:
        return len(self._items)

    def post(self, command: Command, based_on: int | None = None) -> int:
        """Append ``command``; returns the newest generation posted.

        A fresh start (reset, reseed, configure) first drops the steps, E-steps, M-steps and
        restores still queued: their results would be replaced at once. A dropped restore leaves
        a Pause in its place (a restore pauses), and a Pause right after another goes.
        """
        if command.fresh_start:
            kept: deque[Posted] = deque()
            for posted in self._items:
                if isinstance(posted.command, Restore):
                    posted = Posted(Pause())
                elif posted.command.moot_before_fresh_start:
                    continue
                if not (isinstance(posted.command, Pause) and kept and kept[-1] == posted):
                    kept.append(posted)
            self._items = kept
        generation = None
        if command.new_generation:
            self.generation += 1
            generation = self.generation
        self._items.append(Posted(command, generation, based_on))
        return self.generation

    def take(self) -> Posted:
        """The oldest command (the queue must not be empty)."""
        return self._items.popleft()

    def clear(self) -> None:
        """Drop every command (the worker is stopping)."""
        self._items.clear()
