r"""The discrete-time DMFT of the random GRU (:class:`~dynagate.GRU`, no input) by sampled single-site
paths, and its lambda_max per step (the engine, shared with the LSTM: :mod:`.map_dmft`).

Everything here is per step: lags in steps, lambda_max in natural log per step, times in steps.

**Single-site process.** h' = g h + (1 - g) n with g the update gate (z, or the refined gate of z and rho)
and n = tanh(b_n + r m). At N -> infinity the recurrent fields of unit i, eta_a = (W_a h)_i for a in r, z,
rf and the candidate's m, are Gaussian with mean 0 and covariance g_a^2 C(t, s) of what they sum (the
cavity argument of the gated RNN, THEORY.md 6, which does not use continuous time), independent across
the independent matrices, and independent of the unit's biases b_a ~ N(mu_a, s_a^2) (b_z from the update
initialiser's law, through its quantile function, when one is set). So

* eta_r, eta_z, eta_rf have covariance g_a^2 C_h(t - s), C_h(tau) = E h_t h_{t + tau} (not centred: the
  fields sum h, not its deviation);
* reset after (PyTorch): m = eta_n with covariance g_n^2 C_h; reset before (Cho et al.): m = W_n (r h), with
  covariance g_n^2 C_rh, C_rh(tau) = E r_t h_t r_{t + tau} h_{t + tau};
* r = sigma(b_r + eta_r), z = sigma(b_z + eta_z), rho = sigma(b_rf + eta_rf), n = tanh(b_n + r m) (after)
  or tanh(b_n + m) (before).

Unlike the gated flow, the gates are instantaneous functions of Gaussian fields; h, a gated recursion of
them, is not Gaussian. Given C_h (and C_rh) the fields are drawn as M stationary periodic paths by
circulant embedding (:func:`.montecarlo.sample_paths`) on a grid of 2L steps, the recursion is solved
around the period exactly (it is linear in h: one lap from 0 gives h^0 and the periodic start
h_0 = h^0_2L / (1 - prod g)), and C_h, C_rh are re-estimated as circular autocovariances averaged over the
paths. The iteration starts from C_h = Q_0 e^{-|tau| / 4}, runs ``n_burn`` iterations and averages
``n_average`` more, with batch-means standard errors and the drift test of :mod:`.montecarlo`. At a fixed
point (h = n, constant fields) the iteration is the static mean field (:mod:`.gru`): a constant C_h is
reported as "no_chaos" with the static branch's Q (here E h^2, not centred) and, as lambda_max, the log of
the spectral radius of the Jacobian's RMT support there. So is a sampled state whose two-replica
lambda_max is negative beyond two standard errors (it is still relaxing onto a fixed point, which the
iteration approaches slowly when the biases hold the units near it) if the nearest static branch is
stable; otherwise the result is "not_converged".

**lambda_max** (two replicas, every term). The network's tangent is

    delta h' = g delta h + (1 - g) delta n + (h - n) delta g,
    delta g = g_z' z (1 - z) xi_z + g_rho' rho (1 - rho) xi_rf,
    delta n = (1 - n^2) [r xi_n + m r (1 - r) xi_r]   (after),   (1 - n^2) xi_n   (before),

with xi_a = W_a delta h (a = r, z, rf and n after) and xi_n = W_n u, u = r delta h + h r (1 - r) xi_r
(before). As for the state, the xi are Gaussian at N -> infinity, with covariances g_a^2 Q_d, Q_d(t, s) =
E delta h_t delta h_s (g_n^2 Q_u for xi_n before), independent across matrices, and uncorrelated with the
state's fields: the tangent is linear in the perturbation, whose sign is random, so every average of one
state factor and one tangent factor vanishes. The term (h - n) delta g is the update gate's: a unit whose
update gate moves shifts between its memory h and its candidate n, which differ in the chaotic state
(h = n at a fixed point, where it drops out). With delta h_t = e^{lambda t} d_t the rescaled d obeys
d' = e^{-lambda} [g d + (1 - g) delta n + (h - n) delta g] with stationary covariances; for fixed lambda the
map (Q_d, Q_u) -> the same re-estimated from sampled tangent paths on sampled state paths is linear and
positive, and lambda_max is where its top eigenvalue mu(lambda) is 1: power iteration with damped Newton
steps on log mu (:func:`.montecarlo.power_lambda`). A static C_h makes the fields constant and the operator
that of the Jacobian diag(g) + diag((1 - g) r (1 - n^2)) W_n + ...; its top mode at zero frequency gives
the spectral radius, as for the vanilla map (:mod:`.euler_map`).

**Checks** (tests/test_gru_dmft.py). With constant gates (g_r = g_z = 0) the GRU is the vanilla Euler map
in x = r W_n h, with delta = 1 - z and gain r g_n, whose DMFT is deterministic (:mod:`.euler_map`): Delta0
(times (r g_n)^2) within 0.4% and lambda_max within 1%. Against simulated networks (N = 1000, 3 each;
:func:`dynagate.validate.map_comparison`), Delta0 agrees within 1% and lambda_max is 1-7% below the DMFT in
fast chaos (g_n = 3, mu_z = -2: 0.0483 against 0.0516; g_n = 4, mu_z = 0: 0.0563 / 0.0605; reset before,
g_n = 4, mu_z = -2: 0.1417 / 0.1434).

**Finite N.** Near the edge of chaos the networks approach the DMFT slowly. At g_n = 3, mu_z = 0 (DMFT:
lambda_max = 0.0299 +- 0.0004 per step, e-folding time of C_h 14.7 steps) the simulated lambda_max is 0.0223
(N = 500, 2 networks), 0.0243 (1000, 3), 0.0264 (2000, 2), 0.0288 (4000, 1): about +0.002 per doubling of N,
4% below the DMFT at N = 4000, while the e-folding time (15.6 at N = 2000, 15.4 at 4000) and Delta0 (within
2% at every N) have settled. This is the finite-size deficit documented for the gated RNN in
:mod:`dynagate.chaos`, not a missing term: the same operator with constant gates is exact.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from ..models.gru import GRU, refine
from .dmft import default_solver
from .gru import check_map
from .map_dmft import MapOptions, SampledMap, Site, initialiser_biases, periodic_map
from .montecarlo import circular_autocov, sample_paths

#: The GRU's Monte-Carlo settings are the shared :class:`~.map_dmft.MapOptions`.
GRUOptions = MapOptions


def _check(ensemble) -> GRU:
    return check_map(ensemble, GRU, "the GRU DMFT")


def _params(e: GRU) -> dict:
    names = ("g_r", "g_z", "g_n", "g_rf", "mu_r", "s_r", "mu_z", "s_z", "mu_n", "s_n", "mu_rf", "s_rf")
    return {k: float(getattr(e, k)) for k in names}


def _flags(e: GRU) -> tuple:
    return (e.reset == "after", bool(e.refine))


def _memory(e: GRU) -> float:
    return 1.0 / (1.0 + math.exp(-float(e.mu_z))) if e.update_init is None else 0.5


def _biases(key, e: GRU, p: dict, m: int) -> dict:
    k = jax.random.split(key, 4)
    b = {a: p[f"mu_{a}"] + p[f"s_{a}"] * jax.random.normal(kk, (m,)) for a, kk in zip(("r", "n", "rf"), k)}
    if e.update_init is None:
        b["z"] = p["mu_z"] + p["s_z"] * jax.random.normal(k[3], (m,))
    else:  # the N -> infinity law of the initialiser (UniformGateInit with d=None: logistic)
        b["z"] = initialiser_biases(k[3], e.update_init, m)
    return b


def _gate(z, rho, refined: bool):
    """(g, dg/dz, dg/drho) of the update gate (plain z, or the refined gate)."""
    if not refined:
        return z, jnp.ones_like(z), jnp.zeros_like(z)
    return refine(z, rho)


@functools.partial(jax.jit, static_argnames=("m", "flags"))
def _iterate(key, cs, b, p, m, flags):
    """One sampled evaluation of the DMFT map: the paths (n, m) and the re-estimated (C_h, C_rh)."""
    after, refined = flags
    c_h, c_rh = cs
    k = jax.random.split(key, 4)
    eta_r = sample_paths(k[0], p["g_r"] ** 2 * c_h, m).T
    eta_z = sample_paths(k[1], p["g_z"] ** 2 * c_h, m).T
    mm = sample_paths(k[2], p["g_n"] ** 2 * (c_h if after else c_rh), m).T
    r = jax.nn.sigmoid(b["r"] + eta_r)
    z = jax.nn.sigmoid(b["z"] + eta_z)
    rho = jax.nn.sigmoid(b["rf"] + sample_paths(k[3], p["g_rf"] ** 2 * c_h, m).T) if refined else None
    n = jnp.tanh(b["n"] + (r * mm if after else mm))
    g, dg_dz, dg_drho = _gate(z, rho, refined)
    h = periodic_map(g, (1.0 - g) * n)
    paths = {"h": h, "n": n, "r": r, "z": z, "m": mm, "g": g, "dg_dz": dg_dz, "dg_drho": dg_drho}
    if refined:
        paths["rho"] = rho
    est = {"cs": (circular_autocov(h.T), circular_autocov((r * h).T)), "mean_h": jnp.mean(h)}
    return paths, est


@functools.partial(jax.jit, static_argnames=("m", "flags"))
def _tangent(key, q, lam, paths, p, m, flags):
    """One sampled evaluation of the rescaled tangent map at growth rate lam per step:
    (Q_d, Q_u) -> the same re-estimated (module doc)."""
    after, refined = flags
    q_d, q_u = q
    k = jax.random.split(key, 4)
    xi_r = sample_paths(k[0], p["g_r"] ** 2 * q_d, m).T
    xi_z = sample_paths(k[1], p["g_z"] ** 2 * q_d, m).T
    xi_n = sample_paths(k[2], p["g_n"] ** 2 * (q_d if after else q_u), m).T
    h, n, r, z, g = paths["h"], paths["n"], paths["r"], paths["z"], paths["g"]
    dr = r * (1.0 - r)
    dn = (1.0 - n**2) * ((r * xi_n + paths["m"] * dr * xi_r) if after else xi_n)
    dg = paths["dg_dz"] * z * (1.0 - z) * xi_z
    if refined:
        rho = paths["rho"]
        dg = dg + paths["dg_drho"] * rho * (1.0 - rho) * sample_paths(k[3], p["g_rf"] ** 2 * q_d, m).T
    s = jnp.exp(-lam)
    d = periodic_map(s * g, s * ((1.0 - g) * dn + (h - n) * dg))
    # xi_r at the step a unit uses it (one draw per step, shared by delta n and, before, by u)
    u = r * d + h * dr * xi_r
    return circular_autocov(d.T), circular_autocov(u.T)


def _norm(q, flags) -> float:
    after = flags[0]
    return q[0][0] + (0.0 if after else q[1][0])


SITE = Site(
    method="gru-montecarlo", check=_check, params=_params, flags=_flags, biases=_biases, iterate=_iterate,
    tangent=_tangent, norm=_norm, memory=_memory, extra=("c_rh",), n_tangent_corr=2,
    samples=("h", "r", "z", "m", "n", "rho"),
)  # fmt: skip


class GRUMonteCarlo(SampledMap):
    """The sampled discrete-time DMFT of the GRU (module doc; settings in :class:`GRUOptions`): lags in
    steps, lambda_max per step, standard errors by batch means. ``lambda_max=False`` skips it (NaN)."""

    site = SITE


@default_solver.register(GRU)
def _(ensemble) -> GRUMonteCarlo:
    return GRUMonteCarlo()
