"""``dynagate complexity``: the annealed Kac-Rice complexity of the fixed points along one hyperparameter,
with ``--count-sizes`` against fixed points counted in sampled networks."""

from __future__ import annotations

from . import _interrupt
from ._common import (
    MODEL_NAMES,
    SET_HELP,
    busy,
    check_limits,
    ensemble_from,
    network_sizes,
    output_args,
    parse_param,
    print_json,
    save,
    search_options,
    seed_args,
    sets_text,
)

#: ``--count-sizes``: networks per size.
DEFAULT_NETWORKS = 20


def add_parser(sub) -> None:
    p = sub.add_parser(
        "complexity",
        help="annealed Kac-Rice complexity Sigma of the fixed points along one parameter",
        description="The annealed topological complexity Sigma (E[#fixed points] ~ exp(N Sigma)) of the "
        "vanilla or gated RNN at each value of one hyperparameter, from the Kac-Rice variational problem "
        "solved on a grid, with its best Gaussian site law (a lower bound). With --count-sizes, also the "
        "growth rate in N of the mean number of fixed points found numerically in M sampled networks at "
        "each size (the same networks and seeds at every parameter value, from --seed).",
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        choices=MODEL_NAMES,
        help=f"one of {', '.join(MODEL_NAMES)} (the complexity is derived for vanilla and gated)",
    )
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE", help=SET_HELP)
    p.add_argument(
        "--param",
        required=True,
        metavar="NAME=START:STOP:NUM",
        help="the hyperparameter to vary: NUM evenly spaced values from START to STOP",
    )
    p.add_argument(
        "--n-h", type=int, default=None, help="grid points along h of the site law (default: 240, gated 120)"
    )
    p.add_argument(
        "--n-r",
        type=int,
        default=None,
        help="grid points along r, gated RNN with alpha_r != 0 and g_r != 0 (library default 80)",
    )
    p.add_argument(
        "--count-sizes",
        default=None,
        metavar="N1,N2,...",
        help="also count fixed points numerically at these network sizes (at least two)",
    )
    p.add_argument(
        "--networks",
        type=int,
        default=DEFAULT_NETWORKS,
        help=f"networks per size for --count-sizes (default {DEFAULT_NETWORKS})",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="PRNG seed for the counted networks and their seeds (default 0)"
    )
    seed_args(p)
    output_args(p, "out/complexity")
    p.set_defaults(run=run)


