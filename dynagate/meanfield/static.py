r"""Static mean-field theory: the single-site statistics of fixed points at N -> infinity (THEORY.md 5).

**Equations.** For the gated RNN (:class:`~dynagate.GatedRNN`) a fixed point satisfies
h = J^h (sigma_r(r) phi(h)) + b, r = J^r phi(h), z = J^z phi(h); the z-gate multiplies the whole h
equation and so does not move fixed points. With <f>_{m, D} = E f(m + sqrt(D) x), x ~ N(0, 1):

.. math::
    \Delta_h = g_h^2 \langle\phi^2\rangle_{\mu_b,\Delta_h} \langle\sigma_r^2\rangle_{0,\Delta_r} + s_b^2,
    \quad \Delta_r = g_r^2 \langle\phi^2\rangle_{\mu_b,\Delta_h}, \quad
    \Delta_z = g_z^2 \langle\phi^2\rangle_{\mu_b,\Delta_h}, \quad E h = \mu_b.

For the vanilla RNN (:class:`~dynagate.VanillaRNN`, flow or Euler map: same fixed points)
Delta_h = g^2 <phi^2> + s_b^2 (and Delta_r = Delta_z = 0 here).

**Derivation.** h_i = sum_j J^h_ij x_j + b_i with x_j = sigma_r(r_j) phi(h_j): at N -> infinity a sum of
N weakly dependent terms with iid N(0, g_h^2/N) weights, so h_i is Gaussian with mean mu_b and variance
g_h^2 <x^2> + s_b^2 (the weights have zero mean; the self-consistent cavity argument removes the
dependence of x_j on row i). r_j = sum_k J^r_jk phi(h_k) is Gaussian with mean 0 and variance
g_r^2 <phi^2>; its covariance with h_j is sum_k J^h_jk J^r_jk (...), which vanishes because J^h and J^r
are independent, so h and r are independent and <x^2> = <phi^2>_h <sigma_r^2>_r.

**Root finding.** Everything reduces to one scalar equation G(D) = RHS(D) - D = 0 in D = Delta_h.
Since phi^2 <= 1 and sigma_r <= 1, every root lies in [0, D_max], D_max = g_h^2 + s_b^2. G is evaluated on
a fixed grid (geometric 1e-12 D_max .. D_max, dense near 0, joined with a linear grid), each sign change
is refined by 60 bisection steps, and at most :data:`MAX_BRANCHES` roots are kept (sorted, padded with
``valid=False`` and NaN). D = 0 is an exact root when s_b = 0 and (mu_b = 0 or g_h = 0); it is added
exactly, not found by a sign change. Two roots closer than the local grid spacing (just past a
saddle-node) are missed. Everything has fixed shapes, so :func:`static` works under ``jit`` and ``vmap``.

**Stability.** ``stable`` means slope := dRHS/dD < 1 at the root, i.e. the root attracts the damped
mean-field iteration D <- (1 - eps) D + eps RHS(D) (between consecutive roots G changes sign, so branches
alternate). The slope is computed analytically with Stein's identity d<f>_{m,D}/dD = <f''>_{m,D} / 2,
which is regular at D = 0 (no 1/sqrt(D)): for mu_b = 0, <phi^2>_D = D + O(D^2) and
slope(0) = (g_h sigma_r0)^2, sigma_r0 = 1/(1 + e^{beta_r}), so D = 0 loses stability at g_h = 1 + e^{beta_r}
(THEORY.md 10). This is *mean-field* stability, not the dynamical stability of the network's fixed
points (for the vanilla flow with s_b = 0 and g > 1 the non-zero root is the variance of the
exponentially many unstable fixed points, not of the chaotic state).

**Quadrature.** THEORY.md suggests Gauss-Hermite rules. They converge slowly here: tanh(m + sqrt(D) x)
has poles at imaginary distance pi/(2 sqrt(D)) in x, and a 64-node rule errs by ~1.5e-3 in <tanh^2> at
D = 8 (5e-2 at D = 100). Instead every average is reduced to averages of functions decaying like
e^{-2|y|} (polynomials in tanh times sech^2) plus a closed form, e.g.

    <tanh^2>_{m,D} = 1 - exp(-m^2/(1 + 2D)) / sqrt(1 + 2D) + <tanh^2(y) - (1 - e^{-y^2})>_{m,D},
    <tanh>_{m,D} = erf(c m / sqrt(1 + 2 c^2 D)) + <tanh(y) - erf(c y)>_{m,D},  c = sqrt(pi)/2,

and sigma(y) = (1 + tanh(y/2))/2. The decaying parts use the trapezoid rule in x on the window where
both the Gaussian (|x| < 9) and the integrand (|y| < 18) matter; its error ~exp(-pi^2 (n - 1)/36) does not
grow with D: with the default 128 nodes about 1e-13 for <phi^2>, <sigma_r^2> and 1e-11 for the slopes
(against scipy's adaptive quadrature, D up to 100; 64 nodes: 1e-6). The first form keeps <tanh^2>
accurate *relative* to its size as D -> 0, so the sign of G just above an exact zero root is reliable.

**Landau check (THEORY.md 5).** At beta_r = 0, s_b = mu_b = 0: <phi^2>_D = D - 2 D^2 + O(D^3) and
<sigma_r^2>_{Delta_r} = 1/4 + alpha_r^2 Delta_r / 16 + O(Delta_r^2), so
RHS(D)/D = (g_h^2/4) [1 + D (alpha_r^2 g_r^2/4 - 2)] + O(D^2): the bifurcation of non-zero roots from D = 0
at g_h = 2 is supercritical for alpha_r g_r < 2 sqrt(2) and subcritical above, where non-zero roots exist
below g_h = 2. tests/test_meanfield.py checks the expansion coefficient and finds the onsets (g_r = 1)
g_h = 1.91714 at alpha_r = 5 and 1.75399 at alpha_r = 10, consistent with THEORY.md's 1.92 and 1.755.
"""

