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
- :func:`functional` evaluates S and its parts for given log-weights on a :func:`grid`, with the
  hyperparameters as JAX values (``jax.vmap`` over one, ``jax.grad`` with respect to one); the grid, built
  from numbers, fixes the 1-D or 2-D problem. :func:`complexity` maximises the same call.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from functools import partial
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError, check_size, is_concrete
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
def _model(ensemble) -> dict:
    """The reduced parameters of a supported ensemble (registered per model): a dict of JAX scalars
    ``g_h, g_r, alpha_r, beta_r, mu_b, s_b`` and ``sigma_r0``, the reset gate's value at r = 0 (1 without
    a reset gate). They are the ensemble's fields as JAX values, so they may be traced (vmap, grad)."""
    raise InputError(
        f"complexity: the Kac-Rice functional is derived for VanillaRNN and GatedRNN, not "
        f"{type(ensemble).__name__}"
    )


@_model.register
def _(e: VanillaRNN) -> dict:
    p = {"g_h": e.g, "g_r": 0.0, "alpha_r": 0.0, "beta_r": 0.0, "mu_b": e.mu_b, "s_b": e.s_b, "sigma_r0": 1.0}
    return {k: jnp.asarray(v, dtype=float) for k, v in p.items()}


@_model.register
def _(e: GatedRNN) -> dict:
    names = ("g_h", "g_r", "alpha_r", "beta_r", "mu_b", "s_b")
    p = {k: jnp.asarray(getattr(e, k), dtype=float) for k in names}
    return p | {"sigma_r0": gate(0.0, p["alpha_r"], p["beta_r"])}


def _two_dimensional(p: dict) -> bool:
    """Whether the site law needs the r axis: a reset gate that depends on r = J^r phi(h) (alpha_r != 0 and
    g_r != 0). Needs concrete parameters."""
    return bool(p["alpha_r"] != 0) and bool(p["g_r"] != 0)


def _args(p: dict, two_d: bool) -> tuple:
    """(g_h, g_r, alpha_r, beta_r, mu_b, s_b) for :func:`_functional`. Without the r axis the reset gate is
    the constant sigma_r0 and the network is the vanilla one with gain g_h sigma_r0 (module doc)."""
    g_h = p["g_h"] if two_d else p["g_h"] * p["sigma_r0"]
    return g_h, p["g_r"], p["alpha_r"], p["beta_r"], p["mu_b"], p["s_b"]


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


