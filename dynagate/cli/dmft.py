"""``dynagate dmft``: the dynamical mean-field theory of the chaotic state, with ``--simulate`` against a
simulated network."""

from __future__ import annotations

from . import _interrupt
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
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "dmft",
        help="dynamical mean-field theory of the chaotic state (C_h, Delta0, lambda_max)",
        description="Solve the DMFT of the vanilla RNN (flow, or the Euler map with --set delta=...), the "
        "gated RNN, the GRU or the LSTM: the stationary autocorrelation C_h(tau), Delta0 = C_h(0), the "
        "relaxation time and the two-replica lambda_max (per unit time for flows, per step for maps). The "
        "solver is chosen by the parameters (SCS potential method, the closed alpha_z = 0 equation, sampled "
        "single-site paths for alpha_z != 0 and for the GRU and LSTM, the Euler-map DMFT for the map) unless "
        "--solver names one. "
        "With --simulate, a network of size N is simulated and its autocorrelation drawn over the theory.",
    )
    network_args(p, n=1000)
    p.add_argument("--solver", choices=("auto", "scs", "closed", "montecarlo", "euler-map"), default="auto",
                   help="DMFT solver (default: chosen by the parameters)")  # fmt: skip
    p.add_argument(
        "--samples", type=int, default=None,
        help="paths per iteration of the Monte-Carlo solvers (default 500; GRU and LSTM 1000)",
    )  # fmt: skip
    p.add_argument("--simulate", action="store_true", help="simulate a network of size N and compare")
    p.add_argument(
        "--t-sim",
        type=float,
        default=400.0,
        help="simulated time for the autocorrelation, after a 200-unit transient (default 400; steps for the "
        "map, after 4000 steps)",
    )
    output_args(p, "out/dmft")
    p.set_defaults(run=run)


