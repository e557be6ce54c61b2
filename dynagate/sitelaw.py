r"""The single-site law: a distribution of one unit's state, as weighted nodes (:class:`SiteLaw`).

The random-matrix theory of the Jacobian (:mod:`dynagate.rmt`) needs, per unit, the values that its
per-unit blocks are built of (gate values, phi, phi', ...). At N -> infinity the units are exchangeable,
so the law of these values over the units fixes the spectrum. A law is a set of nodes (quadrature points,
or the units of one network) with weights summing to 1.

Producers here need only a model: :func:`empirical_stats` (one network's units at a state, through the
network's ``site_values``), :func:`zero_state_stats` (the zero state, averaged over the ensemble's bias
laws) and :func:`gaussian_stats` (independent Gaussian variables). The laws that come from the mean-field
theory (the static fixed point, a static branch, the DMFT's chaotic state) are built in
:mod:`dynagate.meanfield` (``meanfield_stats``, ``branch_stats``, ``dmft_stats``) on top of
:func:`gaussian_stats`.
"""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError, is_concrete
from .models.gated import GatedRNN, _is_zero
from .models.gru import GRU
from .models.init import ChronoInit, UniformGateInit
from .models.lstm import LSTM
from .models.vanilla import VanillaRNN


class SiteLaw(eqx.Module):
    """Single-site law: weighted nodes (quadrature points or the units of one network).

    ``values`` maps variable names (model-specific: "h", "z", "r", "a", ...) to arrays of shape (m,);
    ``weights`` (m,) sum to 1.
    """

    weights: jax.Array
    values: dict


def empirical_stats(net, state, x=None) -> SiteLaw:
    """The statistics of one network's units at ``state`` (equal weights): the empirical law of its
    per-unit values (``net.site_values``)."""
    vals = net.site_values(state, x)
    m = next(iter(vals.values())).shape[0]
    return SiteLaw(weights=jnp.full(m, 1.0 / m), values=vals)


