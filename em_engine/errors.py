"""Exceptions the engine raises for bad input: one clear message naming what is wrong."""

from __future__ import annotations


class EMError(Exception):
    """Base class for errors a user can act on (shown as one line, never a traceback)."""


class DataError(EMError, ValueError):
    """Bad data: a CSV file or an array. The message names the file, row and column where known."""


class ModelFileError(EMError, ValueError):
    """A model JSON file that cannot be loaded. The message names the file and the field."""


class DensityUnderflowError(DataError):
    """A row that a model cannot score in float64: its density is below the float range under
        every component, or its responsibilities are lost to rounding. ``row`` is its 0-based index,
    ``reason`` the message without it (for a caller that names the row its own way)."""

    def __init__(self, reason: str, row: int) -> None:
        super().__init__(f"X row {row}: {reason}")
        self.reason = reason
        self.row = row
