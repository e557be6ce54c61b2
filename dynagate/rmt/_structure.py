"""The per-unit blocks of a Jacobian (:class:`Structure`) for each model, from a single-site law, and
the per-unit resolvent (lambda B - A_i)^{-1} L_ki that the support and the density are built from (see
:mod:`dynagate.rmt`)."""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp

from ..models.gated import GatedRNN, _is_zero, dgate, gate
from ..models.gru import GRU, refine
from ..models.lstm import LSTM
from ..models.vanilla import VanillaRNN, dphi, phi
from ..sitelaw import SiteLaw


class Structure(eqx.Module):
    """Per-unit blocks of a Jacobian: (lambda B - A_i) v = sum_k L_ki G_k R_ki^T v (:mod:`dynagate.rmt`)."""

    weights: jax.Array  # (m,)
    A: jax.Array  # (m, d, d)
    B: jax.Array  # (d,)
    L: jax.Array  # (K, m, d)
    R: jax.Array  # (K, m, d)
    g2: jax.Array  # (K,) variances g_k^2 of the weight matrices
    is_flow: bool = eqx.field(static=True)


def structure(model, stats: SiteLaw) -> Structure:
    """The per-unit :class:`Structure` of ``model`` (an ensemble, or a network for its gains/options), by
    the linearisation registered for the ensemble's type (:func:`linearisation`)."""
    ens = model.ensemble if hasattr(model, "ensemble") and model.ensemble is not None else model
    return linearisation(ens, model, stats.values, stats.weights)


@functools.singledispatch
def linearisation(ensemble, model, v, w) -> Structure:
    """The model's theory hook for the RMT: register a new ensemble type with
    ``@linearisation.register`` (arguments: the ensemble, the model or network it came from, the site
    values and weights of the :class:`SiteLaw`)."""
    raise NotImplementedError(f"no RMT structure for {type(ensemble).__name__}")


@linearisation.register
def _(ensemble: VanillaRNN, model, v, w):
    return _vanilla(ensemble, v, w)


@linearisation.register
def _(ensemble: GatedRNN, model, v, w):
    z_state = getattr(model, "z_state", not _is_zero(ensemble.tau_z))
    r_state = getattr(model, "r_state", not _is_zero(ensemble.tau_r))
    return _gated(ensemble, v, w, z_state, r_state)


@linearisation.register
def _(ensemble: GRU, model, v, w):
    return _gru(ensemble, v, w)


@linearisation.register
def _(ensemble: LSTM, model, v, w):
    return _lstm(ensemble, v, w)


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


# ------------------------------------------------------------------------------------- resolvent


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
