"""What the window remembers between launches (QSettings): its geometry and dock layout, the last
fit settings, the data panel's choices, the speed, recent files and the last folder used; and the
defaults of a first launch, which "Restore default settings" goes back to."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from em_engine.covariance import COVARIANCE_TYPES
from em_engine.init import INIT_METHODS
from em_engine.missing import MISSING_OPTIONS
from em_engine.synthetic import true_parameters
from em_gui.frames import MODE_LABELS, FitSettings

__all__ = [
    "APP_NAME",
    "ORGANIZATION",
    "AppSettings",
    "ControlValues",
    "default_fit_settings",
    "default_values",
    "preset_components",
]

APP_NAME = "EM Explorer"
ORGANIZATION = "EM Explorer"
MAX_RECENT = 8
DEFAULT_PRESET, DEFAULT_SAMPLES, DEFAULT_SPEED = "blobs", 1500, 10
DEFAULT_INIT = "random_means"  # broad Gaussians at K random points: visible, EM visibly moves


def preset_components(name: str) -> int:
    """The number of components a synthetic preset is drawn from (its true K)."""
    return len(true_parameters(name)[0])


def default_fit_settings() -> FitSettings:
    """The fit settings of a first launch (and of View → Restore default settings)."""
    return FitSettings(n_components=preset_components(DEFAULT_PRESET), init=DEFAULT_INIT)


@dataclass(frozen=True)
class ControlValues:
    """Everything the controls show that is remembered: fit settings, seed, speed slider
    position, preset, samples and data seed."""

    settings: FitSettings
    seed: int = 0
    speed: int = DEFAULT_SPEED
    preset: str = DEFAULT_PRESET
    samples: int = DEFAULT_SAMPLES
    data_seed: int = 0


def default_values() -> ControlValues:
    """The controls of a first launch."""
    return ControlValues(default_fit_settings())


class AppSettings:
    """The window's QSettings (see the module docstring); ``QSettings(ORGANIZATION, APP_NAME)``
    by default, a given one in tests and the tour."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings if settings is not None else QSettings(ORGANIZATION, APP_NAME)

    # ------------------------------------------------------------------ window and controls
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """The saved (geometry, dock and toolbar state); None where nothing is saved."""
        s = self.qsettings
        return s.value("window/geometry"), s.value("window/state")

    def control_values(self) -> ControlValues | None:
        """The remembered control values; None when there are none or they are damaged."""
        s = self.qsettings
        defaults = default_fit_settings()
        try:
            settings = FitSettings(
                **{
                    f.name: type(getattr(defaults, f.name))(
                        s.value(f"fit/{f.name}", getattr(defaults, f.name))
                    )
                    for f in fields(FitSettings)
                    if f.name != "prior"
                },
                prior=str(s.value("fit/prior", "false")).lower() == "true",
            )
            if (
                settings.covariance_type not in COVARIANCE_TYPES
                or settings.init not in INIT_METHODS
                or settings.mode not in MODE_LABELS
            ):
                raise ValueError("unknown choice")
            return ControlValues(
                settings,
                seed=int(s.value("fit/seed", 0)),
                speed=int(s.value("run/speed", DEFAULT_SPEED)),
                preset=str(s.value("data/preset", DEFAULT_PRESET)),
                samples=int(s.value("data/samples", DEFAULT_SAMPLES)),
                data_seed=int(s.value("data/seed", 0)),
            )
        except (TypeError, ValueError):
            return None  # a damaged settings file: keep the defaults

    def save(self, geometry: QByteArray, state: QByteArray, values: ControlValues) -> None:
        """Remember the window's geometry and layout and the control values."""
        s = self.qsettings
        s.setValue("window/geometry", geometry)
        s.setValue("window/state", state)
        for f in fields(FitSettings):
            s.setValue(f"fit/{f.name}", getattr(values.settings, f.name))
        s.setValue("fit/seed", values.seed)
        s.setValue("run/speed", values.speed)
        s.setValue("data/preset", values.preset)
        s.setValue("data/samples", values.samples)
        s.setValue("data/seed", values.data_seed)
        s.sync()

    def forget(self) -> None:
        """Forget the fit settings, data choices, speed and window layout (recent files stay)."""
        for group in ("fit", "data", "run", "window"):
            self.qsettings.remove(group)

    # ------------------------------------------------------------------ files
    def missing_cells(self) -> str:
        """How CSV files' missing cells are read: "em" (the default), "drop" or "error"."""
        value = str(self.qsettings.value("data/missing", "em"))
        return value if value in MISSING_OPTIONS else "em"

    def set_missing_cells(self, missing: str) -> None:
        """Remember how missing cells are read (one of em_engine.missing.MISSING_OPTIONS)."""
        self.qsettings.setValue("data/missing", missing)

    def recent_files(self) -> list[str]:
        """Recently opened CSV and model files, newest first."""
        value: Any = self.qsettings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def remember_file(self, path: str | Path, *, recent: bool = True) -> None:
        """Remember ``path``'s folder for the next file dialog and, if ``recent``, the file."""
        path = str(Path(path).resolve())
        self.qsettings.setValue("last_dir", str(Path(path).parent))
        if recent:
            files = [path, *(f for f in self.recent_files() if f != path)][:MAX_RECENT]
            self.qsettings.setValue("recent_files", files)

    def last_dir(self) -> str:
        """Where file dialogs open: the last folder used, at first the sample data."""
        last = self.qsettings.value("last_dir")
        if last is not None:
            return str(last)
        from em_engine._resources import resource_path

        samples = resource_path("samples")
        return str(samples if samples.is_dir() else Path.home())
