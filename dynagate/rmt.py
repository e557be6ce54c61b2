r"""Random-matrix theory of Jacobian spectra: support boundary, rightmost point, radius, density.

**Structure.** Every dynagate Jacobian, at a state whose single-site statistics are given, has the form

.. math::  (\lambda B - A)\,v = \sum_k L_k\, G_k\, R_k^{\mathsf T} v

over d variables per unit (gated RNN: d = 3 for (h, z, r); LSTM: d = 2 for (h, c); GRU with reset before:
d = 2 for h and an algebraic W_r h; vanilla, GRU: d = 1):
A_i (d x d, per unit i) and the constant diagonal B collect the parts without random weights, each
weight matrix G_k (iid N(0, g_k^2 / N)) enters with a per-unit left vector L_ki (which equations) and
right vector R_ki (which variables). The left and right vectors, and A_i, are functions of the unit's
state (gate values, phi, phi', ...), so a distribution of single-site states (a
:class:`~dynagate.sitelaw.SiteLaw`) fixes the ensemble. (For instantaneous gates, tau = 0 enters
through B, so products such as J^h D J^r are handled without approximation.)

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

**Density and slow modes.** When every weight acts on the first variable with one column profile
(vanilla, GRU with reset after, LSTM, gated with alpha_r = 0), the log-potential
Phi(lambda) = (1/N) log|det(lambda B - A - sum L G R^T)| has a closed variational form (see
:func:`log_potential`; Girko's hermitization of a matrix with a variance profile, Feinberg & Zee 1997,
Ahmadian, Fumarola & Miller 2015). The density is Laplacian(Phi) / 2 pi and the mass in a disk the flux of
grad Phi through its circle; the slow-mode fraction is the mass within eps of 0 (flows) or 1 (maps).

**Checks** (tests/test_rmt.py): the zero state gives THEORY.md's disk to 1e-9 for every gated parameter
set tried and loses stability at g_h = 1 + e^{beta_r}; the density of the vanilla zero state is the
uniform disk to 1e-6; the radial distribution at an input-driven vanilla fixed point is Haagerup-Larsen's
closed form to 1e-3; rightmost points, supports, radial distributions and slow-mode fractions agree with
sampled eigenvalues of gated (fixed point and chaos, alpha_z up to 10, alpha_r up to 5), GRU (reset after
and before, refine gate, UGI) and LSTM (constant, UGI, chrono forget bias; refine gate; UR-LSTM)
networks at N = 500-2000.
"""

from __future__ import annotations

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError, is_concrete
from .models.gated import GatedRNN, _is_zero, dgate, gate
from .models.gru import GRU, refine
from .models.lstm import LSTM
from .models.vanilla import VanillaRNN, dphi, phi
from .sitelaw import SiteLaw, empirical_stats, gaussian_stats, zero_state_stats

#: The former name of :class:`~dynagate.sitelaw.SiteLaw`.
Stats = SiteLaw

__all__ = [
    "F", "SiteLaw", "Stats", "Structure", "Support", "check_density", "density", "empirical_stats",
    "gaussian_stats", "has_density", "log_potential", "mass_in_disk", "perron_root", "rightmost",
    "slow_fraction", "structure", "support", "transfer_matrix", "zero_state_stats",
]  # fmt: skip

#: Single-site laws of the mean-field theory, formerly here: they live with the theory that makes them.
_MOVED_TO_MEANFIELD = ("meanfield_stats", "branch_stats", "dmft_stats")


