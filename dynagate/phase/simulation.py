"""The simulated layers of a phase diagram (every model).

At each grid point, ``seeds`` networks, each run from a small and from a large random initial state (the
same network), with a burn-in (of the state and of the tangent vector), then the leading Lyapunov exponent
by the tangent-vector method with block standard errors (:func:`dynagate.lyapunov.lyapunov_max`) and the
mean activity <h^2> over the observation window. ``lambda_max`` is, per network, the larger of the two
runs' exponents, averaged over networks. At the end of the first network's large-state run, the
Jacobian's spectral radius, rightmost real part and slow-mode fraction. Which runs survived or are
chaotic, and the region of a point, are decided in :mod:`dynagate.phase.regions`.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..lyapunov import lyapunov_max
from ..models.base import sample
from ..spectra import eigenvalues, slow_fraction


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


SIM_FIELDS = ("lambda_small", "lambda_large", "lambda_small_se", "lambda_large_se", "activity_small",
              "activity_large", "final_small", "final_large")  # fmt: skip


def sim_spec(sim: Simulation) -> dict:
    spec = dict.fromkeys(SIM_FIELDS, ((sim.seeds,), "float64"))
    if sim.spectra:
        spec |= dict.fromkeys(("spectral_radius", "rightmost", "slow_fraction"), ((), "float64"))
    return spec


def simulate_point(ensemble, key, sim: Simulation) -> dict:
    """The simulated layers at one ensemble: per seed (module doc), keyed as :func:`sim_spec`."""
    # networks are drawn outside the compiled run: structural choices (an instantaneous gate at
    # tau = 0) must see concrete hyperparameters
    nets = [sample(ensemble, sim.n, key=_net_key(key, s)) for s in range(sim.seeds)]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack([jnp.asarray(v) for v in a]), *nets)
    scales = jnp.asarray([sim.small, sim.large])
    keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(jnp.arange(sim.seeds))
    lam, lam_se, act, end, bad, finals = (np.asarray(a) for a in _run_point(
        stacked, keys, scales, n_h=sim.n, times=_kernel_times(sim, nets[0].is_flow)))  # fmt: skip
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


def _kernel_times(sim: Simulation, is_flow: bool) -> tuple:
    """The time arguments of :func:`dynagate.lyapunov.lyapunov_max` for ``sim`` (hashable): the burn-in's
    whole re-orthonormalisation intervals align the tangent vector (``t_frame``), the rest advances the
    state alone first; the observation is a whole number of blocks of intervals."""
    t = sim.times(is_flow)
    step, ortho = t["dt"], t["ortho"]
    return (("dt", step if is_flow else None), ("t_burn", (t["n_burn"] % ortho) * step),
            ("t_frame", (t["n_burn"] // ortho) * ortho * step),
            ("t_obs", t["n_blocks"] * t["per_block"] * ortho * step), ("t_ortho", ortho * step),
            ("n_blocks", t["n_blocks"]))  # fmt: skip


@partial(jax.jit, static_argnames=("n_h", "times"))
def _run_point(nets, keys, scales, *, n_h, times):
    """Per network (leading axis of ``nets`` and ``keys``) and initial scale: the tangent-vector estimate
    of the leading exponent (block means and standard error), the mean <h^2>, a divergence flag, and
    the final state of the large-scale run."""

    def activity(s):
        return jnp.mean(s[:n_h] ** 2)  # h leads every model's state

    def one(net, key, init):
        k_run = jax.random.fold_in(key, 1)
        k_s, _ = jax.random.split(k_run)  # the tangent vector is drawn from the second key of the split
        s = scales[init] * jax.random.normal(jax.random.fold_in(k_s, init), (net.n_state,))
        # the tangent vector is aligned during the burn-in (a fresh random vector reads low by about
        # log(rho T) / 4T for a Ginibre-like Jacobian of radius rho)
        run = lyapunov_max(net, s, key=k_run, observe=activity, **dict(times))
        bad = ~jnp.all(jnp.isfinite(run.state)) | ~jnp.all(jnp.isfinite(run.blocks))
        return run.exponent, run.stderr, run.observed, activity(run.state), bad, run.state

    both = jax.vmap(lambda net, key: jax.vmap(lambda i: one(net, key, i))(jnp.arange(2)))
    lam, se, act, final, bad, s = both(nets, keys)  # (seeds, 2[, n_state])
    return lam, se, act, final, bad, s[:, 1]


def _describe(ensemble) -> str:
    return type(ensemble).__name__ + "(" + ", ".join(f"{k}={v}" for k, v in ensemble.params().items()
                                                     if isinstance(v, float)) + ")"  # fmt: skip
