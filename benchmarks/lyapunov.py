"""Lyapunov spectra: speed against a torch-autograd baseline and lyapax, and the achieved flop rate.

Everything is measured side by side in one run, in float64. JAX timings are wall-clock, the best of
``--repeats`` calls made after one warm-up call (so JAX compilation is excluded); calls that are compared
with each other are timed in turn, so that on a shared machine they see the same spells of load.

(a) GRU, N = 256, full spectrum, S steps from the same initial state: the approach of existing RNN Lyapunov
    code (a ``torch.nn.GRUCell`` with the same weights; per step ``torch.autograd.functional.jacobian``,
    Q = J Q, ``torch.linalg.qr`` every step) against ``dynagate.lyapunov.lyapunov_spectrum`` with QR every
    step and with its default ``t_ortho = 5``. Target: >= 20x faster.
(b) GRU, N = 1024, full spectrum, t_ortho = 5, 50 steps: achieved GFLOP/s (J Q: 2 N^2 k per step; QR:
    2 N k^2 - 2/3 k^3 each) as a fraction of the jitted float64 N x N matmul rate, with a breakdown of where
    the time goes. Target: >= 0.4.
(c) Vanilla flow dh/dt = -h + J tanh(h), N = 512, g = 2: lambda_1 and time against ``lyapax`` (PyPI;
    ``pip install lyapax``, a benchmark-only dependency) at the same RK4 step, transient, observation time
    and renormalisation interval, both on the exact RK4 tangent.
(d) GPU only: the full spectrum of an N = 4096 vanilla Euler map (delta = 0.5), 5000 steps, QR every step.

    python benchmarks/lyapunov.py [--quick] [--repeats 3] [--blas-threads 1]

LAPACK threads: JAX's CPU QR calls LAPACK from SciPy's bundled OpenBLAS, whose worker threads compete with
XLA's own thread pool (and with any other process) for the cores. On a small, shared machine this
oversubscription made QR-heavy runs 10-400x slower in our measurements (``benchmarks/blas_threads.py``),
so ``lyapunov_spectrum`` itself runs under a limit of one BLAS thread (``dynagate.blas``: its
``blas_threads`` argument, else DYNAGATE_BLAS_THREADS, else 1; 0 leaves OpenBLAS's default). This script
runs everything it times under that same limit, lyapax and the pieces of (b) included, so that the
comparisons are like for like: ``--blas-threads N`` sets it (default: DYNAGATE_BLAS_THREADS, else 1; 0 leaves
OpenBLAS's default). torch uses its own BLAS, outside the limit. The header prints the setting in force.
"""

import argparse
import math
import os
import time


def interleaved_best(fns, rounds, inner=None):
    """Best wall time of each callable in ``fns`` (name -> zero-argument callable), and its last result.

    Each is called once to warm up (JAX compilation), then the callables are timed in turn, ``rounds``
    times over (``inner[name]`` calls per round, default 1), so that on a shared machine all of them see
    the same spells of load. A callable must return host values, or arrays it has waited for.
    """
    inner = inner or {}
    out = {name: f() for name, f in fns.items()}
    best = dict.fromkeys(fns, math.inf)
    for _ in range(rounds):
        for name, f in fns.items():
            for _ in range(inner.get(name, 1)):
                t0 = time.perf_counter()
                out[name] = f()
                best[name] = min(best[name], time.perf_counter() - t0)
    return best, out


def ready(f, *args):
    """A zero-argument callable running the jitted ``f(*args)`` and waiting for its result."""
    import jax

    return lambda: jax.block_until_ready(f(*args))


def check(label, ok):
    return f"{label}: {'PASS' if ok else 'FAIL'}"


# ------------------------------------------------------------------------------------------------- (a)


