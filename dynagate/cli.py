"""The ``dynagate`` command line: a thin layer over the library.

Subcommands: ``info``, ``spectrum``, ``lyapunov``, ``dmft``, ``fixed-points``, ``complexity``,
``phase-diagram`` (:mod:`dynagate.cli_phase`) and ``validate`` (:mod:`dynagate.cli_validate`). Each
imports JAX, the numerics and matplotlib (Agg) only when it runs, builds an ensemble from ``MODEL`` and
``--set name=value`` options, writes its figure and data under ``--out`` and prints either a short
summary or, with ``--json``, one JSON object on stdout. User errors (:class:`DynagateError`) are
reported as one line ``dynagate: error: ...`` on stderr with exit code 2, as argparse does for bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

#: The keys of ``dynagate.models.MODELS`` (listed here so that ``--help`` needs no JAX import; a test
#: checks that the two agree).
MODEL_NAMES = ("vanilla", "gated", "gru", "lstm")

_SET_HELP = (
    "set a hyperparameter or option, NAME=VALUE (repeatable); floats for hyperparameters, and "
    "n_in=INT, reset=after|before, refine|tied_input=true|false, "
    "forget_init|update_init=ugi|ugi:D|chrono:TMAX|none"
)

#: ``dynagate spectrum``: default distance from 0 (flows) or 1 (maps) within which eigenvalues count as slow.
SLOW_EPS = 0.05
#: ``dynagate spectrum --theory``: abscissae of the support boundary, and grid points across the support's
#: real extent for the density map (square cells; the density is evaluated only inside the boundary).
THEORY_N_X = 512
DENSITY_GRID = 120

#: ``dynagate lyapunov`` computes the full spectrum up to this state dimension, else ``DEFAULT_K``.
FULL_SPECTRUM_MAX = 64
DEFAULT_K = 10

#: ``dynagate fixed-points`` and ``complexity --count-sizes``: seeds per network, and networks per size.
DEFAULT_SEEDS = 512
DEFAULT_NETWORKS = 20


def main(argv: list[str] | None = None) -> int:
    """Run the ``dynagate`` command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) and usage errors (2)
        return e.code if isinstance(e.code, int) else 2
    from .errors import DynagateError

    try:
        return args.run(args)
    except DynagateError as e:
        print(f"dynagate: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynagate",
        description="Jacobian spectra, Lyapunov exponents, mean-field theory, fixed points and their "
        "Kac-Rice complexity for gated RNNs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("info", help="versions, JAX backend, devices and float dtype")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_info)

    p = sub.add_parser(
        "spectrum",
        help="eigenvalues of the Jacobian of one sampled network",
        description="Sample one network of size N and plot/save the eigenvalues of its Jacobian at the "
        "zero state or at the state reached after a transient from a random state. With --theory, the "
        "random-matrix prediction for that Jacobian (from the statistics of the network's own units at "
        "that state) is drawn under the eigenvalues and reported next to the sampled numbers.",
    )
    _network_args(p, n=200)
    p.add_argument(
        "--state",
        choices=("zero", "relaxed"),
        default="relaxed",
        help="Jacobian at the zero state, or after a transient from a random state (default)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="transient length for --state relaxed (map steps or RK4 steps)",
    )
    p.add_argument(
        "--eps",
        type=float,
        default=SLOW_EPS,
        help=f"eigenvalues within EPS of 0 (flows) or 1 (maps) count as slow (default {SLOW_EPS})",
    )
    p.add_argument(
        "--theory",
        action="store_true",
        help="overlay the random-matrix prediction from the empirical statistics of the network's units at "
        "the chosen state: the support boundary, the predicted rightmost point (flows) or spectral radius "
        "(maps), the eigenvalue density where implemented, and the predicted slow fraction",
    )
    _output_args(p, "out/spectrum")
    p.set_defaults(run=_spectrum)

    p = sub.add_parser(
        "lyapunov",
        help="Lyapunov spectrum of one sampled network (QR method, with error bars)",
        description="Sample one network of size N and compute its k largest Lyapunov exponents by the QR "
        "(Benettin) method, with batch-means standard errors, the Kaplan-Yorke dimension and the "
        "entropy. Times are in units of tau_h for flows and in steps for maps; unset times take the "
        "library defaults (flows: burn 200, frame 200, obs 1000, ortho 1; maps: 500, 500, 5000, 5).",
    )
    _network_args(p, n=100)
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
    _output_args(p, "out/lyapunov")
    p.set_defaults(run=_lyapunov)

    p = sub.add_parser(
        "dmft",
        help="dynamical mean-field theory of the chaotic state (C_h, Delta0, lambda_max)",
        description="Solve the DMFT of the vanilla flow or the gated RNN: the stationary autocorrelation "
        "C_h(tau), Delta0 = C_h(0), the relaxation time and the two-replica lambda_max (per unit time). "
        "The solver is chosen by the parameters (SCS potential method, the closed alpha_z = 0 equation, "
        "or sampled single-site paths for alpha_z != 0) unless --solver names one. With --simulate, a "
        "network of size N is simulated and its autocorrelation drawn over the theory.",
    )
    _network_args(p, n=1000)
    p.add_argument("--solver", choices=("auto", "scs", "closed", "montecarlo"), default="auto",
                   help="DMFT solver (default: chosen by the parameters)")  # fmt: skip
    p.add_argument("--samples", type=int, default=None,
                   help="paths per iteration of the Monte-Carlo solver (default 500)")  # fmt: skip
    p.add_argument("--simulate", action="store_true", help="simulate a network of size N and compare")
    p.add_argument(
        "--t-sim",
        type=float,
        default=400.0,
        help="simulated time for the autocorrelation, after a 200-unit transient (default 400)",
    )
    _output_args(p, "out/dmft")
    p.set_defaults(run=_dmft)

    p = sub.add_parser(
        "fixed-points",
        help="fixed points of one sampled network, their stability and index",
        description="Sample one network of size N and find its fixed points (under zero input) from K seeds: "
        "half random draws of scale X around the zero state, half end points of short trajectories; Adam "
        "descent on |F|^2 / 2, then damped Newton to max|F| < 1e-10 (float64), deduplication. Seeds that "
        "do not converge are counted (failure rate), not raised. The index of a fixed point is its number "
        "of unstable directions (Jacobian eigenvalues with Re > 0 for flows, |λ| > 1 for maps).",
    )
    _network_args(p, n=20)
    _seed_args(p)
    _output_args(p, "out/fixed-points")
    p.set_defaults(run=_fixed_points)

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
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE", help=_SET_HELP)
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
    _seed_args(p)
    _output_args(p, "out/complexity")
    p.set_defaults(run=_complexity)

    from . import cli_phase, cli_validate

    cli_phase.add_parser(sub)
    cli_validate.add_parser(sub)
    return parser


# --------------------------------------------------------------------------------------------- info


def _info(args) -> int:
    import jax

    from .io import provenance

    info = provenance()
    info["devices"] = [f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices()]
    if args.json:
        print(json.dumps(info))
    else:
        width = max(map(len, info))
        for k, v in info.items():
            print(f"{k:<{width}}  {', '.join(v) if isinstance(v, list) else v}")
    return 0


# ----------------------------------------------------------------------------------------- spectrum


def _spectrum(args) -> int:
    import math

    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import xarray as xr
    from matplotlib.figure import Figure

    from . import spectra
    from .errors import InputError
    from .io import provenance
    from .models.base import rate_units
    from .plotting import plot_spectrum

    if args.steps is not None and args.state != "relaxed":
        raise InputError("--steps sets the transient of --state relaxed; it does nothing with --state zero")
    if not (math.isfinite(args.eps) and args.eps > 0):
        raise InputError(f"--eps must be a finite number > 0, got {args.eps}")
    ens, net, ks = _network(args)
    record = {}
    if args.state == "zero":
        state = net.zero_state()
    else:
        steps = spectra.RELAX_STEPS if args.steps is None else args.steps
        state = spectra.relaxed_state(net, key=ks, steps=steps)
        record["relax_steps"] = steps
        if net.is_flow:
            record["relax_dt"] = spectra.RELAX_DT
    spec = spectra.spectrum(net, state)
    theory = overlay = None
    if args.theory:
        with _busy("computing the random-matrix prediction", enabled=not args.json):
            theory, overlay = _theory(net, state, args.eps)

    units = rate_units(spec.is_flow)
    eigs = spec.eigenvalues[np.argsort(-spec.eigenvalues.real, kind="stable")]
    lam = spec.rightmost
    slow = spec.slow_fraction(args.eps)
    result = {
        "model": args.model,
        "n": args.n,
        "seed": args.seed,
        "state": args.state,
        "rightmost": [lam.real, lam.imag],
        "spectral_radius": spec.spectral_radius,
        "stable": bool(spec.stable),
        "slow_fraction": slow,
        "eps": args.eps,
        "units": units,
        "parameters": ens.params(),
    }
    if theory is not None:
        result["theory"] = theory
    data = {
        "eig_real": ("eigenvalue", eigs.real, {"long_name": "Re λ", "units": units}),
        "eig_imag": ("eigenvalue", eigs.imag, {"long_name": "Im λ", "units": units}),
    }
    coords = {}
    if overlay is not None:
        b = overlay.boundary
        what = "on the random-matrix support boundary (closed polyline)"
        data["boundary_real"] = ("boundary", b.real, {"long_name": f"Re λ {what}", "units": units})
        data["boundary_imag"] = ("boundary", b.imag, {"long_name": f"Im λ {what}", "units": units})
        if overlay.density is not None:
            per_area = "fraction of all eigenvalues per unit area of the λ plane"
            long_name = "predicted eigenvalue density (continuous part)"
            dims = ("density_imag", "density_real")
            data["density"] = (dims, overlay.density, {"long_name": long_name, "units": per_area})
            coords["density_real"] = (dims[1], overlay.density_x, {"long_name": "Re λ", "units": units})
            coords["density_imag"] = (dims[0], overlay.density_y, {"long_name": "Im λ", "units": units})
    theory_attrs = {} if theory is None else {f"theory_{k}": v for k, v in theory.items() if k != "eps"}
    ds = xr.Dataset(
        data,
        coords=coords,
        attrs=provenance(
            command="spectrum",
            model=args.model,
            ensemble=type(ens).__name__,
            n=args.n,
            n_state=spec.n,
            seed=args.seed,
            state=args.state,
            **record,
            units=units,
            parameters=result["parameters"],
            rightmost_real=lam.real,
            rightmost_imag=lam.imag,
            spectral_radius=spec.spectral_radius,
            stable=bool(spec.stable),
            slow_fraction=slow,
            eps=args.eps,
            **theory_attrs,
        ),
    )

    title = f"{type(ens).__name__}, N = {args.n}, {args.state} state" + _sets_text(args, "\n")
    fig = Figure(figsize=(5.5, 5.0) if overlay is None else (6.5, 6.0), layout="constrained")
    plot_spectrum(spec, ax=fig.subplots(), title=title, theory=overlay)
    png, nc = _save(args, "spectrum", fig, ds, result)

    if args.json:
        print(json.dumps(result))
    else:
        sign = "+" if lam.imag >= 0 else "-"
        near = "0" if spec.is_flow else "1"
        print(f"{args.model} ({type(ens).__name__}), N = {args.n}, seed {args.seed}, {args.state} state")
        print(f"  rightmost eigenvalue  {lam.real:.6g} {sign} {abs(lam.imag):.6g}i  ({units})")
        print(f"  spectral radius       {spec.spectral_radius:.6g}")
        print(f"  linearly stable       {'yes' if spec.stable else 'no'}")
        print(f"  slow fraction         {slow:.4g}  (within {args.eps:g} of {near})")
        if theory is not None:
            sf = theory["slow_fraction"]
            sf = f"n/a ({theory['density']})" if sf is None else f"{sf:.4g}"
            print("  random-matrix prediction (empirical statistics of the units):")
            print(f"    rightmost (real)    {theory['rightmost']:.6g}")
            print(f"    spectral radius     {theory['spectral_radius']:.6g}")
            print(f"    linearly stable     {'yes' if theory['stable'] else 'no'}")
            print(f"    slow fraction       {sf}")
        print(f"  wrote {png} and {nc}")
    return 0


def _theory(net, state, eps: float):
    """The random-matrix prediction for the Jacobian of ``net`` at ``state``, from the empirical single-site
    statistics of its units (:mod:`dynagate.rmt`): the JSON ``theory`` object and the overlay for
    :func:`dynagate.plotting.plot_spectrum` (support boundary; density grid where implemented)."""
    from functools import partial

    import jax
    import numpy as np

    from . import rmt
    from .errors import InputError
    from .plotting import TheoryOverlay

    try:
        st = rmt.structure(net, rmt.empirical_stats(net, state))
    except NotImplementedError as e:
        raise InputError(f"--theory is not available here: {e}") from None
    sp = rmt.support(st, n_x=THEORY_N_X)
    summary = {
        "rightmost": float(sp.rightmost),
        "spectral_radius": float(sp.radius),
        "slow_fraction": None,
        "eps": eps,
        "stable": bool(sp.stable),
        "statistics": "empirical (the network's units at the chosen state)",
    }
    overlay = {
        "boundary": sp.polyline(),
        "rightmost": summary["rightmost"],
        "radius": summary["spectral_radius"],
        "is_flow": st.is_flow,
    }
    if not rmt.has_density(st):
        summary["density"] = "not implemented for this structure"
        return summary, TheoryOverlay(**overlay)
    summary["slow_fraction"] = float(rmt.slow_fraction(st, eps))

    # Density on square cells covering the support, evaluated only inside the boundary (plus one cell) and
    # on Im >= 0: the Jacobian is real, so the density is symmetric under conjugation; outside the support
    # the continuous density is 0. Evaluated in vectorised chunks of 256 points (bounded memory).
    x0, x1, ys_b = float(sp.leftmost), float(sp.rightmost), np.asarray(sp.y)
    pad = 0.04 * max(x1 - x0, 2 * ys_b.max(), 1e-12)
    xs = np.linspace(x0 - pad, x1 + pad, DENSITY_GRID)
    dx = xs[1] - xs[0]
    k = int(np.ceil((ys_b.max() + pad) / dx))
    ys = np.arange(-k, k + 1) * dx
    top = np.interp(xs, np.asarray(sp.x), ys_b, left=0.0, right=0.0)
    inside = (ys[k:, None] <= top[None, :] + dx) & (np.abs(xs - np.clip(xs, x0, x1)) <= dx)[None, :]
    iy, ix = np.nonzero(inside)
    points = jax.numpy.asarray(xs[ix] + 1j * ys[k + iy])
    values = jax.lax.map(partial(rmt.density, st), points, batch_size=256)
    density = np.zeros((ys.size, xs.size))
    density[k + iy, ix] = density[k - iy, ix] = np.asarray(values)
    overlay |= {"density_x": xs, "density_y": ys, "density": density}
    return summary, TheoryOverlay(**overlay)


# ----------------------------------------------------------------------------------------- lyapunov


def _lyapunov(args) -> int:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import xarray as xr
    from matplotlib.figure import Figure

    from .io import provenance
    from .lyapunov import lyapunov_spectrum
    from .plotting import plot_lyapunov

    ens, net, ks = _network(args)
    n_state = net.n_state
    k = args.k
    if k is None:
        k = n_state if n_state <= FULL_SPECTRUM_MAX else DEFAULT_K
    times = {"t_obs": args.t_obs, "t_burn": args.t_burn, "t_frame": args.t_frame, "t_ortho": args.t_ortho}
    what = f"{k} Lyapunov exponent{'s' if k != 1 else ''} of {args.model}, N = {args.n}"
    with _busy(f"computing {what}", enabled=not args.json):
        res = lyapunov_spectrum(net, key=ks, k=k, dt=args.dt, **times)

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
            dt=res.dt,
            **{f"{name}_requested": v for name, v in times.items() if name != "t_obs"},
            status=res.status,
            message=res.message,
            lambda_max=res.lambda_max,
            kaplan_yorke=res.kaplan_yorke,
            ks_entropy=res.ks_entropy,
            sum_rule_residual=res.sum_rule_residual,
            max_cond=res.max_cond,
            parameters=result["parameters"],
        ),
    )

    fig = Figure(figsize=(11.0, 4.5), layout="constrained")
    title = f"{type(ens).__name__}, N = {args.n}, seed {args.seed}" + _sets_text(args)
    plot_lyapunov(res, axes=fig.subplots(1, 2), title=title)
    png, nc = _save(args, "lyapunov", fig, ds, result)

    if args.json:
        print(json.dumps(result))
    else:
        ky = "undetermined (k too small)" if res.kaplan_yorke is None else f"{res.kaplan_yorke:.6g}"
        print(
            f"{args.model} ({type(ens).__name__}), N = {args.n}, seed {args.seed}, k = {res.k} of {n_state}"
        )
        if res.status != "ok":
            print(f"  WARNING: {res.status}: {res.message}")
        print(f"  lambda_max            {res.lambda_max:.6g} ± {res.stderr[0]:.2g}  ({res.units})")
        print(f"  Kaplan-Yorke dim.     {ky}")
        print(f"  KS entropy            {res.ks_entropy:.6g}  ({res.units})")
        print(f"  observation time      {res.t_obs:g} {'time units' if res.dt is not None else 'steps'}")
        print(f"  wrote {png} and {nc}")
    return 0


