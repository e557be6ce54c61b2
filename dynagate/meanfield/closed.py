r"""The closed DMFT of the gated RNN at alpha_z = 0 and its two-replica lambda_max.

**Equation** (THEORY.md 6). With alpha_z = 0 the update gate is the constant sigma_z0 = 1/(1 + e^{beta_z})
and the single-site process is linear in Gaussian fields:
sigma_z0^{-1} dh/dt = -h + eta_h + b, tau_r dr/dt = -r + eta_r, with
<eta_h eta_h'> = g_h^2 C_sigma_r(tau) C_phi(tau) and <eta_r eta_r'> = g_r^2 C_phi(tau) (the three weight
matrices are independent, so eta_h, eta_r, b are independent, and so are h and r at all times). So h and
r are Gaussian, and with C_h the autocovariance of h about its mean mu_b,

.. math::  (1 - \sigma_{z0}^{-2} \partial_\tau^2) C_h = g_h^2 C_{\sigma_r} C_\phi + s_b^2, \qquad
           (1 - \tau_r^2 \partial_\tau^2) C_r = g_r^2 C_\phi,

C_f(tau) = E f(u) f(v), (u, v) jointly Gaussian with the one-time variance C(0) and covariance C(tau)
(C_phi with the mean mu_b of h; r has mean 0). The stationary solution is a fixed point of the map
C_h -> (1 - sigma_z0^{-2} d^2)^{-1} [g_h^2 C_sigma_r C_phi + s_b^2], solved on a periodic grid (the
filters are diagonal under the FFT). Its plain iteration converges linearly (factor ~0.94 per step at
g = 2 for the vanilla limit, slower towards the transition); Anderson mixing is switched on once the
residual is below 1e-3, where it is reliable (from far it can jump to negative variances).

**Gaussian correlations.** C_f(c; c0, m) = E_z [E_x f(m + sqrt(c0 - |c|) x + sqrt|c| z)
E_y f(m + sqrt(c0 - |c|) y + sign(c) sqrt|c| z)], by the trapezoid rule (step 1/16, |x| <= 7.5: the
integrands are analytic in a strip, so the error is ~exp(-2 pi d 16), d = pi / (2 sqrt c0) the distance
of tanh's poles: 1e-14 for c0 up to 25, 1e-8 at c0 = 72 (g = 10)), tabulated in c on 48 Chebyshev
nodes on [-c0, c0] per evaluation of the map (C_f is analytic in c; the nodes come in pairs +-c that
share the inner average, so each table costs 24 x 241^2 evaluations of f).

**lambda_max** (two replicas, [open] in THEORY.md, derived here). Two replicas h^1, h^2 in the same
network obey the single-site equations with fields whose cross-covariances are g_h^2 C^12_sigma_r C^12_phi
and g_r^2 C^12_phi. Linearising about the replica-symmetric solution (C^12 = C) with
delta C^12_phi = C_phi' delta C^12_h, C_phi'(tau) = <phi'(u) phi'(v)> (Price's theorem) and likewise for
sigma_r, and writing delta C(t, s) = e^{lambda (t + s)} psi(t - s) (d_t -> lambda + d_tau,
d_s -> lambda - d_tau):

.. math::  [(1 + \lambda/\sigma_{z0})^2 - \sigma_{z0}^{-2} \partial_\tau^2] \psi_h
              = g_h^2 [C_{\sigma_r} C_{\phi'} \psi_h + C_\phi C_{\sigma_r'} \psi_r], \qquad
           [(1 + \lambda \tau_r)^2 - \tau_r^2 \partial_\tau^2] \psi_r = g_r^2 C_{\phi'} \psi_h.

lambda_max is the largest lambda with a solution: the top eigenvalue mu(lambda) of the positive operator
psi_h -> K_h(lambda) g_h^2 [C_sigma_r C_phi' + C_phi C_sigma_r' K_r(lambda) g_r^2 C_phi'] psi_h (K the
inverses of the brackets, positive kernels) decreases in lambda; mu(lambda_max) = 1 by Brent's method.
At alpha_r = 0 this is the SCS Schroedinger problem with gain g_h sigma_r0 in time sigma_z0 tau
(lambda_max = sigma_z0 (-1 + sqrt(-E0))), which tests/test_dmft.py checks; at tau_r = 0 it is again a
Schroedinger problem with potential g_h^2 (C_sigma_r + g_r^2 C_phi C_sigma_r') C_phi'. The relaxation
of C_h and lambda_max come from the same kernels: at large tau the bound state's tail decays at the
rate of C_h's own linearised decay, and lambda_max + sigma_z0 is the bound-state energy above it.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.sparse.linalg

from ..errors import InputError
from ..models.gated import GatedRNN
from ..models.vanilla import VanillaRNN

_X = jnp.linspace(-7.5, 7.5, 241)
_W = jnp.exp(-0.5 * _X**2) * (_X[1] - _X[0]) / math.sqrt(2 * math.pi)
_NCHEB = 48
_THETA = jnp.pi * (jnp.arange(_NCHEB, dtype=float) + 0.5) / _NCHEB


def tanh(y, p):
    return jnp.tanh(y)


def tanh_prime(y, p):
    return 1.0 - jnp.tanh(y) ** 2


def sigmoid(y, p):  # p = (alpha, beta)
    return jax.nn.sigmoid(p[0] * y - p[1])


def sigmoid_prime(y, p):
    s = jax.nn.sigmoid(p[0] * y - p[1])
    return p[0] * s * (1.0 - s)


@functools.partial(jax.jit, static_argnums=0)
def gauss_corr(f, c, c0, m=0.0, p=(0.0, 0.0)):
    """C_f(c; c0, m) = E f(m + u) f(m + v), Var u = Var v = c0, Cov(u, v) = c (any shape, |c| <= c0),
    through a 48-term Chebyshev table in c (see module doc). f(y, p) is a module-level function."""
    c0 = jnp.maximum(c0, 1e-300)
    pos = c0 * jnp.cos(_THETA[: _NCHEB // 2])  # the nodes come in pairs +-c
    a = jnp.sqrt(jnp.maximum(c0 - pos, 0.0))[:, None, None]
    b = jnp.sqrt(pos)[:, None, None]
    inner = jnp.sum(_W * f(m + a * _X + b * _X[:, None], p), -1)  # E_x f(m + a x + b z), (NCHEB/2, n_z)
    vals_pos = jnp.sum(_W * inner**2, -1)
    vals_neg = jnp.sum(_W * inner * inner[:, ::-1], -1)  # the grid is symmetric: z -> -z
    vals = jnp.concatenate([vals_pos, vals_neg[::-1]])  # node k and node NCHEB - 1 - k are +-c
    j = jnp.arange(_NCHEB, dtype=float)
    coef = (2.0 / _NCHEB) * jnp.cos(j[:, None] * _THETA[None, :]) @ vals
    coef = coef.at[0].multiply(0.5)
    t = jnp.arccos(jnp.clip(c / c0, -1.0, 1.0))
    return jnp.cos(t[..., None] * j) @ coef


def lag_grid(t_max: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Periodic lag grid of period 2 t_max: lags min(t, period - t) and angular frequencies."""
    n = round(2 * t_max / dt)
    t = np.arange(n) * dt
    return np.minimum(t, n * dt - t), 2 * np.pi * np.fft.fftfreq(n, dt)


