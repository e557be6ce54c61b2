r"""The discrete-time DMFT of the random GRU (:class:`~dynagate.GRU`, no input) by sampled single-site
paths, and its lambda_max per step.

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
:func:`dynagate.validate.gru_comparison`), Delta0 agrees within 1% and lambda_max is 1-7% below the DMFT in
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

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..models.gru import GRU, refine
from . import closed
from .dmft import DMFTResult, _curve_summary
from .gru import check_map
from .montecarlo import _DRIFT_T, _batch_se, circular_autocov, drift_test, power_lambda, sample_paths


@dataclasses.dataclass(frozen=True)
class GRUOptions:
    """Monte-Carlo settings: ``n_samples`` paths per iteration on a periodic grid of 2 ``n_lags`` steps
    (default: adaptive, from 64 steps, or 20 / (1 - sigma(mu_z)) for a slow update gate, growing by up to
    ``max_regrid`` doublings-to-octuplings while C_h has not decayed by ``n_lags``, at most ``max_lags``;
    past 128 lags the paths per iteration fall as 1 / n_lags, to at least 64: a longer path averages over
    more correlation times, and the cost per iteration stays that of 128 lags);
    ``n_burn`` iterations discarded, ``n_average`` averaged; ``n_tangent`` power steps for lambda_max after
    20 warm-up steps."""

    n_samples: int = 1000
    n_lags: int | None = None
    n_burn: int = 30
    n_average: int = 60
    n_tangent: int = 60
    max_regrid: int = 3
    max_lags: int = 4096

    def __post_init__(self):
        if self.n_average < 10:
            raise InputError(f"GRUOptions: n_average={self.n_average} must be at least 10")
        if self.n_lags is not None and (not isinstance(self.n_lags, int) or self.n_lags < 8):
            raise InputError(f"GRUOptions: n_lags must be an integer of at least 8, got {self.n_lags!r}")


def _check(ensemble) -> GRU:
    return check_map(ensemble, GRU, "the GRU DMFT")


def _params(e: GRU) -> dict:
    names = ("g_r", "g_z", "g_n", "g_rf", "mu_r", "s_r", "mu_z", "s_z", "mu_n", "s_n", "mu_rf", "s_rf")
    return {k: float(getattr(e, k)) for k in names}


def _biases(key, e: GRU, p: dict, m: int) -> dict:
    k = jax.random.split(key, 4)
    b = {a: p[f"mu_{a}"] + p[f"s_{a}"] * jax.random.normal(kk, (m,)) for a, kk in zip(("r", "n", "rf"), k)}
    if e.update_init is None:
        b["z"] = p["mu_z"] + p["s_z"] * jax.random.normal(k[3], (m,))
    else:  # the N -> infinity law of the initialiser (UniformGateInit with d=None: logistic)
        u = jax.random.uniform(k[3], (m,), minval=1e-12, maxval=1.0 - 1e-12)
        b["z"] = jnp.asarray(e.update_init.quantile(u))
    return b


def _periodic_map(coef, force):
    """The periodic solution of x_{k+1} = coef_k x_k + force_k around the grid ((n, m) arrays): one lap from
    0 gives x^0 and x^0_n; the start x_0 = x^0_n / (1 - prod coef) (module doc)."""

    def step(x, k):
        return k[0] * x + k[1], x

    last, xs = jax.lax.scan(step, jnp.zeros(force.shape[1:], force.dtype), (coef, force))
    logc = jnp.cumsum(jnp.log(jnp.clip(coef, 1e-300)), axis=0)
    before = jnp.concatenate([jnp.zeros_like(logc[:1]), logc[:-1]])  # log prod_{j<k} coef_j
    return xs + jnp.exp(before) * (last / (1.0 - jnp.exp(logc[-1])))


def _gate(z, rho, refined: bool):
    """(g, dg/dz, dg/drho) of the update gate (plain z, or the refined gate)."""
    if not refined:
        return z, jnp.ones_like(z), jnp.zeros_like(z)
    return refine(z, rho)


@functools.partial(jax.jit, static_argnames=("m", "after", "refined"))
def _iterate(key, c_h, c_rh, b, p, m, after, refined):
    """One sampled evaluation of the DMFT map: the paths (n, m) and the re-estimated correlations."""
    k = jax.random.split(key, 4)
    eta_r = sample_paths(k[0], p["g_r"] ** 2 * c_h, m).T
    eta_z = sample_paths(k[1], p["g_z"] ** 2 * c_h, m).T
    mm = sample_paths(k[2], p["g_n"] ** 2 * (c_h if after else c_rh), m).T
    r = jax.nn.sigmoid(b["r"] + eta_r)
    z = jax.nn.sigmoid(b["z"] + eta_z)
    rho = jax.nn.sigmoid(b["rf"] + sample_paths(k[3], p["g_rf"] ** 2 * c_h, m).T) if refined else None
    n = jnp.tanh(b["n"] + (r * mm if after else mm))
    g, dg_dz, dg_drho = _gate(z, rho, refined)
    h = _periodic_map(g, (1.0 - g) * n)
    paths = {"h": h, "n": n, "r": r, "z": z, "m": mm, "g": g, "dg_dz": dg_dz, "dg_drho": dg_drho}
    if refined:
        paths["rho"] = rho
    est = {"c_h": circular_autocov(h.T), "c_rh": circular_autocov((r * h).T), "mean_h": jnp.mean(h)}
    return paths, est


@functools.partial(jax.jit, static_argnames=("m", "after", "refined"))
def _tangent(key, q, lam, paths, p, m, after, refined):
    """One sampled evaluation of the rescaled tangent map at growth rate lam per step:
    (Q_d, Q_u) -> the same re-estimated (module doc)."""
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
    d = _periodic_map(s * g, s * ((1.0 - g) * dn + (h - n) * dg))
    # xi_r at the step a unit uses it (one draw per step, shared by delta n and, before, by u)
    u = r * d + h * dr * xi_r
    return circular_autocov(d.T), circular_autocov(u.T)


def _lag_grid(n_lags: int) -> np.ndarray:
    """Integer lags of a periodic grid of 2 ``n_lags`` steps (:func:`.closed.lag_grid` with step 1)."""
    return closed.lag_grid(n_lags, 1.0)[0]


def _paths(o: GRUOptions, n_lags: int) -> int:
    return max(64, min(o.n_samples, o.n_samples * 128 // n_lags))


def _start_lags(e: GRU, o: GRUOptions) -> int:
    if o.n_lags is not None:
        return o.n_lags
    z0 = 1.0 / (1.0 + math.exp(-float(e.mu_z))) if e.update_init is None else 0.5
    return int(min(max(64, 2 ** math.ceil(math.log2(20.0 / max(1.0 - z0, 1e-3)))), o.max_lags))


def solve(ensemble, *, key, options: GRUOptions = GRUOptions(), progress=None) -> dict:
    """The stationary single-site statistics by the sampled iteration (module doc)."""
    e, o = _check(ensemble), options
    p = _params(e)
    after, refined = e.reset == "after", bool(e.refine)
    n_lags = _start_lags(e, o)
    lags = _lag_grid(n_lags)
    c_h = jnp.asarray(0.5 * np.exp(-lags / 4.0))
    c_rh = 0.25 * c_h
    regrids, total = 0, o.n_burn + o.n_average

    def run(n_iter, c_h, c_rh, key, start):
        ests, m = [], _paths(o, n_lags)
        for i in range(n_iter):
            key, kb, ki = jax.random.split(key, 3)
            _, est = _iterate(ki, c_h, c_rh, _biases(kb, e, p, m), p, m, after, refined)
            c_h, c_rh = est["c_h"], est["c_rh"]
            ests.append(est)
            if progress is not None:
                progress(start + i + 1, total)
        return c_h, c_rh, key, ests

    def centred(c, mean):
        return np.asarray(c) - float(mean) ** 2

    stage = 0
    n_probe = min(max(10, o.n_burn // 3), o.n_burn)
    stages = (n_probe, o.n_burn - n_probe) if o.n_lags is None else (o.n_burn, 0)
    while stage < 2:
        c_h, c_rh, key, ests = run(stages[stage], c_h, c_rh, key, n_probe * stage)
        grow = o.n_lags is None and regrids < o.max_regrid and 2 * n_lags <= o.max_lags and ests
        if grow:
            c = np.mean([centred(x["c_h"], x["mean_h"]) for x in ests[-3:]], axis=0)[: n_lags + 1]
            ratio = closed.decay_ratio(c)
            grow = ratio > 0.07
        if not grow:
            stage += 1
            continue
        want = math.log(20) / -math.log(ratio) if 0 < ratio < 1 else 8.0  # to a decay ratio of 0.05
        factor = min(max(2 ** math.ceil(math.log2(want)), 2), 8)
        new = min(n_lags * factor, o.max_lags)
        new_lags = _lag_grid(new)
        c_h = jnp.asarray(np.interp(new_lags, lags[: n_lags + 1], np.asarray(c_h)[: n_lags + 1]))
        c_rh = jnp.asarray(np.interp(new_lags, lags[: n_lags + 1], np.asarray(c_rh)[: n_lags + 1]))
        n_lags, lags, regrids, stage = new, new_lags, regrids + 1, 0
    c_h, c_rh, key, ests = run(o.n_average, c_h, c_rh, key, o.n_burn)
    raw = np.array([np.asarray(x["c_h"]) for x in ests])
    means = np.array([float(x["mean_h"]) for x in ests])
    cen = raw - means[:, None] ** 2
    d0 = cen[:, 0]
    drift, se_half = drift_test(d0)
    key, kb, ki = jax.random.split(key, 3)
    m = _paths(o, n_lags)
    paths, _ = _iterate(ki, jnp.asarray(raw.mean(0)), jnp.asarray(np.mean([x["c_rh"] for x in ests], 0)),
                        _biases(kb, e, p, m), p, m, after, refined)  # fmt: skip
    return {
        "lags": lags, "n_lags": n_lags, "params": p, "c_h_raw": raw.mean(0),
        "c_rh": np.mean([np.asarray(x["c_rh"]) for x in ests], axis=0), "c_h": cen.mean(0),
        "c_h_se": np.array([_batch_se(c) for c in cen.T]), "mean_h": float(means.mean()),
        "delta0_se": _batch_se(d0), "drift": drift, "drift_se": se_half,
        "converged": bool(drift <= _DRIFT_T * se_half), "key": key, "regrids": regrids,
        "samples": {k: np.asarray(v[0]) for k, v in paths.items() if k in ("h", "r", "z", "m", "n", "rho")},
    }  # fmt: skip


def lambda_max(ensemble, sol: dict, *, key, options: GRUOptions = GRUOptions()) -> tuple[float, float]:
    """The sampled two-replica lambda_max per step (module doc) and its standard error."""
    e, o, p = _check(ensemble), options, sol["params"]
    after, refined, m = e.reset == "after", bool(e.refine), _paths(options, sol["n_lags"])
    c_h, c_rh = jnp.asarray(sol["c_h_raw"]), jnp.asarray(sol["c_rh"])

    def step(k, q, lam):
        kb, kp, kt = jax.random.split(k, 3)
        paths, _ = _iterate(kp, c_h, c_rh, _biases(kb, e, p, m), p, m, after, refined)
        new = _tangent(kt, q, lam, paths, p, m, after, refined)
        norm = new[0][0] + (0.0 if after else new[1][0])
        mu = float(norm / (q[0][0] + (0.0 if after else q[1][0])))
        return tuple(x / norm for x in new), mu

    q0 = (jnp.exp(-jnp.asarray(sol["lags"])),) * 2
    return power_lambda(step, q0, key=key, n_tangent=o.n_tangent, lam0=0.0)


def _static_result(e: GRU, sol: dict, message: str = "") -> DMFTResult:
    from .branches import branches

    br = branches(e)
    q = float(np.asarray(sol["c_h_raw"])[0])
    i = int(np.argmin(np.abs(np.asarray(br.delta_h) - q)))
    lam = br.decay(i, 0.05)[0]
    n = sol["n_lags"] + 1
    tau = np.asarray(sol["lags"])[:n]
    d0 = float(br.delta_h[i])
    msg = message or "the iteration settled on a fixed point of the static mean field"
    return DMFTResult(tau, np.full(n, d0), d0, lam, 0.0, -lam, "no_chaos", 0.0, "gru-montecarlo", message=msg)


@dataclasses.dataclass(frozen=True)
class GRUMonteCarlo:
    """The sampled discrete-time DMFT of the GRU (module doc; settings in :class:`GRUOptions`): lags in
    steps, lambda_max per step, standard errors by batch means. ``lambda_max=False`` skips it (NaN)."""

    options: GRUOptions | None = None
    lambda_max: bool = True

    def __call__(self, ensemble, key=None) -> DMFTResult:
        e = _check(ensemble)
        if key is None:
            raise InputError("dmft: the GRU solver samples paths; pass key=jax.random.PRNGKey(...)")
        o = self.options or GRUOptions()
        k1, k2 = jax.random.split(key)
        sol = solve(e, key=k1, options=o)
        raw = np.asarray(sol["c_h_raw"])
        if raw[0] < 1e-8 or raw[0] - raw[sol["n_lags"]] <= 1e-6 * raw[0]:  # zero or non-zero fixed point
            return _static_result(e, sol)
        lam, lam_se = lambda_max(e, sol, key=k2, options=o) if self.lambda_max else (math.nan, math.nan)
        if lam + 2 * lam_se < 0:  # perturbations of the sampled state decay: it is relaxing, not chaotic
            why = f"the sampled state is not chaotic (lambda_max {lam:.3g} +- {lam_se:.2g} per step < 0)"
            static = _static_result(e, sol, why + ": the static mean field's fixed point")
            if static.lambda_max < 0:  # a stable branch there: the answer
                return static
        n = sol["n_lags"] + 1
        tau, c = np.asarray(sol["lags"])[:n], np.asarray(sol["c_h"])[:n]
        se = np.asarray(sol["c_h_se"])[:n]
        corr_time, kappa = _curve_summary(tau, c)
        status, message = "converged", ""
        if not closed.decayed(c, se):
            status = "not_converged"
            message = (f"C_h has not decayed by {tau[-1]:g} steps after {sol['regrids']} grid extensions; "
                       "pass GRUOptions(n_lags=...) about twice as large")  # fmt: skip
        elif not sol["converged"]:
            status = "not_converged"
            message = (f"Delta0 still drifts: {sol['drift']:.3g} between the halves of the averaging window "
                       f"against a standard error {sol['drift_se']:.3g}; raise n_burn")  # fmt: skip
        return DMFTResult(
            tau, c, float(c[0]), float(lam), corr_time, kappa, status,
            float(sol["drift"] / max(sol["drift_se"], 1e-300)), "gru-montecarlo",
            correlations={"c_h_raw": raw[:n], "c_rh": np.asarray(sol["c_rh"])[:n]},
            stderr={"delta0": sol["delta0_se"], "lambda_max": lam_se, "c_h": se},
            message=message, statistics={"samples": sol["samples"]},
        )  # fmt: skip
