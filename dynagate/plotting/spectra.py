"""Eigenvalue spectra with their random-matrix overlay, and Lyapunov spectra."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..models.base import rate_units
from ..spectra import Spectrum
from ._common import _axes


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
