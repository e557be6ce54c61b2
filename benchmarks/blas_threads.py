"""BLAS threads and QR-heavy work: OpenBLAS's default thread count against one thread, idle and loaded.

On a small shared machine OpenBLAS's worker threads (one per core by default) compete with every other
busy process, and with XLA's own thread pool, for the cores: a QR-heavy run (Lyapunov spectra: repeated QR
of N x k frames) can then be much slower with the default than with one thread. This script measures it,
side by side in one run, for

(1) numpy: a loop of ``Q, R = numpy.linalg.qr(A @ Q)`` (the QR method in plain numpy; numpy's OpenBLAS);
(2) scipy: the same loop with ``scipy.linalg.qr(mode="economic")`` (SciPy's OpenBLAS, the library whose
    LAPACK JAX's CPU backend calls for ``jnp.linalg.qr``);
(3) jax: the same loop with ``jnp.linalg.qr`` under ``jax.jit`` (``A @ Q`` in XLA, the QR in LAPACK);
(4) dynagate: ``lyapunov_spectrum`` of a GRU (full spectrum, QR every step), whose whole loop runs in one
    jitted ``lax.scan``; the thread count is set through its ``blas_threads`` argument (0: OpenBLAS's
    default, 1: the library's default);
(5) dynagate: ``find_fixed_points`` of a vanilla RNN, 128 seeds, Newton only (its batched LU solves in
    LAPACK), through its ``blas_threads`` argument;
(6) numpy.linalg.eigvals of a dense N x N Jacobian, as ``dynagate.spectra.eigenvalues`` computes it
    (LAPACK's dgeev: Hessenberg reduction, then QR iterations), through its ``blas_threads`` argument.
    At N = 600 the default threads were no faster idle
    (ratios 1.0-1.1) and 4x slower on two cores at a load average of 7 (4.19 s against 1.07 s), so
    ``eigenvalues`` runs under the limit too.

Each workload runs with OpenBLAS's default thread count ("default", ``threadpool_info`` says how many)
and limited to one thread (``threadpoolctl.threadpool_limits(1, user_api="blas")``), first on the machine
as it is ("idle": no load added by this script; the header prints the load average, as other processes
count too), then with ``--load`` busy-loop processes started by this script ("loaded"). Times are the
median of ``--repeats`` calls after one warm-up call (JAX compilation excluded), the two thread settings
timed in turn so that both see the same spells of load. The ratio is default / one thread (> 1: one
thread is faster).

    python benchmarks/blas_threads.py [--quick] [--repeats 3] [--load 2]
"""

import argparse
import multiprocessing as mp
import os
import statistics
import time


def busy():  # pragma: no cover - a load generator
    while True:
        pass


