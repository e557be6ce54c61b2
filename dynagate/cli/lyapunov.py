"""``dynagate lyapunov``: the Lyapunov spectrum of one sampled network (QR method, with error bars)."""

from __future__ import annotations

from ..results import Status
from ._common import (
    busy,
    check_limits,
    ensemble_from,
    network_args,
    network_from,
    network_sizes,
    output_args,
    print_json,
    save,
    sets_text,
    warm_saving,
)

#: The full spectrum is computed up to this state dimension, else ``DEFAULT_K`` exponents.
FULL_SPECTRUM_MAX = 64
DEFAULT_K = 10


def add_parser(sub) -> None:
    p = sub.add_parser(
        "lyapunov",
        help="Lyapunov spectrum of one sampled network (QR method, with error bars)",
        description="Sample one network of size N and compute its k largest Lyapunov exponents by the QR "
        "(Benettin) method, with batch-means standard errors, the Kaplan-Yorke dimension and the "
        "entropy. Times are in units of tau_h for flows and in steps for maps; unset times take the "
        "library defaults (flows: burn 200, frame 200, obs 1000, ortho 1; maps: 500, 500, 5000, 5).",
    )
    network_args(p, n=100)
    p.add_argument(
        "--k",
        type=int,
        default=None,
        help=f"number of exponents (default: all if the state dimension is <= {FULL_SPECTRUM_MAX}, else "
        f"{DEFAULT_K})",
    )
    p.add_argument("--t-obs", type=float, default=None, help="observation time (time units or steps)")
    p.add_argument("--t-burn", type=float, default=None, help="state burn-in before the frame is started")
    p.add_argument("--t-frame", type=float, default=None, help="frame burn-in (alignment, not counted)")
    p.add_argument("--t-ortho", type=float, default=None, help="re-orthonormalisation interval")
    p.add_argument("--dt", type=float, default=None, help="RK4 step for flows (default 0.05)")
    output_args(p, "out/lyapunov")
    p.set_defaults(run=run)


