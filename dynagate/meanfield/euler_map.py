r"""The DMFT of the vanilla Euler map h <- (1 - delta) h + delta (J phi(h) + b) and its lambda_max per step.

Everything here is per step: lags ``tau`` in steps, lambda_max in natural log per step, the relaxation time
in steps. :class:`EulerMap` is the solver (:func:`dynagate.meanfield.dmft` picks it for a
:class:`~dynagate.VanillaRNN` with ``delta`` set); it returns a :class:`~.dmft.DMFTResult`.

**Single-site process.** At N -> infinity the field eta_t = sum_j J_ij phi(h_j,t) on unit i is Gaussian
with mean 0 (J has mean 0) and covariance g^2 C_phi(t - s), C_phi(tau) = E phi(h_t) phi(h_t+tau) (not
centred), independent of b_i ~ N(mu_b, s_b^2) (the cavity argument of the flow, THEORY.md 6, which uses
nothing about time being continuous). For 0 < delta <= 1 the stationary solution of
h_{t+1} = (1 - delta) h_t + delta (eta_t + b) is

.. math::  h_t = b + \sum_{k \ge 0} a_k \eta_{t-1-k}, \qquad a_k = \delta (1 - \delta)^k,
           \qquad \sum_k a_k = 1,

a linear filter of Gaussians: h is Gaussian with mean mu_b, and its autocovariance about the mean is
C_h(tau) = s_b^2 + sum_{k,l} a_k a_l g^2 C_phi(tau - k + l). Under the discrete-time Fourier transform

.. math::  S_h(\omega) = 2\pi s_b^2 \delta_D(\omega) + |A(\omega)|^2 g^2 S_\phi(\omega), \qquad
           |A(\omega)|^2 = \frac{\delta^2}{|1 - (1 - \delta) e^{-i\omega}|^2}
           = \frac{\delta^2}{1 - 2 (1 - \delta) \cos\omega + (1 - \delta)^2},

with |A(0)|^2 = 1: the static parts (s_b^2, and g^2 <phi>^2 when mu_b != 0) pass unchanged. Equivalently
(1 - r E)(1 - r E^{-1}) (C_h - s_b^2) = delta^2 g^2 C_phi, r = 1 - delta, E the unit shift in tau. The
equation closes because C_phi(tau) = C_phi(C_h(tau); C_h(0), mu_b), the two-point Gaussian average
:func:`~.closed.gauss_corr`.

**delta = 1** (Molgedey, Schuchhardt & Schuster 1992). Then C_h(tau) = g^2 C_phi(C_h(tau)) + s_b^2 lag by
lag: Delta0 = g^2 <phi^2>_{Delta0} + s_b^2, and at mu_b = s_b = 0, c = 0 solves c = g^2 C_phi(c; Delta0)
(phi odd), stable under the iteration when g^2 <phi'>^2 < 1: C_h(tau >= 1) = 0.

**Flow limit.** Per unit time t = delta tau the filter's lag kernel, a_k summed against itself, is
F(tau) / delta = (1 - delta)^{|t| / delta} / (2 - delta) = (s / 2) e^{-s |t|} + O(delta^2), s = 1 + delta / 2:
to first order the map is the flow with time constant 1 / s, and the sums over integer lags are
trapezoid sums of a kernel whose kink sits on a node (error O(delta^2)). So, with the flow's (SCS) values
marked f,

- Delta0 = Delta0_f + O(delta^2) (Delta0 does not depend on the time scale: the O(delta) term vanishes);
- delta x relaxation time = (relaxation time)_f / s + O(delta^2), kappa / delta = s kappa_f + O(delta^2);
- lambda_max / delta = lambda_f (1 + delta / 2 + delta / mu'_f) + O(delta^2). With lambda = delta Lambda the
  two-replica kernel below is (1 - delta Lambda) times that of the flow with time constant 1 / s, whose
  top eigenvalue at Lambda is mu_f(Lambda / s), mu_f the flow's (:mod:`.closed`, sigma_z0 = 1); solving
  (1 - delta Lambda) mu_f(Lambda / s) = 1 to first order gives the coefficient, mu'_f = d mu_f / d Lambda
  < 0 at lambda_f (g = 2: mu'_f = -1.706, lambda_max / delta = 0.11246 (1 - 0.0861 delta)).

tests/test_euler_map.py checks these orders and the lambda_max coefficient at delta = 0.1, 0.05, 0.025.

**Relaxation.** The relaxation time is int (C_h - C_h(inf)) d tau / (C_h(0) - C_h(inf)) by the trapezoid
rule on the integer lags (delta = 1, no input: 1/2 step). The asymptotic decay rate kappa per step comes
from linearising the tail about c_inf = C_h(inf): C_phi - C_phi(c_inf) = a (C_h - c_inf) / g^2 with
a = g^2 C_phi'(c_inf) (Price's theorem: d C_phi / d c = C_phi'), and e^{-kappa tau} solves
(1 - r e^{-kappa})(1 - r e^{kappa}) = delta^2 a, i.e.

.. math::  \cosh\kappa = \frac{1 + r^2 - \delta^2 a}{2 r}

(kappa / delta -> sqrt(1 - a), the flow's rate, as delta -> 0; kappa = inf at delta = 1).

**lambda_max** (two replicas). Two replicas h^1, h^2 of the same network, from different initial states,
see fields with cross-covariance g^2 C^12_phi. Their difference d = h^1 - h^2 obeys
d_{t+1} = (1 - delta) d_t + delta xi_t, with xi = eta^1 - eta^2 Gaussian of covariance
g^2 [C^11_phi + C^22_phi - C^12_phi - C^21_phi](t, s) = g^2 C_phi'(t - s) Q(t, s) + O(Q^2), Q = E d_t d_s,
by expanding C^12_phi about the replica-symmetric C_phi (Price's theorem; b is common and cancels).
Iterating the filter, Q(t, s) = sum_{k,l} a_k a_l g^2 C_phi'(t - s - k + l) Q(t - 1 - k, s - 1 - l). With
Q(t, s) = e^{lambda (t + s)} q(t - s) (E d_t^2 ~ e^{2 lambda t}: lambda is the growth rate of |d| per step)

.. math::  q = L_\lambda q, \qquad \widehat{L_\lambda q}(\omega) =
           \frac{e^{-2\lambda} \delta^2}{|1 - r_\lambda e^{-i\omega}|^2}\, \widehat{V q}(\omega),
           \qquad V = g^2 C_{\phi'}, \quad r_\lambda = (1 - \delta) e^{-\lambda},

defined for lambda > ln(1 - delta). The kernel in lag space, K_lambda(tau) =
e^{-2 lambda} delta^2 r_lambda^|tau| / (1 - r_lambda^2), is positive and decreases in lambda at every tau,
and V = g^2 E phi'(u) phi'(v) > 0 (phi' = sech^2 > 0). So L_lambda = K V is a positive operator, similar to
the symmetric V^{1/2} K V^{1/2}; its top eigenvalue mu(lambda) (Perron-Frobenius: a positive q, the
fastest-growing mode) falls monotonically from infinity (lambda -> ln(1 - delta)) to 0 (lambda -> inf),
and lambda_max is the one root of mu(lambda) = 1. Checks:

- delta = 1: K = e^{-2 lambda} delta_{tau,0}, L is diagonal with entries e^{-2 lambda} g^2 C_phi'(tau),
  largest at tau = 0 (C_phi'(0) = <phi'^2> > <phi'>^2): lambda_max = 1/2 ln(g^2 <phi'^2>_{Delta0})
  (Molgedey et al. 1992).
- delta -> 0: the kernel tends to 1/((1 + Lambda)^2 + Omega^2), the flow's two-replica operator
  (:mod:`.closed`, the SCS Schroedinger problem): lambda_max / delta -> the flow's lambda_max.
- A static solution (C_h constant, V = g^2 <phi'^2>): the top eigenvalue sits at omega = 0 and mu = 1 gives
  e^{lambda} = 1 - delta + delta g sqrt(<phi'^2>), the spectral radius of the map's Jacobian
  (1 - delta) I + delta J D[phi'] at the fixed point (J D[phi'] fills the disk of radius g sqrt(<phi'^2>),
  Haagerup-Larsen). This is lambda_max of the "no_chaos" status; it is below 0 exactly when
  g^2 <phi'^2> < 1, which is also where the static C_h is stable under the iteration above (a
  perturbation of C_h at omega = 0 is multiplied by g^2 <phi'^2>): the map loses its stable fixed point
  and turns chaotic where the flow does, at any delta in (0, 1].

**Numerics.** Periodic grid of integer lags 0 .. 2L - 1 (period 2L steps; default L = ceil(60 / delta),
60 time units of the flow; while C_h has not decayed by L, up to three times, L grows towards 20 decay
lengths 20 / kappa, by a factor 2 to 4, from the smaller grid's solution; near the transition a grid
shorter than the decay lets the iteration settle on the unstable static solution instead, which is
reported as "not_converged", never as "no_chaos"); the filter is diagonal under
the FFT. The fixed point C_h is found by :func:`~.closed.anderson` (damped plain iteration, Anderson
mixing below a residual of 1e-3) from an SCS-like guess, to a relative residual ``tol``; below the
transition it collapses onto a constant, and the static mean field (:func:`~.static.static`) gives the
fixed point. Gaussian averages by :func:`~.closed.gauss_corr`, whose 48-node Chebyshev table in the
covariance limits the accuracy at large Delta0 (relative errors of C_phi': 1e-13 at Delta0 = 2, 4e-5 at
Delta0 = 12.5, which is g = 4 at delta = 1, where lambda_max is then off by 1.7e-6). mu(lambda) is the top
eigenvalue of V^{1/2} K V^{1/2} by Lanczos (``scipy.sparse.linalg.eigsh``, FFT matrix-vector products),
and lambda_max its root by Brent's method after bracketing.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.sparse.linalg

from ..errors import InputError
from ..models.vanilla import VanillaRNN
from .closed import anderson, decayed, gauss_corr, lag_grid, tanh, tanh_prime
from .dmft import DMFTResult, _gated_stats, _is_static


def _check(ensemble) -> float:
    """delta of a vanilla Euler map; InputError for anything else."""
    if not isinstance(ensemble, VanillaRNN):
        raise InputError(f"dmft: the EulerMap solver needs a VanillaRNN map, got {type(ensemble).__name__}")
    if ensemble.delta is None:
        raise InputError(
            "dmft: the EulerMap solver is for the Euler map (VanillaRNN with delta set); "
            "the flow (delta=None) has the SCS and Closed solvers"
        )
    delta = float(ensemble.delta)
    if not 0.0 < delta <= 1.0:
        raise InputError(f"dmft: the Euler map's DMFT needs 0 < delta <= 1, got delta = {delta:g}")
    return delta


def filter_gain(omega, delta: float) -> np.ndarray:
    """|A(omega)|^2 = delta^2 / |1 - (1 - delta) e^{-i omega}|^2: the spectral gain of the map's filter
    (1 at omega = 0)."""
    r = 1.0 - delta
    return delta**2 / (1.0 - 2.0 * r * np.cos(omega) + r**2)


@jax.jit
def _step(c_h, gain, g, mu_b, s_b):
    c_phi = gauss_corr(tanh, c_h, c_h[0], mu_b)
    c_new = jnp.real(jnp.fft.ifft(jnp.real(jnp.fft.fft(g**2 * c_phi)) * gain)) + s_b**2
    return c_new, c_phi


def solve(ensemble, *, max_lag: int, tol: float = 1e-10, max_iter: int = 3000, c_init=None) -> dict:
    """The stationary C_h (about the mean mu_b) and C_phi of the map on the periodic grid of integer lags
    0 .. 2 ``max_lag`` - 1. Returns a dict (lags, omega, c_h, c_phi, residual, iterations, delta, params)."""
    delta = _check(ensemble)
    g, mu_b, s_b = float(ensemble.g), float(ensemble.mu_b), float(ensemble.s_b)
    lags, omega = lag_grid(float(max_lag), 1.0)
    gain = jnp.asarray(filter_gain(omega, delta))
    if c_init is None:
        # an SCS-like guess, large enough to start on the chaotic branch where one exists
        d0 = max(g**2 / 4, 1.0) + s_b**2
        c_init = d0 * np.exp(-delta * lags) + s_b**2
    c_h, res, its = anderson(
        lambda c: _step(jnp.asarray(c), gain, g, mu_b, s_b)[0],
        np.asarray(c_init, float),
        tol=tol,
        max_iter=max_iter,
    )
    c_phi = np.asarray(_step(jnp.asarray(c_h), gain, g, mu_b, s_b)[1])
    return {
        "lags": lags, "omega": omega, "c_h": np.asarray(c_h), "c_phi": c_phi, "residual": res,
        "iterations": its, "delta": delta, "params": {"g": g, "mu_b": mu_b, "s_b": s_b},
    }  # fmt: skip


def replica_potential(sol: dict) -> np.ndarray:
    """V(tau) = g^2 C_phi'(tau) on the grid of a solution of :func:`solve`."""
    p, c_h = sol["params"], jnp.asarray(sol["c_h"])
    return p["g"] ** 2 * np.asarray(gauss_corr(tanh_prime, c_h, c_h[0], p["mu_b"]))


