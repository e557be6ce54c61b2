"""Analytic Jacobians against forward-mode autodiff, for every model and option."""

import jax
import jax.numpy as jnp
import pytest

import dynagate as dg
from dynagate.models import ChronoInit, UniformGateInit

# Every model and option the analytic Jacobians distinguish. Biases are non-zero (std 0.5) so
# no term vanishes by symmetry; inputs are non-zero where the model takes them.
CASES = {
    "vanilla-flow": dg.VanillaRNN(g=2.0, mu_b=0.3, s_b=0.5),
    "vanilla-map": dg.VanillaRNN(g=2.0, s_b=0.5, delta=0.3),
    "gated": dg.GatedRNN(g_h=3.0, alpha_z=2.0, alpha_r=3.0, beta_z=0.5, beta_r=-0.5, s_b=0.5),
    "gated-tau": dg.GatedRNN(alpha_z=4.0, alpha_r=1.0, tau_z=3.0, tau_r=0.2),
    "gated-z-inst": dg.GatedRNN(alpha_z=2.0, alpha_r=3.0, tau_z=0.0, s_b=0.5),
    "gated-r-inst": dg.GatedRNN(alpha_z=2.0, alpha_r=3.0, tau_r=0.0, s_b=0.5),
    "gated-inst": dg.GatedRNN(alpha_z=2.0, alpha_r=3.0, tau_z=0.0, tau_r=0.0, s_b=0.5),
    "gru": dg.GRU(n_in=3, s_r=0.5, s_z=0.5, s_n=0.5),
    "gru-before": dg.GRU(n_in=3, reset="before", s_r=0.5, s_z=0.5, s_n=0.5, g_n=2.0),
    "gru-refine": dg.GRU(n_in=3, refine=True, s_rf=0.5, update_init=UniformGateInit()),
    "gru-before-refine-chrono": dg.GRU(reset="before", refine=True, update_init=ChronoInit(20.0)),
    "lstm": dg.LSTM(n_in=3, s_i=0.5, s_f=0.5, s_u=0.5, s_o=0.5),
    "lstm-ugi": dg.LSTM(n_in=3, forget_init=UniformGateInit()),
    "lstm-chrono": dg.LSTM(n_in=3, forget_init=ChronoInit(30.0), g_f=2.0),
    "lstm-refine": dg.LSTM(n_in=3, refine=True, s_rf=0.5),
    "ur-lstm": dg.LSTM(n_in=3, refine=True, tied_input=True, forget_init=UniformGateInit()),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_analytic_equals_autodiff(name, seed):
    k_net, k_s, k_x = jax.random.split(jax.random.PRNGKey(seed), 3)
    net = dg.sample(CASES[name], 24, key=k_net)
    state = 1.5 * jax.random.normal(k_s, (net.n_state,))
    x = jax.random.normal(k_x, (net.n_input,)) if net.n_input else None
    A, B = dg.jacobian(net, state, x), dg.jacobian_autodiff(net, state, x)
    assert A.shape == (net.n_state, net.n_state)
    # Same float64 arithmetic in a different order: entries are O(1), round-off is ~1e-15.
    assert float(jnp.max(jnp.abs(A - B))) < 1e-12


def test_jacobian_jits_and_vmaps_over_states_and_networks():
    ens = dg.GatedRNN(alpha_z=2.0, alpha_r=1.0)
    net = dg.sample(ens, 10, key=jax.random.PRNGKey(0))
    states = jax.random.normal(jax.random.PRNGKey(1), (5, net.n_state))
    batched = jax.jit(jax.vmap(dg.jacobian, in_axes=(None, 0)))(net, states)
    for s, Jb in zip(states, batched):
        assert jnp.allclose(Jb, dg.jacobian(net, s), atol=1e-14)
    nets = jax.vmap(lambda k: dg.sample(ens, 10, key=k))(jax.random.split(jax.random.PRNGKey(2), 3))
    Js = jax.vmap(dg.jacobian, in_axes=(0, None))(nets, states[0])
    one = jax.tree_util.tree_map(lambda a: a[1], nets)
    assert jnp.allclose(Js[1], dg.jacobian(one, states[0]), atol=1e-14)


def test_user_map_and_flow_closed_forms():
    # Henon map and Lorenz flow: Jacobians written out by hand.
    henon = dg.Map(lambda s: jnp.array([1.0 - 1.4 * s[0] ** 2 + s[1], 0.3 * s[0]]))
    s = jnp.array([0.3, -0.2])
    assert jnp.allclose(dg.jacobian(henon, s), jnp.array([[-2.8 * 0.3, 1.0], [0.3, 0.0]]), atol=1e-15)

    def lorenz(u):
        x, y, z = u
        return jnp.array([10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z])

    u = jnp.array([1.0, 2.0, 3.0])
    exact = jnp.array([[-10.0, 10.0, 0.0], [28.0 - 3.0, -1.0, -1.0], [2.0, 1.0, -8.0 / 3.0]])
    assert jnp.allclose(dg.jacobian(dg.Flow(lorenz), u), exact, atol=1e-14)
    # an explicit Jacobian function is used as given
    flow = dg.Flow(lorenz, jac_fn=lambda u: 2.0 * exact)
    assert jnp.allclose(dg.jacobian(flow, u), 2.0 * exact)
