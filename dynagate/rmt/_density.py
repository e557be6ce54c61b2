"""The eigenvalue density, the mass in a disk and the slow-mode fraction, from the log-potential of
structures whose weights all act on the first variable with one column profile (see :mod:`dynagate.rmt`).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, is_concrete
from ._roots import _bisect
from ._structure import Structure, _abs2, _back_substitute, _lam
from ._support import Support


def has_density(st: Structure, tol: float = 1e-6) -> bool:
    """Whether the density formulas apply: every weight acts on the first variable alone, with a column
    profile shared by all weights (R_ki = kappa_k rho_i e_0). True for the vanilla network, the GRU (reset
    after), the LSTM and the gated RNN with alpha_r = 0; false for alpha_r != 0 and the reset-before GRU
    (their support boundary is still exact)."""
    R = np.asarray(st.R)
    if R.shape[-1] > 1 and np.abs(R[..., 1:]).max() > tol * max(np.abs(R).max(), 1e-300):
        return False
    sv = np.linalg.svd(R[..., 0], compute_uv=False)
    return bool(sv.size < 2 or sv[1] <= tol * max(sv[0], 1e-300))


def check_density(st: Structure) -> None:
    """Raise InputError unless :func:`has_density` (skipped under tracing)."""
    if is_concrete(st) and not has_density(st):
        raise InputError(
            "the eigenvalue density is implemented when every weight acts on h with one column profile "
            "(vanilla, GRU with reset='after', LSTM, gated with alpha_r = 0); the support boundary covers "
            "every case"
        )


def _potential(st: Structure, x, y, u):
    """Phi(lambda; u) = < sum_j log|lambda B_j - A_jj| > + (< log(1 + s u) > - u) / 2 (see log_potential),
    with the pole of s at lambda B_0 = A_00 cancelled analytically: with m = lambda B_0 - A_00 and
    s = s' / |m|^2, log|m| + log(1 + s u) / 2 = log(|m|^2 + s' u) / 2. Returns (Phi, s', |m|^2)."""
    X, diag = _back_substitute(st, _lam(st, x, y), stop=1)
    ct = diag.dtype
    c = st.L[..., 0].astype(ct)  # m e_0^T M^-1 L_k = L_k0 + sum_l A_0l X_l  (row 0 of the inverse)
    for col in range(1, len(X)):
        c = c + st.A[:, 0, col].astype(ct) * X[col]
    s = jnp.sum(st.g2[:, None] * _abs2(c) * st.R[..., 0] ** 2, axis=0)
    rest = (st.B > 0).at[0].set(False)
    logdet = jnp.sum(jnp.where(rest, jnp.log(jnp.abs(jnp.where(rest, diag, 1.0))), 0.0), axis=1)
    m2 = _abs2(diag[:, 0])  # smooth at 0, unlike abs
    return jnp.sum(st.weights * (logdet + 0.5 * jnp.log(m2 + s * u))) - 0.5 * u, s, m2


def _u_of(st: Structure, x, y):
    """u in (0, 1) solving < s / (1 + s u) > = 1 where < s > > 1 (inside the support), else 0."""
    _, s, m2 = jax.lax.stop_gradient(_potential(st, x, y, 0.0))

    def g(t):
        return jnp.sum(st.weights * s / (m2 + s * jnp.exp(t))) - 1.0

    inside = jnp.sum(st.weights * s / jnp.maximum(m2, 1e-300)) > 1.0
    return jnp.where(inside, jnp.exp(_bisect(g, jnp.asarray(-60.0), jnp.asarray(0.0), iters=80)), 0.0)


def log_potential(st: Structure, lam) -> jax.Array:
    r"""Phi(lambda) = lim (1/N) log|det(lambda B - A - sum_k L_k G_k R_k^T)| (structures with
    :func:`has_density`).

    **Derivation.** det(lambda B - A - ...) = det(lambda B - A) det(I - M(lambda)), and with R_k = r_k e_0
    the second factor reduces to N x N: M = sum_k D[c_k] G_k D[r_k], c_k = e_0^T (lambda B - A)^{-1} L_k.
    With a shared column profile its entries are independent with variance profile s_i / N (after a
    similarity), s_i = sum_k g_k^2 r_ki^2 |c_ki|^2; only variances enter the hermitized (Girko) limit, so
    (1/N) log|det(I - M)| = max-min over u >= 0 of (< log(1 + s u) > - u) / 2: u = 0 outside the support
    (< s > <= 1, same edge as F) and < s / (1 + s u) > = 1 inside. (For s = 1 / |z|^2: the Ginibre potential
    (|z|^2 - 1) / 2 inside the unit disk, log|z| outside.) Phi is stationary in u, so its gradient in lambda
    needs no derivative of u; the density is Laplacian(Phi) / (2 pi) per unit, divided by the number of
    dynamic variables (rank B) to count fractions of all eigenvalues.
    """
    check_density(st)
    x, y = jnp.real(lam), jnp.imag(lam)
    return _potential(st, x, y, _u_of(st, x, y))[0]


def _rank(st: Structure):
    return jnp.sum(st.B > 0).astype(st.B.dtype)


def density(st: Structure, z) -> jax.Array:
    """Eigenvalue density at z, as a fraction of all eigenvalues per unit area (integrates to 1):
    Laplacian(Phi) / (2 pi rank B), with u's dependence on z by implicit differentiation. InputError where
    the formula does not apply (:func:`has_density`)."""
    check_density(st)
    return _density(st, z)


@jax.jit
def _density(st: Structure, z) -> jax.Array:
    x, y = jnp.real(z), jnp.imag(z)
    u = _u_of(st, x, y)
    H = jax.hessian(lambda t: _potential(st, t[0], t[1], t[2])[0])(jnp.stack([x, y, u]))
    corr = jnp.where(u > 0, (H[0, 2] ** 2 + H[1, 2] ** 2) / jnp.where(u > 0, H[2, 2], -1.0), 0.0)
    return (H[0, 0] + H[1, 1] - corr) / (2 * jnp.pi * _rank(st))


def mass_in_disk(st: Structure, centre, radius, n: int = 512) -> jax.Array:
    """Fraction of eigenvalues with |lambda - centre| < radius, by Green's theorem: the flux of grad Phi
    through the circle over 2 pi rank B (midpoint rule, spectrally accurate for a smooth integrand).
    Exact for point masses (units whose random part vanishes), which a 2-D integral of the density misses.
    InputError where the formula does not apply (:func:`has_density`)."""
    check_density(st)
    return _mass_in_disk(st, centre, radius, n)


@partial(jax.jit, static_argnames="n")
def _mass_in_disk(st: Structure, centre, radius, n: int = 512) -> jax.Array:
    t = (jnp.arange(n, dtype=float) + 0.5) / n * 2 * jnp.pi
    c, s = jnp.cos(t), jnp.sin(t)

    def flux(ct, st_):
        x, y = jnp.real(centre) + radius * ct, jnp.imag(centre) + radius * st_
        u = jax.lax.stop_gradient(_u_of(st, x, y))
        gx, gy = jax.grad(lambda p: _potential(st, p[0], p[1], u)[0])(jnp.stack([x, y]))
        return gx * ct + gy * st_

    # a fraction: the flux is exact up to round-off (~1e-17 below 0 where no eigenvalue is near)
    return jnp.clip(jnp.mean(jax.vmap(flux)(c, s)) * radius / _rank(st), 0.0, 1.0)


def slow_fraction(st: Structure, eps: float) -> jax.Array:
    """Predicted fraction of the Jacobian's eigenvalues within ``eps`` of 0 (flows) or 1 (maps)."""
    return mass_in_disk(st, 0.0 if st.is_flow else 1.0, eps)


def density_grid(
    st: Structure, sp: Support, n_x: int, *, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The eigenvalue density on a grid of square cells covering the support ``sp`` of ``st`` (for drawing
    it under sampled eigenvalues): ``n_x`` abscissae over the support's real extent padded by 4% of its
    size on each side, the same step in Im lambda. The density is evaluated only inside the boundary (plus
    one cell) and on Im >= 0: the Jacobian is real, so the density is symmetric under conjugation, and
    outside the support the continuous density is 0. Points are evaluated in vectorised chunks of
    ``batch_size`` (bounded memory). Returns ``(x, y, density)`` with ``density[j, i]`` at
    ``x[i] + 1j * y[j]`` (fractions of all eigenvalues per unit area). InputError where the formula does not
    apply (:func:`has_density`)."""
    check_density(st)
    x0, x1, ys_b = float(sp.leftmost), float(sp.rightmost), np.asarray(sp.y)
    pad = 0.04 * max(x1 - x0, 2 * ys_b.max(), 1e-12)
    xs = np.linspace(x0 - pad, x1 + pad, n_x)
    dx = xs[1] - xs[0]
    k = int(np.ceil((ys_b.max() + pad) / dx))
    ys = np.arange(-k, k + 1) * dx
    top = np.interp(xs, np.asarray(sp.x), ys_b, left=0.0, right=0.0)
    inside = (ys[k:, None] <= top[None, :] + dx) & (np.abs(xs - np.clip(xs, x0, x1)) <= dx)[None, :]
    iy, ix = np.nonzero(inside)
    points = jnp.asarray(xs[ix] + 1j * ys[k + iy])
    values = jax.lax.map(partial(density, st), points, batch_size=batch_size)
    grid = np.zeros((ys.size, xs.size))
    grid[k + iy, ix] = grid[k - iy, ix] = np.asarray(values)
    return xs, ys, grid
