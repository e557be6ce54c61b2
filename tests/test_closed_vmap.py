"""The closed DMFT's self-consistency map as a JAX function of traced hyperparameters: vmap equals a loop,
grad equals finite differences, and the converged solution of the scipy-driven solver is its fixed point."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynagate as dg
from dynagate.meanfield import closed
from dynagate.meanfield.dmft import Closed, dmft

# a gated ensemble with every part of the map switched on (reset gate, its time constant, update-gate
# bias, static input); one lag grid for all the tests below (period 120, step 0.1: 1200 points; the
# solution's C_h has decayed by t_max = 60, not yet by 30)
ENS = dg.GatedRNN(g_h=3.0, alpha_r=2.0, beta_z=0.7, tau_r=0.5, s_b=0.3, mu_b=0.2)
T_MAX, DT = 60.0, 0.1


def _grid():
    lags, omega = closed.lag_grid(T_MAX, DT)
    return jnp.asarray(2.0 * np.exp(-0.5 * lags) + 0.1), jnp.asarray(omega)


def test_map_and_kernels_vmap_over_g_h_equal_a_loop():
    c, w = _grid()

    def f(g_h):
        p = closed.params(ENS.replace(g_h=g_h))
        return closed.update(p, c, w), closed.kernels(p, c, w)

    ghs = np.array([2.5, 3.0, 3.5])
    batched = jax.vmap(f)(jnp.asarray(ghs))
    for i, g_h in enumerate(ghs):
        for got, ref in zip(jax.tree.leaves(batched), jax.tree.leaves(f(float(g_h))), strict=True):
            np.testing.assert_allclose(got[i], ref, rtol=1e-12, atol=1e-15 * float(jnp.max(jnp.abs(ref))))
    assert not np.allclose(batched[0][0], batched[0][1])  # g_h reaches the map


def test_grad_of_the_map_equals_finite_differences():
    # d C_h'(0) / d g_h and / d alpha_r (through the reset gate's Gaussian correlation) against central
    # differences with step 1e-4: C_h' is quadratic in g_h (so only rounding, ~1e-16 / 1e-4, remains), and
    # smooth in alpha_r (truncation ~1e-8 x the third derivative; observed 3e-10 relative), so 1e-7.
    c, w = _grid()

    def new_c0(g_h, alpha_r):
        return closed.update(closed.params(ENS.replace(g_h=g_h, alpha_r=alpha_r)), c, w)[0]

    d_g, d_a = jax.grad(new_c0, argnums=(0, 1))(3.0, 2.0)
    step = 1e-4
    fd_g = (float(new_c0(3.0 + step, 2.0)) - float(new_c0(3.0 - step, 2.0))) / (2 * step)
    fd_a = (float(new_c0(3.0, 2.0 + step)) - float(new_c0(3.0, 2.0 - step))) / (2 * step)
    assert float(d_g) == pytest.approx(fd_g, rel=1e-7) and float(d_g) > 0
    assert float(d_a) == pytest.approx(fd_a, rel=1e-7) and float(d_a) != 0


def test_the_closed_solution_is_a_fixed_point_of_the_map():
    # dmft(..., Closed()) returns C_h on lags 0..t_max; unfolded onto the periodic grid, one application of
    # the map moves it by the solver's residual (the same map, evaluated with traced-type parameters)
    solver = Closed(t_max=T_MAX, dt=DT)
    res = dmft(ENS, solver=solver)
    assert res.status == "converged" and res.residual < solver.tol
    lags, omega = closed.lag_grid(res.tau[-1], solver.dt)
    k = np.arange(lags.size)
    c = jnp.asarray(res.c_h[np.minimum(k, lags.size - k)])
    np.testing.assert_allclose(lags, res.tau[np.minimum(k, lags.size - k)], atol=1e-9)
    moved = float(jnp.max(jnp.abs(closed.update(closed.params(ENS), c, jnp.asarray(omega)) - c)) / jnp.max(c))
    assert moved < solver.tol
    assert moved == pytest.approx(res.residual, rel=1e-3, abs=1e-14)