def __getattr__(name: str):
    if name in _MOVED_TO_MEANFIELD:
        raise AttributeError(
            f"dynagate.rmt.{name} has moved to dynagate.meanfield.{name} "
            f"(from dynagate import meanfield; meanfield.{name}(...))"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Structure(eqx.Module):
    """Per-unit blocks of a Jacobian: (lambda B - A_i) v = sum_k L_ki G_k R_ki^T v (see module doc)."""

    weights: jax.Array  # (m,)
    A: jax.Array  # (m, d, d)
    B: jax.Array  # (d,)
    L: jax.Array  # (K, m, d)
    R: jax.Array  # (K, m, d)
    g2: jax.Array  # (K,) variances g_k^2 of the weight matrices
    is_flow: bool = eqx.field(static=True)


# ------------------------------------------------------------------------------------- structures


def structure(model, stats: SiteLaw) -> Structure:
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
        return _gru(ens, v, w)
    if isinstance(ens, LSTM):
        return _lstm(ens, v, w)
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
    h = v["h"]
    z, r, a = (v.get(k, jnp.zeros_like(h)) for k in ("z", "r", "a"))  # absent: 0
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


def _effective_gate(v, key):
    """The gate value g, dg/d(gate) and dg/d(rho) · rho' (refine gate, Gu et al.) from the statistics."""
    f = v[key]
    if "rho" not in v:
        return f, jnp.ones_like(f), jnp.zeros_like(f)
    g, dg_df, dg_drho = refine(f, v["rho"])
    return g, dg_df, dg_drho * v["rho"] * (1 - v["rho"])


def _gru(e, v, w):
    """h' = (1 - g) n + g h, g the update gate (refined or not), weights (W_n, W_r, W_z, W_rf).

    Reset after (PyTorch): n = tanh(. + r (W_n h + b)), so d = 1 and (lambda - g) v = sum_k D[L_k] W_k v.
    Reset before (Cho et al.): n = tanh(W_n (r h) + .) puts the product W_n D[h r'] W_r in the Jacobian;
    an algebraic variable w = W_r v (B = 0) makes it linear: d = 2 over (h, w), W_n acting on r v + h r' w.
    """
    h, r, z, m, n = v["h"], v["r"], v["z"], v["m"], v["n"]
    g, dg_dz, drho = _effective_gate(v, "z")
    dn, dr = 1.0 - n**2, r * (1 - r)
    zero, one = jnp.zeros_like(h), jnp.ones_like(h)
    Ln, Lz, Lrf = (1 - g) * dn, (h - n) * dg_dz * z * (1 - z), (h - n) * drho
    g2 = jnp.array([e.g_n**2, e.g_r**2, e.g_z**2, e.g_rf**2])
    if e.reset == "after":
        L = jnp.stack([Ln * r, Ln * m * dr, Lz, Lrf])[..., None]
        return Structure(w, g[:, None, None], jnp.ones(1), L, jnp.ones_like(L), g2, False)
    A = jnp.stack([jnp.stack([g, zero], -1), jnp.stack([zero, -one], -1)], -2)
    L = jnp.stack(
        [jnp.stack([Ln, zero], -1), jnp.stack([zero, one], -1)]
        + [jnp.stack([x, zero], -1) for x in (Lz, Lrf)]
    )
    eh = jnp.stack([one, zero], -1)
    R = jnp.stack([jnp.stack([r, h * dr], -1), eh, eh, eh])
    return Structure(w, A, jnp.array([1.0, 0.0]), L, R, g2, False)


def _lstm(e, v, w):
    """The full (h, c) Jacobian (d = 2): c' = g c + i u, h' = o tanh(c'), g the (refined) forget gate.

    With k = o (1 - tanh(c')^2) and dc'/dh = sum_k coef_k W_k, the per-unit blocks are
    A = [[0, k g], [0, g]], and every weight acts on h (R = e_h): W_o with L = (tanh(c') o', 0) and
    W_{i,f,u,rf} with L = coef (k, 1): coef_u = i (1 - u^2), coef_i = u i' (0 when tied),
    coef_f = (c - u [tied]) dg/df f', coef_rf = (c - u [tied]) dg/drho rho' (i = 1 - g when tied).
    """
    c, f, u, o = v["c"], v["f"], v["u"], v["o"]
    g, dg_df, drho = _effective_gate(v, "f")
    i = 1.0 - g if e.tied_input else v["i"]
    tc = jnp.tanh(g * c + i * u)
    k = o * (1 - tc**2)
    keep = c - u if e.tied_input else c
    coef = jnp.stack([0 * i if e.tied_input else u * i * (1 - i), keep * dg_df * f * (1 - f), i * (1 - u**2)])
    coef = jnp.concatenate([coef, (keep * drho)[None]])  # (i, f, u, rf)
    L = jnp.stack([coef * k, coef], -1)  # (4, m, 2)
    Lo = jnp.stack([tc * o * (1 - o), jnp.zeros_like(o)], -1)[None]
    L = jnp.concatenate([L, Lo])  # weights (i, f, u, rf, o)
    zero = jnp.zeros_like(g)
    A = jnp.stack([jnp.stack([zero, k * g], -1), jnp.stack([zero, g], -1)], -2)
    R = jnp.broadcast_to(jnp.array([1.0, 0.0]), L.shape)
    g2 = jnp.array([e.g_i**2, e.g_f**2, e.g_u**2, e.g_rf**2, e.g_o**2])
    return Structure(w, A, jnp.ones(2), L, R, g2, False)


# ----------------------------------------------------------------------------------------- F(lambda)


def _abs2(z):
    return jnp.real(z) ** 2 + jnp.imag(z) ** 2


def _complex_dtype(st: Structure):
    """The complex type of the structure's precision (float64 -> complex128, float32 -> complex64)."""
    return jnp.complex128 if st.A.dtype == jnp.float64 else jnp.complex64


def _lam(st: Structure, x, y=0.0) -> jax.Array:
    """lambda = x + i y in the structure's complex type (an explicit cast: no implicit float -> complex)."""
    ct = _complex_dtype(st)
    return jnp.asarray(x).astype(ct) + 1j * jnp.asarray(y).astype(ct)


def _back_substitute(st: Structure, lam, stop: int = 0):
    """Rows j >= stop of X = (lambda B - A)^{-1} L_k for every k, by back substitution (A is upper
    triangular for every model and d <= 3: unrolled, no batched tiny solves). Returns ([X_j (K, m)], diag).
    ``lam`` may be real or complex; the arithmetic is complex, in the structure's precision."""
    ct = _complex_dtype(st)
    lam = jnp.asarray(lam).astype(ct)
    d = st.A.shape[-1]
    diag = lam * st.B[None, :].astype(ct) - jnp.diagonal(st.A, axis1=1, axis2=2).astype(ct)  # (m, d)
    X = [None] * d
    for j in range(d - 1, stop - 1, -1):
        acc = st.L[..., j].astype(ct)
        for col in range(j + 1, d):
            acc = acc + st.A[:, j, col].astype(ct) * X[col]  # -(lambda B - A)_jl = A_jl off the diagonal
        X[j] = acc / diag[:, j]
    return X, diag


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


def _bisect(f, lo, hi, iters=44):
    """Root of a function that is >= 0 at lo and < 0 at hi (monotone between)."""

    def body(_, c):
        lo, hi = c
        mid = 0.5 * (lo + hi)
        up = f(mid) >= 0
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iters, body, (lo, hi))
    return 0.5 * (lo + hi)