def torch_gru_cell(net):
    """A float64 ``torch.nn.GRUCell`` (input size 1) with the weights of the dynagate ``GRUNet``."""
    import numpy as np
    import torch

    n = net.n_state
    cell = torch.nn.GRUCell(1, n, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.zero_()  # the net has no input; with x = 0 these weights do not matter
        cell.weight_hh.copy_(torch.from_numpy(np.array(net.W_hh)))
        cell.bias_ih.copy_(torch.from_numpy(np.array(net.b_ih)))
        cell.bias_hh.copy_(torch.from_numpy(np.array(net.b_hh)))
    return cell


def torch_spectrum(cell, h0, steps, *, vectorize=False):
    """The baseline: per step the autograd Jacobian of the cell w.r.t. h, Q = J Q, QR, log|diag R|.

    Returns ``(wall time, exponents sorted descending)``; the random initial frame is drawn untimed.
    """
    import numpy as np
    import torch

    n = h0.shape[0]
    x = torch.zeros(1, dtype=torch.float64)
    h = torch.from_numpy(np.array(h0))
    gen = torch.Generator().manual_seed(0)
    Q = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=gen))[0]
    logs = torch.zeros(n, dtype=torch.float64)
    t0 = time.perf_counter()
    for _ in range(steps):
        J = torch.autograd.functional.jacobian(lambda u: cell(x, u), h, vectorize=vectorize)
        with torch.no_grad():
            h = cell(x, h)
            Q, R = torch.linalg.qr(J @ Q)
            logs += torch.log(torch.abs(torch.diagonal(R)))
    elapsed = time.perf_counter() - t0
    return elapsed, np.sort(logs.numpy() / steps)[::-1]


def section_a(a):
    import jax
    import numpy as np
    import torch

    import dynagate as dg
    from dynagate.lyapunov import lyapunov_spectrum

    n, steps = a.n_a, a.steps_a
    k_net, k_state, k_frame = jax.random.split(jax.random.PRNGKey(0), 3)
    net = dg.sample(dg.GRU(g_n=3.0), n, key=k_net)
    cell = torch_gru_cell(net)
    h0 = np.asarray(jax.random.normal(k_state, (n,)))
    with torch.no_grad():
        one = cell(torch.zeros(1, dtype=torch.float64), torch.from_numpy(h0.copy())).numpy()
    mismatch = float(np.max(np.abs(one - np.asarray(net.rhs(h0)))))

    print(f"\n(a) GRU(g_n=3.0), N={n}, full spectrum (k={n}), {steps} steps, same initial state, no burn-in")
    print(f"    torch GRUCell vs dynagate GRUNet, one step from h0: max|diff| = {mismatch:.1e}")
    print(
        f"    torch ({torch.get_num_threads()} threads): one timed run each; dynagate: best of {a.repeats} "
        "after a warm-up call (compilation excluded)"
    )
    rows = []
    t_ref, lam = torch_spectrum(cell, h0, steps)
    rows.append(("torch autograd jacobian + QR every step", t_ref, lam))
    t, lam = torch_spectrum(cell, h0, steps, vectorize=True)
    rows.append(("  same, jacobian(vectorize=True)", t, lam))
    runs = {
        t_ortho: lambda t_ortho=t_ortho: lyapunov_spectrum(
            net, key=k_frame, k=None, state0=h0, t_burn=0, t_frame=0, t_obs=steps, t_ortho=t_ortho,
            n_blocks=2, sum_rule=False,
        )
        for t_ortho in (1, 5)
    }  # fmt: skip
    best, res = interleaved_best(runs, a.repeats)
    rows.append(("dynagate, t_ortho=1 (QR every step)", best[1], res[1].exponents))
    rows.append(("dynagate, t_ortho=5 (default)", best[5], res[5].exponents))
    print(f"    {'method':<42}{'time [s]':>10}{'speed-up':>10}{'lambda_1':>11}{'sum(lambda)':>14}")
    for label, t, lam in rows:
        print(f"    {label:<42}{t:>10.3f}{t_ref / t:>9.1f}x{lam[0]:>11.5f}{lam.sum():>14.8f}")
    ratio = t_ref / rows[2][1]
    target = "target: dynagate with QR every step >= 20x faster than the torch baseline"
    print(f"    {check(target, ratio >= 20)}")
    print("    lambda_1 (per step) differs by the frame burn-in bias: different random frames, none")
    print("    aligned; sum(lambda) = <log|det J|> along the shared orbit does not depend on the frame")


# ------------------------------------------------------------------------------------------------- (b)


