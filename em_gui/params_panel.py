"""Parameter panel: weight, mean and covariance (or precision) of every component, live."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
from PySide6 import QtGui, QtWidgets

from em_engine.covariance import precision_or_none
from em_gui import palette

#: Significant digits of every number shown.
DIGITS = 4
#: Entries below this fraction of their scale are rounding noise (far below the digits shown,
#: far above float64's 2e-16).
NOISE = 1e-9
#: Spaces between columns.
GAP = 2


def _number(value: float) -> str:
    """DIGITS significant digits with a short exponent ("1.235e4", "-7.5e-9")."""
    text = f"{value:.{DIGITS}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def entry_scale(matrix: np.ndarray) -> np.ndarray:
    """The scale (D, D) of each entry of a covariance or precision (D, D): sqrt(|a_ii a_jj|)."""
    diagonal = np.sqrt(np.abs(np.diag(matrix)))
    return np.outer(diagonal, diagonal)


def drop_noise(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``values`` with rounding noise set to 0: entries below NOISE times their ``scale``.

    E.g. 7.55e-15 next to values of order 1 shows as 0; a small but real value stays, such as
    a mean of 2.2 in a component whose spread is 1e4, or a feature in small units. ``scale``
    broadcasts to ``values``' shape; where it is 0 or not finite nothing is dropped.
    """
    scale = np.abs(np.broadcast_to(np.asarray(scale, dtype=np.float64), values.shape))
    noise = np.isfinite(scale) & (np.abs(values) < NOISE * scale)
    return np.where(noise, 0.0, values)


def cells(matrix: np.ndarray, scale: np.ndarray | None = None) -> list[list[str]]:
    """The numbers of a vector (D,) (one row) or a matrix (D, D) as shown, noise dropped.

    ``scale`` (see ``drop_noise``) defaults to ``entry_scale`` of a matrix and to the largest
    |entry| of a vector.
    """
    matrix = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    if scale is None:
        square = matrix.shape[0] == matrix.shape[1] > 1
        scale = entry_scale(matrix) if square else np.max(np.abs(matrix), initial=0.0)
    return [[_number(v) for v in row] for row in drop_noise(matrix, scale)]


def format_matrix(
    matrix: np.ndarray,
    names: Sequence[str] | None = None,
    scale: np.ndarray | None = None,
    *,
    min_width: int = 0,
    indent: int = 0,
) -> str:
    """Right-aligned monospace text of a vector (D,) or a matrix (D, D), DIGITS significant.

    With ``names``, a header row names the columns (and rows of a matrix). Entries that are 0 at
    the shown precision of ``scale`` show as 0 (see ``cells``). Columns are at least
    ``min_width`` wide after an ``indent`` (the row names' column), so that blocks line up.
    """
    matrix = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    shown = cells(matrix, scale)
    rows = list(names) if names is not None and matrix.shape[0] > 1 else [""] * len(shown)
    header = list(names) if names is not None else []
    width = max([min_width] + [len(c) for row in shown for c in row] + [len(h) for h in header])
    lead = max([indent] + [len(n) for n in rows])
    pad = " " * GAP
    lines = [" " * lead + "".join(f"{pad}{h:>{width}}" for h in header)] if header else []
    for name, row in zip(rows, shown, strict=True):
        lines.append(f"{name:<{lead}}" + "".join(f"{pad}{c:>{width}}" for c in row))
    return "\n".join(lines)