def _dmft(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import jax
    import xarray as xr
    from matplotlib.figure import Figure

    from .chaos import autocorrelation_gap
    from .errors import InputError, check_size
    from .io import provenance
    from .meanfield import dmft
    from .meanfield.dmft import SCS, Closed, MonteCarlo
    from .meanfield.montecarlo import Options
    from .plotting import plot_dmft
    from .simulate import autocorrelation
    from .spectra import relaxed_state

    ens, net, ks = _network(args)
    if args.samples is not None:
        check_size("dmft", "--samples", args.samples)
    solver = {
        "auto": None, "scs": SCS(), "closed": Closed(),
        "montecarlo": MonteCarlo(Options(n_samples=args.samples or Options.n_samples)),
    }[args.solver]  # fmt: skip
    if args.solver == "auto" and args.samples is not None:
        solver = MonteCarlo(Options(n_samples=args.samples))
    with _busy(f"solving the DMFT of {args.model}", enabled=not args.json):
        res = dmft(ens, solver=solver, key=jax.random.fold_in(ks, 1))
    result = {"model": args.model, **res.as_dict(), "units": "per unit time (τ_h = 1)",
              "parameters": ens.params()}  # fmt: skip
    data = {
        "c_h": ("tau", res.c_h, {"long_name": "DMFT autocorrelation C_h(τ)"}),
    }
    for name, c in res.correlations.items():
        data[name] = ("tau", c, {"long_name": f"DMFT {name.replace('c_', 'C_')}(τ)"})
    if "c_h" in res.stderr:
        se = res.stderr["c_h"][: res.tau.size]
        data["c_h_stderr"] = ("tau", se, {"long_name": "standard error of C_h"})
    simulated = None
    if args.simulate:
        if not net.is_flow:
            raise InputError("dmft --simulate needs a flow network")
        ks1, ks2 = jax.random.split(ks)
        with _busy(f"simulating {args.model}, N = {args.n}", enabled=not args.json):
            s0 = relaxed_state(net, key=ks1, steps=4000, dt=0.05)
            simulated = autocorrelation(net, s0, t_obs=args.t_sim)
        lags, c_sim = simulated
        rms = autocorrelation_gap(res, lags, c_sim)
        result |= {"simulated_delta0": float(c_sim[0]), "rms_gap": rms, "n": args.n, "seed": args.seed,
                   "t_sim": args.t_sim}  # fmt: skip
        data["c_h_simulated"] = ("lag", c_sim, {"long_name": f"simulated C_h(τ), N = {args.n}"})
    coords = {"tau": ("tau", res.tau, {"units": "time units τ_h"})}
    if simulated is not None:
        coords["lag"] = ("lag", simulated[0], {"units": "time units τ_h"})
    ds = xr.Dataset(data, coords=coords, attrs=provenance(
        command="dmft", model=args.model, ensemble=type(ens).__name__, parameters=result["parameters"],
        **{k: v for k, v in result.items() if k not in ("model", "parameters")},
    ))  # fmt: skip

    fig = Figure(figsize=(7.0, 4.8), layout="constrained")
    plot_dmft(res, simulated, ax=fig.subplots())
    fig.suptitle(type(ens).__name__ + _sets_text(args))
    png, nc = _save(args, "dmft", fig, ds, result)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.model} ({type(ens).__name__}): DMFT by {res.method}, status {res.status}")
        err = lambda k: f" ± {res.stderr[k]:.2g}" if k in res.stderr else ""  # noqa: E731
        print(f"  Delta0 = C_h(0)       {res.delta0:.6g}{err('delta0')}")
        print(f"  lambda_max            {res.lambda_max:.6g}{err('lambda_max')}  (per unit time)")
        print(f"  relaxation time       {res.relaxation_time:.6g}  (time units)")
        if simulated is not None:
            print(f"  simulated C_h(0)      {result['simulated_delta0']:.6g}  (N = {args.n})")
            print(f"  RMS gap / Delta0      {result['rms_gap']:.4g}  (tau up to 5 relaxation times)")
        print(f"  wrote {png} and {nc}")
    return 0


