"""Bad input gets one clear InputError, never a NaN or a deep traceback."""

import jax
import jax.numpy as jnp
import pytest

import dynagate as dg
from dynagate.errors import InputError
from dynagate.simulate import simulate

KEY = jax.random.PRNGKey(0)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: dg.GatedRNN().replace(g_x=1.0), "unknown parameter 'g_x'"),
        (lambda: dg.GatedRNN(g_h=-1.0), "g_h=-1.0 must be >= 0"),
        (lambda: dg.GatedRNN(tau_r=-0.5), "tau_r=-0.5 must be >= 0"),
        (lambda: dg.GatedRNN(alpha_z=float("nan")), "alpha_z=nan is not finite"),
        (lambda: dg.VanillaRNN(g=float("inf")), "g=inf is not finite"),
        (lambda: dg.VanillaRNN(delta=0.0), "delta=0.0 must be > 0"),
        (lambda: dg.GRU(reset="middle"), "reset must be"),
        (lambda: dg.LSTM(n_in=-1), "n_in must be"),
        (lambda: dg.ChronoInit(1.5), "t_max"),
        (lambda: dg.sample(dg.GRU(), 0, key=KEY), "n must be >= 1"),
        (lambda: dg.sample(dg.GRU(), 2.5, key=KEY), "n must be an integer"),
        (lambda: dg.sample("gru", 3, key=KEY), "needs an ensemble"),
    ],
)
def test_bad_parameters(make, match):
    with pytest.raises(InputError, match=match):
        make()


def test_bad_states():
    net = dg.sample(dg.GatedRNN(), 5, key=KEY)  # state [h, z, r]: length 15
    with pytest.raises(InputError, match="length 5, expected 15"):
        dg.jacobian(net, jnp.zeros(5))
    with pytest.raises(InputError, match=r"not finite .* index 3"):
        dg.jacobian(net, jnp.zeros(15).at[3].set(jnp.nan))
    with pytest.raises(InputError, match="1-D"):
        dg.jacobian(net, jnp.zeros((3, 15)))
    with pytest.raises(InputError, match="input x has length 2"):
        dg.jacobian(net, jnp.zeros(15), jnp.zeros(2))
    with pytest.raises(InputError, match="length 4, expected 15"):
        simulate(net, jnp.zeros(4), steps=3, dt=0.1)
    with pytest.raises(InputError, match="needs a time step"):
        simulate(net, jnp.zeros(15), steps=3)
    with pytest.raises(InputError, match=r"dt=-0\.1 must be > 0"):
        simulate(net, jnp.zeros(15), steps=3, dt=-0.1)
    with pytest.raises(InputError, match="dt is only for flows"):
        simulate(dg.sample(dg.GRU(), 3, key=KEY), jnp.zeros(3), steps=3, dt=0.1)


def test_divergence_is_reported_with_its_step():
    flow = dg.Flow(lambda s: s**2)  # blows up at t = 1 from s = 1
    with pytest.raises(dg.errors.NonFiniteError, match="saved step"):
        simulate(flow, jnp.ones(1), steps=400, dt=0.01)


def test_input_of_wrong_length_for_a_network_without_inputs():
    net = dg.sample(dg.GRU(), 4, key=KEY)  # n_in = 0
    with pytest.raises(InputError, match="input x has length 3, expected 0"):
        dg.jacobian(net, jnp.zeros(4), jnp.zeros(3))
    with pytest.raises(InputError, match="reset must be"):
        dg.models.GRUNet(W_ih=net.W_ih, W_hh=net.W_hh, b_ih=net.b_ih, b_hh=net.b_hh, reset="typo")


def test_integer_keys_are_refused_by_name():
    # An integer where a PRNG key belongs is an InputError naming the spelling to use, not JAX's TypeError
    # from inside; keys traced under vmap and typed keys (jax.random.key) pass the same check.
    from dynagate.fixedpoints import find_fixed_points
    from dynagate.lyapunov import lyapunov_spectrum
    from dynagate.meanfield import dmft
    from dynagate.spectra import relaxed_state

    net = dg.sample(dg.GRU(), 4, key=jax.random.PRNGKey(0))
    calls = {
        "sample": lambda: dg.sample(dg.GRU(), 4, key=0),
        "relaxed_state": lambda: relaxed_state(net, key=1),
        "lyapunov_spectrum": lambda: lyapunov_spectrum(net, key=2),
        "find_fixed_points": lambda: find_fixed_points(net, key=3),
        "dmft": lambda: dmft(dg.GRU(g_n=3.0), key=4),
    }
    for name, call in calls.items():
        with pytest.raises(InputError, match=rf"^{name}: key must be a PRNG key such as jax\.random"):
            call()
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    assert jax.vmap(lambda k: dg.sample(dg.GRU(), 4, key=k).n_state)(keys).tolist() == [4, 4, 4]
    assert dg.sample(dg.GRU(), 4, key=jax.random.key(0)).n_state == 4
