"""``dynagate phase-diagram``: the command-line face of :func:`dynagate.phase.phase_diagram`, with the
presets of the diagrams the papers describe.

Writes, under ``--out``: ``phase_diagram.zarr/`` (the incremental store, verified and resumed by the same
command; ``xarray.open_zarr`` reads it while it fills, NaN where ``done`` is 0, and the DMFT columns with
``group="dmft"``), ``phase_diagram.nc`` (the dataset) and ``phase_diagram.png`` (the figure). One run at a
time writes there (``phase_diagram.zarr.lock``).
"""

from __future__ import annotations

from pathlib import Path

from . import _interrupt
from ._common import (
    MODEL_NAMES,
    SET_HELP,
    check_limits,
    network_sizes,
    output_args,
    parse_param,
    parse_sets,
    print_json,
)

#: Defaults of the simulated layers on the command line (small: a laptop draws an 11 x 11 map in
#: about a minute; raise --n and --seeds for publication).
DEFAULT_N = 64
DEFAULT_SEEDS = 2

#: Diagrams the papers describe: model, fixed hyperparameters, and the two axes (name, start, stop, num).
PRESETS = {
    "gated-reset": {
        "model": "gated",
        "about": "gated RNN in (alpha_r, g_h) at beta_r = 0: the discontinuous transition past the "
        "tricritical alpha_r and the bistable band (stable zero fixed point beside chaos)",
        "set": {},
        "x": ("alpha_r", 0.0, 10.0, 11),
        "y": ("g_h", 1.5, 2.5, 11),
    },
    "gated-update": {
        "model": "gated",
        "about": "gated RNN in (alpha_z, g_h) with a static input: slow modes and marginal stability "
        "of the fixed points as the update gate sharpens (the theory costs ~30 s a point at large "
        "alpha_z: the z quadrature resolves a sharp gate)",
        "set": {"s_b": 1.0, "beta_z": 0.0},
        "x": ("alpha_z", 0.0, 10.0, 6),
        "y": ("g_h", 1.0, 3.0, 5),
    },
    "gated-input": {
        "model": "gated",
        "about": "gated RNN in (s_b, g_h) at alpha_r = 10: a static input b_h can push a stable network "
        "into chaos",
        "set": {"alpha_r": 10.0},
        "x": ("s_b", 0.0, 1.0, 11),
        "y": ("g_h", 1.0, 3.0, 11),
    },
    "gru": {
        "model": "gru",
        "about": "GRU over the update-gate bias mu_z and the candidate weight scale g_n",
        "set": {},
        "x": ("mu_z", -3.0, 3.0, 11),
        "y": ("g_n", 0.5, 4.0, 11),
    },
    "lstm": {
        "model": "lstm",
        "about": "LSTM over the forget-gate bias mu_f and the cell-input weight scale g_u",
        "set": {},
        "x": ("mu_f", -2.0, 4.0, 11),
        "y": ("g_u", 0.5, 4.0, 11),
    },
}


