"""What the model and assignments exports write, from the worker's newest state. Called on the
worker thread (they score every row of the data); no Qt here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from em_gui.frames import FitState

__all__ = ["fitted_model", "write_assignments", "write_model"]


def fitted_model(state: FitState) -> Any:
    """A fitted em_engine.GaussianMixture holding the parameters of ``state``."""
    from em_engine.mixture import build_mixture

    snap, settings = state.snapshot, state.settings
    return build_mixture(
        len(snap.weights),
        snap.covariance_type,
        init=settings.init,
        seed=snap.seed,
        tol=settings.tol,
        reg_covar=settings.reg_covar,
        max_iter=settings.max_iter,
        prior=settings.prior,
        parameters=(snap.weights, snap.means, snap.covariances),
        missing="em",  # rows with missing cells are scored by their observed cells
    )


def write_model(state: FitState, path: str | Path) -> None:
    """Model JSON of ``state``, scored on its data, with how far the fit got."""
    from em_engine.modelio import save_model

    snap, settings = state.snapshot, state.settings
    details = {
        "n_iter": int(snap.iteration),
        "converged": bool(snap.converged),
        "tol": settings.tol,
        "reg_covar": settings.reg_covar,
        "init": settings.init,
        "seed": int(snap.seed),
        "prior": bool(settings.prior),
    }
    save_model(
        fitted_model(state),
        path,
        feature_names=state.data.feature_names,
        X=state.data.X,
        details=details,
    )


def write_assignments(state: FitState, path: str | Path) -> None:
    """Per data row of ``state``: row, label, confidence, log density, responsibilities."""
    from em_engine.modelio import write_assignments as write_table

    write_table(path, fitted_model(state), state.data.X, state.data.lines)
