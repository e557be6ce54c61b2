r"""Static mean field of the random GRU (:class:`~dynagate.GRU`, a map per step): the fixed points'
single-site law, its branches, and their stability from the random-matrix support of the Jacobian there.

**Equations.** At a fixed point h = (1 - g) n + g h, so h = n wherever the update gate g (plain z or the
refined gate) is below 1: the update gate, its bias law (Gaussian, UGI, chrono) and the refine gate drop
out of the fixed points (they stay in the Jacobian). With Q = E h^2 (the second moment: h has a mean when
mu_n != 0) and no input,

* reset after (PyTorch): h_i = tanh(b_n,i + r_i m_i), m_i = (W_n h)_i ~ N(0, g_n^2 Q);
* reset before (Cho et al.): h_i = tanh(b_n,i + m_i), m_i = (W_n (r h))_i ~ N(0, g_n^2 <r^2> Q);

r_i = sigma(u_r,i), u_r,i = b_r,i + (W_r h)_i ~ N(mu_r, s_r^2 + g_r^2 Q), b_n,i ~ N(mu_n, s_n^2). The
cavity argument of the gated RNN (:mod:`.static`) applies: a weighted sum over j of N(0, g^2/N) weights is
Gaussian with variance g^2 times the mean square of what it sums, and sums through independent matrices
(W_r, W_z, W_n) are independent. In the "before" form r_j and h_j are independent (they depend on rows j
of W_r and W_n), so E r^2 h^2 = <r^2> Q. Hence one scalar equation Q = RHS(Q):

.. math::
    Q = E_{u_r, b_n} \langle\tanh^2\rangle_{b_n,\; \sigma(u_r)^2 g_n^2 Q} \;\text{(after)}, \qquad
    Q = E_{b_n} \langle\tanh^2\rangle_{b_n,\; g_n^2 \langle\sigma^2\rangle_{u_r} Q} \;\text{(before)},

the inner average by the accurate rule of :mod:`.static`, the outer ones by Gauss-Hermite. Q = 0 is a root
when mu_n = s_n = 0; it loses mean-field stability at g_n^2 <sigma(u_r)^2>_{Q=0} = 1 (both forms; with
s_r = 0: g_n sigma(mu_r) = 1). Every root lies in [0, 1]: the grid scan, bisection and the slope (by
central differences) are as in :mod:`.static`.

**Stability** (:func:`branch_radius`). The site law of a branch (:func:`branch_law`) carries u_r, u_z, m,
b_n and the refine gate's pre-activation as quasi-random points (scrambled Sobol, fixed seed; the
update-gate bias law enters through its quantile function), from which h = n, r, z, rho are formed; the
RMT engine
(:func:`dynagate.rmt.structure`) gives the support of the Jacobian's spectrum. The fixed points of a
branch are stable iff the support's spectral radius is below 1; its eigenvalues within eps of 1 are the
slow modes (an update gate near 1 holds them there: the Jacobian (1 - g) dn/dh + diag(g) + ...).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
import scipy.stats

from ..errors import InputError
from ..models.gru import GRU
from ..sitelaw import SiteLaw
from .static import _phi2

_NODES = 128  # inner <tanh^2> rule (see .static)
_GH = 48  # outer Gauss-Hermite nodes per Gaussian variable
_GRID = 1024
_BISECT = 60


@dataclasses.dataclass(frozen=True)
class MapStatic:
    """The static branches of a gated map (GRU, LSTM): ``q`` = E h^2 per branch (ascending, 0 first where
    it is a root), ``slope`` = dRHS/dQ there (mean-field stable iff < 1), ``residual`` = |RHS(q) - q|."""

    q: np.ndarray
    slope: np.ndarray
    residual: np.ndarray


def check_map(ensemble, cls, what: str):
    """``ensemble`` if it is a ``cls`` without input (the gated maps' mean fields), else an InputError
    naming ``what`` (e.g. "the GRU DMFT")."""
    if not isinstance(ensemble, cls):
        raise InputError(f"{what} needs a {cls.__name__} ensemble, got {type(ensemble).__name__}")
    if ensemble.n_in:
        raise InputError(f"{what} is for networks without input (n_in = 0)")
    return ensemble


def map_stability(st, eps: float) -> tuple[float, float]:
    """(spectral radius, fraction of eigenvalues within ``eps`` of 1; NaN where the density formula does
    not apply) of the RMT support of a map's structure ``st``. The radius is the support's real edge, which
    a coarse boundary (64 abscissae) gives exactly."""
    from .. import rmt

    slow = float(rmt.slow_fraction(st, eps)) if rmt.has_density(st) else math.nan
    return float(rmt.support(st, n_x=64).radius), slow


def _check(ensemble) -> GRU:
    return check_map(ensemble, GRU, "the GRU mean field")


def _gh(n: int = _GH):
    x, w = np.polynomial.hermite_e.hermegauss(n)
    keep = w >= 1e-14 * w.max()
    return jnp.asarray(x[keep]), jnp.asarray(w[keep] / w[keep].sum())


_PARAMS = ("g_r", "g_n", "mu_r", "s_r", "mu_n", "s_n")


@functools.partial(jax.jit, static_argnames=("after", "spread"))
def _gap(p: dict, q, *, after: bool, spread: bool):
    """RHS(q) - q of the fixed-point equation (module doc), q a vector; ``spread``: s_n > 0."""
    x, w = _gh()
    bn = p["mu_n"] + p["s_n"] * x if spread else p["mu_n"][None]
    wn = w if spread else jnp.ones(1)
    phi2 = jax.vmap(lambda m, d: _phi2(m, d, _NODES)[0])

    def rhs(qi):
        r = jax.nn.sigmoid(p["mu_r"] + jnp.sqrt(p["s_r"] ** 2 + p["g_r"] ** 2 * qi) * x)  # on the u_r nodes
        if after:
            m, d = jnp.meshgrid(bn, r**2 * p["g_n"] ** 2 * qi, indexing="ij")
            return jnp.einsum("i,j,ij->", wn, w, phi2(m.ravel(), d.ravel()).reshape(m.shape))
        return jnp.sum(wn * phi2(bn, jnp.full(bn.shape, p["g_n"] ** 2 * jnp.sum(w * r**2) * qi)))

    return jax.vmap(rhs)(q) - q


def unit_roots(f, zero_root: bool, *, grid: int = _GRID, bisect: int = _BISECT):
    """Every root in [0, 1] of a gap function ``f`` (vectorised: an array of Q -> RHS(Q) - Q), by a scan of
    ``grid`` points (dense near 0) and bisection; Q = 0 first where ``zero_root``. Returns (q, slope
    dRHS/dQ by central differences, |gap|)."""
    pts = np.unique(np.r_[0.0, np.geomspace(1e-10, 1.0, grid // 2), np.linspace(0, 1, grid // 2)])
    g = f(pts)
    roots = [0.0] if zero_root else []
    pos = g > 0
    for i in np.flatnonzero(pos[1:] != pos[:-1]):
        if i == 0 and zero_root:
            continue
        a, b = pts[i], pts[i + 1]
        for _ in range(bisect):
            mid = 0.5 * (a + b)
            if (f(np.array([mid]))[0] > 0) == pos[i]:
                a = mid
            else:
                b = mid
        roots.append(0.5 * (a + b))
    q = np.array(roots)
    h = 1e-6
    lo, hi = np.maximum(q - h, 0.0), q + h
    return q, 1.0 + (f(hi) - f(lo)) / (hi - lo), np.abs(f(q))


def static_gru(ensemble) -> MapStatic:
    """Every branch Q = E h^2 of the GRU's static mean field (module doc)."""
    e = _check(ensemble)
    p = {k: jnp.asarray(float(getattr(e, k))) for k in _PARAMS}
    opts = {"after": e.reset == "after", "spread": float(e.s_n) > 0}
    f = lambda q: np.asarray(_gap(p, jnp.atleast_1d(jnp.asarray(q, dtype=float)), **opts))  # noqa: E731
    zero_root = float(e.mu_n) == 0 and float(e.s_n) == 0
    q, slope, residual = unit_roots(f, zero_root)
    return MapStatic(q=q, slope=slope, residual=residual)


def branch_law(ensemble, q: float, *, points: int = 2**10, seed: int = 0) -> SiteLaw:
    """The single-site law of the GRU fixed points with E h^2 = ``q`` (module doc): h, r, z, m, n (and rho
    with the refine gate) at ``points`` scrambled-Sobol points (deterministic for a given ``seed``; with
    1024 points the spectral radius of the support moves by ~3e-4 between seeds). At q = 0 the zero state,
    with the N -> infinity law of a uniform gate initialiser (the sampled networks' law depends on N)."""
    e = _check(ensemble)
    names = ["u_r", "m", "u_z"] + (["b_z"] if e.update_init is not None else [])
    names += (["b_n"] if e.s_n > 0 else []) + (["u_rf"] if e.refine else [])
    u = scipy.stats.qmc.Sobol(len(names), scramble=True, seed=seed).random(points)
    x = {k: scipy.special.ndtri(u[:, i]) for i, k in enumerate(names)}
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    r = sig(e.mu_r + math.sqrt(e.s_r**2 + e.g_r**2 * q) * x["u_r"])
    if e.update_init is None:
        z = sig(e.mu_z + math.sqrt(e.s_z**2 + e.g_z**2 * q) * x["u_z"])
    else:
        b_z = np.asarray(e.update_init.quantile(u[:, names.index("b_z")]))
        z = sig(b_z + e.g_z * math.sqrt(q) * x["u_z"])
    b_n = e.mu_n + e.s_n * x["b_n"] if e.s_n > 0 else np.full(points, e.mu_n)
    if e.reset == "after":
        m = e.g_n * math.sqrt(q) * x["m"]
        n = np.tanh(b_n + r * m)
    else:
        m = e.g_n * math.sqrt(q * float(np.mean(r**2))) * x["m"]
        n = np.tanh(b_n + m)
    values = {"h": n, "r": r, "z": z, "m": m, "n": n}
    if e.refine:
        values["rho"] = sig(e.mu_rf + math.sqrt(e.s_rf**2 + e.g_rf**2 * q) * x["u_rf"])
    values = {k: jnp.asarray(v) for k, v in values.items()}
    return SiteLaw(weights=jnp.full(points, 1.0 / points), values=values)


def branch_radius(ensemble, q: float, eps: float = 0.05) -> tuple[float, float]:
    """(spectral radius, slow fraction within ``eps`` of 1) of the RMT support of the Jacobian at the GRU
    fixed points with E h^2 = ``q``; the slow fraction is NaN where the density formula does not apply
    (reset before)."""
    from .. import rmt

    return map_stability(rmt.structure(ensemble, branch_law(ensemble, q)), eps)
