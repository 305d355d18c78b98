"""EMSession: EM one half-step at a time, with immutable snapshots and the full history.

Iteration i's parameters are theta_i (theta_0 = the initial parameters); ``iteration`` counts the
completed M-steps. An E-step on theta_i gives responsibilities, labels, confidence and the objective
*of theta_i*: the total log-likelihood sum_n log p(x_n | theta_i), or with a prior the log posterior
(log-likelihood + log prior density of theta_i). The M-step then makes theta_{i+1}. Convergence
is scikit-learn's: after the E-step on theta_i, converged when
|objective_i - objective_{i-1}| / N < tol.
From the same theta_0, a session and ``GaussianMixture`` go through the same parameters.

Every method returns a new :class:`Snapshot` (also kept as ``session.snapshot``). Snapshot and
history arrays are read-only views of memory the session never writes again: parameters are copied
per parameter set; the per-point ``labels`` and ``confidence`` of one E-step are shared by the
snapshots built from that E-step (an E snapshot and the M snapshot that follows it).

The history keeps every objective value and event, but parameter sets only as checkpoints within
``history_budget`` bytes (every ``stride`` iterations; the stride doubles as the history grows) and
the user's mean edits. Any other iteration is replayed from the nearest checkpoint by the same
E-step, M-step, collapse policy and edits, which give the same arrays bit for bit (results do not
depend on the engine's thread count), so memory is bounded at any length and every iteration can
still be shown exactly.

Awkward data (duplicates, collinear points, constant columns, K == N) never make a session raise
or produce NaN: every M-step's parameters, and the initial ones, go through the collapse policy
(em_engine.collapse), which re-initialises a collapsed component and reports an event. The
objective may drop at an iteration with such an event.

``GaussianMixture`` keeps scikit-learn's behaviour instead (a ValueError naming reg_covar).

With ``missing="em"``, X may hold NaN for missing cells: the E-step and M-step are those of
em_engine.missing (missing at random), and each snapshot carries ``imputed``, the data with
missing cells at the conditional means of the E-step that gave its labels.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from typing import Any, overload

import numpy as np

from em_engine import covariance, gaussian
from em_engine import missing as em_missing
from em_engine.checks import ParameterError, check_data, check_parameters, check_sample_weight
from em_engine.collapse import CollapsePolicy, frozen
from em_engine.errors import DataError, DensityUnderflowError
from em_engine.init import (
    INIT_METHODS,
    initial_parameters,
    nearest_mean_responsibilities,
)
from em_engine.iteration import EMIteration, Scored
from em_engine.iteration import Theta as _Theta
from em_engine.prior import Prior

INITIAL_PARAM_KEYS = ("weights", "means", "covariances")
#: Bytes of parameter sets the history keeps by default (the others are replayed when shown).
HISTORY_BUDGET = 64 << 20

_MAX_SEED = 2**32 - 1
# The smallest non-zero spread (max - min) of the data whose square is still a normal number.
_MIN_SPREAD = {t: float(np.sqrt(np.finfo(t).tiny) * 1e4) for t in (np.float32, np.float64)}


def _shared(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array``, which the caller gives up (no copy)."""
    array.flags.writeable = False
    return array.view()


def _number(value: float) -> float | None:
    """A stored value, or None for NaN (not computed)."""
    return None if math.isnan(value) else float(value)


def _edited(theta: _Theta, edits: tuple[tuple[int, np.ndarray], ...]) -> _Theta:
    """theta with component means moved by the edits (k, mean (D,)), in order; weights,
    covariances and precision factors unchanged."""
    if not edits:
        return theta
    means = theta.means.copy()
    for k, mean in edits:
        means[k] = mean
    return replace(theta, means=_shared(means))


