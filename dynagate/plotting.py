"""Figures for dynagate results (matplotlib, object API; the numerics never import this module)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .models.base import rate_units
from .spectra import Spectrum


def _axes(ax, ncols: int, figsize: tuple[float, float]):
    """(figure, axes): the given axes (one, or a sequence of ``ncols``) and their figure, or a new
    figure of ``ncols`` panels."""
    if ax is None:
        return plt.subplots(1, ncols, figsize=figsize, layout="constrained")
    return (ax[0] if ncols > 1 else ax).get_figure(), ax


@dataclasses.dataclass(frozen=True)
class TheoryOverlay:
    """A random-matrix prediction to draw over sampled eigenvalues (arrays only; computed elsewhere).

    Attributes:
        boundary: the support boundary as a closed polyline of complex points
            (``dynagate.rmt.Support.polyline()``).
        rightmost: the support's rightmost point (real).
        radius: the largest |λ| over the support.
        is_flow: whether the Jacobian is a flow's (mark ``rightmost``) or a map's (draw the circle
            |λ| = ``radius``).
        density_x, density_y, density: optional eigenvalue density, ``density[j, i]`` at
            ``density_x[i] + 1j * density_y[j]``, as a fraction of all eigenvalues per unit area; values
            <= 0 (outside the support) are left blank.
    """

    boundary: np.ndarray
    rightmost: float
    radius: float
    is_flow: bool
    density_x: np.ndarray | None = None
    density_y: np.ndarray | None = None
    density: np.ndarray | None = None


def plot_spectrum(
    spec: Spectrum,
    ax: Axes | None = None,
    title: str | None = None,
    theory: TheoryOverlay | Mapping | None = None,
) -> Figure:
    """Jacobian eigenvalues in the complex plane, with the stability boundary and the eigenvalue deciding
    stability (rightmost for flows, largest modulus for maps), optionally over a random-matrix prediction.

    The boundary is the line Re λ = 0 for flows and the unit circle for maps. Axes have equal aspect.
    With ``theory``, the predicted support boundary is drawn as a line, the predicted rightmost point
    (flows) or spectral-radius circle (maps) is marked, and the predicted density, if given, is a shaded
    map under the points with its colour bar.

    Args:
        spec: a :class:`dynagate.spectra.Spectrum`.
        ax: axes to draw on; ``None`` makes a new figure.
        title: axes title.
        theory: a :class:`TheoryOverlay`, or a mapping with its fields.

    Returns:
        The figure holding ``ax``.
    """
    fig, ax = _axes(ax, 1, (5.5, 5.0) if theory is None else (6.5, 6.0))
    if isinstance(theory, Mapping):
        theory = TheoryOverlay(**theory)
    units = rate_units(spec.is_flow)
    if theory is not None and theory.density is not None:
        # square-root colour scale up to the 99th percentile: the bulk stays visible next to sharp peaks
        dens = np.ma.masked_less_equal(np.asarray(theory.density, dtype=float), 0.0)
        top = float(np.percentile(dens.compressed(), 99)) if dens.count() else 1.0
        mesh = ax.pcolormesh(
            theory.density_x, theory.density_y, dens, shading="nearest", cmap="Greys", alpha=0.6,
            norm=PowerNorm(0.5, vmin=0.0, vmax=top), zorder=0, rasterized=True,
        )  # fmt: skip
        fig.colorbar(
            mesh, ax=ax, shrink=0.85, extend="max" if dens.count() and dens.max() > top else "neither",
            label="predicted eigenvalue density [fraction per unit area]",
        )  # fmt: skip
    eigs = np.asarray(spec.eigenvalues)
    ax.scatter(eigs.real, eigs.imag, s=8, alpha=0.7, color="C0", lw=0, label=f"eigenvalues ({eigs.size})")
    if spec.is_flow:
        ax.axvline(0.0, color="k", lw=0.8, ls="--", label="stability boundary Re λ = 0")
    else:
        t = np.linspace(0.0, 2.0 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), color="k", lw=0.8, ls="--", label="stability boundary |λ| = 1")
    if theory is not None:
        b = np.asarray(theory.boundary)
        ax.plot(b.real, b.imag, color="C1", lw=1.3, label="RMT support boundary", zorder=2)
        if theory.is_flow:
            ax.scatter(
                [theory.rightmost], [0.0], marker="D", s=36, color="C1", edgecolors="k", lw=0.6, zorder=4,
                label=f"predicted rightmost Re λ = {theory.rightmost:.3g}",
            )  # fmt: skip
        else:
            t = np.linspace(0.0, 2.0 * np.pi, 400)
            r = theory.radius
            ax.plot(r * np.cos(t), r * np.sin(t), color="C1", lw=1.0, ls=":", zorder=2,
                    label=f"predicted spectral radius {r:.3g}")  # fmt: skip
    # the eigenvalue that decides stability: rightmost for flows, largest modulus for maps
    lam, what = (
        (spec.rightmost, "rightmost")
        if spec.is_flow
        else (complex(eigs[np.argmax(np.abs(eigs))]), "largest |λ|:")
    )
    sign = "+" if lam.imag >= 0 else "-"
    ax.scatter(
        [lam.real],
        [lam.imag],
        s=70,
        facecolors="none",
        edgecolors="C3",
        lw=1.5,
        label=f"{what} λ = {lam.real:.3g} {sign} {abs(lam.imag):.3g}i",
        zorder=3,
    )
    ax.set_xlabel(f"Re λ [{units}]")
    ax.set_ylabel(f"Im λ [{units}]")
    ax.axhline(0.0, color="0.8", lw=0.5, zorder=0)
    ax.set_aspect("equal", adjustable="datalim")
    if theory is None:
        ax.legend(loc="best", fontsize="small", framealpha=0.85)
    else:  # more entries, and the predicted edge is where "best" tends to put them: below the axes
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=2, fontsize="small", frameon=False)
    if title is not None:
        ax.set_title(title)
    return fig


def plot_lyapunov(result, axes=None, title: str | None = None, n_top: int = 5) -> Figure:
    """A Lyapunov spectrum with its error bars, and the convergence of the top exponents.

    Left: exponent index i vs lambda_i with standard-error bars and the line lambda = 0. Right: the
    running estimate (cumulative mean of the per-block estimates ``result.blocks``) of the top
    ``n_top`` exponents against the observation time at the end of each block, with the final value ±
    its standard error as a band.

    Args:
        result: a :class:`dynagate.lyapunov.LyapunovResult`.
        axes: two axes (spectrum, convergence) to draw on; ``None`` makes a new figure.
        title: figure title (a suptitle of the figure holding ``axes``).
        n_top: how many of the leading exponents the convergence panel shows (at most k).

    Returns:
        The figure holding the axes.
    """
    fig, axes = _axes(axes, 2, (11.0, 4.5))
    ax_spec, ax_conv = axes
    lam = np.asarray(result.exponents, dtype=float)
    err = np.asarray(result.stderr, dtype=float)
    blocks = np.asarray(result.blocks, dtype=float)
    k = lam.size
    is_flow = result.dt is not None  # LyapunovResult.dt is set for flows only
    units = result.units

    # Spectrum: index vs lambda_i.
    idx = np.arange(1, k + 1)
    small = k <= 60
    ax_spec.errorbar(
        idx, lam, yerr=err, ls="none", color="C0", elinewidth=0.8, capsize=2 if small else 0,
        marker="o" if small else ".", ms=4 if small else 2, label=f"λ_i ± standard error (k = {k})",
    )  # fmt: skip
    ax_spec.axhline(0.0, color="k", lw=0.8, ls="--", label="λ = 0")
    ax_spec.set_xlabel("exponent index i")
    ax_spec.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_spec.set_ylabel(f"Lyapunov exponent λ_i [{units}]")
    ax_spec.set_title(f"Lyapunov spectrum: λ_max = {lam[0]:.4g} ± {err[0]:.2g}")
    ax_spec.legend(loc="best", fontsize="small", framealpha=0.85)

    # Convergence: running mean over the blocks.
    n_blocks = blocks.shape[0]
    t_end = np.arange(1, n_blocks + 1) * (float(result.t_obs) / n_blocks)
    running = np.cumsum(blocks, axis=0) / np.arange(1, n_blocks + 1)[:, None]
    for i in range(min(n_top, k)):
        c = f"C{i}"
        ax_conv.plot(t_end, running[:, i], color=c, marker=".", ms=4, lw=1.2, label=f"λ_{i + 1}")
        ax_conv.axhspan(lam[i] - err[i], lam[i] + err[i], color=c, alpha=0.15, lw=0)
        ax_conv.axhline(lam[i], color=c, lw=0.6, ls=":")
    ax_conv.plot([], [], color="0.5", lw=6, alpha=0.3, label="final value ± standard error")
    ax_conv.set_xlabel("observation time [time units τ_h]" if is_flow else "observation time [steps]")
    ax_conv.set_ylabel(f"running estimate [{units}]")
    ax_conv.set_xlim(0.0, t_end[-1] * 1.02)
    ax_conv.set_title(f"convergence ({n_blocks} blocks), status: {result.status}")
    ax_conv.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", framealpha=0.85)

    if title is not None:
        fig.suptitle(title)
    return fig


def plot_dmft(result, simulated=None, ax=None, title: str | None = None) -> Figure:
    """The DMFT autocorrelation C_h(tau) (with a +-2 standard-error band for sampled solutions) and,
    if given, a simulated network's autocorrelation ``simulated = (lags, C_h)`` over it.

    Args:
        result: a :class:`dynagate.meanfield.DMFTResult`.
        simulated: (lags, C_h) from :func:`dynagate.simulate.autocorrelation`, or ``None``.
        ax: axes to draw on; ``None`` makes a new figure.
        title: axes title (default: the DMFT numbers).
    """
    fig, ax = _axes(ax, 1, (6.5, 4.5))
    t_end = 5 * result.relaxation_time if result.relaxation_time > 0 else result.tau[-1]
    if simulated is not None:
        t_end = max(t_end, min(simulated[0][-1], 8 * max(result.relaxation_time, 1.0)))
    keep = result.tau <= t_end
    ax.plot(result.tau[keep], result.c_h[keep], color="C0", lw=2, label=f"DMFT ({result.method})")
    se = result.stderr.get("c_h")
    if se is not None:
        lo, hi = result.c_h - 2 * se[: result.c_h.size], result.c_h + 2 * se[: result.c_h.size]
        ax.fill_between(result.tau[keep], lo[keep], hi[keep], color="C0", alpha=0.25, lw=0,
                        label="± 2 standard errors")  # fmt: skip
    if simulated is not None:
        lags, c = simulated
        k = lags <= t_end
        ax.plot(lags[k], c[k], color="C1", lw=1.2, ls="--", label="simulated network")
    ax.axvline(result.relaxation_time, color="0.5", lw=0.8, ls=":", label="relaxation time")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("lag τ [time units τ_h]")
    ax.set_ylabel("autocorrelation C_h(τ)")
    lam = f"{result.lambda_max:.4g}"
    if "lambda_max" in result.stderr and np.isfinite(result.stderr["lambda_max"]):
        lam += f" ± {result.stderr['lambda_max']:.2g}"
    ax.set_title(title or f"Δ0 = {result.delta0:.4g}, λ_max = {lam} per unit time, {result.status}")
    ax.legend(loc="best", fontsize="small", framealpha=0.85)
    return fig


def principal_components(points, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Points (m, n) projected on their first ``k`` principal components, and the fraction of the variance
    each explains. Components beyond the rank (fewer than k + 1 points, or n < k) are zero columns with
    explained fraction 0."""
    pts = np.asarray(points, dtype=float)
    m = pts.shape[0]
    proj, frac = np.zeros((m, k)), np.zeros(k)
    if m < 2:
        return proj, frac
    centred = pts - pts.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    j = min(k, s.size)
    proj[:, :j] = u[:, :j] * s[:j]
    total = float(np.sum(s**2))
    if total > 0:
        frac[:j] = s[:j] ** 2 / total
    return proj, frac


