"""RMT support boundary and rightmost point: the speed of ``dynagate.rmt``, against dense eigenvalues.

Everything is measured in one run, in float64, on JAX's default backend. JAX timings are wall-clock: the
compile time (``lower`` + ``compile``, on its own) and then the median of ``--repeats`` calls of the compiled
function, each waited for with ``jax.block_until_ready``.

(1) One parameter point: the gated RNN with g_h = 3, alpha_z = 2, alpha_r = 3 and dynamic gates
    (tau_z = tau_r = 1: three variables per unit), its support boundary ``rmt.support(st, n_x=512)`` (the
    curve F(x + iy) = 1 bisected at 512 abscissae), at
    (a) Gaussian static statistics var_h = 1.5, var_r = 0.8 on a 40 x 40 Gauss-Hermite product rule (784
        nodes after pruning weights < 1e-12; z = 0 at every node, sigma_z = 1/2: a fixed point has no
        z-column term, and the cost does not depend on the values);
    (b) the empirical statistics of one relaxed, chaotic network of N = 2000 units (2000 nodes). Baseline,
        timed in turn with it: ``numpy.linalg.eigvals`` of that network's 3N x 3N Jacobian, which is what
        one would do without the theory (one call: it takes a minute).
    Target: the boundary for one parameter point (512 contour points) in under 1 s on CPU after compilation.
(2) A 41 x 41 grid over alpha_r in [0, 10] x g_h in [0.5, 4] (alpha_z = 2, dynamic gates) at the fixed
    Gaussian nodes of (1a), the structure built inside the mapped function from the ensemble parameters:
    ``rmt.rightmost`` (n_x = 64) at every point, ``jax.jit`` of a ``jax.vmap`` over the flattened grid (in
    chunks of one grid row, ``jax.lax.map(..., batch_size=41)``, to bound memory). Target: under 30 s.
    Then the same grid of full ``rmt.support(st, n_x=512)`` boundaries. Each grid is first run on a small
    grid over the same ranges (2x2 for rightmost, a single point for support); where that extrapolates to
    more than ``--limit`` seconds (default 120, 20 with --quick) the full grid is skipped, with the estimate
    printed.
(3) Where the time goes: one F(lambda) = rho(T(lambda)) at the nodes of (1a), alone and batched over
    512 abscissae (as the support evaluates it), with the transfer matrix T and its Perron root apart. With
    ``--profile``, also the number of F evaluations one support and one rightmost call make (counted by a
    callback patched into ``F`` for that call only; adds about half a minute).

    python benchmarks/rmt.py [--quick] [--repeats 3] [--limit 120] [--profile] [--blas-threads 1]

Threads: XLA runs on its own thread pool over all cores; ``numpy.linalg.eigvals`` uses OpenBLAS, which by
default this script limits to OPENBLAS_NUM_THREADS=1 (as benchmarks/lyapunov.py does, against
oversubscription on a small shared machine; ``--blas-threads 0`` leaves OpenBLAS's default, and an
OPENBLAS_NUM_THREADS already in the environment always wins). The header prints the setting and the load.
"""

import argparse
import os
import statistics
import time

#: Problem sizes: default, and with --quick.
SIZES = {
    False: {"nodes": 40, "n_net": 2000, "relax_steps": 400, "side": 41, "small_side": 2},
    True: {"nodes": 20, "n_net": 500, "relax_steps": 200, "side": 5, "small_side": 2},
}
N_X = 512  # abscissae of one support boundary
N_X_RIGHTMOST = 256  # rmt.rightmost's default (its real-axis scan)
GATED = {"g_h": 3.0, "alpha_z": 2.0, "alpha_r": 3.0}  # tau_z = tau_r = 1 (defaults): dynamic gates
VAR_H, VAR_R = 1.5, 0.8
ALPHA_R, G_H = (0.0, 10.0), (0.5, 4.0)  # grid ranges


def compiled(jitted, *args, **static):
    """``(compiled function, compile seconds)``: lower and compile ``jitted`` for ``args``, timed alone."""
    t0 = time.perf_counter()
    c = jitted.lower(*args, **static).compile()
    return c, time.perf_counter() - t0


def timed(fn, *args):
    """``(seconds, result)`` of one call of ``fn(*args)``, waited for."""
    import jax

    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0, out


def median_time(fn, *args, repeats):
    """``(median seconds, all seconds, last result)`` of ``repeats`` calls of ``fn(*args)``."""
    runs = [timed(fn, *args) for _ in range(repeats)]
    return statistics.median(t for t, _ in runs), [t for t, _ in runs], runs[-1][1]


def fmt_times(times):
    return ", ".join(f"{t:.2f}" for t in times)


def check(label, ok):
    return f"{label}: {'PASS' if ok else 'FAIL'}"


