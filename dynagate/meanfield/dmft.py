r"""Dynamical mean-field theory of the chaotic state: the SCS potential method and the DMFT lambda_max.

**Single-site process** (Sompolinsky, Crisanti & Sommers 1988). At N -> infinity each unit of the vanilla
flow dh/dt = -h + J phi(h) obeys dh/dt = -h + eta, eta Gaussian with <eta(t) eta(t + tau)> = g^2 C_phi(tau).
The stationary autocorrelation Delta(tau) = <h(t) h(t + tau)> then satisfies

.. math::  \ddot\Delta = \Delta - g^2 C_\phi(\Delta; \Delta_0) = -\partial_\Delta V,
           \qquad V(\Delta) = -\Delta^2/2 + g^2 C_\Phi(\Delta; \Delta_0),

with C_f(Delta; Delta0) = E_z [E_x f(sqrt(Delta0 - Delta) x + sqrt(Delta) z)]^2 (the correlation of f at two
times whose h's have covariance Delta), Phi = log cosh (Phi' = phi), and d C_Phi / d Delta = C_phi
(Price's theorem). A decaying solution (Delta -> 0, Delta' -> 0) conserves the "energy" of this particle:
V(Delta0) = V(0), i.e. Delta0^2 / 2 = g^2 Var(Phi(h)), h ~ N(0, Delta0). For g <= 1 the only solution is
Delta0 = 0: no chaos.

**lambda_max** (two replicas). The distance between two nearby trajectories, C_d(t, s), obeys
(d_t + 1)(d_s + 1) C_d = g^2 C_phi'(t - s) C_d. With T = t + s, tau = t - s and C_d = e^{mu T} psi(tau) this
is the Schroedinger problem [-d_tau^2 - g^2 C_phi'(Delta(tau); Delta0)] psi = -(1 + mu)^2 psi, so
lambda_max = mu = -1 + sqrt(-E0), E0 the ground-state energy. The well is deepest at tau = 0 and tends to
-g^2 <phi'>^2 at large tau; the bound state exists because the potential is attractive.

**Relaxation time.** Reported as the correlation time int_0^inf Delta(tau) d tau / Delta0 and the
asymptotic decay rate kappa = sqrt(1 - g^2 <phi'>_{Delta0}^2) of Delta(tau) ~ e^{-kappa tau}. Both the
decay of C_h and lambda_max are set by the same potential g^2 C_phi'(tau): kappa^2 is the well's depth
at infinity, -E0 its bound-state energy, so -E0 > kappa^2 and lambda_max = sqrt(-E0) - 1.

**Gated RNN, alpha_z = alpha_r = 0.** The model is then exactly the vanilla flow with gain g_h sigma_r0 and
time scaled by sigma_z0: Delta_gated(tau) = Delta(sigma_z0 tau), lambda_max_gated = sigma_z0 lambda_max.

**Numerics.** Gaussian averages by the trapezoid rule on a 2-D grid (|x|, |z| <= 9): its error for the
analytic integrands here falls like exp(-2 pi d / h), d ~ pi / (2 sqrt(Delta0)) the distance of tanh's
poles, so 0.02 steps are exact to double precision up to Delta0 ~ 100 (Gauss-Hermite is not: see
:mod:`.static`). C_phi and C_phi' are tabulated on Chebyshev nodes in Delta (smooth in Delta), the
trajectory Delta(tau) is integrated by RK4 from Delta0, and the Schroedinger operator is discretised by
second-order finite differences on |tau| <= tau_max (Dirichlet), its lowest eigenvalue taken with
``scipy.linalg.eigh_tridiagonal``; the step is refined once and Richardson-extrapolated.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.linalg
import scipy.optimize

from ..errors import InputError
from ..models.gated import GatedRNN, _is_zero
from ..models.vanilla import VanillaRNN

_X = np.linspace(-9.0, 9.0, 901)  # trapezoid nodes (step 0.02) for a standard Gaussian
_W = np.exp(-0.5 * _X**2) * (_X[1] - _X[0]) / math.sqrt(2 * math.pi)


def _logcosh(y):
    return np.abs(y) + np.log1p(np.exp(-2 * np.abs(y))) - math.log(2.0)


def _corr(f, delta, delta0, chunk: int = 8):
    """C_f(Delta; Delta0) = E_z [E_x f(sqrt(Delta0 - Delta) x + sqrt(Delta) z)]^2 (vector in delta; in
    chunks of ``chunk`` values, ~50 MB each)."""
    delta = np.atleast_1d(np.asarray(delta, float))
    out = np.empty(delta.size)
    for i in range(0, delta.size, chunk):
        d = delta[i : i + chunk, None, None]
        y = np.sqrt(np.maximum(delta0 - d, 0.0)) * _X[None, None, :] + np.sqrt(d) * _X[None, :, None]
        inner = np.sum(_W * f(y), axis=-1)  # (chunk, n_z)
        out[i : i + chunk] = np.sum(_W * inner**2, axis=-1)
    return out


def _table(f, d0):
    """C_f(.; Delta0) on [0, Delta0] as a 64-term Chebyshev interpolant (smooth in Delta)."""
    return np.polynomial.chebyshev.Chebyshev.interpolate(
        lambda d: _corr(f, np.clip(d, 0.0, d0), d0), 64, domain=[0.0, d0]
    )


def _phi_prime(y):
    return 1.0 / np.cosh(y) ** 2


@dataclasses.dataclass(frozen=True)
class DMFTResult:
    """The stationary chaotic solution: Delta(tau) = C_h(tau) on ``tau`` >= 0 (time units of tau_h),
    Delta0 = C_h(0), lambda_max (per unit time), the relaxation time, and a status: "converged", or
    "no_chaos" (the only solution is the silent fixed point, Delta = 0; lambda_max is then the decay rate
    of perturbations, -(1 - g_eff) for the linearised flow)."""

    tau: np.ndarray
    c_h: np.ndarray
    delta0: float
    lambda_max: float
    relaxation_time: float
    decay_rate: float
    status: str
    residual: float
    method: str

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("delta0", "lambda_max", "relaxation_time", "decay_rate")}
        return d | {"status": self.status, "residual": self.residual, "method": self.method}


def _effective(ensemble) -> tuple[float, float]:
    """(gain g, time scale sigma_z0) of the equivalent vanilla flow; InputError where SCS does not apply."""
    if isinstance(ensemble, VanillaRNN):
        if ensemble.delta is not None:
            raise InputError("dmft: the SCS solution is for the flow (VanillaRNN with delta=None)")
        g, scale = float(ensemble.g), 1.0
        inputs = (ensemble.mu_b, ensemble.s_b)
    elif isinstance(ensemble, GatedRNN):
        e = ensemble
        if not (_is_zero(e.alpha_z) and _is_zero(e.alpha_r)):
            raise InputError(
                "dmft: only alpha_z = alpha_r = 0 maps onto the SCS solution (general gates: #5)"
            )
        sr0, sz0 = 1 / (1 + math.exp(float(e.beta_r))), 1 / (1 + math.exp(float(e.beta_z)))
        g, scale = float(e.g_h) * sr0, sz0
        inputs = (e.mu_b, e.s_b)
    else:
        raise InputError(f"dmft needs a VanillaRNN or GatedRNN ensemble, got {type(ensemble).__name__}")
    if any(not _is_zero(v) for v in inputs):
        raise InputError(
            "dmft: the SCS potential method is implemented without static input (mu_b = s_b = 0)"
        )
    return g, scale


def _delta0(g: float) -> tuple[float, float]:
    """Root of Delta0^2 / 2 = g^2 Var(log cosh h), h ~ N(0, Delta0), and the relative residual."""

    def energy(d0):
        lc = _logcosh(math.sqrt(d0) * _X)
        var = np.sum(_W * lc**2) - np.sum(_W * lc) ** 2
        return g**2 * var - d0**2 / 2

    hi = 2.0 * g**2 + 1.0  # Var(log cosh) <= <h^2> = Delta0 gives Delta0 <= 2 g^2
    lo = 1e-6
    d0 = scipy.optimize.brentq(energy, lo, hi, xtol=1e-14, rtol=1e-14)
    return d0, abs(energy(d0)) / (d0**2 / 2)


def _trajectory(g, d0, tau_max, dt):
    """Delta(tau) on [0, tau_max] by RK4 from Delta0 (Delta' = 0); C_phi tabulated in Delta (Chebyshev)."""
    cheb = _table(np.tanh, d0)

    def rhs(s):
        return np.array([s[1], s[0] - g**2 * cheb(np.clip(s[0], 0.0, d0))])

    n = round(tau_max / dt)
    out = np.empty(n + 1)
    s = np.array([d0, 0.0])
    out[0] = d0
    for i in range(n):
        k1 = rhs(s)
        k2 = rhs(s + dt / 2 * k1)
        k3 = rhs(s + dt / 2 * k2)
        k4 = rhs(s + dt * k3)
        s = s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out[i + 1] = s[0]
    # the decaying solution is a separatrix: round-off eventually sends it away from 0; cut it there
    bad = np.flatnonzero((out < 0) | (np.diff(out, prepend=out[0]) > 0))
    if bad.size:
        out[bad[0] :] = 0.0
    return np.arange(n + 1) * dt, out


def _ground_energy(g, tau, delta, d0, dt):
    """Lowest eigenvalue of -d^2/dtau^2 - g^2 C_phi'(Delta(tau)) on [-tau_max, tau_max] (Dirichlet)."""
    cheb = _table(_phi_prime, d0)
    pot = -(g**2) * cheb(np.r_[delta[:0:-1], delta])  # symmetric in tau
    diag = 2.0 / dt**2 + pot
    off = -np.ones(pot.size - 1) / dt**2
    return float(scipy.linalg.eigh_tridiagonal(diag, off, select="i", select_range=(0, 0))[0][0])


def dmft(ensemble, *, tau_max: float = 60.0, dt: float = 0.01) -> DMFTResult:
    """The SCS chaotic solution of the vanilla flow, or of the gated RNN with alpha_z = alpha_r = 0 (exactly
    the vanilla flow with gain g_h sigma_r0 and time scaled by sigma_z0). Times in units of tau_h."""
    g, scale = _effective(ensemble)
    if g <= 1.0:
        tau = np.linspace(0.0, tau_max, 2) / scale
        return DMFTResult(
            tau, np.zeros(2), 0.0, scale * (g - 1.0), 0.0, scale * (1.0 - g), "no_chaos", 0.0, "scs"
        )
    d0, residual = _delta0(g)
    tau, delta = _trajectory(g, d0, tau_max, dt)
    # Richardson: the finite-difference energy has an O(dt^2) error
    e_fine = _ground_energy(g, tau, delta, d0, dt)
    e_coarse = _ground_energy(g, tau[::2], delta[::2], d0, 2 * dt)
    e0 = (4 * e_fine - e_coarse) / 3
    lam = -1.0 + math.sqrt(-e0)
    kappa = math.sqrt(max(1.0 - g**2 * _corr(_phi_prime, np.zeros(1), d0)[0], 0.0))
    corr_time = float(np.trapezoid(delta, tau) / d0)
    return DMFTResult(
        tau=tau / scale,
        c_h=delta,
        delta0=d0,
        lambda_max=scale * lam,
        relaxation_time=corr_time / scale,
        decay_rate=scale * kappa,
        status="converged",
        residual=residual,
        method="scs",
    )