def plot_fixed_points(fp, axes=None, title: str | None = None) -> Figure:
    """Fixed points of one system: the Jacobian eigenvalues at every fixed point, the histogram of the
    index, and the points on their first two principal components.

    Left: all eigenvalues of d rhs / d s at the fixed points in the complex plane, those of stable fixed
    points (index 0) and of unstable ones in two colours, with the stability boundary (Re λ = 0 for flows,
    the unit circle for maps). Middle: number of fixed points per index (number of unstable directions).
    Right: the points projected on their first two principal components, coloured by index.

    Args:
        fp: a :class:`dynagate.fixedpoints.FixedPoints`.
        axes: three axes to draw on; ``None`` makes a new figure.
        title: figure title (a suptitle of the figure holding ``axes``).

    Returns:
        The figure holding the axes.
    """
    fig, axes = _axes(axes, 3, (15.0, 4.8))
    ax_eig, ax_idx, ax_pca = axes
    units = rate_units(fp.is_flow)
    eigs = np.asarray(fp.eigenvalues)
    index = np.asarray(fp.index, dtype=int)
    stable = index == 0
    n_stable = int(stable.sum())

    # (a) eigenvalues, by the stability of their fixed point
    for mask, color, what in ((~stable, "C3", "unstable"), (stable, "C0", "stable")):
        e = eigs[mask].ravel()
        k = int(mask.sum())
        ax_eig.scatter(e.real, e.imag, s=10, alpha=0.6, color=color, lw=0,
                       label=f"at {what} fixed points ({k})")  # fmt: skip
    if fp.is_flow:
        ax_eig.axvline(0.0, color="k", lw=0.8, ls="--", label="stability boundary Re λ = 0")
    else:
        t = np.linspace(0.0, 2.0 * np.pi, 400)
        ax_eig.plot(np.cos(t), np.sin(t), color="k", lw=0.8, ls="--", label="stability boundary |λ| = 1")
    ax_eig.axhline(0.0, color="0.8", lw=0.5, zorder=0)
    ax_eig.set_xlabel(f"Re λ [{units}]")
    ax_eig.set_ylabel(f"Im λ [{units}]")
    ax_eig.set_aspect("equal", adjustable="datalim")
    ax_eig.set_title("Jacobian eigenvalues at the fixed points")
    ax_eig.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=2, fontsize="small", frameon=False)

    # (b) index histogram
    hist = np.bincount(index) if index.size else np.zeros(1, int)
    ax_idx.bar(np.arange(hist.size), hist, width=0.8, color="C3", edgecolor="k", lw=0.5)
    if hist[0]:
        ax_idx.bar([0], hist[:1], width=0.8, color="C0", edgecolor="k", lw=0.5)
    ax_idx.set_xlabel("index (number of unstable directions)")
    ax_idx.set_ylabel("number of fixed points")
    ax_idx.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_idx.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_idx.set_title(f"{fp.count} fixed points ({n_stable} stable), {fp.n_converged} of {fp.n_seeds} "
                     f"seeds converged")  # fmt: skip

    # (c) principal components
    proj, frac = principal_components(fp.points)
    if fp.count:
        sc = ax_pca.scatter(proj[:, 0], proj[:, 1], c=index, cmap="viridis", s=28, edgecolors="k", lw=0.4,
                            vmin=0, vmax=max(int(index.max()), 1))  # fmt: skip
        fig.colorbar(sc, ax=ax_pca, label="index", ticks=MaxNLocator(integer=True))
    if fp.count < 3:
        ax_pca.text(0.5, 0.95, f"{fp.count} fixed point{'s' if fp.count != 1 else ''}: fewer than 2 "
                    "components", transform=ax_pca.transAxes, ha="center", va="top",
                    fontsize="small")  # fmt: skip
    ax_pca.set_xlabel(f"principal component 1 ({100 * frac[0]:.3g}% of variance)")
    ax_pca.set_ylabel(f"principal component 2 ({100 * frac[1]:.3g}% of variance)")
    ax_pca.set_title("fixed points, first two principal components")

    if title is not None:
        fig.suptitle(title)
    return fig


