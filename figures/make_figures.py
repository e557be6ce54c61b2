"""Regenerate the reference figures of this folder (PNG) and their datasets (NetCDF, parameters and
provenance in the attributes).

    python figures/make_figures.py [--workers K] [--only NAME,...] [--relabel]

Each phase diagram is one ``dynagate phase-diagram`` command (listed in FIGURES); its stores go to
``out/figures/NAME`` (so an interrupted run resumes), the PNG and NetCDF are copied here. The full set
takes about an hour on 2 cores; ``--workers`` spreads it over a Dask LocalCluster. ``gated_slowing`` (the
update gate slows chaos: :func:`dynagate.chaos.slowing_scan`, DMFT over nine networks of N = 1000) takes
about 2 hours on 2 cores and is made only when named in ``--only``; each network is kept in its store, so
an interrupted run resumes.

``--relabel`` runs nothing: it recomputes the simulated regions of the phase diagrams' datasets here from
their stored per-point values with the current rule (:func:`dynagate.phase.regions.simulated_region`) and
redraws their PNGs, for when the rule changes; the dataset's attribute ``relabelled`` says so.
"""

import argparse
import datetime
import json
import shutil
from pathlib import Path

import jax
import numpy as np

import dynagate as dg
from dynagate.chaos import slowing_scan
from dynagate.cli import main
from dynagate.cli.phase_diagram import PRESETS, figure
from dynagate.io import load_dataset, save_dataset
from dynagate.models import MODELS
from dynagate.phase import regions
from dynagate.plotting import plot_slowing
from dynagate.validate import slowing_rows

HERE = Path(__file__).resolve().parent

#: name -> the arguments of ``dynagate phase-diagram``.
FIGURES = {
    # the discontinuous transition, the tricritical point and the bistable band (README figure)
    "gated_reset": ["gated", "--preset", "gated-reset", "--simulate", "--n", "200", "--seeds", "4", "--dmft"],
    # the GRU and the LSTM at initialisation: gate biases against weight scale
    "gru": ["gru", "--preset", "gru", "--simulate", "--n", "100", "--seeds", "2", "--dmft"],
    "lstm": ["lstm", "--preset", "lstm", "--simulate", "--n", "100", "--seeds", "2", "--dmft"],
}


#: name -> the arguments of :func:`dynagate.chaos.slowing_scan` (theory alpha_z, simulated alpha_z).
SCANS = {
    "gated_slowing": {"base": dg.GatedRNN(g_h=4.0), "alpha_z_theory": [0, 1, 2, 3, 4, 5],
                      "alpha_z_sim": [0, 2, 5], "n": 1000, "seeds": 3, "key": jax.random.PRNGKey(2026),
                      "snapshots": 2,
                      "store": "out/figures/gated_slowing/networks"},
}  # fmt: skip


def scan(name):
    kw = dict(SCANS[name])
    ds = slowing_scan(kw.pop("base"), kw.pop("alpha_z_theory"), kw.pop("alpha_z_sim"), progress=print, **kw)
    print("\n".join(slowing_rows(ds)))
    ds.to_netcdf(HERE / f"{name}.nc")
    plot_slowing(ds).savefig(HERE / f"{name}.png", dpi=120)
    print(f"wrote figures/{name}.png and figures/{name}.nc")


def relabel(name):
    """Recompute the simulated regions of ``figures/NAME.nc`` with the current rule and redraw its PNG."""
    args = FIGURES[name]
    path = HERE / f"{name}.nc"
    ds = load_dataset(path)
    spectra = json.loads(ds.attrs["simulation"])["spectra"]
    slow = ds.slow_fraction.values if spectra else np.zeros(ds.lambda_max.shape)
    new = regions.simulated_region(ds.survived_small.values, ds.chaotic_large.values, ds.lambda_max.values,
                                   ds.lambda_max_se.values, slow, float(ds.attrs["marginal"]))  # fmt: skip
    changed = int((new != ds.region_simulated.values).sum())
    ds["region_simulated"] = ds.region_simulated.copy(data=new)
    when = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    ds.attrs["relabelled"] = (
        f"{when}: region_simulated recomputed from the stored values with the current rule"
    )
    save_dataset(ds, path)
    sets = PRESETS[args[args.index("--preset") + 1]]["set"]
    figure(ds, MODELS[args[0]].__name__, sets, panels=2).savefig(HERE / f"{name}.png", dpi=150)
    counts = ", ".join(
        f"{r} {int((new == i).sum())}" for i, r in enumerate(regions.REGIONS) if (new == i).any()
    )
    print(f"{name}: {changed} of {new.size} points relabelled; simulated regions: {counts}")


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=None, help="Dask LocalCluster workers")
    ap.add_argument("--only", default=None, help="comma-separated figure names")
    ap.add_argument("--relabel", action="store_true", help="recompute the stored simulated regions only")
    args = ap.parse_args()
    names = list(FIGURES) if args.only is None else args.only.split(",")
    if args.relabel:
        for name in names:
            relabel(name)
        return
    for name in names:
        if name in SCANS:
            scan(name)
            continue
        out = Path("out/figures") / name
        extra = [] if args.workers is None else ["--workers", str(args.workers)]
        code = main(["phase-diagram", *FIGURES[name], *extra, "--out", str(out)])
        if code != 0:
            raise SystemExit(f"{name}: dynagate phase-diagram exited with {code}")
        shutil.copy(out / "phase_diagram.png", HERE / f"{name}.png")
        shutil.copy(out / "phase_diagram.nc", HERE / f"{name}.nc")
        print(f"wrote figures/{name}.png and figures/{name}.nc")


if __name__ == "__main__":
    run()