# ------------------------------------------------------------------------------------- fixed-points


def _fixed_points(args) -> int:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import xarray as xr
    from matplotlib.figure import Figure

    from .fixedpoints import find_fixed_points
    from .io import provenance
    from .models.base import rate_units
    from .plotting import plot_fixed_points, principal_components

    options = _search_options(args, "fixed-points")
    ens, net, ks = _network(args)
    n_state = net.n_state
    what = f"fixed points of {args.model}, N = {args.n}, from {args.seeds} seeds"
    with _busy(f"finding the {what}", enabled=not args.json):
        fp = find_fixed_points(net, key=ks, **options)

    units = rate_units(fp.is_flow)
    histogram = np.bincount(fp.index).tolist()
    result = {
        "model": args.model,
        "n": args.n,
        "n_state": n_state,
        "seed": args.seed,
        "count": fp.count,
        "n_stable": fp.n_stable,
        "max_residual": fp.max_residual,
        "n_seeds": fp.n_seeds,
        "n_converged": fp.n_converged,
        "failure_rate": fp.failure_rate,
        "index_histogram": histogram,
        "scale": args.scale,
        "units": units,
        "parameters": ens.params(),
    }
    proj, explained = principal_components(fp.points)
    ds = xr.Dataset(
        {
            "points": (("point", "unit"), fp.points, {"long_name": "fixed point (flat state vector)"}),
            "residual": ("point", fp.residuals, {"long_name": "max|F| at the fixed point"}),
            "eig_real": (("point", "eigenvalue"), fp.eigenvalues.real,
                         {"long_name": "Re λ of the Jacobian at the fixed point", "units": units}),
            "eig_imag": (("point", "eigenvalue"), fp.eigenvalues.imag,
                         {"long_name": "Im λ of the Jacobian at the fixed point", "units": units}),
            "index": ("point", fp.index.astype(np.int32),
                      {"long_name": "index (number of unstable directions)"}),
            "projection": (("point", "component"), proj,
                           {"long_name": "fixed points on their first two principal components"}),
        },
        coords={"component": [1, 2]},
        attrs=provenance(
            command="fixed-points",
            model=args.model,
            ensemble=type(ens).__name__,
            n=args.n,
            n_state=n_state,
            seed=args.seed,
            n_seeds=fp.n_seeds,
            scale=args.scale,
            units=units,
            parameters=result["parameters"],
            count=fp.count,
            n_stable=fp.n_stable,
            max_residual=fp.max_residual,
            n_converged=fp.n_converged,
            failure_rate=fp.failure_rate,
            index_histogram=histogram,
            explained_variance=explained.tolist(),
        ),
    )  # fmt: skip

    fig = Figure(figsize=(15.0, 4.8), layout="constrained")
    title = f"{type(ens).__name__}, N = {args.n}, seed {args.seed}" + _sets_text(args)
    plot_fixed_points(fp, axes=fig.subplots(1, 3), title=title)
    png, nc = _save(args, "fixed-points", fig, ds, result)

    if args.json:
        print(json.dumps(result))
    else:
        hist = ", ".join(f"{i}: {c}" for i, c in enumerate(histogram) if c) or "none"
        print(f"{args.model} ({type(ens).__name__}), N = {args.n}, seed {args.seed}, {n_state} state dims")
        print(f"  fixed points          {fp.count} ({fp.n_stable} stable)")
        print(f"  index: count          {hist}")
        print(f"  max residual          {fp.max_residual:.3g}")
        print(f"  seeds converged       {fp.n_converged} of {fp.n_seeds}, failure rate {fp.failure_rate:.3g}")
        print(f"  wrote {png} and {nc}")
    return 0


