"""Lyapunov spectra against published values, exact identities, model mappings and the direct method."""

import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynagate as dg
from dynagate.errors import InputError, NonFiniteError
from dynagate.lyapunov import kaplan_yorke, lyapunov_max, lyapunov_max_direct, lyapunov_spectrum


def lorenz(u):
    x, y, z = u
    return jnp.array([10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z])


def henon(s):
    return jnp.array([1.0 - 1.4 * s[0] ** 2 + s[1], 0.3 * s[0]])


def test_lorenz_published_exponents():
    # Published (THEORY.md 10): (0.9056, 0, -14.5723), D_KY = 2.062. T = 2000 gives stderr ~0.005;
    # the acceptance tolerances (0.02, 0.02, 0.05) are ~4 standard errors.
    r = lyapunov_spectrum(
        dg.Flow(lorenz), key=jax.random.PRNGKey(0), state0=jnp.ones(3), dt=0.01,
        t_burn=50, t_frame=50, t_obs=2000, t_ortho=0.1,
    )  # fmt: skip
    assert r.status == "converged" and r.units == "per unit time"
    assert abs(r.exponents[0] - 0.9056) < 0.02
    assert abs(r.exponents[1]) < 0.02
    assert abs(r.exponents[2] + 14.5723) < 0.05
    assert np.all(r.stderr < 0.01)
    assert abs(r.kaplan_yorke - 2.062) < 0.005
    assert r.ks_entropy == pytest.approx(r.exponents[0] + max(r.exponents[1], 0.0))
    # exact identity of the QR method: sum = mean log|det M| of the RK4 tangent, to round-off
    assert r.sum_rule_residual < 1e-10


def test_lorenz_sum_rule_against_the_trace():
    # tr J = -(10 + 1 + 8/3) everywhere. The RK4 tangent's log det per step differs from dt tr J by
    # ~ sum (dt mu)^5 / 120: at dt = 1e-3 a relative gap ~1e-9, inside the 1e-8 acceptance.
    r = lyapunov_spectrum(
        dg.Flow(lorenz), key=jax.random.PRNGKey(1), state0=jnp.ones(3), dt=1e-3,
        t_burn=5, t_frame=5, t_obs=50, t_ortho=0.1, n_blocks=5, accuracy=1.0,
    )  # fmt: skip
    assert r.trace_mean == pytest.approx(-(11.0 + 8.0 / 3.0), rel=1e-12)
    assert abs(np.sum(r.exponents) - r.trace_mean) / abs(r.trace_mean) < 1e-8


def test_henon_published_exponents_and_sum_rule():
    # Published: (0.41922, -1.62319); det M = -0.3 everywhere, so the sum is ln 0.3 exactly.
    # 2e5 steps give stderr ~1e-3; tolerance 0.005 is ~5 standard errors.
    r = lyapunov_spectrum(dg.Map(henon), key=jax.random.PRNGKey(0), state0=jnp.array([0.1, 0.1]),
                          t_obs=200_000, t_ortho=1)  # fmt: skip
    assert r.units == "per step"
    assert abs(r.exponents[0] - 0.41922) < 0.005
    assert abs(r.exponents[1] + 1.62319) < 0.005
    assert abs(np.sum(r.exponents) - math.log(0.3)) / math.log(1 / 0.3) < 1e-8
    assert r.sum_rule_residual < 1e-10


def test_linear_map_with_known_exponents():
    # A = O T O^T with T upper triangular: exponents are log|diag T| exactly (non-normal, rotated, one
    # negative entry). After the frame burn-in every block gives them to round-off.
    lam = np.array([0.7, 0.2, -0.1, -0.9, -2.3])
    T = np.diag(np.exp(lam) * np.array([1, -1, 1, 1, -1])) + np.triu(np.full((5, 5), 0.4), 1)
    O = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))[0]
    A = jnp.asarray(O @ T @ O.T)
    r = lyapunov_spectrum(dg.Map(lambda s: A @ s), key=jax.random.PRNGKey(3), state0=jnp.ones(5),
                          t_burn=0, t_frame=200, t_obs=400, t_ortho=2)  # fmt: skip
    assert np.max(np.abs(r.exponents - lam)) < 1e-10
    assert np.max(r.stderr) < 1e-10


