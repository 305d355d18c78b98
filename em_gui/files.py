"""FileActions: the window's files. Open a CSV or Parquet file (file dialog, import preview, or
directly; read on a background thread with a progress dialog), drag and drop, recent files,
import a model; export the model, the assignments (both written on the worker thread:
``export_done`` / ``export_failed`` follow) and the figure (drawn here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QWidget

from em_engine.errors import EMError
from em_engine.tables import PARQUET_SUFFIXES
from em_gui.app_settings import AppSettings
from em_gui.controller import EMController
from em_gui.frames import Frame
from em_gui.reader import DataReader, ReadProgress
from em_gui.scatter import ScatterView
from em_gui.status import StatusFields

__all__ = ["FileActions", "dropped_file"]

_KINDS = {"model": "the model", "assignments": "assignments"}


def dropped_file(event: QDragEnterEvent | QDropEvent) -> str | None:
    """The first local CSV/TSV/TXT/Parquet/JSON file a drag carries (None: nothing to open)."""
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    for url in urls:
        if url.isLocalFile() and url.toLocalFile().lower().endswith(
            (".csv", ".tsv", ".txt", ".json", *PARQUET_SUFFIXES)
        ):
            return url.toLocalFile()
    return None


class FileActions(QObject):
    """Files in and out of the window (see the module docstring).

    ``set_dataset(dataset)`` fits new data; ``current_frame()`` is the frame shown;
    ``draw_newest()`` draws the newest frame received at once; ``show_error(message, brief)``
    reports a failure.
    """

    export_done = Signal(str)  # the path written
    export_failed = Signal(str)  # the message shown

    def __init__(
        self,
        parent: QWidget,
        *,
        settings: AppSettings,
        controller: EMController,
        scatter: ScatterView,
        status: StatusFields,
        set_dataset: Callable[[Any], None],
        current_frame: Callable[[], Frame | None],
        draw_newest: Callable[[], None],
        show_error: Callable[[str, str], None],
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._settings = settings
        self._controller = controller
        self._scatter = scatter
        self._status = status
        self._set_dataset = set_dataset
        self._current_frame = current_frame
        self._draw_newest = draw_newest
        self._show_error = show_error
        self._exports: dict[str, str] = {}  # path -> kind, while written on the worker
        self.reader: DataReader | None = None  # the read in progress (or the last one)
        self.menu_recent = QMenu("Open &recent", parent)
        self.menu_recent.setObjectName("menu_recent")
        self.menu_recent.aboutToShow.connect(self.fill_recent_menu)
        controller.export_done.connect(self._on_export_done)
        controller.export_failed.connect(self._on_export_failed)

    # ------------------------------------------------------------------ opening
    def open_csv(self, path: str | Path | None = None) -> None:
        """Load a CSV or Parquet file. Without ``path``: file dialog, then the import dialog
        (preview, delimiter, header, columns, weights, missing cells). With ``path``: read it
        directly (auto-detected layout, missing cells as last chosen in the dialog: EM at first)
        on a background thread, with a progress dialog; the data is fitted when the read has
        finished (``reader.finished``)."""
        if path is None:
            patterns = " ".join(f"*{suffix}" for suffix in PARQUET_SUFFIXES)
            chosen, _ = QFileDialog.getOpenFileName(
                self._parent,
                "Open data",
                self._settings.last_dir(),
                f"Data files (*.csv *.tsv *.txt {patterns});;CSV files (*.csv *.tsv *.txt);;"
                f"Parquet files ({patterns});;All files (*)",
            )
            if chosen:
                self.open_csv_with_dialog(chosen)
            return
        from em_engine.missing import read_with_missing

        if self.reader is not None:
            self.reader.cancel()  # the newest choice wins
        reader = self.reader = DataReader(path)
        reader.finished.connect(self._on_read)  # bound methods: called on this (the UI) thread
        reader.failed.connect(self._on_read_failed)
        ReadProgress(reader, Path(path).name, self._parent)
        missing = self._settings.missing_cells()
        reader.start(lambda progress: read_with_missing(path, missing, progress=progress))

    def _on_read(self, dataset: Any) -> None:
        if self.sender() is self.reader:  # not a read that a newer one replaced
            self._settings.remember_file(self.reader.path)
            self._set_dataset(dataset)

    def _on_read_failed(self, reason: str) -> None:
        if self.sender() is self.reader:
            self.report_failure("Cannot load", self.reader.path, reason)

    def open_csv_with_dialog(self, path: str | Path) -> None:
        """The import preview for ``path``; the data set chosen there is fitted."""
        from em_gui.csv_dialog import CsvImportDialog

        try:
            dialog = CsvImportDialog(str(path), self._parent, self._settings.missing_cells())
        except (EMError, ValueError, OSError) as exc:
            self.report_failure("Cannot load", path, str(exc))
            return
        if dialog.exec() and dialog.dataset() is not None:
            self._settings.remember_file(path)
            self._settings.set_missing_cells(dialog.missing_choice())
            self._set_dataset(dialog.dataset())

    def open_file(self, path: str | Path, *, interactive: bool = False) -> None:
        """Open a model JSON (import) or a CSV (with the import dialog when interactive)."""
        if str(path).lower().endswith(".json"):
            self.import_model(path)
        elif interactive:
            self.open_csv_with_dialog(path)
        else:
            self.open_csv(path)

    def fill_recent_menu(self) -> None:
        """Fill Open recent with the recent files (newest first)."""
        self.menu_recent.clear()
        files = self._settings.recent_files()
        for path in files:
            action = self.menu_recent.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _c=False, p=path: self.open_file(p, interactive=True))
        if not files:
            self.menu_recent.addAction("(none)").setEnabled(False)

    def drag_enter(self, event: QDragEnterEvent) -> None:
        """Accept a drag that carries a file the window opens."""
        if dropped_file(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event: QDropEvent) -> None:
        """Open a dropped file, after the drop returns (the source application is not kept
        waiting on a dialog)."""
        path = dropped_file(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        QTimer.singleShot(0, lambda: self.open_file(path, interactive=True))

    def import_model(self, path: str | Path | None = None) -> bool:
        """Load a model JSON, show it over the current data and continue fitting from it."""
        from dataclasses import replace

        from em_engine.modelio import load_model

        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self._parent,
                "Import model",
                self._settings.last_dir(),
                "Model JSON (*.json);;All files (*)",
            )
            if not chosen:
                return False
            path = chosen
        frame = self._current_frame()
        try:
            model = load_model(path)
            if frame is None:
                raise EMError("load data before importing a model")
            n_features = frame.data.X.shape[1]
            if model.means_.shape[1] != n_features:
                raise ValueError(
                    f"the model has {model.means_.shape[1]} features but the data has "
                    f"{n_features} ({', '.join(frame.data.feature_names)})"
                )
        except (EMError, ValueError, OSError) as exc:
            self.report_failure("Cannot import", path, str(exc))
            return False
        settings = replace(
            frame.settings,
            n_components=int(model.n_components),
            covariance_type=str(model.covariance_type),
        )
        self._controller.configure(
            settings=settings,
            initial_params={
                "weights": model.weights_,
                "means": model.means_,
                "covariances": model.covariances_,
            },
        )
        self._settings.remember_file(path)
        ours, theirs = tuple(frame.data.feature_names), tuple(model.feature_names_)
        if ours != theirs:  # the same count, other names: say which column stands for which
            pairs = ", ".join(f"{t} as {o}" for t, o in zip(theirs, ours, strict=True))
            self._status.show_message(
                f"model imported from {Path(path).name}; its features are read as the data's "
                f"columns ({pairs})",
                12000,
            )
        else:
            self._status.show_message(f"model imported from {path}", 5000)
        return True

    # ------------------------------------------------------------------ exports
    def export_model(self, path: str | Path | None = None) -> bool:
        """Start writing the newest state as model JSON (on the worker thread); False when
        cancelled or nothing is fitted yet. ``export_done`` or ``export_failed`` follows."""
        return self._export("model", path, "Export model", "Model JSON (*.json)", ".json")

    def export_assignments(self, path: str | Path | None = None) -> bool:
        """Start writing per row: row number, label, confidence, log density and
        responsibilities (CSV, on the worker thread); as ``export_model``."""
        return self._export("assignments", path, "Export assignments", "CSV files (*.csv)", ".csv")

    def _export(
        self, kind: str, path: str | Path | None, title: str, filters: str, suffix: str
    ) -> bool:
        if path is None:
            path = self._ask_save_path(title, filters, suffix)
            if path is None:
                return False
        path = Path(path)
        if self._controller.newest_state() is None:
            what = f"Cannot export {_KINDS[kind]} to"
            self.export_failed.emit(self.report_failure(what, path, "nothing fitted yet"))
            return False
        self._exports[str(path)] = kind
        getattr(self._controller, f"export_{kind}")(path)
        return True

    def _on_export_done(self, path: str) -> None:
        kind = self._exports.pop(path, "model")
        if kind == "model":
            self._settings.remember_file(path, recent=False)
        self._status.show_message(f"{kind} saved to {path}", 5000)
        self.export_done.emit(path)

    def _on_export_failed(self, path: str, reason: str) -> None:
        kind = self._exports.pop(path, "model")
        message = self.report_failure(f"Cannot export {_KINDS[kind]} to", path, reason)
        self.export_failed.emit(message)

    def export_figure(self, path: str | Path | None = None, scale: float | None = None) -> bool:
        """Save the scatter plot as PNG or SVG (by the file suffix). A PNG is ``scale`` times the
        plot's size on screen; None asks (when the path was asked for too) or uses 1."""
        interactive = path is None
        if interactive:
            path = self._ask_save_path(
                "Export figure", "PNG image (*.png);;SVG image (*.svg)", ".png"
            )
            if path is None:
                return False
        if scale is None:
            scale = 1.0
            if interactive and Path(path).suffix.lower() == ".png":
                scale = self._ask_png_scale()
                if scale is None:
                    return False
        try:
            self._draw_newest()
            self._scatter.export_image(path, scale)
        except (ValueError, OSError) as exc:
            self.report_failure("Cannot export the figure to", path, str(exc))
            return False
        self._status.show_message(f"figure saved to {path}", 5000)
        return True

    def _ask_save_path(self, title: str, filters: str, suffix: str) -> Path | None:
        chosen, _ = QFileDialog.getSaveFileName(
            self._parent, title, self._settings.last_dir(), filters
        )
        if not chosen:
            return None
        path = Path(chosen)
        return path if path.suffix else path.with_suffix(suffix)

    def _ask_png_scale(self) -> float | None:
        """The PNG export's size, chosen as a multiple of the plot's size (None: cancelled)."""
        scales = (1, 2, 3, 4)
        choices = ["{}× ({} × {} pixels)".format(k, *self._scatter.export_size(k)) for k in scales]
        choice, ok = QInputDialog.getItem(
            self._parent, "Export figure", "Image size:", choices, 1, False
        )
        return float(scales[choices.index(choice)]) if ok else None

    # ------------------------------------------------------------------ messages
    def report_failure(self, what: str, path: str | Path, reason: str) -> str:
        """Show '<what> <path>: <reason>', without the path again when the reason starts with it
        (the engine's messages name their file); returns the message."""
        for name in (str(path), str(Path(path).resolve())):
            if reason.startswith(f"{name}: "):
                reason = reason[len(name) + 2 :]
                break
        message = f"{what} {path}: {reason}"
        self._show_error(message, f"{what} {Path(path).name}: {reason}")
        return message
