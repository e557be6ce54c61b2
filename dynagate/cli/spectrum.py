"""``dynagate spectrum``: the eigenvalues of the Jacobian of one sampled network, with ``--theory`` the
random-matrix prediction from the statistics of its own units."""

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

#: Default distance from 0 (flows) or 1 (maps) within which eigenvalues count as slow.
SLOW_EPS = 0.05
#: ``--theory``: abscissae of the support boundary, and grid points across the support's real extent for
#: the density map (square cells; the density is evaluated only inside the boundary).
THEORY_N_X = 512
DENSITY_GRID = 120
#: Ctrl-C: the eigenvalues are one LAPACK call, with nothing finished before it returns.
NOTHING_KEPT = ("nothing was saved (the spectrum is one eigenvalue computation, with no partial result); run "
                "the command again")  # fmt: skip


def add_parser(sub) -> None:
    p = sub.add_parser(
        "spectrum",
        help="eigenvalues of the Jacobian of one sampled network",
        description="Sample one network of size N and plot/save the eigenvalues of its Jacobian at the "
        "zero state or at the state reached after a transient from a random state. With --theory, the "
        "random-matrix prediction for that Jacobian (from the statistics of the network's own units at "
        "that state) is drawn under the eigenvalues and reported next to the sampled numbers.",
    )
    network_args(p, n=200)
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
    output_args(p, "out/spectrum")
    p.set_defaults(run=run)


def run(args) -> int:
    import math

    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import xarray as xr
    from matplotlib.figure import Figure

    from .. import limits, spectra
    from ..errors import InputError, Interrupted, check_size
    from ..io import provenance
    from ..limits import check_steps
    from ..models.base import rate_units
    from ..plotting import plot_spectrum

    if args.steps is not None and args.state != "relaxed":
        raise InputError("--steps sets the transient of --state relaxed; it does nothing with --state zero")
    if not (math.isfinite(args.eps) and args.eps > 0):
        raise InputError(f"--eps must be a finite number > 0, got {args.eps}")
    relax = 0
    if args.state == "relaxed":
        relax = check_size("spectrum", "--steps", spectra.RELAX_STEPS if args.steps is None else args.steps)
        check_steps("spectrum", "--steps", relax, relax)
    check_limits(args, limits.spectrum(network_sizes(ensemble_from(args), args.n, "spectrum"), relax))
    _interrupt.keep(NOTHING_KEPT)
    try:
        ens, net, ks = network_from(args)
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
            with busy("computing the random-matrix prediction", enabled=not args.json):
                theory, overlay = _theory(net, state, args.eps)
    except KeyboardInterrupt:
        raise Interrupted(NOTHING_KEPT) from None
    _interrupt.keep(None)

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

    title = f"{type(ens).__name__}, N = {args.n}, {args.state} state" + sets_text(args, "\n")
    fig = Figure(figsize=(5.5, 5.0) if overlay is None else (6.5, 6.0), layout="constrained")
    plot_spectrum(spec, ax=fig.subplots(), title=title, theory=overlay)
    png, nc = save(args, "spectrum", fig, ds, result)

    if args.json:
        print_json(result)
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

    from .. import rmt
    from ..errors import InputError
    from ..plotting import TheoryOverlay

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

    xs, ys, density = rmt.density_grid(st, sp, DENSITY_GRID)
    overlay |= {"density_x": xs, "density_y": ys, "density": density}
    return summary, TheoryOverlay(**overlay)