def gaussian_nodes(n_nodes):
    """The (1a) statistics: the h, r Gauss-Hermite product rule (z absent: 0 at every node)."""
    from dynagate import rmt

    return rmt.gaussian_stats({"h": VAR_H, "r": VAR_R}, n_nodes=n_nodes)


# ------------------------------------------------------------------------------------------------- (1)


def section_one_point(a):
    import jax
    import numpy as np

    import dynagate as dg
    from dynagate import rmt

    ens = dg.GatedRNN(**GATED)
    stats = gaussian_nodes(a.nodes)
    n_nodes = stats.weights.shape[0]
    params = ", ".join(f"{k}={v:g}" for k, v in GATED.items())
    print(f"\n(1) one parameter point: GatedRNN({params}), dynamic gates (tau_z = tau_r = 1);")
    print(f"    rmt.support(st, n_x={N_X}); median of {a.repeats} calls of the compiled function")
    head = f"{'statistics':<44}{'nodes':>6}{'compile [s]':>13}{'call [s]':>10}{'rightmost':>11}{'radius':>8}"
    print(f"    {head}")

    def row(label, nodes, t_c, t, sp):
        rm, rad = float(sp.rightmost), float(sp.radius)
        print(f"    {label:<44}{nodes:>6}{t_c:>13.2f}{t:>10.2f}{rm:>11.4f}{rad:>8.3f}")

    # (a) Gaussian nodes
    st = rmt.structure(ens, stats)
    sup, t_c = compiled(rmt.support, st, n_x=N_X)
    t_gauss, times_gauss, sp = median_time(sup, st, repeats=a.repeats)
    row(f"(a) Gaussian var_h={VAR_H}, var_r={VAR_R}, {a.nodes}x{a.nodes} GH", n_nodes, t_c, t_gauss, sp)

    # (b) a relaxed network: its empirical statistics, and the dense eigenvalues side by side
    k_net, k_state = jax.random.split(jax.random.PRNGKey(0))
    net = dg.sample(ens, a.n_net, key=k_net)
    t_relax, s = timed(lambda: dg.relaxed_state(net, key=k_state, steps=a.relax_steps))
    st_emp = rmt.structure(net, rmt.empirical_stats(net, s))
    J = np.asarray(dg.jacobian(net, s))
    sup_emp, t_c_emp = compiled(rmt.support, st_emp, n_x=N_X)
    # in turn: one support call, the eigenvalues (once), the remaining support calls
    runs = [timed(sup_emp, st_emp)]
    t_eig, eigs = timed(np.linalg.eigvals, J)
    runs += [timed(sup_emp, st_emp) for _ in range(a.repeats - 1)]
    times_emp, sp_emp = [t for t, _ in runs], runs[-1][1]
    t_emp = statistics.median(times_emp)
    row(f"(b) empirical, relaxed network N={a.n_net}", a.n_net, t_c_emp, t_emp, sp_emp)
    rm_eig, rad_eig = float(eigs.real.max()), float(np.abs(eigs).max())
    print(
        f"    {'    numpy.linalg.eigvals of its Jacobian':<44}{'':>6}{'':>13}{t_eig:>10.2f}"
        f"{rm_eig:>11.4f}{rad_eig:>8.3f}  (one call)"
    )
    print(f"    calls [s]: (a) {fmt_times(times_gauss)}; (b) {fmt_times(times_emp)}")
    speed = float(np.linalg.norm(net.rhs(s)) / np.sqrt(net.n_state))
    print(
        f"    network: relaxed from a random state, {a.relax_steps} RK4 steps of dt=0.05 ({t_relax:.1f} s);\n"
        f"    |rhs|/sqrt(3N) = {speed:.3f} there (still moving: chaotic); Jacobian {J.shape[0]}x{J.shape[0]}"
    )
    print(f"    eigvals / support (b): {t_eig / t_emp:.1f}x (support faster when > 1)")
    # the target is one parameter point of the theory, (a); (b) scales with the network's size N
    ok = t_gauss < 1.0
    print(f"    {check('target: one boundary (512 contour points) in under 1 s after compilation, (a)', ok)}")
    if not ok:
        print(f"    missed by {t_gauss:.1f}x ((a) {t_gauss:.2f} s against 1 s)")
    return t_gauss


# ------------------------------------------------------------------------------------------------- (2)


def grid_function(stats, point, chunk):
    """jit of a vmap over a flattened (alpha_r, g_h) grid, ``chunk`` points at a time (lax.map)."""
    import jax

    import dynagate as dg
    from dynagate import rmt

    def one(alpha_r, g_h):
        ens = dg.GatedRNN(g_h=g_h, alpha_z=GATED["alpha_z"], alpha_r=alpha_r)
        return point(rmt.structure(ens, stats))

    def run(alpha_r, g_h):
        if alpha_r.shape[0] <= chunk:
            return jax.vmap(one)(alpha_r, g_h)
        return jax.lax.map(lambda p: one(*p), (alpha_r, g_h), batch_size=chunk)

    return jax.jit(run)


