r"""Landau expansion of the gated RNN's static mean field about the zero solution (sympy).

With phi = tanh, sigma_r(r) = 1 / (1 + exp(-alpha_r r + beta_r)), s_b = mu_b = 0, the static map of
:mod:`.static` is RHS(D) = g_h^2 <phi^2>_D <sigma_r^2>_{Delta_r}, Delta_r = g_r^2 <phi^2>_D. Expanding the
Gaussian averages in moments (<x^2> = D, <x^4> = 3 D^2):

.. math::  RHS(D) = g_h^2 \sigma_0^2 D + g_h^2 \left[ g_r^2 (\sigma_0'^2 + \sigma_0 \sigma_0'') - 2\sigma_0^2
           \right] D^2 + O(D^3),

sigma_0, sigma_0', sigma_0'' the gate and its r-derivatives at r = 0. Non-zero solutions branch off at
g_h sigma_0 = 1 (g_h = 1 + e^{beta_r}); the bifurcation is supercritical where the D^2 coefficient b is
negative and subcritical (non-zero solutions below the threshold, a discontinuous transition) where b > 0.
b = 0 is the tricritical line; at beta_r = 0 it is alpha_r g_r = 2 sqrt 2 (THEORY.md 5).
"""

from __future__ import annotations

import functools

import sympy as sp


@functools.cache
def coefficients() -> tuple[sp.Expr, sp.Expr]:
    """(a, b) of RHS(D) = a D + b D^2 + O(D^3), as sympy expressions in g_h, g_r, alpha_r, beta_r."""
    g_h, g_r, alpha, beta, r, D, x = sp.symbols("g_h g_r alpha_r beta_r r D x", real=True)
    sigma = 1 / (1 + sp.exp(-alpha * r + beta))
    # <tanh^2(sqrt(D) x)> to O(D^2): Taylor in x, Gaussian moments <x^2k> = (2k - 1)!!
    t2 = sp.series(sp.tanh(x) ** 2, x, 0, 6).removeO()
    phi2 = sp.expand(sum(c * D ** (k // 2) * sp.factorial2(k - 1) for (k,), c in sp.Poly(t2, x).terms()))
    s2 = sp.series(sigma**2, r, 0, 3).removeO()
    dr = g_r**2 * phi2
    sig2 = s2.coeff(r, 0) + s2.coeff(r, 2) * dr  # <r> = 0, <r^2> = Delta_r
    rhs = sp.expand(g_h**2 * phi2 * sig2)
    return sp.simplify(rhs.coeff(D, 1)), sp.simplify(rhs.coeff(D, 2))


def tricritical_alpha_r(g_r: float, beta_r: float = 0.0) -> float:
    """alpha_r > 0 on the tricritical line b = 0 at the threshold g_h = 1 + e^{beta_r}."""
    a, b = coefficients()
    g_h, g_r_, alpha, beta = sp.symbols("g_h g_r alpha_r beta_r", real=True)
    expr = b.subs({g_h: 1 + sp.exp(beta), g_r_: g_r, beta: beta_r})
    sols = [s for s in sp.solve(sp.simplify(expr), alpha) if s.is_real and float(s) > 0]
    return float(min(sols))
