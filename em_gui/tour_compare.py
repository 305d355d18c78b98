"""The screenshot tour's journeys for comparing models and runs (a mixin of em_gui.tour.Tour):
the model comparison panel, the restart atlas, the uncertainty view and the animated export."""

from __future__ import annotations

from typing import Any

__all__ = ["COMPARE_JOURNEYS", "CompareJourneys"]

COMPARE_JOURNEYS = ("compare", "atlas", "uncertainty", "animation")
#: K_max of the comparison journey and starts of the atlas journey.
TOUR_KMAX = 7
TOUR_STARTS = 24


class CompareJourneys:
    """Journeys that Tour runs like its own (they use its window, waits and save)."""

    window: Any

    def _docked(self, key: str) -> Any:
        """The tools, with dock ``key`` shown and given a useful height."""
        from PySide6.QtCore import Qt

        tools = self.window.compare
        tools.show(key)
        dock = tools.docks[key]
        self.window.resizeDocks([dock], [int(self.window.height() * 0.42)], Qt.Orientation.Vertical)
        return tools

    def journey_compare(self) -> None:
        """The model comparison: BIC of K = 1..7 for the four covariance types, best marked."""
        tools = self._docked("comparison")
        self._start()
        tools.comparison.spin_kmax.setValue(TOUR_KMAX)
        tools.start_comparison()
        self.wait(lambda: not tools.comparison.is_running(), "the model sweep finished")
        self.settle()
        best = tools.comparison.best()
        self.save(
            f"{len(tools.comparison.candidates())} candidates; best by BIC: K = "
            f"{best.row.n_components}, {best.row.covariance_type}"
        )

    def journey_atlas(self) -> None:
        """The restart atlas: 24 starts grouped into distinct optima, the second one selected
        and drawn in the colours of the fit on screen."""
        tools = self._docked("atlas")
        self._start()
        self._run_to_convergence("the start-up data")
        tools.atlas.spin_starts.setValue(TOUR_STARTS)
        tools.start_atlas()
        self.wait(lambda: not tools.atlas.is_running(), "the restart atlas finished")
        optima = tools.atlas.optima()
        tools.atlas.table.selectRow(min(1, len(optima) - 1))
        self.settle()
        self.save(f"{len(optima)} distinct optima of {TOUR_STARTS} starts")

    def journey_uncertainty(self) -> None:
        """The uncertainty view of a converged fit on overlapping clusters."""
        tools = self._docked("uncertainty")
        self._start()
        before = self.window.current_frame().data
        self.window.controls.combo_preset.setCurrentText("overlap")
        self.window.controls.spin_k.setValue(3)  # its true K
        self.window.generate_data()
        self.wait_drawn(lambda f: f.data is not before, "the overlap preset")
        self._run_to_convergence("the overlap preset")
        self.wait(lambda: tools.uncertainty.table.rowCount() > 0, "the uncertain points listed")
        self.settle()
        self.save(tools.uncertainty.summary.text().splitlines()[1])

    def journey_animation(self) -> None:
        """The Export animation dialog over the window, and a frame of the GIF it wrote."""
        from pathlib import Path

        from PySide6.QtGui import QImage

        from em_gui.animation import AnimationRequest
        from em_gui.animation_dialog import AnimationDialog
        from em_gui.tour import _composite

        self._start()
        self._run_to_convergence("the start-up data")
        frame = self.window.current_frame()
        dialog = AnimationDialog(self.window, frame.n_history)
        dialog.show()
        self.wait(lambda: dialog.isVisible(), "the dialog shown")
        self.settle()
        self.save("the Export animation dialog", "dialog", _composite(self.window, dialog))
        dialog.close()
        exporter = self.window.compare.animation
        path = Path(self.folder) / "fit.gif"
        done: list[Any] = []
        exporter.finished.connect(done.append)
        last = min(frame.n_history - 1, 11)
        exporter.export(AnimationRequest(path, 0, last, 1, (480, 360), 200))
        self.wait(lambda: bool(done), "the GIF written")
        from PIL import Image

        with Image.open(path) as gif:
            n = gif.n_frames
            gif.seek(n // 2)
            rgba = gif.convert("RGBA").tobytes()
            width, height = gif.size
        image = QImage(rgba, width, height, QImage.Format.Format_RGBA8888).copy()
        self.save(f"frame {n // 2 + 1} of {n} of the GIF ({width} x {height})", "frame", image)