def section_b(a):
    import jax
    import jax.numpy as jnp

    import dynagate as dg
    from dynagate.lyapunov import lyapunov_spectrum, tangent_step

    n, steps, t_ortho = a.n_b, a.steps_b, 5
    k, n_qr = n, steps // t_ortho
    rounds = max(3, a.repeats)
    keys = jax.random.split(jax.random.PRNGKey(1), 5)
    A, B = jax.random.normal(keys[0], (n, n)), jax.random.normal(keys[1], (n, n))
    matmul = jax.jit(jnp.dot)
    net = dg.sample(dg.GRU(g_n=3.0), n, key=keys[2])
    h0 = jax.random.normal(keys[3], (n,))
    Q = jnp.linalg.qr(jax.random.normal(keys[4], (n, k)))[0]
    J = net.jac(h0)

    def tangent_steps(m, h, Q):  # the map step and J @ Q as the run does them: 5 steps in a scan
        step = tangent_step(m, None, None)  # maps need no solver or dt
        return jax.lax.scan(lambda c, _: (step(*c, None)[:2], None), (h, Q), length=5)[0]

    # The run, the matmul reference and each piece of the run (jitted alone) are timed in turn, so that
    # all see the same load on a shared machine.
    best, out = interleaved_best(
        {
            "matmul": ready(matmul, A, B),
            "run": lambda: lyapunov_spectrum(
                net, key=keys[4], k=None, state0=h0, t_burn=0, t_frame=0, t_obs=steps, t_ortho=t_ortho,
                n_blocks=2, sum_rule=False,
            ),
            "jac": ready(jax.jit(lambda m, h: m.jac(h)), net, h0),
            "rhs": ready(jax.jit(lambda m, h: m.rhs(h)), net, h0),
            "JQ": ready(matmul, J, Q),
            "QR": ready(jax.jit(jnp.linalg.qr), J @ Q),
            "step": ready(jax.jit(tangent_steps), net, h0, Q),
        },
        rounds,
        inner={"matmul": 5, "jac": 5, "rhs": 5, "JQ": 5, "QR": 3},
    )  # fmt: skip
    t_mm, t_run, res, t_qr, t_step = best["matmul"], best["run"], out["run"], best["QR"], best["step"] / 5
    pieces = [
        ("build J (net.jac)", best["jac"], steps),
        ("state step (net.rhs)", best["rhs"], steps),
        ("J @ Q", best["JQ"], steps),
        (f"QR of {n}x{k} (Q and R)", t_qr, n_qr),
    ]
    rate_mm = 2 * n**3 / t_mm
    flops = steps * 2 * n**2 * k + n_qr * (2 * n * k**2 - 2 / 3 * k**3)
    rate = flops / t_run
    frac = rate / rate_mm

    print(f"\n(b) GRU(g_n=3.0), N={n}, full spectrum, t_ortho={t_ortho}, {steps} steps ({n_qr} QRs)")
    print(f"    float64 {n}x{n} matmul (jnp.dot, jitted): {1e3 * t_mm:.1f} ms = {rate_mm / 1e9:.1f} GFLOP/s")
    print(f"    Lyapunov run, no burn-in: {t_run:.2f} s, lambda_1 = {res.exponents[0]:.4f} per step")
    print(
        f"    counted work: J@Q 2N^2k per step + QR (2Nk^2 - 2k^3/3) each = {flops / 1e9:.1f} GFLOP "
        "(forming Q explicitly costs about as much again; not counted)"
    )
    print(f"    achieved {rate / 1e9:.1f} GFLOP/s = {frac:.2f} of the matmul rate")
    print(f"    {check('target: >= 0.4 of the matmul rate', frac >= 0.4)}")
    print(f"    (all timed in turn, best of {rounds} rounds after a warm-up call)")
    print("    where the time goes (each piece jitted alone):")
    print(f"      {'piece':<26}{'per call [ms]':>14}{'calls':>7}{'total [s]':>11}{'share of run':>14}")
    total = 0.0
    for label, t, calls in pieces:
        total += t * calls
        print(f"      {label:<26}{1e3 * t:>14.2f}{calls:>7}{t * calls:>11.3f}{t * calls / t_run:>13.0%}")
    print(f"      {'sum of pieces':<26}{'':>14}{'':>7}{total:>11.3f}{total / t_run:>13.0%}")
    rest = t_run - total
    print(f"      {'rest (loop, copies, noise)':<26}{'':>14}{'':>7}{rest:>11.3f}{rest / t_run:>13.0%}")
    predicted = steps * t_step + n_qr * t_qr
    print(
        f"    one whole step as the run does it (J, state, J @ Q; 5 in a scan): {1e3 * t_step:.2f} ms; "
        f"{steps} of them + {n_qr} QRs predict {predicted:.2f} s, the run took {t_run:.2f} s"
    )
    print(
        f"    QR runs at {4 / 3 * n**3 / t_qr / 1e9:.1f} GFLOP/s counting the factorisation only "
        f"({8 / 3 * n**3 / t_qr / 1e9:.1f} with forming Q); matmul at {rate_mm / 1e9:.1f}"
    )


