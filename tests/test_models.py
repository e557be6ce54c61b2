"""Closed forms of the models (THEORY.md sections 2-4, 9) and their sampling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynagate as dg
from dynagate.models.gated import gate
from dynagate.models.gru import refine


def sigma0(beta):
    return 1.0 / (1.0 + np.exp(beta))


def test_gated_zero_state_h_block_is_the_predicted_disk():
    # THEORY.md 4: at h = z = r = 0 the h-block is sigma_z0 (-I + sigma_r0 J^h), a disk centred at
    # -sigma_z0 of radius g_h sigma_r0 sigma_z0 (circular law), at N = 1000.
    n, g_h, beta_z, beta_r = 1000, 3.0, 0.5, 1.0
    net = dg.sample(dg.GatedRNN(g_h=g_h, beta_z=beta_z, beta_r=beta_r), n, key=jax.random.PRNGKey(7))
    J = np.asarray(dg.jacobian(net, net.zero_state()))
    eig = np.linalg.eigvals(J[:n, :n])
    centre, radius = -sigma0(beta_z), g_h * sigma0(beta_r) * sigma0(beta_z)
    rho = np.abs(eig - centre) / radius
    # Edge: the largest Ginibre modulus exceeds 1 by ~sqrt(log(N / 2 pi) / 4N) ~ 0.036 at N = 1000, with
    # fluctuations of ~0.01; 0.08 is about twice that. Bulk: uniform density, so the fraction inside radius
    # 1/2 is 1/4; Ginibre eigenvalues are more rigid than iid points (binomial sd would be 0.014), so 0.03
    # is a safe bound.
    assert 0.95 < rho.max() < 1.08
    assert abs(np.mean(rho < 0.5) - 0.25) < 0.03
    assert abs(np.mean(eig.real) - centre) < 0.02 * radius
    # The whole Jacobian is block triangular at the zero state: the gate blocks add exactly
    # N eigenvalues at -1/tau_z and N at -1/tau_r.
    assert np.allclose(J[:n, n:], 0.0)


def test_gated_zero_state_gate_eigenvalues():
    net = dg.sample(
        dg.GatedRNN(tau_z=2.0, tau_r=0.5, alpha_z=1.0, alpha_r=1.0), 40, key=jax.random.PRNGKey(0)
    )
    eig = np.sort_complex(np.linalg.eigvals(np.asarray(dg.jacobian(net, net.zero_state()))))
    n_z = np.sum(np.abs(eig + 0.5) < 1e-9)
    n_r = np.sum(np.abs(eig + 2.0) < 1e-9)
    assert n_z == 40 and n_r == 40


def test_gru_zero_bias_jacobian_at_origin_is_half_identity_plus_quarter_wn():
    # PyTorch convention, zero biases, h = 0, x = 0: r = z = 1/2, n = 0, so J = I/2 + W_n/4 exactly.
    n = 50
    net = dg.sample(dg.GRU(g_n=2.5, n_in=3), n, key=jax.random.PRNGKey(3))
    W_n = net.W_hh[2 * n :]
    J = dg.jacobian(net, jnp.zeros(n), jnp.zeros(3))
    assert float(jnp.max(jnp.abs(J - (0.5 * jnp.eye(n) + 0.25 * W_n)))) < 1e-15


@pytest.mark.parametrize("inst", [False, True])
def test_gated_without_gating_is_rescaled_vanilla(inst):
    # alpha_z = alpha_r = 0: gates are the constants sigma_z0, sigma_r0 and the h-equation is sigma_z0
    # times the vanilla field with J = sigma_r0 J^h (gain g_h sigma_r0), on the same weights.
    taus = {"tau_z": 0.0, "tau_r": 0.0} if inst else {}
    ens = dg.GatedRNN(g_h=3.0, beta_z=0.7, beta_r=-0.4, s_b=0.3, **taus)
    net = dg.sample(ens, 60, key=jax.random.PRNGKey(1))
    sz0, sr0 = sigma0(0.7), sigma0(-0.4)
    van = dg.models.VanillaNet(ensemble=dg.VanillaRNN(g=3.0 * sr0), J=sr0 * net.Jh, b=net.b)
    state = jax.random.normal(jax.random.PRNGKey(2), (net.n_state,))
    h = state[:60]
    # Equal up to the order of one multiplication (sr0 * (J phi) vs (sr0 J) phi): a few ulps.
    assert jnp.allclose(net.rhs(state)[:60], sz0 * van.rhs(h), rtol=0, atol=1e-14)
    if inst:
        assert jnp.allclose(dg.jacobian(net, state), sz0 * dg.jacobian(van, h), rtol=0, atol=1e-14)


def test_gate_function_convention():
    # sigma(x) = 1 / (1 + exp(-alpha x + beta)); alpha = 0 gives the constant 1 / (1 + e^beta).
    x = jnp.linspace(-3, 3, 7)
    assert jnp.allclose(gate(x, 2.0, 0.5), 1.0 / (1.0 + jnp.exp(-2.0 * x + 0.5)), atol=1e-15)
    assert jnp.allclose(gate(x, 0.0, 1.3), sigma0(1.3), atol=1e-15)


def test_vanilla_euler_map_is_the_euler_step_of_the_flow():
    flow = dg.sample(dg.VanillaRNN(g=2.0, s_b=0.2), 30, key=jax.random.PRNGKey(0))
    euler = dg.models.VanillaNet(ensemble=dg.VanillaRNN(g=2.0, s_b=0.2, delta=0.25), J=flow.J, b=flow.b)
    h = jax.random.normal(jax.random.PRNGKey(1), (30,))
    assert not euler.is_flow and flow.is_flow
    assert jnp.allclose(euler.rhs(h), h + 0.25 * flow.rhs(h), atol=1e-14)


def test_weight_scales_and_bias_statistics():
    # Entries N(0, g^2/N): the sample variance times N estimates g^2 with relative sd sqrt(2/N^2).
    n = 400
    net = dg.sample(dg.GatedRNN(g_h=2.0, g_z=0.5, g_r=1.5, mu_b=0.3, s_b=0.7), n, key=jax.random.PRNGKey(0))
    for W, g in ((net.Jh, 2.0), (net.Jz, 0.5), (net.Jr, 1.5)):
        assert abs(float(jnp.var(W)) * n / g**2 - 1.0) < 0.02  # sd is 0.0035
    assert abs(float(jnp.mean(net.b)) - 0.3) < 4 * 0.7 / np.sqrt(n)
    assert abs(float(jnp.std(net.b)) - 0.7) < 4 * 0.7 / np.sqrt(2 * n)


def test_forget_bias_initialisers_timescales():
    # THEORY.md 9. UGI: u = sigma(b_f) ~ U[1/d, 1-1/d], so D = 1/(1-f) has density D^-2/(1-2/d) on
    # [d/(d-1), d]: median exactly 2 (P(D < m) = (1 - 1/m - 1/d)/(1 - 2/d)), mean ln(d-1)/(1-2/d).
    n, d = 20000, 100.0
    f = jax.nn.sigmoid(dg.UniformGateInit(d).sample(n, key=jax.random.PRNGKey(0)))
    assert float(f.min()) >= 1 / d and float(f.max()) <= 1 - 1 / d
    D = 1.0 / (1.0 - f)
    assert abs(float(jnp.median(D)) - 2.0) < 0.05  # sd of the median of 20000 draws ~ 0.02
    assert abs(float(jnp.mean(D)) - np.log(d - 1) / (1 - 2 / d)) < 0.3  # sd of the mean ~ 0.1
    # chrono: D = 1 + exp(b_f) uniform on [2, t_max]
    D = 1.0 + jnp.exp(dg.ChronoInit(50.0).sample(n, key=jax.random.PRNGKey(1)))
    assert float(D.min()) >= 2.0 - 1e-12 and float(D.max()) <= 50.0 + 1e-12
    assert abs(float(jnp.mean(D)) - 26.0) < 0.5  # uniform on [2, 50]: mean 26, sd of the mean 0.1
    # wiring: the LSTM's forget bias (block 2 of PyTorch's i, f, g, o) takes the initialiser, chrono
    # sets b_i = -b_f, and the GRU's update gate z (the "keep" gate, block 2 of r, z, n) takes it too.
    m = 50
    net = dg.sample(dg.LSTM(forget_init=dg.ChronoInit(50.0)), m, key=jax.random.PRNGKey(2))
    b_f = net.b_ih[m : 2 * m]
    assert jnp.allclose(
        b_f, dg.ChronoInit(50.0).sample(m, key=jax.random.split(jax.random.PRNGKey(2), 13)[6])
    )
    assert jnp.allclose(net.b_ih[:m], -b_f)
    net = dg.sample(dg.LSTM(forget_init=dg.UniformGateInit()), m, key=jax.random.PRNGKey(3))
    u = jax.nn.sigmoid(net.b_ih[m : 2 * m])
    assert float(u.min()) >= 1 / m and float(u.max()) <= 1 - 1 / m and float(jnp.std(net.b_ih[:m])) == 0.0
    gru = dg.sample(dg.GRU(update_init=dg.ChronoInit(10.0)), m, key=jax.random.PRNGKey(4))
    Dz = 1.0 + jnp.exp(gru.b_ih[m : 2 * m])
    assert float(Dz.min()) >= 2.0 - 1e-12 and float(Dz.max()) <= 10.0 + 1e-12


def test_refine_gate_squares_the_timescale():
    # THEORY.md 9: at rho = 1 the refined gate obeys 1 - g = (1 - f)^2.
    f = jnp.linspace(0.01, 0.99, 9)
    g, _, _ = refine(f, 1.0)
    assert jnp.allclose(1.0 - g, (1.0 - f) ** 2, atol=1e-15)
    g0, _, _ = refine(f, 0.0)
    assert jnp.allclose(g0, f**2, atol=1e-15)


def test_split_state_blocks():
    g = dg.sample(dg.GatedRNN(tau_r=0.0), 5, key=jax.random.PRNGKey(0))
    s = jnp.arange(10.0)
    parts = g.split_state(s)
    assert set(parts) == {"h", "z"} and jnp.all(parts["z"] == s[5:])
    lstm = dg.sample(dg.LSTM(), 4, key=jax.random.PRNGKey(0))
    assert jnp.all(lstm.split_state(jnp.arange(8.0))["c"] == jnp.arange(4.0, 8.0))


def test_sampling_is_deterministic_and_key_dependent():
    ens = dg.GRU(n_in=2)
    a, b = dg.sample(ens, 8, key=jax.random.PRNGKey(5)), dg.sample(ens, 8, key=jax.random.PRNGKey(5))
    c = dg.sample(ens, 8, key=jax.random.PRNGKey(6))
    assert jnp.array_equal(a.W_hh, b.W_hh) and not jnp.array_equal(a.W_hh, c.W_hh)


def test_site_values_rebuild_the_update():
    # the per-unit values the RMT reads are the model equation's quantities: the update rebuilt from them
    key, x = jax.random.PRNGKey(3), jnp.linspace(-0.5, 0.5, 6)
    g = dg.sample(dg.GatedRNN(alpha_z=2.0, alpha_r=1.0, tau_r=0.0), 6, key=key)
    s = jax.random.normal(jax.random.PRNGKey(4), (g.n_state,))
    v = g.site_values(s, x)
    e = g.ensemble
    assert jnp.allclose(gate(v["z"], e.alpha_z, e.beta_z) * v["a"], g.rhs(s, x)[:6], atol=1e-14)
    assert jnp.allclose(v["r"], g.Jr @ jnp.tanh(v["h"]), atol=1e-14)  # instantaneous reset gate
    gru = dg.sample(dg.GRU(n_in=2), 6, key=key)
    h, xi = jax.random.normal(jax.random.PRNGKey(5), (6,)), jnp.array([0.3, -0.2])
    v = gru.site_values(h, xi)
    assert set(v) == {"h", "r", "z", "m", "n"}
    assert jnp.allclose((1 - v["z"]) * v["n"] + v["z"] * h, gru.rhs(h, xi), atol=1e-14)
    lstm = dg.sample(dg.LSTM(refine=True), 6, key=key)
    s = jax.random.normal(jax.random.PRNGKey(6), (12,))
    v = lstm.site_values(s)
    assert set(v) == {"c", "i", "f", "u", "o", "rho"} and jnp.array_equal(v["c"], s[6:])
    c_new = refine(v["f"], v["rho"])[0] * v["c"] + v["i"] * v["u"]
    assert jnp.allclose(jnp.concatenate([v["o"] * jnp.tanh(c_new), c_new]), lstm.rhs(s), atol=1e-14)
    van = dg.sample(dg.VanillaRNN(), 6, key=key)
    assert van.site_values(h).keys() == {"h"}
    with pytest.raises(NotImplementedError, match="no single-site values for Map"):
        dg.Map(lambda s: s).site_values(jnp.zeros(2))