@dataclass(frozen=True, eq=False)
class HistoryEntry:
    """One parameter set theta_iteration of the history.

    Attributes
    ----------
    iteration : int
    weights : (K,)
    means : (K, D)
    covariances : full (K, D, D), tied (D, D), diag (K, D), spherical (K,)
    log_likelihood : objective of these parameters (log-likelihood, or log posterior with a prior),
        None until an E-step has scored them
    events : what happened when these parameters were made (collapse re-initialisations, an edit)

    The parameters of an iteration that is not a checkpoint are replayed from the nearest one on
    first access (EM is deterministic: the same arrays as when they were first computed). An
    entry whose iteration the session has since replaced (a later step after a restore, a reset)
    raises RuntimeError on that access rather than show other parameters.
    """

    iteration: int
    log_likelihood: float | None
    events: tuple[str, ...]
    _load: Callable[[], _Theta] = field(repr=False)

    @cached_property
    def _theta(self) -> _Theta:
        return self._load()

    @property
    def weights(self) -> np.ndarray:
        """(K,) read-only."""
        return self._theta.weights

    @property
    def means(self) -> np.ndarray:
        """(K, D) read-only."""
        return self._theta.means

    @property
    def covariances(self) -> np.ndarray:
        """Type shape (full (K, D, D), tied (D, D), diag (K, D), spherical (K,)), read-only."""
        return self._theta.covariances


def _same(theta: _Theta) -> _Theta:
    return theta