def top_eigenvalue(sol: dict, lam: float, v=None) -> float:
    """mu(lambda): the top eigenvalue of the two-replica operator L_lambda (module doc) on the grid
    (``v``: :func:`replica_potential`, computed if not given)."""
    delta, w = sol["delta"], sol["omega"]
    sqrt_v = np.sqrt(np.maximum(replica_potential(sol) if v is None else v, 0.0))
    r = (1.0 - delta) * math.exp(-lam)
    kernel = math.exp(-2.0 * lam) * delta**2 / (1.0 - 2.0 * r * np.cos(w) + r**2)
    n = w.size

    def apply(x):  # V^{1/2} K V^{1/2} x, symmetric
        x = np.asarray(x).ravel()
        return sqrt_v * np.real(np.fft.ifft(kernel * np.fft.fft(sqrt_v * x)))

    op = scipy.sparse.linalg.LinearOperator((n, n), matvec=apply, dtype=float)
    v0 = sqrt_v * np.exp(-delta * sol["lags"])
    return float(scipy.sparse.linalg.eigsh(op, k=1, which="LA", v0=v0, tol=1e-13)[0][0])


def lambda_max(sol: dict) -> float:
    """The two-replica lambda_max per step (module doc): the root of mu(lambda) = 1, by Brent's method."""
    delta, v = sol["delta"], replica_potential(sol)
    mu = lambda lam: top_eigenvalue(sol, lam, v)  # noqa: E731
    floor = math.log1p(-delta) if delta < 1.0 else -math.inf  # the kernel needs (1 - delta) e^{-lambda} < 1
    lo = -delta
    for _ in range(200):  # mu -> inf as lambda -> floor
        if mu(lo) > 1.0:
            break
        lo = 0.5 * (lo + floor) if math.isfinite(floor) else 2.0 * lo
    else:
        return math.nan
    hi = delta
    for _ in range(60):  # mu -> 0 as lambda -> inf
        if mu(hi) < 1.0:
            break
        hi *= 2.0
    else:
        return math.nan
    return scipy.optimize.brentq(lambda x: mu(x) - 1.0, lo, hi, xtol=1e-14, rtol=1e-13)