def test_kernel_leading_exponent_of_a_linear_map():
    # lyapunov_max on the non-normal linear map above: lambda_1 = 0.7 exactly, in every block to round-off
    # after the alignment; batched by vmap over initial states and keys, the same numbers as one by one.
    lam = np.array([0.7, 0.2, -0.1, -0.9, -2.3])
    T = np.diag(np.exp(lam) * np.array([1, -1, 1, 1, -1])) + np.triu(np.full((5, 5), 0.4), 1)
    O = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))[0]
    A = jnp.asarray(O @ T @ O.T)
    system = dg.Map(lambda s: A @ s)
    times = {"t_burn": 0, "t_frame": 200, "t_obs": 400, "t_ortho": 2, "n_blocks": 4}
    run = lyapunov_max(system, jnp.ones(5), key=jax.random.PRNGKey(3), **times)
    np.testing.assert_allclose(run.blocks, 0.7, atol=1e-10)
    assert abs(float(run.exponent) - 0.7) < 1e-10 and float(run.stderr) < 1e-10
    assert int(run.first_bad) == -1
    states = jnp.stack([jnp.ones(5), -jnp.arange(5.0)])
    keys = jax.random.split(jax.random.PRNGKey(4))
    batched = jax.jit(jax.vmap(lambda s, k: lyapunov_max(system, s, key=k, **times)))(states, keys)
    one = lyapunov_max(system, states[1], key=keys[1], **times)
    np.testing.assert_allclose(batched.exponent[1], one.exponent, rtol=1e-12)
    np.testing.assert_allclose(batched.state[1], one.state, rtol=1e-12)


def test_kernel_is_the_qr_method_for_one_vector():
    # The same key and state give the frame and orbit of lyapunov_spectrum(k=1): the blocks agree to
    # round-off (the first frame is normalised, not QR-factorised). The observed average is the mean over
    # the observation steps of the simulated orbit (the same RK4 steps: agreement to round-off).
    net = dg.sample(dg.GatedRNN(g_h=3.0), 20, key=jax.random.PRNGKey(1))
    s0 = jax.random.normal(jax.random.PRNGKey(2), (net.n_state,))
    times = {"dt": 0.05, "t_burn": 5.0, "t_frame": 10.0, "t_obs": 20.0, "n_blocks": 4}
    ref = lyapunov_spectrum(net, key=jax.random.PRNGKey(3), k=1, state0=s0, **times)
    run = lyapunov_max(net, s0, key=jax.random.PRNGKey(3), observe=lambda s: jnp.mean(s**2), **times)
    np.testing.assert_allclose(run.blocks, ref.blocks[:, 0], rtol=1e-10)
    # burn-in 100 + alignment 200 + observation 400 steps; states[0] is s0
    orbit = dg.simulate(net, s0, steps=700, dt=0.05).states
    np.testing.assert_allclose(run.observed, jnp.mean(orbit[301:] ** 2), rtol=1e-10)
    np.testing.assert_allclose(run.state, orbit[-1], rtol=1e-10, atol=1e-12)


def test_kernel_reports_divergence_without_raising():
    # ds/dt = s^2 from s = 1 blows up at t = 1, as in test_bad_input; RK4 at dt = 0.01 overflows a few
    # steps later (step 103)
    run = lyapunov_max(dg.Flow(lambda s: s**2), jnp.ones(1), key=jax.random.PRNGKey(0), dt=0.01, t_burn=5)
    assert 100 <= int(run.first_bad) <= 105
    assert not np.isfinite(run.exponent)


def test_gated_without_gating_is_rescaled_vanilla():
    # alpha_z = alpha_r = 0, instantaneous gates: the gated flow is sigma_z0 F_vanilla(h) with
    # J = sigma_r0 J^h. Its RK4 step with dt equals the vanilla RK4 step with sigma_z0 dt, so with
    # matched steps every exponent is sigma_z0 times the vanilla one up to round-off (far below the
    # statistical error, ~1e-3).
    n, beta_z, beta_r = 60, 0.8, -0.5
    sz0, sr0 = 1 / (1 + math.exp(beta_z)), 1 / (1 + math.exp(beta_r))
    gated = dg.sample(dg.GatedRNN(g_h=2.5, beta_z=beta_z, beta_r=beta_r, tau_z=0.0, tau_r=0.0), n,
                      key=jax.random.PRNGKey(0))  # fmt: skip
    van = dg.models.VanillaNet(ensemble=dg.VanillaRNN(g=2.5 * sr0), J=sr0 * gated.Jh, b=gated.b)
    kw = {"key": jax.random.PRNGKey(1), "t_ortho": 1.0}
    rg = lyapunov_spectrum(gated, dt=0.1, t_burn=100, t_frame=100, t_obs=400, **kw)
    rv = lyapunov_spectrum(van, dt=0.1 * sz0, t_burn=100 * sz0, t_frame=100 * sz0, t_obs=400 * sz0,
                           t_ortho=sz0, key=kw["key"])  # fmt: skip
    assert rg.exponents[0] > 0  # chaotic: g_h sigma_r0 = 1.56 > 1
    assert np.max(np.abs(rg.exponents - sz0 * rv.exponents)) < 1e-8
    assert np.max(rg.stderr) > 1e-4  # the statistical error the agreement is far inside


