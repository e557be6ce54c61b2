r"""Annealed topological complexity of fixed points (Kac-Rice), THEORY.md section 8.

The mean number of fixed points grows as E[#FP] ~ exp(N Sigma). Sigma is found here as a variational
problem over the single-site law rho of a fixed point, solved numerically on a grid.

**Vanilla network** (F(h) = -h + J phi(h) + b). Given h, the vector J phi(h) + b is Gaussian with iid
entries N(mu_b, V), V = g^2 q + s_b^2, q = <phi^2>_rho. Conditioning J on J phi(h) = h - b changes it by
rank one, which leaves (1/N) log|det(I - J D[phi'])| unchanged at leading order. By Sanov's theorem:

    Sigma = sup_rho [ -KL(rho || N(mu_b, V_rho)) + L_rho ],
    L_rho = lim (1/N) log|det(I - J D[phi'])| = int_{r > 1} log r dF(r).

J D[phi'] is R-diagonal, so its eigenvalue law is rotation invariant and averaging log|1 - lambda| over the
angle gives log max(1, |lambda|). Its radial CDF F(r) comes from Haagerup-Larsen:
r^2(s) = g^2 <t / (1 + s t)>, F(s) = <1 / (1 + s t)>, t = phi'(h)^2, s > 0.

As rho shrinks to a point mass at 0, -KL -> -(log g - 1/2 + 1/(2 g^2)) and L -> the same value with the
opposite sign: the functional tends to 0, the zero fixed point. With a bounded phi there is always at
least one fixed point (Brouwer), so Sigma = max(0, sup).

**Gated RNN.** The z-gate drops out: a fixed point solves G(h) = -h + J^h (sigma_r(r) phi(h)) + b_h = 0
with r = J^r phi(h). If the gates are instantaneous, F = D[sigma_z] G, and the sigma_z factors of
delta(F) and of |det dF| cancel. If z and r are dynamical, the Jacobian is block-triangular in z at a fixed
point, since a = 0 there. Eliminating r, the count is that of the zeros of G, and

    dG/dh = -I + J^h K,  K = D[a] + D[b] J^r D[c],
    a = sigma_r(r) phi'(h),  b = sigma_r'(r) phi(h),  c = phi'(h).

Given h, r is Gaussian N(0, g_r^2 q) and J^h v is N(0, g_h^2 q_v) with v = sigma_r(r) phi(h). The site law
is therefore a joint rho(h, r), against the reference N(mu_b, g_h^2 q_v + s_b^2) x N(0, g_r^2 q), with
q_v = <sigma_r^2 phi^2>_rho.

The determinant term: J^h K is R-diagonal (a Ginibre matrix times an independent one), so Haagerup-Larsen
applies with the law of t replaced by the squared singular values x of K:
r^2(s) = g_h^2 <x / (1 + s x)>, F(s) = <1 / (1 + s x)>.

The needed resolvent (1/N) tr (K K^* + eta^2)^{-1}, with eta^2 = 1/s, follows from the hermitization
of K. Its matrix Dyson equation has a separable variance profile, so it closes on two scalars P and Q:

    alpha_i = eta + g_r^2 b_i^2 Q,   beta_i = eta + g_r^2 c_i^2 P,   D_i = alpha_i beta_i + a_i^2,
    P = <b^2 beta / D>,   Q = <c^2 alpha / D>,   F = eta <beta / D>.

Then 1 - F = <((alpha - eta) beta + a^2) / D>, with no cancellation. At b = 0 this reduces to the vanilla
formula with t = a^2. The gated case with alpha_r = 0 or g_r = 0 is the vanilla network with gain
g_h sigma_r0.

tests/test_kacrice.py checks L against eigenvalues of sampled matrices and Sigma against exhaustive
fixed-point counts.

**Numerics.**
- rho is a probability vector on a uniform grid, in h for the vanilla network and in (h, r) for the gated
  one. It is maximised over its log-weights by L-BFGS with exact JAX gradients, from the best Gaussian (a
  one-parameter scan).
- The entropy of a smooth density on a uniform grid is accurate to high order, so the grid error is far
  below 1e-5 at the default sizes; tests check it by refinement.
- L is computed as int log r dF in y = eta*/eta on (0, 1), with 64 Gauss-Legendre nodes. eta* solves
  r(eta*) = 1 by bisection; the integrand vanishes there, so eta* needs no derivative.
- dF/deta comes from a forward-mode derivative. (P, Q) are found by plain iteration, then polished by
  Newton; they are differentiated implicitly with one Newton step on the converged value.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError, check_size
from .models.gated import GatedRNN, dgate, gate
from .models.vanilla import VanillaRNN
from .results import Status, jsonable

_Y, _WY = (np.asarray(v) for v in np.polynomial.legendre.leggauss(64))
_Y, _WY = (_Y + 1) / 2, _WY / 2  # Gauss-Legendre on (0, 1)


@dataclasses.dataclass(frozen=True)
class Complexity:
    """The annealed complexity of one ensemble.

    Attributes:
        sigma: Sigma = max(0, sup of the functional); E[#FP] ~ exp(N Sigma).
        functional: the functional at the optimum (may be slightly negative when Sigma = 0).
        gaussian: the best value over Gaussian site laws. It is a lower bound, and is the start of
            the optimisation.
        kl, log_det: the two parts of the functional at the optimum: KL(rho || reference) and L.
        q: <phi(h)^2> under the optimal rho.
        h, r: the grid axes (r is None for one-dimensional problems); ``rho``: the optimal weights,
            of shape (len(h),) or (len(h), len(r)), summing to 1.
        converged: whether L-BFGS met its tolerance; ``message``: its message.
    """

    sigma: float
    functional: float
    gaussian: float
    kl: float
    log_det: float
    q: float
    h: np.ndarray
    r: np.ndarray | None
    rho: np.ndarray
    converged: bool
    message: str

    @property
    def status(self) -> Status:
        return Status.CONVERGED if self.converged else Status.NOT_CONVERGED

    def summary(self) -> dict:
        """The main numbers (strict JSON)."""
        keys = ("sigma", "functional", "gaussian", "kl", "log_det", "q", "message")
        return jsonable({k: getattr(self, k) for k in keys} | {"status": self.status})


@functools.singledispatch
def _model(ensemble):
    """(g_h, g_r, alpha_r, beta_r, mu_b, s_b, two_dimensional) for a supported ensemble (registered per
    model)."""
    raise InputError(
        f"complexity: the Kac-Rice functional is derived for VanillaRNN and GatedRNN, not "
        f"{type(ensemble).__name__}"
    )


@_model.register
def _(e: VanillaRNN):
    return float(e.g), 0.0, 0.0, 0.0, float(e.mu_b), float(e.s_b), False


@_model.register
def _(e: GatedRNN):
    two_d = e.alpha_r != 0 and e.g_r != 0
    g_h = float(e.g_h) if two_d else float(e.g_h * gate(0.0, e.alpha_r, e.beta_r))
    return g_h, float(e.g_r), float(e.alpha_r), float(e.beta_r), float(e.mu_b), float(e.s_b), two_d


def _sites(hh, rr, alpha_r, beta_r):
    """Per grid point: phi^2, sigma_r^2 phi^2, and a^2, b^2, c^2 of the K matrix (module doc)."""
    ph = jnp.tanh(hh)
    dp = 1.0 - ph**2
    if rr is None:
        return ph**2, ph**2, dp**2, jnp.zeros_like(hh), dp**2
    sr, dsr = gate(rr, alpha_r, beta_r), dgate(rr, alpha_r, beta_r)
    return ph**2, (sr * ph) ** 2, (sr * dp) ** 2, (dsr * ph) ** 2, dp**2


def _pq_map(pq, eta, w, a2, b2, c2, gr2):
    P, Q = pq
    al = eta + gr2 * b2 * Q
    be = eta + gr2 * c2 * P
    den = al * be + a2
    return jnp.stack([jnp.sum(w * b2 * be / den), jnp.sum(w * c2 * al / den)])


def _resolvent(eta, w, a2, b2, c2, gr2, n_iter=20, n_newton=5):
    """(F, 1 - F) at eta, with (P, Q) solved and differentiated implicitly."""
    f = partial(_pq_map, w=w, a2=a2, b2=b2, c2=c2, gr2=gr2)
    pq = jax.lax.stop_gradient(jax.lax.fori_loop(0, n_iter, lambda _, x: f(x, eta), jnp.zeros(2, a2.dtype)))
    for _ in range(n_newton):
        jm = jax.jacfwd(f)(pq, jax.lax.stop_gradient(eta))
        pq = jax.lax.stop_gradient(pq + jnp.linalg.solve(jnp.eye(2) - jm, f(pq, eta) - pq))
    jm = jax.lax.stop_gradient(jax.jacfwd(f)(pq, eta))
    pq = pq + jnp.linalg.solve(jnp.eye(2) - jm, f(pq, eta) - pq)  # value pq, implicit derivative
    P, Q = pq
    al = eta + gr2 * b2 * Q
    be = eta + gr2 * c2 * P
    den = al * be + a2
    one_minus_f = jnp.sum(w * ((al - eta) * be + a2) / den)
    return 1.0 - one_minus_f, one_minus_f


def _log_r2(eta, w, a2, b2, c2, g_h2, gr2):
    _, omf = _resolvent(eta, w, a2, b2, c2, gr2)
    return jnp.log(g_h2 * eta**2 * omf)


@partial(jax.jit, static_argnames=("n_bisect",))
def log_det(w, a2, b2, c2, g_h, g_r, n_bisect: int = 56):
    r"""L = lim (1/N) log|det(I - J^h K)| for the site law ``w`` over sites with a^2, b^2, c^2.

    J^h is Ginibre with variance g_h^2/N; K = D[a] + D[b] J^r D[c], with J^r Ginibre of variance g_r^2/N.
    The vanilla case is b = 0, a^2 = phi'^2. Differentiable in ``w`` (module doc).
    """
    g_h2, gr2 = g_h**2, g_r**2
    lr2 = partial(_log_r2, w=w, a2=a2, b2=b2, c2=c2, g_h2=g_h2, gr2=gr2)
    r2_max = g_h2 * jnp.sum(w * (a2 + gr2 * b2 * jnp.sum(w * c2)))
    # r(eta) increases from 0 to r_max; r^2 <= g_h^2 eta^2 puts eta* above 1/g_h
    lo0 = jnp.log(1.0 / g_h)

    def bis(_, lh):
        lo, hi = lh
        mid = (lo + hi) / 2
        up = jax.lax.stop_gradient(lr2(jnp.exp(mid))) > 0
        return jnp.where(up, lo, mid), jnp.where(up, mid, hi)

    lo, hi = jax.lax.fori_loop(0, n_bisect, bis, (lo0, lo0 + 30.0))
    eta_s = jax.lax.stop_gradient(jnp.exp((lo + hi) / 2))

    def integrand(y):
        eta = eta_s / y
        f = lambda e: _resolvent(e, w, a2, b2, c2, gr2)[0]  # noqa: E731
        _, dF = jax.jvp(f, (eta,), (jnp.ones_like(eta),))
        return 0.5 * jnp.maximum(lr2(eta), 0.0) * dF * eta_s / y**2

    val = jnp.sum(jnp.asarray(_WY) * jax.vmap(integrand)(jnp.asarray(_Y)))
    return jnp.where(r2_max > 1.0, val, 0.0)


@jax.jit
def _functional(theta, hh, rr, dA, g_h, g_r, alpha_r, beta_r, mu_b, s_b):
    """(functional, Gibbs target, KL, L, q) for the log-weights ``theta`` on the grid (hh, rr flattened).

    The functional is S = H(w) + G(w), the entropy of w = softmax(theta) on the grid plus
    G = <log reference> + L. Its stationary points satisfy log w = dG/dw + const: the Gibbs target.
    """
    phi2, v2, a2, b2, c2 = _sites(hh, rr, alpha_r, beta_r)

    def parts(w):
        q, qv = jnp.sum(w * phi2), jnp.sum(w * v2)
        vh = g_h**2 * qv + s_b**2
        log_ref = -((hh - mu_b) ** 2) / (2 * vh) - 0.5 * jnp.log(2 * jnp.pi * vh)
        if rr is not None:
            vr = g_r**2 * q
            log_ref = log_ref - rr**2 / (2 * vr) - 0.5 * jnp.log(2 * jnp.pi * vr)
        L = log_det(w, a2, b2, c2, g_h, g_r)
        return jnp.sum(w * log_ref) + L, (log_ref, L, q)

    w = jax.nn.softmax(theta)
    (G, (log_ref, L, q)), target = jax.value_and_grad(parts, has_aux=True)(w)
    logw = jax.nn.log_softmax(theta)
    kl = jnp.sum(w * (logw - jnp.log(dA) - log_ref))
    return L - kl, target + jnp.log(dA), kl, L, q


def _grids(g_h, g_r, mu_b, s_b, two_d, n_h, n_r):
    """Grid axes and cell sizes per site (flattened, h-major).

    h = mu_b + c sinh(x), x uniform: steps of c dx near mu_b (c = 0.4, so a narrow law near the zero fixed
    point is resolved) growing to the tails at +- 8 sqrt(g_h^2 + s_b^2). r is uniform on +- 6 g_r.
    """
    c = 0.4
    X = math.asinh(8.0 * math.sqrt(g_h**2 + s_b**2) / c)
    x = np.linspace(-X, X, n_h)
    h = mu_b + c * np.sinh(x)
    dh = c * np.cosh(x) * (x[1] - x[0])
    if not two_d:
        return h, None, dh
    r = np.linspace(-6.0 * g_r, 6.0 * g_r, n_r)
    return h, r, np.repeat(dh, n_r) * (r[1] - r[0])


def complexity(
    ensemble, *, n_h: int | None = None, n_r: int = 80, maxiter: int = 500, tol: float = 1e-10
) -> Complexity:
    """The annealed complexity Sigma of a ``VanillaRNN`` or ``GatedRNN`` (module doc).

    Args:
        n_h, n_r: grid points along h and r (:func:`_grids`); n_h defaults to 240 for the vanilla
            network and 120 for the gated one (120 x 80 agrees with 180 x 120 to 0.2% at g_h = 1.9,
            alpha_r = 10; a gated solve takes minutes on 2 cores).
        maxiter, tol: Gibbs iterations and the tolerance on the change of the functional.
    """
    g_h, g_r, alpha_r, beta_r, mu_b, s_b, two_d = _model(ensemble)
    if n_h is None:
        n_h = 120 if two_d else 240
    n_h, n_r = check_size("complexity", "n_h", n_h), check_size("complexity", "n_r", n_r)
    if n_h < 16 or (two_d and n_r < 16):
        raise InputError("complexity: n_h and n_r must be at least 16")
    h, r, dA = _grids(g_h, g_r, mu_b, s_b, two_d, n_h, n_r)
    if g_h == 0:
        return Complexity(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, h, r, np.eye(1, n_h, n_h // 2)[0], True, "g_h = 0")
    if two_d:
        H, R = np.meshgrid(h, r, indexing="ij")
        hh, rr = jnp.asarray(H.ravel()), jnp.asarray(R.ravel())
    else:
        hh, rr = jnp.asarray(h), None
    evaluate = partial(_functional, hh=hh, rr=rr, dA=jnp.asarray(dA), g_h=g_h, g_r=g_r, alpha_r=alpha_r,
                       beta_r=beta_r, mu_b=mu_b, s_b=s_b)  # fmt: skip

    def gaussian(D):  # log-weights of N(mu_b, D) x N(0, g_r^2 <phi^2>) on the grid
        th = -((h - mu_b) ** 2) / (2 * D) + np.log(np.asarray(dA).reshape(n_h, -1)[:, 0])
        if rr is None:
            return jnp.asarray(th)
        wh = np.exp(th - th.max())
        vr = g_r**2 * np.sum(wh * np.tanh(h) ** 2) / np.sum(wh)
        return jnp.asarray((th[:, None] - r[None, :] ** 2 / (2 * max(vr, 1e-12))).ravel())

    # best Gaussian: a scan over the variance of h, from a few grid steps to the largest reference variance
    dh = float(np.min(np.diff(h)))
    Ds = np.geomspace((4 * dh) ** 2, g_h**2 + s_b**2, 16)
    starts = [gaussian(D) for D in Ds]
    vals = [float(evaluate(th)[0]) for th in starts]
    best = int(np.nanargmax(vals))
    # damped Gibbs iteration theta <- theta + lam (dG/dw - theta) (mirror ascent on the simplex): the
    # step doubles after an ascent and halves otherwise; converged when S moves by less than tol
    theta = jnp.asarray(starts[best])
    f, target, kl, L, q = evaluate(theta)
    lam, converged, collapsed, it = 0.5, False, False, 0
    h_sites = np.asarray(hh)

    def _spread(th):
        w = np.asarray(jax.nn.softmax(th))
        m = np.sum(w * h_sites)
        return math.sqrt(max(np.sum(w * (h_sites - m) ** 2), 0.0))

    while it < maxiter:
        it += 1
        trial = theta + lam * (target - theta)
        trial = trial - jnp.max(trial)
        out = evaluate(trial)
        if _spread(trial) < 3 * dh:
            collapsed = True
            break
        if bool(jnp.isfinite(out[0])) and float(out[0]) >= float(f) - 1e-13:
            done = abs(float(out[0]) - float(f)) < tol and lam >= 0.25
            theta, (f, target, kl, L, q) = trial, out
            lam = min(1.0, 2 * lam)
            if done:
                converged = True
                break
        else:
            lam /= 2
            if lam < 1e-6:
                break
    f, kl, L, q = float(f), float(kl), float(L), float(q)
    message = f"{'converged' if converged else 'not converged'} after {it} Gibbs steps (last step {lam:g})"
    if collapsed:
        # the law shrinks towards a point mass (the zero fixed point, where the functional tends to 0):
        # on a grid that limit is not resolved, so the nearest resolved value is reported and Sigma = 0
        converged = True
        message = (
            f"the site law collapsed to the grid scale after {it} Gibbs steps (h spread < 3 grid "
            f"steps): no resolved non-trivial maximum, Sigma = 0"
        )
        f = min(f, 0.0)
    rho = np.asarray(jax.nn.softmax(theta))
    if two_d:
        rho = rho.reshape(n_h, n_r)
    if not np.isfinite(f):
        raise FloatingPointError(f"complexity: the functional is not finite at the optimum ({message})")
    return Complexity(
        sigma=max(0.0, f),
        functional=f,
        gaussian=float(vals[best]),
        kl=kl,
        log_det=L,
        q=q,
        h=h,
        r=r,
        rho=rho,
        converged=converged,
        message=message,
    )


def onset(ensemble, name: str, lo: float, hi: float, *, tol: float = 0.01, threshold: float = 1e-6, **kwargs):
    """The value of hyperparameter ``name`` in [lo, hi] where Sigma becomes positive (> ``threshold``).

    Bisection to ``tol``, assuming one crossing in the bracket; ``lo`` must have Sigma = 0 and ``hi``
    Sigma > 0 (InputError otherwise). Keyword arguments go to :func:`complexity`.
    """
    if not hi > lo or not tol > 0:
        raise InputError(f"onset: need lo < hi and tol > 0, got lo={lo}, hi={hi}, tol={tol}")
    positive = lambda v: complexity(ensemble.replace(**{name: v}), **kwargs).sigma > threshold  # noqa: E731
    if positive(lo) or not positive(hi):
        raise InputError(f"onset: Sigma must be 0 at {name} = {lo} and positive at {name} = {hi}")
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if positive(mid) else (mid, hi)
    return (lo + hi) / 2


def onset_line(ensemble, x: tuple, y: tuple, *, tol: float = 0.01, **kwargs) -> np.ndarray:
    """The line Sigma = 0 in two hyperparameters: for each value of ``x = (name, values)``, the onset in
    ``y = (name, lo, hi)`` (:func:`onset`). Returns the onsets, one per x value."""
    (xname, xs), (yname, lo, hi) = x, y
    return np.array(
        [onset(ensemble.replace(**{xname: float(v)}), yname, lo, hi, tol=tol, **kwargs) for v in xs]
    )
