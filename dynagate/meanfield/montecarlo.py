r"""The general DMFT of the gated RNN by sampled single-site paths (any alpha_z), and its lambda_max.

**Iteration** (THEORY.md 6; Eissfeller & Opper 1992). The fields eta_h, eta_z, eta_r of the single-site
process are Gaussian and independent, with autocovariances g_h^2 C_sigma_r C_phi, g_z^2 C_phi and
g_r^2 C_phi; z and r are their low-pass filters (Gaussian), but h, driven through sigma_z(z), is not. r
never enters the h equation except through eta_h's covariance, and r is independent of h, so
C_sigma_r follows from C_r by Gaussian quadrature and only C_phi has to be sampled. Given C_phi:

1. draw M stationary paths of z (spectrum g_z^2 S_phi / (1 + omega^2 tau_z^2)) and eta_h (covariance
   g_h^2 C_sigma_r C_phi) on a periodic grid of period 2 t_max by circulant embedding, and b ~ N(mu_b, s_b^2);
2. integrate dh/dt = sigma_z(z) (-h + eta_h + b) around the period twice (the first lap forgets the
   initial condition: the h equation contracts at rate sigma_z) with the exponential midpoint rule,
   exact for constant coefficients and second order in dt;
3. estimate C_phi (and C_h) as the circular autocorrelation averaged over the M paths (FFT);
4. C_phi <- (1 - damping) C_phi + damping * estimate.

The iteration starts from the closed alpha_z = 0 solution (:mod:`.closed`) and runs ``n_burn``
iterations, then averages ``n_average`` more. Each estimate uses fresh paths, but consecutive iterates are
correlated through C_phi, so standard errors are batch means over blocks of iterations. Status
"converged" if the means of the two halves of the averaging window agree within 3 combined standard
errors for Delta0, otherwise "not_converged" (still drifting: raise n_burn).

**lambda_max** (two replicas by sampling, derived here). The tangent dynamics of the network,
delta h' = sigma_z (-delta h + delta eta_h) + sigma_z'(z) a delta z with a = -h + eta_h + b,
tau_z delta z' = -delta z + delta eta_z, tau_r delta r' = -delta r + delta eta_r, have mean-field fields
delta eta_h = J^h u, u = sigma_r phi' delta h + sigma_r' phi delta r, delta eta_{z,r} = J^{z,r} phi' delta h.
At N -> infinity these are Gaussian, independent of the unit's own fields (the tangent is odd in the
perturbation, so cross-covariances with eta vanish), with covariances g_h^2 <u u'>, g_{z,r}^2
<phi' delta h phi' delta h'>. The perturbation grows as e^{lambda t}: with delta = e^{lambda t} d, the
rescaled d is stationary, d h' = -(sigma_z + lambda) d h + sigma_z d eta_h + sigma_z' a d z, etc. For fixed
lambda the map (covariances of u and phi' dh) -> (the same, re-estimated from sampled tangent paths) is
linear and positive; lambda_max is where its top eigenvalue mu(lambda) is 1. mu is found by power
iteration (re-normalising), lambda by the secant method on log mu. At alpha_z = 0 this is the operator of
:func:`.closed.lambda_max` (tests/test_dmft.py compares the two).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import closed


def sample_paths(key, c, m: int):
    """``m`` stationary Gaussian paths with periodic autocovariance ``c`` (n,) by circulant embedding."""
    s = jnp.sqrt(jnp.clip(jnp.real(jnp.fft.fft(c)), 0.0))
    w = jax.random.normal(key, (m, c.shape[0]))
    return jnp.real(jnp.fft.ifft(s * jnp.fft.fft(w, axis=-1), axis=-1))


def circular_autocov(x):
    """Mean over rows of the circular autocovariance of each row (n,)."""
    f = jnp.fft.fft(x, axis=-1)
    return jnp.mean(jnp.real(jnp.fft.ifft(f * jnp.conj(f), axis=-1)), axis=0) / x.shape[-1]


def _relax(rate, force, x0, dt):
    """Integrate dx/dt = -rate x + force around the grid (rate, force: (n, m)) with both frozen at their
    step midpoints (exact for constant coefficients, second order); returns x on the grid and at the end."""

    def step(x, k):
        r, f = 0.5 * (k[0] + k[2]), 0.5 * (k[1] + k[3])
        y = -r * dt  # x <- x e^y + f dt phi_1(y), phi_1(y) = (e^y - 1) / y (= 1 at y = 0)
        phi1 = jnp.where(jnp.abs(y) < 1e-8, 1.0 + 0.5 * y, jnp.expm1(y) / jnp.where(y == 0, 1.0, y))
        x = x * jnp.exp(y) + f * dt * phi1
        return x, x

    nxt = (jnp.roll(rate, -1, 0), jnp.roll(force, -1, 0))
    x_end, xs = jax.lax.scan(step, x0, (rate, force, *nxt))
    return jnp.roll(xs, 1, 0).at[0].set(x0), x_end


def _periodic(rate, force, x0, dt):
    """The periodic solution: a first lap forgets x0 (the equations contract), the second is kept."""
    _, x1 = _relax(rate, force, x0, dt)
    return _relax(rate, force, x1, dt)[0]


def _filter(x, omega, tau, lam=0.0):
    """Periodic solution of tau (x_f' + lam x_f) = -x_f + x along axis 0 (tau = 0: x_f = x)."""
    f = jnp.fft.fft(x, axis=0) / (1.0 + lam * tau + 1j * omega[:, None] * tau)
    return jnp.real(jnp.fft.ifft(f, axis=0))


@functools.partial(jax.jit, static_argnames=("m",))
def _iterate(key, c_phi, omega, dt, p, m):
    """One sampled evaluation of the DMFT map: paths (n, m) and the re-estimated correlations."""
    kz, kh, kb, kr = jax.random.split(key, 4)
    c_r = closed.lowpass(p["g_r"] ** 2 * c_phi, omega, p["tau_r"])
    c_sr = closed.gauss_corr(closed.sigmoid, c_r, c_r[0], 0.0, p["sr"])
    z = sample_paths(kz, closed.lowpass(p["g_z"] ** 2 * c_phi, omega, p["tau_z"]), m).T
    eta = sample_paths(kh, p["g_h"] ** 2 * c_sr * c_phi, m).T
    b = p["mu_b"] + p["s_b"] * jax.random.normal(kb, (m,))
    sz = closed.sigmoid(z, p["sz"])
    h = _periodic(sz, sz * (eta + b), b, dt)
    r = sample_paths(kr, c_r, m).T
    paths = {"h": h, "z": z, "r": r, "a": -h + eta + b}
    est = {"c_phi": circular_autocov(jnp.tanh(h).T), "c_h": circular_autocov((h - jnp.mean(h)).T),
           "mean_h": jnp.mean(h), "c_r": c_r, "c_sr": c_sr}  # fmt: skip
    return paths, est


@functools.partial(jax.jit, static_argnames=("m",))
def _tangent(key, q, lam, paths, omega, dt, p, m):
    """One sampled evaluation of the (rescaled) tangent map at growth rate lam: q = (q_u, q_p) -> new q."""
    kh, kz, kr = jax.random.split(key, 3)
    q_u, q_p = q
    d_eta = sample_paths(kh, p["g_h"] ** 2 * q_u, m).T
    dz = _filter(sample_paths(kz, p["g_z"] ** 2 * q_p, m).T, omega, p["tau_z"], lam)
    dr = _filter(sample_paths(kr, p["g_r"] ** 2 * q_p, m).T, omega, p["tau_r"], lam)
    h, z, r, a = paths["h"], paths["z"], paths["r"], paths["a"]
    sz = closed.sigmoid(z, p["sz"])
    force = sz * d_eta + closed.sigmoid_prime(z, p["sz"]) * a * dz
    dh = _periodic(sz + lam, force, jnp.zeros(m), dt)
    phi, dphi = jnp.tanh(h), 1.0 - jnp.tanh(h) ** 2
    u = closed.sigmoid(r, p["sr"]) * dphi * dh + closed.sigmoid_prime(r, p["sr"]) * phi * dr
    return circular_autocov(u.T), circular_autocov((dphi * dh).T)


def _batch_se(x, n_batches: int = 5) -> float:
    """Standard error of the mean of a correlated sequence by batch means."""
    x = np.asarray(x, float)
    k = len(x) // n_batches
    means = x[: k * n_batches].reshape(n_batches, k).mean(axis=1)
    return float(means.std(ddof=1) / math.sqrt(n_batches))


@dataclasses.dataclass(frozen=True)
class Options:
    """Monte-Carlo settings: ``n_samples`` paths per iteration on a periodic grid of period 2 ``t_max``
    (time units of tau_h; default 60 / sigma_z0, sigma_z0 = 1 / (1 + e^beta_z)) and step ``dt``;
    ``n_burn`` iterations discarded, ``n_average`` averaged; the tangent problem uses ``n_tangent`` power
    steps after 20 warm-up steps."""

    n_samples: int = 500
    t_max: float | None = None
    dt: float = 0.05
    damping: float = 1.0
    n_burn: int = 30
    n_average: int = 60
    n_tangent: int = 50


def default_t_max(o: Options, p: dict) -> float:
    return o.t_max if o.t_max is not None else 60.0 / p["sz0"]


def solve(ensemble, *, key, options: Options = Options(), init: dict | None = None, progress=None) -> dict:
    """The stationary single-site statistics by the sampled iteration (module doc). ``init``: a
    :func:`.closed.solve` result to start from (default: the alpha_z = 0 solution of the same ensemble)."""
    o = options
    p = closed._params(ensemble)
    t_max = default_t_max(o, p)
    if init is None:
        init = closed.solve(ensemble.replace(alpha_z=0.0), t_max=t_max, dt=o.dt, tol=1e-8)
    lags, omega = closed.lag_grid(t_max, o.dt)
    if init["lags"].shape != lags.shape:
        raise ValueError("init was solved on a different lag grid")
    om = jnp.asarray(omega)
    c_phi = jnp.asarray(init["c_phi"])
    keep = {"c_h": [], "c_phi": [], "mean_h": [], "c_r": [], "c_sr": []}
    for k in range(o.n_burn + o.n_average):
        key, sub = jax.random.split(key)
        _, est = _iterate(sub, c_phi, om, o.dt, p, o.n_samples)
        c_phi = (1 - o.damping) * c_phi + o.damping * est["c_phi"]
        if k >= o.n_burn:
            for name in keep:
                keep[name].append(np.asarray(est[name]))
        if progress is not None:
            progress(k + 1, o.n_burn + o.n_average)
    arr = {name: np.array(v) for name, v in keep.items()}
    d0 = arr["c_h"][:, 0]
    half = len(d0) // 2
    se_half = math.hypot(_batch_se(d0[:half]), _batch_se(d0[half:]))
    drift = abs(d0[:half].mean() - d0[half:].mean())
    out = {name: v.mean(axis=0) for name, v in arr.items()}
    out |= {
        "lags": lags, "omega": omega, "params": p, "c_h_se": np.array([_batch_se(c) for c in arr["c_h"].T]),
        "delta0_se": _batch_se(d0), "drift": drift, "drift_se": se_half,
        "converged": bool(drift <= 3 * se_half), "key": key,
    }  # fmt: skip
    out["c_z"] = np.asarray(closed.lowpass(p["g_z"] ** 2 * jnp.asarray(out["c_phi"]), om, p["tau_z"]))
    paths, _ = _iterate(key, jnp.asarray(out["c_phi"]), om, o.dt, p, o.n_samples)
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
        kp, kt = jax.random.split(k)
        paths, _ = _iterate(kp, c_phi, om, o.dt, p, o.n_samples)
        new = _tangent(kt, q, lam, paths, om, o.dt, p, o.n_samples)
        mu = float((new[0][0] + new[1][0]) / (q[0][0] + q[1][0]))
        return tuple(x / (new[0][0] + new[1][0]) for x in new), mu

    lam = lam0
    for _ in range(20):  # warm-up of the tangent direction
        key, sub = jax.random.split(key)
        q, _ = step(sub, q, lam)
    key, sub = jax.random.split(key)
    eps = 0.05
    slope = (math.log(step(sub, q, lam + eps)[1]) - math.log(step(sub, q, lam - eps)[1])) / (2 * eps)
    slope = min(slope, -0.1)  # mu decreases in lambda; guard against a noisy slope
    lams, logs = [], []
    for _ in range(o.n_tangent):
        key, sub = jax.random.split(key)
        q, mu = step(sub, q, lam)
        lams.append(lam)
        logs.append(math.log(mu))
        lam = lam - 0.5 * math.log(mu) / slope
    half = len(lams) // 2
    est = np.array(lams[half:]) - np.array(logs[half:]) / slope
    return float(est.mean()), _batch_se(est)
