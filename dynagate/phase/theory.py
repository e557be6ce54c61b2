r"""The theory layers of a phase diagram: the static mean field and the RMT stability of its fixed points
at each grid point, the theory lines, and the DMFT chaotic solution along a column.

**Per point** (:func:`theory_point`), for every model with a static mean field registered
(:func:`dynagate.meanfield.branches`: the vanilla flow and map, the gated RNN, the GRU, the LSTM):

* the static mean-field branches: their number and the largest variance ``delta_h`` (more than one
  branch below the zero-state threshold is the subcritical, discontinuous transition; its end is the
  tricritical point of :mod:`dynagate.meanfield.landau`);
* the dynamical stability of the fixed points of the smallest and the largest branch, from the RMT support
  of their Jacobian (THEORY.md 4): ``f0_low``/``f0_high`` exceed 1 exactly where those fixed points are
  unstable (flows: F(0) = g_h^2 <phi'^2> [<sigma_r^2> + g_r^2 <sigma_r'^2> <phi^2>] at the branch's
  statistics, the support crossing Re lambda = 0; maps: the support's spectral radius, the vanilla map
  using its flow's F(0), :mod:`dynagate.meanfield.branches`); ``rate_low`` is the decay rate at the
  smallest branch, the state a small perturbation relaxes to (the support's rightmost point per unit time,
  or the log of its radius per step);
* the predicted slow-mode fraction at the smallest branch (eigenvalues within ``eps`` of 0, or of 1 for
  maps).

A stable branch is a stable fixed point, an unstable one a family of unstable ones; the region follows
(:func:`dynagate.phase.regions.theory_region`). For the gated maps (GRU, LSTM) unstable fixed points alone
are *unstable_fixed_points*, never *chaotic*: their DMFT layer decides where chaos is.

**DMFT** (:func:`dmft_column`): the chaotic DMFT solution followed down each column from its top, its
lambda_max (``lambda_dmft``) and the lowest y where it exists (``line_dmft``). Finding (gated RNN, beta_r
= 0, g_r = 1): past the tricritical alpha_r the chaotic solution appears well above the static onset
(alpha_r = 10: near g_h = 1.857, the static onset at 1.754; alpha_r = 5: 1.971 against 1.917), and
simulated networks agree with the DMFT: between the two lines activity started large dies out (N = 200).
Near a continuous onset C_h decays ever more slowly, so the continuation stops a little above the
stability line; ``line_dmft`` is meaningful where it lies below ``line_stability``.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..errors import InputError
from ..meanfield import closed
from ..meanfield.branches import branches, has_branches
from ..meanfield.dmft import _is_static, default_solver
from ..meanfield.euler_map import EulerMap
from ..meanfield.map_dmft import SampledMap
from ..models.gated import GatedRNN
from ..models.vanilla import VanillaRNN
from .regions import CHAOTIC, UNSTABLE_FPS, theory_region


def has_theory(ensemble) -> bool:
    """Whether a static mean field is registered for the model (:func:`dynagate.meanfield.branches`):
    the vanilla flow and map, the gated RNN, the GRU, the LSTM."""
    return has_branches(ensemble)


@functools.singledispatch
def unstable_is_chaos(ensemble) -> bool:
    """Whether fixed points that are all unstable make a point chaotic: registered true for the vanilla and
    gated RNN (whose unstable fixed points leave only the chaotic solution, THEORY.md); not for the GRU and
    the LSTM, where the DMFT's own chaotic solution decides (without it: *unstable_fixed_points*)."""
    return False


unstable_is_chaos.register(GatedRNN, lambda ensemble: True)
unstable_is_chaos.register(VanillaRNN, lambda ensemble: True)


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
    """The theory layers at one ensemble (module doc); a dict of scalars keyed as ``THEORY_SPEC``. For the
    GRU and the LSTM, unstable fixed points alone are ``unstable_fixed_points``, not chaos: the static theory
    does not decide whether they leave a chaotic attractor (its DMFT layer does)."""
    if not has_theory(ensemble):
        raise InputError(f"no static mean field is registered for {type(ensemble).__name__}")
    br = branches(ensemble)
    hi = br.delta_h.size - 1
    f0_lo, (rate, slow) = br.measure(0), br.decay(0, eps)
    f0_hi = f0_lo if hi == 0 else br.measure(hi)
    stable_any = f0_lo <= 1.0 or f0_hi <= 1.0
    unstable_any = f0_lo > 1.0 or f0_hi > 1.0
    out = {"branches": br.delta_h.size, "delta_h": float(br.delta_h[hi]), "f0_low": f0_lo,
           "f0_high": f0_hi, "rate_low": rate, "slow_theory": slow}  # fmt: skip
    region = theory_region(stable_any, unstable_any, slow > marginal)
    out["region_theory"] = UNSTABLE_FPS if region == CHAOTIC and not unstable_is_chaos(ensemble) else region
    return out


