"""The guided lesson (Help → Lesson: EM step by step): a side panel of short steps in the
lesson's order: latent variables, a mixture, one E-step, one M-step, the log-likelihood, local
optima by reseeding, MAP vs MLE, k-means. Each step sets up the window through its public
commands (preset, K, mode, prior, then E/M/run/reseed) and says what to look at; Next and Back
move between steps; Close leaves the lesson at any time (the window keeps what it shows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from em_gui.frames import FitSettings

if TYPE_CHECKING:
    from em_gui.main_window import MainWindow

__all__ = ["STEPS", "LessonPanel", "LessonStep", "set_up"]


#: The point the E-step and M-step steps explain (0-based row).
LESSON_ROW = 7


@dataclass(frozen=True)
class LessonStep:
    """One step: its title, what to look at (rich text) and how it sets up the window."""

    title: str
    text: str
    setup: Callable[[MainWindow], None]


def set_up(
    window: MainWindow,
    preset: str,
    k: int,
    *,
    samples: int = 500,
    mode: str = "soft",
    prior: bool = False,
    covariance: str = "full",
    init: str = "kmeans",
    seed: int = 0,
    truth: bool = False,
    explain: int | None = None,
) -> None:
    """Generate ``preset`` and start a fit with these settings (the controls show them);
    ``truth``: show the true components; ``explain``: open the Understand EM tab with that
    data row (0-based) selected."""
    controls = window.controls
    settings = FitSettings(
        n_components=k,
        covariance_type=covariance,
        init=init,
        mode=mode,
        prior=prior,
        max_iter=controls.fit_settings().max_iter,
    )
    values = replace(
        controls.values(settings), preset=preset, samples=samples, data_seed=0, seed=seed
    )
    controls.show_values(values)
    window.action("show_truth").setChecked(truth)
    window.generate_data()
    if explain is not None:
        window.learning.dock.raise_()
        window.learning.tabs.setCurrentIndex(0)
        window.learning.select_point(explain)


def _latent(w: MainWindow) -> None:
    set_up(w, "house_prices_1d", 3, truth=True)


def _mixture(w: MainWindow) -> None:
    set_up(w, "house_prices", 3, truth=True)


def _e_step(w: MainWindow) -> None:
    set_up(w, "overlap", 3, init="random_means", seed=0, explain=LESSON_ROW)
    w.e_step()


def _m_step(w: MainWindow) -> None:
    _e_step(w)
    w.m_step()


def _likelihood(w: MainWindow) -> None:
    set_up(w, "overlap", 3, init="random_means", seed=0)
    w.run()


def _optima(w: MainWindow) -> None:
    set_up(w, "blobs", 4, init="random_means", seed=3, truth=True)
    w.run()


def _map(w: MainWindow) -> None:
    set_up(w, "collapse", 3)
    w.run()


def _kmeans(w: MainWindow) -> None:
    set_up(w, "anisotropic", 3, mode="kmeans", init="random_means")
    w.run()


STEPS: tuple[LessonStep, ...] = (
    LessonStep(
        "Latent variables",
        "Each house belongs to a hidden neighbourhood <i>z</i> ∈ {1, 2, 3}; we only see its "
        "price <i>x</i>. <b>Look at</b> the histogram: three bumps, but no labels. The dashed "
        "truth (View → Show truth) is what EM must find without seeing <i>z</i>.",
        _latent,
    ),
    LessonStep(
        "A mixture of Gaussians",
        "p(x) = Σ<sub>k</sub> π<sub>k</sub> 𝒩(x | μ<sub>k</sub>, Σ<sub>k</sub>): pick a "
        "neighbourhood with probability π<sub>k</sub>, then a house from its Gaussian. <b>Look "
        "at</b> the dashed true ellipses (price and floor area) and the Parameters panel.",
        _mixture,
    ),
    LessonStep(
        "One E-step",
        "From a random start, the E-step computes each point's responsibilities r<sub>nk</sub>: "
        "how likely each component made it. <b>Click a point</b> and read the Explain tab: the "
        "formula with its numbers. The Inspect tab shows the same as bars.",
        _e_step,
    ),
    LessonStep(
        "One M-step",
        "The M-step refits each component to all points, weighted by r<sub>nk</sub>: "
        "N<sub>k</sub>, π<sub>k</sub>, μ<sub>k</sub>, Σ<sub>k</sub>. <b>Look at</b> the Explain "
        "tab (choose a component) and how the ellipses moved.",
        _m_step,
    ),
    LessonStep(
        "The log-likelihood climbs",
        "Each iteration raises log p(X | θ). <b>Look at</b> the plot beside the convergence "
        "view: the E-step makes EM's lower bound 𝓛 touch log p(X) (KL = 0); the M-step raises "
        "𝓛, and log p(X) rises at least as much. The gap is the KL divergence.",
        _likelihood,
    ),
    LessonStep(
        "Local optima",
        "EM only climbs: where it ends depends on where it starts. <b>Press Reseed</b> (or the "
        "R key) a few times and run again: compare the final log-likelihoods and the ARI "
        "(agreement with the truth) under the bound plot.",
        _optima,
    ),
    LessonStep(
        "MAP vs maximum likelihood",
        "Here maximum likelihood shrinks a component onto a few points: its likelihood grows "
        "without bound. <b>Read</b> the note above the plot, then press <i>MAP prior</i>: the "
        "prior's pseudo-points keep the covariance open.",
        _map,
    ),
    LessonStep(
        "k-means is EM's cousin",
        "k-means is hard EM with equal weights and one shared round covariance: each point goes "
        "wholly to its nearest mean. <b>Look at</b> the elongated clusters it cuts wrongly, then "
        "switch Mode to Soft EM in the controls and run again.",
        _kmeans,
    ),
)


class LessonPanel(QtWidgets.QDockWidget):
    """The lesson's side panel (see the module docstring); ``step_shown(int)`` after a step
    set up the window."""

    step_shown = QtCore.Signal(int)

    def __init__(self, window: MainWindow) -> None:
        super().__init__("Lesson: EM step by step", window)
        self.setObjectName("dock_lesson")
        self._window = window
        self._index = 0
        self.title = QtWidgets.QLabel("")
        self.title.setObjectName("lesson_title")
        self.title.setStyleSheet("font-weight:bold;font-size:12pt")
        self.text = QtWidgets.QLabel("")
        self.text.setObjectName("lesson_text")
        self.text.setWordWrap(True)
        self.text.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.text.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.counter = QtWidgets.QLabel("")
        self.button_back = QtWidgets.QPushButton("◀ Back")
        self.button_back.setObjectName("lesson_back")
        self.button_next = QtWidgets.QPushButton("Next ▶")
        self.button_next.setObjectName("lesson_next")
        self.button_close = QtWidgets.QPushButton("Close")
        self.button_close.setObjectName("lesson_close")
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.button_back)
        buttons.addWidget(self.counter, 1, QtCore.Qt.AlignmentFlag.AlignCenter)
        buttons.addWidget(self.button_next)
        body = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(body)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.button_close)
        self.setWidget(body)
        self.setMinimumWidth(260)
        self.button_back.clicked.connect(self.back)
        self.button_next.clicked.connect(self.next)
        self.button_close.clicked.connect(self.close)
        window.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, self)
        controls = window.findChild(QtWidgets.QDockWidget, "dock_controls")
        if controls is not None:  # a tab beside the controls: the lesson sets them itself
            window.tabifyDockWidget(controls, self)

    @property
    def index(self) -> int:
        """The step shown (0-based)."""
        return self._index

    def start(self) -> None:
        """Show the panel at the first step."""
        self.show()
        self.raise_()
        self.go(0)

    def go(self, index: int) -> None:
        """Show step ``index`` and set up the window for it."""
        self._index = max(0, min(index, len(STEPS) - 1))
        step = STEPS[self._index]
        self.title.setText(f"{self._index + 1}. {step.title}")
        self.text.setText(step.text)
        self.counter.setText(f"{self._index + 1} / {len(STEPS)}")
        self.button_back.setEnabled(self._index > 0)
        self.button_next.setEnabled(self._index < len(STEPS) - 1)
        step.setup(self._window)
        self.step_shown.emit(self._index)

    def next(self) -> None:
        """The next step."""
        self.go(self._index + 1)

    def back(self) -> None:
        """The previous step."""
        self.go(self._index - 1)