def decay_rate(sol: dict) -> float:
    """The asymptotic decay rate kappa of C_h per step: cosh kappa = (1 + r^2 - delta^2 a) / (2 r),
    r = 1 - delta, a = g^2 C_phi'(C_h(inf)) (module doc); inf at delta = 1, NaN where a >= 1."""
    delta, p = sol["delta"], sol["params"]
    c_h = sol["c_h"]
    c_inf = float(c_h[c_h.size // 2])  # the lag L, farthest from 0 on the periodic grid
    a = p["g"] ** 2 * float(gauss_corr(tanh_prime, jnp.asarray(c_inf), c_h[0], p["mu_b"]))
    if a >= 1.0:
        return math.nan
    r = 1.0 - delta
    if r == 0.0:
        return math.inf
    return math.acosh((1.0 + r**2 - delta**2 * a) / (2.0 * r))


def fixed_point_rate(ensemble) -> tuple[float, float, float]:
    """(lambda per step, Delta_h, mean of h) at the stable static fixed point (the static mean field's
    largest stable branch): lambda = ln(1 - delta + delta g sqrt(<phi'^2>)), the spectral radius of the
    map's Jacobian there (module doc). Where no branch is strictly stable (at the transition, where the
    zero branch is marginal), the smallest branch: its lambda is then >= 0 (0 at the marginal point)."""
    from .static import static

    delta = _check(ensemble)
    st = static(ensemble)
    ok = np.flatnonzero(np.asarray(st.valid & st.stable))
    if ok.size == 0:
        ok = np.flatnonzero(np.asarray(st.valid))[:1]
    if ok.size == 0:
        raise InputError(f"no static mean-field solution for {ensemble!r}")
    d0, m = float(st.delta_h[ok[-1]]), float(st.mean_h[ok[-1]])
    dphi2 = float(gauss_corr(tanh_prime, jnp.asarray(d0), d0, m))  # C_phi'(c0; c0) = <phi'^2>
    return math.log(1.0 - delta + delta * float(ensemble.g) * math.sqrt(dphi2)), d0, m


def _result(ensemble, sol: dict, tol: float) -> DMFTResult:
    n = sol["lags"].size // 2 + 1
    tau, c_h = sol["lags"][:n], sol["c_h"][:n]
    if not np.all(np.isfinite(c_h)):
        return DMFTResult(tau, c_h, math.nan, math.nan, math.nan, math.nan, "not_converged", math.inf,
                          "euler_map", message="the C_h iteration diverged")  # fmt: skip
    if _is_static(c_h):
        lam, d0, m = fixed_point_rate(ensemble)
        if lam > 1e-9:  # g^2 <phi'^2> > 1: a chaotic solution exists, but the iteration missed it
            msg = (
                f"the iteration settled on the unstable static solution (the fixed point grows at {lam:.3g} "
                "per step): near the transition C_h decays slowly; pass EulerMap(max_lag=...) larger than "
                "20 decay lengths"
            )
            nan = math.nan
            return DMFTResult(tau, c_h, float(c_h[0]), nan, nan, nan, "not_converged", float(sol["residual"]),
                              "euler_map", message=msg)  # fmt: skip
        return DMFTResult(tau, np.full_like(c_h, d0), d0, lam, 0.0, -lam, "no_chaos", 0.0, "euler_map",
                          statistics=_gated_stats(ensemble, d0, mean_h=m),
                          message="no chaotic solution: lambda_max is the decay rate per step at the "
                                  "stable fixed point")  # fmt: skip
    status, message = "converged", ""
    if not sol["residual"] < tol:
        status = "not_converged"
        message = f"residual {sol['residual']:.3g} above tol = {tol:g} after {sol['iterations']} iterations"
    if not decayed(c_h):  # the periodic grid assumes C_h has settled by L
        status = "not_converged"
        message = (
            f"C_h has not decayed by L = {tau[-1]:g} steps (C_h(L/2) = {c_h[c_h.size // 2]:.3g}, "
            f"C_h(L) = {c_h[-1]:.3g}, C_h(0) = {c_h[0]:.3g}); pass EulerMap(max_lag=...) about twice as large"
        )
    d0 = float(c_h[0])
    return DMFTResult(
        tau=tau,
        c_h=c_h,
        delta0=d0,
        lambda_max=lambda_max(sol),
        relaxation_time=float(np.trapezoid(c_h - c_h[-1], tau) / (c_h[0] - c_h[-1])),
        decay_rate=decay_rate(sol),
        status=status,
        residual=float(sol["residual"]),
        method="euler_map",
        correlations={"c_phi": sol["c_phi"][:n]},
        message=message,
        statistics=_gated_stats(ensemble, d0, mean_h=sol["params"]["mu_b"]),
    )


@dataclasses.dataclass(frozen=True)
class EulerMap:
    """The DMFT of the vanilla Euler map (module doc) on a periodic grid of integer lags with half-period
    ``max_lag`` steps (default ceil(60 / delta), grown up to three times, to at least 20 decay lengths,
    while C_h has not decayed); converged
    when the relative residual of the C_h iteration is below ``tol``. Lags, relaxation time and decay rate
    in steps; lambda_max per step."""

    max_lag: int | None = None
    tol: float = 1e-10
    max_iter: int = 3000

    def __call__(self, ensemble, key=None) -> DMFTResult:
        delta = _check(ensemble)
        max_lag = self.max_lag if self.max_lag is not None else math.ceil(60.0 / delta)
        if max_lag < 2:
            raise InputError(f"dmft: EulerMap needs max_lag >= 2, got {max_lag}")
        sol = solve(ensemble, max_lag=max_lag, tol=self.tol, max_iter=self.max_iter)
        for _ in range(3 if self.max_lag is None else 0):
            c = sol["c_h"][: max_lag + 1]
            if decayed(c) or (_is_static(c) and fixed_point_rate(ensemble)[0] <= 1e-9):
                break
            # C_h has not decayed by L, or the iteration settled on an unstable static solution: near the
            # transition C_h decays slowly and does not fit the grid. Grow it towards 20 decay lengths (as the
            # SCS box; kappa from the undecayed tail is an underestimate, so at most 4 times per round), at
            # least doubling it, from the smaller grid's solution where that one decays.
            kappa = math.nan if _is_static(c) else decay_rate(sol)
            if 0.0 < kappa < math.inf and c[-1] < 0.5 * c[0]:
                new = min(max(2 * max_lag, math.ceil(20.0 / kappa)), 4 * max_lag)
                c_init = np.interp(lag_grid(float(new), 1.0)[0], sol["lags"][: max_lag + 1], c)
            else:
                new, c_init = 4 * max_lag, None
            sol = solve(ensemble, max_lag=new, tol=self.tol, max_iter=self.max_iter, c_init=c_init)
            max_lag = new
        return _result(ensemble, sol, self.tol)
