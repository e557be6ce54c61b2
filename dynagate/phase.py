r"""Phase diagrams over two hyperparameters: theory layers and simulated maps in one ``xarray.Dataset``.

:func:`phase_diagram` evaluates, on every point of an (x, y) grid of two hyperparameters of an ensemble,

**Theory** (:func:`theory_point`; the vanilla and gated RNN from the static mean field, the GRU and
LSTM from the zero state only):

* the static mean-field branches (:func:`dynagate.meanfield.static`): their number and the largest
  variance ``delta_h`` (more than one branch below the zero-state threshold is the subcritical,
  discontinuous transition; its end is the tricritical point of :mod:`dynagate.meanfield.landau`);
* the dynamical stability of the fixed points of each branch, from the RMT support of their Jacobian
  (THEORY.md 4): the support crosses Re lambda = 0 iff F(0) > 1, F(0) = g_h^2 <phi'^2> [<sigma_r^2> +
  g_r^2 <sigma_r'^2> <phi^2>] at the branch's Gaussian statistics (``f0_low`` for the smallest branch,
  the state a small perturbation relaxes to; ``f0_high`` for the largest); ``rate_low`` is the
  rightmost point of the support at the smallest branch (the decay rate seen from small initial states);
* the predicted slow-mode fraction at the smallest branch (eigenvalues within ``eps`` of 0).

A stable branch (F(0) < 1) is a stable fixed point, a branch with F(0) > 1 a family of unstable ones.
The **theory region** from the static analysis alone: *stable* (stable branches only), *chaotic*
(unstable branches only), *unstable_fixed_points* (a stable fixed point beside unstable ones: a
necessary condition for bistability, not a sufficient one) and *marginal* (stable, with a slow-mode
fraction above ``marginal``).

**DMFT** (``dmft=True``, :func:`dmft_column`): the chaotic DMFT solution followed down each column from
its top, its lambda_max (``lambda_dmft``) and the lowest y where it exists (``line_dmft``). It decides
chaos: *bistable* where it exists while the smallest fixed point is stable, *chaotic* where it exists
otherwise. Finding (gated RNN, beta_r = 0, g_r = 1): past the tricritical alpha_r the chaotic solution
appears well above the static onset (alpha_r = 10: near g_h = 1.857, the static onset at 1.754; alpha_r
= 5: 1.971 against 1.917), and simulated networks agree with the DMFT: between the two lines activity
started large dies out (N = 200). Unstable fixed points alone do not make a chaotic attractor. Near a
continuous onset C_h decays ever more slowly, so the continuation stops a little above the stability
line; ``line_dmft`` is meaningful where it lies below ``line_stability``.

**Simulation** (:class:`Simulation`; every model): ``seeds`` networks per point, each run from a small
and from a large random initial state (the same network), with a burn-in (of the state and of the
tangent vector), then the leading
Lyapunov exponent by the tangent-vector method (block standard errors) and the mean activity <h^2> over
the observation window. A run *survived* if <h^2> at its end is above ``threshold``, and is *chaotic* if
it survived with lambda above twice its standard error (a small network can also settle on a
non-trivial fixed point or limit cycle). ``lambda_max`` is, per network, the larger of the two runs'
exponents, averaged over networks. At the end of the first network's large-state run, the
Jacobian's spectral radius, rightmost real part and slow-mode fraction. The **simulated region** per
point: *chaotic* where activity survives from small states in most networks (the trivial state is
unstable; near a continuous onset lambda_max grows like (g - g_c)^2 -- 5e-4 at g_h = 2.1, alpha_r = 0
in the DMFT -- so activity, not the sign of lambda, is the signal a finite network resolves);
*bistable* where small states die out but most networks are chaotic from large states; *stable*
otherwise (*marginal* with many slow modes).

Every point has its own PRNG keys (``fold_in`` of the point index and the seed), so a diagram does not
depend on chunking or backend (:mod:`dynagate.sweep`), and a stored diagram resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import sweep
from .errors import InputError
from .models.base import Ensemble
from .models.gated import GatedRNN
from .models.vanilla import VanillaRNN

#: Region codes (CF ``flag_values`` / ``flag_meanings`` of the ``region`` variables).
REGIONS = ("stable", "chaotic", "bistable", "marginal", "unstable_fixed_points")
STABLE, CHAOTIC, BISTABLE, MARGINAL, UNSTABLE_FPS = range(5)


@dataclasses.dataclass(frozen=True)
class Simulation:
    """Settings of the simulated layers. Times in units of tau_h for flows, steps for maps.

    ``small``, ``large``: standard deviation of the entries of the two initial states; ``threshold``:
    <h^2> at the end of a run below which it counts as decayed; ``eps``: the slow-mode distance from 0 (flows)
    or 1 (maps)."""

    n: int = 100
    seeds: int = 2
    t_burn: float | None = None  # default 100 (flows) or 200 steps (maps)
    t_obs: float | None = None  # default 100 (flows) or 200 steps (maps)
    dt: float = 0.1
    t_ortho: float = 1.0
    blocks: int = 10
    small: float = 1e-3
    large: float = 2.0
    threshold: float = 1e-4
    eps: float = 0.05
    spectra: bool = True

    def times(self, is_flow: bool) -> dict:
        step = self.dt if is_flow else 1.0
        burn = self.t_burn if self.t_burn is not None else (100.0 if is_flow else 200.0)
        obs = self.t_obs if self.t_obs is not None else (100.0 if is_flow else 200.0)
        ortho = max(1, round(self.t_ortho / step))
        per_block = max(1, round(obs / step / ortho / self.blocks))
        return {"dt": step, "n_burn": round(burn / step), "ortho": ortho, "per_block": per_block,
                "n_blocks": self.blocks}  # fmt: skip

    def check(self) -> None:
        for name in ("n", "seeds", "blocks"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InputError(f"Simulation.{name} must be an integer >= 1, got {v!r}")
        if self.blocks < 2:
            raise InputError("Simulation.blocks must be >= 2 (for standard errors)")
        for name in ("dt", "t_ortho", "small", "large", "threshold", "eps"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"Simulation.{name} must be a finite number > 0, got {v!r}")
        if self.t_burn is not None and not (math.isfinite(self.t_burn) and self.t_burn >= 0):
            raise InputError(f"Simulation.t_burn must be a finite number >= 0, got {self.t_burn!r}")
        if self.t_obs is not None and not (math.isfinite(self.t_obs) and self.t_obs > 0):
            raise InputError(f"Simulation.t_obs must be a finite number > 0, got {self.t_obs!r}")
        if self.small >= self.large:
            raise InputError(f"Simulation.small ({self.small}) must be below Simulation.large ({self.large})")


# ------------------------------------------------------------------------------------------- theory


def has_theory(ensemble) -> bool:
    """Whether the static mean field applies: the gated RNN and the vanilla flow."""
    return isinstance(ensemble, GatedRNN) or (isinstance(ensemble, VanillaRNN) and ensemble.delta is None)


THEORY_SPEC = {
    "branches": ((), "int8"),
    "delta_h": ((), "float64"),
    "f0_low": ((), "float64"),
    "f0_high": ((), "float64"),
    "rate_low": ((), "float64"),
    "slow_theory": ((), "float64"),
    "region_theory": ((), "int8"),
}


def theory_point(ensemble, *, eps: float = 0.05, marginal: float = 0.1) -> dict:
    """The theory layers at one ensemble (module doc); a dict of scalars keyed as ``THEORY_SPEC``."""
    from . import meanfield, rmt

    if has_theory(ensemble):
        from .meanfield.static import static

        sol = static(ensemble)
        valid = np.asarray(sol.valid)
        branches = np.flatnonzero(valid)
        if branches.size == 0:  # cannot happen (RHS(0) >= 0 and RHS <= D_max); kept as a guard
            raise InputError(f"no static mean-field solution found for {ensemble!r}")
        lo, hi = int(branches[0]), int(branches[-1])
        st_lo = rmt.structure(ensemble, meanfield.branch_stats(ensemble, sol, lo))
        st_hi = st_lo if hi == lo else rmt.structure(ensemble, meanfield.branch_stats(ensemble, sol, hi))
        f0 = [float(_f0(s)) for s in (st_lo, st_hi)]
        f0_unstable = [f > 1.0 for f in f0]
        rate = float(rmt.rightmost(st_lo))
        slow = float(rmt.slow_fraction(st_lo, eps))
        stable_any = not f0_unstable[0] or not f0_unstable[1]
        unstable_any = f0_unstable[0] or f0_unstable[1]
        out = {"branches": branches.size, "delta_h": float(sol.delta_h[hi]), "f0_low": f0[0],
               "f0_high": f0[1], "rate_low": rate, "slow_theory": slow}  # fmt: skip
    else:  # GRU, LSTM, vanilla map: the zero state only
        st = rmt.structure(ensemble, rmt.zero_state_stats(ensemble))
        sup = rmt.support(st)
        rate = float(sup.rightmost) if st.is_flow else float(np.log(max(float(sup.radius), 1e-300)))
        slow = float(rmt.slow_fraction(st, eps))
        stable_any = bool(sup.stable)
        unstable_any = not stable_any
        out = {"branches": 0, "delta_h": math.nan, "f0_low": math.nan, "f0_high": math.nan,
               "rate_low": rate, "slow_theory": slow}  # fmt: skip
    out["region_theory"] = _region(stable_any, unstable_any, slow > marginal)
    return out


def _region(stable: bool, unstable: bool, slow: bool) -> int:
    if stable and unstable:
        return UNSTABLE_FPS  # bistable only where the DMFT has a chaotic solution there too
    if unstable:
        return CHAOTIC
    return MARGINAL if slow else STABLE


@jax.jit
def _f0(st):
    from .rmt import F

    return F(st, jnp.asarray(0.0 + 0.0j))


def _f0_low(ensemble) -> float:
    from .meanfield import branch_stats
    from .meanfield.static import static
    from .rmt import structure

    sol = static(ensemble)
    lo = int(np.flatnonzero(np.asarray(sol.valid))[0])
    return float(_f0(structure(ensemble, branch_stats(ensemble, sol, lo))))


def _n_branches(ensemble) -> int:
    from .meanfield.static import static

    return int(np.asarray(static(ensemble).valid).sum())


def theory_lines(ensemble, x: tuple, y: tuple, grid: dict, *, iters: int = 8) -> dict:
    """The theory lines as y(x): for each x value, where along y (a) the smallest static solution's
    F(0) crosses 1 (its fixed points lose stability: ``line_stability``) and (b) the number of static
    solutions first changes from its value at the lowest y (``line_static_onset``; the discontinuous
    transition where it lies below (a)). ``grid``: the ``f0_low`` and ``branches`` maps (y, x) that
    bracket the crossings, refined by ``iters`` bisection steps (2^-iters of a grid step). NaN where the
    line does not cross the diagram."""
    (xn, xv), (yn, yv) = x, y
    at = lambda i, v: ensemble.replace(**{xn: float(xv[i]), yn: float(v)})  # noqa: E731
    tests = {
        "line_stability": (lambda col: col > 1.0, grid["f0_low"], lambda e: _f0_low(e) > 1.0),
        "line_static_onset": (None, grid["branches"], _n_branches),
    }
    out = {}
    for name, (pred, field, point) in tests.items():
        line = np.full(len(xv), np.nan)
        for i in range(len(xv)):
            col = np.asarray(field)[:, i]
            flags = pred(col) if pred is not None else col
            change = np.flatnonzero(flags != flags[0])
            if change.size == 0:
                continue
            lo, hi, ref = yv[change[0] - 1], yv[change[0]], flags[0]
            for _ in range(iters):
                mid = 0.5 * (lo + hi)
                if point(at(i, mid)) == ref:
                    lo = mid
                else:
                    hi = mid
            line[i] = 0.5 * (lo + hi)
        out[name] = line
    return out


def dmft_column(ensemble, y: tuple, *, iters: int = 6, tol: float = 1e-9, max_iter: int = 300) -> dict:
    """The DMFT chaotic solution along one column of a diagram (``ensemble`` fixes x; y = (name, values)),
    by continuation from the top of the y axis down (the chaotic branch of a discontinuous transition is
    followed past the point where the iteration from scratch would fall onto a static solution).

    Returns ``lambda_dmft`` and ``delta0_dmft`` per y value (NaN where there is no chaotic solution) and
    ``line_dmft``: the lowest y of the chaotic stretch that reaches down from the top, refined by
    ``iters`` bisection steps (NaN if the column has no chaotic solution at its top; y[0] if it never
    ends). The closed alpha_z = 0 equation (:mod:`dynagate.meanfield.closed`) is solved; an update
    gate (alpha_z) changes time scales and is set to 0 here, which does not move the boundary of the
    static (z-independent) solutions but is an approximation for the chaotic one."""
    from .meanfield import closed
    from .meanfield.dmft import _is_static

    yn, yv = y
    base = ensemble.replace(alpha_z=0.0) if isinstance(ensemble, GatedRNN) else ensemble
    p = closed._params(base)
    t_max = 60.0 / p["sz0"]

    def solve(v, init):
        sol = closed.solve(base.replace(**{yn: float(v)}), t_max=t_max, dt=0.1, tol=tol, max_iter=max_iter,
                           c_init=init)  # fmt: skip
        ok = not _is_static(sol["c_h"]) and sol["residual"] < tol and sol["c_h"][0] > 0
        return sol if ok else None

    lam, d0 = np.full(len(yv), np.nan), np.full(len(yv), np.nan)
    line, prev = np.nan, None
    for j in range(len(yv) - 1, -1, -1):
        sol = solve(yv[j], None if prev is None else prev["c_h"])
        if sol is None:
            if prev is not None:  # the chaotic stretch from the top ends between y[j] and y[j + 1]
                lo, hi, last = yv[j], yv[j + 1], prev
                for _ in range(iters):
                    mid = 0.5 * (lo + hi)
                    s2 = solve(mid, last["c_h"])
                    lo, hi, last = (lo, mid, s2) if s2 is not None else (mid, hi, last)
                line = 0.5 * (lo + hi)
                break
            if j == len(yv) - 1:
                break  # no chaos at the top: no line
            continue
        lam[j], d0[j] = closed.lambda_max(sol), sol["c_h"][0]
        prev = sol
    else:
        line = yv[0] if prev is not None else np.nan
    return {"lambda_dmft": lam, "delta0_dmft": d0, "line_dmft": line}


# --------------------------------------------------------------------------------------- simulation

SIM_FIELDS = ("lambda_small", "lambda_large", "lambda_small_se", "lambda_large_se", "activity_small",
              "activity_large", "final_small", "final_large")  # fmt: skip


def sim_spec(sim: Simulation) -> dict:
    spec = dict.fromkeys(SIM_FIELDS, ((sim.seeds,), "float64"))
    if sim.spectra:
        spec |= dict.fromkeys(("spectral_radius", "rightmost", "slow_fraction"), ((), "float64"))
    return spec


def simulate_point(ensemble, key, sim: Simulation) -> dict:
    """The simulated layers at one ensemble: per seed (module doc), keyed as :func:`sim_spec`."""
    from .models.base import sample
    from .spectra import eigenvalues, slow_fraction

    # networks are drawn outside the compiled run: structural choices (an instantaneous gate at
    # tau = 0) must see concrete hyperparameters
    nets = [sample(ensemble, sim.n, key=_net_key(key, s)) for s in range(sim.seeds)]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack([jnp.asarray(v) for v in a]), *nets)
    t = sim.times(nets[0].is_flow)
    scales = jnp.asarray([sim.small, sim.large])
    keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(jnp.arange(sim.seeds))
    lam, lam_se, act, end, bad, finals = (np.asarray(a) for a in _run_point(
        stacked, keys, scales, t["dt"], n_h=sim.n, n_burn=t["n_burn"], ortho=t["ortho"],
        per_block=t["per_block"], n_blocks=t["n_blocks"]))  # fmt: skip
    if bad.any():
        raise InputError(f"a simulated network diverged at {_describe(ensemble)}")
    res = {"lambda_small": lam[:, 0], "lambda_large": lam[:, 1], "lambda_small_se": lam_se[:, 0],
           "lambda_large_se": lam_se[:, 1], "activity_small": act[:, 0], "activity_large": act[:, 1],
           "final_small": end[:, 0], "final_large": end[:, 1]}  # fmt: skip
    if sim.spectra:  # at the end of the first network's large-state run (LAPACK on the host)
        ev = eigenvalues(nets[0], finals[0])
        res |= {"spectral_radius": np.max(np.abs(ev)), "rightmost": np.max(ev.real),
                "slow_fraction": float(slow_fraction(ev, sim.eps, is_flow=nets[0].is_flow))}  # fmt: skip
    return res


def _net_key(key, seed):
    return jax.random.fold_in(jax.random.fold_in(key, seed), 0)


@partial(jax.jit, static_argnames=("n_h", "n_burn", "ortho", "per_block", "n_blocks"))
def _run_point(nets, keys, scales, dt, *, n_h, n_burn, ortho, per_block, n_blocks):
    """Per network (leading axis of ``nets`` and ``keys``) and initial scale: the tangent-vector estimate
    of the leading exponent (block means and standard error), the mean <h^2>, a divergence flag, and
    the final state of the large-scale run."""
    from .lyapunov import tangent_step
    from .simulate import RK4, step_function

    def one(net, key, init):
        k_s, k_v = jax.random.split(jax.random.fold_in(key, 1))
        s = scales[init] * jax.random.normal(jax.random.fold_in(k_s, init), (net.n_state,))
        v = jax.random.normal(k_v, (s.shape[0], 1))
        v = v / jnp.linalg.norm(v)
        advance = step_function(net, RK4(), dt)
        tstep = tangent_step(net, RK4(), dt, dense=False)
        s = jax.lax.fori_loop(0, n_burn % ortho, lambda _, s: advance(s, None), s)

        def interval(c, _):
            def step(c2, _):
                s, v, act = c2
                s, v, _ = tstep(s, v, None)
                return (s, v, act + jnp.mean(s[:n_h] ** 2)), None  # h leads every model's state

            (s, v, act), _ = jax.lax.scan(step, c, length=ortho)
            norm = jnp.linalg.norm(v)
            return (s, v / norm, act), jnp.log(norm)

        def block(c, _):
            c, logs = jax.lax.scan(interval, c, length=per_block)
            return c, logs.sum()

        zero = jnp.zeros((), s.dtype)
        # the tangent vector is aligned during the burn-in (a fresh random vector reads low by about
        # log(rho T) / 4T for a Ginibre-like Jacobian of radius rho)
        (s, v, _), _ = jax.lax.scan(interval, (s, v, zero), length=n_burn // ortho)
        (s, v, act), sums = jax.lax.scan(block, (s, v, zero), length=n_blocks)
        lam_b = sums / (per_block * ortho * dt)
        activity = act / (n_blocks * per_block * ortho)
        bad = ~jnp.all(jnp.isfinite(s)) | ~jnp.all(jnp.isfinite(lam_b))
        final = jnp.mean(s[:n_h] ** 2)
        return lam_b.mean(), lam_b.std(ddof=1) / jnp.sqrt(n_blocks), activity, final, bad, s

    both = jax.vmap(lambda net, key: jax.vmap(lambda i: one(net, key, i))(jnp.arange(2)))
    lam, se, act, final, bad, s = both(nets, keys)  # (seeds, 2[, n_state])
    return lam, se, act, final, bad, s[:, 1]


def _describe(ensemble) -> str:
    return type(ensemble).__name__ + "(" + ", ".join(f"{k}={v}" for k, v in ensemble.params().items()
                                                     if isinstance(v, float)) + ")"  # fmt: skip


# ------------------------------------------------------------------------------------------ diagram


def check_axis(cls, name: str, values) -> np.ndarray:
    """An axis of a diagram: a hyperparameter of ``cls`` and >= 2 finite, strictly increasing values."""
    params = cls.param_names()
    if name not in params:
        raise InputError(f"unknown axis {name!r} for {cls.__name__}; hyperparameters: {', '.join(params)}")
    v = np.asarray(values, float)
    if v.ndim != 1 or v.size < 2:
        raise InputError(f"axis {name}: give at least two values (got {v.size})")
    if not np.all(np.isfinite(v)):
        raise InputError(f"axis {name}: the values must be finite")
    if not np.all(np.diff(v) > 0):
        raise InputError(f"axis {name}: the values must increase (got a reversed or repeated range)")
    return v


@dataclasses.dataclass(frozen=True)
class _Task:
    """One chunk of grid points (picklable, for Dask workers)."""

    ensemble: Ensemble
    x: tuple
    y: tuple
    theory: bool
    sim: Simulation | None
    seed: int
    eps: float
    marginal: float

    def point(self, i: int):
        iy, ix = divmod(int(i), len(self.x[1]))
        return self.ensemble.replace(**{self.x[0]: float(self.x[1][ix]), self.y[0]: float(self.y[1][iy])})

    def __call__(self, indices) -> dict:
        rows = []
        for i in indices:
            e = self.point(i)
            row = {}
            if self.theory:
                row |= theory_point(e, eps=self.eps, marginal=self.marginal)
            if self.sim is not None:
                row |= simulate_point(e, jax.random.fold_in(jax.random.PRNGKey(self.seed), int(i)), self.sim)
            rows.append(row)
        return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}


@dataclasses.dataclass(frozen=True)
class _DmftTask:
    """DMFT columns (one per x value; picklable)."""

    ensemble: Ensemble
    x: tuple
    y: tuple

    def __call__(self, indices) -> dict:
        xn, xv = self.x
        cols = [dmft_column(self.ensemble.replace(**{xn: float(xv[i])}), self.y) for i in indices]
        return {k: np.stack([c[k] for c in cols]) for k in cols[0]}


def phase_diagram(
    ensemble,
    *,
    x: tuple,
    y: tuple,
    theory: bool = True,
    dmft: bool = False,
    simulate: Simulation | None = None,
    seed: int = 0,
    store=None,
    chunk: int | None = None,
    client=None,
    progress: bool | None = None,
    eps: float = 0.05,
    marginal: float = 0.1,
):
    """The phase diagram of ``ensemble`` over ``x = (name, values)`` and ``y = (name, values)``.

    Args:
        ensemble: the base hyperparameters (the two axes override theirs).
        theory: compute the theory layers (module doc).
        dmft: also solve the DMFT along every column (:func:`dmft_column`; vanilla flow and gated RNN;
            about 1-3 s per grid point): ``lambda_dmft``, ``line_dmft``, and theory regions from it.
        simulate: a :class:`Simulation` for the simulated layers (None: theory only).
        seed: PRNG seed of the simulations (point i, seed s: ``fold_in(fold_in(PRNGKey(seed), i), s)``).
        store: a folder for Zarr stores written incrementally and resumed from (None: in memory only).
        chunk: points per task and per stored chunk (default: 64 theory-only, 4 with simulations).
        client: a ``dask.distributed.Client`` (:func:`dynagate.sweep.connect`); None: in this process.
        progress: progress bars (default: when stderr is a terminal).
        eps, marginal: slow-mode distance, and the slow fraction above which a stable point is marginal.

    Returns:
        An ``xarray.Dataset`` with dimensions (y, x[, seed]) named after the hyperparameters, the layers
        as variables, region labels, the tricritical alpha_r where it applies, and provenance attributes.
    """
    from pathlib import Path

    from .io import provenance
    from .models.base import sample

    if not isinstance(ensemble, Ensemble):
        raise InputError(f"phase_diagram needs an ensemble such as GatedRNN(), not {type(ensemble).__name__}")
    cls = type(ensemble)
    (xn, xv), (yn, yv) = x, y
    xv, yv = check_axis(cls, xn, xv), check_axis(cls, yn, yv)
    if xn == yn:
        raise InputError(f"the two axes must differ (both are {xn!r})")
    if not theory and simulate is None:
        raise InputError("nothing to compute: theory=False and no simulation")
    dmft = bool(dmft and theory)
    if dmft and not has_theory(ensemble):
        raise InputError(f"the DMFT layer is for the vanilla flow and the gated RNN, not {cls.__name__}")
    if simulate is not None:
        if not isinstance(simulate, Simulation):
            raise InputError(f"simulate must be a Simulation(...) or None, got {type(simulate).__name__}")
        simulate.check()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
        raise InputError(f"seed must be an integer in [0, 2**31), got {seed!r}")
    if chunk is not None and (
        isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1
    ):
        raise InputError(f"chunk must be an integer >= 1, got {chunk!r}")
    is_flow = bool(sample(ensemble, 2, key=jax.random.PRNGKey(0)).is_flow)
    task = _Task(ensemble, (xn, tuple(xv)), (yn, tuple(yv)), bool(theory), simulate, int(seed), eps, marginal)
    for i in range(xv.size * yv.size):  # every grid point is a valid ensemble, before any work
        task.point(i)
    spec = (THEORY_SPEC if theory else {}) | (sim_spec(simulate) if simulate is not None else {})
    chunk = int(chunk) if chunk is not None else (4 if simulate is not None else 64)
    params = {"model": cls.__name__, "ensemble": ensemble.params(), "x": [xn, xv.tolist()],
              "y": [yn, yv.tolist()], "theory": bool(theory), "eps": eps, "marginal": marginal,
              "simulation": None if simulate is None else dataclasses.asdict(simulate), "seed": int(seed),
              "is_flow": is_flow}  # fmt: skip
    folder = None if store is None else Path(store)
    values = sweep.run(task, xv.size * yv.size, spec, chunk=chunk, store=folder and folder / "points",
                       fingerprint=_fingerprint(params), client=client, progress=progress,
                       description="phase diagram")  # fmt: skip
    ds = _dataset(values, params, spec, xv, yv, simulate, provenance)
    if theory and has_theory(ensemble):
        grid = {k: np.asarray(ds[k]) for k in ("f0_low", "branches")}
        for name, line in theory_lines(ensemble, (xn, xv), (yn, yv), grid).items():
            ds[name] = (xn, line, {"long_name": _LINES[name], "units": yn})
    if dmft:
        dspec = {"lambda_dmft": ((yv.size,), "float64"), "delta0_dmft": ((yv.size,), "float64"),
                 "line_dmft": ((), "float64")}  # fmt: skip
        cols = sweep.run(_DmftTask(ensemble, (xn, tuple(xv)), (yn, tuple(yv))), xv.size, dspec, chunk=1,
                         store=folder and folder / "dmft", fingerprint=_fingerprint(params | {"dmft": True}),
                         client=client, progress=progress, description="DMFT columns")  # fmt: skip
        _add_dmft(ds, cols, xn, yn, marginal)
    return ds


def _add_dmft(ds, cols: dict, xn: str, yn: str, marginal: float) -> None:
    units = "per unit time (tau_h = 1)"
    lam = cols["lambda_dmft"].T
    ds["lambda_dmft"] = ((yn, xn), lam, {"long_name": "DMFT lambda_max of the chaotic solution (NaN: none)",
                                         "units": units})  # fmt: skip
    ds["delta0_dmft"] = ((yn, xn), cols["delta0_dmft"].T,
                         {"long_name": "DMFT Var h of the chaotic solution (NaN: none)"})  # fmt: skip
    ds["line_dmft"] = (xn, cols["line_dmft"], {"long_name": _LINES["line_dmft"], "units": yn})
    zero_stable = np.asarray(ds.f0_low) <= 1.0
    chaos = np.isfinite(lam) | (~zero_stable & (np.asarray(ds.f0_high) > 1.0))
    slow = np.asarray(ds.slow_theory) > marginal
    region = np.where(chaos & zero_stable, BISTABLE,
                      np.where(chaos, CHAOTIC, np.where(slow, MARGINAL, STABLE)))  # fmt: skip
    ds["region_theory"] = ((yn, xn), region.astype(np.int8), _flags(
        "region predicted by the DMFT (chaos) and the static mean field + RMT (fixed points)"))  # fmt: skip


def _fingerprint(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


_LINES = {
    "line_stability": "theory line: the smallest static solution's fixed points lose stability (F(0) = 1)",
    "line_static_onset": "theory line: onset of further static mean-field solutions",
    "line_dmft": "theory line: lowest y of the DMFT chaotic solution (continued from the top of the axis)",
}


_LONG = {
    "branches": ("number of static mean-field solutions", ""),
    "delta_h": ("Var h of the largest static mean-field solution", ""),
    "f0_low": ("F(0) at the smallest static solution (fixed points unstable iff > 1)", ""),
    "f0_high": ("F(0) at the largest static solution (fixed points unstable iff > 1)", ""),
    "rate_low": ("rightmost Jacobian eigenvalue at the smallest static solution (theory)", "rate"),
    "slow_theory": ("predicted slow-mode fraction at the smallest static solution", ""),
    "lambda_small": ("leading Lyapunov exponent from small initial states", "rate"),
    "lambda_large": ("leading Lyapunov exponent from large initial states", "rate"),
    "lambda_small_se": ("standard error of lambda_small (batch means)", "rate"),
    "lambda_large_se": ("standard error of lambda_large (batch means)", "rate"),
    "activity_small": ("mean <h^2> over the observation, from small initial states", ""),
    "activity_large": ("mean <h^2> over the observation, from large initial states", ""),
    "final_small": ("<h^2> at the end of the run from small initial states", ""),
    "final_large": ("<h^2> at the end of the run from large initial states", ""),
    "spectral_radius": ("spectral radius of the Jacobian at the end of a large-state run (seed 0)", "rate"),
    "rightmost": ("largest real part of the Jacobian's eigenvalues (same state)", "rate"),
    "slow_fraction": ("fraction of Jacobian eigenvalues within eps of 0 (flows) or 1 (maps)", ""),
}


def _dataset(values, params, spec, xv, yv, sim, provenance):
    import xarray as xr

    xn, yn = params["x"][0], params["y"][0]
    ny, nx = yv.size, xv.size
    units = "per unit time (tau_h = 1)" if params["is_flow"] else "per step"
    data = {}
    for name, (shape, _dt) in spec.items():
        arr = values[name].reshape(ny, nx, *shape)
        dims = (yn, xn, "seed")[: 2 + len(shape)]
        long, unit = _LONG.get(name, (name, ""))
        attrs = {"long_name": long} | ({"units": units} if unit == "rate" else {})
        if name == "region_theory":
            attrs = _flags("region predicted by the static mean field and RMT")
        data[name] = (dims, arr, attrs)
    if sim is not None:
        # per network the larger of the two runs' exponents: the most unstable attractor found (near a
        # continuous onset a large state can land on a non-trivial fixed point of a finite network)
        both = np.stack([values["lambda_small"], values["lambda_large"]]).reshape(2, ny, nx, -1)
        pick = np.argmax(both, axis=0)[None]
        lam = np.take_along_axis(both, pick, 0)[0]
        se_b = np.take_along_axis(np.stack([values["lambda_small_se"], values["lambda_large_se"]]).reshape(
            2, ny, nx, -1), pick, 0)[0]  # fmt: skip
        s = lam.shape[-1]
        se = (lam.std(-1, ddof=1) / math.sqrt(s)) if s > 1 else se_b[..., 0]
        long = "leading Lyapunov exponent (the larger of the small- and large-state runs, mean over seeds)"
        data["lambda_max"] = ((yn, xn), lam.mean(-1), {"long_name": long, "units": units})
        data["lambda_max_se"] = ((yn, xn), se, {"long_name": "standard error of lambda_max over seeds",
                                                "units": units})  # fmt: skip
        thr = sim.threshold
        surv_s = (values["final_small"].reshape(ny, nx, -1) > thr).mean(-1)
        surv_l = (values["final_large"].reshape(ny, nx, -1) > thr).mean(-1)
        data["survived_small"] = ((yn, xn), surv_s, {"long_name": "fraction of seeds whose activity "
                                  f"survived (> {thr:g}) from small initial states"})  # fmt: skip
        data["survived_large"] = ((yn, xn), surv_l, {"long_name": "fraction of seeds whose activity "
                                  f"survived (> {thr:g}) from large initial states"})  # fmt: skip
        chaos = {}
        for init in ("small", "large"):
            lam_i = values[f"lambda_{init}"].reshape(ny, nx, -1)
            se_i = values[f"lambda_{init}_se"].reshape(ny, nx, -1)
            alive = values[f"final_{init}"].reshape(ny, nx, -1) > thr
            chaos[init] = (alive & (lam_i > 2 * se_i)).mean(-1)
            long = f"fraction of seeds chaotic from {init} initial states (survived, lambda > 2 se)"
            data[f"chaotic_{init}"] = ((yn, xn), chaos[init], {"long_name": long})
        slow = values["slow_fraction"].reshape(ny, nx) if sim.spectra else np.zeros((ny, nx))
        region = np.where(surv_s >= 0.5, CHAOTIC, np.where(chaos["large"] >= 0.5, BISTABLE,
                          np.where(slow > params["marginal"], MARGINAL, STABLE))).astype(np.int8)  # fmt: skip
        data["region_simulated"] = ((yn, xn), region, _flags("region found in simulation"))
    coords = {xn: (xn, xv, {"long_name": xn}), yn: (yn, yv, {"long_name": yn})}
    if sim is not None:
        coords["seed"] = ("seed", np.arange(sim.seeds, dtype=np.int32), {"long_name": "network seed"})
    attrs = provenance(command="phase_diagram", model=params["model"], x=xn, y=yn,
                       parameters=params["ensemble"], simulation=params["simulation"], seed=params["seed"],
                       eps=params["eps"], marginal=params["marginal"], rate_units=units)  # fmt: skip
    tc = _tricritical(params)
    if tc is not None:
        attrs["tricritical_alpha_r"] = tc
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _flags(long_name: str) -> dict:
    return {"long_name": long_name, "flag_values": np.arange(len(REGIONS), dtype=np.int8),
            "flag_meanings": " ".join(REGIONS)}  # fmt: skip


def _tricritical(params) -> float | None:
    """alpha_r on the tricritical line (gated RNN, no input, g_r fixed), or None."""
    if params["model"] != "GatedRNN":
        return None
    e = params["ensemble"]
    axes = {params["x"][0], params["y"][0]}
    if axes & {"g_r", "beta_r", "mu_b", "s_b"} or e["mu_b"] != 0 or e["s_b"] != 0:
        return None
    from .meanfield.landau import tricritical_alpha_r

    return tricritical_alpha_r(float(e["g_r"]), float(e["beta_r"]))


# ------------------------------------------------------------------------------------------ presets

#: Diagrams the papers describe: model, fixed hyperparameters, and the two axes (name, start, stop, num).
PRESETS = {
    "gated-reset": {
        "model": "gated",
        "about": "gated RNN in (alpha_r, g_h) at beta_r = 0: the discontinuous transition past the "
        "tricritical alpha_r and the bistable band (stable zero fixed point beside chaos)",
        "set": {},
        "x": ("alpha_r", 0.0, 10.0, 11),
        "y": ("g_h", 1.5, 2.5, 11),
    },
    "gated-update": {
        "model": "gated",
        "about": "gated RNN in (alpha_z, g_h) with a static input: slow modes and marginal stability "
        "of the fixed points as the update gate sharpens (the theory costs ~30 s a point at large "
        "alpha_z: the z quadrature resolves a sharp gate)",
        "set": {"s_b": 1.0, "beta_z": 0.0},
        "x": ("alpha_z", 0.0, 10.0, 6),
        "y": ("g_h", 1.0, 3.0, 5),
    },
    "gated-input": {
        "model": "gated",
        "about": "gated RNN in (s_b, g_h) at alpha_r = 10: a static input b_h can push a stable network "
        "into chaos",
        "set": {"alpha_r": 10.0},
        "x": ("s_b", 0.0, 1.0, 11),
        "y": ("g_h", 1.0, 3.0, 11),
    },
    "gru": {
        "model": "gru",
        "about": "GRU over the update-gate bias mu_z and the candidate weight scale g_n",
        "set": {},
        "x": ("mu_z", -3.0, 3.0, 11),
        "y": ("g_n", 0.5, 4.0, 11),
    },
    "lstm": {
        "model": "lstm",
        "about": "LSTM over the forget-gate bias mu_f and the cell-input weight scale g_u",
        "set": {},
        "x": ("mu_f", -2.0, 4.0, 11),
        "y": ("g_u", 0.5, 4.0, 11),
    },
}
