"""Mean-field and DMFT solvers: the speed of ``dynagate.meanfield``, each against a baseline in the same run.

Wall-clock times on JAX's default backend in float64; JAX functions are compiled first (timed apart) and
then the median of ``--repeats`` calls is reported.

(1) Static mean field of the gated RNN (beta_r = 0, g_r = 1): one point ``meanfield.static`` under jit,
    then a 41 x 41 grid over (alpha_r in [0, 10], g_h in [0.5, 4]) as one ``jax.vmap``. Baseline: the same
    point by scipy (adaptive ``quad`` for the Gaussian averages, a 400-point scan and ``brentq`` for the
    roots). Targets: < 50 ms per point after compilation, < 20 s for the grid.
(2) The closed alpha_z = 0 DMFT (``Closed``) at g_h = 6, alpha_r = 3, with lambda_max. Baseline: the SCS
    potential method and ``Closed`` side by side at alpha_r = 0, where both apply. Target: < 2 s.
(3) The Monte-Carlo DMFT (``MonteCarlo``, default options: 500 paths, 30 + 60 iterations, 50 tangent
    steps, adaptive grid) with lambda_max and its standard errors, at g_h = 6, alpha_z = 3, alpha_r = 3,
    beta_z = -2 (a set of the simulation test), and at g_h = 4, beta_z = 0 with alpha_z = 2 and 5 (the
    slow states: at alpha_z = 5 the grid grows to t_max ~ 1000). Baseline: ``Closed`` at the same
    parameters with alpha_z = 0. Target: < 60 s per point on 2 cores.
(4) The GRU DMFT (``GRUMonteCarlo``, default options: 1000 paths, 30 + 60 iterations, 60 tangent steps,
    adaptive grid) with lambda_max per step, in fast (mu_z = -2), slow (mu_z = 0) and slower (mu_z = 2)
    chaos at g_n = 3. Baseline: the deterministic Euler-map DMFT (``EulerMap``) of the constant-gate GRU it
    reduces to (g_r = g_z = 0: delta = 1 - sigma(mu_z), gain g_n / 2). Target: < 60 s per point.
(5) The LSTM DMFT (``LSTMMonteCarlo``, the same default options) with lambda_max per step at g_u = 4 with the
    forget-gate bias mu_f = 0, 2 and 4 (ever slower cells). Baseline: the GRU DMFT at g_n = 3, mu_z = 0 of
    (4), timed again in the same run. Target: < 60 s per point.

    python benchmarks/dmft.py [--quick] [--repeats 3]
"""

import argparse
import math
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate
import scipy.optimize

import dynagate as dg
from dynagate.meanfield import SCS, Closed, MonteCarlo, static
from dynagate.meanfield.montecarlo import Options