class _History(Sequence[HistoryEntry]):
    """The history as a sequence: len is O(1) and entries are made on demand, so that a history of
    100,000 iterations costs no 100,000 objects until they are asked for."""

    def __init__(self, session: EMSession) -> None:
        n = session._count
        self._session = session
        self._values = session._values[:n].copy()
        self._events = session._events[:n]
        self._born = session._born[:n]
        self._kept = {i: session._checkpoints[i] for i in session._checkpoints if i < n}
        if session._iteration < n:
            self._kept[session._iteration] = session._theta

    def __len__(self) -> int:
        return len(self._born)

    @overload
    def __getitem__(self, index: int) -> HistoryEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[HistoryEntry]: ...

    def __getitem__(self, index: int | slice) -> HistoryEntry | list[HistoryEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]  # IndexError as a list's
        value = float(self._values[i])
        kept = self._kept.get(i)
        load = (
            (lambda: kept)
            if kept is not None
            else partial(self._session._theta_of, i, self._born[i])
        )
        return HistoryEntry(i, None if math.isnan(value) else value, self._events[i], load)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The state after one session call. All arrays are read-only.

    Attributes
    ----------
    iteration : index i of the parameters shown (theta_i)
    phase : "init" (theta_0, not yet scored), "e" (E-step on theta_i), "m" (theta_i just made by
        an M-step from the E-step on theta_{i-1}) or "edit" (theta_i edited by the user)
    covariance_type : "full", "tied", "diag" or "spherical"
    weights : (K,)
    means : (K, D)
    covariances : full (K, D, D), tied (D, D), diag (K, D), spherical (K,)
    log_likelihood : the latest objective value, or None; it scores theta_{log_likelihood_iteration}
        (after an M-step, the parameters *before* it, as scikit-learn's lower bound)
    log_likelihood_iteration : which theta ``log_likelihood`` scores, or None
    objective : "log-likelihood" or "log posterior"; in the hard modes "classification
        log-likelihood" or "classification log posterior"
    labels : (N,) intp component of largest responsibility, from the E-step that fed this state
    confidence : (N,) that largest responsibility
    converged : the objective changed by less than tol per sample at the latest E-step
    events : human-readable notes (collapse re-initialisations, edits)
    seed : seed of the initial parameters
    elapsed : seconds the call took
    mode : "soft", "hard" or "kmeans" (em_engine.iteration.MODES)
    nk : (K,) N_k = sum_n q_nk of the E-step that fed this state (its M-step's counts), or None
    weighted_means : (K, D) xbar_k = sum_n q_nk x_n / N_k of that E-step (the ML means; MAP
        shrinks them towards the prior's mean), or None
    evidence : log p(X | theta_iteration) (+ log prior under MAP) of the parameters shown, or None
        while not computed
    bound : EM's lower bound L(q, theta_iteration) (+ log prior) at this half-step
        (em_engine.bound): after an E-step (and an edit) the objective of theta_iteration; after
        an M-step the bound with the previous E-step's q; None at "init". evidence - bound is
        KL(q || posterior)
    narrow : (k, smallest variance / the data's mean variance) of the components that maximum
        likelihood has shrunk onto a few points (em_engine.collapse.CollapsePolicy.narrow)
    imputed : (N, D) float64 with missing="em" and missing cells: the data with each missing cell
        at its conditional mean sum_k r_nk E_k[x_miss | x_obs] from the E-step that gave
        ``labels`` (theta_0's for "init"); None when no cell is missing
    """

    iteration: int
    phase: str
    covariance_type: str
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    log_likelihood: float | None
    log_likelihood_iteration: int | None
    objective: str
    labels: np.ndarray | None
    confidence: np.ndarray | None
    converged: bool
    events: tuple[str, ...]
    seed: int
    elapsed: float
    mode: str = "soft"
    nk: np.ndarray | None = None
    weighted_means: np.ndarray | None = None
    evidence: float | None = None
    bound: float | None = None
    narrow: tuple[tuple[int, float], ...] = ()
    imputed: np.ndarray | None = None

    @property
    def kl(self) -> float | None:
        """KL(q || p(z | X, theta)) = evidence - bound, or None while either is unknown."""
        if self.evidence is None or self.bound is None:
            return None
        return self.evidence - self.bound


@dataclass(frozen=True, eq=False)
class BoundHistory:
    """EM's lower bound and log p(X | theta) per half-step, in order.

    half_steps : (M,) int64: 2 i for the E-step on theta_i, 2 i - 1 for the M-step that made it
    bound : (M,) L(q, theta) (+ log prior): the E-step's q on theta_i, or the previous E-step's q
        on the parameters the M-step made
    evidence : (M,) log p(X | theta_i) (+ log prior), NaN where not yet computed
    The KL divergence KL(q || p(z | X, theta)) is evidence - bound (0 after a soft E-step).
    """

    half_steps: np.ndarray
    bound: np.ndarray
    evidence: np.ndarray

    @property
    def kl(self) -> np.ndarray:
        """(M,) evidence - bound (NaN where the evidence is not yet computed)."""
        return self.evidence - self.bound


@dataclass(frozen=True, eq=False)
class _EState:
    """An E-step on the current parameters."""

    scored: Scored
    labels: np.ndarray
    confidence: np.ndarray
    converged: bool
    imputed: np.ndarray | None = None


def _check_spread(X: np.ndarray) -> None:
    """DataError when X's values differ too little for the collapse policy's arithmetic."""
    spread = X.max(axis=0) - X.min(axis=0)
    widest = int(np.argmax(spread))
    if 0.0 < spread[widest] < _MIN_SPREAD[X.dtype.type]:
        raise DataError(
            f"X's values differ by at most {spread[widest]:.3g} (column {widest + 1}): too little "
            f"for the arithmetic in {X.dtype}; rescale the data"
        )


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return int(value)


def _check_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class EMSession:
    """Gaussian-mixture EM on X, driven one half-step at a time (the GUI's engine).

    Parameters
    ----------
    X : array (N, D), finite; copied (C order, read-only); float32 stays float32, other numbers
        become float64
    n_components : K, 1 <= K <= N
    covariance_type : "full", "tied", "diag" or "spherical"
    init : "kmeans", "k-means++", "random" or "random_from_data" (see em_engine.init)
    seed : int in [0, 2**32 - 1], seeds the initialisation
    tol : convergence threshold on the per-sample change of the objective
    reg_covar : added to the covariance diagonals
    max_iter : default number of iterations of :meth:`run`
    prior : None (maximum likelihood), True (``Prior.default``) or a ``Prior`` (MAP)
    initial_params : None, or a dict with any of "weights" (K,), "means" (K, D), "covariances"
        (type shape): user-placed means or an imported model. Given entries are used as they are.
        Missing entries: if "means" is given, the others come from assigning each row to its
        nearest given mean (a mean with no rows gets the data covariance); otherwise from the init
        method, as scikit-learn's weights_init/means_init.
    sample_weight : None, or (N,) frequency weights >= 0, not all zero (DataError naming a
        negative, NaN or infinite one): E-step statistics, objective and initialisation weight
        each row (integer weights: as the data with rows repeated; zero: the row is shown and
        labelled but not fitted); the objective per sample is per unit of total weight. The
        collapse policy's thresholds still count rows.
    missing : "error" (default: NaN refused), "drop" (rows with a NaN left out: ``X`` is the
        rest) or "em" (missing at random, em_engine.missing: the E-step scores each row's observed
        cells, the M-step uses the conditional means and covariances of the missing ones; the
        start, the default prior and the collapse policy see missing cells at their column's
        mean; snapshots carry the ``imputed`` data)
    history_budget : bytes of parameter sets kept as checkpoints (default 64 MB). Every
        objective value is kept; the parameters of other iterations are replayed from the nearest
        checkpoint when shown (EM is deterministic), so memory stays bounded at any length.
    mode : "soft" (EM), "hard" (classification EM) or "kmeans" (hard EM with equal weights and
        one shared spherical covariance; no prior): see em_engine.iteration. In k-means mode the
        starting parameters are made k-means' too, and after a collapse re-initialisation (a
        cluster that lost its rows) the weights and shared variance are made k-means' again.
    """

    def __init__(
        self,
        X: np.ndarray,
        n_components: int,
        covariance_type: str = "full",
        init: str = "kmeans",
        seed: int = 0,
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        prior: bool | Prior | None = None,
        initial_params: Mapping[str, Any] | None = None,
        history_budget: int = HISTORY_BUDGET,
        sample_weight: Any = None,
        missing: str = "error",
        mode: str = "soft",
    ) -> None:
        started = time.perf_counter()
        self._history_budget = _check_int("history_budget", history_budget, 0)
        self.missing = em_missing.check_missing(missing)
        X = check_data(X, fitting=True, allow_nan=missing != "error")
        weights = check_sample_weight(sample_weight, X.shape[0])
        if missing == "drop":
            kept = ~np.isnan(X).any(axis=1)
            if not kept.any():
                raise DataError("every row has a missing value: no row is left to fit")
            if not kept.all():
                X = X[kept]
                weights = None if weights is None else weights[kept]
        self._X = check_data(X, copy=True, scan=False)  # the session's own, read-only copy
        patterns = em_missing.Patterns.of(self._X) if missing == "em" else None
        # what the start, the prior and the collapse policy see: missing cells at column means
        self._filled = self._X if patterns is None else em_missing.mean_filled(self._X, weights)
        _check_spread(self._filled)
        n_samples = self._X.shape[0]
        if weights is not None:
            weights.flags.writeable = False
        self.sample_weight = weights
        if isinstance(n_components, int | np.integer) and n_components > n_samples >= 1:
            raise ValueError(
                f"{n_components} components need at least {n_components} data points; "
                f"the data has {n_samples}"
            )
        self.n_components = _check_int("n_components", n_components, 1, n_samples)
        if covariance_type not in covariance.COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {covariance.COVARIANCE_TYPES}, "
                f"got {covariance_type!r}"
            )
        self.covariance_type = covariance_type
        if init not in INIT_METHODS:
            raise ValueError(f"init must be one of {INIT_METHODS}, got {init!r}")
        self.init = init
        self.tol = _check_float("tol", tol)
        self.reg_covar = _check_float("reg_covar", reg_covar)
        self.max_iter = _check_int("max_iter", max_iter, 1)
        self.prior = self._check_prior(prior)
        self._em = EMIteration(
            self._X,
            covariance_type,
            self.reg_covar,
            self.prior,
            self.tol,
            self.sample_weight,
            patterns,
            mode,
        )
        self.mode = mode
        self.objective = "log-likelihood" if self.prior is None else "log posterior"
        if mode != "soft":
            self.objective = f"classification {self.objective}"
        self._initial_params = self._check_initial_params(initial_params)
        self._policy = CollapsePolicy(
            self._filled, self.n_components, covariance_type, self.reg_covar, self.sample_weight
        )
        self.seed = _check_int("seed", seed, 0, _MAX_SEED)
        self._start(started)

    # --- public interface ------------------------------------------------------------------------

    @property
    def X(self) -> np.ndarray:
        """The data (N, D): the session's own copy, read-only (NaN for missing cells with
        missing="em"; without the dropped rows with missing="drop")."""
        return self._X.view()

    @property
    def history(self) -> Sequence[HistoryEntry]:
        """One entry per parameter set theta_0..theta_n (a read-only sequence; parameters of
        iterations between checkpoints are replayed when asked for)."""
        return _History(self)

    def objective_values(self) -> tuple[np.ndarray, np.ndarray]:
        """Every objective value computed so far: iterations (M,) int64 and values (M,) float64
        of the scored parameter sets, in order (cheap at any history length)."""
        values = self._values[: self._count]
        scored = np.flatnonzero(~np.isnan(values))
        return scored.astype(np.int64), values[scored].copy()

    def bound_history(self) -> BoundHistory:
        """The lower bound and log p(X | theta) at every half-step so far (cheap at any length)."""
        n = self._count
        e_steps = np.flatnonzero(~np.isnan(self._values[:n]))
        m_steps = np.flatnonzero(~np.isnan(self._bound_m[:n]))
        half_steps = np.concatenate([2 * e_steps, 2 * m_steps - 1])
        bound = np.concatenate([self._values[e_steps], self._bound_m[m_steps]])
        evidence = np.concatenate([self._evidence[e_steps], self._evidence[m_steps]])
        order = np.argsort(half_steps, kind="stable")
        return BoundHistory(half_steps[order].astype(np.int64), bound[order], evidence[order])

    @property
    def iteration(self) -> int:
        """Index i of the current parameters theta_i."""
        return self._iteration

    def e_step(self) -> Snapshot:
        """Responsibilities, labels and objective of the current parameters (unchanged)."""
        started = time.perf_counter()
        self._truncate()
        state = self._ensure_e_step()
        return self._publish("e", started, state, self._iteration, self._events[self._iteration])

    def m_step(self) -> Snapshot:
        """Parameters from the latest responsibilities (an E-step first if they are stale)."""
        started = time.perf_counter()
        self._truncate()
        state = self._ensure_e_step()
        self._advance(state)
        return self._publish(
            "m", started, state, self._iteration - 1, self._events[self._iteration]
        )

    def step(self) -> Snapshot:
        """One full iteration (E-step then M-step); returns the M snapshot."""
        return self.m_step()

    def run(self, max_iter: int | None = None) -> Iterator[Snapshot]:
        """Iterate until converged or ``max_iter`` more iterations (default: the session's).

        A generator yielding the snapshot of each full iteration; the caller may stop between
        iterations. Nothing is done when the current snapshot is already converged.
        """
        limit = self.max_iter if max_iter is None else _check_int("max_iter", max_iter, 1)
        return self._run(limit)

    def reseed(self, seed: int | None = None) -> Snapshot:
        """New seed (random if None) and new initial parameters from the init method.

        The session's ``initial_params`` are dropped; the history restarts at iteration 0.
        """
        started = time.perf_counter()
        if seed is None:
            seed = secrets.randbelow(_MAX_SEED + 1)
        self.seed = _check_int("seed", seed, 0, _MAX_SEED)
        self._initial_params = {}
        self._start(started)
        return self.snapshot

    def reset(self) -> Snapshot:
        """Back to theta_0 of the current seed (undoing edits); the history restarts."""
        started = time.perf_counter()
        self._restart(started)
        return self.snapshot

    def restore(self, iteration: int) -> Snapshot:
        """Show theta_iteration from the history, with its labels (via an E-step).

        The later history is kept until the next e_step/m_step/step/run, which replaces it.
        """
        started = time.perf_counter()
        iteration = _check_int("iteration", iteration, 0, self._count - 1)
        self._theta = self._theta_at(iteration)
        self._iteration = iteration
        self._e_state = None
        self._next = None
        state = self._ensure_e_step()
        return self._publish("e", started, state, iteration, self._events[iteration])

    def move_mean(self, k: int, mean: Any) -> Snapshot:
        """Move component k's mean (a user's drag): later history dropped, an event reported.

        The edited parameters replace theta_iteration and are scored by an E-step. A mean so far
        away that some row cannot be scored raises DensityUnderflowError and changes nothing.
        """
        started = time.perf_counter()
        k = _check_int("k", k, 0, self.n_components - 1)
        n_features = self._X.shape[1]
        try:
            mean = np.asarray(mean, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"mean must be {n_features} numbers, got {mean!r}") from None
        if mean.shape != (n_features,) or not np.all(np.isfinite(mean)):
            raise ValueError(f"mean must be {n_features} finite numbers, got {mean.tolist()!r}")
        edit = (k, frozen(mean))
        theta = _edited(self._theta, (edit,))
        # before any change: a mean too far to score is refused
        scored = self._em.e_step(theta, with_labels=True)
        coords = ", ".join(f"{v:.6g}" for v in mean)
        events = (f"component {k + 1} mean moved to ({coords})",)
        self._truncate()
        self._set_current(theta, events, (*self._edits.get(self._iteration, ()), edit))
        state = self._ensure_e_step(scored)
        return self._publish("edit", started, state, self._iteration, events, converged=False)

    # --- construction ----------------------------------------------------------------------------

    def _check_prior(self, prior: Any) -> Prior | None:
        if prior is None or prior is False:
            return None
        if prior is True:
            return Prior.default(
                self._filled, self.n_components, self.covariance_type, self.sample_weight
            )
        if isinstance(prior, Prior):
            if prior.n_features != self._X.shape[1]:
                raise ValueError(
                    f"prior is for {prior.n_features} features, but X has {self._X.shape[1]}"
                )
            return prior
        raise ValueError(f"prior must be None, True or a Prior, got {prior!r}")

    def _check_initial_params(self, params: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
        if params is None:
            return {}
        if not isinstance(params, Mapping):
            raise ValueError(f"initial_params must be None or a dict, got {params!r}")
        unknown = sorted(set(params) - set(INITIAL_PARAM_KEYS))
        if unknown:
            raise ValueError(
                f"initial_params has unknown key(s) {unknown}; expected any of {INITIAL_PARAM_KEYS}"
            )
        try:
            checked = check_parameters(
                self.covariance_type, self.n_components, self._X.shape[1], **params
            )
        except ParameterError as exc:
            raise ValueError(f"initial_params[{exc.name!r}]{exc.index}: {exc.problem}") from None
        if "weights" in checked:
            checked["weights"] = checked["weights"] / checked["weights"].sum()
        return checked

    def _initial_theta(self) -> tuple[_Theta, tuple[str, ...]]:
        given = self._initial_params
        if len(given) == len(INITIAL_PARAM_KEYS):
            weights, means, covariances = given["weights"], given["means"], given["covariances"]
        elif "means" in given:
            weights, means, covariances = self._from_given_means(given["means"])
        else:
            weights, means, covariances = initial_parameters(
                self._filled,
                self.n_components,
                self.covariance_type,
                self.init,
                self.seed,
                self.reg_covar,
                self._em.m_step,  # with a prior, the MAP M-step: a start of the same objective
                self.sample_weight,
            )
        weights = given.get("weights", weights)
        means = given.get("means", means)
        covariances = given.get("covariances", covariances)
        return self._sanitised((weights, means, covariances), check_weights=False)

    def _sanitised(
        self, parameters: tuple[np.ndarray, np.ndarray, np.ndarray], *, check_weights: bool
    ) -> tuple[_Theta, tuple[str, ...]]:
        """The collapse policy on parameters in the session's mode (k-means': equal weights and
        a shared spherical covariance, also after a re-initialisation)."""
        theta, events = self._policy.sanitise(*parameters, check_weights=check_weights)
        if self.mode == "kmeans":  # a re-initialised cluster has its own covariance and weight
            constrained = self._em.constrain((theta.weights, theta.means, theta.covariances))
            theta = self._policy.sanitise(*constrained, check_weights=False)[0]
        return theta, events

    def _from_given_means(self, means: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weights and covariances from assigning every row to its nearest given mean.

        The given means are kept: a component with no row, or with an unusable covariance (one
        row), gets the data covariance; one with no row also weight 1/K (then renormalised).
        """
        resp = nearest_mean_responsibilities(self._filled, means)
        stats = gaussian.stats_from_resp(
            self._filled, resp, self.covariance_type, self.sample_weight
        )
        weights, _, covariances = gaussian.m_step(stats, self.covariance_type, self.reg_covar)
        empty = stats.nk < 1.0
        if self.covariance_type == "tied":
            if self._policy.covariance_problem(covariances) is not None:
                covariances = self._policy.data_covariance()
        else:
            for k in range(self.n_components):
                if empty[k] or self._policy.covariance_problem(covariances[k]) is not None:
                    covariances[k] = self._policy.data_covariance()
        if empty.any():
            weights[empty] = 1.0 / self.n_components
            weights /= weights.sum()
        return weights, means, covariances

    def _start(self, started: float) -> None:
        self._theta0, self._theta0_events = self._initial_theta()
        self._restart(started)

    def _restart(self, started: float) -> None:
        # The history: per iteration its objective (NaN until scored), events and birth number
        # (which tells a HistoryEntry whether its iteration was replaced since); the parameter
        # sets every `_stride` iterations (and the current one) within `_history_budget` bytes;
        # mean edits, replayed on their iterations.
        self._count = 0
        self._values = np.full(64, np.nan)
        self._evidence = np.full(64, np.nan)  # log p(X | theta_i) (+ log prior)
        self._bound_m = np.full(64, np.nan)  # the bound of theta_i with the q that made it
        self._events: list[tuple[str, ...]] = []
        self._born: list[int] = []
        self._births = getattr(self, "_births", 0)
        self._checkpoints: dict[int, _Theta] = {}
        self._edits: dict[int, tuple[tuple[int, np.ndarray], ...]] = {}
        self._stride = 1
        self._iteration = 0
        self._set_current(self._theta0, self._theta0_events)
        self._publish("init", started, None, None, self._theta0_events, converged=False)

    # --- EM --------------------------------------------------------------------------------------

    def _run(self, limit: int) -> Iterator[Snapshot]:
        if self.snapshot.converged:
            return
        for _ in range(limit):
            snapshot = self.step()
            yield snapshot
            if snapshot.converged:
                return

    def _truncate(self) -> None:
        """Drop the history after the current parameters (after a restore)."""
        self._cut(self._iteration + 1)

    def _cut(self, n: int) -> None:
        """Keep the history of iterations 0 .. n - 1 only."""
        self._count = min(self._count, n)
        for values in (self._values, self._evidence, self._bound_m):
            values[n:] = np.nan
        del self._events[n:]
        del self._born[n:]
        for i in [i for i in self._checkpoints if i >= n]:
            del self._checkpoints[i]
        for i in [i for i in self._edits if i >= n]:
            del self._edits[i]

    def _set_current(
        self,
        theta: _Theta,
        events: tuple[str, ...],
        edits: tuple[tuple[int, np.ndarray], ...] = (),
    ) -> None:
        """Make ``theta`` the parameters of the current iteration (replacing or appending);
        ``edits`` are the mean moves that made it from the M-step's (or theta_0's) parameters."""
        i = self._iteration
        self._cut(i)
        if i == len(self._values):
            grow = np.full(i, np.nan)
            self._values = np.concatenate([self._values, grow])
            self._evidence = np.concatenate([self._evidence, grow])
            self._bound_m = np.concatenate([self._bound_m, grow])
        self._count = i + 1
        self._events.append(events)
        self._births += 1
        self._born.append(self._births)
        if edits:
            self._edits[i] = edits
        if i % self._stride == 0:
            self._checkpoints[i] = theta
            self._thin_checkpoints(theta)
        self._theta = theta
        self._e_state: _EState | None = None
        self._next: Scored | None = None  # the E-step on theta, computed ahead by an M-step

    def _thin_checkpoints(self, theta: _Theta) -> None:
        """Double the checkpoint spacing (dropping every other one) while they exceed the
        budget; theta_0 is always kept."""
        size = sum(a.nbytes for a in (theta.weights, theta.means, theta.covariances))
        size += theta.precisions_cholesky.nbytes
        while len(self._checkpoints) > 2 and len(self._checkpoints) * size > self._history_budget:
            self._stride *= 2
            self._checkpoints = {
                i: kept for i, kept in self._checkpoints.items() if i % self._stride == 0
            }

    def _theta_at(self, iteration: int) -> _Theta:
        """theta_iteration of the current history: replayed from the nearest checkpoint (or the
        current parameters, when nearer) by the same E-step, M-step, collapse policy and edits
        that first made it, so it is the same, array for array."""
        start = max(i for i in self._checkpoints if i <= iteration)
        theta = self._checkpoints[start]
        if start < self._iteration <= iteration:
            start, theta = self._iteration, self._theta
        for i in range(start + 1, iteration + 1):
            parameters = self._em.step(theta)[1]
            theta = self._sanitised(parameters, check_weights=True)[0]
            theta = _edited(theta, self._edits.get(i, ()))
        return theta

    def _theta_of(self, iteration: int, born: int) -> _Theta:
        """A HistoryEntry's parameters, if its iteration is still the one it was made for."""
        if iteration >= self._count or self._born[iteration] != born:
            raise RuntimeError(
                f"history entry {iteration} was replaced since it was read (a step after a "
                "restore, a reset or a new seed); read session.history again"
            )
        return self._theta_at(iteration)

    def _ensure_e_step(self, scored: Scored | None = None) -> _EState:
        """The E-step on the current parameters (computed once per parameter set, unless
        ``scored`` is that E-step already); DensityUnderflowError changes nothing."""
        if self._e_state is not None:
            return self._e_state
        theta, i = self._theta, self._iteration
        if scored is None:
            scored = self._next or self._em.e_step(theta, with_labels=True)
        previous = self._values[i - 1] if i > 0 else math.nan
        converged = (
            not math.isnan(previous)
            and not self._events[i]
            and self._em.converged(
                self._em.lower_bound(scored.objective), self._em.lower_bound(previous)
            )
        )
        self._values[i] = scored.objective
        self._evidence[i] = scored.evidence
        result = scored.result
        imputed = None if result.imputed is None else _shared(result.imputed)
        self._e_state = _EState(
            scored, _shared(result.labels), _shared(result.confidence), converged, imputed
        )
        return self._e_state

    def _advance(self, state: _EState) -> None:
        """M-step from ``state`` (the E-step on theta_i): theta_{i+1} becomes current."""
        parameters = self._em.m_step(state.scored.result.stats)
        theta, events = self._sanitised(parameters, check_weights=True)
        self._iteration += 1
        self._set_current(theta, events)
        self._bound_m[self._iteration] = self._em.bound(theta, state.scored)
        try:  # the next E-step, ahead: the M snapshot shows log p(X | new theta) and the gap
            self._next = self._em.e_step(theta, with_labels=True)
        except DensityUnderflowError:  # raised by that E-step when it is asked for
            return
        self._evidence[self._iteration] = self._next.evidence

    def _publish(
        self,
        phase: str,
        started: float,
        state: _EState | None,
        scored: int | None,
        events: tuple[str, ...],
        converged: bool | None = None,
    ) -> Snapshot:
        theta, i = self._theta, self._iteration
        bound = self._bound_m[i] if phase == "m" else self._values[i]
        if state is not None:
            imputed = state.imputed
        elif self._em.patterns is not None:  # theta_0 not yet scored: its conditional means
            imputed = _shared(self._em.e_step(theta, with_labels=True).result.imputed)
        else:
            imputed = None
        self.snapshot = Snapshot(
            iteration=self._iteration,
            phase=phase,
            covariance_type=self.covariance_type,
            weights=theta.weights.view(),
            means=theta.means.view(),
            covariances=theta.covariances.view(),
            log_likelihood=None if state is None else state.scored.objective,
            log_likelihood_iteration=None if state is None else scored,
            objective=self.objective,
            labels=None if state is None else state.labels.view(),
            confidence=None if state is None else state.confidence.view(),
            converged=state.converged if converged is None else converged,
            events=events,
            seed=self.seed,
            elapsed=time.perf_counter() - started,
            mode=self.mode,
            nk=None if state is None else _shared(state.scored.result.stats.nk.copy()),
            weighted_means=None
            if state is None
            else _shared(state.scored.result.stats.means.copy()),
            evidence=_number(self._evidence[i]),
            bound=None if phase == "init" else _number(bound),
            narrow=self._policy.narrow(theta.covariances),
            imputed=None if imputed is None else imputed.view(),
        )
        return self.snapshot
