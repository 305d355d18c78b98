"""The point colours of a state: the O(N) part of a frame, computed once per distinct state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from em_gui.scatter.density import DensityImage
from em_gui.scatter.points import NEUTRAL_CODE, point_codes


class PreparedColors(NamedTuple):
    """The point colours of a state, as ``prepare_colors`` computed them."""

    labels: np.ndarray | None  #: (N,) the labels they come from (the very array passed)
    confidence: np.ndarray | None  #: (N,) likewise
    k: int  #: number of components
    colors: np.ndarray  #: (N,) int16 sprite codes, or (B,) uint32 RGBA words per density bin
    hidden: bytes  #: the hidden components' (K,) bool mask as bytes; b"" when none is hidden


def same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """True when ``a`` and ``b`` are both None, or read-only views of the same memory with the
    same layout (read-only snapshot arrays are never written, so their contents are equal)."""
    if a is None or b is None:
        return a is b
    if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
        return False
    if a.flags.writeable or b.flags.writeable:
        return False
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.strides == b.strides
        and a.dtype == b.dtype
    )


def prepare_colors(
    previous: PreparedColors | None,
    labels: np.ndarray | None,
    confidence: np.ndarray | None,
    k: int,
    hidden: np.ndarray,
    n_points: int,
    density: DensityImage | None,
) -> PreparedColors:
    """The colours of a state: ``previous`` itself when nothing changed (same k and hidden
    components, labels and confidence the same read-only memory), else computed anew.

    Parameters
    ----------
    labels : (N,) component per point or None (neutral); confidence : (N,) or None
    k : number of components
    hidden : (K',) bool, the legend's hidden components; they count only while K' == k
    n_points : N, which labels and confidence must match (else ValueError)
    density : the density image whose bins are coloured, or None for sprite codes
    """
    *_, prepared = prepare_color_steps(previous, labels, confidence, k, hidden, n_points, density)
    return prepared


def prepare_color_steps(
    previous: PreparedColors | None,
    labels: np.ndarray | None,
    confidence: np.ndarray | None,
    k: int,
    hidden: np.ndarray,
    n_points: int,
    density: DensityImage | None,
) -> Iterator[PreparedColors | None]:
    """``prepare_colors`` in steps (the density image's ``color_steps``: a few million points
    take several GUI events): None after each step but the last, then the PreparedColors."""
    for name, values in (("labels", labels), ("confidence", confidence)):
        if values is not None and len(values) != n_points:
            raise ValueError(f"show_state: {len(values)} {name} for {n_points} points")
    # hidden components count while the legend has k entries (else they reset in show_state)
    hidden = hidden if len(hidden) == k and hidden.any() else None
    hidden_key = b"" if hidden is None else hidden.tobytes()
    if (
        previous is not None
        and previous.k == k
        and previous.hidden == hidden_key
        and same_array(previous.labels, labels)
        and same_array(previous.confidence, confidence)
    ):
        yield previous
        return
    if density is not None:
        shown = None if hidden is None else (~hidden).astype(np.intp)
        for colors in density.color_steps(labels, confidence, max(k, 1), shown):
            if colors is None:
                yield None
    elif labels is None:
        colors = np.full(n_points, NEUTRAL_CODE, dtype=np.int16)
    else:
        colors = point_codes(labels, confidence, k, hidden)
    yield PreparedColors(labels, confidence, k, colors, hidden_key)
