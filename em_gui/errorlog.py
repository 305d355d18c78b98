"""The log of unexpected exceptions (programming errors, not bad input): their tracebacks go to
``em-explorer.log`` in the platform's app-data folder (QStandardPaths.AppDataLocation), a
rotating file created on the first such exception. A folder that cannot be written never turns
one error into two: the traceback then goes to stderr.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QStandardPaths

__all__ = ["LOG_NAME", "log_file", "log_unexpected"]

LOG_NAME = "em-explorer.log"
_MAX_BYTES, _BACKUPS = 1_000_000, 2
_logger = logging.getLogger("em_explorer")
_logger.propagate = False  # our handler only: the app never configures the root logger
_lock = threading.Lock()
_handler: tuple[Path, logging.Handler] | None = None


def log_file() -> Path:
    """Where unexpected exceptions are logged: AppDataLocation / LOG_NAME."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(folder or Path.home()) / LOG_NAME


def _attach(path: Path) -> str:
    """Send the logger to ``path`` (once per path); returns where the details went."""
    global _handler
    with _lock:
        if _handler is not None and _handler[0] == path:
            return str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8", delay=False
            )
            where = str(path)
        except OSError:
            handler, where = logging.StreamHandler(sys.stderr), "stderr"
        handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(message)s"))
        if _handler is not None:
            _logger.removeHandler(_handler[1])
            _handler[1].close()
        _logger.addHandler(handler)
        _handler = (path, handler)
        return where


def log_unexpected(what: str, exc: BaseException) -> str:
    """Log ``exc`` with its traceback as an internal error in ``what``; returns the short
    message to show the user, naming the log file."""
    where = _attach(log_file())
    try:
        _logger.error("Internal error in %s", what, exc_info=(type(exc), exc, exc.__traceback__))
    except Exception:  # logging reports its own failures; never let it raise here
        where = "stderr"
    return f"Internal error in {what}; details in {where}"
