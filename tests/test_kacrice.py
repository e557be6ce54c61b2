"""Kac-Rice complexity: the determinant term against sampled matrices, Sigma against closed forms and
exhaustive fixed-point counts, and the gated onset against the static mean field."""

import math
import operator

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynagate as dg
from dynagate.errors import InputError
from dynagate.kacrice import _resolvent, complexity, functional, grid, log_det, onset, onset_line
from dynagate.meanfield import static
from dynagate.models.gated import dgate, gate


def _sites(rng, n, d_h, d_r, alpha_r):
    h, r = rng.normal(0, math.sqrt(d_h), n), rng.normal(0, math.sqrt(d_r), n)
    dp = 1 - np.tanh(h) ** 2
    return np.asarray(gate(r, alpha_r, 0.0)) * dp, np.asarray(dgate(r, alpha_r, 0.0)) * np.tanh(h), dp


@pytest.mark.parametrize(
    "g_h, g_r, alpha_r, d_h, d_r", [(4.0, 1.0, 5.0, 0.3, 0.5), (3.0, 0.0, 0.0, 0.2, 1.0)]
)
def test_log_det_matches_sampled_matrices(g_h, g_r, alpha_r, d_h, d_r):
    # L = lim (1/N) log|det(I - J^h (D[a] + D[b] J^r D[c]))| against slogdet at N = 1000 (two draws).
    # Tolerance 0.006: (1/N) log|det| fluctuates by O(sqrt(log N)/N) ~ 3e-3 here (observed gaps up to
    # 3e-3 over 12 draws at N = 1500, real and complex Ginibre).
    # The squared singular values of K enter through the two-scalar Dyson equation: F(eta) against SVD.
    rng = np.random.default_rng(7)
    n = 1000
    for _ in range(2):
        a, b, c = _sites(rng, n, d_h, d_r, alpha_r)
        Jh = rng.normal(0, g_h / math.sqrt(n), (n, n))
        Jr = rng.normal(0, g_r / math.sqrt(n), (n, n))
        K = np.diag(a) + b[:, None] * Jr * c[None, :]
        sampled = np.linalg.slogdet(np.eye(n) - Jh @ K)[1] / n
        w = jnp.full(n, 1 / n)
        a2, b2, c2 = (jnp.asarray(v**2) for v in (a, b, c))
        theory = float(log_det(w, a2, b2, c2, g_h, g_r))
        assert theory > 0.05 and abs(theory - sampled) < 0.006, (theory, sampled)
        sv2 = np.linalg.svd(K, compute_uv=False) ** 2
        for eta in (0.3, 1.0, 3.0):
            F = float(jax.jit(_resolvent)(eta, w, a2, b2, c2, g_r**2)[0])
            assert abs(F - np.mean(eta**2 / (eta**2 + sv2))) < 2e-3


def test_log_det_point_mass_is_the_circular_law():
    # all sites at h = 0: J D[phi'] = J, Ginibre with gain g, and
    # int_{r>1} log r d(r^2/g^2) = log g - 1/2 + 1/(2g^2) = KL(N(0, e) || N(0, g^2 e)):
    # the functional tends to 0 at the zero fixed point (same shapes as above: one compilation)
    one = jnp.ones(1000)
    for g in (1.5, 3.0):
        L = float(log_det(one / 1000, one, 0 * one, one, g, 0.0))
        assert L == pytest.approx(math.log(g) - 0.5 + 0.5 / g**2, rel=1e-9)
    assert float(log_det(one / 1000, one, 0 * one, one, 0.9, 0.0)) == 0.0


def test_vanilla_complexity_zero_below_one_positive_above_cheap():
    # default-tier version of the slow test below: one g on each side, on the coarse grid
    assert complexity(dg.VanillaRNN(g=0.5), n_h=160).sigma == 0.0
    c = complexity(dg.VanillaRNN(g=2.0), n_h=160)
    assert c.converged and c.sigma > 0.005 and c.sigma > 1.3 * c.gaussian > 0
    assert c.log_det == pytest.approx(c.sigma + c.kl, abs=1e-12)