def test_gated_dynamic_gates_add_only_the_gate_relaxation():
    # With tau_z, tau_r > 0 and alpha = 0 the (z, r) equations are driven by h but do not act back, so
    # the top exponents are still sigma_z0 times the vanilla ones: compared within 4 combined stderr.
    n, beta_z = 50, 0.5
    sz0 = 1 / (1 + math.exp(beta_z))
    gated = dg.sample(dg.GatedRNN(g_h=3.0, beta_z=beta_z), n, key=jax.random.PRNGKey(2))
    van = dg.models.VanillaNet(ensemble=dg.VanillaRNN(g=1.5), J=0.5 * gated.Jh, b=gated.b)
    rg = lyapunov_spectrum(gated, key=jax.random.PRNGKey(3), k=4, dt=0.1, t_obs=2000)
    rv = lyapunov_spectrum(van, key=jax.random.PRNGKey(4), k=4, dt=0.1 * sz0, t_obs=2000 * sz0,
                           t_burn=200 * sz0, t_frame=200 * sz0, t_ortho=sz0)  # fmt: skip
    err = np.sqrt(rg.stderr**2 + (sz0 * rv.stderr) ** 2)
    assert np.all(np.abs(rg.exponents - sz0 * rv.exponents) < 4 * err)


@pytest.mark.parametrize(
    "ens",
    [dg.GRU(g_n=6.0, g_r=2.0, mu_z=-2.0), dg.LSTM(g_u=8.0, g_o=6.0, mu_f=-1.0)],
    ids=["gru", "lstm"],
)
def test_qr_agrees_with_two_trajectory_estimate(ens):
    # Independent keys (initial state, frame, perturbation); chaotic nets with lambda_1 ~ 0.19 per step.
    net = dg.sample(ens, 100, key=jax.random.PRNGKey(0))
    qr = lyapunov_spectrum(net, key=jax.random.PRNGKey(1), k=2, t_obs=5000)
    direct = lyapunov_max_direct(net, key=jax.random.PRNGKey(2), t_obs=5000)
    assert qr.lambda_max > 0.1
    err = math.hypot(qr.stderr[0], direct.stderr[0])
    assert abs(qr.lambda_max - direct.lambda_max) < 3 * err


def test_ensemble_over_networks_by_vmap():
    # The core is a pure function of the network pytree: vmapping over sampled networks gives the same
    # numbers as separate runs.
    from dynagate.lyapunov import lyapunov_ensemble

    ens = dg.GRU(g_n=6.0, g_r=2.0, mu_z=-2.0)
    res = lyapunov_ensemble(ens, 30, key=jax.random.PRNGKey(0), n_networks=3, k=2, t_obs=500)
    assert res.exponents.shape == (3, 2)
    k_net, k_run = jax.random.split(jax.random.PRNGKey(0))
    net = dg.sample(ens, 30, key=jax.random.fold_in(k_net, 0))
    single = lyapunov_spectrum(net, key=jax.random.fold_in(k_run, 0), k=2, t_obs=500)
    assert np.allclose(res.exponents[0], single.exponents, atol=1e-10)
    assert np.allclose(res.mean, res.exponents.mean(0)) and res.spread.shape == (2,)


def test_kaplan_yorke_closed_forms():
    assert kaplan_yorke([0.9, 0.0, -14.5]) == pytest.approx(2 + 0.9 / 14.5)
    assert kaplan_yorke([-0.1, -1.0]) == 0.0
    assert kaplan_yorke([0.5, 0.2], n_state=10) is None  # partial sums still positive: undecidable
    assert kaplan_yorke([0.5, -0.2], n_state=2) == 2.0  # volume-expanding everywhere: the full dimension


