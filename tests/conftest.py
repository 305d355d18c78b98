"""Shared test setup: headless Qt, a private settings location, and no QThread left running.

``QT_QPA_PLATFORM=offscreen`` is set at import, before pytest-qt creates the QApplication, so the
GUI tests need no display. Tests that use Qt (the ``qapp`` or ``qtbot`` fixtures) also get
``_dangling_qthreads`` (after napari's fixture of that name: a QThread still running when a test
ends can crash a later test) and ``_private_qsettings`` (QSettings written to a temporary folder,
never the user's).
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_QT_FIXTURES = ("_private_qsettings", "_dangling_qthreads")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Add the Qt hygiene fixtures to every test that uses Qt."""
    names = getattr(item, "fixturenames", None)
    if names is not None and ("qapp" in names or "qtbot" in names):
        if "qtbot" not in names:
            names.append("qtbot")
        names.extend(name for name in _QT_FIXTURES if name not in names)


def _caller() -> str:
    """The innermost frame outside this file and Qt/pytest internals, as 'file:line'."""
    frame = sys._getframe(1)
    here = str(Path(__file__).resolve())
    while frame is not None and frame.f_code.co_filename == here:
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"


@pytest.fixture
def _private_qsettings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Send QSettings (native and INI formats, both scopes) to a temporary folder for one test."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("qsettings")
    previous = QSettings.defaultFormat()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(folder))
    yield folder
    QSettings.setDefaultFormat(previous)


@pytest.fixture
def _dangling_qthreads(monkeypatch: pytest.MonkeyPatch, qtbot) -> Iterator[None]:
    """Fail the test if a QThread it started is still running when it ends."""
    from PySide6.QtCore import QThread

    started: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    base_start = QThread.start

    def start(self, *args, **kwargs):
        started[self] = _caller()
        return base_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", start)
    yield
    running = []
    for thread, where in list(started.items()):
        try:
            if thread.isRunning():
                running.append((thread, where))
        except RuntimeError:  # the C++ object is already deleted: it has finished
            continue
    for thread, _ in running:
        try:
            thread.quit()
            qtbot.waitUntil(thread.isFinished, timeout=2000)
        except Exception:  # report below; do not hide the original failure
            pass
    assert not running, (
        "a QThread started in this test was still running at its end (this can crash later "
        "tests); started at: " + ", ".join(where for _, where in running)
    )


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    """A dask.distributed LocalCluster of 2 worker processes (1 thread each) and its Client, the
    current scheduler for the module's tests; afterwards no worker process or (non-daemon)
    thread is left."""
    import threading

    import psutil
    from distributed import Client, LocalCluster

    threads = set(threading.enumerate())
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
    children = psutil.Process().children(recursive=True)
    # multiprocessing's resource tracker: one per interpreter, started once, ends with it
    workers = [c for c in children if "resource_tracker" not in " ".join(c.cmdline())]
    assert workers == []
    left = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
    assert [t for t in left if not t.daemon] == [], left
