"""Regenerate the reference figures of this folder (PNG) and their datasets (NetCDF, parameters and
provenance in the attributes).

    python figures/make_figures.py [--workers K] [--only NAME,...]

Each figure is one ``dynagate phase-diagram`` command (listed in FIGURES); its stores go to
``out/figures/NAME`` (so an interrupted run resumes), the PNG and NetCDF are copied here. The full set
takes about an hour on 2 cores; ``--workers`` spreads it over a Dask LocalCluster.
"""

import argparse
import shutil
from pathlib import Path

from dynagate.cli import main

HERE = Path(__file__).resolve().parent

#: name -> the arguments of ``dynagate phase-diagram``.
FIGURES = {
    # the discontinuous transition, the tricritical point and the bistable band (README figure)
    "gated_reset": ["gated", "--preset", "gated-reset", "--simulate", "--n", "200", "--seeds", "4", "--dmft"],
    # the GRU and the LSTM at initialisation: gate biases against weight scale
    "gru": ["gru", "--preset", "gru", "--simulate", "--n", "100", "--seeds", "2"],
    "lstm": ["lstm", "--preset", "lstm", "--simulate", "--n", "100", "--seeds", "2"],
}


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=None, help="Dask LocalCluster workers")
    ap.add_argument("--only", default=None, help="comma-separated figure names")
    args = ap.parse_args()
    names = list(FIGURES) if args.only is None else args.only.split(",")
    for name in names:
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