# ------------------------------------------------------------------------------------------------- (c)


def section_c(a):
    import jax
    import jax.numpy as jnp
    import numpy as np

    import dynagate as dg
    from dynagate.lyapunov import lyapunov_spectrum

    n, dt, t_tr, t_obs, t_ortho = a.n_c, 0.05, a.t_tr_c, a.t_obs_c, 1.0
    renorm = round(t_ortho / dt)
    print(f"\n(c) vanilla flow dh/dt = -h + J tanh(h), g=2.0, N={n}: lambda_1 (k=1) against lyapax")
    print(
        f"    both: RK4 dt={dt} with its exact tangent, same initial state, transient {t_tr:g} (state and "
        f"frame together), observation {t_obs:g}, QR every {t_ortho:g} ({renorm} steps)"
    )
    try:
        import lyapax
    except ImportError:
        print("    SKIPPED: lyapax is not installed (it is only a benchmark dependency: pip install lyapax)")
        return
    k_net, k_state, k_frame = jax.random.split(jax.random.PRNGKey(2), 3)
    net = dg.sample(dg.VanillaRNN(g=2.0), n, key=k_net)
    s0 = jax.random.normal(k_state, (n,))
    n_obs = round(t_obs / dt)

    # lyapax takes a step function state -> state; its transient both burns the state in and aligns the
    # frame, which is dynagate's t_burn=0, t_frame=t_tr. It is wrapped in jax.jit (its own entry point is
    # eager, and would re-trace every call), so its compilation is excluded as dynagate's is.
    @jax.jit
    def lyapax_run(J, b, s0):
        step = lyapax.ode_step(lambda h: -h + J @ jnp.tanh(h) + b, dt, "rk4")
        res = lyapax.lyapunov_spectrum(
            step, s0, dt, n_obs, k=1, renorm_every=renorm, t_transient=t_tr, seed=0
        )
        return res.exponents

    best, out = interleaved_best(
        {
            "lyapax": lambda: np.asarray(lyapax_run(net.J, net.b, s0)),
            "dynagate": lambda: lyapunov_spectrum(
                net, key=k_frame, k=1, state0=s0, dt=dt, t_burn=0.0, t_frame=t_tr, t_obs=t_obs,
                t_ortho=t_ortho, n_blocks=20,
            ),
        },
        a.repeats,
    )  # fmt: skip
    t_lx, lam_lx, t_dg, res = best["lyapax"], out["lyapax"], best["dynagate"], out["dynagate"]
    lam_dg, err = res.exponents[0], res.stderr[0]
    print(f"    both timed best of {a.repeats}, in turn, after a warm-up call (compilation excluded)")
    print(f"    {'library':<22}{'time [s]':>10}{'lambda_1':>11}{'stderr':>10}")
    print(f"    {'dynagate':<22}{t_dg:>10.3f}{lam_dg:>11.5f}{err:>10.5f}   (batch means, 20 blocks)")
    print(
        f"    {'lyapax ' + lyapax.__version__:<22}{t_lx:>10.3f}{lam_lx[0]:>11.5f}{'n/a':>10}"
        "   (no error bar: a running history only)"
    )
    diff = lam_lx[0] - lam_dg
    print(
        f"    lambda_1 difference {diff:+.5f} = {diff / err:+.1f} stderr; "
        f"time ratio lyapax/dynagate = {t_lx / t_dg:.2f}"
    )
    print("    (same orbit, different random frames: after alignment both follow the same top direction)")