@pytest.mark.slow
def test_vanilla_complexity_zero_below_one_positive_above():
    for g in (0.5, 1.0):
        c = complexity(dg.VanillaRNN(g=g))
        assert c.sigma == 0.0 and c.functional <= 1e-9, (g, c)
    sigma = {}
    for g in (1.5, 2.0, 3.0):
        c = sigma[g] = complexity(dg.VanillaRNN(g=g))
        assert c.converged and c.sigma > 0.005
        # the optimum beats every Gaussian law (THEORY.md 8: by about 2x at g = 2-3)
        assert c.gaussian > 0 and c.sigma > 1.3 * c.gaussian
        assert c.kl > 0 and c.log_det == pytest.approx(c.sigma + c.kl, abs=1e-12)
    coarse = complexity(dg.VanillaRNN(g=2.0), n_h=160)  # grid refinement: 160 against 240 points
    assert abs(coarse.sigma - sigma[2.0].sigma) < 1e-6
    assert sigma[1.5].sigma < sigma[2.0].sigma < sigma[3.0].sigma


def test_gated_without_reset_gate_is_vanilla_with_rescaled_gain():
    g_h, beta_r = 5.0, 0.5
    s0 = 1 / (1 + math.exp(beta_r))
    gated = complexity(dg.GatedRNN(g_h=g_h, alpha_r=0.0, beta_r=beta_r, alpha_z=3.0), n_h=160)
    vanilla = complexity(dg.VanillaRNN(g=g_h * s0), n_h=160)
    assert gated.r is None and gated.sigma == pytest.approx(vanilla.sigma, abs=1e-12) and gated.sigma > 0.02


@pytest.mark.slow
def test_vanilla_onset_at_g_one():
    # Sigma vanishes like a high power of (g - 1), so Sigma > 1e-6 is resolved from about g = 1.02 on
    g1 = onset(dg.VanillaRNN(), "g", 0.5, 2.0, tol=0.04)
    assert 1.0 <= g1 < 1.05


@pytest.mark.slow
def test_gated_onset_line_without_reset_gate():
    # alpha_r = 0: the vanilla onset at gain g_h sigma_r0 = 1, i.e. g_h = 1 + exp(beta_r) (THEORY.md 10);
    # observed 1.6387 and 2.6934 against 1.6065 and 2.6487: the same 2% resolution bias in the gain
    beta = np.array([-0.5, 0.5])
    line = onset_line(dg.GatedRNN(alpha_r=0.0), ("beta_r", beta), ("g_h", 1.0, 4.0), tol=0.02, n_h=160)
    exact = 1 + np.exp(beta)
    assert np.all(line >= exact) and np.all(line < 1.03 * exact + 0.02), (line, exact)


def _assert_parts_equal(parts, ref, rtol):
    for name in ("value", "kl", "log_det", "q"):
        np.testing.assert_allclose(getattr(parts, name), getattr(ref, name), rtol=rtol, atol=0, err_msg=name)


