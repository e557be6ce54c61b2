"""Fixed-point search: speed and yield of ``dynagate.fixedpoints``, with BrainPy's SlowPointFinder beside it.

Wall-clock times on JAX's default backend in float64. Every pipeline is run in this one process.

(1) ``find_fixed_points`` with 10^4 seeds (scale 2.5) on an N = 100 gated RNN (g_h = 3, alpha_r = 5,
    instantaneous gates, so the state is h only): the first call (with compilation) and a second call,
    distinct fixed points, converged seeds, max residual, stable points. Target: < 60 s on 2 cores.
(2) The map of a GRU (g_n = 5, N = 64, zero input), 2000 seeds (scale 1): ``find_fixed_points`` against
    ``brainpy.analysis.SlowPointFinder`` (PyPI ``brainpy``, a benchmark-only dependency; skipped when not
    installed), given the same seeds (dynagate's: half draws, half trajectory ends) and run as its docs do
    it: Adam on |F(h) - h|^2 (its defaults: 10^4 steps, lr 0.2 decaying), ``filter_loss(1e-5)``,
    ``keep_unique()``. Its points (those passing ``filter_loss``, and all its end points) are then polished
    with dynagate's damped Newton to max|F| < 1e-10 and deduplicated with dynagate's tolerance, so that both
    sets are counted alike; the table gives the points each finds that the other misses.

    python benchmarks/fixed_points.py [--quick]
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.spatial

import dynagate as dg
from dynagate.fixedpoints import _dedup, _polish, _seeds, find_fixed_points

TOL, DEDUP = 1e-10, 1e-6  # find_fixed_points' defaults in float64


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def polish(net, x, points):
    """Damped Newton from ``points`` (no descent), keep max|F| < TOL, deduplicate: distinct fixed points."""
    p, r, _ = _polish(net, x, jnp.asarray(points), 0.05, 0, 40, 1e-10)
    p, r = np.asarray(p), np.asarray(r)
    conv = p[np.isfinite(r) & (r < TOL)]
    return conv[_dedup(conv, DEDUP)]


def missing(a, b):
    """Number of points of ``a`` with no point of ``b`` within the deduplication tolerance."""
    if len(a) == 0 or len(b) == 0:
        return len(a)
    r = DEDUP * (1.0 + max(np.abs(a).max(), np.abs(b).max()))
    d, _ = scipy.spatial.cKDTree(b).query(a, p=np.inf)
    return int(np.sum(d > r))


def section_1(n_seeds):
    net = dg.sample(dg.GatedRNN(g_h=3.0, alpha_r=5.0, tau_z=0.0, tau_r=0.0), 100, key=jax.random.PRNGKey(0))
    run = lambda: find_fixed_points(net, key=jax.random.PRNGKey(1), n_seeds=n_seeds, scale=2.5)  # noqa: E731
    fp, t1 = timed(run)
    fp, t2 = timed(run)
    print(f"\n(1) gated RNN g_h=3, alpha_r=5, instantaneous gates, N=100: find_fixed_points, {n_seeds} seeds")
    print(
        f"    {'first call [s]':>15}{'second [s]':>12}{'distinct':>10}{'converged':>11}{'max resid':>11}"
        f"{'stable':>8}{'index range':>13}"
    )
    idx = f"{fp.index.min()}-{fp.index.max()}" if fp.count else "-"
    print(
        f"    {t1:>15.1f}{t2:>12.1f}{fp.count:>10}{fp.n_converged:>11}{fp.max_residual:>11.1e}"
        f"{fp.n_stable:>8}{idx:>13}"
    )
    print(
        f"    target (10^4 seeds) < 60 s on the second call: {'met' if t2 < 60 else 'NOT met'}; "
        f"{fp.failure_rate:.1%} of seeds did not converge"
    )


def section_2(n_seeds):
    n, scale, key = 64, 1.0, jax.random.PRNGKey(1)
    net = dg.sample(dg.GRU(g_n=5.0), n, key=jax.random.PRNGKey(0))
    x = jnp.zeros(net.n_input)
    print(f"\n(2) GRU g_n=5, N={n}, x=0 (a map: F(h) = rhs(h, x) - h), {n_seeds} seeds (scale {scale:g})")
    run = lambda: find_fixed_points(net, key=key, n_seeds=n_seeds, x=x, scale=scale)  # noqa: E731
    fp, t_dg1 = timed(run)
    fp, t_dg = timed(run)
    ours = fp.points
    try:
        import brainpy as bp
        import brainpy.math as bm
    except ImportError as e:
        print(
            f"    dynagate: {fp.count} distinct fixed points ({fp.n_stable} stable), {t_dg:.1f} s "
            f"({t_dg1:.1f} s with compilation)"
        )
        print(f"    brainpy not installed: {e} (pip install brainpy); comparison skipped")
        return
    bm.enable_x64()  # importing brainpy turns JAX's float64 off
    seeds = _seeds(net, key, n_seeds, None, scale, None, n, 200, 0.05, x)  # the seeds find_fixed_points used
    finder = bp.analysis.SlowPointFinder(f_cell=lambda h: net.rhs(h, x), f_type="discrete", verbose=False)
    t0 = time.perf_counter()
    finder.find_fps_with_gd_method(candidates=seeds, tolerance=1e-5, num_batch=200)
    t_gd = time.perf_counter() - t0
    ends = finder.fixed_points
    finder.filter_loss(1e-5)
    kept = finder.fixed_points
    finder.keep_unique()
    t_bp = time.perf_counter() - t0
    pol_kept, t_pk = timed(lambda: polish(net, x, kept))
    pol_all, t_pa = timed(lambda: polish(net, x, ends))
    print(
        f"    brainpy {bp.__version__}: {len(ends)} Adam end points ({t_gd:.1f} s incl. compilation), "
        f"{len(kept)} pass filter_loss(1e-5), keep_unique() leaves {finder.num_fps} ({t_bp:.1f} s in all)"
    )
    print(f"    {'method':<44}{'time [s]':>10}{'distinct':>10}{'only this':>11}{'only dynagate':>15}")
    print(f"    {'dynagate find_fixed_points (2nd call)':<44}{t_dg:>10.1f}{len(ours):>10}{'':>11}{'':>15}")
    print(f"    {'  first call, with compilation':<44}{t_dg1:>10.1f}")
    own = finder.num_fps
    print(f"    {'brainpy (own output, not polished)':<44}{t_bp:>10.1f}{own:>10}{'n/a':>11}{'n/a':>15}")
    for label, pts, t in (
        ("brainpy filter_loss points + Newton polish", pol_kept, t_bp + t_pk),
        ("brainpy all end points + Newton polish", pol_all, t_gd + t_pa),
    ):
        print(f"    {label:<44}{t:>10.1f}{len(pts):>10}{missing(pts, ours):>11}{missing(ours, pts):>15}")
    print(
        f"    (Newton polish alone: {t_pk:.1f} s and {t_pa:.1f} s, compilation included; matching and "
        f"deduplication: max|s - s'| < {DEDUP:g} (1 + max|s|))"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer seeds (1000 and 500), to try the script")
    a = ap.parse_args()
    print(
        f"backend {jax.default_backend()}, jax {jax.__version__}, float64 {jax.config.jax_enable_x64}, "
        f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}"
    )
    t0 = time.perf_counter()
    section_1(1000 if a.quick else 10_000)
    section_2(500 if a.quick else 2000)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
