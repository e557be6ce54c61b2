"""Trajectories of maps (``lax.scan``) and flows (fixed-step RK4 or Euler; adaptive Tsit5 via diffrax).

``simulate`` is a pure function of its array arguments, so batches are a ``jax.vmap`` away::

    states0 = jax.random.normal(key, (64, net.n_state))
    trajs = jax.vmap(lambda s: simulate(net, s, steps=1000, dt=0.05))(states0)
    nets = jax.vmap(lambda k: sample(ens, 200, key=k))(keys)          # a batch of networks
    trajs = jax.vmap(lambda net: simulate(net, s0, steps=1000, dt=0.05))(nets)

Inputs: ``x`` is held constant; ``xs`` (shape ``(steps, n_input)``) gives one input per step (for flows,
held constant over each step of length ``dt``). Times are in units of the h time constant for flows and in
steps for maps.
"""

from __future__ import annotations

from functools import partial

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError, NonFiniteError, check_param, check_size, check_vector, is_concrete
from .models.base import System


class Euler(eqx.Module):
    """Explicit Euler, s <- s + dt f(s) (first order)."""

    def step(self, f, s, dt):
        return s + dt * f(s)


class RK4(eqx.Module):
    """Classical fixed-step fourth-order Runge-Kutta (the default; its exact tangent is used for Lyapunov)."""

    def step(self, f, s, dt):
        k1 = f(s)
        k2 = f(s + 0.5 * dt * k1)
        k3 = f(s + 0.5 * dt * k2)
        k4 = f(s + dt * k3)
        return s + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


class Adaptive(eqx.Module):
    """Adaptive Tsit5 (diffrax) with a PID step-size controller; states saved every ``save_every * dt``."""

    rtol: float = 1e-8
    atol: float = 1e-10
    max_steps: int = eqx.field(static=True, default=1_000_000)


class Trajectory(eqx.Module):
    """Saved states ``states[k]`` at times ``t[k]`` (``t[0] = 0`` is the initial state)."""

    t: jax.Array
    states: jax.Array
    is_flow: bool = eqx.field(static=True)

    @property
    def units(self) -> str:
        return "time (units of tau_h)" if self.is_flow else "steps"


def simulate(
    system: System,
    state0,
    *,
    steps: int | None = None,
    dt: float | None = None,
    x=None,
    xs=None,
    save_every: int = 1,
    solver: Euler | RK4 | Adaptive | None = None,
) -> Trajectory:
    """Integrate ``system`` from ``state0`` for ``steps`` steps, saving every ``save_every`` steps.

    Args:
        system: a dynagate network, ``Map`` or ``Flow``.
        state0: initial flat state, length ``system.n_state``.
        steps: number of steps (map iterations, or flow steps of length ``dt``); defaults to ``len(xs)``.
        dt: step of a flow (required for flows; must be ``None`` for maps).
        x: a constant input; ``xs``: a sequence of inputs, one per step (not both).
        save_every: save one state every this many steps (must divide ``steps``).
        solver: ``RK4()`` (the default, ``None``), ``Euler()`` or ``Adaptive(rtol, atol)`` (flows only).

    Returns:
        A :class:`Trajectory` with ``steps // save_every + 1`` states. Outside ``jit``, a trajectory that
        becomes non-finite raises :class:`NonFiniteError` naming the first bad saved step.
    """
    if not isinstance(system, System):
        raise InputError(f"simulate() needs a dynagate system, got {type(system).__name__}")
    if steps is None and xs is not None:
        steps = len(xs)
    steps = check_size("simulate", "steps", steps)
    save_every = check_size("simulate", "save_every", save_every)
    if steps % save_every:
        raise InputError(f"simulate: save_every={save_every} must divide steps={steps}")
    if system.is_flow:
        if dt is None:
            raise InputError("simulate: a flow needs a time step dt")
        check_param("simulate", "dt", dt, positive=True)
    elif dt is not None:
        raise InputError("simulate: dt is only for flows (a map advances one step at a time)")
    elif isinstance(solver, Adaptive):
        raise InputError("simulate: the Adaptive solver is for flows")
    state0 = check_vector("state0", state0, system.n_state)
    x, xs = check_inputs(system, x, xs, steps, exact=True)
    solver = RK4() if solver is None else solver
    dt_ = 1.0 if dt is None else dt
    traj = _run(system, state0, x, xs, dt_, steps=steps, save_every=save_every, solver=solver)
    if is_concrete(traj.states):
        _check_finite(traj)
    return traj


