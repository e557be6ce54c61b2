"""The static branches of a model and the stability of their fixed points: the theory hook that phase
diagrams and the CLI use for every model (:func:`branches`, dispatched on the ensemble's type).

A model with a static mean field registers ``@branches.register`` a function returning :class:`Branches`:
the branches' variances (ascending); per branch, a stability measure that exceeds 1 exactly where the
fixed points of that branch are unstable (F(0) of the RMT support for flows; the support's spectral
radius for maps); and per branch the decay rate (the support's rightmost point per unit time for flows,
the log of its radius per step for maps) with the predicted fraction of slow modes (NaN where the density
formula does not apply, :func:`dynagate.rmt.has_density`). Registered here: the vanilla RNN
(flow and Euler map), the gated RNN, the GRU (:mod:`.gru`) and the LSTM (:mod:`.lstm`).
:func:`has_branches` says whether a model has the hook.

The vanilla Euler map has the flow's fixed points; its Jacobian at one is I + delta J_flow, whose support
(a disk of radius delta rho about 1 - delta, where the flow's is the disk of radius rho about -1) lies
inside the unit circle iff rho < 1, i.e. iff the flow's F(0) = rho^2 < 1: the map's measure is the flow's
F(0), its rate ln(radius) per step and its slow modes those within eps of 1.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .. import rmt
from ..errors import InputError
from ..models.gated import GatedRNN
from ..models.gru import GRU
from ..models.lstm import LSTM
from ..models.vanilla import VanillaRNN
from . import gru, lstm
from .sitelaw import branch_stats
from .static import static


@dataclasses.dataclass(frozen=True)
class Branches:
    """The static branches of one ensemble: ``delta_h`` (ascending; Var h, or E h^2 for the GRU),
    ``measure(i)``, the stability measure of branch i (> 1: unstable), and ``decay(i, eps)`` -> (rate,
    slow fraction) there (module doc)."""

    delta_h: np.ndarray
    measure: Callable[[int], float]
    decay: Callable[[int, float], tuple[float, float]]


@functools.singledispatch
def branches(ensemble) -> Branches:
    """The static branches of ``ensemble`` by the function registered for its type (module doc)."""
    raise NotImplementedError(f"no static mean field for {type(ensemble).__name__}")


def has_branches(ensemble) -> bool:
    """Whether a static mean field is registered for the ensemble's type."""
    return branches.dispatch(type(ensemble)) is not branches.dispatch(object)


@jax.jit
def _f0(st):
    return rmt.F(st, jnp.asarray(0.0 + 0.0j))


def slow_fraction(st, eps: float) -> float:
    """The predicted slow-mode fraction of a structure, NaN where the density formula does not apply."""
    return float(rmt.slow_fraction(st, eps)) if rmt.has_density(st) else math.nan


def _static_branches(ensemble) -> Branches:
    is_map = getattr(ensemble, "delta", None) is not None  # the vanilla Euler map
    flow = ensemble.replace(delta=None) if is_map else ensemble
    sol = static(flow)
    idx = np.flatnonzero(np.asarray(sol.valid))
    if idx.size == 0:  # cannot happen (RHS(0) >= 0 and RHS <= D_max); kept as a guard
        raise InputError(f"no static mean-field solution found for {ensemble!r}")

    @functools.cache
    def structure(i: int, of_flow: bool):  # the flow's and (for the map) the map's, each built once
        model = flow if of_flow else ensemble
        return rmt.structure(model, branch_stats(model, sol, int(idx[i])))

    def measure(i: int) -> float:
        return float(_f0(structure(i, True)))

    def decay(i: int, eps: float) -> tuple[float, float]:
        st = structure(i, not is_map)
        if is_map:
            radius, slow = gru.map_stability(st, eps)
            return float(np.log(max(radius, 1e-300))), slow
        return float(rmt.rightmost(st)), slow_fraction(st, eps)

    return Branches(np.asarray(sol.delta_h)[idx], measure, decay)


def _gated_map_branches(module, solve):
    """The branches of a gated map (GRU, LSTM) from its module's static solution and ``branch_law``: the
    measure is the support's spectral radius, the rate its log per step (one structure per branch, built
    once)."""

    def make(ensemble) -> Branches:
        sol = solve(ensemble)

        @functools.cache
        def structure(i: int):
            return rmt.structure(ensemble, module.branch_law(ensemble, float(sol.q[i])))

        def measure(i: int) -> float:
            return float(rmt.support(structure(i), n_x=64).radius)

        def decay(i: int, eps: float) -> tuple[float, float]:
            radius, slow = gru.map_stability(structure(i), eps)
            return float(np.log(max(radius, 1e-300))), slow

        return Branches(sol.q, measure, decay)

    return make


branches.register(VanillaRNN, _static_branches)
branches.register(GatedRNN, _static_branches)
branches.register(GRU, _gated_map_branches(gru, gru.static_gru))
branches.register(LSTM, _gated_map_branches(lstm, lstm.static_lstm))
