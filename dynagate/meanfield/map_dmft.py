r"""The sampled discrete-time DMFT of a gated map (the GRU, :mod:`.gru_dmft`; the LSTM, :mod:`.lstm_dmft`):
the engine both share. A model registers a :class:`Site`: its single-site step (the gates and the state
recursion driven by sampled Gaussian fields) and the tangent of that step; everything else is here.

Everything is per step: lags in steps, lambda_max in natural log per step.

**Iteration.** Given the correlations the fields need (C_h(tau) = E h_t h_{t + tau}, not centred, and any
other the model carries, e.g. the GRU's C_rh), the fields are drawn as M stationary periodic paths by
circulant embedding (:func:`.montecarlo.sample_paths`) on a grid of 2L steps; the model's linear memory
recursion x' = a x + b (the GRU's h, the LSTM's cell c) is solved around the period exactly
(:func:`periodic_map`), and the correlations are re-estimated as circular autocovariances averaged over
the paths. The iteration starts from C_h = 0.5 e^{-|tau| / 4}, runs ``n_burn`` iterations and averages
``n_average`` more, with batch-means standard errors and the drift test of :mod:`.montecarlo`; the grid
grows while C_h has not decayed by L lags.

**lambda_max.** The model's tangent step maps the covariances of the rescaled tangent (delta x_t =
e^{lambda t} d_t) to themselves; for fixed lambda the map is linear and positive, and lambda_max is where
its top eigenvalue is 1 (:func:`.montecarlo.power_lambda`).

**Static states.** A constant C_h is a fixed point of the static mean field (:mod:`.branches`): reported as
"no_chaos" with that branch's Q (E h^2) and, as lambda_max, the log of its RMT spectral radius. So is a
sampled state whose lambda_max is negative beyond two standard errors (still relaxing onto a fixed point)
when the nearest static branch is stable; otherwise the result is "not_converged", with the reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, check_key
from . import closed
from .dmft import DMFTResult, _curve_summary
from .montecarlo import _DRIFT_T, _batch_se, drift_test, power_lambda


@dataclasses.dataclass(frozen=True)
class MapOptions:
    """Monte-Carlo settings: ``n_samples`` paths per iteration on a periodic grid of 2 ``n_lags`` steps
    (default: adaptive, from 64 steps, or 20 / (1 - a) for a slow memory gate a = sigma(bias mean) (update
    gate of the GRU, forget gate of the LSTM), growing by up to ``max_regrid`` doublings-to-octuplings
    while C_h has not decayed by ``n_lags``, at most ``max_lags``; past 128 lags the paths per iteration
    fall as 1 / n_lags, to at least 64: a longer path averages over more correlation times, and the cost
    per iteration stays that of 128 lags); ``n_burn`` iterations discarded, ``n_average`` averaged;
    ``n_tangent`` power steps for lambda_max after 20 warm-up steps."""

    n_samples: int = 1000
    n_lags: int | None = None
    n_burn: int = 30
    n_average: int = 60
    n_tangent: int = 60
    max_regrid: int = 3
    max_lags: int = 4096

    def __post_init__(self):
        if self.n_average < 10:
            raise InputError(f"MapOptions: n_average={self.n_average} must be at least 10")
        if self.n_lags is not None and (not isinstance(self.n_lags, int) or self.n_lags < 8):
            raise InputError(f"MapOptions: n_lags must be an integer of at least 8, got {self.n_lags!r}")


@dataclasses.dataclass(frozen=True)
class Site:
    """A gated map's single-site problem for the engine.

    * ``check(e)``: the ensemble, or an InputError; ``params(e)``: its hyperparameters as floats;
      ``flags(e)``: the static (hashable) options of the jitted steps;
    * ``biases(key, e, p, m)``: the biases of ``m`` sampled units (dict of (m,) arrays);
    * ``iterate(key, cs, b, p, m, flags)`` (jitted): the paths ((n, m) arrays, with "h") and
      ``{"cs": the re-estimated correlations, "mean_h"}``; ``cs[0]`` is C_h, then ``extra`` (their names);
    * ``tangent(key, qs, lam, paths, p, m, flags)`` (jitted): the tangent covariances re-estimated at
      growth rate ``lam`` per step; ``norm(qs, flags)`` their scale (0-lag values that matter);
      ``n_tangent_corr`` how many;
    * ``memory(e)``: the typical memory-gate value (for the starting grid);
    * ``samples``: the path names kept as the equal-time single-site law (:func:`.sitelaw.dmft_stats`).
    """

    method: str
    check: Callable
    params: Callable
    flags: Callable
    biases: Callable
    iterate: Callable
    tangent: Callable
    norm: Callable
    memory: Callable
    extra: tuple[str, ...] = ()
    n_tangent_corr: int = 1
    samples: tuple[str, ...] = ("h",)


def initialiser_biases(key, law, m: int):
    """``m`` biases from a gate initialiser's N -> infinity law (UniformGateInit, ChronoInit) through its
    quantile function."""
    u = jax.random.uniform(key, (m,), minval=1e-12, maxval=1.0 - 1e-12)
    return jnp.asarray(law.quantile(np.asarray(u)))


def periodic_map(coef, force, logcoef=None):
    """The periodic solution of x_{k+1} = coef_k x_k + force_k around the grid ((n, m) arrays): one lap from
    0 gives x^0 and x^0_n; the start x_0 = x^0_n / (1 - prod coef). ``logcoef`` (log coef, if known more
    accurately than the log of coef, e.g. a gate near 1) sets the product."""

    def step(x, k):
        return k[0] * x + k[1], x

    last, xs = jax.lax.scan(step, jnp.zeros(force.shape[1:], force.dtype), (coef, force))
    logc = jnp.cumsum(jnp.log(jnp.clip(coef, 1e-300)) if logcoef is None else logcoef, axis=0)
    before = jnp.concatenate([jnp.zeros_like(logc[:1]), logc[:-1]])  # log prod_{j<k} coef_j
    return xs + jnp.exp(before) * (last / -jnp.expm1(logc[-1]))


def lag_grid(n_lags: int) -> np.ndarray:
    """Integer lags of a periodic grid of 2 ``n_lags`` steps (:func:`.closed.lag_grid` with step 1)."""
    return closed.lag_grid(n_lags, 1.0)[0]


def _paths(o: MapOptions, n_lags: int) -> int:
    return max(64, min(o.n_samples, o.n_samples * 128 // n_lags))


def _start_lags(memory: float, o: MapOptions) -> int:
    if o.n_lags is not None:
        return o.n_lags
    return int(min(max(64, 2 ** math.ceil(math.log2(20.0 / max(1.0 - memory, 1e-3)))), o.max_lags))


def solve(site: Site, ensemble, *, key, options: MapOptions = MapOptions(), progress=None) -> dict:
    """The stationary single-site statistics by the sampled iteration (module doc)."""
    e, o = site.check(ensemble), options
    p, fl = site.params(e), site.flags(e)
    n_lags = _start_lags(site.memory(e), o)
    lags = lag_grid(n_lags)
    c_h = jnp.asarray(0.5 * np.exp(-lags / 4.0))
    cs = (c_h,) + (0.25 * c_h,) * len(site.extra)
    regrids, total = 0, o.n_burn + o.n_average

    def run(n_iter, cs, key, start):
        ests, m = [], _paths(o, n_lags)
        for i in range(n_iter):
            key, kb, ki = jax.random.split(key, 3)
            _, est = site.iterate(ki, cs, site.biases(kb, e, p, m), p, m, fl)
            cs = est["cs"]
            ests.append(est)
            if progress is not None:
                progress(start + i + 1, total)
            if float(cs[0][0]) < 1e-12:  # the fields died out: the zero fixed point
                break
        return cs, key, ests

    def centred(est):
        return np.asarray(est["cs"][0]) - float(est["mean_h"]) ** 2

    stage = 0
    n_probe = min(max(10, o.n_burn // 3), o.n_burn)
    stages = (n_probe, o.n_burn - n_probe) if o.n_lags is None else (o.n_burn, 0)
    while stage < 2:
        cs, key, ests = run(stages[stage], cs, key, n_probe * stage)
        if float(cs[0][0]) < 1e-12:  # nothing left to average
            return {"lags": lags, "n_lags": n_lags, "params": p, "cs": tuple(map(np.asarray, cs))}
        grow = o.n_lags is None and regrids < o.max_regrid and 2 * n_lags <= o.max_lags and ests
        if grow and len(ests) > 3:  # not while the fields die out (C_h(0) halving within three iterations)
            grow = float(ests[-1]["cs"][0][0]) > 0.5 * float(ests[-4]["cs"][0][0])
        if grow:
            c = np.mean([centred(x) for x in ests[-3:]], axis=0)[: n_lags + 1]
            ratio = closed.decay_ratio(c)
            grow = ratio > 0.07
        if not grow:
            stage += 1
            continue
        want = math.log(20) / -math.log(ratio) if 0 < ratio < 1 else 8.0  # to a decay ratio of 0.05
        factor = min(max(2 ** math.ceil(math.log2(want)), 2), 8)
        new = min(n_lags * factor, o.max_lags)
        new_lags = lag_grid(new)
        old = lags[: n_lags + 1]
        cs = tuple(jnp.asarray(np.interp(new_lags, old, np.asarray(c)[: n_lags + 1])) for c in cs)
        n_lags, lags, regrids, stage = new, new_lags, regrids + 1, 0
    cs, key, ests = run(o.n_average, cs, key, o.n_burn)
    raw = np.array([np.asarray(x["cs"][0]) for x in ests])
    means = np.array([float(x["mean_h"]) for x in ests])
    cen = raw - means[:, None] ** 2
    d0 = cen[:, 0]
    drift, se_half = drift_test(d0)
    mean_cs = tuple(np.mean([np.asarray(x["cs"][j]) for x in ests], axis=0) for j in range(len(cs)))
    key, kb, ki = jax.random.split(key, 3)
    m = _paths(o, n_lags)
    paths, _ = site.iterate(ki, tuple(map(jnp.asarray, mean_cs)), site.biases(kb, e, p, m), p, m, fl)
    return {
        "lags": lags, "n_lags": n_lags, "params": p, "cs": mean_cs, "c_h": cen.mean(0),
        "c_h_se": np.array([_batch_se(c) for c in cen.T]), "mean_h": float(means.mean()),
        "delta0_se": _batch_se(d0), "drift": drift, "drift_se": se_half,
        "converged": bool(drift <= _DRIFT_T * se_half), "key": key, "regrids": regrids,
        "samples": {k: np.asarray(v[0]) for k, v in paths.items() if k in site.samples},
    }  # fmt: skip


def lambda_max(site: Site, ensemble, sol: dict, *, key, options: MapOptions = MapOptions()) -> tuple:
    """The sampled two-replica lambda_max per step (module doc) and its standard error."""
    e, o, p = site.check(ensemble), options, sol["params"]
    fl, m = site.flags(e), _paths(options, sol["n_lags"])
    cs = tuple(map(jnp.asarray, sol["cs"]))

    def step(k, q, lam):
        kb, kp, kt = jax.random.split(k, 3)
        paths, _ = site.iterate(kp, cs, site.biases(kb, e, p, m), p, m, fl)
        new = site.tangent(kt, q, lam, paths, p, m, fl)
        norm = site.norm(new, fl)
        mu = float(norm / site.norm(q, fl))
        return tuple(x / norm for x in new), mu

    q0 = (jnp.exp(-jnp.asarray(sol["lags"])),) * site.n_tangent_corr
    return power_lambda(step, q0, key=key, n_tangent=o.n_tangent, lam0=0.0)


def _static_result(e, sol: dict, method: str, message: str = "") -> DMFTResult:
    from .branches import branches

    br = branches(e)
    q = float(np.asarray(sol["cs"][0])[0])
    i = int(np.argmin(np.abs(np.asarray(br.delta_h) - q)))
    lam = br.decay(i, 0.05)[0]
    n = sol["n_lags"] + 1
    tau = np.asarray(sol["lags"])[:n]
    d0 = float(br.delta_h[i])
    msg = message or "the iteration settled on a fixed point of the static mean field"
    return DMFTResult(tau, np.full(n, d0), d0, lam, 0.0, -lam, "no_chaos", 0.0, method, message=msg)


@dataclasses.dataclass(frozen=True)
class SampledMap:
    """The sampled discrete-time DMFT of a gated map (module doc; settings in :class:`MapOptions`): lags in
    steps, lambda_max per step, standard errors by batch means. ``lambda_max=False`` skips it (NaN).
    Subclasses set ``site``."""

    options: MapOptions | None = None
    lambda_max: bool = True
    site: ClassVar[Site]

    def __call__(self, ensemble, key=None) -> DMFTResult:
        site = self.site
        e = site.check(ensemble)
        if key is None:
            name = type(e).__name__
            raise InputError(f"dmft: the {name} solver samples paths; pass key=jax.random.PRNGKey(...)")
        key = check_key("dmft", key)
        o = self.options or MapOptions()
        k1, k2 = jax.random.split(key)
        sol = solve(site, e, key=k1, options=o)
        raw = np.asarray(sol["cs"][0])
        if raw[0] < 1e-8 or raw[0] - raw[sol["n_lags"]] <= 1e-6 * raw[0]:  # zero or non-zero fixed point
            return _static_result(e, sol, site.method)
        lam, lam_se = lambda_max(site, e, sol, key=k2, options=o) if self.lambda_max else (math.nan, math.nan)
        relaxing = lam + 2 * lam_se < 0  # perturbations of the sampled state decay: it is not chaotic
        why = f"the sampled state is not chaotic (lambda_max {lam:.3g} +- {lam_se:.2g} per step < 0)"
        if relaxing:
            static = _static_result(e, sol, site.method, why + ": the static mean field's fixed point")
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
                       "pass MapOptions(n_lags=...) about twice as large")  # fmt: skip
        elif not sol["converged"]:
            status = "not_converged"
            message = (f"Delta0 still drifts: {sol['drift']:.3g} between the halves of the averaging window "
                       f"against a standard error {sol['drift_se']:.3g}; raise n_burn")  # fmt: skip
        if relaxing and status == "converged":
            status, message = "not_converged", why + " and no stable static branch lies near it"
        extra = {k: np.asarray(v)[:n] for k, v in zip(site.extra, sol["cs"][1:])}
        correlations = {"c_h_raw": raw[:n]} | extra
        return DMFTResult(
            tau, c, float(c[0]), float(lam), corr_time, kappa, status,
            float(sol["drift"] / max(sol["drift_se"], 1e-300)), site.method, correlations=correlations,
            stderr={"delta0": sol["delta0_se"], "lambda_max": lam_se, "c_h": se},
            message=message, statistics={"samples": sol["samples"]},
        )  # fmt: skip
