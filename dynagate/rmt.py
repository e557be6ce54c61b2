r"""Random-matrix theory of Jacobian spectra: support boundary, rightmost point, radius, density.

**Structure.** Every dynagate Jacobian, at a state whose single-site statistics are given, has the form

.. math::  (\lambda B - A)\,v = \sum_k L_k\, G_k\, R_k^{\mathsf T} v

over d variables per unit (gated RNN: d = 3 for (h, z, r); LSTM: d = 2 for (h, c); vanilla, GRU: d = 1):
A_i (d x d, per unit i) and the constant diagonal B collect the parts without random weights, each
weight matrix G_k (iid N(0, g_k^2 / N)) enters with a per-unit left vector L_ki (which equations) and
right vector R_ki (which variables). The left and right vectors, and A_i, are functions of the unit's
state (gate values, phi, phi', ...), so a distribution of single-site states (a :class:`Stats`) fixes
the ensemble. (For instantaneous gates, tau = 0 enters through B, so products such as J^h D J^r are
handled without approximation.)

**Support (derived here; checked in tests/test_rmt.py).** Eliminating v: with y_k = G_k R_k^T v,
y_k = G_k sum_m D[c_km] y_m, c_km,i = R_ki^T (lambda B - A_i)^{-1} L_mi. The block matrix on the right
has independent entries with a variance profile, so its spectrum fills the disk of radius
sqrt(rho(T)), rho the Perron root of

.. math::  T_{km}(\lambda) = g_k^2 \,\langle |c_{km}|^2 \rangle   (Cook, Hachem, Najim & Renfrew 2018).

lambda is inside the support iff F(lambda) := rho(T(lambda)) >= 1. For a single weight matrix this is
THEORY.md's F(lambda), with one correction: averages of a left and a right factor of the same unit
are *joint* (A G B is similar to G (B A)); THEORY.md's product of separate averages is right only when
the two factors are independent, as at the static mean-field fixed point. All |c_km|^2 are products of
1 / |lambda - real|^2, so F decreases with |Im lambda|: the support meets each vertical line in a
symmetric interval and its rightmost point lies on the real axis.

**Density (d = 1).** For X = A + L G R with scalar A_i, L_i, R_i (vanilla; gated with alpha_r = 0 at a
fixed point; GRU), hermitization (Feinberg & Zee 1997; the self-consistent Born equations for a
Gaussian G, as in Ahmadian, Fumarola & Miller 2015) gives, inside the support, u(z) > 0 from
``1 = < s / (s u + |z - A|^2) >``, s = g^2 L^2 R^2, and the density
``rho(z) = (1/pi) d/d(conj z) < conj(z - A) / (s u + |z - A|^2) >``.
"""

from __future__ import annotations

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .models.gated import GatedNet, GatedRNN, _is_zero, dgate, gate
from .models.gru import GRU, GRUNet
from .models.vanilla import VanillaNet, VanillaRNN, dphi, phi


class Stats(eqx.Module):
    """Single-site statistics: weighted nodes (quadrature points or the units of one network).

    ``values`` maps variable names (model-specific: "h", "z", "r", "a", ...) to arrays of shape (m,);
    ``weights`` (m,) sum to 1.
    """

    weights: jax.Array
    values: dict


class Structure(eqx.Module):
    """Per-unit blocks of a Jacobian: (lambda B - A_i) v = sum_k L_ki G_k R_ki^T v (see module doc)."""

    weights: jax.Array  # (m,)
    A: jax.Array  # (m, d, d)
    B: jax.Array  # (d,)
    L: jax.Array  # (K, m, d)
    R: jax.Array  # (K, m, d)
    g2: jax.Array  # (K,) variances g_k^2 of the weight matrices
    is_flow: bool = eqx.field(static=True)


# ------------------------------------------------------------------------------------ statistics


def empirical_stats(net, state, x=None) -> Stats:
    """The statistics of one network's units at ``state`` (equal weights): the empirical law."""
    if isinstance(net, GatedNet):
        h, z, r, _, _, _, a = net._parts(state, x)
        vals = {"h": h, "z": z, "r": r, "a": a}
    elif isinstance(net, VanillaNet):
        vals = {"h": state}
    elif isinstance(net, GRUNet):
        _, r, z, m, cand, g, dg_dz, _, rho = net._parts(state, x)
        if rho is not None:
            raise NotImplementedError("RMT for the refine-gate GRU is not implemented")
        vals = {"h": state, "r": r, "z": z, "m": m, "n": cand}
    else:
        raise NotImplementedError(f"no RMT structure for {type(net).__name__}")
    n = state.shape[0] if not isinstance(net, GatedNet) else net.n
    return Stats(weights=jnp.full(n, 1.0 / n), values=vals)