def run(args) -> int:
    import dataclasses

    import matplotlib

    matplotlib.use("Agg")
    import jax
    import xarray as xr
    from matplotlib.figure import Figure

    from ..chaos import autocorrelation_gap
    from ..errors import Interrupted, check_param, check_size
    from ..io import provenance
    from ..meanfield import dmft
    from ..meanfield.dmft import SCS, Closed, MonteCarlo, default_solver
    from ..meanfield.euler_map import EulerMap
    from ..meanfield.map_dmft import MapOptions, SampledMap
    from ..meanfield.montecarlo import Options
    from ..plotting import plot_dmft
    from ..simulate import autocorrelation
    from ..spectra import relaxed_state

    if args.samples is not None:
        check_size("dmft", "--samples", args.samples)
    check_param("dmft", "--t-sim", args.t_sim, positive=True)
    _check_limits(args)
    ens, net, ks = network_from(args)
    solver = {
        "auto": None, "scs": SCS(), "closed": Closed(),
        "montecarlo": MonteCarlo(Options(n_samples=args.samples or Options.n_samples)),
        "euler-map": EulerMap(),
    }[args.solver]  # fmt: skip
    if solver is None:
        solver = default_solver(ens)
        if isinstance(solver, SampledMap) and args.samples is not None:
            solver = dataclasses.replace(solver, options=MapOptions(n_samples=args.samples))
        elif args.samples is not None:
            solver = MonteCarlo(Options(n_samples=args.samples))
    nothing = ("nothing was saved (the DMFT solve is one iteration loop, with no partial result); run the "
               "command again")  # fmt: skip
    _interrupt.keep(nothing)
    with busy(f"solving the DMFT of {args.model}", enabled=not args.json):
        try:
            res = dmft(ens, solver=solver, key=jax.random.fold_in(ks, 1))
        except KeyboardInterrupt:
            raise Interrupted(nothing) from None
    _interrupt.keep(None)
    units = "per unit time (τ_h = 1)" if net.is_flow else "per step"
    result = {"model": args.model, **res.summary(), "units": units, "parameters": ens.params()}
    data = {
        "c_h": ("tau", res.c_h, {"long_name": "DMFT autocorrelation C_h(τ)"}),
    }
    for name, c in res.correlations.items():
        data[name] = ("tau", c, {"long_name": f"DMFT {name.replace('c_', 'C_')}(τ)"})
    if "c_h" in res.stderr:
        se = res.stderr["c_h"][: res.tau.size]
        data["c_h_stderr"] = ("tau", se, {"long_name": "standard error of C_h"})
    lag_units = "time units τ_h" if net.is_flow else "steps"
    coords = {"tau": ("tau", res.tau, {"units": lag_units})}
    options = getattr(solver, "options", None)  # the solver and its options, with the seed, repeat the run
    options = dataclasses.asdict(options) if dataclasses.is_dataclass(options) else None

    def dataset(result, interrupted: bool):
        stopped = {"simulation": "did not finish (Ctrl-C): the DMFT solution alone"} if interrupted else {}
        return xr.Dataset(data, coords=coords, attrs=provenance(
            command="dmft", model=args.model, ensemble=type(ens).__name__, parameters=result["parameters"],
            seed=args.seed, solver=repr(solver), solver_options=options, interrupted=interrupted, **stopped,
            **{k: v for k, v in result.items() if k not in ("model", "parameters", "seed", "interrupted")},
        ))  # fmt: skip

    simulated = None
    if args.simulate:
        # the DMFT solution is saved first (the data alone, marked interrupted until the comparison is
        # written): Ctrl-C during the simulation, even inside a long compiled step, keeps it
        kept = result | {"interrupted": True}
        _, nc = save(args, "dmft", None, dataset(result, True), kept)
        line = (f"the DMFT solution is saved in {nc}, without the simulated network (marked "
                "interrupted); run the command again for the comparison, or without --simulate for the "
                "DMFT alone")  # fmt: skip
        _interrupt.keep(line)
        ks1, ks2 = jax.random.split(ks)
        with busy(f"simulating {args.model}, N = {args.n}", enabled=not args.json):
            try:
                s0 = relaxed_state(net, key=ks1, steps=4000, dt=0.05 if net.is_flow else None)
                simulated = autocorrelation(net, s0, t_obs=args.t_sim)
            except KeyboardInterrupt:
                if args.json:
                    print_json(kept)
                raise Interrupted(line) from None
        lags, c_sim = simulated
        rms = autocorrelation_gap(res, lags, c_sim)
        result |= {"simulated_delta0": float(c_sim[0]), "rms_gap": rms, "n": args.n, "seed": args.seed,
                   "t_sim": args.t_sim}  # fmt: skip
        data["c_h_simulated"] = ("lag", c_sim, {"long_name": f"simulated C_h(τ), N = {args.n}"})
        coords["lag"] = ("lag", lags, {"units": lag_units})
    ds = dataset(result, False)

    fig = Figure(figsize=(7.0, 4.8), layout="constrained")
    plot_dmft(res, simulated, ax=fig.subplots())
    fig.suptitle(type(ens).__name__ + sets_text(args))
    png, nc = save(args, "dmft", fig, ds, result)
    if args.json:
        print_json(result)
    else:
        print(f"{args.model} ({type(ens).__name__}): DMFT by {res.method}, status {res.status}")
        err = lambda k: f" ± {res.stderr[k]:.2g}" if k in res.stderr else ""  # noqa: E731
        print(f"  Delta0 = C_h(0)       {res.delta0:.6g}{err('delta0')}")
        print(f"  lambda_max            {res.lambda_max:.6g}{err('lambda_max')}  ({units})")
        print(f"  relaxation time       {res.relaxation_time:.6g}  ({lag_units})")
        if simulated is not None:
            print(f"  simulated C_h(0)      {result['simulated_delta0']:.6g}  (N = {args.n})")
            print(f"  RMS gap / Delta0      {result['rms_gap']:.4g}  (tau up to 5 relaxation times)")
        print(f"  wrote {png} and {nc}")
    return 0


def _check_limits(args) -> None:
    """The solve (its paths per iteration: --samples, default up to 1000) and, with --simulate, the
    network of --n run for a transient of 4000 steps and --t-sim (its states kept every 5 RK4 steps of
    0.05, or every map step, and their autocorrelation up to a quarter of --t-sim), against the limits."""
    from .. import limits

    est = limits.dmft(args.samples or 1000)
    if args.simulate:
        net = network_sizes(ensemble_from(args), args.n, "dmft")
        step, every = (0.05, 5) if net.stages > 1 else (1.0, 1)
        limits.check_steps("dmft", "--t-sim", args.t_sim, args.t_sim / step)
        steps = round(args.t_sim / step)
        saved = steps // every + 1
        est = est + limits.simulation(net, 4000 + steps, saved, lags=saved // 4)
    check_limits(args, est)