def test_functional_vanilla_reproduces_optimum_vmaps_and_differentiates_in_g():
    # the public functional at complexity()'s optimum gives its numbers (same call, same grid: to rounding);
    # vmap over g of (value, grad) equals a loop of plain calls to 1e-12 relative; dS/dg at fixed rho equals
    # a central difference with step 1e-5: truncation ~1e-10 x the third derivative, rounding ~1e-16 S/1e-5
    # ~1e-12 (observed agreement ~1e-10 relative), so 1e-7 relative. The grid (160 points) is the one the
    # cheap complexity test compiles, so only the vmapped gradient is a new compilation.
    c = complexity(dg.VanillaRNN(g=2.0), n_h=160)
    gr = grid(dg.VanillaRNN(g=2.0), n_h=160)
    theta = np.log(c.rho)
    assert gr.r is None and gr.shape == c.rho.shape and np.all(np.isfinite(theta))
    at_opt = functional(dg.VanillaRNN(g=2.0), theta, gr)
    _assert_parts_equal(at_opt, type(at_opt)(c.functional, c.kl, c.log_det, c.q), rtol=1e-12)
    assert max(0.0, float(at_opt.value)) == pytest.approx(c.sigma, rel=1e-12)

    def value(g):
        out = functional(dg.VanillaRNN(g=g), theta, gr)
        return out.value, out

    gs = np.array([1.5, 2.0, 3.0])
    (_, batched), grads = jax.vmap(jax.value_and_grad(value, has_aux=True))(jnp.asarray(gs))
    step = 1e-5
    for i, g in enumerate(gs):
        _assert_parts_equal(jax.tree.map(operator.itemgetter(i), batched), value(float(g))[1], rtol=1e-12)
        fd = (float(value(g + step)[0]) - float(value(g - step)[0])) / (2 * step)
        assert float(grads[i]) == pytest.approx(fd, rel=1e-7), (g, float(grads[i]), fd)
    assert np.all(np.asarray(grads) != 0)


@pytest.mark.slow  # 23 s of compilation; the vanilla test above covers vmap and grad in the default tier
def test_functional_gated_two_dimensional_reproduces_optimum_and_vmaps_over_g_h():
    # 2-D site law on a small 16 x 16 grid (one compilation for complexity and the loop, one for the vmap)
    ens = dg.GatedRNN(g_h=3.0, alpha_r=5.0)
    c = complexity(ens, n_h=16, n_r=16)
    assert c.converged and c.sigma > 0.01  # a resolved optimum (not the collapsed one, reported as <= 0)
    gr = grid(ens, n_h=16, n_r=16)
    theta = np.log(c.rho)
    assert gr.shape == c.rho.shape == (16, 16) and np.all(np.isfinite(theta))
    at_opt = functional(ens, theta, gr)
    _assert_parts_equal(at_opt, type(at_opt)(c.functional, c.kl, c.log_det, c.q), rtol=1e-12)
    f = lambda g_h: functional(ens.replace(g_h=g_h), theta, gr)  # noqa: E731
    ghs = np.array([2.5, 3.0, 3.5])
    batched = jax.vmap(f)(jnp.asarray(ghs))
    for i, g_h in enumerate(ghs):
        _assert_parts_equal(jax.tree.map(operator.itemgetter(i), batched), f(float(g_h)), rtol=1e-12)
    assert len(set(np.asarray(batched.value).round(12))) == 3  # g_h reaches the functional


def test_functional_grid_dimension_must_match():
    flat = grid(dg.VanillaRNN(g=2.0), n_h=16)
    square = grid(dg.GatedRNN(g_h=3.0, alpha_r=5.0), n_h=16, n_r=16)
    with pytest.raises(InputError, match="2-D grid"):
        functional(dg.VanillaRNN(g=2.0), np.zeros(256), square)
    with pytest.raises(InputError, match="needs a 2-D grid"):
        functional(dg.GatedRNN(g_h=3.0, alpha_r=5.0), np.zeros(16), flat)
    with pytest.raises(InputError, match="needs a 1-D grid"):
        functional(dg.GatedRNN(g_h=3.0, alpha_r=0.0), np.zeros(256), square)


def test_complexity_bad_input():
    with pytest.raises(InputError, match="VanillaRNN and GatedRNN"):
        complexity(dg.LSTM())
    with pytest.raises(InputError):
        complexity(dg.VanillaRNN(g=2.0), n_h=8)
    with pytest.raises(InputError, match="positive at"):
        onset(dg.VanillaRNN(), "g", 0.2, 0.5)