def grid_points(n_a, n_g):
    import jax.numpy as jnp

    A, G = jnp.meshgrid(jnp.linspace(*ALPHA_R, n_a), jnp.linspace(*G_H, n_g), indexing="ij")
    return A.ravel(), G.ravel()


def run_grid(label, fn, small, full, limit):
    """Time ``fn`` on the ``small`` grid, extrapolate to ``full`` and run it there when that fits ``limit``.

    Returns ``(seconds for the full grid, measured or estimated, was it measured, result)``.
    """
    n_small, n_full = small[0] * small[1], full[0] * full[1]
    args = grid_points(*small)
    c, t_c = compiled(fn, *args)
    t_small, out = timed(c, *args)
    est = t_small / n_small * n_full
    print(
        f"    {label}: small grid {small[0]}x{small[1]}: compile {t_c:.1f} s, run {t_small:.2f} s "
        f"= {t_small / n_small:.3f} s/point -> {full[0]}x{full[1]} estimated {est:.0f} s"
    )
    if est > limit:
        size = f"{full[0]}x{full[1]}"
        print(f"    {label}: full {size} grid SKIPPED (estimate {est:.0f} s > --limit {limit:g} s)")
        return est, False, out
    args = grid_points(*full)
    c, t_c = compiled(fn, *args)
    t_full, out = timed(c, *args)
    print(
        f"    {label}: full grid {full[0]}x{full[1]}: compile {t_c:.1f} s, run {t_full:.2f} s "
        f"= {t_full / n_full * 1e3:.1f} ms/point"
    )
    return t_full, True, out


def section_grid(a):
    import numpy as np

    from dynagate import rmt

    stats = gaussian_nodes(a.nodes)
    side, ss = a.side, a.small_side
    ranges = f"alpha_r in [{ALPHA_R[0]:g}, {ALPHA_R[1]:g}] x g_h in [{G_H[0]:g}, {G_H[1]:g}]"
    print(f"\n(2) {side}x{side} grid: {ranges} (alpha_z={GATED['alpha_z']:g}, dynamic gates),")
    print(f"    at the {stats.weights.shape[0]} Gaussian nodes of (1a); jit(vmap) over the flattened grid in")
    print(f"    chunks of {side} (one row); compile timed apart from the run")
    fn = grid_function(stats, lambda st: rmt.rightmost(st, n_x=N_X_RIGHTMOST), chunk=side)
    t, measured, out = run_grid(f"rightmost (n_x={N_X_RIGHTMOST})", fn, (ss, ss), (side, side), a.limit)
    r = np.asarray(out).reshape(-1)
    which = f"{side}x{side}" if measured else f"{ss}x{ss}"
    print(f"    rightmost over the {which} grid: min {r.min():.4f}, max {r.max():.4f}")
    kind = "measured" if measured else "estimated"
    print(f"    {check(f'target: {side}x{side} rightmost points in under 30 s ({kind} {t:.0f} s)', t < 30)}")
    if t >= 30:
        print(f"    missed by {t / 30:.1f}x ({kind})")
    # full boundaries: one point of the grid first (one boundary takes seconds)
    fn = grid_function(stats, lambda st: rmt.support(st, n_x=N_X), chunk=8)
    run_grid(f"support (n_x={N_X})", fn, (1, 1), (side, side), a.limit)
    print(f"    (the 1x1 small grid: alpha_r = {ALPHA_R[0]:g}, g_h = {G_H[0]:g}, through the same jit(vmap))")


# ------------------------------------------------------------------------------------------------- (3)


