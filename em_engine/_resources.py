"""Locate the files in ``resources/`` (icon, sample data sets, model schema).

One helper serves every caller (GUI, CLI, tests) in all three layouts:

- an installed wheel: the package data ``em_engine/resources/`` (pyproject.toml maps the
  repository's top-level folder there), found through ``importlib.resources``;
- a source checkout or an editable install: ``<repository>/resources/``, found relative to this
  file (``em_engine/_resources.py`` -> its parent's parent);
- a PyInstaller bundle (one-folder or one-file): ``<sys._MEIPASS>/resources/``, where build.spec
  copies the whole folder.
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

__all__ = ["resource_path", "resources_dir"]


def resources_dir() -> Path:
    """Return the absolute path of the ``resources/`` folder for this run.

    Returns
    -------
    pathlib.Path
        ``<sys._MEIPASS>/resources`` when running from a PyInstaller bundle, the package's own
        ``resources`` folder when installed from a wheel, otherwise the ``resources`` folder next
        to the ``em_engine`` package (a checkout).
    """
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root is not None:
        return Path(bundle_root).resolve() / "resources"
    installed = Path(str(files("em_engine").joinpath("resources")))
    if installed.is_dir():
        return installed.resolve()
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """Return the absolute path of a file or folder inside ``resources/``.

    Parameters
    ----------
    *parts : str
        Path components below ``resources/``, e.g. ``resource_path("samples", "blobs.csv")`` or
        ``resource_path("icon.png")``. No parts gives the folder itself.

    Returns
    -------
    pathlib.Path
        The path; it is not checked for existence (callers that need the file open it and get
        the usual ``FileNotFoundError`` naming the full path).

    Raises
    ------
    ValueError
        If a part is absolute or climbs out of ``resources/`` with ``..``.
    """
    base = resources_dir()
    relative = Path(*parts)
    if relative.is_absolute() or relative.drive or ".." in relative.parts:
        raise ValueError(f"resource path {relative.as_posix()!r} must stay inside {base}")
    return base / relative