def run(args) -> int:
    import math
    import time

    import matplotlib

    matplotlib.use("Agg")
    import jax
    from matplotlib.figure import Figure

    from ..errors import InputError, Interrupted, check_size
    from ..fixedpoints import count_fixed_points
    from ..kacrice import complexity
    from ..plotting import plot_complexity

    base = ensemble_from(args)
    cls = type(base)
    name, values = parse_param(cls, args.param)
    if any(item.partition("=")[0].strip() == name for item in args.sets):
        raise InputError(f"{name} is given by both --param and --set")
    grid = {k: check_size("complexity", f"--{k.replace('_', '-')}", v)
            for k, v in (("n_h", args.n_h), ("n_r", args.n_r)) if v is not None}  # fmt: skip
    sizes = None
    if args.count_sizes is not None:
        sizes = _sizes(args.count_sizes)
        check_size("complexity", "--networks", args.networks)
        search = search_options(args, "complexity")
    _check_limits(args, base, values.size, grid, sizes)
    ensembles = [base.replace(**{name: float(v)}) for v in values]  # checks every value first

    # value by value; the finished values are saved as they come (the data alone, status interrupted until
    # the end), so that Ctrl-C inside a long compiled step, which ends the process, keeps them too; at most
    # a tenth of the time goes to saving (a long grid is saved less often than every value)
    results, counts = [], []
    saved_at, saving = -math.inf, 0.0
    try:
        for i, (v, ens) in enumerate(zip(values, ensembles)):
            step = f"({i + 1}/{values.size}) at {name} = {v:g}"
            with busy(f"complexity {step}", enabled=not args.json):
                c = complexity(ens, **grid)
            if sizes is not None:
                with busy(f"counting fixed points {step}", enabled=not args.json):
                    counts.append(count_fixed_points(ens, sizes, key=jax.random.PRNGKey(args.seed),
                                                     n_networks=args.networks, **search))  # fmt: skip
            results.append(c)
            if len(results) < values.size and time.monotonic() - saved_at >= 10 * saving:
                t0 = time.monotonic()
                ds, result = _dataset(args, base, name, values, results, counts, sizes, grid)
                _, nc = save(args, "complexity", None, ds, result)
                _interrupt.keep(_kept(name, values, len(results), nc))
                saved_at = time.monotonic()
                saving = saved_at - t0
    except KeyboardInterrupt:
        if not results:
            raise Interrupted(f"complexity: stopped at the first of {values.size} values of {name}; nothing "
                              "was saved; run the command again") from None  # fmt: skip
        ds, result = _dataset(args, base, name, values, results, counts[: len(results)], sizes, grid)
        _, nc = save(args, "complexity", None, ds, result)
        if args.json:
            print_json(result)
        raise Interrupted(_kept(name, values, len(results), nc)) from None

    ds, result = _dataset(args, base, name, values, results, counts, sizes, grid)
    sigma, gaussian, converged = result["sigma"], result["gaussian"], result["converged"]
    rate, rate_se = result.get("rate"), result.get("rate_stderr")
    fig = Figure(figsize=(6.5, 4.8), layout="constrained")
    plot_complexity(name, values, sigma, gaussian, converged=converged, rate=rate, rate_stderr=rate_se,
                    ax=fig.subplots(), title=cls.__name__ + sets_text(args))  # fmt: skip
    png, nc = save(args, "complexity", fig, ds, result)

    if args.json:
        print_json(result)
    else:
        print(f"{args.model} ({cls.__name__}): annealed complexity Sigma (per unit) along {name}")
        head = f"  {name:>10}  {'Sigma':>10}  {'Gaussian':>10}"
        print(head + (f"  {'rate':>17}" if rate is not None else ""))
        for i, v in enumerate(values):
            row = f"  {v:>10.4g}  {sigma[i]:>10.4g}  {gaussian[i]:>10.4g}"
            if rate is not None:
                r = "n/a" if rate[i] is None else f"{rate[i]:.4g} ± {rate_se[i]:.2g}"
                row += f"  {r:>17}"
            print(row + ("" if converged[i] else "  (not converged)"))
        print(f"  wrote {png} and {nc}")
    return 0


def _kept(name: str, values, done: int, nc) -> str:
    """The Ctrl-C line once ``done`` of the values are saved in ``nc``: where, and the --param of the rest
    (the values not done are the last ones, an evenly spaced grid of their own)."""
    rest = f"{name}={float(values[done])!r}:{float(values[-1])!r}:{values.size - done}"
    return (f"complexity: {done} of {values.size} values of {name} finished, saved in {nc} (status "
            f"interrupted; the others NaN, done = 0); for the others, run the same command with --param "
            f"{rest} and another --out")  # fmt: skip


