"""Parameter panel: weight, mean and covariance (or precision) of every component, live."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
from PySide6 import QtGui, QtWidgets

from em_gui import palette

#: Significant digits of every number shown.
DIGITS = 4


def format_matrix(matrix: np.ndarray, names: Sequence[str] | None = None) -> str:
    """Right-aligned monospace text of a vector (D,) or a matrix (D, D), DIGITS significant

    With ``names``, a header row names the columns (and rows of a matrix).
    """
    matrix = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    cells = [[f"{v:.{DIGITS}g}" for v in row] for row in matrix]
    row_names = list(names) if names is not None and matrix.shape[0] > 1 else None
    header = list(names) if names is not None else None
    width = max([len(c) for row in cells for c in row] + [len(h) for h in header or []])
    lead = max((len(n) for n in row_names), default=0) if row_names else 0
    lines = []
    if header is not None:
        lines.append(" " * lead + "".join(f"  {h[:width]:>{width}}" for h in header))
    for r, row in enumerate(cells):
        prefix = f"{row_names[r]:<{lead}}" if row_names else ""
        lines.append(prefix + "".join(f"  {c:>{width}}" for c in row))
    return "\n".join(lines)


class ParameterPanel(QtWidgets.QWidget):
    """Per component: a coloured header, the weight, the mean vector and the covariance matrix.

    A "show precision" checkbox adds the precision matrix (inverse covariance, for display only).
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.precision_box = QtWidgets.QCheckBox("Show precision (inverse covariance)")
        self.precision_box.setToolTip("Also list each component's precision matrix")
        self.precision_box.toggled.connect(self._render)
        self.text = QtWidgets.QTextBrowser()
        self.text.setOpenLinks(False)
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        self.text.document().setDefaultFont(font)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.precision_box)
        layout.addWidget(self.text)
        self._params: tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]] | None = None
        self.text.setPlainText("No model yet.")

    def show_parameters(
        self,
        weights: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        feature_names: Sequence[str],
    ) -> None:
        """Show K components.

        Parameters
        ----------
        weights : (K,)
        means : (K, D)
        covariances : (K, D, D) full matrices (em_engine.gaussian.full_covariances converts others)
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

    def _render(self) -> None:
        if self._params is None:
            return
        weights, means, covariances, names = self._params
        colors = palette.component_colors(len(weights))
        parts = []
        for k, color in enumerate(colors):
            blocks = [
                ("mean", format_matrix(means[k], names)),
                ("covariance", format_matrix(covariances[k], names)),
            ]
            if self.precision_box.isChecked():
                blocks.append(("precision", self._precision_text(covariances[k], names)))
            body = "".join(
                f"<div style='color:#555'>{title}</div><pre style='margin:0 0 4px 0'>"
                f"{html.escape(text)}</pre>"
                for title, text in blocks
            )
            parts.append(
                f"<div style='background:{color.name()};color:white;font-weight:bold;"
                f"padding:2px 6px'>Component {k + 1} &nbsp; weight {weights[k]:.4f}</div>{body}"
            )
        scroll = self.text.verticalScrollBar().value()
        self.text.setHtml("".join(parts))
        self.text.verticalScrollBar().setValue(scroll)

    @staticmethod
    def _precision_text(covariance: np.ndarray, names: Sequence[str]) -> str:
        try:
            return format_matrix(np.linalg.inv(covariance), names)
        except np.linalg.LinAlgError:
            return "(covariance is singular)"

    def plain_text(self) -> str:
        """The panel's text as shown (for tests and copying)."""
        return self.text.toPlainText()
