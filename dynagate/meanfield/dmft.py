r"""Dynamical mean-field theory of the chaotic state: :func:`dmft` with its solvers, and the SCS method.

**Solvers** (objects, chosen automatically unless given): :class:`SCS`, the potential method below
(vanilla flow, and the gated RNN with alpha_z = alpha_r = 0 and no input); :class:`Closed`, the closed
alpha_z = 0 equation with any reset gate and static input (:mod:`.closed`); :class:`MonteCarlo`, the
sampled iteration for any alpha_z (:mod:`.montecarlo`); and, for the vanilla Euler map (delta set),
:class:`~.euler_map.EulerMap` (per step). Each returns a :class:`DMFTResult` with a status
("converged", "not_converged", "no_chaos") and a residual; the three flow solvers agree where their
domains overlap (tests/test_dmft.py).

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
decay of C_h and lambda_max are set by the same potential g^2 C_phi'(tau): kappa^2 - 1 is the edge of the
continuum of H = -d^2 - g^2 C_phi', -(1 + lambda_max)^2 = E0 its ground state. Near the transition the
relation is explicit: Delta'' = kappa^2 Delta - c Delta^3 + ... (phi odd, so no Delta^2 term) has the
solution Delta = Delta0 sech(kappa tau), and H + 1 is its fluctuation operator
-d^2 + kappa^2 - 6 kappa^2 sech^2(kappa tau), a Poeschl-Teller well with levels kappa^2 (1 - (2 - n)^2):
the odd n = 1 level is the zero mode Delta' (time translation), the ground state E0 = -1 - 3 kappa^2, so

.. math::  \lambda_{max} = \sqrt{1 + 3\kappa^2} - 1 \approx \tfrac32 \kappa^2
           \approx \tfrac{3\pi^2}{8\,\tau_c^2} \quad (g \to 1^+),

with the correlation time tau_c = pi / (2 kappa) of the sech. tests/test_dmft.py checks the first form to
0.2% at g = 1.02 (1.2% at 1.05); at g = 2 lambda_max is 1.5 times larger (the well is no longer
Poeschl-Teller). The solver's box and step grow as 20 / kappa near the transition.

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
import functools
import math

import jax
import numpy as np
import scipy.linalg
import scipy.optimize

from .. import rmt
from ..errors import InputError, check_key
from ..models.gated import GatedRNN, _is_zero
from ..models.vanilla import VanillaRNN
from ..results import Status, as_status, jsonable
from .closed import decayed
from .sitelaw import meanfield_stats

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


#: The ``method`` of solvers for maps (lags in steps, lambda_max per step).
MAP_METHODS = frozenset({"euler_map", "gru-montecarlo", "lstm-montecarlo"})


@dataclasses.dataclass(frozen=True)
class DMFTResult:
    """The stationary chaotic solution: C_h(tau) (autocovariance of h about its mean) on ``tau`` >= 0
    (time units of tau_h; steps for maps, :attr:`per_step`), Delta0 = C_h(0), lambda_max (per unit time,
    or per step), the relaxation time, and a status:
    "converged", "not_converged" (see ``residual``), or "no_chaos" (the only solution is a fixed point;
    lambda_max is then the decay rate of perturbations at it, e.g. -(1 - g) for the vanilla flow).

    ``correlations``: other autocorrelations on ``tau`` (C_phi, C_r, C_z, C_sigma_r) where the solver
    has them; ``stderr``: Monte-Carlo standard errors ("delta0", "lambda_max", "c_h"); ``statistics``:
    the equal-time single-site law for :func:`dynagate.meanfield.dmft_stats` ({"variances", "means"} for
    Gaussian solutions, {"samples"} for sampled ones)."""

    tau: np.ndarray
    c_h: np.ndarray
    delta0: float
    lambda_max: float
    relaxation_time: float
    decay_rate: float
    status: Status
    residual: float
    method: str
    correlations: dict = dataclasses.field(default_factory=dict)
    stderr: dict = dataclasses.field(default_factory=dict)
    message: str = ""
    statistics: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "status", as_status(self.status))

    @property
    def per_step(self) -> bool:
        """Whether lags are in steps and lambda_max is per step (the solvers of maps)."""
        return self.method in MAP_METHODS

    def summary(self) -> dict:
        """The main numbers (strict JSON: NaN and inf as null)."""
        d = {k: getattr(self, k) for k in ("delta0", "lambda_max", "relaxation_time", "decay_rate")}
        d |= {"status": self.status, "residual": self.residual, "method": self.method}
        d |= {"message": self.message} if self.message else {}
        return jsonable(d | {f"{k}_se": float(v) for k, v in self.stderr.items() if np.ndim(v) == 0})


@functools.singledispatch
def _effective(ensemble) -> tuple[float, float]:
    """(gain g, time scale sigma_z0) of the equivalent vanilla flow (registered per model); InputError where
    SCS does not apply."""
    raise InputError(f"dmft needs a VanillaRNN or GatedRNN ensemble, got {type(ensemble).__name__}")


def _check_no_input(e) -> None:
    if not _no_input(e):
        raise InputError(
            "dmft: the SCS potential method is implemented without static input (mu_b = s_b = 0)"
        )


@_effective.register
def _(e: VanillaRNN) -> tuple[float, float]:
    if e.delta is not None:
        raise InputError(
            "dmft: the SCS solution is for the flow (VanillaRNN with delta=None); the map has EulerMap"
        )
    _check_no_input(e)
    return float(e.g), 1.0


@_effective.register
def _(e: GatedRNN) -> tuple[float, float]:
    if not (_is_zero(e.alpha_z) and _is_zero(e.alpha_r)):
        raise InputError(
            "dmft: only alpha_z = alpha_r = 0 maps onto the SCS solution (use Closed or MonteCarlo)"
        )
    _check_no_input(e)
    sr0, sz0 = 1 / (1 + math.exp(float(e.beta_r))), 1 / (1 + math.exp(float(e.beta_z)))
    return float(e.g_h) * sr0, sz0


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


def _scs(ensemble, tau_max: float, dt: float) -> DMFTResult:
    """The SCS chaotic solution of the vanilla flow, or of the gated RNN with alpha_z = alpha_r = 0 (exactly
    the vanilla flow with gain g_h sigma_r0 and time scaled by sigma_z0). Times in units of tau_h."""
    g, scale = _effective(ensemble)
    if g <= 1.0:
        tau = np.linspace(0.0, tau_max, 2) / scale
        return DMFTResult(
            tau, np.zeros(2), 0.0, scale * (g - 1.0), 0.0, scale * (1.0 - g), "no_chaos", 0.0, "scs"
        )
    d0, residual = _delta0(g)
    kappa = math.sqrt(max(1.0 - g**2 * _corr(_phi_prime, np.zeros(1), d0)[0], 0.0))
    # near the transition C_h decays slowly (rate kappa -> 0): the box must hold ~20 decay lengths; the
    # curve is smooth on the scale 1/kappa, so the step grows with the box
    stretch = max(1.0, 20.0 / (kappa * tau_max)) if kappa > 0 else 1.0
    tau_max, dt = tau_max * stretch, dt * stretch
    tau, delta = _trajectory(g, d0, tau_max, dt)
    # Richardson: the finite-difference energy has an O(dt^2) error
    e_fine = _ground_energy(g, tau, delta, d0, dt)
    e_coarse = _ground_energy(g, tau[::2], delta[::2], d0, 2 * dt)
    e0 = (4 * e_fine - e_coarse) / 3
    lam = -1.0 + math.sqrt(-e0)
    corr_time = _curve_summary(tau, delta)[0]  # delta -> 0: int Delta / Delta0
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
        statistics=_gated_stats(ensemble, d0),
    )


def _gated_stats(ensemble, d0, c_r0=None, c_z0=None, mean_h=0.0) -> dict:
    """Equal-time Gaussian single-site law: h ~ N(mean_h, Delta0), independent r, z (gated)."""
    var, sharp = {"h": d0}, {}
    if isinstance(ensemble, GatedRNN):
        sharp = {"r": abs(float(ensemble.alpha_r)), "z": abs(float(ensemble.alpha_z))}
        phi2 = _corr(lambda y: np.tanh(mean_h + y), np.array([d0]), d0)[0]  # <phi^2>
        var |= {"r": c_r0 if c_r0 is not None else float(ensemble.g_r) ** 2 * phi2}
        if not _is_zero(ensemble.alpha_z):
            var |= {"z": c_z0 if c_z0 is not None else float(ensemble.g_z) ** 2 * phi2}
    return {"variances": var, "means": {"h": mean_h}, "sharpness": sharp}


def _curve_summary(tau, c):
    """(relaxation time, asymptotic decay rate) of an autocovariance decaying to c(inf) = c[-1]: the
    correlation time int (c - c_inf) / (c_0 - c_inf) and the log-slope where c - c_inf falls below 1e-2."""
    x = c - c[-1]
    if x[0] <= 0:
        return 0.0, math.inf
    corr_time = float(np.trapezoid(x, tau) / x[0])
    i = np.flatnonzero(x < 1e-2 * x[0])
    if i.size == 0 or i[0] + 20 >= x.size or x[i[0] + 20] <= 0:
        return corr_time, float("nan")
    j = i[0]
    return corr_time, float(np.log(x[j] / x[j + 20]) / (tau[j + 20] - tau[j]))


def _fixed_point_rate(ensemble) -> float:
    """Decay rate of perturbations at the stable static fixed point: the rightmost edge of the Jacobian
    spectrum at the static mean-field statistics (:mod:`dynagate.rmt`)."""
    return float(rmt.rightmost(rmt.structure(ensemble, meanfield_stats(ensemble))))


@dataclasses.dataclass(frozen=True)
class SCS:
    """The SCS potential method (module doc): exact to ~1e-10; vanilla flow, or gated with
    alpha_z = alpha_r = 0 and no static input. ``dt``: RK4 and finite-difference step."""

    tau_max: float = 60.0
    dt: float = 0.01

    def __call__(self, ensemble, key=None) -> DMFTResult:
        return _scs(ensemble, self.tau_max, self.dt)


@dataclasses.dataclass(frozen=True)
class Closed:
    """The closed alpha_z = 0 equation (:mod:`.closed`) on a periodic lag grid of period 2 t_max
    (default 60 / sigma_z0) and step ``dt``; converged when the relative residual is below ``tol``."""

    t_max: float | None = None
    dt: float = 0.05
    tol: float = 1e-10
    max_iter: int = 400

    def __call__(self, ensemble, key=None) -> DMFTResult:
        from . import closed

        _check_gated(ensemble, vanilla_ok=True)
        if isinstance(ensemble, GatedRNN) and not _is_zero(ensemble.alpha_z):
            raise InputError("dmft: the Closed solver needs alpha_z = 0 (use MonteCarlo)")
        p = closed._params(ensemble)
        t_max = self.t_max if self.t_max is not None else 60.0 / p["sz0"]
        # near the transition C_h decays slowly: with the default grid, double it (twice) until it settles
        for _ in range(3 if self.t_max is None else 1):
            sol = closed.solve(ensemble, t_max=t_max, dt=self.dt, tol=self.tol, max_iter=self.max_iter)
            res = _from_grid(ensemble, sol, math.nan, "closed", self.tol, sol["residual"])
            if "has not decayed" not in res.message:
                break
            t_max *= 2
        if res.status == "no_chaos":
            return res
        return dataclasses.replace(res, lambda_max=closed.lambda_max(sol))


@dataclasses.dataclass(frozen=True)
class MonteCarlo:
    """The sampled iteration for any alpha_z (:mod:`.montecarlo`; settings in
    :class:`~.montecarlo.Options`); standard errors by batch means; lambda_max by the sampled
    two-replica tangent problem. ``lambda_max=False`` skips it (NaN)."""

    options: object = None
    lambda_max: bool = True

    def __call__(self, ensemble, key=None) -> DMFTResult:
        from . import closed, montecarlo

        _check_gated(ensemble)
        o = self.options or montecarlo.Options()
        if key is None:
            raise InputError("dmft: the MonteCarlo solver samples paths; pass key=jax.random.PRNGKey(...)")
        key = check_key("dmft", key)
        t_max = montecarlo.default_t_max(o, closed._params(ensemble))
        init = closed.solve(ensemble.replace(alpha_z=0.0), t_max=t_max, dt=o.dt, tol=1e-8)
        if _is_static(init["c_h"]):
            return _from_grid(ensemble, init, math.nan, "montecarlo", 1e-8, init["residual"])
        k1, k2 = jax.random.split(key)
        sol = montecarlo.solve(ensemble, key=k1, options=o, init=init)
        lam, lam_se = (math.nan, math.nan)
        if self.lambda_max:
            lam, lam_se = montecarlo.lambda_max(sol, key=k2, options=o, lam0=closed.lambda_max(init))
        drift = sol["drift"] / max(sol["drift_se"], 1e-300)
        advice = (f"after {sol['regrids']} grid extensions (dt = {sol['dt']:g}); pass Options(t_max=...) "
                  "about twice as large (cost grows as t_max / dt)")  # fmt: skip
        res = _from_grid(ensemble, sol, lam, "montecarlo", math.inf, drift, advice=advice)
        n = res.tau.size
        stderr = {"delta0": sol["delta0_se"], "lambda_max": lam_se, "c_h": sol["c_h_se"][:n]}
        if not sol["converged"]:
            msg = (
                f"Delta0 still drifts: {sol['drift']:.3g} between the halves of the averaging window "
                f"against a standard error {sol['drift_se']:.3g}; raise n_burn"
            )
            res = dataclasses.replace(res, status="not_converged", message=res.message or msg)
        return dataclasses.replace(res, stderr=stderr, statistics={"samples": sol["samples"]})


def _check_gated(ensemble, vanilla_ok=False):
    if vanilla_ok and isinstance(ensemble, VanillaRNN):
        if ensemble.delta is not None:
            raise InputError(
                "dmft: this solver is for the flow (VanillaRNN with delta=None); use EulerMap for the map"
            )
        return
    if not isinstance(ensemble, GatedRNN):
        what = "a VanillaRNN or GatedRNN" if vanilla_ok else "a GatedRNN"
        raise InputError(f"dmft: this solver needs {what} ensemble, got {type(ensemble).__name__}")


def _is_static(c_h) -> bool:
    return bool(c_h[0] - np.min(c_h) <= 1e-6 * max(c_h[0], 1e-12))


def _from_grid(ensemble, sol, lam, method, tol, residual, advice: str = "raise t_max") -> DMFTResult:
    n = sol["lags"].size // 2 + 1
    tau, c_h = sol["lags"][:n], np.asarray(sol["c_h"])[:n]
    corr = {k: np.asarray(sol[k])[:n] for k in ("c_phi", "c_r", "c_z", "c_sr") if k in sol}
    stats = _gated_stats(ensemble, float(c_h[0]), float(corr["c_r"][0]), float(corr["c_z"][0]),
                         float(sol.get("mean_h", sol["params"]["mu_b"])))  # fmt: skip
    if _is_static(c_h):
        from .static import static

        st = static(ensemble)
        branch = int(np.flatnonzero(np.asarray(st.valid & st.stable))[-1])
        d0 = float(st.delta_h[branch])
        lam = _fixed_point_rate(ensemble)
        return DMFTResult(tau, np.full_like(c_h, d0), d0, lam, 0.0, -lam, "no_chaos", 0.0, method, {},
                          statistics=_gated_stats(ensemble, d0, mean_h=float(st.mean_h[branch])))  # fmt: skip
    corr_time, kappa = _curve_summary(tau, c_h)
    status, message = ("converged", "") if residual < tol else ("not_converged", "residual above tolerance")
    se = np.asarray(sol["c_h_se"])[:n] if "c_h_se" in sol else None
    if not decayed(c_h, se):  # the periodic grid assumes C_h has settled by t_max
        status = "not_converged"
        message = (
            f"C_h has not decayed by t_max = {tau[-1]:g} (C_h(t_max/2) = {c_h[c_h.size // 2]:.3g}, "
            f"C_h(t_max) = {c_h[-1]:.3g}, C_h(0) = {c_h[0]:.3g}); {advice}"
        )
    return DMFTResult(tau, c_h, float(c_h[0]), float(lam), corr_time, kappa, status, float(residual),
                      method, corr, statistics=stats, message=message)  # fmt: skip


@functools.singledispatch
def default_solver(ensemble):
    """The DMFT solver of ``ensemble``, dispatched on its type (a model's DMFT registers here: the GRU in
    :mod:`.gru_dmft`, the LSTM in :mod:`.lstm_dmft`): EulerMap for the vanilla Euler map; SCS where it
    applies, else Closed for alpha_z = 0, else MonteCarlo; the sampled map DMFT for the GRU and LSTM. A
    model without one gets an InputError naming every model that has one."""
    names = ", ".join(sorted(c.__name__ for c in default_solver.registry if c is not object))
    raise InputError(f"dmft: no DMFT for {type(ensemble).__name__}; there is one for {names}")


def _no_input(e) -> bool:
    return _is_zero(e.mu_b) and _is_zero(e.s_b)


@default_solver.register
def _(e: VanillaRNN):
    if e.delta is not None:
        from .euler_map import EulerMap

        return EulerMap()
    return SCS() if _no_input(e) else Closed()


@default_solver.register
def _(e: GatedRNN):
    if _is_zero(e.alpha_z) and _is_zero(e.alpha_r) and _no_input(e):
        return SCS()
    return Closed() if _is_zero(e.alpha_z) else MonteCarlo()


def has_dmft(ensemble) -> bool:
    """Whether a DMFT is registered for the type of ``ensemble`` (:func:`default_solver`)."""
    return default_solver.dispatch(type(ensemble)) is not default_solver.dispatch(object)


def dmft(ensemble, *, solver=None, key=None) -> DMFTResult:
    """The stationary chaotic solution of ``ensemble`` (vanilla flow or map, or gated RNN) by ``solver`` (an
    :class:`SCS`, :class:`Closed`, :class:`MonteCarlo` or :class:`~.euler_map.EulerMap`; default
    :func:`default_solver`). ``key``: PRNG key of the Monte-Carlo solver (required there: an InputError
    without it). Times in units of tau_h, lambda_max per unit time; for the map (EulerMap) lags in steps,
    lambda_max per step."""
    solver = default_solver(ensemble) if solver is None else solver
    return solver(ensemble, key)
