"""Figures for dynagate results (matplotlib, object API; the numerics never import this package)."""

from .fixed_points import plot_fixed_points, principal_components
from .phase import REGION_COLOURS, plot_phase_diagram
from .spectra import TheoryOverlay, plot_lyapunov, plot_spectrum
from .theory import plot_complexity, plot_dmft, plot_slowing

__all__ = [
    "REGION_COLOURS", "TheoryOverlay", "plot_complexity", "plot_dmft", "plot_fixed_points", "plot_lyapunov",
    "plot_phase_diagram", "plot_slowing", "plot_spectrum", "principal_components",
]  # fmt: skip
