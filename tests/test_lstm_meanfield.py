"""Static mean field of the LSTM (dynagate.meanfield.lstm) against closed forms, quadrature and fixed points
of sampled networks."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import dynagate as dg
from dynagate import phase
from dynagate.meanfield.lstm import branch_law, branch_radius, static_lstm


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("mu_f", [0.0, 1.0])
def test_zero_branch_onset_in_closed_form(mu_f):
    # Q = 0 is a root without candidate bias; at small Q, tanh^2(i u / (1 - f)) ~ i^2 u^2 / (1 - f)^2 with
    # u ~ g_u sqrt(Q) x, so dRHS/dQ(0) = g_u^2 sigma(mu_o)^2 sigma(mu_i)^2 / sigma(-mu_f)^2 (no bias
    # spread): non-zero branches exist iff this exceeds 1
    crit = _sig(-mu_f) / (_sig(0.0) * _sig(0.0))
    below, above = (
        static_lstm(dg.LSTM(g_u=0.9 * crit, mu_f=mu_f)),
        static_lstm(dg.LSTM(g_u=1.1 * crit, mu_f=mu_f)),
    )
    assert below.q.tolist() == [0.0] and below.slope[0] == pytest.approx(0.81, rel=1e-3)
    assert above.q.size == 2 and above.q[0] == 0.0 and above.slope[0] == pytest.approx(1.21, rel=1e-3)
    assert above.slope[1] < 1 and above.residual[1] < 1e-6


def test_tied_input_gate_fixed_point_is_the_candidate():
    # UR-LSTM form (tied input gate, refine gate, uniform forget initialisation): c* = i u / (1 - g) = u, so
    # Q = <sigma(a_o)^2> <tanh(u)^2> does not depend on the forget or refine gates; both one-dimensional
    # Gaussian averages by an independent Gauss-Hermite rule (120 nodes). Sobol integration: ~1e-3.
    e = dg.LSTM(g_u=1.5, mu_u=0.4, mu_o=0.5, refine=True, tied_input=True, forget_init=dg.UniformGateInit())
    x, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()

    def rhs(q):
        o2 = w @ _sig(0.5 + math.sqrt(q) * x) ** 2
        return o2 * (w @ np.tanh(np.tanh(0.4 + 1.5 * math.sqrt(q) * x)) ** 2)

    q = float(static_lstm(e).q[-1])
    assert q == pytest.approx(rhs(q), rel=3e-3)
    law = branch_law(e, q)
    np.testing.assert_allclose(law.values["c"], law.values["u"], rtol=1e-12)


def test_heavy_tail_of_the_cell_is_kept_finite():
    # uniform forget-gate initialisation: sigma(b_f) is uniform, 1 - f ~ U near 0 and c* = i u / (1 - f) has
    # an infinite mean; the law keeps the large cells (no truncation) and every value stays finite, as do
    # the Jacobian's entries (c* f (1 - f) = i u f is bounded) and the support's radius
    e = dg.LSTM(g_u=1.2, mu_u=0.3, forget_init=dg.UniformGateInit())
    q = float(static_lstm(e).q[-1])
    c = np.asarray(branch_law(e, q).values["c"])
    assert np.all(np.isfinite(c)) and np.abs(c).max() > 50
    radius, slow = branch_radius(e, q)
    assert math.isfinite(radius) and 0.0 <= slow <= 1.0


CASES = {
    "gaussian": dg.LSTM(mu_u=0.5),
    "refine-forget-bias-spread": dg.LSTM(mu_u=0.3, s_u=0.5, mu_f=1.0, refine=True, g_u=1.2),
    "chrono": dg.LSTM(mu_u=0.4, forget_init=dg.ChronoInit(10.0)),
}
_SLOW = {"gaussian", "chrono"}  # the default suite keeps one case (python -m pytest -m slow runs all)


@pytest.mark.parametrize(
    "name", [pytest.param(k, marks=pytest.mark.slow) if k in _SLOW else k for k in CASES]
)
def test_stable_branch_against_fixed_points_of_networks(name, map_fixed_point):
    # One stable branch: iterating the map from a random state reaches a fixed point (residual ~1e-16).
    # Its mean square of h against q within 5% (N = 500; observed 0.3-3%), the largest |eigenvalue| of the
    # full (h, c) Jacobian against the support's radius within 5% (observed 0.0-1%).
    e = CASES[name]
    sol = static_lstm(e)
    assert sol.q.size == 1 and sol.slope[0] < 1
    radius, _ = branch_radius(e, float(sol.q[0]))
    assert radius < 1
    n = 500
    _, s, r_sim = map_fixed_point(e, n, radius)
    q_sim = float(jnp.mean(s[:n] ** 2))
    print(f"\n{name}: q {sol.q[0]:.4f} vs {q_sim:.4f}; radius {radius:.4f} vs {r_sim:.4f}")
    assert q_sim == pytest.approx(float(sol.q[0]), rel=0.05)
    assert r_sim == pytest.approx(radius, rel=0.05)


def test_lstm_phase_theory_has_branches_and_lines():
    # the LSTM's theory layers come from its static mean field: below the onset g_u = 2 (mu = 0) only the
    # zero state, stable; above, a second branch; the stability line where the zero state's radius
    # 1/2 + g_u / 4 (Girko: c-block 1/2, h-block o (i W_u) with i = o = 1/2) crosses 1, at g_u = 2
    from dynagate.phase.theory import theory_lines

    pts = [phase.theory_point(dg.LSTM(g_u=g)) for g in (1.0, 3.0)]
    assert [p["branches"] for p in pts] == [1, 2]
    # without an LSTM DMFT, unstable fixed points alone are not called chaotic
    assert pts[0]["region_theory"] == phase.STABLE and pts[1]["region_theory"] == phase.UNSTABLE_FPS
    assert pts[0]["f0_low"] == pytest.approx(0.5 + 0.25, rel=1e-6)
    assert pts[1]["f0_low"] == pytest.approx(0.5 + 0.75, rel=1e-6)
    grid = {k: np.array([[p[k]] for p in pts]) for k in ("f0_low", "branches")}
    lines = theory_lines(dg.LSTM(), ("mu_o", [0.0]), ("g_u", [1.0, 3.0]), grid, iters=4)
    assert float(lines["line_stability"][0]) == pytest.approx(2.0, abs=2.0 / 2**4)
    assert float(lines["line_static_onset"][0]) == pytest.approx(2.0, abs=2.0 / 2**4)