def add_parser(sub) -> None:
    presets = ", ".join(PRESETS)
    p = sub.add_parser(
        "phase-diagram",
        help="phase diagram over two hyperparameters: theory lines over simulated maps",
        description="The phase diagram of MODEL over two hyperparameters: theory layers (static mean "
        "field, RMT stability of its fixed points, with --dmft the DMFT chaotic solution) and, with "
        "--simulate, simulated maps (leading Lyapunov exponent, survival of activity from small and large "
        "initial states, Jacobian spectra at the end). Results are stored incrementally under --out; the "
        f"same command resumes an interrupted run. Presets: {presets}.",
    )
    p.add_argument("model", metavar="MODEL", choices=MODEL_NAMES, help=f"one of {', '.join(MODEL_NAMES)}")
    p.add_argument("--preset", default=None, help=f"start from a preset's axes and settings ({presets})")
    p.add_argument("--x", default=None, metavar="NAME=START:STOP:NUM", help="the horizontal axis")
    p.add_argument("--y", default=None, metavar="NAME=START:STOP:NUM", help="the vertical axis")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE", help=SET_HELP)
    p.add_argument("--simulate", action="store_true", help="add the simulated layers")
    p.add_argument("--n", type=int, default=DEFAULT_N, help=f"simulated network size (default {DEFAULT_N})")
    p.add_argument(
        "--seeds", type=int, default=DEFAULT_SEEDS, help=f"networks per grid point (default {DEFAULT_SEEDS})"
    )
    p.add_argument(
        "--t-burn", type=float, default=None, help="burn-in (default 100 time units, maps 200 steps)"
    )
    p.add_argument(
        "--t-obs", type=float, default=None, help="observation (default 100 time units, maps 200 steps)"
    )
    p.add_argument("--no-theory", action="store_true", help="skip the theory layers")
    p.add_argument("--dmft", action="store_true", help="also solve the DMFT along each column (slower)")
    p.add_argument("--workers", type=int, default=None, help="run on a local Dask cluster of K processes")
    p.add_argument(
        "--scheduler", default=None, metavar="ADDR", help="run on the Dask scheduler tcp://HOST:PORT"
    )
    p.add_argument(
        "--chunk", type=int, default=None, help="grid points per task (default 64, or 4 with --simulate)"
    )
    p.add_argument(
        "--restart", action="store_true", help="discard stored results under --out and start again"
    )
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of the simulations (default 0)")
    output_args(p, "out/phase-diagram")
    p.set_defaults(run=run)


def parse_axis(cls, text: str, flag: str = "--x"):
    """--x/--y NAME=START:STOP:NUM, checked as a diagram axis (:func:`dynagate.phase.check_axis`: NUM >= 2,
    START < STOP); errors name ``flag``."""
    from ..errors import InputError
    from ..phase import check_axis

    name, values = parse_param(cls, text, flag=flag)
    try:
        return name, check_axis(cls, name, values)
    except InputError as e:
        raise InputError(f"{flag} {text}: {e}") from None