# --------------------------------------------------------------------------------------- complexity


def _complexity(args) -> int:
    import math

    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import jax
    import xarray as xr
    from matplotlib.figure import Figure

    from .errors import InputError, check_size
    from .fixedpoints import count_fixed_points
    from .io import provenance
    from .kacrice import complexity
    from .plotting import plot_complexity

    base = _ensemble(args)
    cls = type(base)
    name, values = parse_param(cls, args.param)
    if any(item.partition("=")[0].strip() == name for item in args.sets):
        raise InputError(f"{name} is given by both --param and --set")
    ensembles = [base.replace(**{name: float(v)}) for v in values]  # checks every value first
    grid = {k: check_size("complexity", f"--{k.replace('_', '-')}", v)
            for k, v in (("n_h", args.n_h), ("n_r", args.n_r)) if v is not None}  # fmt: skip
    sizes = None
    if args.count_sizes is not None:
        sizes = _sizes(args.count_sizes)
        check_size("complexity", "--networks", args.networks)
        search = _search_options(args, "complexity")

    results, counts = [], []
    for i, (v, ens) in enumerate(zip(values, ensembles)):
        step = f"({i + 1}/{values.size}) at {name} = {v:g}"
        with _busy(f"complexity {step}", enabled=not args.json):
            results.append(complexity(ens, **grid))
        if sizes is not None:
            with _busy(f"counting fixed points {step}", enabled=not args.json):
                counts.append(count_fixed_points(ens, sizes, key=jax.random.PRNGKey(args.seed),
                                                 n_networks=args.networks, **search))  # fmt: skip

    finite = lambda x: float(x) if math.isfinite(x) else None  # noqa: E731  (JSON has no NaN)
    sigma = [c.sigma for c in results]
    gaussian = [c.gaussian for c in results]
    converged = [bool(c.converged) for c in results]
    result = {
        "model": args.model,
        "param": name,
        "values": values.tolist(),
        "sigma": sigma,
        "gaussian": gaussian,
        "converged": converged,
        "units": "per unit (E[#fixed points] ~ exp(N Sigma))",
        "parameters": {**base.params(), name: values.tolist()},
    }
    data = {
        "sigma": ("value", sigma, {"long_name": "annealed complexity Σ", "units": "per unit"}),
        "gaussian": ("value", gaussian, {"long_name": "best Gaussian site law (lower bound)",
                                         "units": "per unit"}),
        "functional": ("value", [c.functional for c in results], {"long_name": "functional at the optimum"}),
        "kl": ("value", [c.kl for c in results], {"long_name": "KL(ρ || reference) at the optimum"}),
        "log_det": ("value", [c.log_det for c in results], {"long_name": "log-determinant term L"}),
        "q": ("value", [c.q for c in results], {"long_name": "<φ(h)^2> under the optimal ρ"}),
        "converged": ("value", np.array(converged, np.int8), {"long_name": "optimisation converged (1/0)"}),
    }  # fmt: skip
    coords = {"value": ("value", values, {"long_name": name})}
    extra = {"messages": [c.message for c in results], **grid}
    rate = rate_se = None
    if sizes is not None:
        rate = [finite(c["rate"]) for c in counts]
        rate_se = [finite(c["rate_stderr"]) for c in counts]
        result |= {"rate": rate, "rate_stderr": rate_se, "count_sizes": sizes, "networks": args.networks,
                   "seeds": args.seeds, "scale": args.scale, "seed": args.seed,
                   "mean_count": [c["mean"].tolist() for c in counts],
                   "count_failure_rate": [c["failure_rate"].tolist() for c in counts]}  # fmt: skip
        nan = lambda xs: [math.nan if x is None else x for x in xs]  # noqa: E731
        data |= {
            "rate": ("value", nan(rate), {"long_name": "growth rate of log(mean count) in N",
                                          "units": "per unit"}),
            "rate_stderr": ("value", nan(rate_se), {"long_name": "standard error of the growth rate"}),
            "mean_count": (("value", "size"), [c["mean"] for c in counts],
                           {"long_name": "mean number of fixed points found"}),
            "count_stderr": (("value", "size"), [c["stderr"] for c in counts],
                             {"long_name": "standard error of the mean count"}),
            "count_failure_rate": (("value", "size"), [c["failure_rate"] for c in counts],
                                   {"long_name": "fraction of seeds that did not converge"}),
        }  # fmt: skip
        coords["size"] = ("size", np.asarray(sizes, np.int32), {"long_name": "network size N"})
        extra |= {"networks": args.networks, "seeds": args.seeds, "scale": args.scale, "seed": args.seed}
    ds = xr.Dataset(data, coords=coords, attrs=provenance(
        command="complexity", model=args.model, ensemble=cls.__name__, param=name,
        parameters=result["parameters"], **extra,
    ))  # fmt: skip

    fig = Figure(figsize=(6.5, 4.8), layout="constrained")
    plot_complexity(name, values, sigma, gaussian, converged=converged, rate=rate, rate_stderr=rate_se,
                    ax=fig.subplots(), title=cls.__name__ + _sets_text(args))  # fmt: skip
    png, nc = _save(args, "complexity", fig, ds, result)

    if args.json:
        print(json.dumps(result))
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