# ------------------------------------------------------------------------------------------------- (d)


def section_d(a):
    import jax

    import dynagate as dg
    from dynagate.lyapunov import lyapunov_spectrum

    n, steps = a.n_d, a.steps_d
    print(f"\n(d) vanilla Euler map (g=2.0, delta=0.5), N={n}, full spectrum, {steps} steps, QR every step")
    if jax.default_backend() != "gpu" and not a.force_d:
        print(f"    SKIPPED: no GPU (JAX backend is {jax.default_backend()!r})")
        return
    k_net, k_state = jax.random.split(jax.random.PRNGKey(3))
    net = dg.sample(dg.VanillaRNN(g=2.0, delta=0.5), n, key=k_net)
    t0 = time.perf_counter()
    res = lyapunov_spectrum(
        net, key=k_state, k=None, t_burn=0, t_frame=0, t_obs=steps, t_ortho=1, n_blocks=20, sum_rule=False
    )
    t = time.perf_counter() - t0
    print(
        f"    {t:.1f} s in one call (includes compilation, a few seconds), {1e3 * t / steps:.2f} ms/step;"
        f" lambda_1 = {res.exponents[0]:.5f} +- {res.stderr[0]:.5f} per step, status {res.status}"
    )


# ------------------------------------------------------------------------------------------------ main


#: Problem sizes: default, and with --quick.
SIZES = {
    False: {
        "n_a": 256,
        "steps_a": 200,
        "n_b": 1024,
        "steps_b": 50,
        "n_c": 512,
        "t_tr_c": 100.0,
        "t_obs_c": 400.0,
    },
    True: {"n_a": 128, "steps_a": 40, "n_b": 512, "steps_b": 20, "n_c": 256, "t_tr_c": 20.0, "t_obs_c": 80.0},
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes and short runs, to try the script")
    p.add_argument("--repeats", type=int, default=3, help="timed calls after the warm-up (best is kept)")
    blas_help = "BLAS threads for LAPACK (JAX's CPU QR), as dynagate.blas; 0 leaves OpenBLAS's default"
    p.add_argument("--blas-threads", type=int, default=None, help=blas_help)
    p.add_argument("--force-d", action="store_true", help="run (d) even without a GPU (use a small --n-d)")
    p.add_argument("--n-d", type=int, default=4096)
    p.add_argument("--steps-d", type=int, default=5000)
    a = p.parse_args()
    if a.blas_threads is not None:
        os.environ["DYNAGATE_BLAS_THREADS"] = str(a.blas_threads)  # read by dynagate.blas at each call
    vars(a).update(SIZES[a.quick])

    import jax
    import torch

    import dynagate  # noqa: F401  (turns on float64 unless JAX_ENABLE_X64 says otherwise)
    from dynagate.blas import blas_threads, limit_blas

    t0 = time.perf_counter()
    n_blas = blas_threads()
    blas = f"{n_blas}" if n_blas else "OpenBLAS default (OPENBLAS_NUM_THREADS=" + os.environ.get(
        "OPENBLAS_NUM_THREADS", "unset") + ")"  # fmt: skip
    print(f"backend={jax.default_backend()} devices={jax.devices()}", end=" ")
    print(f"jax={jax.__version__} torch={torch.__version__}")
    print(f"float64={jax.config.jax_enable_x64} cpu cores={os.cpu_count()} BLAS threads={blas}")
    print(f"load average {os.getloadavg()[0]:.1f} (other processes on this machine slow every timing)")
    if a.quick:
        print("--quick: small sizes and short runs; the targets are meant for the default sizes")
    with limit_blas():  # the limit lyapunov_spectrum applies, here around lyapax and the pieces of (b) too
        section_a(a)
        section_b(a)
        section_c(a)
        section_d(a)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