def run(args) -> int:
    import jax
    import matplotlib

    matplotlib.use("Agg")

    from .. import cluster
    from ..errors import InputError, Interrupted
    from ..io import save_dataset
    from ..models import MODELS
    from ..phase import REGIONS, Simulation, phase_diagram

    cls = MODELS[args.model]
    preset = {"set": {}, "x": None, "y": None}
    if args.preset is not None:
        if args.preset not in PRESETS:
            raise InputError(f"unknown preset {args.preset!r}; presets: {', '.join(PRESETS)}")
        preset = PRESETS[args.preset]
        if preset["model"] != args.model:
            raise InputError(f"preset {args.preset!r} is for MODEL {preset['model']}, not {args.model}")
    axes = []
    for flag, given in (("--x", args.x), ("--y", args.y)):
        if given is None and preset[flag[2:]] is None:
            raise InputError(f"{flag} NAME=START:STOP:NUM is required (or a --preset)")
        if given is None:
            name, a, b, num = preset[flag[2:]]
            given = f"{name}={a}:{b}:{num}"
        axes.append(parse_axis(cls, given, flag))
    given = parse_sets(cls, args.sets)
    sets = {**preset["set"], **given}
    for name, _ in axes:
        if name in given:
            raise InputError(f"{name} is both an axis and a --set")
    ensemble = cls().replace(**sets)
    sim = None
    if args.simulate:
        sim = Simulation(n=args.n, seeds=args.seeds, t_burn=args.t_burn, t_obs=args.t_obs)
        sim.check()
    if not 0 <= args.seed < 2**63:
        raise InputError(f"--seed must be an integer in [0, 2**63), got {args.seed}")
    _check_limits(args, ensemble, axes, sim)
    out = Path(args.out)
    store = out / "phase_diagram.zarr"
    client = cluster.connect(workers=args.workers, scheduler=args.scheduler)
    resume = "run the same command to resume"
    _interrupt.keep(f"finished chunks are kept in {store}; {resume}")
    interrupted = False
    try:  # phase_diagram checks every argument before --restart discards the store
        ds = phase_diagram(
            ensemble, x=axes[0], y=axes[1], theory=not args.no_theory, dmft=args.dmft, simulate=sim,
            key=jax.random.PRNGKey(args.seed), store=store, chunk=args.chunk, client=client,
            progress=False if args.json else None, restart=args.restart,
        )  # fmt: skip
    except KeyboardInterrupt as e:
        interrupted = True
        if isinstance(e, Interrupted):
            kept = _kept(args, axes, sets, store) if args.json else None
            if kept is not None:
                print_json(kept)
            raise Interrupted(f"{e}; {resume}") from None
        raise
    finally:  # after Ctrl-C the cluster closes behind the one line (exit within a second)
        cluster.close(client, wait=not interrupted)
    fig = figure(ds, cls.__name__, sets, panels=2 if sim is not None and not args.no_theory else 1)
    out.mkdir(parents=True, exist_ok=True)
    png, nc = out / "phase_diagram.png", out / "phase_diagram.nc"
    fig.savefig(png, dpi=150)
    save_dataset(ds, nc)
    result = _summary(ds, args, sets, REGIONS) | {"files": [str(png), str(nc), str(store)]}
    if args.json:
        print_json(result)
    else:
        (xn, _), (yn, _) = axes
        print(
            f"{args.model} ({cls.__name__}): phase diagram over {xn} x {yn}, {ds.sizes[yn]} x {ds.sizes[xn]}"
        )
        for key in ("regions_theory", "regions_simulated"):
            if key in result:
                counts = ", ".join(f"{k} {v}" for k, v in result[key].items() if v)
                print(f"  {key.replace('_', ' ')}: {counts}")
        if "tricritical_alpha_r" in result:
            print(f"  tricritical alpha_r = {result['tricritical_alpha_r']:.4g}")
        print(f"  wrote {png}, {nc} and {store}")
    return 0


def _kept(args, axes, sets, store: Path) -> dict | None:
    """The --json object of a run stopped by Ctrl-C: the grid points the store marks done out of all, with
    --dmft the DMFT columns too, and the command that resumes; None when the store holds nothing (or
    cannot be read)."""
    import numpy as np
    import zarr

    (xn, xv), (yn, yv) = axes
    result = {"model": args.model, "x": xn, "y": yn, "set": sets, "status": "interrupted",
              "interrupted": True, "store": str(store)}  # fmt: skip
    try:  # the flags the sweep writes with every finished chunk (sweep.DONE)
        result["points_done"] = int(np.count_nonzero(zarr.open_group(str(store), mode="r")["done"][...]))
        result["points"] = int(xv.size * yv.size)
        if args.dmft and not args.no_theory:
            columns = store / "dmft"
            done = zarr.open_group(str(columns), mode="r")["done"][...] if columns.exists() else []
            result["dmft_columns_done"], result["dmft_columns"] = int(np.count_nonzero(done)), int(xv.size)
    except Exception:  # a store that cannot be read: the line on stderr alone
        return None
    if result["points_done"] == 0:
        return None
    result["resume"] = _resume_command(args)
    return result