def _elide(text: str, n: int) -> str:
    """``text`` in at most ``n`` characters, its middle replaced by "…" when longer."""
    if len(text) <= n:
        return text
    keep = max(n - 1, 2)
    return text[: (keep + 1) // 2] + "\u2026" + text[len(text) - keep // 2 :]


class ParameterPanel(QtWidgets.QWidget):
    """Per component: a coloured header, the weight, the mean vector and the covariance matrix.

    A "show precision" checkbox adds the precision matrix (inverse covariance, for display only).
    Matrices are labelled with the feature names when they fit the panel's width; otherwise
    with the features' numbers 1..D, listed once at the top, and wider matrices scroll sideways.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.precision_box = QtWidgets.QCheckBox("Show precision (inverse covariance)")
        self.precision_box.setToolTip("Also list each component's precision matrix")
        self.precision_box.toggled.connect(self._render)
        self.text = QtWidgets.QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setLineWrapMode(QtWidgets.QTextEdit.LineWrapMode.NoWrap)  # wide: scroll
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        self.text.document().setDefaultFont(font)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.precision_box)
        layout.addWidget(self.text)
        self._params: tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]] | None = None
        self._columns = 0  # characters that fit the text's width when last rendered
        self.text.setPlainText("No model yet.")

    def show_parameters(
        self,
        weights: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        feature_names: Sequence[str],
    ) -> None:
        """Show K components, numbered 1..K.

        Parameters
        ----------
        weights : (K,)
        means : (K, D)
        covariances : (K, D, D) full matrices (covariance.full_covariances converts others)
        feature_names : D names
        """
        weights = np.asarray(weights, dtype=np.float64)
        means = np.asarray(means, dtype=np.float64)
        covariances = np.asarray(covariances, dtype=np.float64)
        k, d = means.shape
        if weights.shape != (k,) or covariances.shape != (k, d, d) or len(feature_names) != d:
            raise ValueError(
                f"show_parameters: weights {weights.shape}, means {means.shape}, covariances "
                f"{covariances.shape} and {len(feature_names)} feature names do not agree"
            )
        self._params = (weights, means, covariances, tuple(str(n) for n in feature_names))
        self._render()

    def _fitting_columns(self) -> int:
        """How many monospace characters fit the text's visible width."""
        metrics = QtGui.QFontMetrics(self.text.document().defaultFont())
        margin = 2 * self.text.document().documentMargin() + 4
        return max(
            int((self.text.viewport().width() - margin) // metrics.horizontalAdvance("0")), 8
        )

    def _render(self) -> None:
        if self._params is None:
            return
        weights, means, covariances, names = self._params
        self._columns = self._fitting_columns()
        labels, legend = self._labels(covariances, names)
        indent = max(len(label) for label in labels)
        parts = [legend]
        for k, color in enumerate(palette.component_colors(len(weights))):
            # a mean is 0 when it is so at the shown precision of the component's spread
            mean_scale = np.maximum(np.sqrt(np.abs(np.diag(covariances[k]))), np.abs(means[k]))
            blocks = [("mean", means[k], mean_scale), ("covariance", covariances[k], None)]
            if self.precision_box.isChecked():
                blocks.append(("precision", precision_or_none(covariances[k]), None))
            width = max(
                len(c) for _, m, s in blocks if m is not None for row in cells(m, s) for c in row
            )
            body = "".join(
                f"<div style='color:#555'>{title}</div><pre style='margin:0 0 4px 0'>"
                + html.escape(
                    "(covariance is singular)"
                    if m is None
                    else format_matrix(m, labels, s, min_width=width, indent=indent)
                )
                + "</pre>"
                for title, m, s in blocks
            )
            parts.append(
                f"<div style='background:{color.name()};color:white;font-weight:bold;"
                f"padding:2px 6px'>Component {k + 1} &nbsp; weight {weights[k]:.4f}</div>{body}"
            )
        scroll = self.text.verticalScrollBar().value()
        self.text.setHtml("".join(parts))
        self.text.verticalScrollBar().setValue(scroll)

    def _labels(
        self, covariances: np.ndarray, names: tuple[str, ...]
    ) -> tuple[tuple[str, ...], str]:
        """Row and column labels of the (K, D, D) ``covariances``, and HTML listing their names.

        The names themselves when the matrices fit the panel's width, else the numbers 1..D with
        the names (shortened to the width; "…" may be wider than a digit) listed once.
        """
        widest = max(len(line) for c in covariances for line in format_matrix(c, names).split("\n"))
        if widest <= self._columns:
            return names, ""
        labels = tuple(str(i + 1) for i in range(len(names)))
        lead = len(labels[-1])
        rows = [
            f"{label:>{lead}} {_elide(name, self._columns - lead - 2)}"
            for label, name in zip(labels, names, strict=True)
        ]
        legend = (
            "<div style='color:#555'>features</div><pre style='margin:0 0 6px 0'>"
            f"{html.escape(chr(10).join(rows))}</pre>"
        )
        return labels, legend

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        """Re-label the matrices when names start or stop fitting the new width."""
        super().resizeEvent(event)
        if self._params is not None and self._fitting_columns() != self._columns:
            self._render()

    def plain_text(self) -> str:
        """The panel's text as shown (for tests and copying)."""
        return self.text.toPlainText()
