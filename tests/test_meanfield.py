"""Static mean field (dynagate.meanfield) against independent quadrature, brute force and simulation.

Run with ``pytest -s`` to see the numbers (onsets, simulated vs predicted variances).
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

import dynagate as dg
from dynagate import GatedRNN, InputError, VanillaRNN
from dynagate.meanfield import MAX_BRANCHES, static, static_map
from dynagate.models.vanilla import phi


def sigma0(beta):
    return 1.0 / (1.0 + math.exp(beta))


def sigmoid(y):
    return 0.5 * (1.0 + np.tanh(0.5 * y))


def gauss_avg(f, mu, var):
    """E f(mu + sqrt(var) x) by adaptive quadrature (scipy), split at the nonlinearity's centre."""
    s = math.sqrt(var)
    x0 = -mu / s if s > 0 else 0.0
    pts = sorted({-14.0, 14.0, *np.clip(x0 + np.array([-3.0, 0.0, 3.0]) / max(s, 1e-3), -14, 14)})
    g = lambda x: f(mu + s * x) * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731
    return sum(quad(g, a, b, epsabs=1e-15, epsrel=1e-13, limit=400)[0] for a, b in itertools.pairwise(pts))


def g_ref(d, *, g_h, alpha_r=0.0, beta_r=0.0, g_r=1.0, mu_b=0.0, s_b=0.0):
    """Independent G(D) = RHS(D) - D of the gated RNN (alpha_r = beta_r = 0 with g_h -> 2g: vanilla)."""
    a = gauss_avg(lambda y: math.tanh(y) ** 2, mu_b, d)
    s2 = gauss_avg(lambda r: sigmoid(alpha_r * r - beta_r) ** 2, 0.0, g_r**2 * a)
    return g_h**2 * a * s2 + s_b**2 - d


# ----------------------------------------------------------------------------------- 1. vanilla


@pytest.mark.parametrize("g", [0.0, 0.5, 0.99])
def test_vanilla_subcritical_only_zero(g):
    mf = static(VanillaRNN(g=g))
    assert mf.delta_h.shape == (MAX_BRANCHES,)
    np.testing.assert_array_equal(mf.valid, [True, False, False])
    np.testing.assert_array_equal(mf.stable, [True, False, False])
    assert mf.delta_h[0] == 0.0 and mf.residual[0] == 0.0 and mf.mean_h[0] == 0.0
    assert np.all(np.isnan(mf.delta_h[1:]))
    assert static_map(VanillaRNN(g=g), 0.0)[1] == pytest.approx(g**2, rel=1e-13)  # slope at 0: g^2


@pytest.mark.parametrize("g", [1.5, 2.0, 3.0])
def test_vanilla_supercritical_matches_brentq(g):
    mf = static(VanillaRNN(g=g))
    np.testing.assert_array_equal(mf.valid, [True, True, False])
    np.testing.assert_array_equal(mf.stable, [False, True, False])
    assert mf.delta_h[0] == 0.0
    truth = brentq(lambda d: g_ref(d, g_h=2 * g), 1e-3, g**2, xtol=1e-15, rtol=1e-14)
    print(f"vanilla g={g}: D* = {float(mf.delta_h[1]):.12f} (brentq {truth:.12f})")
    assert float(mf.delta_h[1]) == pytest.approx(truth, rel=1e-8)
    assert mf.residual[1] < 1e-12
    # the Euler map has the same fixed points
    np.testing.assert_allclose(static(VanillaRNN(g=g, delta=0.3)).delta_h, mf.delta_h, rtol=1e-15)


