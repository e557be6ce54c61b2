"""The support of the spectrum: F(lambda) = rho(T(lambda)) >= 1, its boundary (:class:`Support`) and its
rightmost point (see :mod:`dynagate.rmt`)."""

from __future__ import annotations

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._roots import _ray_roots
from ._structure import Structure, _abs2, _back_substitute, _lam


def transfer_matrix(st: Structure, lam) -> jax.Array:
    """T_km(lambda) = g_k^2 < |R_k^T (lambda B - A)^{-1} L_m|^2 > (K x K)."""
    X, _ = _back_substitute(st, lam)
    c = sum(st.R[:, None, :, j].astype(X[j].dtype) * X[j][None] for j in range(len(X)))  # (K, K, m)
    return st.g2[:, None] * jnp.sum(st.weights * _abs2(c), axis=-1)


def perron_root(T, iters: int = 40) -> jax.Array:
    """Spectral radius of a non-negative matrix: rho = lim ||T^(2^k)||^(2^-k) by normalised repeated
    squaring (relative error ~ log(K) 2^-iters). Entries below 1e-150 of the largest are flushed to 0,
    which keeps the squarings out of slow subnormal arithmetic without changing rho beyond round-off."""
    tiny = jnp.finfo(T.dtype).tiny

    def square(_, c):  # a loop, not unrolled: F is inlined at every call site of the support's solvers
        A, logrho, scale = c
        s = jnp.maximum(jnp.max(jnp.abs(A)), tiny)
        A = A / s
        A = jnp.where(A < 1e-150, 0.0, A)
        return A @ A, logrho + scale * jnp.log(s), scale / 2

    zero = jnp.zeros((), T.dtype)
    _, logrho, _ = jax.lax.fori_loop(0, iters, square, (T, zero, zero + 1.0))
    return jnp.exp(logrho)


def F(st: Structure, lam) -> jax.Array:
    """rho(T(lambda)): lambda (real or complex) lies in the support iff F >= 1."""
    return perron_root(transfer_matrix(st, lam))


# -------------------------------------------------------------------------------------- boundary


class Support(eqx.Module):
    """The support {F >= 1}: for each x on a grid, |Im lambda| <= y[x] (y = 0 where the line misses it).

    ``rightmost`` and ``leftmost`` (real) are the extreme points of the spectrum: the bulk's edges, or an
    isolated pole beyond them (a node whose random part vanishes has its eigenvalue there); ``radius``
    is max |lambda| over them and the curve; ``polyline()`` gives the closed bulk boundary.
    """

    x: jax.Array
    y: jax.Array
    rightmost: jax.Array
    leftmost: jax.Array
    is_flow: bool = eqx.field(static=True)

    @property
    def radius(self) -> jax.Array:
        curve = jnp.max(jnp.where(self.y > 0, jnp.hypot(self.x, self.y), 0.0))
        return jnp.maximum(curve, jnp.maximum(jnp.abs(self.rightmost), jnp.abs(self.leftmost)))

    @property
    def stable(self) -> jax.Array:
        return self.rightmost < 0 if self.is_flow else self.radius < 1

    def components(self) -> list[np.ndarray]:
        """The bulk's boundary as closed curves of complex points, one per connected piece of the support
        along the real axis (upper curve left to right, lower curve back). The support's extreme points
        close the outermost pieces only when the bulk reaches them; an isolated pole is not joined."""
        x, y = np.asarray(self.x), np.asarray(self.y)
        inside = y > 0
        dx = x[1] - x[0] if x.size > 1 else 0.0
        starts = np.flatnonzero(inside & ~np.r_[False, inside[:-1]])
        ends = np.flatnonzero(inside & ~np.r_[inside[1:], False])
        out = []
        for a, b in zip(starts, ends):
            lo, hi = x[a] - dx / 2, x[b] + dx / 2  # within half a step of the edge
            if a == starts[0] and float(self.leftmost) >= x[a] - 1.5 * dx:
                lo = float(self.leftmost)
            if b == ends[-1] and float(self.rightmost) <= x[b] + 1.5 * dx:
                hi = float(self.rightmost)
            xs = np.r_[lo, x[a : b + 1], hi]
            ys = np.r_[0.0, y[a : b + 1], 0.0]
            out.append(np.concatenate([xs + 1j * ys, (xs - 1j * ys)[::-1]]))
        return out

    def polyline(self) -> np.ndarray:
        """All of :meth:`components` in one array, separated by NaN (drawn as gaps by matplotlib)."""
        parts = self.components()
        if not parts:
            return np.zeros(0, complex)
        gap = np.array([np.nan + 0j])
        return np.concatenate([p for c in parts for p in (c, gap)][:-1])