def zero_state_stats(ensemble) -> Stats:
    """Statistics at the zero state h = z = r = 0 (gated, vanilla) or h = 0 with zero biases (GRU)."""
    if isinstance(ensemble, (GatedRNN, VanillaRNN)):
        zero = jnp.zeros(1)
        return Stats(jnp.ones(1), {"h": zero, "z": zero, "r": zero, "a": zero})
    if isinstance(ensemble, GRU):
        r, z = jax.nn.sigmoid(ensemble.mu_r), jax.nn.sigmoid(ensemble.mu_z)
        n = jnp.tanh(ensemble.mu_n)
        one = jnp.ones(1)
        return Stats(one, {"h": 0 * one, "r": r * one, "z": z * one, "m": 0 * one, "n": n * one})
    raise NotImplementedError(f"no zero-state statistics for {type(ensemble).__name__}")


def gaussian_stats(variances: dict, n_nodes: int = 40) -> Stats:
    """Independent zero-mean Gaussian variables (e.g. the static mean-field fixed point), as a product of
    Gauss-Hermite rules; a variance of 0 gives a single node at 0. ``a`` (the h drive) is 0."""
    x, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    names = list(variances)
    grids = jnp.meshgrid(*[jnp.asarray(x) for _ in names], indexing="ij")
    wgrid = jnp.ones(())
    for i in range(len(names)):
        shape = [1] * len(names)
        shape[i] = n_nodes
        wgrid = wgrid * jnp.asarray(w).reshape(shape)
    vals = {k: jnp.sqrt(variances[k]) * g.ravel() for k, g in zip(names, grids)}
    vals.setdefault("a", jnp.zeros_like(vals[names[0]]))
    return Stats(weights=wgrid.ravel(), values=vals)


# ------------------------------------------------------------------------------------- structures


def structure(model, stats: Stats) -> Structure:
    """The per-unit :class:`Structure` of ``model`` (an ensemble, or a network for its gains/options)."""
    ens = model.ensemble if hasattr(model, "ensemble") and model.ensemble is not None else model
    v, w = stats.values, stats.weights
    if isinstance(ens, VanillaRNN):
        return _vanilla(ens, v, w)
    if isinstance(ens, GatedRNN):
        z_state = getattr(model, "z_state", not _is_zero(ens.tau_z))
        r_state = getattr(model, "r_state", not _is_zero(ens.tau_r))
        return _gated(ens, v, w, z_state, r_state)
    if isinstance(ens, GRU):
        if ens.reset != "after" or ens.refine:
            raise NotImplementedError("RMT for the GRU is implemented for reset='after' without refine gate")
        return _gru(ens, v, w)
    raise NotImplementedError(f"no RMT structure for {type(ens).__name__}")


def _vanilla(e, v, w):
    h = v["h"]
    one = jnp.ones_like(h)
    if e.delta is None:  # flow: (lambda + 1) v = J D[phi'] v
        A, B, L = -one, jnp.ones(1), one
    else:  # map: (lambda - 1 + delta) v = delta J D[phi'] v
        A, B, L = (1.0 - e.delta) * one, jnp.ones(1), e.delta * one
    return Structure(
        w, A[:, None, None], B, L[None, :, None], dphi(h)[None, :, None], jnp.array([e.g**2]), e.delta is None
    )