def test_vanilla_and_gated_with_input_match_brentq():
    """Non-zero mean and spread of the input, and an active r-gate: D* against scipy to 1e-8."""
    gated = {"g_h": 2.5, "g_r": 1.3, "alpha_r": 3.0, "beta_r": 0.5, "mu_b": 0.4, "s_b": 0.5}
    for ens, kw in [
        (VanillaRNN(g=1.2, mu_b=0.5, s_b=0.3), {"g_h": 2.4, "mu_b": 0.5, "s_b": 0.3}),
        (GatedRNN(**gated), gated),
    ]:
        mf = static(ens)
        np.testing.assert_array_equal(mf.valid, [True, False, False])
        assert mf.stable[0]
        top = kw["g_h"] ** 2 + kw["s_b"] ** 2
        truth = brentq(lambda d, kw=kw: g_ref(d, **kw), 0.0, top, xtol=1e-15, rtol=1e-14)
        assert float(mf.delta_h[0]) == pytest.approx(truth, rel=1e-8)
        assert float(mf.mean_h[0]) == kw["mu_b"]
        phi2 = gauss_avg(lambda y: math.tanh(y) ** 2, kw["mu_b"], truth)
        if isinstance(ens, GatedRNN):
            assert float(mf.delta_r[0]) == pytest.approx(kw["g_r"] ** 2 * phi2, rel=1e-8)
            assert float(mf.delta_z[0]) == pytest.approx(phi2, rel=1e-8)  # g_z = 1
        else:
            assert mf.delta_r[0] == 0.0 and mf.delta_z[0] == 0.0


def test_edge_cases_zero_gain():
    """g = 0: RHS = s_b^2 (a root at D_max itself) or D = 0 exactly (s_b = 0, any mu_b)."""
    mf = static(VanillaRNN(g=0.0, s_b=1.0))
    np.testing.assert_array_equal(mf.valid, [True, False, False])
    assert float(mf.delta_h[0]) == pytest.approx(1.0, rel=1e-14)
    mf = static(GatedRNN(g_h=0.0, mu_b=1.0, alpha_r=4.0))
    np.testing.assert_array_equal(mf.valid, [True, False, False])
    assert mf.delta_h[0] == 0.0 and mf.stable[0]


# -------------------------------------------------------------------------- 2. gated, alpha_r = 0