def _sizes(text: str) -> list[int]:
    """--count-sizes N1,N2,...: at least two distinct sizes >= 1."""
    from .errors import InputError

    try:
        sizes = [int(t) for t in text.split(",")]
    except ValueError:
        raise InputError(f"--count-sizes expects integers separated by commas, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise InputError(f"--count-sizes: every size must be >= 1, got {text!r}")
    if len(set(sizes)) < 2:
        raise InputError(f"--count-sizes needs two or more different sizes to fit a rate, got {text!r}")
    return sizes


def _sets_text(args, sep: str = ", ") -> str:
    """The --set assignments for a figure title ("" without any), after ``sep``."""
    return sep + ", ".join(s.strip() for s in args.sets) if args.sets else ""


def _save(args, name: str, fig, ds, result: dict):
    """Write ``fig`` as NAME.png and ``ds`` as NAME.nc under --out, list them in ``result["files"]``.
    The figure is a bare ``matplotlib.figure.Figure`` (not registered with pyplot: nothing to close)."""
    from .io import save_dataset

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png, nc = out / f"{name}.png", out / f"{name}.nc"
    fig.savefig(png, dpi=150)
    save_dataset(ds, nc)
    result["files"] = [str(png), str(nc)]
    return png, nc


class _busy:
    """A one-line "working..." spinner with the elapsed time on stderr, only when stderr is a terminal.

    For work that reports no progress of its own (one compiled call); the line is removed at the end.
    """

    def __init__(self, message: str, *, enabled: bool = True):
        self.message = message
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = self._thread = self._stop = None

    def __enter__(self):
        if self.enabled:
            import threading

            from tqdm import tqdm

            self._bar = tqdm(
                desc=self.message, bar_format="{desc} ... {elapsed}", leave=False, file=sys.stderr
            )
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def _tick(self):
        while not self._stop.wait(0.5):
            self._bar.refresh()

    def __exit__(self, *exc):
        if self.enabled:
            self._stop.set()
            self._thread.join()
            self._bar.close()
        return False


def _network_args(p, *, n: int) -> None:
    """MODEL, --set, --n and --seed: what every network subcommand takes (read by :func:`_network`)."""
    p.add_argument("model", metavar="MODEL", choices=MODEL_NAMES, help=f"one of {', '.join(MODEL_NAMES)}")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE", help=_SET_HELP)
    p.add_argument("--n", type=int, default=n, help=f"network size N (default {n})")
    p.add_argument(
        "--seed", type=int, default=0, help="PRNG seed for the network, state and frame (default 0)"
    )


def _seed_args(p) -> None:
    """--seeds and --scale: the fixed-point search's seeding (read by :func:`_search_options`)."""
    p.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=f"seeds of the fixed-point search per network (default {DEFAULT_SEEDS})",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="standard deviation of the random seeds around the zero state (default 1)",
    )


