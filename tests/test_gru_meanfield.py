"""Static mean field of the GRU (dynagate.meanfield.gru): the onset in closed form, the site law's
self-consistency, and the branches and their spectral radius against fixed points of sampled networks."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import dynagate as dg
from dynagate import phase
from dynagate.meanfield.gru import branch_law, branch_radius, static_gru


@pytest.mark.parametrize("reset", ["after", "before"])
def test_zero_branch_onset_in_closed_form(reset):
    # Q = 0 is a root without candidate bias; dRHS/dQ there is g_n^2 <sigma(u_r)^2> = g_n^2 sigma(mu_r)^2
    # (s_r = 0): non-zero branches exist iff g_n sigma(mu_r) > 1, in both reset conventions
    mu_r = 0.7
    s = 1 / (1 + math.exp(-mu_r))
    sol = static_gru(dg.GRU(g_n=3.0, mu_r=mu_r, reset=reset))
    assert sol.q[0] == 0.0 and sol.slope[0] == pytest.approx((3.0 * s) ** 2, rel=1e-5)
    assert static_gru(dg.GRU(g_n=0.98 / s, mu_r=mu_r, reset=reset)).q.size == 1
    above = static_gru(dg.GRU(g_n=1.02 / s, mu_r=mu_r, reset=reset))
    assert above.q.size == 2 and 0 < above.q[1] < 0.1 and above.slope[1] < 1
    assert np.all(above.residual < 1e-12)


def test_branch_law_reproduces_its_second_moment():
    # the quasi-random site law of a branch has E h^2 = q to the QMC error (1024 points: ~1e-3)
    for e in (dg.GRU(g_n=2.5, s_n=0.5), dg.GRU(g_n=2.5, reset="before", refine=True, mu_z=1.0)):
        q = float(static_gru(e).q[-1])
        law = branch_law(e, q)
        assert float(jnp.sum(law.weights * law.values["h"] ** 2)) == pytest.approx(q, rel=5e-3)
        assert set(law.values) >= {"h", "r", "z", "m", "n"}


CASES = {
    "after": dg.GRU(g_n=1.5, s_n=1.0),
    "before": dg.GRU(g_n=2.0, s_n=1.0, reset="before"),
    "input-bias-reset-spread": dg.GRU(g_n=1.8, mu_n=0.5, s_r=1.0, mu_z=1.0),
    "chrono-refine": dg.GRU(g_n=2.5, s_n=0.5, update_init=dg.ChronoInit(20.0), refine=True),
}


_SLOW = {"chrono-refine", "input-bias-reset-spread"}  # the default suite keeps two (-m slow runs all)


@pytest.mark.parametrize(
    "name", [pytest.param(k, marks=pytest.mark.slow) if k in _SLOW else k for k in CASES]
)
def test_stable_branch_against_fixed_points_of_networks(name, map_fixed_point):
    # One stable branch (slope < 1, spectral radius < 1): iterating the map from a random state reaches a
    # fixed point (residual ~1e-15). Its mean square against q within 5% (N = 800: the spread across
    # networks is ~2%), and the largest |eigenvalue| of its Jacobian against the support's radius within 5%
    # (finite-N eigenvalues sit inside the edge; observed 1-3% at N = 1000).
    e = CASES[name]
    sol = static_gru(e)
    assert sol.q.size == 1 and sol.slope[0] < 1
    radius, _ = branch_radius(e, float(sol.q[0]))
    assert radius < 1
    _, h, r_sim = map_fixed_point(e, 800, radius)
    q_sim = float(jnp.mean(h**2))
    print(f"\n{name}: q {sol.q[0]:.4f} vs {q_sim:.4f}; radius {radius:.4f} vs {r_sim:.4f}")
    assert q_sim == pytest.approx(float(sol.q[0]), rel=0.05)
    assert r_sim == pytest.approx(radius, rel=0.05)


def test_gru_phase_theory_claims_chaos_only_from_its_dmft():
    # the GRU's theory layers: below g_n sigma(mu_r) = 1 the zero state is stable (radius from the zero
    # state's law); above, the non-zero branch's fixed points are (weakly) unstable at mu_r = 0, and the
    # static theory alone says unstable_fixed_points, never chaotic; the stability line at g_n = 2
    ds = phase.phase_diagram(dg.GRU(), x=("mu_z", [-2.0, 2.0]), y=("g_n", [1.0, 3.0]))
    region = np.asarray(ds.region_theory)
    assert np.all(region[0] == phase.STABLE) and np.all(region[1] == phase.UNSTABLE_FPS)
    assert not np.any(region == phase.CHAOTIC)
    np.testing.assert_array_equal(ds.branches, [[1, 1], [2, 2]])
    np.testing.assert_allclose(ds.line_stability, 2.0, atol=2.0 / 2**8)
    # with the DMFT layer (tests/test_gru_dmft.py) the chaotic solution at g_n = 3 decides: chaotic, with
    # lambda_max per step > 0; its onset (one bisection step of the 2-unit interval) above the zero
    # state's instability at g_n = 2
    from dynagate.phase.regions import dmft_region
    from dynagate.phase.theory import dmft_column

    col = dmft_column(dg.GRU(mu_z=-2.0), ("g_n", [1.0, 3.0]), iters=1)
    assert np.isnan(col["lambda_dmft"][0]) and col["lambda_dmft"][1] > 0.02
    assert col["line_dmft"] == 2.5  # one bisection step: no chaos at g_n = 2, so the onset is in (2, 3)
    lam = np.stack([col["lambda_dmft"], [np.nan, np.nan]], axis=1)  # a second column without chaos
    f0 = np.asarray(ds.f0_low)
    region = dmft_region(
        lam, f0, np.asarray(ds.f0_high), np.asarray(ds.slow_theory), 0.1, unstable_is_chaos=False
    )
    assert region.tolist() == [[phase.STABLE, phase.STABLE], [phase.CHAOTIC, phase.UNSTABLE_FPS]]
    # (the LSTM's DMFT column: tests/test_lstm_dmft.py)