@pytest.mark.slow
@pytest.mark.parametrize("g", [1.5, 2.0, 3.0])
def test_vanilla_growth_rate_of_counts_matches_sigma(g):
    # Exhaustive search (1024 seeds per network; more seeds found no more points on sampled networks) at
    # N = 6..24, 150 networks per size, about 10 minutes per g on one core.
    # Kac-Rice gives E[#] ~ C N^gamma exp(N Sigma), so the fit has a free power-law prefactor; it agrees
    # with Sigma within two of its standard errors. Observed (rate +- stderr vs Sigma):
    #   g = 1.5: -0.012 +- 0.016 vs 0.0071;  g = 2: 0.022 +- 0.017 vs 0.0248;
    #   g = 3: 0.051 +- 0.018 vs 0.0614.
    # The plain linear fit of log(mean count) on N reads high at these sizes, most at small g:
    #   1.5: 0.0248 +- 0.0030;  2: 0.0406 +- 0.0034;  3: 0.0684 +- 0.0036.
    # The gap is a finite-N prefactor: near g = 1 the count is about 1 + 2 x (number of real eigenvalues
    # of J above 1), which grows like sqrt(N), so d log(count)/dN ~ 1/(2N) ~ 0.03 at N = 15.
    # The fitted gamma is 0.2-0.5 accordingly. Counts are annealed means; no quenched correction is needed.
    jax.config.update("jax_enable_x64", True)
    sizes = [6, 9, 12, 15, 18, 21, 24]
    res = dg.count_fixed_points(dg.VanillaRNN(g=g), sizes, key=jax.random.PRNGKey(2024), n_networks=150,
                                n_seeds=1024, scale=g)  # fmt: skip
    assert np.all(res["failure_rate"] < 0.7)
    rate, se = res["rate_prefactor"], res["rate_prefactor_stderr"]
    linear, linear_se = res["rate"], res["rate_stderr"]
    sigma = complexity(dg.VanillaRNN(g=g)).sigma
    print(f"g = {g}: rate {rate:.4f} +- {se:.4f} (linear {linear:.4f} +- {linear_se:.4f}), Sigma {sigma:.4f}")
    assert abs(rate - sigma) < 2 * se
    assert linear > sigma  # the documented finite-N excess


@pytest.mark.slow
def test_gated_complexity_positive_while_dynamics_relax():
    # beta_r = 0, g_r = 1, alpha_r = 10 (above the tricritical alpha_r g_r = 2 sqrt 2): the zero fixed point
    # is stable for g_h < 2 (sigma_r0 g_h < 1), the static mean field has non-zero solutions from
    # g_h = 1.754, and the annealed complexity is already positive between g_h = 1.5 and 1.6 (observed:
    # Sigma = 0 at 1.5, 0.0013 at 1.6, 0.0133 at 1.7, 0.035 at 1.9). The annealed onset thus lies below
    # 2, as the static one does, but also below the static one: the annealed mean counts fixed points of
    # atypical networks and atypical site laws that the static (typical, Gaussian) solution excludes.
    ens = [dg.GatedRNN(g_h=g, alpha_r=10.0) for g in (1.5, 1.6, 1.9)]
    sig = [complexity(e, n_h=120, n_r=80) for e in ens]
    print("Sigma at g_h = 1.5, 1.6, 1.9:", [round(c.sigma, 5) for c in sig])
    assert all(c.converged for c in sig)
    assert sig[0].sigma == 0 and 0 < sig[1].sigma < sig[2].sigma
    onset_static = [bool(np.any(np.asarray(static(e).valid)[1:])) for e in ens]
    assert onset_static == [False, False, True]
    # meanwhile the dynamics relax to a stable state from small and large initial conditions
    for e in ens[1:]:
        net = dg.sample(e, 200, key=jax.random.PRNGKey(0))
        for amp in (0.1, 3.0):
            s0 = amp * jax.random.normal(jax.random.PRNGKey(100), (net.n_state,))
            ly = dg.lyapunov_spectrum(net, key=jax.random.PRNGKey(7), k=1, state0=s0, t_burn=200.0,
                                      t_frame=100.0, t_obs=300.0)  # fmt: skip
            print(f"g_h = {e.g_h}, |s0| ~ {amp}: lambda_max = {ly.lambda_max:.4f}")
            assert ly.lambda_max < -0.02
