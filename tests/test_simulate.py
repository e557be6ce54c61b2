"""Trajectories: integrator convergence orders, inputs, saving, batching."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import dynagate as dg
from dynagate.simulate import RK4, Adaptive, Euler, simulate


def _linear_flow():
    A = jnp.array([[-0.5, 2.0, 0.0], [-2.0, -0.3, 0.4], [0.1, 0.0, -1.0]])
    return dg.Flow(lambda s: A @ s), np.asarray(A)


@pytest.mark.parametrize("solver, order", [(RK4(), 4), (Euler(), 1)])
def test_convergence_order(solver, order):
    # Global error at T = 2 against the exact expm solution; the fitted slope of log error vs
    # log dt is the order (STYLE.md: test orders, not one value at one step size).
    flow, A = _linear_flow()
    s0 = jnp.array([1.0, 0.5, -0.2])
    exact = scipy.linalg.expm(2.0 * A) @ np.asarray(s0)
    dts = np.array([0.1, 0.05, 0.025, 0.0125])
    errs = []
    for dt in dts:
        traj = simulate(flow, s0, steps=round(2.0 / dt), dt=float(dt), solver=solver)
        errs.append(np.linalg.norm(np.asarray(traj.states[-1]) - exact))
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.15, (slope, errs)


def test_adaptive_matches_exact_solution():
    flow, A = _linear_flow()
    s0 = jnp.array([1.0, 0.5, -0.2])
    traj = simulate(flow, s0, steps=20, dt=0.1, save_every=5, solver=Adaptive(rtol=1e-10, atol=1e-12))
    for t, s in zip(traj.t, traj.states):
        assert np.allclose(s, scipy.linalg.expm(float(t) * A) @ np.asarray(s0), atol=1e-8)


def test_map_iteration_inputs_and_saving():
    net = dg.sample(dg.GRU(n_in=2, g_n=2.0), 20, key=jax.random.PRNGKey(0))
    h0 = jax.random.normal(jax.random.PRNGKey(1), (20,))
    xs = jax.random.normal(jax.random.PRNGKey(2), (12, 2))
    traj = simulate(net, h0, xs=xs)
    # reference: the plain Python loop of the same map
    h, ref = h0, [h0]
    for x in xs:
        h = net.rhs(h, x)
        ref.append(h)
    assert traj.states.shape == (13, 20) and not traj.is_flow
    assert jnp.allclose(traj.states, jnp.stack(ref), atol=1e-14)
    every3 = simulate(net, h0, xs=xs, save_every=3)
    assert jnp.allclose(every3.states, traj.states[::3], atol=1e-14)
    assert jnp.array_equal(every3.t, jnp.array([0.0, 3.0, 6.0, 9.0, 12.0]))
    # a constant input is the sequence of repeats
    x = xs[0]
    assert jnp.allclose(
        simulate(net, h0, steps=12, x=x).states, simulate(net, h0, xs=jnp.tile(x, (12, 1))).states, atol=1e-14
    )


def test_flow_time_axis_and_inputs():
    net = dg.sample(dg.GatedRNN(g_h=3.0, alpha_z=2.0), 15, key=jax.random.PRNGKey(0))
    s0 = jax.random.normal(jax.random.PRNGKey(1), (net.n_state,))
    traj = simulate(net, s0, steps=40, dt=0.05, save_every=10)
    assert jnp.allclose(traj.t, jnp.array([0.0, 0.5, 1.0, 1.5, 2.0]))
    assert traj.units.startswith("time")
    x = jnp.ones(15)
    a = simulate(net, s0, steps=40, dt=0.05, x=x)
    b = simulate(net, s0, steps=40, dt=0.05, xs=jnp.tile(x, (40, 1)))
    assert jnp.allclose(a.states, b.states, atol=1e-14)
    assert not jnp.allclose(a.states, simulate(net, s0, steps=40, dt=0.05).states)


def test_vmap_over_states_and_networks():
    ens = dg.GatedRNN(g_h=2.5, alpha_r=1.0)
    net = dg.sample(ens, 12, key=jax.random.PRNGKey(0))
    s0s = jax.random.normal(jax.random.PRNGKey(1), (4, net.n_state))
    batched = jax.vmap(lambda s: simulate(net, s, steps=30, dt=0.05, save_every=30).states)(s0s)
    for s, b in zip(s0s, batched):
        assert jnp.allclose(b, simulate(net, s, steps=30, dt=0.05, save_every=30).states, atol=1e-13)
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    nets = jax.vmap(lambda k: dg.sample(ens, 12, key=k))(keys)
    out = jax.vmap(lambda n: simulate(n, s0s[0], steps=30, dt=0.05, save_every=30).states)(nets)
    single = simulate(dg.sample(ens, 12, key=keys[2]), s0s[0], steps=30, dt=0.05, save_every=30).states
    assert jnp.allclose(out[2], single, atol=1e-13)