def _search_options(args, command: str) -> dict:
    """The keyword arguments of ``find_fixed_points`` from --seeds and --scale, checked."""
    import math

    from .errors import InputError, check_size

    check_size(command, "--seeds", args.seeds)
    if not (math.isfinite(args.scale) and args.scale > 0):
        raise InputError(f"--scale must be a finite number > 0, got {args.scale}")
    return {"n_seeds": args.seeds, "scale": args.scale}


def _output_args(p, out: str) -> None:
    p.add_argument("--out", default=out, help=f"output folder (default {out})")
    p.add_argument("--json", action="store_true", help="print one JSON object with the main numbers")


def _network(args):
    """The ensemble from MODEL and --set, one network from --seed and --n, and the key for the rest."""
    import jax

    from .models import sample

    ens = _ensemble(args)
    kn, ks = jax.random.split(jax.random.PRNGKey(args.seed))
    return ens, sample(ens, args.n, key=kn), ks


def _ensemble(args):
    """The ensemble from MODEL and --set (after checking --seed)."""
    from .errors import InputError
    from .models import MODELS

    if not 0 <= args.seed < 2**63:
        raise InputError(f"--seed must be an integer in [0, 2**63), got {args.seed}")
    cls = MODELS[args.model]
    return cls().replace(**parse_sets(cls, args.sets))


