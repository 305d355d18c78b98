"""AgreementLog: the adjusted Rand index (em_engine.bound) of EM's labels with a synthetic
preset's true labels, one value per scored iteration of the worker's session (no Qt)."""

from __future__ import annotations

from typing import Any

import numpy as np

from em_engine.bound import adjusted_rand_score

__all__ = ["AgreementLog"]


class AgreementLog:
    """ARI per iteration; values of iterations a later step replaced are dropped."""

    def __init__(self) -> None:
        self._values: dict[int, float] = {}

    def clear(self) -> None:
        """Forget every value (a new session)."""
        self._values = {}

    def record(self, snapshot: Any, truth: Any) -> None:
        """The ARI of ``snapshot``'s labels (from the E-step on the parameters it scored) with
        ``truth.labels``; nothing without truth or labels."""
        scored = snapshot.log_likelihood_iteration
        if truth is None or snapshot.labels is None or scored is None:
            return
        for i in [i for i in self._values if i > scored]:
            del self._values[i]
        self._values[scored] = adjusted_rand_score(truth.labels, snapshot.labels)

    def series(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(iterations (A,) int64, ARI (A,)) in order, or None when empty."""
        if not self._values:
            return None
        keys = np.array(sorted(self._values), dtype=np.int64)
        return keys, np.array([self._values[int(k)] for k in keys])