def _f0_low(ensemble) -> float:
    return branches(ensemble).measure(0)


def _n_branches(ensemble) -> int:
    return int(branches(ensemble).delta_h.size)


#: Long names of the theory lines (variables over x).
LINES = {
    "line_stability": "theory line: the smallest static solution's fixed points lose stability (F(0) = 1)",
    "line_static_onset": "theory line: onset of further static mean-field solutions",
    "line_dmft": "theory line: lowest y of the DMFT chaotic solution (continued from the top of the axis)",
}


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
    static (z-independent) solutions but is an approximation for the chaotic one. The vanilla map's columns
    are solved by :class:`~dynagate.meanfield.euler_map.EulerMap` (lambda_max per step)."""
    yn, yv = y
    solver = default_solver(ensemble)
    if isinstance(solver, EulerMap):
        return _map_column(ensemble, y, iters=min(iters, 4), tol=max(tol, 1e-8))
    if isinstance(solver, SampledMap):
        return _sampled_column(ensemble, y, iters=min(iters, 3))
    base = ensemble.replace(alpha_z=0.0) if "alpha_z" in ensemble.param_names() else ensemble
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


def _map_column(ensemble, y: tuple, *, iters: int, tol: float) -> dict:
    """:func:`dmft_column` for the vanilla map: the Euler-map DMFT at each y (top down), a chaotic solution
    where it converges (residual below ``tol`` within 1000 iterations) with C_h decaying (status
    ``converged``); the line bisected as there. Within about 2% of a continuous onset C_h decays too slowly
    for that budget, so the stretch (and ``line_dmft``) ends a little above the onset."""
    from ..meanfield.euler_map import EulerMap

    yn, yv = y

    def solve(v):
        r = EulerMap(tol=tol, max_iter=1000)(ensemble.replace(**{yn: float(v)}))
        return r if r.status == "converged" else None

    return _from_top(solve, yv, iters)


def _from_top(solve, yv, iters: int) -> dict:
    """A DMFT column from the top of the y axis down: ``solve(y)`` -> a chaotic result or None at each y
    until the first None; the end of the chaotic stretch bisected ``iters`` times between the two values.
    Returns the column's ``lambda_dmft``, ``delta0_dmft`` (NaN below the stretch) and ``line_dmft``."""
    lam, d0 = np.full(len(yv), np.nan), np.full(len(yv), np.nan)
    line = np.nan
    for j in range(len(yv) - 1, -1, -1):
        r = solve(yv[j])
        if r is None:
            if j < len(yv) - 1:  # the chaotic stretch from the top ends between y[j] and y[j + 1]
                lo, hi = yv[j], yv[j + 1]
                for _ in range(iters):
                    mid = 0.5 * (lo + hi)
                    lo, hi = (lo, mid) if solve(mid) is not None else (mid, hi)
                line = 0.5 * (lo + hi)
            break
        lam[j], d0[j] = r.lambda_max, r.delta0
    else:
        line = yv[0]
    return {"lambda_dmft": lam, "delta0_dmft": d0, "line_dmft": line}


#: Lighter Monte-Carlo settings for DMFT columns (about 2 s per point; lambda_max standard error ~2%).
SAMPLED_COLUMN = {"n_samples": 500, "n_burn": 20, "n_average": 20, "n_tangent": 30}


def _sampled_column(ensemble, y: tuple, *, iters: int) -> dict:
    """:func:`dmft_column` for the gated maps (GRU, LSTM): the sampled DMFT
    (:mod:`dynagate.meanfield.map_dmft`, settings :data:`SAMPLED_COLUMN`, a fixed key per y value) at each
    y from the top; a chaotic solution where it is non-static with lambda_max per step above twice its
    standard error; the line bisected as there."""
    import jax

    from ..meanfield.map_dmft import MapOptions

    yn, yv = y
    solver = dataclasses.replace(default_solver(ensemble), options=MapOptions(**SAMPLED_COLUMN))

    def solve(v):
        r = solver(ensemble.replace(**{yn: float(v)}), jax.random.PRNGKey(0))
        chaotic = r.status != "no_chaos" and r.lambda_max > 2 * r.stderr.get("lambda_max", 0.0)
        return r if chaotic else None

    return _from_top(solve, yv, iters)


def tricritical(model: str, ensemble: dict, axes: set) -> float | None:
    """alpha_r on the tricritical line for a diagram of ``model`` (a class name) at the hyperparameters
    ``ensemble`` over ``axes`` (gated RNN, no input, g_r and beta_r fixed), or None."""
    if model != "GatedRNN":
        return None
    if axes & {"g_r", "beta_r", "mu_b", "s_b"} or ensemble["mu_b"] != 0 or ensemble["s_b"] != 0:
        return None
    from ..meanfield.landau import tricritical_alpha_r  # sympy: imported only where it is used

    return tricritical_alpha_r(float(ensemble["g_r"]), float(ensemble["beta_r"]))
