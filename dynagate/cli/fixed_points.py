"""``dynagate fixed-points``: the fixed points of one sampled network, their stability and index."""

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
    search_options,
    seed_args,
    sets_text,
)

#: Seeds per batch of the search: Ctrl-C keeps the fixed points of the finished batches. Batches change
#: neither the seeds (drawn first) nor the points found (the same counts; coordinates equal to a few 1e-16,
#: the rounding of other padded shapes), and cost about nothing: a cold run of the default 512 seeds took
#: as long as one batch (N = 20, vanilla and gated), a warm N = 60 gated one 4.6 s against 3.8 s.
BATCH = 128
#: The line if Ctrl-C has to end the process inside a compiled step (the finished batches are in memory:
#: their spectra and the deduplication come after the search, so they are not written as they finish).
WATCHDOG = ("nothing was saved (the finished batches of seeds are saved when Ctrl-C comes between compiled "
            "steps, not inside one); run the command again")  # fmt: skip


def add_parser(sub) -> None:
    p = sub.add_parser(
        "fixed-points",
        help="fixed points of one sampled network, their stability and index",
        description="Sample one network of size N and find its fixed points (under zero input) from K seeds: "
        "half random draws of scale X around the zero state, half end points of short trajectories; Adam "
        "descent on |F|^2 / 2, then damped Newton to max|F| < 1e-10 (float64), deduplication. Seeds that "
        "do not converge are counted (failure rate), not raised. The index of a fixed point is its number "
        "of unstable directions (Jacobian eigenvalues with Re > 0 for flows, |λ| > 1 for maps).",
    )
    network_args(p, n=20)
    seed_args(p)
    output_args(p, "out/fixed-points")
    p.set_defaults(run=run)


def run(args) -> int:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import xarray as xr
    from matplotlib.figure import Figure

    from .. import limits
    from ..errors import Interrupted
    from ..fixedpoints import find_fixed_points
    from ..io import provenance
    from ..models.base import rate_units
    from ..plotting import plot_fixed_points, principal_components

    options = search_options(args, "fixed-points")
    net = network_sizes(ensemble_from(args), args.n, "fixed-points")
    check_limits(args, limits.fixed_points(net, args.seeds, batch=BATCH))
    ens, net, ks = network_from(args)
    n_state = net.n_state
    what = f"fixed points of {args.model}, N = {args.n}, from {args.seeds} seeds"
    stopped = None
    _interrupt.keep(WATCHDOG)
    with busy(f"finding the {what}", enabled=not args.json):
        try:
            fp = find_fixed_points(net, key=ks, batch=BATCH, **options)
        except Interrupted as e:
            if e.partial is None:
                raise Interrupted(f"{_plain(e)}; nothing was saved; run the command again") from None
            fp, stopped = e.partial, e  # the fixed points of the finished batches: saved below
    _interrupt.keep(None)

    units = rate_units(fp.is_flow)
    histogram = np.bincount(fp.index).tolist()
    result = {
        "model": args.model,
        "n": args.n,
        "n_state": n_state,
        "seed": args.seed,
        **fp.summary(),
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
            status=fp.status.value,
            interrupted=stopped is not None,
            count=fp.count,
            n_stable=fp.n_stable,
            max_residual=fp.max_residual,
            n_converged=fp.n_converged,
            failure_rate=fp.failure_rate,
            index_histogram=histogram,
            explained_variance=explained.tolist(),
        ),
    )  # fmt: skip

    fig = None  # after Ctrl-C the data alone, at once
    if stopped is None:
        fig = Figure(figsize=(15.0, 4.8), layout="constrained")
        title = f"{type(ens).__name__}, N = {args.n}, seed {args.seed}" + sets_text(args)
        plot_fixed_points(fp, axes=fig.subplots(1, 3), title=title)
    png, nc = save(args, "fixed-points", fig, ds, result)
    if stopped is not None:
        if args.json:
            print_json(result)
        found = f"{fp.count} fixed points they found are" if fp.count != 1 else "fixed point they found is"
        raise Interrupted(f"{_plain(stopped)}; the {found} saved in {nc} (status "
                          "interrupted); run the command again for all the seeds (a search cannot be "
                          "resumed)")  # fmt: skip

    if args.json:
        print_json(result)
    else:
        hist = ", ".join(f"{i}: {c}" for i, c in enumerate(histogram) if c) or "none"
        print(f"{args.model} ({type(ens).__name__}), N = {args.n}, seed {args.seed}, {n_state} state dims")
        print(f"  fixed points          {fp.count} ({fp.n_stable} stable)")
        print(f"  index: count          {hist}")
        print(f"  max residual          {fp.max_residual:.3g}")
        print(f"  seeds converged       {fp.n_converged} of {fp.n_seeds}, failure rate {fp.failure_rate:.3g}")
        print(f"  wrote {png} and {nc}")
    return 0


def _plain(e) -> str:
    """The library's message without its function name."""
    return str(e).removeprefix("find_fixed_points: ")