def _illinois(f, lo, hi, iters=14):
    """Root of a function >= 0 at lo and < 0 at hi by the Illinois false-position method: bracketed like
    bisection, superlinear for a smooth monotone f (here 14 steps reach ~1e-12 of the bracket where 44
    bisections would be needed)."""

    def body(_, c):
        lo, hi, flo, fhi, side = c
        x = (lo * fhi - hi * flo) / (fhi - flo)
        x = jnp.where((x > lo) & (x < hi), x, 0.5 * (lo + hi))
        fx = f(x)
        up = fx >= 0
        # halve the retained end's value when the same end is kept twice (Illinois)
        flo2 = jnp.where(up, fx, jnp.where(side < 0, 0.5 * flo, flo))
        fhi2 = jnp.where(up, jnp.where(side > 0, 0.5 * fhi, fhi), fx)
        return jnp.where(up, x, lo), jnp.where(up, hi, x), flo2, fhi2, jnp.where(up, 1, -1)

    lo, hi, flo, fhi, _ = jax.lax.fori_loop(0, iters, body, (lo, hi, f(lo), f(hi), 0))
    return jnp.where(fhi - flo != 0, (lo * fhi - hi * flo) / (fhi - flo), 0.5 * (lo + hi))


def _reach(f, start, direction, scale):
    """A point beyond ``start`` in ``direction`` where f < 0 (f decreasing away from start)."""

    def cond(c):
        d, k = c
        return (f(start + direction * d) >= 0) & (k < 64)

    d, _ = jax.lax.while_loop(cond, lambda c: (2 * c[0], c[1] + 1), (scale, 0))
    return start + direction * d