def _product(rules: dict):
    """Product quadrature of independent variables: name -> (nodes, weights) -> (weights, values)."""
    w, vals = jnp.ones(1), {}
    for name, (nodes, wk) in rules.items():
        w = (w[:, None] * jnp.asarray(wk)[None, :]).ravel()
        vals = {k: jnp.repeat(v, len(wk)) for k, v in vals.items()}
        vals[name] = jnp.tile(jnp.asarray(nodes, float), w.shape[0] // len(wk))
    return w, vals


def _bias_rule(dists: dict, n_nodes: int, n: int | None):
    """Product quadrature over independent bias laws: name -> (mu, s) Gaussian or a gate initialiser.
    Degenerate laws get one node; at most ~20000 nodes in all. Returns weights and bias values."""
    spread = [k for k, d in dists.items() if not isinstance(d, tuple) or not _is_zero(d[1])]
    n_nodes = max(2, min(n_nodes, int(20000 ** (1 / max(len(spread), 1)))))
    xg, wg = np.polynomial.hermite_e.hermegauss(n_nodes)
    xl, wl = np.polynomial.legendre.leggauss(n_nodes)
    t, wl = (xl + 1) / 2, wl / 2  # Gauss-Legendre on [0, 1]
    rules = {}
    for name, d in dists.items():
        if isinstance(d, tuple):  # Gaussian N(mu, s^2)
            rules[name] = (d[0] + d[1] * xg, wg / wg.sum()) if name in spread else ([d[0]], [1.0])
        elif isinstance(d, UniformGateInit):
            dd = n if d.d is None else d.d
            if dd is None:
                raise InputError("UniformGateInit(d=None) uses the hidden size: pass n to zero_state_stats")
            u = 1 / dd + (1 - 2 / dd) * t
            rules[name] = (np.log(u) - np.log1p(-u), wl)
        elif isinstance(d, ChronoInit):
            rules[name] = (np.log(1 + (d.t_max - 2) * t), wl)
        else:
            raise InputError(f"unknown bias law {d!r}")
    return _product(rules)


@functools.singledispatch
def zero_state_stats(ensemble, *, n: int | None = None, n_nodes: int = 24) -> SiteLaw:
    """Statistics at the zero state (h = 0, and c = 0 for the LSTM; zero input), averaged over the
    ensemble's bias laws (Gauss-Hermite for Gaussian biases, Gauss-Legendre for UGI and chrono init).
    ``n`` (the hidden size) is needed only for ``UniformGateInit(d=None)``. Dispatched on the ensemble's
    type: a model registers its own."""
    raise NotImplementedError(f"no zero-state statistics for {type(ensemble).__name__}")


@zero_state_stats.register(GatedRNN)
@zero_state_stats.register(VanillaRNN)
def _(ensemble, *, n: int | None = None, n_nodes: int = 24) -> SiteLaw:
    zero = jnp.zeros(1)
    return SiteLaw(jnp.ones(1), {"h": zero, "z": zero, "r": zero, "a": zero})


@zero_state_stats.register(GRU)
def _(e, *, n: int | None = None, n_nodes: int = 24) -> SiteLaw:
    dists = {"r": (e.mu_r, e.s_r), "z": (e.mu_z, e.s_z) if e.update_init is None else e.update_init}
    dists |= {"n": (e.mu_n, e.s_n)} | ({"rho": (e.mu_rf, e.s_rf)} if e.refine else {})
    w, b = _bias_rule(dists, n_nodes, n)
    zero = jnp.zeros_like(w)
    vals = {"h": zero, "m": zero, "r": jax.nn.sigmoid(b["r"]), "z": jax.nn.sigmoid(b["z"])}
    vals |= {"n": jnp.tanh(b["n"])} | ({"rho": jax.nn.sigmoid(b["rho"])} if e.refine else {})
    return SiteLaw(w, vals)


@zero_state_stats.register(LSTM)
def _(e, *, n: int | None = None, n_nodes: int = 24) -> SiteLaw:
    chrono = isinstance(e.forget_init, ChronoInit)
    dists = {"f": (e.mu_f, e.s_f) if e.forget_init is None else e.forget_init}
    dists |= {} if chrono else {"i": (e.mu_i, e.s_i)}
    dists |= {"u": (e.mu_u, e.s_u), "o": (e.mu_o, e.s_o)} | ({"rho": (e.mu_rf, e.s_rf)} if e.refine else {})
    w, b = _bias_rule(dists, n_nodes, n)
    if chrono:
        b["i"] = -b["f"]
    vals = {k: jax.nn.sigmoid(v) for k, v in b.items() if k != "u"}
    return SiteLaw(w, vals | {"u": jnp.tanh(b["u"]), "c": jnp.zeros_like(w)})


def gaussian_stats(variances: dict, n_nodes: int = 40, means: dict | None = None,
                   sharpness: dict | None = None) -> SiteLaw:  # fmt: skip
    """Independent Gaussian variables (the static mean-field fixed point, the DMFT state at alpha_z = 0).

    Each variable gets a Gauss-Hermite rule of ``n_nodes`` (without the nodes of weight below 1e-12 of the
    largest: 40 -> 28), unless its standard deviation times ``sharpness[name]`` (the slope of the
    nonlinearity it enters: 1 for h, alpha for a gate; default 1) exceeds 1.5 and the variance is concrete:
    then Gauss-Hermite resolves tanh(sqrt(v) x) poorly (its nodes are ~pi / sqrt(2 n) apart near 0, the
    sech^2 peak has width 1 / sqrt(v); the RMT edge of a chaotic gated state with var_h = 7.4 moves from
    0.31 (20 nodes) to 0.54 (40) and 0.626 (120), converged 0.6278), and the trapezoid rule on |x| <= 7.5
    with step 0.5 / (sqrt(v) sharpness) is used: its error ~exp(-2 pi d / step), d = pi / (2 sqrt(v)) the
    distance of tanh's poles, is ~e^{-2 pi^2} ~ 3e-9 at any variance. The step is rounded down to a
    power of two, so that sweeps over many variances compile the jitted consumers (F, the support) for
    a few node counts only. A variance known to be 0 gives a single node at the mean. ``a`` (the h
    drive) is 0."""
    xg, wg = np.polynomial.hermite_e.hermegauss(n_nodes)
    keep = wg >= 1e-12 * wg.max()
    xg, wg = xg[keep], wg[keep] / wg[keep].sum()
    means, sharpness = means or {}, sharpness or {}
    rules = {}
    for k, v in variances.items():
        if is_concrete(v) and float(v) == 0.0:
            rules[k] = ((0.0,), (1.0,))
        elif is_concrete(v) and math.sqrt(float(v)) * sharpness.get(k, 1.0) > 1.5:
            # a power-of-two step (finer than needed by < 2x): few distinct sizes, few compilations
            step = 0.5 * 2.0 ** -math.ceil(math.log2(math.sqrt(float(v)) * sharpness.get(k, 1.0)))
            x = np.arange(1, int(7.5 / step) + 1) * step
            x = np.concatenate([-x[::-1], [0.0], x])
            w = np.exp(-0.5 * x**2)
            rules[k] = (x, w / w.sum())
        else:
            rules[k] = (xg, wg)
    weights, unit = _product(rules)
    vals = {k: means.get(k, 0.0) + jnp.sqrt(v) * unit[k] for k, v in variances.items()}
    vals.setdefault("a", jnp.zeros_like(weights))
    return SiteLaw(weights=weights, values=vals)
