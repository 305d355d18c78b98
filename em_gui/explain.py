"""Explain panel: the formulas behind the half-step on screen, with the engine's numbers in them.

For the selected point, the E-step's responsibility r_nk = pi_k N(x_n | mu_k, Sigma_k) /
sum_j pi_j N(x_n | mu_j, Sigma_j) (in the hard modes, the one-hot choice); for the selected
component, the M-step's N_k, pi_k, mu_k and Sigma_k (under MAP with the prior's terms; k-means'
shared variance); then the log-likelihood, EM's lower bound and their gap, the KL divergence.
Every number comes from the engine: the frame's snapshot and prior, and em_engine.bound.point_terms
for the selected point. The text is Qt rich text (HTML subset) with Greek letters and sub/sup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6 import QtWidgets

from em_engine.bound import point_terms
from em_engine.covariance import full_covariances
from em_gui.frames import MODE_LABELS, FitData, Frame
from em_gui.palette import component_colors

__all__ = ["ExplainPanel", "explain_html", "file_row", "gap_text", "number"]

_NORMAL = "𝒩"
_BRACKETS = "display:inline;border-left:1px solid #444;border-right:1px solid #444"
_CSS = (
    "<style>table{border-collapse:collapse;} td,th{padding:1px 5px;white-space:nowrap;}"
    " th{text-align:left;}"
    " .f{font-family:serif;font-size:110%;} h3{margin:6px 0 2px 0;} .dim{color:#666;}</style>"
)


def number(value: float, digits: int = 4) -> str:
    """``value`` with ``digits`` significant digits as rich text: a real minus sign and
    powers of ten as 1.23×10<sup>−5</sup>."""
    if not math.isfinite(value):
        return "−∞" if value < 0 else ("∞" if value > 0 else "not a number")
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}×10<sup>{int(exponent)}</sup>"
    return text.replace("-", "−")


def file_row(data: FitData, row: int) -> str:
    """Where data row ``row`` (0-based) is in its file, as the README's Numbering section names
    it: ", file row 9" (", added by hand" for row 0; "" without file rows)."""
    if data.lines is None:
        return ""
    line = int(data.lines[row])
    return f", file row {line}" if line > 0 else ", added by hand"


def _vector(values: Sequence[float]) -> str:
    """The values, a missing cell (NaN) as "missing"."""
    return "(" + ", ".join("missing" if math.isnan(v) else number(v) for v in values) + ")"


def _matrix(matrix: np.ndarray) -> str:
    rows = "".join(
        "<tr>" + "".join(f"<td>{number(v)}</td>" for v in row) + "</tr>" for row in matrix
    )
    return f"<table style='{_BRACKETS}'>{rows}</table>"


def _swatch(k: int, n_components: int) -> str:
    colour = component_colors(n_components)[k].name()
    return f"<span style='color:{colour}'>■</span> {k + 1}"


def _e_step(frame: Frame, row: int) -> str:
    snap, X = frame.snapshot, frame.data.X
    k_count = len(snap.weights)
    terms = point_terms(X[row], snap.weights, snap.means, snap.covariances, snap.covariance_type)
    weighted, resp = terms.weighted[0], terms.responsibilities[0]
    densities = terms.component[0]
    n = f"<i>n</i> = {row + 1}"
    which = "The next E-step" if snap.phase in ("init", "m") else "E-step"
    head = (
        f"<h3>{which} for point {n}{file_row(frame.data, row)}</h3>"
        f"<div class='f'>x<sub>n</sub> = {_vector(X[row])}<br>"
        "r<sub>nk</sub> = π<sub>k</sub> 𝒩(x<sub>n</sub> | μ<sub>k</sub>, Σ<sub>k</sub>) / "
        "Σ<sub>j</sub> π<sub>j</sub> 𝒩(x<sub>n</sub> | μ<sub>j</sub>, Σ<sub>j</sub>)</div>"
    )
    rows = "".join(
        f"<tr><td>{_swatch(k, k_count)}</td><td>{number(snap.weights[k])}</td>"
        f"<td>{number(densities[k])}</td><td>{number(weighted[k])}</td>"
        f"<td><b>{number(resp[k])}</b></td></tr>"
        for k in range(k_count)
    )
    table = (
        "<table><tr><th>k</th><th>π<sub>k</sub></th><th>𝒩<sub>k</sub>(x<sub>n</sub>)</th>"
        "<th>π<sub>k</sub>𝒩<sub>k</sub></th><th>r<sub>nk</sub></th></tr>"
        f"{rows}</table>"
        f"<div class='f'>p(x<sub>n</sub>) = Σ<sub>j</sub> π<sub>j</sub>𝒩 = "
        f"{number(terms.density[0])}, log p(x<sub>n</sub>) = {number(terms.log_density[0])}</div>"
    )
    if snap.mode == "hard":
        chosen = int(np.argmax(resp))
        table += (
            "<p>Hard EM gives the point wholly to its most responsible component: "
            f"q<sub>nk</sub> = 1 for k = {chosen + 1}, 0 for the others.</p>"
        )
    elif snap.mode == "kmeans":
        chosen = int(np.argmax(resp))
        table += (
            "<p>k-means (equal π<sub>k</sub>, one shared σ²I) gives the point to its nearest "
            f"mean: component {chosen + 1}.</p>"
        )
    return head + table


def _m_step(frame: Frame, k: int) -> str:
    snap = frame.snapshot
    n_rows, n_features = frame.data.X.shape
    k_count = len(snap.weights)
    title = f"<h3>M-step for component {_swatch(k, k_count)}</h3>"
    if snap.nk is None:
        return title + "<p class='dim'>No responsibilities yet: take an E-step.</p>"
    nk = snap.nk[k]
    counts = (
        f"<div class='f'>N<sub>k</sub> = Σ<sub>n</sub> r<sub>nk</sub> = {number(nk)} "
        f"<span class='dim'>(of N = {n_rows:,})</span></div>"
    )
    if snap.phase != "m":
        return (
            title
            + counts
            + "<p class='dim'>These counts feed the next M-step (press M to take it).</p>"
        )
    cov = full_covariances(snap.covariances, snap.covariance_type, n_features, k_count)[k]
    mean = _vector(snap.means[k])
    if snap.mode == "kmeans":
        body = (
            f"π<sub>k</sub> = 1/K = {number(snap.weights[k])}<br>"
            f"μ<sub>k</sub> = mean of its points = {mean}<br>"
            "σ² = (1/(N D)) Σ<sub>n</sub> ‖x<sub>n</sub> − μ<sub>z<sub>n</sub></sub>‖² "
            f"+ reg = {number(cov[0, 0])} (shared by all components)"
        )
    elif frame.prior is None:
        body = (
            f"π<sub>k</sub> = N<sub>k</sub> / N = {number(nk)} / {n_rows:,} = "
            f"{number(snap.weights[k])}<br>"
            f"μ<sub>k</sub> = (1/N<sub>k</sub>) Σ<sub>n</sub> r<sub>nk</sub> x<sub>n</sub> = "
            f"{mean}<br>Σ<sub>k</sub> = (1/N<sub>k</sub>) Σ<sub>n</sub> r<sub>nk</sub> "
            "(x<sub>n</sub> − μ<sub>k</sub>)(x<sub>n</sub> − μ<sub>k</sub>)<sup>T</sup> + reg I"
            f" = {_matrix(cov)}"
        )
    else:
        prior = frame.prior
        alpha, kappa, nu = prior.weight_concentration, prior.mean_precision, prior.dof
        xbar = _vector(snap.weighted_means[k])
        body = (
            "MAP: the prior adds pseudo-counts to each update.<br>"
            f"π<sub>k</sub> = (N<sub>k</sub> + α − 1) / (N + K(α − 1)) with α = {number(alpha)}"
            f" → {number(snap.weights[k])}<br>"
            f"μ<sub>k</sub> = (N<sub>k</sub> x̄<sub>k</sub> + κ m<sub>0</sub>) / (N<sub>k</sub> + κ)"
            f" with x̄<sub>k</sub> = {xbar}, κ = {number(kappa)}, m<sub>0</sub> = "
            f"{_vector(prior.mean_prior)} → {mean}<br>"
            "Σ<sub>k</sub> = (Ψ + S<sub>k</sub> + κN<sub>k</sub>/(N<sub>k</sub> + κ) "
            "(x̄<sub>k</sub> − m<sub>0</sub>)(x̄<sub>k</sub> − m<sub>0</sub>)<sup>T</sup>) / "
            f"(ν + N<sub>k</sub> + D + 2) with ν = {number(nu)} → {_matrix(cov)}"
        )
        if snap.covariance_type != "full":
            body += (
                f"<br><span class='dim'>(the full form; {snap.covariance_type} covariances "
                "use the same terms on their variances)</span>"
            )
    if snap.mode == "hard":
        body = (
            "Hard EM: r<sub>nk</sub> is 1 for the component each point was given to, "
            f"0 for the others.<br>{body}"
        )
    return title + counts + f"<div class='f'>{body}</div>"


def _objective(frame: Frame) -> str:
    snap = frame.snapshot
    prior = " + log p(θ)" if frame.prior is not None else ""
    lines = ["<h3>Log-likelihood and EM's lower bound</h3><div class='f'>"]
    if snap.evidence is not None:
        lines.append(
            "log p(X | θ) = Σ<sub>n</sub> log Σ<sub>k</sub> π<sub>k</sub> 𝒩(x<sub>n</sub> | "
            f"μ<sub>k</sub>, Σ<sub>k</sub>){prior} = <b>{number(snap.evidence, 7)}</b><br>"
        )
    if snap.bound is not None:
        lines.append(
            "𝓛(q, θ) = Σ<sub>n,k</sub> q<sub>nk</sub> log π<sub>k</sub>𝒩(x<sub>n</sub> | "
            "μ<sub>k</sub>, Σ<sub>k</sub>) − Σ<sub>n,k</sub> q<sub>nk</sub> log q<sub>nk</sub>"
            f"{prior} = <b>{number(snap.bound, 7)}</b><br>"
        )
    if snap.kl is not None:
        lines.append(
            "KL(q ‖ p(z | X, θ)) = log p(X | θ) − 𝓛 = "
            f"<b>{gap_text(snap.evidence, snap.bound)}</b></div>" + _gap_note(snap.phase, snap.mode)
        )
    else:
        lines.append("</div><p class='dim'>Take an E-step to score these parameters.</p>")
    return "".join(lines)


def gap_text(evidence: float, bound: float) -> str:
    """KL = evidence - bound as rich text: "?" while the evidence is unknown (NaN), 0 within
    rounding of the log-likelihood."""
    if not math.isfinite(evidence):
        return "?"
    kl = evidence - bound
    return "0" if abs(kl) <= 1e-10 * max(abs(evidence), 1.0) else number(kl)


def _gap_note(phase: str, mode: str) -> str:
    if mode != "soft":
        return (
            "<p>With one-hot q the bound is the classification log-likelihood: the E-step "
            "cannot close the gap, so hard EM and k-means climb 𝓛, not log p(X).</p>"
        )
    if phase == "m":
        return (
            "<p>The M-step raised 𝓛 with q fixed; log p(X | θ) rose at least as much, "
            "and the gap (KL) opened.</p>"
        )
    return "<p>The E-step set q to the posterior: the gap is closed (KL = 0).</p>"


def explain_html(frame: Frame | None, row: int = 0, component: int = 0) -> str:
    """The panel's rich text for ``frame``: the current half-step first, for point ``row`` and
    component ``component`` (0-based; clamped to the data and K)."""
    if frame is None:
        return "<p class='dim'>No data yet.</p>"
    snap = frame.snapshot
    row = min(max(row, 0), len(frame.data.X) - 1)
    component = min(max(component, 0), len(snap.weights) - 1)
    phase = {"init": "start", "e": "E-step", "m": "M-step", "edit": "a moved mean"}[snap.phase]
    header = (
        f"<p><b>{MODE_LABELS.get(snap.mode, snap.mode)}</b>, iteration {snap.iteration}, "
        f"after {phase}.</p>"
    )
    e_part, m_part = _e_step(frame, row), _m_step(frame, component)
    parts = [m_part, e_part] if snap.phase == "m" else [e_part, m_part]
    return _CSS + header + "".join(parts) + _objective(frame)


class ExplainPanel(QtWidgets.QWidget):
    """The explain panel: a component picker and the rich text of ``explain_html``; ``show``
    redraws it for a frame, ``select_point`` for another point."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("explain_panel")
        self._frame: Frame | None = None
        self._row = 0
        self.combo_component = QtWidgets.QComboBox()
        self.combo_component.setObjectName("combo_explain_component")
        self.combo_component.setToolTip("The component whose M-step is explained")
        self.text = QtWidgets.QTextBrowser()
        self.text.setObjectName("explain_text")
        self.text.setOpenLinks(False)
        picker = QtWidgets.QHBoxLayout()
        picker.addWidget(QtWidgets.QLabel("Component"))
        picker.addWidget(self.combo_component, 1)
        self.point_label = QtWidgets.QLabel("Point 1 (click a point to choose)")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(picker)
        layout.addWidget(self.point_label)
        layout.addWidget(self.text, 1)
        self.combo_component.currentIndexChanged.connect(self._redraw)

    @property
    def row(self) -> int:
        """The explained point (0-based row)."""
        return self._row

    def component(self) -> int:
        """The explained component (0-based)."""
        return max(self.combo_component.currentIndex(), 0)

    @property
    def frame(self) -> Frame | None:
        """The frame shown."""
        return self._frame

    def show_frame(self, frame: Frame) -> None:
        """Explain ``frame`` (the one drawn)."""
        self._frame = frame
        k = len(frame.snapshot.weights)
        if self.combo_component.count() != k:
            current = self.component()
            self.combo_component.blockSignals(True)
            self.combo_component.clear()
            self.combo_component.addItems([str(i + 1) for i in range(k)])
            self.combo_component.setCurrentIndex(min(current, k - 1))
            self.combo_component.blockSignals(False)
        self._redraw()

    def select_point(self, row: int) -> None:
        """Explain the E-step for data row ``row`` (0-based)."""
        self._row = int(row)
        self._redraw()

    def forget_point(self) -> None:
        """Back to the first point (new data: its rows are other points)."""
        self.select_point(0)

    def select_component(self, component: int) -> None:
        """Explain the M-step for ``component`` (0-based)."""
        self.combo_component.setCurrentIndex(int(component))

    def _redraw(self, *_args: object) -> None:
        frame = self._frame
        if frame is not None:
            self._row = min(self._row, len(frame.data.X) - 1)
            where = file_row(frame.data, self._row)
            self.point_label.setText(f"Point {self._row + 1}{where} (click a point to choose)")
        self.text.setHtml(explain_html(frame, self._row, self.component()))
