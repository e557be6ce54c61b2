r"""Static mean field of the random LSTM (:class:`~dynagate.LSTM`, a map per step on (h, c), no input): the
fixed points' single-site law, its branches, and their stability from the RMT support of the Jacobian.

**Equations.** At a fixed point c = g c + i u and h = o tanh(c), with g the forget gate (f, or the refined
gate of f and rho) and i the input gate (1 - g when tied). So

.. math::  c^* = \frac{i\,u}{1 - g}, \qquad h^* = o \tanh(c^*),

and with the tied input gate (UR-LSTM) c* = u exactly. Each gate's pre-activation is a_x = b_x + (W_x h)_x,
with the recurrent part Gaussian with variance g_x^2 Q, Q = E h^2 (the cavity argument of :mod:`.static`;
the four or five matrices are independent, so are the fields), and the bias b_x ~ N(mu_x, s_x^2), or the
forget initialiser's law for b_f (through its quantile function; the chrono initialiser also sets
b_i = -b_f). o is independent of (i, f, u, rho), so the fixed-point equation is

.. math::  Q = \langle \sigma(a_o)^2 \rangle \; E\,\tanh^2\!\left(\frac{i\,u}{1 - g}\right),

the first factor by Gauss-Hermite, the second by scrambled-Sobol points (2^12; fixed seed, so RHS(Q) is a
smooth function whose roots are found by scan and bisection, :func:`.gru.unit_roots`; its integration error
is ~1e-3 relative). Q = 0 is a root when mu_u = s_u = 0 (u = 0 at the zero state).

**The heavy tail of c*.** Where the forget gate is near 1, 1 - g is small and c* large: 1 - f = sigma(-a_f)
is log-normal in its tail for a Gaussian bias, and uniform near 0 for the uniform gate initialisation
(sigma(b_f) uniform), so that c* ~ 1 / U has an infinite mean. Nothing here needs a moment of c*: h* and
every entry of the Jacobian are bounded functions of it (tanh(c*), and c* f (1 - f) = i u f in the forget
gate's column). 1 - g is computed without cancellation (1 - f = sigma(-a_f); with the refine gate
1 - g = (1 - f) [rho (1 - f) + (1 - rho)(1 + f)]) and bounded below by 1e-300 only to avoid a division by 0.

**Stability** (:func:`branch_radius`): the site law of a branch (:func:`branch_law`: c, i, f, u, o, rho at
1024 Sobol points) gives the RMT support of the full (h, c) Jacobian (:func:`dynagate.rmt.structure`);
the fixed points are stable iff its spectral radius is below 1, and its eigenvalues within eps of 1 are the
slow modes (a forget gate near 1 holds the cell there).
"""

from __future__ import annotations

import numpy as np
import scipy.special
import scipy.stats
from scipy.special import expit

from ..models.init import ChronoInit
from ..models.lstm import LSTM
from ..sitelaw import SiteLaw
from .gru import MapStatic, check_map, map_stability, unit_roots

_POINTS = 2**12
_LAW_POINTS = 2**10
_GH = 64


def _check(ensemble) -> LSTM:
    return check_map(ensemble, LSTM, "the LSTM mean field")


def _names(e: LSTM) -> list[str]:
    return ["i", "f", "u", "o"] + (["rho"] if e.refine else []) + (["b_f"] if e.forget_init else [])


def _uniforms(e: LSTM, points: int, seed: int = 0) -> dict:
    u = scipy.stats.qmc.Sobol(len(_names(e)), scramble=True, seed=seed).random(points)
    return {k: u[:, j] for j, k in enumerate(_names(e))}


def _cell(e: LSTM, q, unif: dict) -> dict:
    """The gates and the fixed-point cell at E h^2 = ``q`` (scalar or (k, 1) array) on the points ``unif``."""
    x = {k: scipy.special.ndtri(v) for k, v in unif.items() if k != "b_f"}
    sd = lambda a: np.sqrt(float(getattr(e, f"s_{a}")) ** 2 + float(getattr(e, f"g_{a}")) ** 2 * q)  # noqa: E731
    if e.forget_init is None:
        a_f = float(e.mu_f) + sd("f") * x["f"]
        b_f = None
    else:
        b_f = np.asarray(e.forget_init.quantile(unif["b_f"]))
        a_f = b_f + float(e.g_f) * np.sqrt(q) * x["f"]
    f, fbar = expit(a_f), expit(-a_f)
    out = {"f": f}
    if e.refine:
        rho = expit(float(e.mu_rf) + sd("rf") * x["rho"])
        g = rho * (1.0 - fbar**2) + (1.0 - rho) * f**2
        gbar = fbar * (rho * fbar + (1.0 - rho) * (1.0 + f))
        out["rho"] = rho
    else:
        g, gbar = f, fbar
    u = np.tanh(float(e.mu_u) + sd("u") * x["u"])
    if e.tied_input:
        i, c = gbar, u
    else:
        if isinstance(e.forget_init, ChronoInit):
            a_i = -b_f + float(e.g_i) * np.sqrt(q) * x["i"]
        else:
            a_i = float(e.mu_i) + sd("i") * x["i"]
        i = expit(a_i)
        c = i * u / np.maximum(gbar, 1e-300)
    o = expit(float(e.mu_o) + sd("o") * x["o"])
    return out | {"i": i, "u": u, "c": c, "o": o, "g": g}


def _gap(e: LSTM, q: np.ndarray, unif: dict) -> np.ndarray:
    q = np.atleast_1d(np.asarray(q, float))[:, None]
    v = _cell(e, q, unif)
    xg, wg = np.polynomial.hermite_e.hermegauss(_GH)
    wg = wg / wg.sum()
    o2 = wg @ expit(float(e.mu_o) + np.sqrt(float(e.s_o) ** 2 + float(e.g_o) ** 2 * q.T) * xg[:, None]) ** 2
    return o2 * np.mean(np.tanh(v["c"]) ** 2, axis=1) - q[:, 0]


def static_lstm(ensemble) -> MapStatic:
    """Every branch Q = E h^2 of the LSTM's static mean field (module doc)."""
    e = _check(ensemble)
    unif = _uniforms(e, _POINTS)
    zero_root = float(e.mu_u) == 0 and float(e.s_u) == 0
    q, slope, residual = unit_roots(lambda q: _gap(e, q, unif), zero_root, grid=256, bisect=50)
    return MapStatic(q=q, slope=slope, residual=residual)


def branch_law(ensemble, q: float, *, points: int = _LAW_POINTS, seed: int = 0) -> SiteLaw:
    """The single-site law of the LSTM fixed points with E h^2 = ``q``: c, i, f, u, o (and rho) at
    ``points`` scrambled-Sobol points (at q = 0 the zero state, with the N -> infinity law of a uniform
    gate initialiser)."""
    import jax.numpy as jnp

    e = _check(ensemble)
    v = _cell(e, float(q), _uniforms(e, points, seed))
    keep = ("c", "i", "f", "u", "o") + (("rho",) if e.refine else ())
    values = {k: jnp.asarray(v[k]) for k in keep} | {"h": jnp.asarray(v["o"] * np.tanh(v["c"]))}
    return SiteLaw(weights=jnp.full(points, 1.0 / points), values=values)


def branch_radius(ensemble, q: float, eps: float = 0.05) -> tuple[float, float]:
    """(spectral radius, slow fraction within ``eps`` of 1) of the RMT support of the full (h, c) Jacobian
    at the LSTM fixed points with E h^2 = ``q``."""
    from .. import rmt

    return map_stability(rmt.structure(ensemble, branch_law(ensemble, q)), eps)
