"""Phase diagrams: theory regions and lines over simulated maps."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import _axes

REGION_COLOURS = ("#cfe3f3", "#f6c9b4", "#c9a8e6", "#d4ecc8", "#efe6f7")


def plot_phase_diagram(ds, axes=None, title: str | None = None) -> Figure:
    """A phase diagram from :func:`dynagate.phase.phase_diagram`: theory lines over the simulated map.

    Left (with simulations): the largest Lyapunov exponent found (from small or large initial states),
    on a diverging colour scale centred at 0 and clipped at the 80th percentile of |lambda| (so that a few
    strongly chaotic points do not wash out the region near 0; the colour bar is extended), with the
    theory lines; points bistable in simulation (chaos
    from large initial states only) are circled. Right (or alone, theory only): the theory regions with
    their labels and the same lines. Theory lines: the stability boundary of the smallest static solution
    (F(0) = 1 at it: the zero fixed point where there is no input), the onset of further static
    solutions, the DMFT chaotic solution's lower edge where it lies below the stability line (the
    discontinuous transition), and the tricritical alpha_r where it applies.
    """
    from matplotlib.colors import ListedColormap, TwoSlopeNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    yn, xn = ds.attrs["y"], ds.attrs["x"]
    x, y = np.asarray(ds[xn]), np.asarray(ds[yn])
    simulated = "lambda_max" in ds
    theory = "region_theory" in ds
    fig, axes = _axes(axes, 1 + (simulated and theory), (12.5, 5.0) if simulated and theory else (6.5, 5.0))
    axes = list(np.atleast_1d(axes))
    units = ds.attrs.get("rate_units", "")

    def lines(ax, colour):
        handles = []
        styles = {"line_stability": ("-", 2.0, "smallest fixed point loses stability"),
                  "line_static_onset": ("--", 1.6, "onset of further static solutions"),
                  "line_dmft": ("-.", 2.0, "DMFT chaotic solution appears")}  # fmt: skip
        for name, (ls, lw, label) in styles.items():
            if name not in ds:
                continue
            line = np.asarray(ds[name], dtype=float)
            if name == "line_dmft" and "line_stability" in ds:  # only its discontinuous part (module doc)
                line = np.where(line < np.asarray(ds.line_stability) - 1e-9, line, np.nan)
            if np.isfinite(line).any():
                ax.plot(x, line, color=colour, ls=ls, lw=lw)
                handles.append(Line2D([], [], color=colour, lw=lw, ls=ls, label=label))
        tc = ds.attrs.get("tricritical_alpha_r")
        if tc is not None and "alpha_r" in (xn, yn):
            draw = ax.axvline if xn == "alpha_r" else ax.axhline
            draw(tc, color=colour, lw=1.2, ls=":")
            handles.append(Line2D([], [], color=colour, lw=1.2, ls=":", label=f"tricritical α_r = {tc:.3g}"))
        return handles

    if simulated:
        ax = axes[0]
        lam = np.asarray(ds.lambda_max)
        finite = np.abs(lam[np.isfinite(lam)])
        span = max(float(np.percentile(finite, 80)) if finite.size else 0.0, 1e-6)
        mesh = ax.pcolormesh(x, y, np.clip(lam, -span, span), cmap="RdBu_r",
                             norm=TwoSlopeNorm(0.0, -span, span), shading="nearest")  # fmt: skip
        fig.colorbar(mesh, ax=ax, label=f"λ_max, largest found ({units})",
                     extend="both" if finite.size and finite.max() > span else "neither")  # fmt: skip
        handles = lines(ax, "k") if theory else []
        bi = np.asarray(ds.region_simulated) == 2  # bistable
        if bi.any():
            yy, xx = np.meshgrid(y, x, indexing="ij")
            ax.scatter(xx[bi], yy[bi], marker="o", s=28, facecolors="none", edgecolors="k", lw=1.2)
            handles.append(Line2D([], [], ls="none", marker="o", mfc="none", mec="k",
                                  label="bistable in simulation"))  # fmt: skip
        if handles:
            ax.legend(handles=handles, loc="upper left", fontsize="small", framealpha=0.85)
        n = ds.attrs.get("simulation")
        ax.set_title("simulation" + (f" ({_sim_text(n)})" if n else ""))
    if theory:
        ax = axes[-1]
        region = np.asarray(ds.region_theory)
        ax.pcolormesh(x, y, region, cmap=ListedColormap(REGION_COLOURS), vmin=-0.5, vmax=4.5,
                      shading="nearest")  # fmt: skip
        handles = lines(ax, "k")
        names = str(ds.region_theory.attrs["flag_meanings"]).split()
        present = [i for i in range(len(names)) if (region == i).any()]
        handles += [Patch(color=REGION_COLOURS[i], label=names[i].replace("_", " ")) for i in present]
        ax.legend(handles=handles, loc="upper left", fontsize="small", framealpha=0.85)
        mf = "f0_low" in ds and bool(np.isfinite(np.asarray(ds.f0_low)).any())
        what = "static mean field + RMT" if mf else "RMT at the zero state (unstable: chaotic label)"
        ax.set_title("theory: " + what + (" + DMFT" if "line_dmft" in ds else ""))
    for ax in axes:
        ax.set_xlabel(xn)
        ax.set_ylabel(yn)
    if title is not None:
        fig.suptitle(title)
    return fig


def _sim_text(sim) -> str:
    import json

    if isinstance(sim, str):
        sim = json.loads(sim)
    return f"N = {sim['n']}, {sim['seeds']} networks per point"