class Grid(eqx.Module):
    """The grid on which the site law rho is a probability vector (module doc, Numerics).

    Attributes:
        h: the h axis, shape (n_h,).
        r: the r axis, shape (n_r,), or None: a one-dimensional problem (vanilla network, or a gated one
            without an r-dependent reset gate). Whether it is None is the static 1-D/2-D choice.
        dA: the cell size of each site, flattened h-major: shape (n_h,) or (n_h * n_r,).
    """

    h: np.ndarray
    r: np.ndarray | None
    dA: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of a site law on this grid: (n_h,) or (n_h, n_r)."""
        return (self.h.size,) if self.r is None else (self.h.size, self.r.size)

    def sites(self):
        """(hh, rr): the h and r value of each site, flattened h-major (rr is None in 1-D)."""
        if self.r is None:
            return jnp.asarray(self.h), None
        H, R = np.meshgrid(self.h, self.r, indexing="ij")
        return jnp.asarray(H.ravel()), jnp.asarray(R.ravel())


def grid(ensemble, *, n_h: int | None = None, n_r: int = 80) -> Grid:
    """The grid :func:`complexity` uses for ``ensemble`` (whose hyperparameters must be concrete numbers).

    h = mu_b + c sinh(x), x uniform: steps of c dx near mu_b (c = 0.4, so a narrow law near the zero fixed
    point is resolved) growing to the tails at +- 8 sqrt(g_h'^2 + s_b^2), g_h' the effective gain
    (g_h sigma_r0 in 1-D). The r axis (only where the reset gate depends on r: alpha_r != 0 and g_r != 0)
    is uniform on +- 6 g_r. n_h defaults to 240 in 1-D and 120 in 2-D; both must be at least 16.
    """
    p = _model(ensemble)
    two_d = _two_dimensional(p)
    g_h, g_r, _, _, mu_b, s_b = (float(v) for v in _args(p, two_d))
    if n_h is None:
        n_h = 120 if two_d else 240
    n_h, n_r = check_size("complexity", "n_h", n_h), check_size("complexity", "n_r", n_r)
    if n_h < 16 or (two_d and n_r < 16):
        raise InputError("complexity: n_h and n_r must be at least 16")
    return Grid(*_grids(g_h, g_r, mu_b, s_b, two_d, n_h, n_r))


class Parts(NamedTuple):
    """The Kac-Rice functional S = L - KL at one site law, and its parts (module doc).

    Attributes:
        value: S = -KL(rho || reference) + L; Sigma is max(0, sup over rho of S).
        kl: KL(rho || reference), the reference N(mu_b, g_h^2 q_v + s_b^2) (x N(0, g_r^2 q) in 2-D).
        log_det: L = lim (1/N) log|det dG/dh| under rho.
        q: <phi(h)^2> under rho.
    """

    value: jax.Array
    kl: jax.Array
    log_det: jax.Array
    q: jax.Array


def functional(ensemble, log_weights, grid: Grid) -> Parts:
    """The Kac-Rice functional and its parts for the site law rho = softmax(``log_weights``) on ``grid``.

    ``log_weights`` has the grid's :attr:`Grid.shape` (or is flattened h-major); a constant shift does not
    matter. The ensemble's hyperparameters may be traced JAX values, so ``jax.vmap`` over a hyperparameter
    and ``jax.grad`` of the parts with respect to one work; the grid is fixed (build it from concrete values
    with :func:`grid`, outside the transformation) and decides, statically, between the 1-D problem (a
    vanilla network, or a gated one with the reset gate constant at sigma_r0, i.e. gain g_h sigma_r0) and
    the 2-D one in (h, r). At the optimum of :func:`complexity` (``log_weights = log(result.rho)`` on
    ``grid(ensemble)`` with the same sizes) it returns ``result.functional``, ``kl``, ``log_det`` and ``q``.

    Raises InputError for a 2-D grid on a vanilla network, and, where the values are concrete, for a grid
    whose dimension does not match the ensemble's (a 1-D grid for an r-dependent reset gate, or a 2-D
    grid for a constant one).
    """
    p = _model(ensemble)
    two_d = grid.r is not None
    if isinstance(ensemble, VanillaRNN) and two_d:
        raise InputError("functional: a VanillaRNN has a one-dimensional site law; got a 2-D grid")
    if all(is_concrete(p[k]) for k in ("alpha_r", "g_r")) and _two_dimensional(p) != two_d:
        raise InputError(
            f"functional: the ensemble needs a {'2-D' if _two_dimensional(p) else '1-D'} grid, got a "
            f"{'2-D' if two_d else '1-D'} one (build it with kacrice.grid)"
        )
    theta = jnp.reshape(jnp.asarray(log_weights, dtype=float), (grid.dA.size,))
    value, _, kl, L, q = _evaluator(grid, _args(p, two_d))(theta)
    return Parts(value, kl, L, q)


def _evaluator(grid: Grid, args: tuple):
    """theta -> :func:`_functional` on ``grid`` with the reduced parameters ``args`` (:func:`_args`), the
    same call for :func:`functional` and :func:`complexity` (one compilation per grid shape)."""
    hh, rr = grid.sites()
    names = ("g_h", "g_r", "alpha_r", "beta_r", "mu_b", "s_b")
    return partial(_functional, hh=hh, rr=rr, dA=jnp.asarray(grid.dA), **dict(zip(names, args, strict=True)))


def complexity(
    ensemble, *, n_h: int | None = None, n_r: int = 80, maxiter: int = 500, tol: float = 1e-10
) -> Complexity:
    """The annealed complexity Sigma of a ``VanillaRNN`` or ``GatedRNN`` (module doc).

    Args:
        n_h, n_r: grid points along h and r (:func:`grid`); n_h defaults to 240 for the vanilla
            network and 120 for the gated one (120 x 80 agrees with 180 x 120 to 0.2% at g_h = 1.9,
            alpha_r = 10; a gated solve takes minutes on 2 cores).
        maxiter, tol: Gibbs iterations and the tolerance on the change of the functional.

    The hyperparameters must be concrete numbers (the grid and the iteration are decided from them); the
    functional itself, traceable in them, is :func:`functional`.
    """
    p = _model(ensemble)
    two_d = _two_dimensional(p)
    grid_ = grid(ensemble, n_h=n_h, n_r=n_r)
    h, r, dA = grid_.h, grid_.r, grid_.dA
    n_h = h.size
    args = _args(p, two_d)
    g_h, g_r, _, _, mu_b, s_b = (float(v) for v in args)  # the grids and loops below need numbers
    if g_h == 0:
        return Complexity(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, h, r, np.eye(1, n_h, n_h // 2)[0], True, "g_h = 0")
    hh, rr = grid_.sites()
    evaluate = _evaluator(grid_, args)

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
