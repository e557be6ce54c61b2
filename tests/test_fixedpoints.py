"""Fixed-point search against closed forms (Henon, Lorenz) and brute force (a 2-unit network)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import dynagate as dg
from dynagate import fixedpoints
from dynagate.errors import InputError
from dynagate.fixedpoints import count_fixed_points, find_fixed_points


def test_henon_map_fixed_points_and_stability():
    a, b = 1.4, 0.3
    henon = dg.Map(lambda s: jnp.array([1 - a * s[0] ** 2 + s[1], b * s[0]]))
    fp = find_fixed_points(henon, key=jax.random.PRNGKey(0), n_seeds=64, state0=jnp.zeros(2))
    # x = (-(1 - b) +- sqrt((1 - b)^2 + 4a)) / (2a), y = b x; Jacobian [[-2 a x, 1], [b, 0]]
    xs = np.sort([(-(1 - b) + sg * math.sqrt((1 - b) ** 2 + 4 * a)) / (2 * a) for sg in (-1, 1)])
    assert fp.count == 2 and fp.max_residual < 1e-10
    assert np.allclose(fp.points, np.stack([xs, b * xs], axis=1), atol=1e-12)
    for p, eig in zip(fp.points, fp.eigenvalues):
        exact = np.linalg.eigvals(np.array([[-2 * a * p[0], 1.0], [b, 0.0]]))
        assert np.allclose(np.sort_complex(eig), np.sort_complex(exact), atol=1e-12)
    assert fp.index.tolist() == [1, 1]  # both saddles: one |lambda| > 1 each
    assert fp.n_stable == 0 and fp.failure_rate < 0.1


def test_descent_in_chunks_is_adam_in_one_call():
    # the descent runs in timed compiled calls (Ctrl-C is seen between them), carrying the Adam moments and
    # the step index: chunks of any sizes give the numbers of one call of all the steps (the same compiled
    # step in the same order: to the last bit), and those are Adam's, from the formula in NumPy with the
    # closed-form gradient J_F^T F of the Henon map's residual F(s) = map(s) - s
    a, b, lr, steps = 1.4, 0.3, 0.05, 60
    henon = dg.Map(lambda s: jnp.array([1 - a * s[0] ** 2 + s[1], b * s[0]]))
    seeds = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
    zero = jnp.zeros_like(seeds)
    whole = fixedpoints._descent_chunk(henon, None, (seeds, zero, zero), lr, 0, steps)
    carry, start = (seeds, zero, zero), 0
    for m in (1, 7, 2, 50):
        carry = fixedpoints._descent_chunk(henon, None, carry, lr, start, m)
        start += m
    for u, v in zip(carry, whole):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(fixedpoints._descend(henon, None, seeds, lr, steps), whole[0])
    s, m, v = np.array(seeds), np.zeros((8, 2)), np.zeros((8, 2))
    for t in range(1, steps + 1):
        F = np.stack([1 - a * s[:, 0] ** 2 + s[:, 1] - s[:, 0], b * s[:, 0] - s[:, 1]], axis=1)
        g = np.stack([(-2 * a * s[:, 0] - 1) * F[:, 0] + b * F[:, 1], F[:, 0] - F[:, 1]], axis=1)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g**2
        s = s - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-12)
    # rounding only: 60 steps of O(1) numbers in another order of operations
    np.testing.assert_allclose(whole[0], s, rtol=0, atol=1e-12)


def test_lorenz_fixed_points_and_stability():
    sigma, rho, beta = 10.0, 28.0, 8 / 3

    def lorenz(s):
        x, y, z = s
        return jnp.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])

    fp = find_fixed_points(dg.Flow(lorenz), key=jax.random.PRNGKey(1), n_seeds=64,
                           state0=jnp.array([0.0, 0.0, 25.0]), scale=15.0, dt=0.01)  # fmt: skip
    c = math.sqrt(beta * (rho - 1))
    exact = np.array([[-c, -c, rho - 1], [0, 0, 0], [c, c, rho - 1]])
    assert fp.count == 3 and np.allclose(fp.points, exact, atol=1e-10)
    # origin: one unstable direction (rho > 1); C+-: a complex pair with Re > 0 at rho = 28 (> 24.74)
    assert fp.index.tolist() == [2, 1, 2]
    jac = jax.jacfwd(lorenz)
    for p, eig in zip(fp.points, fp.eigenvalues):
        assert np.allclose(
            np.sort_complex(eig), np.sort_complex(np.linalg.eigvals(np.asarray(jac(jnp.asarray(p)))))
        )


def _brute_force(F, box, n_grid=41, tol=1e-10):
    """All roots of F in a box: scipy.optimize.fsolve from every point of an n_grid^2 grid, deduplicated."""
    g = np.linspace(*box, n_grid)
    roots = []
    for u in g:
        for v in g:
            r, info, ier, _ = scipy.optimize.fsolve(F, [u, v], full_output=True, xtol=1e-13)
            if (
                ier == 1
                and np.max(np.abs(F(r))) < tol
                and not any(np.max(np.abs(r - q)) < 1e-6 for q in roots)
            ):
                roots.append(r)
    return np.array(sorted(roots, key=tuple))


@pytest.mark.parametrize(
    "ens",
    [dg.VanillaRNN(g=4.0), dg.GatedRNN(g_h=8.0, alpha_r=5.0, tau_z=0.0, tau_r=0.0)],
    ids=["vanilla", "gated"],
)
def test_two_unit_network_all_fixed_points(ens):
    # every fixed point of a 2-unit network (h-space only: instantaneous gates) against a dense grid +
    # Newton; networks picked with several fixed points (seeds scanned once, fixed here)
    found = 0
    for seed in range(4):
        net = dg.sample(ens, 2, key=jax.random.PRNGKey(seed))
        fp = find_fixed_points(net, key=jax.random.PRNGKey(100 + seed), n_seeds=512, scale=3.0)
        if isinstance(ens, dg.VanillaRNN):  # numpy residuals: F = -h + J tanh(h) (fast for fsolve)
            J = np.asarray(net.J)
            F = lambda h, J=J: -h + J @ np.tanh(h)  # noqa: E731
        else:  # fixed points of the gated RNN: -h + J^h (sigma_r(J^r phi) phi) = 0 (z drops out)
            Jh, Jr = np.asarray(net.Jh), np.asarray(net.Jr)
            F = lambda h, Jh=Jh, Jr=Jr: -h + Jh @ (np.tanh(h) / (1 + np.exp(-5.0 * (Jr @ np.tanh(h)))))  # noqa: E731
        assert all(np.max(np.abs(F(p))) < 1e-9 for p in fp.points)  # the model's own residual, recomputed
        ref = _brute_force(F, (-12.0, 12.0))
        assert fp.count == len(ref), (seed, fp.points, ref)
        assert np.allclose(fp.points, ref, atol=1e-8)
        found = max(found, fp.count)
    assert found >= 3  # the comparison covered a network with more than the trivial fixed points


def test_bad_input_and_failures_are_counted():
    # a map without fixed points (s -> s + 1): every seed fails, counted, no exception
    fp = find_fixed_points(
        dg.Map(lambda s: s + 1.0), key=jax.random.PRNGKey(0), n_seeds=16, state0=jnp.zeros(2)
    )
    assert fp.count == 0 and fp.n_converged == 0 and fp.failure_rate == 1.0
    with pytest.raises(InputError, match="state0 or an array box"):
        find_fixed_points(dg.Map(lambda s: s / 2), key=jax.random.PRNGKey(0))
    with pytest.raises(InputError, match="n_seeds"):
        find_fixed_points(
            dg.sample(dg.VanillaRNN(), 3, key=jax.random.PRNGKey(0)), key=jax.random.PRNGKey(0), n_seeds=0
        )
    with pytest.raises(InputError, match="upper bound"):
        find_fixed_points(dg.Map(lambda s: s / 2), key=jax.random.PRNGKey(0), box=(jnp.ones(2), jnp.zeros(2)))


def test_count_fixed_points_returns_counts_with_errors():
    # g = 0.5: the zero fixed point only (contracting); counts 1 with zero spread and no growth
    out = count_fixed_points(
        dg.VanillaRNN(g=0.5), [4, 8], key=jax.random.PRNGKey(0), n_networks=3, n_seeds=32
    )
    assert out["counts"].tolist() == [[1, 1, 1], [1, 1, 1]]
    assert out["rate"] == pytest.approx(0.0, abs=1e-12)
    assert [i.tolist() for i in out["indices"]] == [[0, 0, 0], [0, 0, 0]]