def plot_complexity(
    name: str,
    values,
    sigma,
    gaussian,
    *,
    converged=None,
    rate=None,
    rate_stderr=None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """The annealed complexity Sigma against one parameter, its Gaussian lower bound (dashed) and, if given,
    the numerical growth rates of the fixed-point counts with their standard errors.

    Args:
        name: the parameter's name (x label).
        values, sigma, gaussian: parameter values, Sigma and the best Gaussian value at each.
        converged: optional booleans; values where the optimisation did not converge are drawn hollow.
        rate, rate_stderr: optional growth rates of log(mean count) in N (``None`` entries are skipped).
        ax: axes to draw on; ``None`` makes a new figure.
        title: axes title.

    Returns:
        The figure holding ``ax``.
    """
    fig, ax = _axes(ax, 1, (6.5, 4.8))
    x = np.asarray(values, dtype=float)
    sig = np.asarray(sigma, dtype=float)
    ax.plot(x, sig, color="C0", lw=1.5, marker="o", ms=5, label="Kac-Rice Σ")
    if converged is not None:
        bad = ~np.asarray(converged, dtype=bool)
        if bad.any():
            ax.scatter(x[bad], sig[bad], s=60, facecolors="white", edgecolors="C0", lw=1.5, zorder=3,
                       label="not converged")  # fmt: skip
    ax.plot(x, np.asarray(gaussian, dtype=float), color="C1", lw=1.2, ls="--",
            label="best Gaussian site law (lower bound)")  # fmt: skip
    if rate is not None:
        r = np.array([np.nan if v is None else v for v in rate], dtype=float)
        se = np.array([np.nan if v is None else v for v in (rate_stderr or [None] * r.size)], dtype=float)
        ok = np.isfinite(r)
        ax.errorbar(
            x[ok], r[ok], yerr=np.where(np.isfinite(se[ok]), se[ok], 0.0), ls="none", color="C3", marker="s",
            ms=4, capsize=3, label="numerical growth rate of the count ± standard error",
        )  # fmt: skip
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel(name)
    ax.set_ylabel("complexity Sigma (per unit)")
    ax.legend(loc="best", fontsize="small", framealpha=0.85)
    if title is not None:
        ax.set_title(title)
    return fig


#: Colours of the region labels (stable, chaotic, bistable, marginal, unstable fixed points).
REGION_COLOURS = ("#cfe3f3", "#f6c9b4", "#c9a8e6", "#d4ecc8", "#efe6f7")


def plot_phase_diagram(ds, axes=None, title: str | None = None) -> Figure:
    """A phase diagram from :func:`dynagate.phase.phase_diagram`: theory lines over the simulated map.

    Left (with simulations): the largest Lyapunov exponent found (from small or large initial states),
    on a diverging colour scale centred at 0, with the theory lines; points bistable in simulation (chaos
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
        span = max(float(np.nanmax(np.abs(lam))), 1e-6)
        mesh = ax.pcolormesh(x, y, lam, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -span, span),
                             shading="nearest")  # fmt: skip
        fig.colorbar(mesh, ax=ax, label=f"λ_max, largest found ({units})")
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


def plot_slowing(ds, axes=None, title: str | None = None) -> Figure:
    """The update gate slows chaos: lambda_max and the relaxation time of C_h against alpha_z, the DMFT
    curve (+-2 standard errors) over simulated networks (mean +- 2 standard errors across networks; the
    dataset of :func:`dynagate.chaos.slowing_scan`). Relaxation time: the e-folding time of C_h, C_h(t) =
    C_h(0) / e (:func:`dynagate.chaos.efold_time`)."""
    fig, ax = _axes(axes, 2, (11, 4.2))
    az, azs = np.asarray(ds.alpha_z), np.asarray(ds.alpha_z_sim)
    lam, se = np.asarray(ds.theory_lambda_max), np.asarray(ds.theory_lambda_max_se)
    ax[0].plot(az, lam, "o-", color="C0", label="DMFT (Monte Carlo)")
    ax[0].fill_between(az, lam - 2 * se, lam + 2 * se, color="C0", alpha=0.25, lw=0)
    nets = f"networks, N = {ds.attrs['n']} ({ds.attrs['seeds']} each)"
    yerr = 2 * np.asarray(ds.cmp_lambda_max_sim_se)
    ax[0].errorbar(azs, ds.cmp_lambda_max_sim, yerr=yerr, fmt="s", color="C1", capsize=3, label=nets)
    ax[0].set_ylabel("λ_max [per unit time τ_h]")
    ax[0].set_ylim(bottom=0)
    ax[1].plot(az, ds.theory_efold_time, "o-", color="C0", label="DMFT")
    yerr = 2 * np.asarray(ds.cmp_relaxation_time_sim_se)
    ax[1].errorbar(azs, ds.cmp_relaxation_time_sim, yerr=yerr, fmt="s", color="C1", capsize=3, label=nets)
    ax[1].set_ylabel("e-folding time of C_h [time units τ_h]")
    ax[1].set_yscale("log")
    for a in ax:
        a.set_xlabel("update-gate sensitivity α_z")
        a.legend(loc="best", fontsize="small", framealpha=0.85)
    e = {k[len("ensemble_") :]: v for k, v in ds.attrs.items() if k.startswith("ensemble_")}
    default = (f"the update gate slows chaos: gated RNN, g_h = {e.get('g_h')}, β_z = {e.get('beta_z')}, "
               f"α_r = {e.get('alpha_r')}")  # fmt: skip
    fig.suptitle(title or default)
    return fig