def run(args) -> int:

    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import xarray as xr
    from matplotlib.figure import Figure

    from ..errors import Interrupted
    from ..io import provenance
    from ..lyapunov import lyapunov_spectrum
    from ..plotting import plot_lyapunov

    times = {"t_obs": args.t_obs, "t_burn": args.t_burn, "t_frame": args.t_frame, "t_ortho": args.t_ortho}
    _check_limits(args, times)
    ens, net, ks = network_from(args)
    n_state = net.n_state
    k = args.k
    if k is None:
        k = n_state if n_state <= FULL_SPECTRUM_MAX else DEFAULT_K
    what = f"{k} Lyapunov exponent{'s' if k != 1 else ''} of {args.model}, N = {args.n}"
    stopped = None
    warm_saving()
    with busy(f"computing {what}", enabled=not args.json) as spinner:
        try:
            how_far = lambda stage, i, n: spinner.note(f"{stage} {100 * i // n}%")  # noqa: E731
            res = lyapunov_spectrum(net, key=ks, k=k, dt=args.dt, progress=how_far, **times)
        except Interrupted as e:
            if e.partial is None:
                raise Interrupted(f"{_plain(e)}; nothing was saved") from None
            res, stopped = e.partial, e  # the finished observation blocks (status interrupted), saved below

    result = {
        "model": args.model,
        "n": args.n,
        "n_state": n_state,
        "k": res.k,
        "seed": args.seed,
        **res.summary(),
        "dt": res.dt,
        "max_cond": res.max_cond,
        "parameters": ens.params(),
    }
    index = np.arange(1, res.k + 1)
    ds = xr.Dataset(
        {
            "exponent": ("index", res.exponents, {"long_name": "Lyapunov exponent λ_i", "units": res.units}),
            "stderr": ("index", res.stderr, {"long_name": "standard error of λ_i", "units": res.units}),
            "block_estimate": (
                ("block", "index"),
                res.blocks,
                {"long_name": "per-block estimate of λ_i (batch means)", "units": res.units},
            ),
        },
        coords={"index": index, "block": np.arange(1, res.blocks.shape[0] + 1)},
        attrs=provenance(
            command="lyapunov",
            model=args.model,
            ensemble=type(ens).__name__,
            n=args.n,
            n_state=n_state,
            seed=args.seed,
            k=res.k,
            units=res.units,
            t_obs=res.t_obs,
            t_burn=res.t_burn,
            t_frame=res.t_frame,
            t_ortho=res.t_ortho,
            dt=res.dt,
            status=res.status,
            message=res.message,
            interrupted=stopped is not None,
            lambda_max=res.lambda_max,
            kaplan_yorke=res.kaplan_yorke,
            ks_entropy=res.ks_entropy,
            sum_rule_residual=res.sum_rule_residual,
            max_cond=res.max_cond,
            parameters=result["parameters"],
        ),
    )

    fig = None  # after Ctrl-C the data alone, at once
    if stopped is None:
        fig = Figure(figsize=(11.0, 4.5), layout="constrained")
        title = f"{type(ens).__name__}, N = {args.n}, seed {args.seed}" + sets_text(args)
        plot_lyapunov(res, axes=fig.subplots(1, 2), title=title)
    png, nc = save(args, "lyapunov", fig, ds, result)
    if stopped is not None:
        if args.json:
            print_json(result)
        raise Interrupted(f"{_plain(stopped)}; the exponents of those blocks are saved in {nc} (status "
                          f"{res.status}); a run cannot be resumed: run the command again for the whole "
                          "observation")  # fmt: skip

    if args.json:
        print_json(result)
    else:
        ky = "undetermined (k too small)" if res.kaplan_yorke is None else f"{res.kaplan_yorke:.6g}"
        print(
            f"{args.model} ({type(ens).__name__}), N = {args.n}, seed {args.seed}, k = {res.k} of {n_state}"
        )
        if res.status != Status.CONVERGED:
            print(f"  WARNING: {res.status}: {res.message}")
        print(f"  lambda_max            {res.lambda_max:.6g} ± {res.stderr[0]:.2g}  ({res.units})")
        print(f"  Kaplan-Yorke dim.     {ky}")
        print(f"  KS entropy            {res.ks_entropy:.6g}  ({res.units})")
        print(f"  observation time      {res.t_obs:g} {'time units' if res.dt is not None else 'steps'}")
        print(f"  wrote {png} and {nc}")
    return 0


def _check_limits(args, times: dict) -> None:
    """The run's size against --max-memory/--max-time, before the network is drawn (the library's defaults
    of the times: flows 200, 200, 1000, 1 with dt 0.05; maps 500, 500, 5000, 5 steps). Values the library
    refuses are left to it (its messages name them)."""
    import math

    from .. import limits

    ok = lambda v: isinstance(v, (int, float)) and math.isfinite(v) and v > 0  # noqa: E731
    net = network_sizes(ensemble_from(args), args.n, "lyapunov")
    flow = net.stages > 1
    dt = (args.dt if ok(args.dt) else 0.05) if flow else 1.0
    defaults = {"t_burn": 200.0, "t_frame": 200.0, "t_obs": 1000.0, "t_ortho": 1.0}
    if not flow:
        defaults = {"t_burn": 500, "t_frame": 500, "t_obs": 5000, "t_ortho": 5}
    used = {name: v if ok(v) else defaults[name] for name, v in times.items()}
    for name in ("t_burn", "t_frame", "t_obs"):
        limits.check_steps("lyapunov", f"--{name.replace('_', '-')}", used[name], used[name] / dt)
    steps = math.ceil(sum(used[name] for name in ("t_burn", "t_frame", "t_obs")) / dt)
    n_state = round(net.n_state)
    k = args.k if args.k is not None else (n_state if n_state <= FULL_SPECTRUM_MAX else DEFAULT_K)
    k = min(max(int(k), 1), n_state)
    ortho = max(1, round(used["t_ortho"] / dt))
    check_limits(args, limits.lyapunov(net, k, steps, ortho, k == n_state and n_state <= 256))


def _plain(e) -> str:
    """The library's message without its function name."""
    return str(e).removeprefix("lyapunov_spectrum: ")