def decay_ratio(c_h) -> float:
    """(C_h(t_max / 2) - C_h(t_max)) / (C_h(0) - C_h(t_max)) on lags 0..t_max: near 0 once C_h has decayed."""
    c_h = np.asarray(c_h, float)
    span = c_h[0] - c_h[-1]
    return float(abs(c_h[c_h.size // 2] - c_h[-1]) / span) if span > 0 else math.inf


def decayed(c_h, se=None) -> bool:
    """Whether C_h on lags 0..t_max has settled by t_max (its second half flat to 10% of its fall): the
    periodic grid of period 2 t_max assumes it. With standard errors ``se`` (a sampled C_h) the difference
    C_h(t_max / 2) - C_h(t_max) is first shrunk by 3 of its combined standard errors (the tail of a sampled
    C_h wanders, and a tail flat within its noise has decayed as far as the estimate can tell), but the
    fall C_h(0) - C_h(t_max) must exceed 3 of its own: a C_h flat from 0 to t_max (a slow process on too
    short a grid) has not decayed, however noisy."""
    if se is None:
        return decay_ratio(c_h) <= 0.1
    c_h, se = np.asarray(c_h, float), np.asarray(se, float)
    mid, span = c_h.size // 2, c_h[0] - c_h[-1]
    gap = abs(c_h[mid] - c_h[-1]) - 3 * math.hypot(se[mid], se[-1])
    return bool(span > 3 * math.hypot(se[0], se[-1]) and gap <= 0.1 * span)


def lowpass(c, omega, tau):
    """Autocovariance of x with tau dx/dt = -x + y from that of y: the spectrum over 1 + (omega tau)^2
    (an even autocovariance has a real spectrum)."""
    return jnp.real(jnp.fft.ifft(jnp.real(jnp.fft.fft(c)) / (1.0 + (omega * tau) ** 2)))


@functools.singledispatch
def params(e) -> dict:
    """The reduced parameters of the closed equation, as JAX scalars (so they may be traced: ``jax.vmap``
    over a hyperparameter, ``jax.grad`` with respect to one): ``g_h, g_r, g_z``, the gates' (alpha, beta) as
    ``sr`` and ``sz``, ``sz0`` = sigma_z0 = 1/(1 + e^{beta_z}), ``tau_r, tau_z, mu_b, s_b``. A VanillaRNN
    flow is the gated RNN without gates (sigma_r = sigma_z = 1 to double precision). Registered per
    model."""
    raise InputError(f"the gated DMFT needs a GatedRNN or VanillaRNN ensemble, got {type(e).__name__}")


def _asfloat(v):
    return jnp.asarray(v, dtype=float)


@params.register
def _(e: VanillaRNN) -> dict:
    one = (_asfloat(0.0), _asfloat(-60.0))  # sigmoid(60) = 1 - 9e-27
    zero = _asfloat(0.0)
    return {"g_h": _asfloat(e.g), "g_r": zero, "g_z": zero, "sr": one, "sz": one, "sz0": _asfloat(1.0),
            "tau_r": zero, "tau_z": zero, "mu_b": _asfloat(e.mu_b), "s_b": _asfloat(e.s_b)}  # fmt: skip


@params.register
def _(e: GatedRNN) -> dict:
    p = {k: _asfloat(getattr(e, k)) for k in ("g_h", "g_r", "g_z", "tau_r", "tau_z", "mu_b", "s_b")}
    sr, sz = (_asfloat(e.alpha_r), _asfloat(e.beta_r)), (_asfloat(e.alpha_z), _asfloat(e.beta_z))
    return p | {"sr": sr, "sz": sz, "sz0": 1.0 / (1.0 + jnp.exp(sz[1]))}


def _params(e) -> dict:
    """:func:`params` as Python floats, for the scipy-driven solver (:func:`solve`, :func:`lambda_max`)
    and its callers; sigma_z0 with ``math.exp``, as before."""
    p = jax.tree.map(float, params(e))
    return p | {"sz0": 1.0 / (1.0 + math.exp(p["sz"][1]))}


@jax.jit
def _step(c_h, omega, g_h, g_r, sr, sz0, tau_r, mu_b, s_b):
    c_phi = gauss_corr(tanh, c_h, c_h[0], mu_b)
    c_r = lowpass(g_r**2 * c_phi, omega, tau_r)
    c_sr = gauss_corr(sigmoid, c_r, c_r[0], 0.0, sr)
    rhs = g_h**2 * c_sr * c_phi + s_b**2
    return lowpass(rhs, omega, 1.0 / sz0), c_phi, c_r, c_sr


def _args(p: dict) -> tuple:
    return p["g_h"], p["g_r"], p["sr"], p["sz0"], p["tau_r"], p["mu_b"], p["s_b"]


def update(p: dict, c_h, omega) -> jax.Array:
    """One application of the self-consistency map (module doc):
    C_h -> (1 - sigma_z0^{-2} d^2)^{-1} [g_h^2 C_sigma_r C_phi + s_b^2], with C_r = (1 - tau_r^2 d^2)^{-1}
    g_r^2 C_phi.

    Args:
        p: the reduced parameters (:func:`params`); they may be traced, so ``jax.vmap`` over a
            hyperparameter and ``jax.grad`` with respect to one work (the map is smooth in them).
        c_h: C_h on the periodic lag grid of :func:`lag_grid` (all 2 t_max / dt points).
        omega: that grid's angular frequencies.

    Returns the new C_h on the same grid. :func:`solve` finds its fixed point (plain iteration, then
    Anderson mixing, in NumPy), so at a converged solution ``max|update(c_h) - c_h| / max|c_h|`` is the
    solver's residual.
    """
    return _step(c_h, omega, *_args(p))[0]


def kernels(p: dict, c_h, omega) -> tuple[jax.Array, jax.Array]:
    """The kernels (a, b) of the lambda_max operator at C_h (module doc):
    psi_h -> K_h(lambda) [a psi_h + b K_r(lambda) psi_h], a = g_h^2 C_sigma_r C_phi', b = g_h^2 g_r^2 C_phi
    C_sigma_r' C_phi'. JAX functions of the reduced parameters ``p`` (:func:`params`; may be traced), on the
    lag grid of ``c_h`` with frequencies ``omega``."""
    return _kernels(c_h, omega, p)


@jax.jit
def _kernels(c_h, omega, p):
    _, c_phi, c_r, c_sr = _step(c_h, omega, *_args(p))
    dphi = gauss_corr(tanh_prime, c_h, c_h[0], p["mu_b"])
    dsr = gauss_corr(sigmoid_prime, c_r, c_r[0], 0.0, p["sr"])
    return p["g_h"] ** 2 * c_sr * dphi, p["g_h"] ** 2 * p["g_r"] ** 2 * c_phi * dsr * dphi


def anderson(G, x, *, tol, max_iter, switch=1e-3, memory=5):
    """Fixed point of G by plain iteration, with Anderson mixing once the relative residual < ``switch``.
    Returns (x, residual, iterations); the residual is max|G(x) - x| / max|x|. Stops early (residual 0)
    once two iterates are constant to 1e-9, or all values fall below 1e-10 of the start: the map then
    only rescales a static solution, which the caller takes from the static mean field."""
    xs, fs = [], []
    res, scale = math.inf, np.max(np.abs(x))
    for k in range(max_iter):
        gx = np.asarray(G(x))
        f = gx - x
        res = float(np.max(np.abs(f)) / max(np.max(np.abs(x)), 1e-300))
        if res < tol or not np.all(np.isfinite(gx)):
            return x, res, k
        if np.max(np.abs(gx)) < 1e-10 * scale or (
            np.ptp(gx) <= 1e-9 * np.max(np.abs(gx)) and np.ptp(x) <= 1e-9 * np.max(np.abs(x))
        ):
            return np.full_like(gx, gx[0]), 0.0, k  # collapsed onto a static (time-independent) solution
        if res > switch:
            x, xs, fs = gx, [], []
            continue
        xs, fs = [*xs, x][-memory:], [*fs, f][-memory:]
        if len(fs) > 1:
            dF = np.diff(np.array(fs), axis=0).T
            dX = np.diff(np.array(xs), axis=0).T
            gamma = np.linalg.lstsq(dF, f, rcond=1e-12)[0]
            x = gx - (dX + dF) @ gamma
        else:
            x = gx
    return x, res, max_iter


def solve(ensemble, *, t_max: float, dt: float, tol: float = 1e-10, max_iter: int = 400, c_init=None):
    """The stationary C_h (and C_phi, C_r, C_sigma_r) on the periodic lag grid: the fixed point of
    :func:`update`, found by :func:`anderson` (NumPy, so not traceable; the ensemble's hyperparameters
    must be numbers). Returns a dict."""
    p = _params(ensemble)  # floats: the guess and the iteration below are NumPy
    lags, omega = lag_grid(t_max, dt)
    w = jnp.asarray(omega)
    args = _args(p)
    if c_init is None:
        # an SCS-like guess: large enough to start on the chaotic branch where one exists
        d0 = max(p["g_h"] ** 2 / 4, 1.0) + p["s_b"] ** 2
        c_init = d0 * np.exp(-p["sz0"] * lags) + p["s_b"] ** 2
    c_h, res, its = anderson(
        lambda c: _step(jnp.asarray(c), w, *args)[0], np.asarray(c_init, float), tol=tol, max_iter=max_iter
    )
    _, c_phi, c_r, c_sr = (np.asarray(a) for a in _step(jnp.asarray(c_h), w, *args))
    c_z = np.asarray(lowpass(p["g_z"] ** 2 * jnp.asarray(c_phi), w, p["tau_z"]))
    return {
        "lags": lags, "omega": omega, "c_h": c_h, "c_phi": c_phi, "c_r": c_r, "c_sr": c_sr, "c_z": c_z,
        "residual": res, "iterations": its, "params": p,
    }  # fmt: skip


def lambda_max(sol: dict) -> float:
    """The two-replica lambda_max (module doc) for a solution of :func:`solve`."""
    p, w = sol["params"], sol["omega"]
    a, b = (np.asarray(k) for k in _kernels(jnp.asarray(sol["c_h"]), jnp.asarray(w), p))
    sz, tr, n = p["sz0"], p["tau_r"], w.size

    def mu(lam):
        kh = 1.0 / ((1 + lam / sz) ** 2 + (w / sz) ** 2)
        kr = 1.0 / ((1 + lam * tr) ** 2 + (w * tr) ** 2)

        def apply(v):
            v = np.asarray(v).ravel()
            vr = np.real(np.fft.ifft(kr * np.fft.fft(v)))
            return np.real(np.fft.ifft(kh * np.fft.fft(a * v + b * vr)))

        op = scipy.sparse.linalg.LinearOperator((n, n), matvec=apply, dtype=float)
        v0 = np.exp(-np.abs(sol["lags"]))
        return float(np.real(scipy.sparse.linalg.eigs(op, k=1, which="LR", v0=v0, tol=1e-12)[0][0]))

    lo = -0.999 * min(sz, 1.0 / tr if tr > 0 else math.inf)
    if mu(lo) <= 1.0:
        return lo  # cannot happen for a positive kernel with mass; kept as a guard
    hi = 1.0
    while mu(hi) > 1.0:
        hi *= 2.0
    return scipy.optimize.brentq(lambda lam: mu(lam) - 1.0, lo, hi, xtol=1e-12, rtol=1e-12)
