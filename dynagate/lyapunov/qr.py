"""The QR method (module doc of :mod:`dynagate.lyapunov`): the exact tangent of an integrator step, the
burn-in / alignment / observation loop, :func:`lyapunov_spectrum` and the kernel :func:`lyapunov_max`."""

from __future__ import annotations

import dataclasses
import math
import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..blas import limit_blas
from ..errors import InputError, Interrupted, NonFiniteError, check_key, check_param, check_vector
from ..limits import check_steps
from ..models.base import System
from ..models.init import normal
from ..results import Status
from ..simulate import RK4, Euler, check_inputs, step_function
from .result import LyapunovResult, _result, _warn_precision

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
    progress=None,
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
        progress: called as ``progress(stage, done, total)`` between chunks of the run (stage "burn-in"
            in steps, "frame" and "observation" in re-orthonormalisations); None: nothing.

    The run is computed in compiled chunks of about a quarter of a second (one compilation for any chunk
    length), so that Ctrl-C is seen between them. Ctrl-C raises :class:`~dynagate.errors.Interrupted`,
    whose ``partial`` is the result from the observation blocks finished so far (status ``interrupted``,
    the message says how far it got), or None before two blocks were finished. The exponents of a block
    do not depend on the chunks, so ``partial.blocks`` are the first blocks of the uninterrupted run.

    Returns:
        A :class:`LyapunovResult`. Raises :class:`NonFiniteError` (naming the step) if the orbit diverges.
    """
    key = check_key("lyapunov_spectrum", key)
    p = _prepare(system, key, state0, dt, t_burn, t_frame, t_obs, t_ortho, n_blocks, x, xs, solver)
    n = p["n"]
    k = _check_k(k, n)
    if sum_rule is None:
        sum_rule = k == n and n <= 256
    if accuracy is None:
        accuracy = 0.01 if system.is_flow else 0.005
    check_param("lyapunov_spectrum", "accuracy", accuracy, positive=True)
    _warn_precision()
    full = bool(sum_rule) and k == n
    with limit_blas(blas_threads):
        Q0 = jnp.linalg.qr(normal(p["k_frame"], (n, int(k))))[0]
        try:
            out = _qr_chunked(system, Q0, p, sum_rule=bool(sum_rule), progress=progress)
        except Interrupted as e:
            raise _interrupted(system, e.partial, p, accuracy, full, 4 * k >= n) from None
    return _result(system, out, p, accuracy, full, full_frame=4 * k >= n)


def _interrupted(system, out, p, accuracy, full, full_frame) -> Interrupted:
    """Ctrl-C during :func:`lyapunov_spectrum`: the result of the finished observation blocks, if >= 2."""
    total = p["n_blocks"]
    done = 0 if out is None else int(out["sums"].shape[0])
    if done < 2:
        return Interrupted(f"lyapunov_spectrum: stopped before two of the {total} observation blocks were "
                           "finished: nothing to keep")  # fmt: skip
    q = p | {"n_blocks": done, "t_obs": done * p["per_block"] * p["ortho"] * p["dt"]}
    try:
        res = _result(system, out, q, accuracy, full, full_frame=full_frame)
    except NonFiniteError as e:
        return Interrupted(f"lyapunov_spectrum: stopped after {e}: nothing to keep")
    note = f"stopped after {done} of {total} observation blocks (t_obs = {q['t_obs']:g} of {p['t_obs']:g})"
    message = note + (f"; {res.message}" if res.message else "")
    res = dataclasses.replace(res, status=Status.INTERRUPTED, message=message)
    return Interrupted(f"lyapunov_spectrum: {note}", partial=res)


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
    key = check_key("lyapunov_max", key)
    p = _prepare(system, key, state0, dt, t_burn, t_frame, t_obs, t_ortho, n_blocks, x, xs, solver)
    v = normal(p["k_frame"], (p["n"], 1))
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
        state0 = normal(k_state, (system.n_state,))
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
    for name, v in (("t_burn", t_burn), ("t_frame", t_frame), ("t_obs", t_obs)):  # before any rounding
        check_steps("lyapunov", name, v, v / step)
    ortho = max(1, round(t_ortho / step))
    n_qr = max(1, math.ceil(round(t_obs / step) / ortho))
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) or n_blocks < 2:
        raise InputError(f"lyapunov: n_blocks must be an integer >= 2 (for error bars), got {n_blocks!r}")
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


def _burn_step(advance, x, xs):
    """One burn-in step of c = (state, step counter, first non-finite step or -1)."""

    def step(c):
        s, t, bad = c
        s = advance(s, _input_at(x, xs, t))
        return s, t + 1, _bad(s, t + 1, bad)

    return step


def _burn(advance, s0, x, xs, n_burn):
    """State burn-in: (state, step counter, first non-finite step or -1)."""
    step = _burn_step(advance, x, xs)
    return jax.lax.scan(lambda c, _: (step(c), None), (s0, jnp.asarray(0), jnp.asarray(-1)), length=n_burn)[0]


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
    step = _interval(system, solver, dt, x, xs, ortho, sum_rule, dense=4 * Q0.shape[1] >= Q0.shape[0],
                     observe=observe)  # fmt: skip

    s, t, bad = _burn(advance, s0, x, xs, n_burn)

    def interval(c, _):
        return step(c)

    zero = jnp.zeros((), s.dtype)
    (s, Q, t, bad, _), _ = jax.lax.scan(interval, (s, Q0, t, bad, zero), length=n_frame)

    def block(c, _):
        c, (logs, cond, tr, ld) = jax.lax.scan(interval, c, length=per_block)
        return c, (logs.sum(0), cond.max(), tr.sum(), ld.sum())

    (s, Q, t, bad, acc), (sums, conds, trs, lds) = jax.lax.scan(block, (s, Q, t, bad, zero), length=n_blocks)
    return {"sums": sums, "cond": conds.max(), "trace": trs.sum(), "logdet": lds.sum(), "bad": bad,
            "state": s, "observed": acc / (n_blocks * per_block * ortho)}  # fmt: skip


def _interval(system, solver, dt, x, xs, ortho: int, sum_rule: bool, dense: bool, observe=None):
    """``interval(c) -> (c, (log|R_jj|, cond, tr J sum, log|det| sum))``: ``ortho`` steps of the state and
    frame, then the re-orthonormalisation; ``c = (s, Q, t, first_bad, observe sum)``."""
    tstep = tangent_step(system, solver, dt, dense=dense)
    seen = (lambda s: jnp.zeros((), s.dtype)) if observe is None else observe

    def interval(c):
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

    return interval


#: Wall time aimed at per compiled chunk of :func:`lyapunov_spectrum` (Ctrl-C is seen between chunks).
CHUNK_SECONDS = 0.25


@jax.jit
def _burn_chunk(system, c, x, xs, dt, solver, n):
    """``n`` steps of the state burn-in from c = (state, step, first bad step); ``n`` is traced."""
    step = _burn_step(step_function(system, solver, dt), x, xs)
    return jax.lax.fori_loop(0, n, lambda _, c: step(c), c)


@partial(jax.jit, static_argnames=("ortho", "per_block", "sum_rule"))
def _qr_chunk(system, c, x, xs, dt, solver, n, record, *, ortho, per_block, sum_rule):
    """``n`` re-orthonormalisation intervals from c = (core, interval index, per-block log sums, max cond,
    per-block trace and log|det| sums); with ``record`` (0 or 1, traced like ``n``: one compilation for
    the frame burn-in and the observation) the interval adds to its block."""
    Q = c[0][1]
    interval = _interval(system, solver, dt, x, xs, ortho, sum_rule, dense=4 * Q.shape[1] >= Q.shape[0])

    def body(_, c):
        core, i, sums, cond, tr, ld = c
        core, (logs, cnd, trj, ldj) = interval(core)
        b = jnp.minimum(i // per_block, sums.shape[0] - 1)
        on = record > 0
        add = lambda a, v: a.at[b].add(jnp.where(on, v, 0.0))  # noqa: E731
        return core, i + record, add(sums, logs), jnp.where(on, jnp.maximum(cond, cnd), cond), add(tr, trj), \
            add(ld, ldj)  # fmt: skip

    return jax.lax.fori_loop(0, n, body, c)


def _chunks(total: int, run, report) -> None:
    """Call ``run(m)`` until ``total`` units are done, with m sized so that a call takes about
    ``CHUNK_SECONDS`` (growing at most fourfold a call: the first call also compiles)."""
    done, m = 0, 1
    while done < total:
        m = min(m, total - done)
        t0 = time.perf_counter()
        run(m)
        elapsed = time.perf_counter() - t0
        done += m
        report(done)
        m = max(1, min(4 * m, int(m * CHUNK_SECONDS / max(elapsed, 1e-9))))


def _qr_chunked(system, Q0, p, *, sum_rule: bool, progress=None) -> dict:
    """The run of :func:`_qr_run` (without ``observe``) in chunks (:data:`CHUNK_SECONDS`); Ctrl-C raises
    :class:`Interrupted` whose ``partial`` holds the sums of the finished observation blocks (or None)."""
    x, xs, dt, solver = p["x"], p["xs"], p["dt"], p["solver"]
    n_blocks, per_block, ortho = p["n_blocks"], p["per_block"], p["ortho"]
    report = progress or (lambda *a: None)
    zero = jnp.zeros((), p["s0"].dtype)
    burn = [(p["s0"], jnp.asarray(0), jnp.asarray(-1))]
    k = Q0.shape[1]
    c = [None]
    stage = "burn-in"

    def burn_run(m):
        burn[0] = jax.block_until_ready(_burn_chunk(system, burn[0], x, xs, dt, solver, m))

    def qr_run(record):
        flag = jnp.asarray(record)

        def run(m):
            out = _qr_chunk(system, c[0], x, xs, dt, solver, m, flag, ortho=ortho, per_block=per_block,
                            sum_rule=sum_rule)  # fmt: skip
            c[0] = jax.block_until_ready(out)

        return run

    try:
        _chunks(p["n_burn"], burn_run, lambda d: report("burn-in", d, p["n_burn"]))
        s, t, bad = burn[0]
        blocks = jnp.zeros((n_blocks, k), zero.dtype)
        c[0] = ((s, Q0, t, bad, zero), jnp.asarray(0), blocks, zero, jnp.zeros(n_blocks, zero.dtype),
                jnp.zeros(n_blocks, zero.dtype))  # fmt: skip
        stage = "frame"
        _chunks(p["n_frame"], qr_run(0), lambda d: report("frame", d, p["n_frame"]))
        stage = "observation"
        n_obs = n_blocks * per_block
        _chunks(n_obs, qr_run(1), lambda d: report("observation", d, n_obs))
    except KeyboardInterrupt:
        partial = None
        if stage == "observation":
            (s, _, _, bad, _), i, sums, cond, tr, ld = c[0]
            done = int(i) // per_block
            partial = {"sums": sums[:done], "cond": cond, "trace": tr[:done].sum(), "logdet": ld[:done].sum(),
                       "bad": bad, "state": s}  # fmt: skip
        raise Interrupted("lyapunov_spectrum interrupted", partial=partial) from None
    (s, _, _, bad, _), _, sums, cond, tr, ld = c[0]
    return {"sums": sums, "cond": cond, "trace": tr.sum(), "logdet": ld.sum(), "bad": bad, "state": s}


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
