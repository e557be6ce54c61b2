"""The run-time estimates of ``dynagate.limits`` against the run time, command by command.

Every command estimates its run time before any work and refuses one above ``--max-time``
(``dynagate/limits.py``). The estimate is meant to be within a small factor of the truth and above it,
so that a limit never refuses a run that fits and the line it prints is a fair warning. This script runs
representative commands in this process, end to end as a user does (compilation included, each one
cold unless an earlier row compiled the same pieces), captures the estimate each one checks, and prints
estimate / wall time. A ratio below 1 means the estimate is too low (the limit could let a run through
that takes longer than it says); far above 10 means it refuses runs that fit.

Rows: the CLI commands (``spectrum``, ``lyapunov``, ``fixed-points``, ``dmft``, ``complexity``,
``phase-diagram``), then the network runs of ``dynagate validate`` (``dynagate.chaos.simulate_chaos``:
relaxation, autocorrelation and lambda_max by QR with one vector) at N = 1000 and 2000, shortened, against
``limits.simulation + limits.lyapunov`` as ``dynagate.validate.estimate`` counts them.

    python benchmarks/limits.py [--quick]
"""

import argparse
import contextlib
import io
import tempfile
import time

import jax

from dynagate import limits

jax.config.update("jax_enable_x64", True)


def cli_row(argv: list[str]) -> tuple[float, float, str]:
    """Run ``dynagate argv`` in this process: (the estimate it checked, wall seconds, what dominates)."""
    from dynagate.cli import main

    seen = []
    check = limits.check

    def capture(est, **kw):
        seen.append(est)
        return check(est, **kw)

    limits.check = capture
    try:
        with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            code = main([*argv, "--out", out])
            wall = time.perf_counter() - t0
    finally:
        limits.check = check
    if code != 0 or not seen:
        raise SystemExit(f"dynagate {' '.join(argv)} exited {code}")
    return seen[-1].time, wall, seen[-1].time_what


def chaos_row(ens, n: int, t_frame: float, t_obs: float, dt: float) -> tuple[float, float, str]:
    """One network of ``dynagate validate`` (:func:`dynagate.chaos.simulate_chaos`) against its estimate."""
    from dynagate.chaos import simulate_chaos

    step = dt if limits.network(ens, 8).stages > 1 else 1.0
    steps, saved = round((t_frame + t_obs) / step), round(t_obs / step)
    net = limits.network(ens, n)
    est = limits.simulation(net, steps, saved) + limits.lyapunov(net, 1, steps, 1, False)
    t0 = time.perf_counter()
    simulate_chaos(ens, n, key=jax.random.PRNGKey(1), t_obs=t_obs, max_lag=t_obs / 4, t_frame=t_frame, dt=dt)
    return est.time, time.perf_counter() - t0, est.time_what


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the short rows only (about 2 minutes)")
    args = ap.parse_args()
    from dynagate.models import GRU, LSTM, GatedRNN, VanillaRNN

    commands = [
        ["spectrum", "gated", "--n", "500"],
        ["spectrum", "vanilla", "--n", "1500"],
        ["lyapunov", "vanilla", "--n", "200", "--t-obs", "400"],
        ["lyapunov", "gated", "--n", "60", "--t-obs", "2000"],
        ["lyapunov", "gated", "--n", "1000", "--k", "1", "--t-obs", "200"],
        ["fixed-points", "gated", "--n", "100", "--seeds", "512"],
        ["complexity", "vanilla", "--param", "g=1.2:2:5"],
        ["phase-diagram", "gated", "--preset", "gated-reset", "--simulate"],
        ["dmft", "gru", "--set", "g_n=3", "--set", "mu_z=-2"],
    ]
    if not args.quick:
        commands.append(["dmft", "gated", "--set", "g_h=4", "--set", "alpha_z=2"])
    networks = [(GatedRNN(g_h=4.0), 1000, 30.0, 100.0, 0.05), (LSTM(g_u=4.0), 1000, 300.0, 1000.0, 1.0),
                (VanillaRNN(g=2.0), 1000, 30.0, 100.0, 0.05)]  # fmt: skip
    if not args.quick:
        networks.append((GRU(g_n=3.0, mu_z=-2.0), 2000, 300.0, 1000.0, 1.0))
    print(f"limits.RATE = {limits.RATE:.3g} flop/s, limits.DENSE_RATE = {limits.DENSE_RATE:.3g} flop/s; "
          f"jax {jax.__version__}, {jax.devices()[0].platform}")  # fmt: skip
    print(f"{'run':58s} {'estimate':>10s} {'wall':>9s} {'ratio':>6s}  estimate dominated by")
    rows = [(" ".join(c), lambda c=c: cli_row(c)) for c in commands]
    rows += [
        (f"simulate_chaos {type(a[0]).__name__} N = {a[1]}, {a[2]:g} + {a[3]:g}", lambda a=a: chaos_row(*a))
        for a in networks
    ]
    ratios = []
    for name, run in rows:
        est, wall, what = run()
        ratios.append(est / wall)
        print(f"{name:58s} {est:9.1f}s {wall:8.2f}s {est / wall:6.2f}  {what}", flush=True)
    print(f"ratio estimate / wall: min {min(ratios):.2f}, max {max(ratios):.2f}")


if __name__ == "__main__":
    main()