def _gated(e, v, w, z_state, r_state):
    h, z, r, a = v["h"], v["z"], v["r"], v["a"]
    ph, dph = phi(h), dphi(h)
    sz, sr = gate(z, e.alpha_z, e.beta_z), gate(r, e.alpha_r, e.beta_r)
    dsz, dsr = dgate(z, e.alpha_z, e.beta_z), dgate(r, e.alpha_r, e.beta_r)
    m = h.shape[0]
    zero, one = jnp.zeros(m), jnp.ones(m)
    # variables (h, z, r); rows of B: 1, tau_z, tau_r (tau = 0: instantaneous gate, an algebraic row)
    tz = e.tau_z if z_state else 0.0
    tr = e.tau_r if r_state else 0.0
    B = jnp.array([1.0, tz, tr])
    A = jnp.stack(
        [
            jnp.stack([-sz, dsz * a, zero], -1),
            jnp.stack([zero, -one, zero], -1),
            jnp.stack([zero, zero, -one], -1),
        ],
        -2,
    )
    L = jnp.stack(
        [
            jnp.stack([sz, zero, zero], -1),  # J^h drives the h equation, scaled by sigma_z
            jnp.stack([zero, one, zero], -1),  # J^z drives z
            jnp.stack([zero, zero, one], -1),  # J^r drives r
        ]
    )
    R = jnp.stack(
        [
            jnp.stack([sr * dph, zero, dsr * ph], -1),  # J^h acts on sigma_r(r) phi(h)
            jnp.stack([dph, zero, zero], -1),
            jnp.stack([dph, zero, zero], -1),
        ]
    )
    g2 = jnp.array([e.g_h**2, e.g_z**2, e.g_r**2])
    return Structure(w, A, B, L, R, g2, True)


def _gru(e, v, w):
    # h' = (1 - z) n + z h: (lambda - z) v = sum_k D[L_k] W_k v, PyTorch convention (reset after W_n h).
    h, r, z, m, n = v["h"], v["r"], v["z"], v["m"], v["n"]
    dn = 1.0 - n**2
    Ls = jnp.stack([(1 - z) * dn * r, (1 - z) * dn * m * r * (1 - r), (h - n) * z * (1 - z)])
    one = jnp.ones_like(z)
    return Structure(
        w, z[:, None, None], jnp.ones(1), Ls[..., None], jnp.broadcast_to(one, Ls.shape)[..., None],
        jnp.array([e.g_n**2, e.g_r**2, e.g_z**2]), False,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------- F(lambda)


def transfer_matrix(st: Structure, lam) -> jax.Array:
    """T_km(lambda) = g_k^2 < |R_k^T (lambda B - A)^{-1} L_m|^2 > (K x K)."""
    M = lam * jnp.diag(st.B).astype(complex) - st.A  # (m, d, d), upper triangular for every model
    rhs = jnp.moveaxis(st.L.astype(complex), 0, -1)  # (m, d, K)
    X = jnp.moveaxis(jax.scipy.linalg.solve_triangular(M, rhs, lower=False), -1, 0)  # (K_m, m, d)
    c = jnp.einsum("kid,mid->kmi", st.R.astype(complex), X)  # (K, K, m)
    return st.g2[:, None] * jnp.einsum("i,kmi->km", st.weights, jnp.abs(c) ** 2)


def perron_root(T, iters: int = 40) -> jax.Array:
    """Spectral radius of a non-negative matrix: rho = lim ||T^(2^k)||^(2^-k) by normalised repeated
    squaring (relative error ~ log(K) 2^-iters). Entries below 1e-150 of the largest are flushed to 0,
    which keeps the squarings out of slow subnormal arithmetic without changing rho beyond round-off."""
    logrho = jnp.zeros((), T.dtype)
    A = T
    scale = 1.0
    for _ in range(iters):
        s = jnp.maximum(jnp.max(jnp.abs(A)), jnp.finfo(T.dtype).tiny)
        logrho = logrho + scale * jnp.log(s)
        A = A / s
        A = jnp.where(A < 1e-150, 0.0, A)
        A = A @ A
        scale = scale / 2
    return jnp.exp(logrho)


def F(st: Structure, lam) -> jax.Array:
    """rho(T(lambda)): lambda lies in the support iff F >= 1."""
    return perron_root(transfer_matrix(st, lam))


# -------------------------------------------------------------------------------------- boundary


class Support(eqx.Module):
    """The support {F >= 1}: for each x on a grid, |Im lambda| <= y[x] (y = 0 where the line misses it).

    ``rightmost`` (real), ``leftmost`` and ``radius`` (max |lambda| over the support, about 0) are
    computed from the curve; ``polyline()`` gives the closed boundary.
    """

    x: jax.Array
    y: jax.Array
    rightmost: jax.Array
    leftmost: jax.Array
    is_flow: bool = eqx.field(static=True)

    @property
    def radius(self) -> jax.Array:
        return jnp.max(jnp.where(self.y > 0, jnp.hypot(self.x, self.y), jnp.abs(self.rightmost)))

    @property
    def stable(self) -> jax.Array:
        return self.rightmost < 0 if self.is_flow else self.radius < 1

    def polyline(self) -> np.ndarray:
        """Closed boundary as complex points (upper curve left to right, lower curve back)."""
        x, y = np.asarray(self.x), np.asarray(self.y)
        keep = y > 0
        xs = np.concatenate([[float(self.leftmost)], x[keep], [float(self.rightmost)]])
        ys = np.concatenate([[0.0], y[keep], [0.0]])
        return np.concatenate([xs + 1j * ys, (xs - 1j * ys)[::-1]])


def _poles(st: Structure):
    """Real parts where (lambda B - A_i) is singular for some node: A_jj / B_jj (triangular A)."""
    d = jnp.diagonal(st.A, axis1=1, axis2=2)  # (m, d)
    ok = st.B > 0
    p = jnp.where(ok[None, :], d / jnp.where(ok, st.B, 1.0)[None, :], jnp.nan)
    return jnp.nanmin(p), jnp.nanmax(p)


def _bisect(f, lo, hi, iters=44):
    """Root of a function that is >= 0 at lo and < 0 at hi (monotone between)."""

    def body(_, c):
        lo, hi = c
        mid = 0.5 * (lo + hi)
        up = f(mid) >= 0
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iters, body, (lo, hi))
    return 0.5 * (lo + hi)