@pytest.mark.parametrize(
    "g_h, beta_r, mu_b, s_b",
    [(3.0, 0.0, 0.0, 0.0), (4.0, -0.5, 0.2, 0.5), (2.0, 1.0, 0.0, 0.0), (5.0, 0.3, 0.0, 0.0)],
)
def test_gated_alpha0_is_vanilla(g_h, beta_r, mu_b, s_b):
    gated = static(GatedRNN(g_h=g_h, alpha_r=0.0, beta_r=beta_r, mu_b=mu_b, s_b=s_b, g_r=2.0))
    van = static(VanillaRNN(g=g_h * sigma0(beta_r), mu_b=mu_b, s_b=s_b))
    np.testing.assert_array_equal(gated.valid, van.valid)
    np.testing.assert_array_equal(gated.stable, van.stable)
    np.testing.assert_allclose(gated.delta_h, van.delta_h, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("alpha_r, beta_r", [(0.0, 0.0), (3.0, -1.0), (8.0, 0.7)])
def test_slope_at_zero_and_finite_difference(alpha_r, beta_r):
    """dRHS/dD at D = 0 is (g_h sigma_r0)^2 (threshold g_h = 1 + e^beta_r), and matches a central
    difference elsewhere."""
    ens = GatedRNN(g_h=2.3, g_r=1.2, alpha_r=alpha_r, beta_r=beta_r, mu_b=0.1, s_b=0.4)
    ens0 = ens.replace(mu_b=0.0, s_b=0.0)
    assert float(static_map(ens0, 0.0)[1]) == pytest.approx((2.3 * sigma0(beta_r)) ** 2, rel=1e-12)
    for d in (1e-3, 0.5, 3.0):
        h = 1e-4 * d
        fd = (static_map(ens, d + h)[0] - static_map(ens, d - h)[0]) / (2 * h)
        assert float(static_map(ens, d)[1]) == pytest.approx(float(fd), rel=1e-7)


@pytest.mark.parametrize("alpha_r, g_r", [(0.0, 1.0), (2.0, 1.0), (5.0, 1.0), (10.0, 0.5)])
def test_landau_expansion(alpha_r, g_r):
    """THEORY.md 5: RHS(D)/D = (g_h^2/4) [1 + c D + O(D^2)], c = alpha_r^2 g_r^2 / 4 - 2 (beta_r = 0)."""
    ens = GatedRNN(g_h=1.7, g_r=g_r, alpha_r=alpha_r)
    c = lambda d: (float(static_map(ens, d)[0]) / d * 4 / 1.7**2 - 1) / d  # noqa: E731
    assert 2 * c(1e-5) - c(2e-5) == pytest.approx(alpha_r**2 * g_r**2 / 4 - 2, abs=1e-4)  # Richardson


# ------------------------------------------------------------------- 3. sub- and supercritical onset


def onset_bruteforce(alpha_r, g_r=1.0):
    """min over D > 0 of g_h(D) = sqrt(D / (<phi^2>_D <sigma_r^2>)) (the non-zero roots exist iff
    g_h >= that minimum), with plain-numpy trapezoid averages on a fine grid of D."""
    x = np.linspace(-10, 10, 2001)
    w = np.exp(-0.5 * x**2) * (x[1] - x[0]) / math.sqrt(2 * math.pi)

    def gh(d):
        a = np.tanh(np.sqrt(d)[:, None] * x) ** 2 @ w
        s2 = sigmoid(alpha_r * g_r * np.sqrt(a)[:, None] * x) ** 2 @ w
        return np.sqrt(d / (a * s2))

    d = np.linspace(1e-4, 4.0, 4000)
    i = int(np.argmin(gh(d)))
    assert 0 < i < d.size - 1
    return float(gh(np.linspace(d[i - 1], d[i + 1], 4001)).min())


_has_nonzero = jax.jit(lambda g_h, alpha_r: jnp.any(static(GatedRNN(g_h=g_h, alpha_r=alpha_r)).delta_h > 0))


def onset_static(alpha_r, lo=1.5, hi=2.0, iters=32):
    assert not _has_nonzero(lo, alpha_r) and _has_nonzero(hi, alpha_r)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if _has_nonzero(mid, alpha_r) else (mid, hi)
    return hi


@pytest.mark.parametrize("alpha_r, theory", [(5.0, 1.92), (10.0, 1.755)])
def test_subcritical_onset(alpha_r, theory):
    found, brute = onset_static(alpha_r), onset_bruteforce(alpha_r)
    print(f"alpha_r={alpha_r}: onset g_h {found:.6f} (static), {brute:.6f} (brute force), THEORY.md {theory}")
    assert found == pytest.approx(brute, abs=1e-3)
    assert found == pytest.approx(theory, abs=5e-3)
    # between the onset and g_h = 2: 0 stable, a middle unstable root, an upper stable one
    mf = static(GatedRNN(g_h=0.5 * (found + 2.0), alpha_r=alpha_r))
    np.testing.assert_array_equal(mf.valid, [True, True, True])
    np.testing.assert_array_equal(mf.stable, [True, False, True])
    assert 0.0 == mf.delta_h[0] < mf.delta_h[1] < mf.delta_h[2]
    assert np.all(mf.residual < 1e-12)


def test_supercritical_below_tricritical_point():
    """alpha_r g_r = 2 < 2 sqrt(2): no non-zero root below g_h = 2; one stable one above."""
    grid = jnp.linspace(0.5, 1.999, 64)
    mf = jax.vmap(lambda g: static(GatedRNN(g_h=g, alpha_r=2.0)))(grid)
    np.testing.assert_array_equal(mf.valid, np.tile([True, False, False], (64, 1)))
    assert np.all(mf.stable[:, 0]) and np.all(mf.delta_h[:, 0] == 0)
    mf = static(GatedRNN(g_h=2.05, alpha_r=2.0))
    np.testing.assert_array_equal(mf.valid, [True, True, False])
    np.testing.assert_array_equal(mf.stable, [False, True, False])


# --------------------------------------------------------------------------- 4. simulated network


def test_against_simulated_network():
    """Fixed point of N = 1000 networks (relax, then Newton) vs the mean field. Finite-N: the sample
    variance of N Gaussian values has relative std sqrt(2/N); 4 networks: 0.022. Tolerance 4 sigma."""
    ens = GatedRNN(g_h=1.5, alpha_r=2.0, mu_b=0.3, s_b=1.0, tau_z=0.0, tau_r=0.0)
    mf = static(ens)
    np.testing.assert_array_equal(mf.valid, [True, False, False])
    n, m = 1000, 4
    mean_h, var_h, var_r = [], [], []
    for seed in range(m):
        net = dg.sample(ens, n, key=jax.random.PRNGKey(seed))
        assert net.n_state == n
        s = dg.relaxed_state(net, key=jax.random.PRNGKey(100 + seed), steps=200)
        for _ in range(4):
            s = s - jnp.linalg.solve(dg.jacobian(net, s), net.rhs(s))
        assert jnp.linalg.norm(net.rhs(s)) < 1e-10
        r = net.Jr @ phi(s)
        mean_h.append(float(s.mean()))
        var_h.append(float(s.var()))
        var_r.append(float(jnp.mean(r**2)))  # E r = 0 in theory
    rel = 4 * math.sqrt(2 / (n * m))
    print(
        f"\nsimulated (N={n}, {m} nets): Var h = {np.mean(var_h):.4f} (per net {np.round(var_h, 4)}),"
        f" mean field {float(mf.delta_h[0]):.4f}; E r^2 = {np.mean(var_r):.4f} (per net"
        f" {np.round(var_r, 4)}), mean field {float(mf.delta_r[0]):.4f}; E h = {np.mean(mean_h):.4f}"
        f" (mu_b = 0.3); tolerance {rel:.3f} relative"
    )
    assert np.mean(var_h) == pytest.approx(float(mf.delta_h[0]), rel=rel)
    assert np.mean(var_r) == pytest.approx(float(mf.delta_r[0]), rel=rel)
    assert np.mean(mean_h) == pytest.approx(0.3, abs=4 * math.sqrt(float(mf.delta_h[0]) / (n * m)))


# ---------------------------------------------------------------------------- 5. jit, vmap, errors


def test_jit_vmap_match_loop():
    grid = np.linspace(0.5, 3.5, 13)
    f = lambda g: static(GatedRNN(g_h=g, alpha_r=5.0, beta_r=0.2, s_b=0.0))  # noqa: E731
    batched = jax.jit(jax.vmap(f))(jnp.asarray(grid))
    for i, g in enumerate(grid):
        one = f(float(g))
        for name in ("delta_h", "delta_r", "delta_z", "mean_h", "residual"):
            np.testing.assert_allclose(getattr(batched, name)[i], getattr(one, name), rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(batched.valid[i], one.valid)
        np.testing.assert_array_equal(batched.stable[i], one.stable)
    assert batched.valid.sum() > grid.size  # several grid points have two or three branches


def test_grad_of_the_static_branch_equals_finite_differences():
    # the branches are differentiable in the hyperparameters (implicit-function step after the bisection):
    # d Delta_h / d g_h of the non-zero branch against a central difference (step 1e-5: error ~1e-9), and
    # d / d alpha_r through the reset gate; vmap over g_h of the gradient equals a loop
    def top(g_h, alpha_r=2.0):
        s = static(GatedRNN(g_h=g_h, alpha_r=alpha_r))
        return jnp.nanmax(s.delta_h)

    grad = jax.jit(jax.grad(top, argnums=(0, 1)))
    for g in (2.5, 3.5):
        fd_g = (top(g + 1e-5) - top(g - 1e-5)) / 2e-5
        fd_a = (top(g, 2.0 + 1e-5) - top(g, 2.0 - 1e-5)) / 2e-5
        d_g, d_a = grad(g, 2.0)
        assert float(d_g) == pytest.approx(float(fd_g), rel=1e-5)
        assert float(d_a) == pytest.approx(float(fd_a), rel=1e-5)
    grid = jnp.asarray([2.5, 3.5])
    batched = jax.vmap(grad, in_axes=(0, None))(grid, 2.0)[0]
    np.testing.assert_allclose(batched, [grad(g, 2.0)[0] for g in grid], rtol=1e-10)


@pytest.mark.parametrize(
    "call",
    [
        lambda: static(dg.LSTM()),
        lambda: static("gated"),
        lambda: static(VanillaRNN(), n_grid=4),
        lambda: static(VanillaRNN(), n_nodes=2.5),
        lambda: static_map(dg.GRU(), 1.0),
    ],
)
def test_bad_input(call):
    with pytest.raises(InputError) as err:
        call()
    assert "\n" not in str(err.value)