def median_times(fns, repeats):
    """Median wall time of each zero-argument callable in ``fns`` (name -> callable), called in turn."""
    for f in fns.values():
        f()  # warm-up (compilation)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def workloads(a):
    """name -> (description, callable(threads)); threads 0 means OpenBLAS's default."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import scipy.linalg
    from threadpoolctl import threadpool_limits

    import dynagate as dg
    from dynagate.spectra import eigenvalues

    rng = np.random.default_rng(0)
    n, k, steps = a.n_qr, a.k_qr, a.steps_qr
    A = rng.normal(size=(n, n)) / np.sqrt(n)
    Q0 = np.linalg.qr(rng.normal(size=(n, k)))[0]

    def limited(f):
        def run(threads):
            if threads == 0:
                return f()
            with threadpool_limits(limits=threads, user_api="blas"):
                return f()

        return run

    def numpy_loop():
        Q = Q0
        for _ in range(steps):
            Q, _ = np.linalg.qr(A @ Q)
        return Q

    def scipy_loop():
        Q = Q0
        for _ in range(steps):
            Q, _ = scipy.linalg.qr(A @ Q, mode="economic")
        return Q

    Aj, Qj = jnp.asarray(A), jnp.asarray(Q0)
    jax_loop_jit = jax.jit(lambda A, Q: jax.lax.fori_loop(0, steps, lambda _, Q: jnp.linalg.qr(A @ Q)[0], Q))

    def jax_loop():
        return jax.block_until_ready(jax_loop_jit(Aj, Qj))

    net = dg.sample(dg.GRU(g_n=3.0), a.n_ly, key=jax.random.PRNGKey(0))

    def lyapunov(threads):
        return dg.lyapunov_spectrum(net, key=jax.random.PRNGKey(1), t_burn=0, t_frame=0, t_obs=a.steps_ly,
                                    t_ortho=1, n_blocks=2, sum_rule=False, blas_threads=threads)  # fmt: skip

    fnet = dg.sample(dg.VanillaRNN(g=3.0), a.n_fp, key=jax.random.PRNGKey(3))

    def fixed_points(threads):
        return dg.find_fixed_points(fnet, key=jax.random.PRNGKey(4), n_seeds=128, n_descent=0, n_newton=10,
                                    blas_threads=threads).count  # fmt: skip

    vnet = dg.sample(dg.VanillaRNN(g=1.5), a.n_eig, key=jax.random.PRNGKey(2))
    s = jnp.zeros(a.n_eig)

    return {
        "numpy QR loop": (f"{steps} x qr(A @ Q), {n} x {k}", limited(numpy_loop)),
        "scipy QR loop": (f"{steps} x qr(A @ Q), {n} x {k}", limited(scipy_loop)),
        "jax QR loop (jit)": (f"{steps} x qr(A @ Q), {n} x {k}", limited(jax_loop)),
        "dynagate lyapunov_spectrum": (f"GRU N={a.n_ly}, k=N, {a.steps_ly} steps, QR each", lyapunov),
        "dynagate find_fixed_points": (f"vanilla N={a.n_fp}, 128 seeds, 10 Newton steps", fixed_points),
        "numpy eigvals (spectra)": (f"{a.n_eig} x {a.n_eig}", lambda t: eigenvalues(vnet, s, blas_threads=t)),
    }


def measure(work, repeats):
    out = {}
    for name, (_, run) in work.items():
        t = median_times({0: lambda run=run: run(0), 1: lambda run=run: run(1)}, repeats)
        out[name] = (t[0], t[1])
        print(f"    {name}: default {t[0]:.3f} s, 1 thread {t[1]:.3f} s", flush=True)
    return out


SIZES = {
    False: {"n_qr": 256, "k_qr": 64, "steps_qr": 30, "n_ly": 128, "steps_ly": 100, "n_fp": 200, "n_eig": 600},
    True: {"n_qr": 128, "k_qr": 32, "steps_qr": 20, "n_ly": 64, "steps_ly": 50, "n_fp": 100, "n_eig": 300},
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per setting (median is kept)")
    p.add_argument("--load", type=int, default=2, help="busy-loop processes for the loaded measurement")
    a = p.parse_args()
    vars(a).update(SIZES[a.quick])

    import jax
    import numpy as np
    from threadpoolctl import threadpool_info

    import dynagate  # noqa: F401  (float64)

    t0 = time.perf_counter()
    print(f"jax={jax.__version__} numpy={np.__version__} backend={jax.default_backend()} "
          f"cpu cores={os.cpu_count()} float64={jax.config.jax_enable_x64}")  # fmt: skip
    work = workloads(a)  # loads numpy's and SciPy's OpenBLAS, so that threadpoolctl sees both
    for lib in threadpool_info():
        if lib["user_api"] == "blas":
            print(f"  {lib['prefix']} {lib['version']}: default {lib['num_threads']} threads "
                  f"({os.path.basename(lib['filepath'])})")  # fmt: skip
    env = {v: os.environ[v] for v in ("OPENBLAS_NUM_THREADS", "DYNAGATE_BLAS_THREADS") if v in os.environ}
    print(f"  environment: {env or 'no thread variables set'}")

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nidle (no load added; load average {load}):")
    idle = measure(work, a.repeats)

    ctx = mp.get_context("spawn")  # not fork: JAX has started threads in this process
    procs = [ctx.Process(target=busy, daemon=True) for _ in range(a.load)]
    for q in procs:
        q.start()
    try:
        time.sleep(1.0)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\nloaded ({a.load} busy-loop processes added; load average {load}):")
        loaded = measure(work, a.repeats)
    finally:
        for q in procs:
            q.terminate()
        for q in procs:
            q.join()

    print(f"\nmedian of {a.repeats} calls [s]; ratio = default / 1 thread (> 1: one thread is faster)")
    head = f"{'workload':<28}{'size':<36}{'idle dflt':>10}{'idle 1':>9}{'ratio':>7}"
    print(head + f"{'load dflt':>11}{'load 1':>9}{'ratio':>7}")
    for name, (desc, _) in work.items():
        (i0, i1), (l0, l1) = idle[name], loaded[name]
        print(f"{name:<28}{desc:<36}{i0:>10.3f}{i1:>9.3f}{i0 / i1:>7.2f}{l0:>11.3f}{l1:>9.3f}{l0 / l1:>7.2f}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