# ------------------------------------------------------------------------------------ --set parsing


def parse_sets(cls, items: list[str]) -> dict:
    """Turn ``--set NAME=VALUE`` strings into keyword arguments for ``cls(...).replace``.

    Hyperparameters (``cls.param_names()``) parse as floats (``none`` too where the field may be
    ``None``); the options ``n_in``, ``reset``, ``refine``, ``tied_input``, ``forget_init`` and
    ``update_init`` by their own rules. Names the model does not have are passed through unparsed, so
    that ``Ensemble.replace`` reports them.
    """
    from .errors import InputError

    fields = {f.name: f for f in dataclasses.fields(cls)}
    params = set(cls.param_names())
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name:
            raise InputError(f"--set expects NAME=VALUE, got {item!r}")
        if name not in fields:
            out[name] = raw
        elif name in params:
            optional = "None" in str(fields[name].type)
            out[name] = None if optional and raw.lower() == "none" else _float(name, raw)
        elif name in _OPTIONS:
            out[name] = _OPTIONS[name](name, raw)
        else:
            out[name] = raw
    return out


def parse_param(cls, text: str):
    """Turn ``--param NAME=START:STOP:NUM`` into ``(NAME, NUM evenly spaced values from START to STOP)``.

    NAME must be a hyperparameter of ``cls`` (``cls.param_names()``); START and STOP finite numbers, NUM an
    integer >= 1 (NUM = 1 gives START alone).
    """
    import math

    import numpy as np

    from .errors import InputError

    name, sep, raw = text.partition("=")
    name, parts = name.strip(), raw.split(":")
    if not sep or not name or len(parts) != 3:
        raise InputError(f"--param expects NAME=START:STOP:NUM, got {text!r}")
    params = cls.param_names()
    if name not in params:
        if name in {f.name for f in dataclasses.fields(cls)}:
            what = f"{name!r} is not a hyperparameter of {cls.__name__}"
        else:
            what = f"unknown parameter {name!r} for {cls.__name__}"
        raise InputError(f"--param: {what}; hyperparameters: {', '.join(params)}")
    try:
        start, stop = float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError(f"--param {text}: START and STOP must be numbers") from None
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise InputError(f"--param {text}: START and STOP must be finite")
    try:
        num = int(parts[2])
    except ValueError:
        raise InputError(f"--param {text}: NUM must be an integer") from None
    if num < 1:
        raise InputError(f"--param {text}: NUM must be >= 1")
    return name, np.linspace(start, stop, num)


