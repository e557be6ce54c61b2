"""Fixed points: their positions (principal components) and Jacobian spectra."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..models.base import rate_units
from ._common import _axes


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
