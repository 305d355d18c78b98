"""Work around PySide6 6.12.0's lost references to None/True/False on Python 3.11.

With PySide6 6.12.0 (abi3 wheel) on Python 3.11, a wrapped method that returns ``None`` (every
``void`` C++ method: ``QPainter.drawPath``, ``QWidget.update``, ...) or ``True`` (``Signal.emit``)
hands back a reference it never added. Each call takes one reference away from the singleton; when
its count reaches zero the interpreter aborts ("Fatal Python error: none_dealloc" / "bool_dealloc").
``True`` starts near 600 references and ``None`` near 17,000, so the app would crash after a few
seconds of drawing. Python 3.12+ is immune: these singletons are immortal there.

``apply()`` probes the installed PySide6 once; only when a call really loses a reference does it
give None, True and False a very large reference count (what Python 3.12 does to make them
immortal), so the losses can never reach zero in a session. It runs when this module is imported;
em_gui modules import it before they touch Qt. With PySide6 6.11 (the version in the project's
environment since the crash was found) the probe finds nothing and nothing is changed.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6 import QtCore, QtGui

#: Added to each singleton's count: at a million lost references a second, 2**40 lasts 12 days.
_RESERVE = 1 << 40
_SINGLETONS = (None, True, False)
_applied = False


class _Probe(QtCore.QObject):
    ping = QtCore.Signal()


def loses_references() -> bool:
    """True if a void call or ``Signal.emit`` returns a reference it does not own."""
    probe = _Probe()
    image = QtGui.QImage(1, 1, QtGui.QImage.Format.Format_ARGB32)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(3):
        image.fill(0)  # void C++ method -> None
        probe.ping.emit()  # -> True
    return sys.getrefcount(None) < none_before or sys.getrefcount(True) < true_before


def apply() -> bool:
    """Make None/True/False effectively immortal if the installed PySide6 needs it.

    Returns whether the workaround is active.
    """
    global _applied
    if _applied or sys.version_info >= (3, 12) or not loses_references():
        return _applied
    for singleton in _SINGLETONS:
        # ob_refcnt is the first field of every CPython object (non-debug build).
        ctypes.c_ssize_t.from_address(id(singleton)).value += _RESERVE
    _applied = True
    return True


apply()