def test_bad_input():
    key = jax.random.PRNGKey(0)
    net = dg.sample(dg.GRU(), 5, key=key)
    with pytest.raises(InputError, match=r"k must be an integer in \[1, 5\]"):
        lyapunov_spectrum(net, key=key, k=6)
    with pytest.raises(InputError, match=r"t_obs=-1\.0 must be > 0"):
        lyapunov_spectrum(net, key=key, t_obs=-1.0)
    with pytest.raises(InputError, match=r"t_ortho=0\.0 must be > 0"):
        lyapunov_spectrum(net, key=key, t_ortho=0.0)
    with pytest.raises(InputError, match="needs state0"):
        lyapunov_spectrum(dg.Map(henon), key=key)
    with pytest.raises(InputError, match="state0 has length 3, expected 5"):
        lyapunov_spectrum(net, key=key, state0=jnp.zeros(3))
    # ds/dt = s^2 from s = 1 blows up at t = 1: the error names the time
    with pytest.raises(NonFiniteError, match=r"non-finite at t = 1\.0"):
        lyapunov_spectrum(dg.Flow(lambda s: s**2), key=key, state0=jnp.ones(1), dt=0.01, t_burn=5)


def test_too_short_run_is_flagged():
    net = dg.sample(dg.GRU(g_n=6.0, g_r=2.0, mu_z=-2.0), 30, key=jax.random.PRNGKey(0))
    r = lyapunov_spectrum(net, key=jax.random.PRNGKey(1), k=2, t_burn=10, t_frame=10, t_obs=40)
    assert r.status == "too_short" and "increase t_obs" in r.message


def test_float32_frame_warns():
    code = (
        "import warnings, jax, jax.numpy as jnp, dynagate as dg\n"
        "warnings.simplefilter('error')\n"
        "m = dg.Map(lambda s: 0.5 * s)\n"
        "try:\n"
        "    dg.lyapunov_spectrum(m, key=jax.random.PRNGKey(0), state0=jnp.ones(2), t_obs=20)\n"
        "except UserWarning as w:\n"
        "    print('WARNED', w)\n"
    )
    env = {**os.environ, "JAX_ENABLE_X64": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "WARNED float32 tangent frame" in out.stdout, out.stderr


@pytest.mark.slow
def test_vanilla_lambda_max_against_dmft():
    # THEORY.md 10: DMFT lambda_max = 0.1125 at g = 2 (simulations at N = 4096: 0.110). N = 1000 with
    # separate burn-ins of several hundred time units (a random frame needs them to align).
    net = dg.sample(dg.VanillaRNN(g=2.0), 1000, key=jax.random.PRNGKey(0))
    r = lyapunov_spectrum(net, key=jax.random.PRNGKey(1), k=1, dt=0.1, t_burn=200, t_frame=400, t_obs=1000)
    assert abs(r.lambda_max - 0.1125) < 0.1 * 0.1125, (r.lambda_max, r.stderr)


def test_inputs_constant_and_sequence():
    # A GRU under a constant input x is the autonomous map h -> rhs(h, x): the same run through a
    # user Map (autodiff Jacobian) gives the same numbers; a sequence of repeats of x gives them too.
    # The map is chaotic (lambda_1 ~ 0.09), so round-off differences between two compiled paths grow
    # like e^(0.09 t): a short run (140 steps, growth ~3e5) keeps them near 1e-11.
    net = dg.sample(dg.GRU(g_n=6.0, g_r=2.0, mu_z=-2.0, n_in=3), 20, key=jax.random.PRNGKey(0))
    x = jnp.array([0.5, -1.0, 0.3])
    kw = {"key": jax.random.PRNGKey(1), "state0": jnp.full(20, 0.1), "k": 3, "t_burn": 20, "t_frame": 20,
          "t_obs": 100, "accuracy": 1.0}  # fmt: skip
    r = lyapunov_spectrum(net, x=x, **kw)
    ref = lyapunov_spectrum(dg.Map(lambda h: net.rhs(h, x)), **kw)
    seq = lyapunov_spectrum(net, xs=jnp.tile(x, (140, 1)), **kw)
    assert np.allclose(r.exponents, ref.exponents, atol=1e-8)
    assert np.allclose(r.exponents, seq.exponents, atol=1e-8)
    assert not np.allclose(r.exponents, lyapunov_spectrum(net, **kw).exponents, atol=1e-3)
    with pytest.raises(InputError, match="xs must have shape"):
        lyapunov_spectrum(net, xs=jnp.tile(x, (10, 1)), **kw)
