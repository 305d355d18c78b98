"""What the worker and the window exchange: fit settings and data going in, frames, the newest
state and the objective history coming out (frozen records; their arrays are never written)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CONVERGED",
    "MAX_FRAME_RATE",
    "MODE_LABELS",
    "PAUSED",
    "RUNNING",
    "FitData",
    "FitSettings",
    "FitState",
    "Frame",
    "History",
    "PointTrace",
    "Truth",
]

RUNNING, PAUSED, CONVERGED = "running", "paused", "converged"
#: EM's modes (em_engine.iteration.MODES) as the window names them.
MODE_LABELS = {"soft": "Soft EM", "hard": "Hard EM", "kmeans": "k-means"}
MAX_FRAME_RATE = 60.0


@dataclass(frozen=True)
class FitSettings:
    """What EMSession is built with (besides data, seed and initial parameters)."""

    n_components: int = 3
    covariance_type: str = "full"
    init: str = "kmeans"
    tol: float = 1e-3
    max_iter: int = 100
    reg_covar: float = 1e-6
    prior: bool = False
    mode: str = "soft"  # em_engine.iteration.MODES: soft EM, hard EM, k-means


@dataclass(frozen=True)
class FitData:
    """The data being fitted: ``X`` (N, D), one name per column, where it came from, each
    row's row in its file (``lines`` (N,), 0 for a point added by hand; None: numbered 1..N)
    and the frequency weights (``sample_weight`` (N,) from the column ``weight_column``, or
    None). ``X`` holds NaN for missing cells only when the import chose to fit them by EM (the
    session is built with missing="em"; its snapshots' ``imputed`` says where they are drawn)."""

    X: np.ndarray
    feature_names: tuple[str, ...]
    source: str | None = None
    lines: np.ndarray | None = None
    sample_weight: np.ndarray | None = None
    weight_column: str | None = None
    truth: Any = None  # a synthetic preset's Truth (em_gui.frames), or None


def session_options(data: FitData, settings: FitSettings, seed: int) -> dict[str, Any]:
    """EMSession's keyword arguments (all but X, K and initial parameters) for fitting ``data``
    with ``settings`` from ``seed`` as the window does: missing="em" (NaN only where the import
    chose EM for missing cells) and the data's sample weights. The worker's session and the
    restart atlas's starts are built from it."""
    return {
        "covariance_type": settings.covariance_type,
        "init": settings.init,
        "seed": seed,
        "tol": settings.tol,
        "reg_covar": settings.reg_covar,
        "max_iter": settings.max_iter,
        "prior": True if settings.prior else None,
        "mode": settings.mode,
        "missing": "em",
        "sample_weight": data.sample_weight,
    }


@dataclass(frozen=True)
class Frame:
    """One state to draw: an engine Snapshot with what the window needs around it.

    ``n_history`` is the number of stored parameter sets (the history slider spans
    ``0 .. n_history - 1``); ``state`` is the worker's state when the frame was made.
    """

    generation: int
    snapshot: Any
    data: FitData
    settings: FitSettings
    n_history: int
    state: str
    prior: Any = None  # the session's em_engine Prior under MAP, else None


@dataclass(frozen=True)
class FitState:
    """The worker's newest state, whether or not a frame showed it: what exports must use."""

    generation: int
    snapshot: Any
    data: FitData
    settings: FitSettings


@dataclass(frozen=True)
class History:
    """Every objective value stored so far: ``iterations`` (M,) int, ``values`` (M,) float;
    ``bound``: the lower bound and log p(X) per half-step (em_engine.session.BoundHistory) or
    None; ``agreement``: (iterations (A,), adjusted Rand index (A,)) of EM's labels with the true
    ones (synthetic data), or None."""

    generation: int
    iterations: np.ndarray
    values: np.ndarray
    objective: str
    bound: Any = None
    agreement: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class Truth:
    """A synthetic preset's true mixture and labels: weights (K,), means (K, D), full covariances
    (K, D, D), labels (N,) (the true component of every row)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class PointTrace:
    """Responsibilities of pinned rows across the history: ``rows`` (P,) 0-based,
    ``iterations`` (T,), ``responsibilities`` (T, P, K)."""

    generation: int
    rows: np.ndarray
    iterations: np.ndarray
    responsibilities: np.ndarray