def _dataset(args, base, name: str, values, results: list, counts: list, sizes, grid: dict):
    """The dataset and the --json object of the finished values: ``results`` (and ``counts``) for the first
    values, NaN (null in JSON) for the others, which ``done`` marks (status interrupted)."""
    import math

    import numpy as np
    import xarray as xr

    from ..io import provenance
    from ..results import Status

    n, k = values.size, len(results)
    finite = lambda x: float(x) if math.isfinite(x) else None  # noqa: E731  (JSON has no NaN)
    pad = lambda xs: list(xs) + [math.nan] * (n - k)  # noqa: E731
    sigma, gaussian = pad(c.sigma for c in results), pad(c.gaussian for c in results)
    converged = [bool(c.converged) for c in results] + [False] * (n - k)
    done = [True] * k + [False] * (n - k)
    if k < n:
        status = Status.INTERRUPTED
    else:
        status = Status.CONVERGED if all(converged) else Status.NOT_CONVERGED
    result = {
        "model": args.model,
        "param": name,
        "values": values.tolist(),
        "sigma": sigma,
        "gaussian": gaussian,
        "converged": converged,
        "done": done,
        "status": status,
        "units": "per unit (E[#fixed points] ~ exp(N Sigma))",
        "parameters": {**base.params(), name: values.tolist()},
    }
    data = {
        "sigma": ("value", sigma, {"long_name": "annealed complexity Σ", "units": "per unit"}),
        "gaussian": ("value", gaussian, {"long_name": "best Gaussian site law (lower bound)",
                                         "units": "per unit"}),
        "functional": ("value", pad(c.functional for c in results),
                       {"long_name": "functional at the optimum"}),
        "kl": ("value", pad(c.kl for c in results), {"long_name": "KL(ρ || reference) at the optimum"}),
        "log_det": ("value", pad(c.log_det for c in results), {"long_name": "log-determinant term L"}),
        "q": ("value", pad(c.q for c in results), {"long_name": "<φ(h)^2> under the optimal ρ"}),
        "converged": ("value", np.array(converged, np.int8), {"long_name": "optimisation converged (1/0)"}),
        "done": ("value", np.array(done, np.int8),
                 {"long_name": "computed (1), or not reached before Ctrl-C (0: the values are NaN)"}),
    }  # fmt: skip
    coords = {"value": ("value", values, {"long_name": name})}
    messages = [c.message for c in results] + ["not computed: interrupted"] * (n - k)
    extra = {"messages": messages, "status": status.value, "interrupted": k < n, "values_done": k, **grid}
    if sizes is not None:
        blank = np.full(len(sizes), math.nan)
        rows = lambda key: [c[key] for c in counts] + [blank] * (n - k)  # noqa: E731
        rate = [finite(c["rate"]) for c in counts] + [None] * (n - k)
        rate_se = [finite(c["rate_stderr"]) for c in counts] + [None] * (n - k)
        result |= {"rate": rate, "rate_stderr": rate_se, "count_sizes": sizes, "networks": args.networks,
                   "seeds": args.seeds, "scale": args.scale, "seed": args.seed,
                   "mean_count": [r.tolist() for r in rows("mean")],
                   "count_failure_rate": [r.tolist() for r in rows("failure_rate")]}  # fmt: skip
        nan = lambda xs: [math.nan if x is None else x for x in xs]  # noqa: E731
        data |= {
            "rate": ("value", nan(rate), {"long_name": "growth rate of log(mean count) in N",
                                          "units": "per unit"}),
            "rate_stderr": ("value", nan(rate_se), {"long_name": "standard error of the growth rate"}),
            "mean_count": (("value", "size"), rows("mean"),
                           {"long_name": "mean number of fixed points found"}),
            "count_stderr": (("value", "size"), rows("stderr"),
                             {"long_name": "standard error of the mean count"}),
            "count_failure_rate": (("value", "size"), rows("failure_rate"),
                                   {"long_name": "fraction of seeds that did not converge"}),
        }  # fmt: skip
        coords["size"] = ("size", np.asarray(sizes, np.int32), {"long_name": "network size N"})
        extra |= {"networks": args.networks, "seeds": args.seeds, "scale": args.scale, "seed": args.seed}
    ds = xr.Dataset(data, coords=coords, attrs=provenance(
        command="complexity", model=args.model, ensemble=type(base).__name__, param=name,
        parameters=result["parameters"], **extra,
    ))  # fmt: skip
    return ds, result


def _sizes(text: str) -> list[int]:
    """--count-sizes N1,N2,...: at least two distinct sizes >= 1."""
    from ..errors import InputError

    try:
        sizes = [int(t) for t in text.split(",")]
    except ValueError:
        raise InputError(f"--count-sizes expects integers separated by commas, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise InputError(f"--count-sizes: every size must be >= 1, got {text!r}")
    if len(set(sizes)) < 2:
        raise InputError(f"--count-sizes needs two or more different sizes to fit a rate, got {text!r}")
    return sizes


def _check_limits(args, base, values: int, grid: dict, sizes) -> None:
    """The Kac-Rice problems (grid: n_h sites, times n_r for the gated RNN's (h, r) law; the library's
    defaults 240, or 120 x 80) and the fixed-point counts of --count-sizes against the limits."""
    from .. import limits

    two_d = type(base).__name__ == "GatedRNN"  # an upper bound: the r axis is used where alpha_r, g_r != 0
    n_h = grid.get("n_h", 120 if two_d else 240)
    est = limits.complexity(values, n_h * (grid.get("n_r", 80) if two_d else 1))
    for n in sizes or ():
        count = limits.fixed_points(network_sizes(base, n, "complexity"), args.seeds)
        what = f"{values} values x {args.networks} networks: {count.time_what}"
        est = est + limits.Estimate(
            count.memory, values * args.networks * count.time, count.memory_what, what
        )
    check_limits(args, est)