def timed(f, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(f())
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def scipy_static(g_h, alpha_r):
    """Baseline: Delta_h of the largest root by adaptive quadrature and a scan + brentq."""

    def avg(f, d):
        return scipy.integrate.quad(lambda x: f(math.sqrt(d) * x) * math.exp(-x * x / 2), -10, 10)[
            0
        ] / math.sqrt(2 * math.pi)

    def g(d):
        phi2 = avg(lambda y: math.tanh(y) ** 2, d)
        sr2 = avg(lambda y: 1 / (1 + math.exp(-alpha_r * y)) ** 2, phi2) if phi2 > 0 else 0.25
        return g_h**2 * phi2 * sr2 - d

    grid = np.linspace(1e-6, g_h**2, 400)
    vals = [g(d) for d in grid]
    roots = [
        scipy.optimize.brentq(g, a, b) for a, b, fa, fb in zip(grid, grid[1:], vals, vals[1:]) if fa * fb < 0
    ]
    return max(roots, default=0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    side = 11 if a.quick else 41
    print(f"backend {jax.default_backend()}, cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")

    # (1) static
    one = jax.jit(lambda g, ar: static(dg.GatedRNN(g_h=g, alpha_r=ar)).delta_h)
    t0 = time.perf_counter()
    jax.block_until_ready(one(3.0, 5.0))
    t_c = time.perf_counter() - t0
    d, t1 = timed(lambda: one(3.0, 5.0), a.repeats)
    t0 = time.perf_counter()
    base = scipy_static(3.0, 5.0)
    t_b = time.perf_counter() - t0
    print(
        f"(1) static, one point: {1e3 * t1:.1f} ms (compile {t_c:.1f} s); "
        f"Delta_h = {float(np.nanmax(d)):.8f}; "
        f"scipy baseline {1e3 * t_b:.0f} ms (Delta_h = {base:.8f}): {t_b / t1:.0f}x"
    )
    ar, gh = np.meshgrid(np.linspace(0, 10, side), np.linspace(0.5, 4, side))
    grid = jax.jit(jax.vmap(lambda g, r: static(dg.GatedRNN(g_h=g, alpha_r=r)).delta_h))
    x, y = jnp.asarray(gh.ravel()), jnp.asarray(ar.ravel())
    t0 = time.perf_counter()
    jax.block_until_ready(grid(x, y))
    t_c = time.perf_counter() - t0
    _, t_g = timed(lambda: grid(x, y), a.repeats)
    print(
        f"    {side} x {side} grid: {t_g:.2f} s (compile {t_c:.1f} s), {1e3 * t_g / side**2:.2f} ms per point"
    )

    # (2) closed alpha_z = 0
    ens = dg.GatedRNN(g_h=6.0, alpha_r=3.0)
    Closed()(ens)  # compile
    r, t2 = timed(lambda: Closed()(ens), a.repeats)
    print(
        f"(2) closed, g_h 6, alpha_r 3: {t2:.2f} s; Delta0 {r.delta0:.6f}, lambda_max {r.lambda_max:.6f}, "
        f"{r.status}, residual {r.residual:.1e}"
    )
    van = dg.GatedRNN(g_h=6.0)
    s, t_s = timed(lambda: SCS()(van), a.repeats)
    c, t_cl = timed(lambda: Closed()(van), a.repeats)
    print(
        f"    alpha_r = 0 side by side: SCS {t_s:.2f} s (Delta0 {s.delta0:.8f}, lambda {s.lambda_max:.6f}), "
        f"closed {t_cl:.2f} s (Delta0 {c.delta0:.8f}, lambda {c.lambda_max:.6f}): ratio {t_cl / t_s:.2f}"
    )

    # (3) Monte Carlo
    opts = Options(n_burn=10, n_average=30, n_tangent=30) if a.quick else Options()
    sets = [
        {"g_h": 6.0, "alpha_z": 3.0, "alpha_r": 3.0, "beta_z": -2.0},
        {"g_h": 4.0, "alpha_z": 2.0},
        {"g_h": 4.0, "alpha_z": 5.0},
    ]
    for ens in (dg.GatedRNN(**kw) for kw in sets):
        t0 = time.perf_counter()
        m = MonteCarlo(opts)(ens, jax.random.PRNGKey(0))
        t3 = time.perf_counter() - t0
        c, t_c = timed(lambda: Closed()(ens.replace(alpha_z=0.0)), 1)  # noqa: B023
        print(
            f"(3) Monte Carlo, g_h {ens.g_h:g}, alpha_z {ens.alpha_z:g}, alpha_r {ens.alpha_r:g}, beta_z "
            f"{ens.beta_z:g} ({opts.n_samples} paths, {opts.n_burn} + {opts.n_average} iterations, "
            f"{opts.n_tangent} tangent steps, grid t_max {m.tau[-1]:.0f}): {t3:.1f} s incl. compilation; "
            f"Delta0 {m.delta0:.4f} +- {m.stderr['delta0']:.4f}, lambda_max {m.lambda_max:.4f} +- "
            f"{m.stderr['lambda_max']:.4f}, {m.status}"
        )
        print(
            f"    baseline closed at alpha_z = 0: {t_c:.2f} s (Delta0 {c.delta0:.4f}, lambda_max "
            f"{c.lambda_max:.4f}): ratio {t3 / t_c:.0f}"
        )

    # (4) GRU
    from dynagate.meanfield.euler_map import EulerMap
    from dynagate.meanfield.gru_dmft import GRUMonteCarlo, GRUOptions

    gopts = GRUOptions(n_burn=10, n_average=30, n_tangent=30) if a.quick else GRUOptions()
    for mu_z in (-2.0, 0.0, 2.0):
        ens = dg.GRU(g_n=3.0, mu_z=mu_z)
        t0 = time.perf_counter()
        m = GRUMonteCarlo(gopts)(ens, jax.random.PRNGKey(0))
        t4 = time.perf_counter() - t0
        van = dg.VanillaRNN(g=1.5, delta=1.0 - 1.0 / (1.0 + math.exp(-mu_z)))
        e, t_e = timed(lambda: EulerMap()(van), 1)  # noqa: B023
        print(
            f"(4) GRU DMFT, g_n 3, mu_z {mu_z:g} ({gopts.n_samples} paths, grid {m.tau[-1]:.0f} steps): "
            f"{t4:.1f} s incl. compilation; Delta0 {m.delta0:.4f} +- {m.stderr.get('delta0', 0):.4f}, "
            f"lambda_max {m.lambda_max:.4f} +- {m.stderr.get('lambda_max', 0):.4f} per step, {m.status}"
        )
        print(f"    baseline Euler map (constant gates): {t_e:.2f} s (lambda_max {e.lambda_max:.4f}): ratio "
              f"{t4 / t_e:.0f}")  # fmt: skip

    # (5) LSTM
    from dynagate.meanfield.lstm_dmft import LSTMMonteCarlo

    t0 = time.perf_counter()
    GRUMonteCarlo(gopts)(dg.GRU(g_n=3.0), jax.random.PRNGKey(0))
    t_g = time.perf_counter() - t0
    for mu_f in (0.0, 2.0, 4.0):
        t0 = time.perf_counter()
        m = LSTMMonteCarlo(gopts)(dg.LSTM(g_u=4.0, mu_f=mu_f), jax.random.PRNGKey(0))
        t5 = time.perf_counter() - t0
        print(
            f"(5) LSTM DMFT, g_u 4, mu_f {mu_f:g} ({gopts.n_samples} paths, grid {m.tau[-1]:.0f} steps): "
            f"{t5:.1f} s incl. compilation; Delta0 {m.delta0:.4f} +- {m.stderr.get('delta0', 0):.4f}, "
            f"lambda_max {m.lambda_max:.4f} +- {m.stderr.get('lambda_max', 0):.4f} per step, {m.status}"
        )
        print(f"    baseline GRU DMFT (g_n 3, mu_z 0, compiled): {t_g:.1f} s: ratio {t5 / t_g:.2f}")


if __name__ == "__main__":
    main()
