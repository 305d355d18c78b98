"""A progress bar for the terminal: one line redrawn with a carriage return, on stderr, only when
stderr is a terminal (a log file gets no bar). No dependency."""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["TerminalBar", "format_bar"]

_UNITS = ("B", "KB", "MB", "GB", "TB")


def _size(n: float) -> str:
    unit = 0
    while n >= 1024 and unit < len(_UNITS) - 1:
        n, unit = n / 1024, unit + 1
    return f"{n:.0f} {_UNITS[unit]}" if unit == 0 else f"{n:.1f} {_UNITS[unit]}"


def format_bar(label: str, done: int, total: int, width: int = 30) -> str:
    """One line: ``label [#####.....]  45% 90.0 MB of 200.0 MB`` (done and total in bytes)."""
    fraction = min(max(done / total, 0.0), 1.0) if total > 0 else 1.0
    filled = round(fraction * width)
    bar = "#" * filled + "." * (width - filled)
    return f"{label} [{bar}] {fraction * 100:3.0f}% {_size(done)} of {_size(total)}"


class TerminalBar:
    """A ``progress(done, total)`` callable that redraws ``format_bar`` on ``stream`` at most
    every ``interval`` seconds (and at the end), if the stream is a terminal; ``close()`` ends the
    line. Does nothing on a stream that is not a terminal."""

    def __init__(self, stream: TextIO, label: str, interval: float = 0.1) -> None:
        self.stream = stream
        self.label = label
        self.interval = interval
        self.active = bool(getattr(stream, "isatty", lambda: False)())
        self.drawn = False
        self.next_time = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.active or (now < self.next_time and done < total):
            return
        self.next_time = now + self.interval
        self.stream.write("\r" + format_bar(self.label, done, total))
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """End the bar's line (if one was drawn)."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
