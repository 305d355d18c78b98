"""Exceptions the engine raises for bad input: one clear message naming what is wrong."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from typing import TypeVar


class EMError(Exception):
    """Base class for errors a user can act on (shown as one line, never a traceback)."""


class DataError(EMError, ValueError):
    """Bad data: a CSV file or an array. The message names the file, row and column where known."""


class DataTypeError(DataError, TypeError):
    """Data of a kind that cannot be fitted at all (sparse, objects that are no numbers): also a
    TypeError, as scikit-learn raises for it."""


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

    def __reduce__(self) -> tuple[type, tuple[str, int, int | None]]:
        """Pickled by its fields (a Dask worker's error reaches the client whole)."""
        return type(self), (self.reason, self.row, self.column)

    def shifted(self, offset: int) -> RowError:
        """The same error about row ``row + offset`` (a chunk's row as the whole data's)."""
        return type(self)(self.reason, self.row + offset, self.column)

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


class NotFittedError(ValueError, AttributeError):
    """A method that needs fitted parameters was called before fit (as scikit-learn's)."""


class ConvergenceWarning(UserWarning):
    """EM stopped at max_iter before the lower bound changed by less than tol."""


_T = TypeVar("_T", bound=type)
_SKLEARN_PREFIX = "Sklearn"  # the bridged classes' names: SklearnNotFittedError, ...


def sklearn_compatible(ours: _T) -> _T:
    """``ours`` (NotFittedError or ConvergenceWarning), or, when the program has imported
    scikit-learn, a subclass of ours and of scikit-learn's class of the same name: then
    ``except sklearn.exceptions.NotFittedError`` and ``pytest.warns(ConvergenceWarning)`` written
    for scikit-learn catch it, and so does code written for ours. Never imports scikit-learn
    itself (the app and its bundle do not have it)."""
    if "sklearn" not in sys.modules:
        return ours
    return __getattr__(_SKLEARN_PREFIX + ours.__name__)


@functools.cache
def __getattr__(name: str) -> type:
    """The bridged classes by name, made on first use (pickle finds them here too)."""
    ours = globals().get(name.removeprefix(_SKLEARN_PREFIX))
    if not name.startswith(_SKLEARN_PREFIX) or ours not in (NotFittedError, ConvergenceWarning):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import sklearn.exceptions  # the program has imported scikit-learn (sklearn_compatible)

    theirs = getattr(sklearn.exceptions, ours.__name__)
    return type(name, (ours, theirs), {"__module__": __name__, "__doc__": ours.__doc__})