from __future__ import annotations

import functools
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, check_size
from ..models.gated import GatedRNN
from ..models.vanilla import VanillaRNN

#: Number of solution slots in a :class:`Static` (0, and up to two non-zero branches in the subcritical
#: case; should a parameter set have more roots, the largest are dropped).
MAX_BRANCHES = 3

_L = 9.0  # Gaussian window |x| <= L: exp(-L^2/2) ~ 3e-18
_Y = 18.0  # integrand window |y| <= Y for functions decaying like 4 exp(-2|y|): ~1e-15
_C = float(np.sqrt(np.pi) / 2)  # erf(C y) has the slope of tanh at 0
_BISECT = 60
_GEO_MIN = 1e-12


class Static(eqx.Module):
    """Static mean-field solutions; every array has a leading axis of length :data:`MAX_BRANCHES`.

    Branches are sorted by ``delta_h`` ascending; slots with ``valid=False`` hold NaN.
    """

    delta_h: jax.Array  # Var h per branch
    delta_r: jax.Array  # Var r = g_r^2 <phi^2> (0 for the vanilla RNN)
    delta_z: jax.Array  # Var z = g_z^2 <phi^2> (0 for the vanilla RNN)
    mean_h: jax.Array  # E h = mu_b
    valid: jax.Array  # bool: the slot holds a solution
    stable: jax.Array  # bool: dRHS/dD < 1 (stable under the damped mean-field iteration)
    residual: jax.Array  # |RHS(delta_h) - delta_h|


def _avg(f, m, s, n: int):
    """E f(m + s x), x ~ N(0, 1), for f decaying like exp(-2|y|): trapezoid rule on the relevant window."""
    s_ = jnp.maximum(s, 1e-300)
    lo = jnp.clip((-_Y - m) / s_, -_L, _L)
    hi = jnp.clip((_Y - m) / s_, -_L, _L)
    t = jnp.linspace(0.0, 1.0, n)
    x = lo + (hi - lo) * t
    w = jnp.ones(n).at[0].set(0.5).at[-1].set(0.5) * (hi - lo) / (n - 1)
    return jnp.sum(w * jnp.exp(-0.5 * x**2) * f(m + s * x)) / np.sqrt(2 * np.pi)


