"""Lyapunov spectra by the QR (Benettin) method, and the two-trajectory estimate of lambda_1.

Algorithm (THEORY.md section 7; Benettin et al. 1980, Shimada & Nagashima 1979):

1. *State burn-in*: the state is integrated for ``t_burn`` so that it lies on the attractor.
2. *Frame burn-in*: a random orthonormal frame Q (n x k, float64) is carried along for ``t_frame`` with
   the same re-orthonormalisations as below, and its logs are discarded. In large networks the top
   exponents are densely spaced, so a random frame needs a long burn-in to align; skipping it biases
   lambda_1 low by ~ log(sqrt(N)) / T.
3. *Observation*: for ``t_obs`` the frame is advanced by the **exact tangent of the integrator in use**
   (for a map, the Jacobian of the step; for an RK4 flow, the derivative of the RK4 step, i.e. the RK4
   stages of the variational equation with the Jacobian at each stage point), and re-orthonormalised
   (Q R = Q_new R) every ``t_ortho``. The exponents are sum log|R_jj| / T.

The observation is split into ``n_blocks`` equal blocks; each block's exponent estimate is kept, and the
standard error of the mean is their standard deviation / sqrt(n_blocks) (batch means). Conditioning guard:
max|R_jj| / min|R_jj| at each re-orthonormalisation bounds cond(Q) from below; if it exceeds
``COND_LIMIT`` the smallest exponents lose accuracy and the result says so (status ``ill_conditioned``:
use a shorter ``t_ortho``).

Sum rules (checked by the result): for a full spectrum (k = n) sum(lambda) equals the mean of
log|det M| of the step's tangent M along the orbit (an identity of the QR method, so it holds to
round-off); for flows, this tends to the mean trace of the Jacobian as dt -> 0, with an O(dt^4) gap for
RK4 (per step, log det of the RK4 tangent minus dt tr J is ~ -sum (dt mu)^5 / 120, mu the Jacobian's
eigenvalues).

:func:`lyapunov_max` is the same method for lambda_1 alone (one tangent vector, normalised instead of QR)
as a pure kernel that runs under ``jit`` and ``vmap``, for sweeps over many networks and initial states
(:mod:`dynagate.phase`).

Units: per unit time (flows, tau_h = 1) or per step (maps), natural logarithms.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .blas import limit_blas
from .errors import InputError, NonFiniteError, check_param, check_vector
from .models.base import System, rate_units
from .simulate import RK4, Euler, check_inputs, step_function

#: A re-orthonormalisation whose max|R_jj| / min|R_jj| exceeds this is reported as ill-conditioned.
COND_LIMIT = 1e12


@dataclasses.dataclass(frozen=True)
class LyapunovResult:
    """Lyapunov exponents with their errors and the numbers derived from them.

    Attributes:
        exponents: the k exponents, largest first.
        stderr: standard error of each (batch means over ``n_blocks`` blocks).
        blocks: the per-block estimates, shape (n_blocks, k).
        units: "per unit time (τ_h = 1)" or "per step".
        t_obs: the observation time actually used (time units or steps); ``dt`` for flows.
        n_state: the dimension of the state space.
        status: "ok", "too_short" (some stderr above ``accuracy``) or "ill_conditioned".
        message: why the status is not "ok" ("" otherwise).
        max_cond: the largest max|R_jj|/min|R_jj| seen at a re-orthonormalisation.
        logdet_mean: mean log|det M| per unit time/step along the orbit (full spectra only), the exact
            sum-rule reference; ``trace_mean``: mean tr J along the orbit (flows, when the dense tangent
            is used, i.e. 4k >= n; ``None`` otherwise).
    """

    exponents: np.ndarray
    stderr: np.ndarray
    blocks: np.ndarray
    units: str
    t_obs: float
    dt: float | None
    n_state: int
    status: str
    message: str
    max_cond: float
    logdet_mean: float | None = None
    trace_mean: float | None = None

    @property
    def k(self) -> int:
        return self.exponents.size

    @property
    def lambda_max(self) -> float:
        return float(self.exponents[0])

    @property
    def kaplan_yorke(self) -> float | None:
        """Kaplan-Yorke dimension j + sum_{i<=j} lambda_i / |lambda_{j+1}|; ``None`` if k is too small
        to decide (the partial sums are still positive at the k-th exponent)."""
        return kaplan_yorke(self.exponents, self.n_state)

    @property
    def ks_entropy(self) -> float:
        """Sum of the positive exponents (Pesin's identity; a lower bound if k < n and lambda_k > 0)."""
        return float(np.sum(np.clip(self.exponents, 0.0, None)))

    @property
    def sum_rule_residual(self) -> float | None:
        """|sum(lambda) - <log|det M|>| / max(1, |<log|det M|>|) for a full spectrum, else ``None``."""
        if self.logdet_mean is None:
            return None
        return abs(float(np.sum(self.exponents)) - self.logdet_mean) / max(1.0, abs(self.logdet_mean))

    def summary(self) -> dict:
        """The main numbers as plain Python values (for JSON)."""
        return {
            "exponents": self.exponents.tolist(),
            "stderr": self.stderr.tolist(),
            "lambda_max": self.lambda_max,
            "kaplan_yorke": self.kaplan_yorke,
            "ks_entropy": self.ks_entropy,
            "sum_rule_residual": self.sum_rule_residual,
            "units": self.units,
            "t_obs": self.t_obs,
            "status": self.status,
            "message": self.message,
        }


def kaplan_yorke(exponents, n_state: int | None = None) -> float | None:
    """Kaplan-Yorke dimension of sorted (descending) exponents; ``None`` if undecidable from them."""
    lam = np.sort(np.asarray(exponents, dtype=float))[::-1]
    cs = np.cumsum(lam)
    if lam[0] < 0:
        return 0.0
    j = int(np.flatnonzero(cs >= 0)[-1])  # 0-based index of the last non-negative partial sum
    if j + 1 >= lam.size:
        return float(lam.size) if n_state is not None and lam.size == n_state else None
    return j + 1 + cs[j] / abs(lam[j + 1])


def units_of(system: System) -> str:
    """Rate units of ``system``; a user ``Flow`` has its own time unit (no tau_h)."""
    from .models.base import Flow

    return "per unit time" if isinstance(system, Flow) else rate_units(system.is_flow)


# ----------------------------------------------------------------------------------------- tangents


def tangent_step(system: System, solver, dt, *, dense: bool = True):
    """``step(s, Q, x) -> (s', Q', tr J(s))``: one step of the state and of the frame by the exact
    tangent of the integrator (the trace is 0 for maps and for ``dense=False``).

    ``dense=True`` builds the analytic Jacobian at each stage point and multiplies (best when the frame has
    many columns); ``dense=False`` differentiates the integrator step itself (``jax.linearize``, vmapped
    over the columns), matvec cost per column, best for a few exponents of a large network.
    """
    if not dense:
        advance = step_function(system, solver, dt)

        def step(s, Q, x):
            s_new, lin = jax.linearize(lambda u: advance(u, x), s)
            return s_new, jax.vmap(lin, in_axes=1, out_axes=1)(Q), jnp.zeros((), s.dtype)

        return step
    if not system.is_flow:

        def step(s, Q, x):
            J = system.jac(s, x)
            return system.rhs(s, x), J @ Q, jnp.zeros((), s.dtype)

        return step

    def f(u, x):
        return system.rhs(u, x)

    if isinstance(solver, Euler):

        def step(s, Q, x):
            J = system.jac(s, x)
            return s + dt * f(s, x), Q + dt * (J @ Q), jnp.trace(J)

        return step

    def step(s, Q, x):
        J1 = system.jac(s, x)
        k1, K1 = f(s, x), J1 @ Q
        s2 = s + 0.5 * dt * k1
        k2, K2 = f(s2, x), system.jac(s2, x) @ (Q + 0.5 * dt * K1)
        s3 = s + 0.5 * dt * k2
        k3, K3 = f(s3, x), system.jac(s3, x) @ (Q + 0.5 * dt * K2)
        s4 = s + dt * k3
        k4, K4 = f(s4, x), system.jac(s4, x) @ (Q + dt * K3)
        s_new = s + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        Q_new = Q + dt / 6.0 * (K1 + 2.0 * K2 + 2.0 * K3 + K4)
        return s_new, Q_new, jnp.trace(J1)

    return step


# ----------------------------------------------------------------------------------------- QR method


def lyapunov_spectrum(
    system: System,
    *,
    key,
    k: int | None = None,
    state0=None,
    dt: float | None = None,
    t_burn: float | None = None,
    t_frame: float | None = None,
    t_obs: float | None = None,
    t_ortho: float | None = None,
    n_blocks: int = 20,
    x=None,
    xs=None,
    solver: RK4 | Euler | None = None,
    accuracy: float | None = None,
    sum_rule: bool | None = None,
    blas_threads: int | None = None,
) -> LyapunovResult:
    """The k largest Lyapunov exponents of ``system`` (all of them if ``k`` is ``None``) by QR.

    Args:
        system: a dynagate network, ``Map`` or ``Flow`` (``Map``/``Flow`` need ``state0``).
        key: PRNG key for the initial state (if ``state0`` is not given) and the initial frame.
        k: number of exponents (1 <= k <= n_state).
        state0: initial state; default N(0, 1) entries.
        dt: flow step (default 0.05 for networks); not used for maps.
        t_burn, t_frame, t_obs, t_ortho: state burn-in, frame burn-in, observation time and
            re-orthonormalisation interval, in time units (flows) or steps (maps). Defaults:
            flows 200, 200, 1000, 1.0; maps 500, 500, 5000, 5 steps.
        n_blocks: number of blocks for the batch-means standard errors.
        x: constant input; ``xs``: one input per step over the whole run (burn-ins included).
        solver: ``RK4()`` (default) or ``Euler()`` for flows.
        accuracy: target standard error (absolute, in the result's units); a run whose stderr exceeds it
            has status "too_short". Default: 0.01 for flows, 0.005 for maps.
        sum_rule: also accumulate log|det M| along the orbit (O(n^3) per step; default: when k = n <= 256).
        blas_threads: BLAS/LAPACK threads for the run (on CPU JAX's QR calls LAPACK in SciPy's OpenBLAS,
            whose default of one thread per core can make repeated QR many times slower on a loaded or
            small machine): default ``$DYNAGATE_BLAS_THREADS``, else 1; 0 leaves OpenBLAS's own setting
            (see :mod:`dynagate.blas`).

    Returns:
        A :class:`LyapunovResult`. Raises :class:`NonFiniteError` (naming the step) if the orbit diverges.
    """
    p = _prepare(system, key, state0, dt, t_burn, t_frame, t_obs, t_ortho, n_blocks, x, xs, solver)
    n = p["n"]
    k = _check_k(k, n)
    if sum_rule is None:
        sum_rule = k == n and n <= 256
    if accuracy is None:
        accuracy = 0.01 if system.is_flow else 0.005
    check_param("lyapunov_spectrum", "accuracy", accuracy, positive=True)
    _warn_precision()
    with limit_blas(blas_threads):
        Q0 = jnp.linalg.qr(jax.random.normal(p["k_frame"], (n, int(k))))[0]
        out = jax.block_until_ready(_qr_run(
            system, p["s0"], Q0, p["x"], p["xs"], p["dt"], p["solver"],
            n_burn=p["n_burn"], n_frame=p["n_frame"], n_blocks=p["n_blocks"], per_block=p["per_block"],
            ortho=p["ortho"], sum_rule=bool(sum_rule),
        ))  # fmt: skip
    return _result(system, out, p, accuracy, sum_rule and k == n, full_frame=4 * k >= n)


class LyapunovMaxRun(NamedTuple):
    """What :func:`lyapunov_max` returns: arrays (with a leading axis per ``vmap``).

    ``exponent``: lambda_1, the mean of the ``blocks`` (per-block estimates, batch means); ``stderr``: their
    standard deviation / sqrt(n_blocks); ``observed``: the mean of ``observe(state)`` over the observation
    steps (0 without ``observe``); ``state``: the state at the end; ``first_bad``: the first step whose
    state is not finite, or -1."""

    exponent: jax.Array
    stderr: jax.Array
    blocks: jax.Array
    observed: jax.Array
    state: jax.Array
    first_bad: jax.Array


def lyapunov_max(
    system: System,
    state0,
    *,
    key,
    dt: float | None = None,
    t_burn: float | None = None,
    t_frame: float | None = None,
    t_obs: float | None = None,
    t_ortho: float | None = None,
    n_blocks: int = 20,
    x=None,
    xs=None,
    solver: RK4 | Euler | None = None,
    observe=None,
) -> LyapunovMaxRun:
    """lambda_1 from ``state0`` by one tangent vector: the QR method of :func:`lyapunov_spectrum` with
    k = 1 (the re-orthonormalisation is a division by the norm), as a pure function of arrays.

    The low-level kernel for sweeps: it can run under ``jit`` and ``vmap`` (over ``system``, ``state0`` and
    ``key``; the times and ``observe`` are static), raises nothing when the orbit diverges (``first_bad``
    says where) and leaves error bars and status to the caller.

    Args:
        system, x, xs, solver, dt, t_burn, t_frame, t_obs, t_ortho, n_blocks: as :func:`lyapunov_spectrum`
            (same defaults; ``t_burn`` advances the state alone, ``t_frame`` also aligns the vector).
        state0: the initial state.
        key: PRNG key; the initial tangent vector is the normalised N(0, 1) draw from ``split(key)[1]``.
        observe: a function of the state, averaged over the observation steps (e.g. the mean activity); a
            static argument (pass the same function to reuse a compilation).

    Returns:
        A :class:`LyapunovMaxRun`, in the units of :func:`units_of`.
    """
    p = _prepare(system, key, state0, dt, t_burn, t_frame, t_obs, t_ortho, n_blocks, x, xs, solver)
    v = jax.random.normal(p["k_frame"], (p["n"], 1))
    out = _qr_run(
        system, p["s0"], v / jnp.linalg.norm(v), p["x"], p["xs"], p["dt"], p["solver"],
        n_burn=p["n_burn"], n_frame=p["n_frame"], n_blocks=p["n_blocks"], per_block=p["per_block"],
        ortho=p["ortho"], sum_rule=False, observe=observe,
    )  # fmt: skip
    blocks = out["sums"][:, 0] / (p["per_block"] * p["ortho"] * p["dt"])
    stderr = blocks.std(ddof=1) / jnp.sqrt(p["n_blocks"])
    return LyapunovMaxRun(blocks.mean(), stderr, blocks, out["observed"], out["state"], out["bad"])


def _prepare(system, key, state0, dt, t_burn, t_frame, t_obs, t_ortho, n_blocks, x, xs, solver):
    if not isinstance(system, System):
        raise InputError(f"expected a dynagate system (network, Map or Flow), got {type(system).__name__}")
    flow = system.is_flow
    k_state, k_frame = jax.random.split(key)
    if state0 is None:
        if system.n_state is None:
            raise InputError("a user Map/Flow needs state0 (its dimension is not known otherwise)")
        state0 = jax.random.normal(k_state, (system.n_state,))
    s0 = check_vector("state0", state0, system.n_state)
    defaults = (200.0, 200.0, 1000.0, 1.0) if flow else (500, 500, 5000, 5)
    t_burn, t_frame, t_obs, t_ortho = (
        d if v is None else v for v, d in zip((t_burn, t_frame, t_obs, t_ortho), defaults)
    )
    for name, v, pos in (("t_burn", t_burn, False), ("t_frame", t_frame, False), ("t_obs", t_obs, True),
                         ("t_ortho", t_ortho, True)):  # fmt: skip
        check_param("lyapunov", name, v, positive=pos, nonneg=not pos)
    if flow:
        dt = 0.05 if dt is None else dt
        check_param("lyapunov", "dt", dt, positive=True)
    elif dt is not None:
        raise InputError("dt is only for flows (a map advances one step at a time)")
    step = float(dt) if flow else 1.0
    ortho = max(1, round(t_ortho / step))
    n_qr = max(1, math.ceil(round(t_obs / step) / ortho))
    n_blocks = min(int(n_blocks), n_qr)
    if n_blocks < 2:
        raise InputError(
            f"t_obs={t_obs} is too short for error bars: it must span >= 2 re-orthonormalisations"
        )
    per_block = n_qr // n_blocks
    n_burn, n_frame = round(t_burn / step), math.ceil(round(t_frame / step) / ortho)
    total = n_burn + (n_frame + n_blocks * per_block) * ortho
    x, xs = check_inputs(system, x, xs, total, exact=False)
    solver = RK4() if solver is None else solver
    if not isinstance(solver, (RK4, Euler)):
        raise InputError("Lyapunov spectra need a fixed-step solver with an exact tangent: RK4() or Euler()")
    return {
        "n": s0.shape[0], "s0": s0, "k_frame": k_frame, "dt": step, "ortho": ortho, "n_burn": n_burn,
        "n_frame": n_frame, "n_blocks": n_blocks, "per_block": per_block, "x": x, "xs": xs,
        "solver": solver, "t_obs": n_blocks * per_block * ortho * step,
    }  # fmt: skip


def _input_at(x, xs, t):
    return x if xs is None else jax.lax.dynamic_index_in_dim(xs, t, keepdims=False)


def _bad(s, t, first_bad):
    return jnp.where((first_bad < 0) & ~jnp.all(jnp.isfinite(s)), t, first_bad)


def _burn(advance, s0, x, xs, n_burn):
    """State burn-in: (state, step counter, first non-finite step or -1)."""

    def burn(c, _):
        s, t, bad = c
        s = advance(s, _input_at(x, xs, t))
        return (s, t + 1, _bad(s, t + 1, bad)), None

    return jax.lax.scan(burn, (s0, jnp.asarray(0), jnp.asarray(-1)), length=n_burn)[0]


def _check_k(k, n: int) -> int:
    k = n if k is None else k
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise InputError(f"k must be an integer in [1, {n}] (the state dimension), got {k!r}")
    return int(k)


@partial(
    jax.jit, static_argnames=("n_burn", "n_frame", "n_blocks", "per_block", "ortho", "sum_rule", "observe")
)
def _qr_run(system, s0, Q0, x, xs, dt, solver, *, n_burn, n_frame, n_blocks, per_block, ortho, sum_rule,
            observe=None):  # fmt: skip
    """The state burn-in, frame burn-in and observation of the QR method (module doc): per-block sums of
    log|R_jj|, the conditioning, trace and log|det| sums, the first non-finite step, the final state and
    the mean of ``observe(state)`` over the observation steps (0 without ``observe``)."""
    advance = step_function(system, solver, dt)
    tstep = tangent_step(system, solver, dt, dense=4 * Q0.shape[1] >= Q0.shape[0])
    seen = (lambda s: jnp.zeros((), s.dtype)) if observe is None else observe

    s, t, bad = _burn(advance, s0, x, xs, n_burn)

    def interval(c, _):
        s, Q, t, bad, acc = c

        def one(c2, _):
            s, Q, t, bad, tr, ld, acc = c2
            xt = _input_at(x, xs, t)
            if sum_rule:
                ld = ld + jnp.linalg.slogdet(_step_jacobian(system, solver, dt, s, xt))[1]
            s, Q, trj = tstep(s, Q, xt)
            return (s, Q, t + 1, _bad(s, t + 1, bad), tr + trj, ld, acc + seen(s)), None

        zero = jnp.zeros((), s.dtype)
        (s, Q, t, bad, tr, ld, acc), _ = jax.lax.scan(one, (s, Q, t, bad, zero, zero, acc), length=ortho)
        Q, d = _orthonormalise(Q)
        return (s, Q, t, bad, acc), (jnp.log(d), jnp.max(d) / jnp.min(d), tr, ld)

    zero = jnp.zeros((), s.dtype)
    (s, Q, t, bad, _), _ = jax.lax.scan(interval, (s, Q0, t, bad, zero), length=n_frame)

    def block(c, _):
        c, (logs, cond, tr, ld) = jax.lax.scan(interval, c, length=per_block)
        return c, (logs.sum(0), cond.max(), tr.sum(), ld.sum())

    (s, Q, t, bad, acc), (sums, conds, trs, lds) = jax.lax.scan(block, (s, Q, t, bad, zero), length=n_blocks)
    return {"sums": sums, "cond": conds.max(), "trace": trs.sum(), "logdet": lds.sum(), "bad": bad,
            "state": s, "observed": acc / (n_blocks * per_block * ortho)}  # fmt: skip


def _orthonormalise(Q):
    """Q = Q_new R: the new frame and |R_jj|. A single vector is divided by its norm (its QR, without
    a LAPACK call)."""
    if Q.shape[1] == 1:
        d = jnp.linalg.norm(Q)
        return Q / d, d[None]
    Q, R = jnp.linalg.qr(Q)
    return Q, jnp.abs(jnp.diagonal(R))


def _step_jacobian(system, solver, dt, s, x):
    """The tangent matrix of one step (for the log|det| sum rule), built column by column."""
    if not system.is_flow:
        return system.jac(s, x)
    n = s.shape[0]
    return tangent_step(system, solver, dt)(s, jnp.eye(n, dtype=s.dtype), x)[1]


def _result(system, out, p, accuracy, full, full_frame=False) -> LyapunovResult:
    bad = int(out["bad"])
    if bad >= 0:
        where = f"t = {bad * p['dt']:g}" if system.is_flow else f"step {bad}"
        raise NonFiniteError(f"the state became non-finite at {where}; the orbit diverged")
    block_len = p["per_block"] * p["ortho"] * p["dt"]
    blocks = np.asarray(out["sums"]) / block_len  # (n_blocks, k) per-block exponents
    order = np.argsort(-blocks.mean(0), kind="stable")
    blocks = blocks[:, order]
    lam = blocks.mean(0)
    stderr = blocks.std(0, ddof=1) / np.sqrt(blocks.shape[0])
    cond = float(out["cond"])
    status, message = "ok", ""
    if cond > COND_LIMIT:
        status = "ill_conditioned"
        message = f"max|R_jj|/min|R_jj| reached {cond:.2e} > {COND_LIMIT:.0e}: use a shorter t_ortho"
    elif np.max(stderr) > accuracy:
        status = "too_short"
        message = (f"largest standard error {np.max(stderr):.3g} exceeds the accuracy {accuracy:g}: "
                   "increase t_obs")  # fmt: skip
    T = p["t_obs"]
    return LyapunovResult(
        exponents=lam, stderr=stderr, blocks=blocks, units=units_of(system), t_obs=T,
        dt=p["dt"] if system.is_flow else None, n_state=p["n"], status=status, message=message,
        max_cond=cond, logdet_mean=float(out["logdet"]) / T if full else None,
        trace_mean=float(out["trace"]) / (T / p["dt"]) if system.is_flow and full_frame else None,
    )  # fmt: skip


def _warn_precision():
    if not jax.config.jax_enable_x64:
        warnings.warn(
            "float32 tangent frame: exponents are accurate to ~1e-3 at best and small or very negative "
            "exponents may be wrong; enable float64 (unset JAX_ENABLE_X64=0)",
            stacklevel=3,
        )


@dataclasses.dataclass(frozen=True)
class EnsembleLyapunov:
    """Lyapunov exponents of several sampled networks of one ensemble.

    ``exponents``/``stderr``: shape (n_networks, k); ``results``: the per-network
    :class:`LyapunovResult`; ``mean``/``spread``: mean and standard deviation over networks.
    """

    results: tuple[LyapunovResult, ...]

    @property
    def exponents(self) -> np.ndarray:
        return np.stack([r.exponents for r in self.results])

    @property
    def stderr(self) -> np.ndarray:
        return np.stack([r.stderr for r in self.results])

    @property
    def mean(self) -> np.ndarray:
        return self.exponents.mean(0)

    @property
    def spread(self) -> np.ndarray:
        return self.exponents.std(0, ddof=1) if len(self.results) > 1 else np.zeros(self.exponents.shape[1])


def lyapunov_ensemble(ensemble, n: int, *, key, n_networks: int, k: int | None = None, **kwargs):
    """:func:`lyapunov_spectrum` of ``n_networks`` networks of size ``n``, vmapped in one computation.

    Network i is ``sample(ensemble, n, key=fold_in(k_net, i))`` and its run uses ``fold_in(k_run, i)``
    with ``k_net, k_run = split(key)``, so results do not depend on how networks are batched. Other
    keyword arguments are those of :func:`lyapunov_spectrum` (not ``state0``), ``blas_threads`` included.
    """
    from .errors import check_size
    from .models.base import sample

    n_networks = check_size("lyapunov_ensemble", "n_networks", n_networks)
    if "state0" in kwargs:
        raise InputError("lyapunov_ensemble draws each network's initial state; state0 is not accepted")
    k_net, k_run = jax.random.split(key)
    template = sample(ensemble, n, key=jax.random.fold_in(k_net, 0))
    accuracy = kwargs.pop("accuracy", None)
    sum_rule = kwargs.pop("sum_rule", None)
    blas_threads = kwargs.pop("blas_threads", None)
    times = {a: kwargs.pop(a, None) for a in ("dt", "t_burn", "t_frame", "t_obs", "t_ortho")}
    p = _prepare(template, k_run, None, *times.values(), kwargs.pop("n_blocks", 20),
                 kwargs.pop("x", None), kwargs.pop("xs", None), kwargs.pop("solver", None))  # fmt: skip
    if kwargs:
        raise InputError(f"unknown argument {sorted(kwargs)[0]!r} for lyapunov_ensemble")
    nn = p["n"]
    k = _check_k(k, nn)
    sum_rule = (k == nn and nn <= 256) if sum_rule is None else sum_rule
    accuracy = (0.01 if template.is_flow else 0.005) if accuracy is None else accuracy
    _warn_precision()

    def one(i):
        net = sample(ensemble, n, key=jax.random.fold_in(k_net, i))
        k_state, k_frame = jax.random.split(jax.random.fold_in(k_run, i))
        s0 = jax.random.normal(k_state, (nn,))
        Q0 = jnp.linalg.qr(jax.random.normal(k_frame, (nn, int(k))))[0]
        return _qr_run(
            net, s0, Q0, p["x"], p["xs"], p["dt"], p["solver"],
            n_burn=p["n_burn"], n_frame=p["n_frame"], n_blocks=p["n_blocks"], per_block=p["per_block"],
            ortho=p["ortho"], sum_rule=bool(sum_rule),
        )  # fmt: skip

    with limit_blas(blas_threads):
        outs = jax.block_until_ready(jax.vmap(one)(jnp.arange(n_networks)))
    results = tuple(
        _result(
            template,
            jax.tree_util.tree_map(lambda a, i=i: a[i], outs),
            p,
            accuracy,
            sum_rule and k == nn,
            full_frame=4 * k >= nn,
        )
        for i in range(n_networks)
    )
    return EnsembleLyapunov(results)


# ------------------------------------------------------------------------------- two trajectories


def lyapunov_max_direct(
    system: System,
    *,
    key,
    state0=None,
    dt: float | None = None,
    t_burn: float | None = None,
    t_frame: float | None = None,
    t_obs: float | None = None,
    t_ortho: float | None = None,
    n_blocks: int = 20,
    d0: float = 1e-8,
    x=None,
    xs=None,
    solver: RK4 | Euler | None = None,
    accuracy: float | None = None,
) -> LyapunovResult:
    """lambda_1 from two nearby trajectories (no Jacobian): an independent check of the QR method.

    A copy displaced by ``d0`` (relative to sqrt(n)) is integrated alongside the reference; every
    ``t_ortho`` the separation d is measured, log(d / d0) accumulated and the copy pulled back to distance
    d0 along the separation. ``t_frame`` is the alignment burn-in of the separation direction. Same time
    arguments and defaults as :func:`lyapunov_spectrum`; the result has k = 1.
    """
    p = _prepare(system, key, state0, dt, t_burn, t_frame, t_obs, t_ortho, n_blocks, x, xs, solver)
    check_param("lyapunov_max_direct", "d0", d0, positive=True)
    if accuracy is None:
        accuracy = 0.01 if system.is_flow else 0.005
    v = jax.random.normal(p["k_frame"], (p["n"],))
    eps = d0 * math.sqrt(p["n"])
    out = _direct_run(
        system, p["s0"], v / jnp.linalg.norm(v), eps, p["x"], p["xs"], p["dt"], p["solver"],
        n_burn=p["n_burn"], n_frame=p["n_frame"], n_blocks=p["n_blocks"], per_block=p["per_block"],
        ortho=p["ortho"],
    )  # fmt: skip
    return _result(system, out, p, accuracy, False)


@partial(jax.jit, static_argnames=("n_burn", "n_frame", "n_blocks", "per_block", "ortho"))
def _direct_run(system, s0, v, eps, x, xs, dt, solver, *, n_burn, n_frame, n_blocks, per_block, ortho):
    advance = step_function(system, solver, dt)

    s, t, bad = _burn(advance, s0, x, xs, n_burn)

    def interval(c, _):
        s, u, t, bad = c

        def one(c2, _):
            s, u, t, bad = c2
            xt = _input_at(x, xs, t)
            s, u = advance(s, xt), advance(u, xt)
            return (s, u, t + 1, _bad(s, t + 1, bad)), None

        (s, u, t, bad), _ = jax.lax.scan(one, (s, u, t, bad), length=ortho)
        d = jnp.linalg.norm(u - s)
        return (s, s + (eps / d) * (u - s), t, bad), jnp.log(d / eps)

    (s, u, t, bad), _ = jax.lax.scan(interval, (s, s + eps * v, t, bad), length=n_frame)

    def block(c, _):
        c, logs = jax.lax.scan(interval, c, length=per_block)
        return c, logs.sum()[None]

    (s, u, t, bad), sums = jax.lax.scan(block, (s, u, t, bad), length=n_blocks)
    return {"sums": sums, "cond": jnp.ones(()), "trace": jnp.zeros(()), "logdet": jnp.zeros(()), "bad": bad}