def count_F(fn, *args):
    """Evaluations of ``rmt.F`` one call of ``fn(*args)`` makes (with ``jax.vmap``: lanes x iterations).

    A callback that counts the lambdas it sees is patched, for this call only, into the module whose
    solvers look ``F`` up (``dynagate.rmt._support``); the JAX caches are cleared before (to retrace with
    it) and after (to drop it).
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    from dynagate.rmt import _support

    count = [0]

    def seen(lam):
        count[0] += np.size(lam)
        return np.zeros_like(lam)

    original = _support.F

    def counted(st, lam):
        shape = jax.ShapeDtypeStruct(jnp.shape(lam), jnp.result_type(lam))
        return original(st, lam + jax.pure_callback(seen, shape, lam, vmap_method="expand_dims"))

    _support.F = counted
    jax.clear_caches()
    try:
        jax.block_until_ready(fn(*args))
    finally:
        _support.F = original
        jax.clear_caches()
    return count[0]


def section_profile(a, t_support):
    import jax
    import jax.numpy as jnp

    import dynagate as dg
    from dynagate import rmt
    from dynagate.rmt import _support

    st = rmt.structure(dg.GatedRNN(**GATED), gaussian_nodes(a.nodes))
    m = st.weights.shape[0]
    print(f"\n(3) where the time goes: F(lambda) = rho(T(lambda)) at the {m} nodes of (1a)")
    lams = jnp.linspace(-1.4, 0.1, N_X) + 0.3j
    T = jax.vmap(rmt.transfer_matrix, in_axes=(None, 0))(st, lams)
    K = T.shape[-1]
    rows = [
        ("F, one lambda", jax.jit(rmt.F), (st, lams[0]), 1),
        (f"F, vmapped over {N_X} abscissae", jax.jit(jax.vmap(rmt.F, in_axes=(None, 0))), (st, lams), N_X),
        ("  transfer matrix T alone", jax.jit(jax.vmap(rmt.transfer_matrix, (None, 0))), (st, lams), N_X),
        (f"  perron_root alone ({K}x{K}, 40 squarings)", jax.jit(jax.vmap(rmt.perron_root)), (T,), N_X),
    ]
    print(f"    {'':<44}{'per call [ms]':>14}{'per F [us]':>12}{'per node [ns]':>15}")
    per_f = {}
    for label, f, args, n in rows:
        jax.block_until_ready(f(*args))
        t = median_time(f, *args, repeats=max(5, a.repeats))[0]
        per_f[label] = t / n
        print(f"    {label:<44}{1e3 * t:>14.2f}{1e6 * t / n:>12.2f}{1e9 * t / n / m:>15.1f}")
    if not a.profile:
        print("    (--profile: also count the F evaluations of one support and one rightmost call)")
        return
    t0 = time.perf_counter()
    n_sup = count_F(lambda: rmt.support(st, n_x=N_X))
    n_rm = count_F(lambda: rmt.rightmost(st, n_x=N_X_RIGHTMOST))
    n_edges = count_F(jax.jit(lambda st: _support._edge(st, 1.0)), st)
    batched = per_f[rows[1][0]]
    print(f"    F evaluations per call (counted; {time.perf_counter() - t0:.0f} s):")
    print(
        f"      support(n_x={N_X}): {n_sup} = {n_sup / N_X:.1f} per abscissa; x {1e6 * batched:.0f} us "
        f"(batched F)\n        = {n_sup * batched:.2f} s predicted, {t_support:.2f} s measured in (1a)"
    )
    print(
        f"      rightmost(n_x={N_X_RIGHTMOST}): {n_rm}, of which the right edge's bisection "
        f"{n_edges};\n        the rest is the real-axis scan fallback, evaluated under vmap even where the "
        "edge\n        bisection already gives the answer"
    )


# ------------------------------------------------------------------------------------------------ main


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    p.add_argument("--repeats", type=int, default=3, help="timed calls after compilation (median is kept)")
    limit_help = "skip a full grid estimated to take longer [s] (default 120; 20 with --quick)"
    p.add_argument("--limit", type=float, default=None, help=limit_help)
    p.add_argument("--profile", action="store_true", help="count the F evaluations (about +30 s)")
    blas_help = "OPENBLAS_NUM_THREADS for numpy.linalg.eigvals; 0 leaves OpenBLAS's default"
    p.add_argument("--blas-threads", type=int, default=1, help=blas_help)
    a = p.parse_args()
    if "OPENBLAS_NUM_THREADS" not in os.environ and a.blas_threads > 0:
        os.environ["OPENBLAS_NUM_THREADS"] = str(a.blas_threads)  # before numpy/scipy/JAX load OpenBLAS
    vars(a).update(SIZES[a.quick])
    if a.limit is None:
        a.limit = 20.0 if a.quick else 120.0

    import jax
    import numpy as np

    import dynagate  # noqa: F401  (turns on float64 unless JAX_ENABLE_X64 says otherwise)

    t0 = time.perf_counter()
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "unset (OpenBLAS default)")
    print(f"backend={jax.default_backend()} devices={jax.devices()}", end=" ")
    print(f"jax={jax.__version__} numpy={np.__version__}")
    print(f"float64={jax.config.jax_enable_x64} cpu cores={os.cpu_count()} OPENBLAS_NUM_THREADS={blas}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} (1, 5, 15 min; other processes on this machine slow every timing)")
    if a.quick:
        print("--quick: small sizes; the targets are meant for the default sizes")
    t_support = section_one_point(a)
    section_grid(a)
    section_profile(a, t_support)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load average now {load}")


if __name__ == "__main__":
    main()
