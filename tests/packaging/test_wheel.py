"""The installed package: build the wheel, install it into a fresh virtual environment, and run the
``em-explorer`` and ``em-explorer-cli`` commands from there, as someone who ran ``pip install .``.

One build and install per test session (about a minute, most of it unpacking PySide6), into a
temporary folder that is removed afterwards. The dependencies are pinned to the versions of the
running environment, so pip takes them from its cache instead of downloading. Select or skip with
``-m wheel`` / ``-m "not wheel"``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from em_engine import __version__

pytestmark = pytest.mark.wheel

REPO = Path(__file__).resolve().parents[2]
# What the build reads: pyproject.toml names the packages, the resources folder and the readme.
BUILD_INPUTS = ("pyproject.toml", "README.md", "em_engine", "em_gui", "resources")
RUNTIME_DEPENDENCIES = ("numpy", "PySide6-Essentials", "shiboken6", "pyqtgraph")
INSTALL_TIMEOUT_S = 600
RUN_TIMEOUT_S = 120


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    def command(self, name: str) -> Path:
        if sys.platform == "win32":
            return self.venv / "Scripts" / f"{name}.exe"
        return self.venv / "bin" / name

    def run(self, name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
        env["QT_QPA_PLATFORM"] = "offscreen"
        return subprocess.run(
            [str(self.command(name)), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )


def _pip(python: Path | str, *args: str, cwd: Path) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "--quiet", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    assert result.returncode == 0, f"pip {args[0]} failed:\n{result.stderr[-4000:]}"


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """Build the wheel from a copy of the sources (no stale build/ folder) and install it."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, source / name)
    _pip(sys.executable, "wheel", "--no-deps", "--wheel-dir", str(root / "dist"), ".", cwd=source)
    (wheel,) = (root / "dist").glob("em_explorer-*.whl")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=RUN_TIMEOUT_S)
    constraints = root / "constraints.txt"
    constraints.write_text(
        "".join(f"{name}=={version(name)}\n" for name in RUNTIME_DEPENDENCIES), encoding="utf-8"
    )
    result = Installed(wheel, venv)
    _pip(
        result.command("python"), "install", "--constraint", str(constraints), str(wheel), cwd=root
    )
    yield result
    shutil.rmtree(root, ignore_errors=True)


def test_wheel_holds_resources_and_entry_points_but_no_main_module(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        entries = wheel.read(entry_points).decode("utf-8")
    dist_info = entry_points.split("/")[0]
    shipped = {
        "em_engine/resources/" + path.relative_to(REPO / "resources").as_posix()
        for path in (REPO / "resources").rglob("*")
        if path.is_file()
    }
    assert shipped <= names
    assert {name.split("/")[0] for name in names} == {"em_engine", "em_gui", dist_info}
    assert "[gui_scripts]\nem-explorer = em_gui.launcher:main" in entries
    assert "[console_scripts]\nem-explorer-cli = em_gui.launcher:main" in entries


def test_installed_package_finds_its_own_resources(installed: Installed, tmp_path: Path) -> None:
    code = (
        "from em_engine import resource_path\n"
        "print(resource_path())\n"
        "print(resource_path('icon.png').is_file(), resource_path('model.schema.json').is_file())\n"
    )
    result = installed.run("python", "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder, found = result.stdout.splitlines()
    assert Path(folder).is_relative_to(installed.venv.resolve())
    assert Path(folder).parts[-2:] == ("em_engine", "resources")
    assert found == "True True"


def test_em_explorer_smoke_test_prints_ready(installed: Installed, tmp_path: Path) -> None:
    result = installed.run("em-explorer", "--smoke-test", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ready = [line for line in result.stdout.splitlines() if line.startswith("READY")]
    assert len(ready) == 1, result.stdout


def test_em_explorer_cli_fits_a_shipped_sample(installed: Installed, tmp_path: Path) -> None:
    version_line = installed.run("em-explorer-cli", "--version", cwd=tmp_path)
    assert version_line.stdout.strip() == f"EM Explorer {__version__}"
    site_sample = installed.run(
        "python",
        "-c",
        "from em_engine import resource_path; print(resource_path('samples', 'blobs.csv'))",
        cwd=tmp_path,
    ).stdout.strip()
    fitted = installed.run(
        "em-explorer-cli", "fit", site_sample, "-k", "3", "-o", "m.json", cwd=tmp_path
    )
    assert fitted.returncode == 0, fitted.stderr
    assert "converged: yes" in fitted.stdout
    loaded = installed.run(
        "python",
        "-c",
        "from em_engine import load_model; print(load_model('m.json').n_components)",
        cwd=tmp_path,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "3"