def _phi2(m, d, n: int):
    """<tanh^2>_{m,d} and its d-derivative <(tanh^2)''>/2."""
    s = jnp.sqrt(d)
    base = -jnp.expm1(-0.5 * jnp.log1p(2 * d) - m**2 / (1 + 2 * d))  # E[1 - exp(-y^2)]
    a = base + _avg(lambda y: jnp.tanh(y) ** 2 + jnp.expm1(-(y**2)), m, s, n)
    da = _avg(lambda y: (1 - jnp.tanh(y) ** 2) * (1 - 3 * jnp.tanh(y) ** 2), m, s, n)
    return a, da


def _sigma2(alpha, beta, dr, n: int):
    """<sigma(alpha r - beta)^2> for r ~ N(0, dr), and its dr-derivative.

    sigma(y)^2 = (1 + t)^2 / 4 with t = tanh(w), w = y/2 ~ N(-beta/2, alpha^2 dr / 4)."""
    m, s = -beta / 2, jnp.abs(alpha) * jnp.sqrt(dr) / 2
    et = jax.scipy.special.erf(_C * m / jnp.sqrt(1 + 2 * _C**2 * s**2))
    et = et + _avg(lambda w: jnp.tanh(w) - jax.scipy.special.erf(_C * w), m, s, n)
    esech2 = _avg(lambda w: 1 - jnp.tanh(w) ** 2, m, s, n)
    f2 = _avg(lambda w: (1 - jnp.tanh(w) ** 2) * (1 + jnp.tanh(w)) * (1 - 3 * jnp.tanh(w)), m, s, n)
    return (2 + 2 * et - esech2) / 4, alpha**2 * f2 / 16


@functools.singledispatch
def _params(ensemble) -> tuple[dict, bool]:
    """The static map's parameters (JAX leaves) and whether it has a reset gate; registered per model."""
    name = type(ensemble).__name__
    raise InputError(f"static mean field needs a GatedRNN or VanillaRNN ensemble, got {name}")


@_params.register
def _(e: GatedRNN) -> tuple[dict, bool]:
    names = ("g_h", "g_z", "g_r", "alpha_r", "beta_r", "mu_b", "s_b")
    return {k: jnp.asarray(getattr(e, k), dtype=float) for k in names}, True


@_params.register
def _(e: VanillaRNN) -> tuple[dict, bool]:
    p = {"g_h": e.g, "mu_b": e.mu_b, "s_b": e.s_b}
    return {k: jnp.asarray(v, dtype=float) for k, v in p.items()}, False


def _map(p: dict, gated: bool, d, n: int):
    """RHS(d), dRHS/dd, <phi^2> at one d (a scalar)."""
    a, da = _phi2(p["mu_b"], d, n)
    if gated:
        s2, ds2 = _sigma2(p["alpha_r"], p["beta_r"], p["g_r"] ** 2 * a, n)
    else:
        s2, ds2 = 1.0, 0.0
    rhs = p["g_h"] ** 2 * a * s2 + p["s_b"] ** 2
    slope = p["g_h"] ** 2 * (da * s2 + a * ds2 * p["g_r"] ** 2 * da) if gated else p["g_h"] ** 2 * da
    return rhs, slope, a


def static_map(ensemble, delta_h, *, n_nodes: int = 128):
    """The mean-field map at ``delta_h`` (a scalar): ``(RHS(delta_h), dRHS/d delta_h)``."""
    p, gated = _params(ensemble)
    n_nodes = check_size("static_map", "n_nodes", n_nodes)
    rhs, slope, _ = _map(p, gated, jnp.asarray(delta_h, dtype=float), n_nodes)
    return rhs, slope


def _unit_grid(n_grid: int) -> np.ndarray:
    n_geo = n_grid // 2
    geo = np.geomspace(_GEO_MIN, 1.0, n_geo + 1)[:-1]
    return np.unique(np.concatenate([[0.0], geo, np.linspace(0.0, 1.0, n_grid - n_geo)]))