def _poles(st: Structure):
    """Real parts where (lambda B - A_i) is singular for some node: A_jj / B_jj (triangular A)."""
    d = jnp.diagonal(st.A, axis1=1, axis2=2)  # (m, d)
    ok = st.B > 0
    p = jnp.where(ok[None, :], d / jnp.where(ok, st.B, 1.0)[None, :], jnp.nan)
    return jnp.nanmin(p), jnp.nanmax(p)


def _inside(st: Structure, lam) -> jax.Array:
    """1 - 1/F at a batch of points: >= 0 exactly inside the support, and smooth where F has poles (1/F ~
    distance^2), so false position converges fast."""
    return 1.0 - 1.0 / jax.vmap(lambda x: F(st, x))(lam)


def _edges(st: Structure, start, direction, scale):
    """The support's real edges on rays from ``start`` (k,) in ``direction`` (+1 or -1 each): (whether the
    support reaches past each start, the edge or else the start)."""
    out, t = _ray_roots(lambda t: _inside(st, start + direction * t), scale, offset=start)
    return out, start + direction * t


def _beyond_poles(st: Structure, directions):
    """The real edges beyond the outermost pole on each side in ``directions`` (+1: right, -1: left):
    right of every pole F decreases with x and left of every pole it increases, so the search runs outward
    from just off the pole. Returns (whether the support reaches past the pole, the edge or else the
    pole) per side."""
    pmin, pmax = _poles(st)
    span = jnp.maximum(pmax - pmin, 1.0)
    d = jnp.asarray(directions, span.dtype)
    p = jnp.where(d > 0, pmax, pmin)
    eps = max(1e-9, 1e3 * float(jnp.finfo(span.dtype).eps)) * span  # off the pole, also in float32
    out, edge = _edges(st, p + d * eps, d, span + 0 * d)
    return out, jnp.where(out, edge, p)


def _refine(st: Structure, x_last, direction, dx, pole):
    """The edge between the last grid point inside the support ``x_last`` (+-inf if none) and the next one
    ``dx`` on in ``direction``, not inside the outermost pole (a pole the bulk does not reach is an eigenvalue
    itself: a unit whose random part vanishes, e.g. sigma_z -> 0 at large alpha_z)."""
    ok = jnp.isfinite(x_last)
    start = jnp.where(ok, x_last, pole)
    _, edge = _edges(st, start, direction, dx + 0 * start)
    far = jnp.where(direction > 0, jnp.maximum(edge, pole), jnp.minimum(edge, pole))
    return jnp.where(ok, far, pole)


@partial(jax.jit, static_argnames="n_x")
def rightmost(st: Structure, n_x: int = 256) -> jax.Array:
    """The spectrum's rightmost point (real; the support meets vertical lines in symmetric intervals):
    a search outward from the rightmost pole, or, when the bulk does not reach past it, a scan of F
    on the real axis (``n_x`` points) refined by a root search. Cheap; jit/vmap-able over structures."""
    out, right = _beyond_poles(st, [1.0])
    pmin, pmax = _poles(st)
    xs = jnp.linspace(pmin, pmax, n_x + 2)[1:-1]
    x_r = jnp.max(jnp.where(_inside(st, xs) >= 0, xs, -jnp.inf))
    scanned = _refine(st, x_r[None], jnp.ones(1), xs[1] - xs[0], pmax)
    return jnp.where(out, right, scanned)[0]


@partial(jax.jit, static_argnames="n_x")
def support(st: Structure, n_x: int = 512) -> Support:
    """The support boundary: F(x + i y) = 1, for ``n_x`` abscissae (jit/vmap-able in the structure).

    Three batched root searches (:func:`._roots._ray_roots`), each evaluating F once per step: the real
    edges beyond the outermost poles, the heights on vertical lines through the grid between them, and the
    edges where the bulk does not reach past the poles, refined between grid points."""
    d = jnp.array([1.0, -1.0])
    out, edge = _beyond_poles(st, d)
    pmin, pmax = _poles(st)
    span = jnp.maximum(pmax - pmin, 1.0)
    xs = jnp.linspace(edge[1], edge[0], n_x + 2)[1:-1]
    inside, ys = _ray_roots(lambda y: _inside(st, _lam(st, xs, y)), span + 0 * xs)
    ys = jnp.where(inside, ys, 0.0)
    dx = xs[1] - xs[0]
    x_r = jnp.max(jnp.where(ys > 0, xs, -jnp.inf))
    x_l = jnp.min(jnp.where(ys > 0, xs, jnp.inf))
    grid = _refine(st, jnp.stack([x_r, x_l]), d, dx, jnp.stack([pmax, pmin]))
    right, left = jnp.where(out, edge, grid)
    return Support(xs, ys, right, left, st.is_flow)