def _reach(f, start, direction, scale):
    """A point beyond ``start`` in ``direction`` where f < 0 (f decreasing away from start)."""

    def cond(c):
        d, k = c
        return (f(start + direction * d) >= 0) & (k < 64)

    d, _ = jax.lax.while_loop(cond, lambda c: (2 * c[0], c[1] + 1), (scale, 0))
    return start + direction * d


def _edges(st: Structure):
    """Real edges of the support beyond the outermost poles: (reaches right, right, reaches left, left,
    span). Right of every pole F decreases with x and left of every pole it increases, so bisect
    outward from the outermost poles, as a function of the distance t from them."""
    pmin, pmax = _poles(st)
    span = jnp.maximum(pmax - pmin, 1.0)
    eps = 1e-9 * span

    def edge(p, direction):
        def g(t):
            return F(st, p + direction * (eps + t) + 0.0j) - 1.0

        t = _bisect(g, jnp.zeros(()), _reach(g, 0.0, 1.0, span))
        return g(0.0) >= 0, p + direction * (eps + t)

    right_out, right = edge(pmax, 1.0)
    left_out, left = edge(pmin, -1.0)
    return right_out, jnp.where(right_out, right, pmax), left_out, jnp.where(left_out, left, pmin), span


@partial(jax.jit, static_argnames="n_x")
def rightmost(st: Structure, n_x: int = 64) -> jax.Array:
    """The support's rightmost point (real): a bisection on the real axis when the support reaches past
    the outermost pole, else from an ``n_x``-point :func:`support` curve. Cheap; jit/vmap-able."""
    right_out, right, *_ = _edges(st)
    return jnp.where(right_out, right, support(st, n_x).rightmost)


@partial(jax.jit, static_argnames="n_x")
def support(st: Structure, n_x: int = 512) -> Support:
    """The support boundary: F(x + i y) = 1, for ``n_x`` abscissae (jit/vmap-able in the structure)."""
    right_out, right, left_out, left, span = _edges(st)

    def f_real(x):
        return F(st, x + 0.0j) - 1.0

    xs = jnp.linspace(left, right, n_x + 2)[1:-1]

    def height(x):
        def fy(y):
            return F(st, x + 1j * y) - 1.0

        inside = fy(0.0) >= 0
        top = _reach(fy, 0.0, 1.0, span)
        return jnp.where(inside, _bisect(fy, 0.0, top), 0.0)

    ys = jax.vmap(height)(xs)
    # where the support does not reach past the outermost poles, its edges come from the grid
    inside = ys > 0
    dx = xs[1] - xs[0]
    x_r = jnp.max(jnp.where(inside, xs, -jnp.inf))
    x_l = jnp.min(jnp.where(inside, xs, jnp.inf))
    right = jnp.where(right_out, right, _bisect(f_real, x_r, x_r + dx, iters=40))
    left = jnp.where(left_out, left, -_bisect(lambda x: f_real(-x), -x_l, -x_l + dx, iters=40))
    return Support(xs, ys, right, left, st.is_flow)


# --------------------------------------------------------------------------------------- density


