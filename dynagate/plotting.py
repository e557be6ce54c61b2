"""Figures for dynagate results (matplotlib, object API; the numerics never import this module)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .spectra import Spectrum

FLOW_UNITS = "per unit time (τ_h = 1)"
MAP_UNITS = "per step"


def spectrum_units(is_flow: bool) -> str:
    """Units of a Jacobian eigenvalue: a rate for flows, a multiplier per step for maps."""
    return FLOW_UNITS if is_flow else MAP_UNITS


def plot_spectrum(spec: Spectrum, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Jacobian eigenvalues in the complex plane, with the stability boundary and the rightmost one.

    The boundary is the line Re λ = 0 for flows and the unit circle for maps. Axes have equal aspect.

    Args:
        spec: a :class:`dynagate.spectra.Spectrum`.
        ax: axes to draw on; ``None`` makes a new figure.
        title: axes title.

    Returns:
        The figure holding ``ax``.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 5.0), layout="constrained")
    else:
        fig = ax.get_figure()
    eigs = np.asarray(spec.eigenvalues)
    ax.scatter(eigs.real, eigs.imag, s=8, alpha=0.7, color="C0", lw=0, label=f"eigenvalues ({eigs.size})")
    if spec.is_flow:
        ax.axvline(0.0, color="k", lw=0.8, ls="--", label="stability boundary Re λ = 0")
    else:
        t = np.linspace(0.0, 2.0 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), color="k", lw=0.8, ls="--", label="stability boundary |λ| = 1")
    lam = spec.rightmost
    sign = "+" if lam.imag >= 0 else "-"
    ax.scatter(
        [lam.real],
        [lam.imag],
        s=70,
        facecolors="none",
        edgecolors="C3",
        lw=1.5,
        label=f"rightmost λ = {lam.real:.3g} {sign} {abs(lam.imag):.3g}i",
        zorder=3,
    )
    units = spectrum_units(spec.is_flow)
    ax.set_xlabel(f"Re λ [{units}]")
    ax.set_ylabel(f"Im λ [{units}]")
    ax.axhline(0.0, color="0.8", lw=0.5, zorder=0)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="best", fontsize="small", framealpha=0.85)
    if title is not None:
        ax.set_title(title)
    return fig
