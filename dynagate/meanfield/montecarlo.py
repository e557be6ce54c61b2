r"""The general DMFT of the gated RNN by sampled single-site paths (any alpha_z), and its lambda_max.

**Iteration** (THEORY.md 6; Eissfeller & Opper 1992). The fields eta_h, eta_z, eta_r of the single-site
process are Gaussian and independent, with autocovariances g_h^2 C_sigma_r C_phi, g_z^2 C_phi and
g_r^2 C_phi; z and r are their low-pass filters (Gaussian), but h, driven through sigma_z(z), is not. r
never enters the h equation except through eta_h's covariance, and r is independent of h, so
C_sigma_r follows from C_r by Gaussian quadrature and only C_phi has to be sampled. Given C_phi:

1. draw M stationary paths of z (spectrum g_z^2 S_phi / (1 + omega^2 tau_z^2)) and eta_h (covariance
   g_h^2 C_sigma_r C_phi) on a periodic grid of period 2 t_max by circulant embedding, and b ~ N(mu_b, s_b^2);
2. integrate dh/dt = sigma_z(z) (-h + eta_h + b) around the period with the exponential midpoint rule
   (exact for constant coefficients, second order in dt), starting from the exact periodic start (the
   equation is linear in h: a lap maps h0 to P h0 + Q);
3. estimate C_phi (and C_h) as the circular autocorrelation averaged over the M paths (FFT);
4. C_phi <- (1 - damping) C_phi + damping * estimate.

The iteration starts from the closed alpha_z = 0 solution (:mod:`.closed`) and runs ``n_burn``
iterations, then averages ``n_average`` more. Each estimate uses fresh paths, but consecutive iterates are
correlated through C_phi, so standard errors are batch means over blocks of iterations. Status
"converged" if the means of the two halves of the averaging window agree for Delta0 within the 3-sigma
Student-t bound of their batch-means errors (8 degrees of freedom: 4.28 combined standard errors), otherwise
"not_converged" (still drifting: raise n_burn).

**lambda_max** (two replicas by sampling, derived here). Tangent dynamics of the network (every term):

    delta h_i' = sigma_z(z_i) [-delta h_i + delta eta_h,i] + sigma_z'(z_i) a_i delta z_i,
    a_i = -h_i + eta_h,i + b_i  (the bracket of the h equation; a = h'/sigma_z, not 0 in the chaotic state),
    tau_z delta z_i' = -delta z_i + delta eta_z,i,   tau_r delta r_i' = -delta r_i + delta eta_r,i,
    delta eta_h = J^h u, u_j = sigma_r(r_j) phi'(h_j) delta h_j + sigma_r'(r_j) phi(h_j) delta r_j,
    delta eta_{z,r} = J^{z,r} (phi' delta h).

Terms: (i) the prefactor sigma_z(z_i(t)) multiplies both the decay and the drive of delta h, so slow units
(sigma_z ~ 0) neither forget nor receive a perturbation; (ii) the delta-z coupling sigma_z'(z) a delta z
changes a unit's speed along its current velocity; (iii) the delta-r coupling enters through u. At
N -> infinity the tangent fields delta eta are Gaussian (sums over j of weights independent of unit i's own
terms, as in the state's cavity argument) with covariances g_h^2 <u u'> and g_{z,r}^2 <phi' dh phi' dh'>.
Their cross-covariances with the state fields, e.g. <eta_h delta eta_h> = g_h^2 <sigma_r phi u>, vanish:
the tangent is linear in the perturbation, whose sign is random, so every average of one state factor
and one tangent factor is odd and zero; and delta z is built by J^z, independent of J^h, so it is
independent of a (a network at alpha_z = 5, beta_z = 0, g_h = 4, N = 1000 gives corr(delta z, z) = 0.008
and E[(sigma_z' a delta z)^2] = E[(sigma_z' a)^2] E[delta z^2] to 2%). The two-replica covariance then
closes on itself: the perturbation grows as e^{lambda t}: with delta = e^{lambda t} d, the rescaled d is
stationary, d h' = -(sigma_z + lambda) d h + sigma_z d eta_h + sigma_z' a d z, tau_z (d z' + lambda d z) =
-d z + d eta_z, etc. For fixed lambda the map (covariances of u and phi' dh) -> (the same, re-estimated
from sampled tangent paths on sampled state paths) is linear and positive; lambda_max is where its top
eigenvalue mu(lambda) is 1. mu is found by power iteration (re-normalising), lambda by damped Newton steps
on log mu. At alpha_z = 0 this is the operator of :func:`.closed.lambda_max` (tests/test_dmft.py compares
the two).

**What was wrong before (and how it was found).** The predicted lambda_max rose with alpha_z at beta_z = 0
(g_h = 4: 0.056, 0.089, 0.158 at alpha_z = 0, 2, 5) while simulated networks fell (0.05, 0.04, 0.02-0.03).
A knock-out test located it: removing the delta-z coupling in both (``stop_gradient`` on z in
sigma_z(z) a in the network's tangent; dropping the term here) gave 0.015 (network) and 0.018 (DMFT), in
agreement; so the delta-z term was mistreated, not the state. Its weight E[a^2] was 7.8 in the sampled
paths against 0.21 in the network, and the paths had cov(h, eta_h) = -1.9: the exponential integrator of
:func:`_periodic` had the sign of its force term reversed, so h relaxed towards -(eta_h + b). The state
statistics at zero input are blind to it (the law of eta_h is symmetric, so h -> -h leaves C_h, C_phi
unchanged; with an input the mean came out -mu_b), and so is the alpha_z = 0 tangent (sigma_z' = 0,
and the tangent covariances are even); only a = -h + eta_h + b, about 2 eta_h instead of a small residual,
saw it, 35 times too large in E[a^2]. With the sign fixed (and the grid long enough for the slow C_h,
below): alpha_z = 5, beta_z = 0, g_h = 4 gives lambda_max = 0.033 +- 0.0005 (t_max = 600).

**Grid.** The periodic grid of period 2 t_max must hold the whole decay of C_h, whose correlation time
grows with alpha_z (113 time units at alpha_z = 5, beta_z = 0, g_h = 4, against 13 at alpha_z = 0): with
``Options.t_max=None`` the grid grows until it does (:class:`Options`), otherwise the status says
"not_converged" and what to raise.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from . import closed


def sample_paths(key, c, m: int, transfer=None):
    """``m`` stationary Gaussian paths with periodic autocovariance ``c`` (n,) by circulant embedding, drawn
    in the frequency domain: the real FFT of unit white noise has independent coefficients, N(0, n) at
    frequency 0 (and n / 2), complex with N(0, n / 2) parts elsewhere; scaled by the square root of the
    spectrum (times ``transfer`` on the real-FFT frequencies, a linear filter, if given) and transformed
    back. Returns (m, n)."""
    n = c.shape[0]
    k = n // 2 + 1
    s = jnp.sqrt(jnp.clip(jnp.fft.rfft(c).real, 0.0))
    edge = np.zeros(k, bool)
    edge[0] = True
    edge[-1] = n % 2 == 0
    w = jax.random.normal(key, (2, m, k), jnp.float32).astype(s.dtype)  # float32 draws: 1.7x faster
    re = w[0] * jnp.asarray(np.where(edge, math.sqrt(n), math.sqrt(n / 2)), s.dtype)
    im = w[1] * jnp.asarray(np.where(edge, 0.0, math.sqrt(n / 2)), s.dtype)
    f = jax.lax.complex(re * s, im * s)
    if transfer is not None:
        f = f * transfer
    return jnp.fft.irfft(f, n=n, axis=-1)


def circular_autocov(x):
    """Mean over rows of the circular autocovariance of each row (n,)."""
    n = x.shape[-1]
    f = jnp.fft.rfft(x, axis=-1)
    return jnp.fft.irfft(jnp.mean(f.real**2 + f.imag**2, axis=0), n=n) / n


def _periodic(rate, force, dt):
    """The periodic solution of dx/dt = -rate x + force around the grid (rate, force: (n, m)), both frozen
    at their step midpoints (exact for constant coefficients, second order): x <- x e^y + f dt phi_1(y),
    y = -r dt, phi_1(y) = (e^y - 1) / y. One lap from 0 gives x_k^0 and x(T) = Q; the step is linear, so a
    start x0 gives x_k = x_k^0 + A_k x0, A_k = exp(-dt sum_{j<k} r_j) (carried through the same scan as a
    running product), and the periodic start is x0 = Q / (1 - A_n). (Two laps from an arbitrary x0 would
    leave a slow unit, sum rate dt ~ 1, remembering its start.)"""
    r = 0.5 * (rate + jnp.roll(rate, -1, 0))
    y = -r * dt
    em1 = jnp.expm1(y)
    phi1 = jnp.where(y == 0, 1.0, em1 / jnp.where(y == 0, 1.0, y))  # expm1 keeps (e^y - 1) / y exact
    drive = 0.5 * (force + jnp.roll(force, -1, 0)) * dt * phi1

    def step(carry, k):
        x, a = carry
        return (x * k[0] + k[1], a * k[0]), (x, a)

    start = jnp.zeros(force.shape[1:], force.dtype)
    (q, _), (xs, a) = jax.lax.scan(step, (start, start + 1.0), (1.0 + em1, drive))
    return xs + a * (q / -jnp.expm1(-dt * jnp.sum(r, axis=0)))


def _lowpass_transfer(omega, tau, lam=0.0):
    """The periodic solution of tau (x_f' + lam x_f) = -x_f + x as a filter: 1 / (1 + lam tau + i omega tau)
    on the real-FFT frequencies (the first n // 2 + 1 entries of ``omega``, made non-negative)."""
    w = jnp.abs(omega[: omega.shape[0] // 2 + 1])
    return 1.0 / jax.lax.complex(jnp.full_like(w, 1.0 + lam * tau), w * tau)


def _gates_r(p) -> bool:
    """Whether the reset gate varies (alpha_r != 0); if not, its paths are not sampled (sigma_r constant)."""
    return p["sr"][0] != 0.0


def _draw(key, c_phi, omega, dt, p, m, gate_r):
    """Sampled state paths (n, m) at C_phi (r paths zero unless ``gate_r``), with C_r and C_sigma_r."""
    kz, kh, kb, kr = jax.random.split(key, 4)
    c_r = closed.lowpass(p["g_r"] ** 2 * c_phi, omega, p["tau_r"])
    c_sr = closed.gauss_corr(closed.sigmoid, c_r, c_r[0], 0.0, p["sr"])
    z = sample_paths(kz, closed.lowpass(p["g_z"] ** 2 * c_phi, omega, p["tau_z"]), m).T
    eta = sample_paths(kh, p["g_h"] ** 2 * c_sr * c_phi, m).T
    b = p["mu_b"] + p["s_b"] * jax.random.normal(kb, (m,))
    sz = closed.sigmoid(z, p["sz"])
    h = _periodic(sz, sz * (eta + b), dt)
    r = sample_paths(kr, c_r, m).T if gate_r else jnp.zeros_like(h)
    return {"h": h, "z": z, "r": r, "a": -h + eta + b}, c_r, c_sr


@functools.partial(jax.jit, static_argnames=("m", "gate_r"))
def _iterate(key, c_phi, omega, dt, p, m, gate_r=True):
    """One sampled evaluation of the DMFT map: paths (n, m) and the re-estimated correlations."""
    paths, c_r, c_sr = _draw(key, c_phi, omega, dt, p, m, gate_r)
    h = paths["h"]
    est = {"c_phi": circular_autocov(jnp.tanh(h).T), "c_h": circular_autocov((h - jnp.mean(h)).T),
           "mean_h": jnp.mean(h), "c_r": c_r, "c_sr": c_sr}  # fmt: skip
    return paths, est


def _tangent(key, q, lam, paths, omega, dt, p, m, gate_r=True):
    """One sampled evaluation of the (rescaled) tangent map at growth rate lam: q = (q_u, q_p) -> new q."""
    kh, kz, kr = jax.random.split(key, 3)
    q_u, q_p = q
    d_eta = sample_paths(kh, p["g_h"] ** 2 * q_u, m).T
    dz = sample_paths(kz, p["g_z"] ** 2 * q_p, m, _lowpass_transfer(omega, p["tau_z"], lam)).T
    if gate_r:
        dr = sample_paths(kr, p["g_r"] ** 2 * q_p, m, _lowpass_transfer(omega, p["tau_r"], lam)).T
    else:
        dr = jnp.zeros_like(dz)
    h, z, r, a = paths["h"], paths["z"], paths["r"], paths["a"]
    sz = closed.sigmoid(z, p["sz"])
    force = sz * d_eta + closed.sigmoid_prime(z, p["sz"]) * a * dz
    dh = _periodic(sz + lam, force, dt)
    phi, dphi = jnp.tanh(h), 1.0 - jnp.tanh(h) ** 2
    u = closed.sigmoid(r, p["sr"]) * dphi * dh + closed.sigmoid_prime(r, p["sr"]) * phi * dr
    return circular_autocov(u.T), circular_autocov((dphi * dh).T)


@functools.partial(jax.jit, static_argnames=("m", "gate_r"))
def _power_step(key, q, lam, c_phi, omega, dt, p, m, gate_r=True):
    """Fresh state paths at C_phi and the tangent map on them, in one compiled call (the paths never leave
    it: 8% faster per power step at 9600 x 500 than returning them to a second call)."""
    kp, kt = jax.random.split(key)
    return _tangent(kt, q, lam, _draw(kp, c_phi, omega, dt, p, m, gate_r)[0], omega, dt, p, m, gate_r)


#: Student-t quantile for the drift test: 3 sigma (two-sided 0.27%) with the 8 degrees of freedom of two
#: batch-means errors of 5 batches each (a normal 3 would flag about 2% of stationary runs).
_DRIFT_T = 4.28


def _batch_se(x, n_batches: int = 5) -> float:
    """Standard error of the mean of a correlated sequence by batch means (NaN below one value per batch)."""
    x = np.asarray(x, float)
    k = len(x) // n_batches
    if k == 0:
        return math.nan
    means = x[: k * n_batches].reshape(n_batches, k).mean(axis=1)
    return float(means.std(ddof=1) / math.sqrt(n_batches))


def drift_test(d0) -> tuple[float, float]:
    """(|difference of the means of the two halves|, its batch-means standard error) of a sequence of
    Delta0 iterates: converged when the drift is within :data:`_DRIFT_T` standard errors."""
    d0 = np.asarray(d0, float)
    half = len(d0) // 2
    return abs(d0[:half].mean() - d0[half:].mean()), math.hypot(_batch_se(d0[:half]), _batch_se(d0[half:]))


@dataclasses.dataclass(frozen=True)
class Options:
    """Monte-Carlo settings: ``n_samples`` paths per iteration on a periodic grid of period 2 ``t_max``
    (time units of tau_h) and step ``dt``; ``n_burn`` iterations discarded, ``n_average`` averaged; the
    tangent problem uses ``n_tangent`` power steps after 20 warm-up steps.

    ``t_max=None`` (default) adapts the grid: it starts at 60 / sigma_z0 (sigma_z0 = 1 / (1 + e^beta_z))
    and, while C_h has not decayed by t_max (:func:`.closed.decayed`) after a probe burn-in of n_burn / 3
    iterations or after the rest of the burn-in, grows t_max (up to ``max_regrid`` times, each time by the
    factor the observed decay asks for, 2 to 8) and burns in again from the interpolated C_phi; the step
    grows with it to keep at most ``max_points`` grid points, but never beyond ``max_dt`` (then the grid
    grows instead). An explicit ``t_max`` is used as given."""

    n_samples: int = 500
    t_max: float | None = None
    dt: float = 0.05
    damping: float = 1.0
    n_burn: int = 30
    n_average: int = 60
    n_tangent: int = 50
    max_regrid: int = 3
    max_points: int = 4800
    max_dt: float = 0.2

    def __post_init__(self):
        if self.n_average < 10:  # two halves of 5 batch means each, for the drift test
            raise InputError(f"montecarlo.Options: n_average={self.n_average} must be at least 10")


def default_t_max(o: Options, p: dict) -> float:
    return o.t_max if o.t_max is not None else 60.0 / p["sz0"]


def _regrid(t_max: float, dt: float, ratio: float, o: Options) -> tuple[float, float]:
    """A longer grid for a C_h whose decay ratio is ``ratio`` (e^{-kappa t_max / 2} for C_h ~ e^{-kappa t}):
    the factor that brings it to 0.05, clipped to [2, 8]; the step grows to keep ``max_points``."""
    factor = 8.0 if not 0 < ratio < 1 else min(max(math.log(20.0) / -math.log(ratio), 2.0), 8.0)
    t_new = t_max * factor
    return t_new, max(dt, min(2 * t_new / o.max_points, o.max_dt))


def _interp_periodic(c, lags_old, lags_new):
    """A periodic autocovariance moved to a new lag grid: linear in the lag, held at its last value beyond
    the old t_max."""
    half = lags_old.size // 2 + 1
    return np.interp(lags_new, lags_old[:half], np.asarray(c)[:half])


def solve(ensemble, *, key, options: Options = Options(), init: dict | None = None, progress=None) -> dict:
    """The stationary single-site statistics by the sampled iteration (module doc). ``init``: a
    :func:`.closed.solve` result to start from (default: the alpha_z = 0 solution of the same ensemble on
    the starting grid). The grid adapts while ``options.t_max`` is None (:class:`Options`); the result
    records the grid used (``t_max``, ``dt``, ``regrids``)."""
    o = options
    p = closed._params(ensemble)
    t_max, dt = default_t_max(o, p), o.dt
    if init is None:
        init = closed.solve(ensemble.replace(alpha_z=0.0), t_max=t_max, dt=dt, tol=1e-8)
    lags, omega = closed.lag_grid(t_max, dt)
    if init["lags"].shape != lags.shape:
        raise ValueError("init was solved on a different lag grid")
    c_phi = jnp.asarray(init["c_phi"])
    regrids, total = 0, o.n_burn + o.n_average

    def run(n_iter, c_phi, key, start):
        """``n_iter`` damped iterations of the sampled map: the new C_phi, key and the estimates."""
        ests = []
        for i in range(n_iter):
            key, sub = jax.random.split(key)
            _, est = _iterate(sub, c_phi, jnp.asarray(omega), dt, p, o.n_samples, _gates_r(p))
            c_phi = (1 - o.damping) * c_phi + o.damping * est["c_phi"]
            ests.append(est)
            if progress is not None:
                progress(start + i + 1, total)
        return c_phi, key, ests

    def short_grid_ratio(ests):
        """The decay ratio of C_h if the adaptive grid should grow (above 0.07, below the final 0.1 of
        :func:`.closed.decayed`: hysteresis), else None."""
        if o.t_max is not None or regrids >= o.max_regrid or not ests:
            return None
        ratio = closed.decay_ratio(np.mean([e["c_h"] for e in ests[-3:]], axis=0)[: lags.size // 2 + 1])
        return ratio if ratio > 0.07 else None

    # burn-in in two stages, a probe (a third of n_burn, at least 10, on an adaptive grid) and the rest;
    # after either, a C_h that has not decayed within t_max grows the grid and the burn-in starts again
    n_probe = min(max(10, o.n_burn // 3), o.n_burn) if o.t_max is None else o.n_burn
    stages, stage = (n_probe, o.n_burn - n_probe), 0
    while stage < 2:
        c_phi, key, ests = run(stages[stage], c_phi, key, n_probe * stage)
        ratio = short_grid_ratio(ests)
        if ratio is None:
            stage += 1
            continue
        t_max, dt = _regrid(t_max, dt, ratio, o)
        new_lags, omega = closed.lag_grid(t_max, dt)
        c_phi = jnp.asarray(_interp_periodic(c_phi, lags, new_lags))
        lags, regrids, stage = new_lags, regrids + 1, 0
    om = jnp.asarray(omega)
    c_phi, key, ests = run(o.n_average, c_phi, key, o.n_burn)
    keep = {name: [np.asarray(e[name]) for e in ests] for name in ("c_h", "c_phi", "mean_h", "c_r", "c_sr")}
    arr = {name: np.array(v) for name, v in keep.items()}
    d0 = arr["c_h"][:, 0]
    drift, se_half = drift_test(d0)
    out = {name: v.mean(axis=0) for name, v in arr.items()}
    out |= {
        "lags": lags, "omega": omega, "params": p, "c_h_se": np.array([_batch_se(c) for c in arr["c_h"].T]),
        "delta0_se": _batch_se(d0), "drift": drift, "drift_se": se_half,
        "converged": bool(drift <= _DRIFT_T * se_half), "key": key, "t_max": t_max, "dt": dt,
        "regrids": regrids,
    }  # fmt: skip
    out["c_z"] = np.asarray(closed.lowpass(p["g_z"] ** 2 * jnp.asarray(out["c_phi"]), om, p["tau_z"]))
    paths, _ = _iterate(key, jnp.asarray(out["c_phi"]), om, dt, p, o.n_samples, _gates_r(p))
    out["samples"] = {name: np.asarray(v[0]) for name, v in paths.items()}  # equal-time single-site law
    return out


def lambda_max(sol: dict, *, key, options: Options = Options(), lam0: float = 0.0) -> tuple[float, float]:
    """The sampled two-replica lambda_max (module doc) and its standard error, from a :func:`solve` result.

    Power iteration on the tangent covariances with lambda updated by a Newton step on log mu each time
    (slope from two common-random-number evaluations); the estimate is the mean over the second half,
    corrected by the mean residual log mu / slope."""
    o, p = options, sol["params"]
    om = jnp.asarray(sol["omega"])
    c_phi = jnp.asarray(sol["c_phi"])
    q = (jnp.exp(-jnp.abs(jnp.asarray(sol["lags"]))),) * 2

    def step(k, q, lam):
        new = _power_step(k, q, lam, c_phi, om, sol["dt"], p, o.n_samples, _gates_r(p))
        mu = float((new[0][0] + new[1][0]) / (q[0][0] + q[1][0]))
        return tuple(x / (new[0][0] + new[1][0]) for x in new), mu

    return power_lambda(step, q, key=key, n_tangent=o.n_tangent, lam0=lam0)


def power_lambda(step, q, *, key, n_tangent: int, lam0: float = 0.0, warmup: int = 20, reslope: int = 10):
    """lambda_max of a sampled linear tangent map and its standard error: ``step(key, q, lam)`` -> (q
    re-estimated and normalised, mu, the growth factor of its norm). Power iteration (``warmup`` steps at
    ``lam0`` to find the direction) with lambda updated by a damped Newton step on log mu each time (slope
    from two common-random-number evaluations, re-estimated at the current lambda every ``reslope`` steps:
    where slow units make log mu steep near lam0, e.g. -4700 per unit lambda for an LSTM with forget
    gates near 1, a slope kept from lam0 would let lambda creep by tiny steps); the estimate is the mean
    over the second half, corrected by the residual log mu / slope, with a batch-means standard error."""

    def slope_at(key, q, lam, eps=0.05):
        k = (math.log(step(key, q, lam + eps)[1]) - math.log(step(key, q, lam - eps)[1])) / (2 * eps)
        return min(k, -0.1)  # mu decreases in lambda; guard against a noisy slope

    lam = lam0
    for _ in range(warmup):
        key, sub = jax.random.split(key)
        q, _ = step(sub, q, lam)
    est = []
    for i in range(n_tangent):
        if i % reslope == 0:
            key, sub = jax.random.split(key)
            slope = slope_at(sub, q, lam, 0.05 if i == 0 else min(0.05, max(abs(0.1 * lam), 1e-4)))
        key, sub = jax.random.split(key)
        q, mu = step(sub, q, lam)
        est.append(lam - math.log(mu) / slope)
        lam = lam - 0.5 * math.log(mu) / slope
    est = np.array(est[len(est) // 2 :])
    return float(est.mean()), _batch_se(est)