def static(ensemble, *, n_nodes: int = 128, n_grid: int = 2048) -> Static:
    """All static mean-field solutions of ``ensemble`` (a :class:`GatedRNN` or :class:`VanillaRNN`).

    ``n_nodes``: quadrature nodes per average; ``n_grid``: size of the D grid scanned for sign changes.
    Works under ``jax.jit`` and ``jax.vmap`` over the ensemble's parameters.
    """
    p, gated = _params(ensemble)
    n_nodes = check_size("static", "n_nodes", n_nodes)
    n_grid = check_size("static", "n_grid", n_grid)
    if n_nodes < 16 or n_grid < 16:
        raise InputError(f"static: n_nodes and n_grid must be >= 16, got {n_nodes} and {n_grid}")
    return _static(p, gated, n_nodes, n_grid)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _static(p: dict, gated: bool, n: int, n_grid: int) -> Static:
    k = MAX_BRANCHES
    gfun = lambda d: _map(p, gated, d, n)[0] - d  # noqa: E731
    grid = (p["g_h"] ** 2 + p["s_b"] ** 2) * jnp.asarray(_unit_grid(n_grid))
    pos = jax.vmap(gfun)(grid) > 0
    zero_root = (p["s_b"] == 0) & ((p["mu_b"] == 0) | (p["g_h"] == 0))
    change = pos[1:] != pos[:-1]
    change = jnp.append(change.at[0].set(change[0] & ~zero_root), False)  # sentinel for the padding
    idx = jnp.nonzero(change, size=k, fill_value=change.shape[0] - 1)[0]
    found, pos_a = change[idx], pos[idx]

    def bisect(_, ab):
        a, b = ab
        mid = 0.5 * (a + b)
        left = (jax.vmap(gfun)(mid) > 0) == pos_a
        return jnp.where(left, mid, a), jnp.where(left, b, mid)

    a, b = jax.lax.fori_loop(0, _BISECT, bisect, (grid[idx], grid[jnp.minimum(idx + 1, grid.shape[0] - 1)]))
    roots = jnp.concatenate([jnp.zeros(1), 0.5 * (a + b)])
    valid = jnp.concatenate([zero_root[None], found])
    order = jnp.argsort(jnp.where(valid, roots, jnp.inf))[:k]
    roots, valid = roots[order], valid[order]
    # implicit-function step: roots - G(roots) / G'(roots) with the bisection and G' held constant has the
    # bisection's value (G ~ 0 there) and the derivative d root / d p = -(dG/dp) / G' of the implicit
    # function theorem, so jax.grad / jvp of the branches with respect to the hyperparameters is exact
    # (bisection alone has derivative 0); the zero root is exact and kept
    r0 = jax.lax.stop_gradient(roots)
    move = valid & (r0 > 0)
    g_val, g_slope = jax.vmap(jax.value_and_grad(gfun))(jnp.where(move, r0, 1.0))  # finite where unused
    ok = move & jnp.isfinite(g_val) & jnp.isfinite(g_slope) & (g_slope != 0)
    step = jnp.where(ok, g_val, 0.0) / jax.lax.stop_gradient(jnp.where(ok, g_slope, 1.0))
    roots = jnp.where(move, r0 - (step - jax.lax.stop_gradient(step)), r0)
    rhs, slope, a2 = jax.vmap(lambda d: _map(p, gated, d, n))(roots)
    nan = lambda x: jnp.where(valid, x, jnp.nan)  # noqa: E731
    zero = jnp.zeros(k)
    return Static(
        delta_h=nan(roots),
        delta_r=nan(p["g_r"] ** 2 * a2 if gated else zero),
        delta_z=nan(p["g_z"] ** 2 * a2 if gated else zero),
        mean_h=nan(jnp.broadcast_to(p["mu_b"], (k,))),
        valid=valid,
        stable=valid & (slope < 1),
        residual=nan(jnp.abs(rhs - roots)),
    )
