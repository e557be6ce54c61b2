"""The sympy Landau expansion of the static mean field against closed forms and the numerical solver."""

import math

import numpy as np
import pytest
import sympy as sp

import dynagate as dg
from dynagate.meanfield import static, static_map
from dynagate.meanfield.landau import coefficients, tricritical_alpha_r


def test_tricritical_line_at_beta_zero_is_two_sqrt_two():
    # THEORY.md 5: alpha_r g_r = 2 sqrt 2 at beta_r = 0, exactly
    a, b = coefficients()
    alpha, g_r, beta = sp.symbols("alpha_r g_r beta_r", real=True)
    assert sp.simplify(b.subs(beta, 0) - sp.Symbol("g_h", real=True) ** 2 * (alpha**2 * g_r**2 - 8) / 16) == 0
    for gr in (0.5, 1.0, 2.0):
        assert tricritical_alpha_r(gr) * gr == pytest.approx(2 * math.sqrt(2), rel=1e-12)


@pytest.mark.parametrize(("g_r", "beta_r"), [(1.0, 0.0), (1.0, 0.5), (2.0, -0.5)])
def test_coefficients_match_the_numerical_map(g_r, beta_r):
    # RHS(D) = a D + b D^2 + O(D^3): the numerical map (quadrature, meanfield.static) at small D
    alpha_r = 3.0
    a, b = coefficients()
    sym = dict(zip(sp.symbols("g_h g_r alpha_r beta_r", real=True), (1.7, g_r, alpha_r, beta_r)))
    a_num, b_num = float(a.subs(sym)), float(b.subs(sym))
    ens = dg.GatedRNN(g_h=1.7, g_r=g_r, alpha_r=alpha_r, beta_r=beta_r)
    d = np.array([1e-6, 2e-6])
    rhs = np.array([float(static_map(ens, x)[0]) for x in d])
    # two-point fit of a + b D to RHS / D: the O(D^3) remainder (|c| ~ 10) leaves ~ 3e-5 in b, 1e-11 in a;
    # the quadrature (relative 1e-13) adds ~ 1e-7 to b
    b_fit = (rhs[1] / d[1] - rhs[0] / d[0]) / (d[1] - d[0])
    assert rhs[0] / d[0] - b_fit * d[0] == pytest.approx(a_num, rel=1e-9)
    assert b_fit == pytest.approx(b_num, abs=3e-4)


@pytest.mark.parametrize(("g_r", "beta_r"), [(1.0, 0.0), (1.0, 0.5), (2.0, -0.5)])
def test_numerical_onset_follows_the_tricritical_line(g_r, beta_r):
    # Just below the threshold g_c = 1 + e^{beta_r}, non-zero static solutions exist iff the transition is
    # subcritical: alpha_r above the sympy line (30% margin: near the line the subcritical window shrinks
    # like b^2, below the solver's resolution)
    a_tc = tricritical_alpha_r(g_r, beta_r)
    g_h = (1 + math.exp(beta_r)) * (1 - 1e-4)
    for factor, nonzero in ((0.7, False), (1.3, True)):
        sol = static(dg.GatedRNN(g_h=g_h, g_r=g_r, alpha_r=factor * a_tc, beta_r=beta_r))
        found = bool(np.any(np.asarray(sol.valid) & (np.asarray(sol.delta_h) > 0)))
        assert found == nonzero, (factor, np.asarray(sol.delta_h))
