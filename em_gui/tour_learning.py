"""The screenshot tour's journeys through the "understand EM" views (em_gui.learning): the
explain panel, the point inspector with pinned points, k-means, the truth and its ARI, the 1-D
house-prices preset, a collapse and the lesson. Mixed into em_gui.tour.Tour."""

from __future__ import annotations

from typing import Any

__all__ = ["LEARNING_JOURNEYS", "LEARNING_PARTS", "LearningJourneys"]

#: These journeys, in tour order (after em_gui.tour's own).
LEARNING_JOURNEYS = (
    "explain",
    "inspector",
    "kmeans",
    "truth",
    "one-d-preset",
    "collapse",
    "lesson",
)
#: The pictures of the journeys that save more than one (OUTDIR/NN-journey-part.png).
LEARNING_PARTS = {"explain": ("e-step", "m-step"), "lesson": ("e-step", "kmeans")}
#: The row the explain and inspector journeys select (0-based).
INSPECTED_ROW = 7


class LearningJourneys:
    """Journeys using Tour's window, wait_drawn, settle and save."""

    window: Any

    def _preset(self, preset: str, k: int, **settings: Any) -> None:
        from em_gui.lesson import set_up

        self._start()
        set_up(self.window, preset, k, **settings)
        self.wait_drawn(
            lambda f: preset in str(f.data.source) and f.snapshot.phase == "init",
            f"preset {preset} generated",
        )

    def _understand(self, tab: int) -> None:
        learning = self.window.learning
        learning.dock.raise_()
        learning.tabs.setCurrentIndex(tab)

    def journey_explain(self) -> None:
        """One E-step on overlapping clusters, a point selected: the explain panel's formulas."""
        self._preset("overlap", 3, init="random_means", seed=0)
        self.window.action("e_step").trigger()
        self.wait_drawn(lambda f: f.snapshot.phase == "e", "the E-step")
        self.window.learning.select_point(INSPECTED_ROW)
        self._understand(0)
        self.settle()
        self.save(self._describe_now(), part="e-step")
        self.window.action("m_step").trigger()
        self.wait_drawn(lambda f: f.snapshot.phase == "m", "the M-step")
        self.save(self._describe_now(), part="m-step")

    def journey_inspector(self) -> None:
        """A point inspected and two pinned, then a run: their responsibilities over the run."""
        learning = self.window.learning
        self._preset("overlap", 3, init="random_means", seed=0)
        for row in (INSPECTED_ROW, INSPECTED_ROW + 1):
            learning.select_point(row)
            learning.inspector.pin()
        self._run_to_convergence("overlap")
        self._understand(1)
        self.wait(lambda: len(learning.inspector.trace_curves) == 6, "the pinned traces drawn")
        self.settle()
        self.save(self._describe_now())

    def journey_kmeans(self) -> None:
        """k-means on elongated clusters: hard, round, equal clusters; the bound and its gap."""
        self._preset("anisotropic", 3, mode="kmeans")
        self._run_to_convergence("k-means")
        self._understand(0)
        self.settle()
        self.save(self._describe_now())

    def journey_truth(self) -> None:
        """House prices with the truth shown: dashed true ellipses and the ARI per iteration."""
        self._preset("house_prices", 3, init="random_means", seed=0)
        self.window.action("show_truth").setChecked(True)
        self._run_to_convergence("house prices")
        self.save(self._describe_now())

    def journey_one_d_preset(self) -> None:
        """The 1-D house-prices preset: histogram, densities (the true ones dashed), bands."""
        self._preset("house_prices_1d", 3, truth=True)
        self._run_to_convergence("1-D house prices")
        self.save(self._describe_now())

    def journey_collapse(self) -> None:
        """The collapse preset fitted by maximum likelihood: the note and the ringed points."""
        self._preset("collapse", 3)
        self._run_to_convergence("the collapse preset")
        self.wait(lambda: self.window.learning.collapse_note.isVisible(), "the collapse note")
        self.settle()
        self.save(self._describe_now())

    def journey_lesson(self) -> None:
        """The lesson opened from Help, at its E-step and k-means steps."""
        window = self.window
        self._start()
        window.set_speed(None)
        window.action("lesson").trigger()
        lesson = window.learning.lesson
        lesson.go(2)
        self.wait_drawn(lambda f: f.snapshot.phase == "e", "the lesson's E-step")
        self.save(self._describe_now(), part="e-step")
        lesson.go(len(lesson_steps()) - 1)
        self.wait_drawn(
            lambda f: f.snapshot.mode == "kmeans" and f.state == "converged", "k-means converged"
        )
        self.save(self._describe_now(), part="kmeans")

    def _describe_now(self) -> str:
        from em_gui.tour import _describe

        return _describe(self.window)


def lesson_steps() -> tuple[Any, ...]:
    from em_gui.lesson import STEPS

    return STEPS