def check_inputs(system: System, x, xs, steps: int, *, exact: bool):
    """Validate a constant input ``x`` or a sequence ``xs`` of ``steps`` (``exact=False``: at least)."""
    if x is not None and xs is not None:
        raise InputError("give a constant input x or a sequence xs, not both")
    if x is not None:
        x = check_vector("input x", x, system.n_input)
    if xs is not None:
        xs = jnp.asarray(xs)
        n_in = system.n_input
        ok_len = xs.shape[0] == steps if exact else xs.shape[0] >= steps
        if xs.ndim != 2 or not ok_len or (n_in is not None and xs.shape[1] != n_in):
            want = f"{steps}" if exact else f">= {steps}"
            raise InputError(f"xs must have shape ({want} steps, n_input={n_in}), got {tuple(xs.shape)}")
        if is_concrete(xs) and not bool(np.all(np.isfinite(np.asarray(xs)))):
            step, i = np.argwhere(~np.isfinite(np.asarray(xs)))[0]
            raise InputError(f"input sequence xs is not finite (first bad entry at step {step}, index {i})")
    return x, xs


def step_function(system: System, solver: Euler | RK4, dt):
    """``advance(state, x)``: one step of the map, or one ``solver`` step of length ``dt`` of the flow."""
    if not system.is_flow:
        return system.rhs

    def advance(s, x):
        return solver.step(lambda u: system.rhs(u, x), s, dt)

    return advance


@partial(jax.jit, static_argnames=("steps", "save_every"))
def _run(system, state0, x, xs, dt, *, steps, save_every, solver):
    n_save = steps // save_every
    if isinstance(solver, Adaptive):
        states = _adaptive(system, state0, x, xs, dt, steps, save_every, solver)
    else:
        advance = step_function(system, solver, dt)

        def inner(s, xt):
            return advance(s, xt), None

        def outer(s, xchunk):
            s, _ = jax.lax.scan(inner, s, xchunk, length=save_every)
            return s, s

        xchunks = None if xs is None else xs.reshape(n_save, save_every, -1)
        if xchunks is None and x is not None:
            xchunks = jnp.broadcast_to(x, (n_save, save_every, x.shape[0]))
        _, saved = jax.lax.scan(outer, state0, xchunks, length=n_save)
        states = jnp.concatenate([state0[None], saved])
    t = jnp.arange(n_save + 1, dtype=float) * (save_every * dt)  # float: step counts times a float step
    return Trajectory(t=t, states=states, is_flow=system.is_flow)


def _adaptive(system, state0, x, xs, dt, steps, save_every, solver):
    def field(t, y, args):
        if xs is None:
            return system.rhs(y, x)
        k = jnp.clip(jnp.floor(t / dt).astype(int), 0, steps - 1)
        return system.rhs(y, xs[k])

    ts = jnp.arange(steps // save_every + 1, dtype=float) * (save_every * dt)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        diffrax.Tsit5(),
        t0=0.0,
        t1=steps * dt,
        dt0=dt,
        y0=state0,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=solver.rtol, atol=solver.atol),
        max_steps=solver.max_steps,
        throw=False,
    )
    return sol.ys


def _check_finite(traj: Trajectory) -> None:
    ok = np.all(np.isfinite(np.asarray(traj.states)), axis=-1)
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        hint = "reduce dt or check the parameters" if traj.is_flow else "check the parameters"
        raise NonFiniteError(
            f"trajectory became non-finite at saved step {k} (t = {float(traj.t[k]):g} {traj.units}); "
            f"the dynamics diverged: {hint}"
        )


def autocorrelation(system: System, state0, *, t_obs: float, dt: float | None = None,
                    every: int | None = None,
                    max_lag: float | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """C_h(tau) = <h_i(t) h_i(t + tau)> of a network (its h block; the whole state of a user system),
    averaged over units and over ``t_obs`` from ``state0``
    (start from a relaxed state), on lags 0, every*dt, ... up to ``max_lag`` (default t_obs / 4). Flows:
    times in units of tau_h, step ``dt`` (default 0.05), ``every`` 5 steps by default; maps: times in steps
    (``dt`` must be None), every step by default. No time mean is subtracted: in the random ensembles <h> is
    the bias mean, and a mean over a finite window would bias C_h down by about 2 x correlation time / t_obs.
    Returns (lags, C_h)."""
    check_param("autocorrelation", "t_obs", t_obs, positive=True)
    if system.is_flow:
        dt = 0.05 if dt is None else dt
        every = 5 if every is None else every
    elif dt is not None:
        raise InputError("autocorrelation: dt is only for flows (a map advances one step at a time)")
    else:
        every = 1 if every is None else every
    step = 1.0 if dt is None else dt
    traj = simulate(system, state0, steps=round(t_obs / step), dt=dt, save_every=every)
    blocks = system.split_state(traj.states)  # the h block (gated RNN: also z, r; LSTM: also c)
    h = np.asarray(blocks.get("h", blocks.get("x")))
    n_lag = int((t_obs / 4 if max_lag is None else max_lag) / (step * every)) + 1
    if n_lag >= h.shape[0]:
        raise InputError(f"max_lag must be below t_obs = {t_obs}")
    c = np.array([np.mean(h[: h.shape[0] - k] * h[k:]) for k in range(n_lag)])
    return np.arange(n_lag) * step * every, c
