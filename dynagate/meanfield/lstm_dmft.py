r"""The discrete-time DMFT of the random LSTM (:class:`~dynagate.LSTM`, full (h, c) state, no input) by
sampled single-site paths, and its lambda_max per step (the engine: :mod:`.map_dmft`).

Everything here is per step: lags in steps, lambda_max in natural log per step.

**Single-site process.** With g the forget gate (f, or the refined gate of f and rho) and i the input gate
(1 - g when tied),

    c_{t+1} = g_t c_t + i_t u_t,    h_{t+1} = o_t tanh(c_{t+1}),

a_t = sigma(b_a + eta_a,t) for the gates a = i, f, o, rho and u_t = tanh(b_u + eta_u,t). At N -> infinity the
recurrent fields eta_a = (W_a h)_i are Gaussian with mean 0 and covariance g_a^2 C_h(t - s), C_h(tau) =
E h_t h_{t + tau} (not centred: they sum h), independent across the independent matrices and of the unit's
biases (b_f from the forget initialiser's law through its quantile function; chrono sets b_i = -b_f): the
cavity argument of :mod:`.gru_dmft`. The cell recursion is linear in c and solved around the periodic grid
exactly (:func:`.map_dmft.periodic_map`, with log g from the pre-activation so that a forget gate near 1
keeps its precision). C_h is re-estimated from h. At a fixed point this is the static mean field of
:mod:`.lstm` (c* = i u / (1 - g)).

**lambda_max** (two replicas, every term). The network's tangent is

    delta c' = g delta c + c delta g + i delta u + u delta i,
    delta h' = o (1 - tanh^2 c') delta c' + tanh(c') o (1 - o) xi_o,

with delta g = g_f' f (1 - f) xi_f + g_rho' rho (1 - rho) xi_rf, delta i = i (1 - i) xi_i (-delta g when
tied), delta u = (1 - u^2) xi_u and xi_a = W_a delta h. The xi are Gaussian with covariance g_a^2 Q_d,
Q_d(t, s) = E delta h_t delta h_s, independent across matrices and uncorrelated with the state's fields
(the tangent is odd in the perturbation). The term c delta g is the forget gate's: in the chaotic state
the cell differs from its input, so a fluctuating forget gate moves it. With delta h_t = e^{lambda t} d_t and
delta c_t = e^{lambda t} e_t the rescaled pair obeys

    e' = e^{-lambda} [g e + c delta g + i delta u + u delta i],   d' = o (1 - tanh^2 c') e' + e^{-lambda}
    tanh(c') o (1 - o) xi_o,

and lambda_max is where the top eigenvalue of the linear map Q_d -> Q_d re-estimated is 1.

**Checks** (tests/test_lstm_dmft.py). Without memory and with constant gates (f = sigma(-60), g_i = g_f =
g_o = 0) x = W_u h obeys the delta = 1 map x' = g_u W o tanh(i tanh x), whose DMFT closes: E h^2 within 0.1%
and lambda_max within 1.2% of it. The zero state's lambda_max is ln(1/2 + g_u / 4) (its Jacobian is
[1/4; 1/2] (x) [W_u, I]). Against simulated networks (:data:`dynagate.validate.LSTM_SETS`, 3 each), Delta0
agrees within 1% and the e-folding time within 5%; lambda_max per step is 4-8% below the DMFT in chaos at
N = 1000 (2000 for the slow set mu_f = 4; 13% below at N = 1000), the finite-size deficit of the GRU.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..models.gru import refine
from ..models.init import ChronoInit
from ..models.lstm import LSTM
from .dmft import default_solver
from .gru import check_map
from .map_dmft import MapOptions, SampledMap, Site, initialiser_biases, periodic_map
from .montecarlo import circular_autocov, sample_paths

_GATES = ("i", "f", "u", "o", "rf")


def _check(ensemble) -> LSTM:
    return check_map(ensemble, LSTM, "the LSTM DMFT")


def _params(e: LSTM) -> dict:
    return {f"{k}_{a}": float(getattr(e, f"{k}_{a}")) for a in _GATES for k in ("g", "mu", "s")}


def _flags(e: LSTM) -> tuple:
    return (bool(e.refine), bool(e.tied_input))


def _memory(e: LSTM) -> float:
    if e.forget_init is None:
        b = float(e.mu_f)
    else:  # the median forget bias
        b = float(np.asarray(e.forget_init.quantile(np.array([0.5])))[0])
    return 1.0 / (1.0 + math.exp(-b))


def _biases(key, e: LSTM, p: dict, m: int) -> dict:
    k = jax.random.split(key, 5)
    b = {a: p[f"mu_{a}"] + p[f"s_{a}"] * jax.random.normal(kk, (m,)) for a, kk in zip(_GATES, k)}
    if e.forget_init is not None:
        b["f"] = initialiser_biases(k[1], e.forget_init, m)
        if isinstance(e.forget_init, ChronoInit):
            b["i"] = -b["f"]
    return b


def _gates(b, eta, flags):
    """The gates on paths of fields ``eta``: i, f, u, o (and rho), the memory gate g with log g and
    1 - g computed without cancellation, and dg/df, dg/drho."""
    refined, tied = flags
    a_f = b["f"] + eta["f"]
    f, fbar = jax.nn.sigmoid(a_f), jax.nn.sigmoid(-a_f)
    out = {"f": f, "u": jnp.tanh(b["u"] + eta["u"]), "o": jax.nn.sigmoid(b["o"] + eta["o"])}
    if refined:
        rho = jax.nn.sigmoid(b["rf"] + eta["rf"])
        g, dg_df, dg_drho = refine(f, rho)
        gbar = fbar * (rho * fbar + (1.0 - rho) * (1.0 + f))
        out |= {"rho": rho, "g": g, "log_g": jnp.log1p(-gbar), "dg_df": dg_df, "dg_drho": dg_drho}
    else:
        gbar = fbar
        out |= {"g": f, "log_g": jax.nn.log_sigmoid(a_f), "dg_df": jnp.ones_like(f)}
    out["i"] = gbar if tied else jax.nn.sigmoid(b["i"] + eta["i"])
    return out


@functools.partial(jax.jit, static_argnames=("m", "flags"))
def _iterate(key, cs, b, p, m, flags):
    """One sampled evaluation of the DMFT map: the paths (n, m), row t holding the gates of step t, the cell
    c_t, c_{t+1} and h_t, and the re-estimated C_h."""
    (c_h,) = cs
    k = jax.random.split(key, 5)
    names = _GATES if flags[0] else _GATES[:4]
    eta = {a: sample_paths(kk, p[f"g_{a}"] ** 2 * c_h, m).T for a, kk in zip(names, k)}
    v = _gates(b, eta, flags)
    c = periodic_map(v["g"], v["i"] * v["u"], v["log_g"])
    c_new = v["g"] * c + v["i"] * v["u"]
    h_new = v["o"] * jnp.tanh(c_new)
    paths = v | {"c": c, "c_new": c_new, "h": jnp.roll(h_new, 1, axis=0)}
    return paths, {"cs": (circular_autocov(h_new.T),), "mean_h": jnp.mean(h_new)}


@functools.partial(jax.jit, static_argnames=("m", "flags"))
def _tangent(key, q, lam, paths, p, m, flags):
    """One sampled evaluation of the rescaled tangent map at growth rate lam per step: Q_d -> Q_d
    re-estimated (module doc)."""
    refined, tied = flags
    (q_d,) = q
    k = jax.random.split(key, 5)
    names = _GATES if refined else _GATES[:4]
    xi = {a: sample_paths(kk, p[f"g_{a}"] ** 2 * q_d, m).T for a, kk in zip(names, k)}
    v = paths
    f, i, u, o = v["f"], v["i"], v["u"], v["o"]
    dg = v["dg_df"] * f * (1.0 - f) * xi["f"]
    if refined:
        dg = dg + v["dg_drho"] * v["rho"] * (1.0 - v["rho"]) * xi["rf"]
    di = -dg if tied else i * (1.0 - i) * xi["i"]
    s = jnp.exp(-lam)
    force = s * (v["c"] * dg + i * (1.0 - u**2) * xi["u"] + u * di)
    e = periodic_map(s * v["g"], force, v["log_g"] - lam)
    e_new = s * v["g"] * e + force
    tc = jnp.tanh(v["c_new"])
    d = o * (1.0 - tc**2) * e_new + s * tc * o * (1.0 - o) * xi["o"]
    return (circular_autocov(d.T),)


def _norm(q, flags) -> float:
    return q[0][0]


SITE = Site(
    method="lstm-montecarlo", check=_check, params=_params, flags=_flags, biases=_biases, iterate=_iterate,
    tangent=_tangent, norm=_norm, memory=_memory, samples=("h", "c", "i", "f", "u", "o", "rho"),
)  # fmt: skip


class LSTMMonteCarlo(SampledMap):
    """The sampled discrete-time DMFT of the LSTM (module doc; settings in :class:`~.map_dmft.MapOptions`):
    lags in steps, lambda_max per step, standard errors by batch means."""

    site = SITE


@default_solver.register(LSTM)
def _(ensemble) -> LSTMMonteCarlo:
    return LSTMMonteCarlo()


__all__ = ["LSTMMonteCarlo", "MapOptions"]