def _u_of(st: Structure, z):
    """u(z) > 0 solving 1 = < s / (s u + |z - A|^2) > (0 outside the support), d = 1 structures."""
    s, A2 = _scalar(st, z)

    def g(logu):
        return jnp.sum(st.weights * s / (s * jnp.exp(logu) + A2)) - 1.0

    inside = jnp.sum(st.weights * s / jnp.maximum(A2, 1e-300)) > 1.0
    lu = _bisect(g, jnp.asarray(-60.0), jnp.asarray(20.0), iters=80)
    return jnp.where(inside, jnp.exp(lu), 0.0)


def _scalar(st: Structure, z):
    """The first variable's scalar problem (exact when the other variables do not act back on it)."""
    s = jnp.sum(st.g2[:, None] * (st.L[..., 0] * st.R[..., 0]) ** 2, axis=0)  # (m,)
    Ai = st.A[:, 0, 0] / st.B[0]
    return s / st.B[0] ** 2, jnp.abs(z - Ai) ** 2


def check_scalar(st: Structure) -> None:
    """Raise unless the density formulas apply: one variable per unit, or gates that do not act back on
    h (a = 0 at a fixed point and no r-dependence of the h equation, alpha_r = 0)."""
    from .errors import InputError, is_concrete

    if st.A.shape[-1] == 1 or not is_concrete(st):
        return
    back = np.abs(np.asarray(st.A)[:, 0, 1:]).max() + np.abs(np.asarray(st.R)[:, :, 1:]).max()
    if back > 1e-5:  # a numerically polished fixed point leaves |a| ~ 1e-15 to 1e-7
        raise InputError(
            "the eigenvalue density is implemented when the gates do not act back on h "
            "(a fixed point with alpha_r = 0); the support boundary covers every case"
        )


def density(st: Structure, z) -> jax.Array:
    """Eigenvalue density rho(z) per unit area (normalised to 1; d = 1 structures):
    (1/pi) d/d(conj z) of m(z) = < conj(z - A) / (s u(z) + |z - A|^2) >, with du from d(eq) = 0."""
    u = _u_of(st, z)
    Ai = st.A[:, 0, 0] / st.B[0]

    def m_and_eq(t):  # t = (x, y, u)
        zz = t[0] + 1j * t[1]
        s, A2 = _scalar(st, zz)
        m = jnp.sum(st.weights * jnp.conj(zz - Ai) / (s * t[2] + A2))
        eq = jnp.sum(st.weights * s / (s * t[2] + A2)) - 1.0
        return jnp.stack([m.real, m.imag, eq])

    D = jax.jacfwd(m_and_eq)(jnp.stack([jnp.real(z), jnp.imag(z), u]))  # rows: Re m, Im m, eq
    du = jnp.where(u > 0, -D[2, :2] / jnp.where(u > 0, D[2, 2], 1.0), 0.0)  # (du/dx, du/dy)
    dre = D[0, :2] + D[0, 2] * du
    dim = D[1, :2] + D[1, 2] * du
    # d m / d(conj z) = (dm/dx + i dm/dy) / 2; its real part is (dRe/dx - dIm/dy) / 2
    return 0.5 * (dre[0] - dim[1]) / jnp.pi


@jax.jit
def stieltjes(st: Structure, z) -> jax.Array:
    """m(z) = < conj(z - A) / (s u(z) + |z - A|^2) >: inside the support the hermitized resolvent trace,
    outside it < 1 / (z - A) > (d = 1 structures)."""
    u = _u_of(st, z)
    s, A2 = _scalar(st, z)
    Ai = st.A[:, 0, 0] / st.B[0]
    return jnp.sum(st.weights * jnp.conj(z - Ai) / (s * u + A2))


@partial(jax.jit, static_argnames="n")
def mass_in_disk(st: Structure, centre, radius, n: int = 512) -> jax.Array:
    """Fraction of eigenvalues with |lambda - centre| < radius: by Green's theorem, the contour integral
    (1 / 2 pi i) of m(z) dz around the circle. Exact for near-point masses (units whose random part
    vanishes), which a 2-D integral of the density cannot resolve."""
    t = (jnp.arange(n) + 0.5) / n * 2 * jnp.pi
    e = jnp.exp(1j * t)
    m = jax.vmap(lambda z: stieltjes(st, z))(centre + radius * e)
    return jnp.mean(jnp.real(m * radius * e))


def slow_fraction(st: Structure, eps: float) -> jax.Array:
    """Predicted fraction of the h-eigenvalues (N of them) within ``eps`` of 0 (flows) or 1 (maps)."""
    check_scalar(st)
    return mass_in_disk(st, 0.0 if st.is_flow else 1.0, eps)