def _float(name: str, raw: str) -> float:
    from .errors import InputError

    try:
        return float(raw)
    except ValueError:
        raise InputError(f"--set {name}={raw}: not a number") from None


def _int(name: str, raw: str) -> int:
    from .errors import InputError

    try:
        return int(raw)
    except ValueError:
        raise InputError(f"--set {name}={raw}: not an integer") from None


def _bool(name: str, raw: str) -> bool:
    from .errors import InputError

    v = raw.lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off"):
        return False
    raise InputError(f"--set {name}={raw}: expected true/false (or 1/0)")


def _gate_init(name: str, raw: str):
    from .errors import InputError
    from .models import ChronoInit, UniformGateInit

    kind, colon, arg = raw.partition(":")
    kind = kind.strip().lower()
    if kind == "none" and not colon:
        return None
    if kind == "ugi":
        return UniformGateInit(d=_float(name, arg)) if colon else UniformGateInit()
    if kind == "chrono":
        return ChronoInit(t_max=_float(name, arg)) if colon else ChronoInit()
    raise InputError(f"--set {name}={raw}: expected ugi, ugi:D, chrono:TMAX or none")


_OPTIONS = {
    "n_in": _int,
    "reset": lambda name, raw: raw,
    "refine": _bool,
    "tied_input": _bool,
    "forget_init": _gate_init,
    "update_init": _gate_init,
}


if __name__ == "__main__":
    raise SystemExit(main())