def _edge(st: Structure, direction: float):
    """The support's real edge beyond the outermost pole on one side (direction +1: right, -1: left):
    (whether the support reaches past that pole, the edge or else the pole). Right of every pole F
    decreases with x and left of every pole it increases, so bisect outward as a function of the
    distance t from the pole."""
    pmin, pmax = _poles(st)
    span = jnp.maximum(pmax - pmin, 1.0)
    p = pmax if direction > 0 else pmin
    eps = max(1e-9, 1e3 * float(jnp.finfo(span.dtype).eps)) * span  # off the pole, also in float32

    def g(t):
        return F(st, p + direction * (eps + t)) - 1.0  # a real lambda: F casts it

    t = _bisect(g, jnp.zeros(()), _reach(g, 0.0, 1.0, span))
    out = g(0.0) >= 0
    return out, jnp.where(out, p + direction * (eps + t), p)


@partial(jax.jit, static_argnames="n_x")
def rightmost(st: Structure, n_x: int = 256) -> jax.Array:
    """The spectrum's rightmost point (real; the support meets vertical lines in symmetric intervals):
    a bisection outward from the rightmost pole, or, when the bulk does not reach past it, a scan of F
    on the real axis (``n_x`` points) refined by bisection. Cheap; jit/vmap-able over structures."""
    out, right = _edge(st, 1.0)
    pmin, pmax = _poles(st)
    xs = jnp.linspace(pmin, pmax, n_x + 2)[1:-1]
    inside = jax.vmap(lambda x: F(st, x))(xs) >= 1.0
    x_r = jnp.max(jnp.where(inside, xs, -jnp.inf))
    scanned = jnp.where(
        jnp.isfinite(x_r), _bisect(lambda x: F(st, x) - 1.0, x_r, x_r + xs[1] - xs[0], iters=40), pmax
    )
    return jnp.where(out, right, jnp.maximum(scanned, pmax))


@partial(jax.jit, static_argnames="n_x")
def support(st: Structure, n_x: int = 512) -> Support:
    """The support boundary: F(x + i y) = 1, for ``n_x`` abscissae (jit/vmap-able in the structure)."""
    right_out, right = _edge(st, 1.0)
    left_out, left = _edge(st, -1.0)
    pmin, pmax = _poles(st)
    span = jnp.maximum(pmax - pmin, 1.0)

    def f_real(x):
        return F(st, x) - 1.0

    xs = jnp.linspace(left, right, n_x + 2)[1:-1]

    def height(x):
        def fy(y):  # 1 - 1/F: smooth where F has poles (1/F ~ distance^2), so false position converges fast
            return 1.0 - 1.0 / F(st, _lam(st, x, y))

        inside = fy(0.0) >= 0
        top = _reach(fy, 0.0, 1.0, span)
        return jnp.where(inside, _illinois(fy, jnp.zeros(()), top), 0.0)

    ys = jax.vmap(height)(xs)
    # where the support does not reach past the outermost poles, its edges come from the grid
    inside = ys > 0
    dx = xs[1] - xs[0]
    x_r = jnp.max(jnp.where(inside, xs, -jnp.inf))
    x_l = jnp.min(jnp.where(inside, xs, jnp.inf))
    # a pole the bulk does not reach is an eigenvalue itself (a unit whose random part vanishes, e.g.
    # sigma_z -> 0 at large alpha_z): the extreme poles bound the spectrum too
    right = jnp.where(right_out, right, jnp.maximum(_bisect(f_real, x_r, x_r + dx, iters=40), pmax))
    left = jnp.where(
        left_out, left, jnp.minimum(-_bisect(lambda x: f_real(-x), -x_l, -x_l + dx, iters=40), pmin)
    )
    return Support(xs, ys, right, left, st.is_flow)


# --------------------------------------------------------------------------------------- density


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