def _resume_command(args) -> str:
    """This run's command line, rebuilt from its options without --restart: the command that resumes it."""
    import shlex

    words = ["dynagate", "phase-diagram", args.model]
    for flag, value in (("--preset", args.preset), ("--x", args.x), ("--y", args.y)):
        if value is not None:
            words += [flag, value]
    for item in args.sets:
        words += ["--set", item]
    words += ["--simulate"] * args.simulate
    for flag, value, default in (("--n", args.n, DEFAULT_N), ("--seeds", args.seeds, DEFAULT_SEEDS),
                                 ("--t-burn", args.t_burn, None), ("--t-obs", args.t_obs, None)):  # fmt: skip
        if value != default:
            words += [flag, str(value)]
    words += ["--no-theory"] * args.no_theory + ["--dmft"] * args.dmft
    for flag, value, default in (("--workers", args.workers, None), ("--scheduler", args.scheduler, None),
                                 ("--chunk", args.chunk, None), ("--seed", args.seed, 0)):  # fmt: skip
        if value != default:
            words += [flag, str(value)]
    words += ["--out", args.out] + ["--json"] * args.json
    for flag, value in (("--max-memory", args.max_memory), ("--max-time", args.max_time)):
        if value is not None:
            words += [flag, value]
    return shlex.join(words)


def _check_limits(args, ensemble, axes, sim) -> None:
    """The diagram's size against --max-memory/--max-time (:func:`dynagate.limits.phase_diagram`): the grid,
    the numbers stored per point, and the simulated runs (their steps from ``Simulation.times``)."""
    from .. import limits
    from ..phase.theory import THEORY_SPEC

    (_, xv), (_, yv) = axes
    per_point = len(THEORY_SPEC) + (2 * yv.size + 1) * args.dmft / max(yv.size, 1)
    runs = None
    if sim is not None:
        net = network_sizes(ensemble, sim.n, "phase-diagram")
        t = sim.times(net.stages > 1)
        for flag, value in (("--t-burn", sim.t_burn), ("--t-obs", sim.t_obs)):
            if value is not None:
                limits.check_steps("phase-diagram", flag, value, value / t["dt"])
        steps = t["n_burn"] + t["n_blocks"] * t["per_block"] * t["ortho"]
        per_point += 8 * sim.seeds + 3 * sim.spectra
        runs = (net, sim.seeds, steps, sim.spectra)
    est = limits.phase_diagram(xv.size, yv.size, round(per_point), theory=not args.no_theory,
                               dmft_layer=args.dmft and not args.no_theory, sim=runs)  # fmt: skip
    check_limits(args, est)


def _summary(ds, args, sets, regions) -> dict:
    import math

    import numpy as np

    clean = lambda a: [None if not math.isfinite(v) else float(v) for v in np.asarray(a, float).ravel()]  # noqa: E731
    result = {"model": args.model, "x": ds.attrs["x"], "y": ds.attrs["y"], "set": sets,
              "x_values": clean(ds[ds.attrs["x"]]), "y_values": clean(ds[ds.attrs["y"]])}  # fmt: skip
    for key in ("region_theory", "region_simulated"):
        if key in ds:
            r = np.asarray(ds[key])
            result[key.replace("region", "regions")] = {
                name: int((r == i).sum()) for i, name in enumerate(regions)
            }
    for key in ("line_stability", "line_static_onset", "line_dmft"):
        if key in ds:
            result[key] = clean(ds[key])
    if "lambda_max" in ds:
        result["lambda_max"] = [clean(row) for row in np.asarray(ds.lambda_max)]
    if "tricritical_alpha_r" in ds.attrs:
        result["tricritical_alpha_r"] = float(ds.attrs["tricritical_alpha_r"])
    return result


def figure(ds, model: str, sets: dict, *, panels: int):
    """The command's figure of a phase-diagram dataset: ``panels`` 2 (simulation and theory) or 1, titled
    with the model's class name and the fixed hyperparameters ``sets``."""
    from matplotlib.figure import Figure

    from ..plotting import plot_phase_diagram

    sets_text = ", ".join(f"{k}={v}" for k, v in sets.items())
    title = model + (f" ({sets_text})" if sets_text else "")
    fig = Figure(figsize=(12.5, 5.0) if panels == 2 else (6.5, 5.0), layout="constrained")
    plot_phase_diagram(ds, axes=fig.subplots(1, panels), title=title)
    return fig
