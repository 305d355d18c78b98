"""Exceptions the engine raises for bad input: one clear message naming what is wrong."""

from __future__ import annotations

from collections.abc import Sequence


class EMError(Exception):
    """Base class for errors a user can act on (shown as one line, never a traceback)."""


class DataError(EMError, ValueError):
    """Bad data: a CSV file or an array. The message names the file, row and column where known."""


class ModelFileError(EMError, ValueError):
    """A model JSON file that cannot be loaded. The message names the file and the field."""


class RowError(DataError):
    """A problem with one row of the data (and one column, where it is about a value). ``row``
    and ``column`` are 0-based indices into X (``column`` None when the whole row is meant),
    ``reason`` the message without them: a caller that knows the file names them its own way
    (its line, the column's name)."""

    def __init__(self, reason: str, row: int, column: int | None = None) -> None:
        where = f"data row {row + 1}" + ("" if column is None else f", column {column + 1}")
        super().__init__(f"{where}: {reason}")
        self.reason = reason
        self.row = row
        self.column = column

    def located(
        self,
        source: str | None,
        lines: Sequence[int] | None = None,
        names: Sequence[str] | None = None,
    ) -> str:
        """The message naming the file (``source``), the row as the file numbers it (``lines``,
        (N,): each data row's row in the file) and the column by its name (``names``)."""
        line = self.row + 1 if lines is None else int(lines[self.row])
        where = f"{source}: row {line}" if source else f"data row {line}"
        if self.column is not None:
            name = f"{names[self.column]!r}" if names is not None else str(self.column + 1)
            where += f", column {name}"
        return f"{where}: {self.reason}"


class DensityUnderflowError(RowError):
    """A row that a model cannot score in float64: its density is below the float range under
    every component, or its responsibilities are lost to rounding."""
