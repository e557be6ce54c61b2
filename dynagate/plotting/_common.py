"""Shared figure helpers."""

from __future__ import annotations

import matplotlib.pyplot as plt


def _axes(ax, ncols: int, figsize: tuple[float, float]):
    """(figure, axes): the given axes (one, or a sequence of ``ncols``) and their figure, or a new
    figure of ``ncols`` panels."""
    if ax is None:
        return plt.subplots(1, ncols, figsize=figsize, layout="constrained")
    return (ax[0] if ncols > 1 else ax).get_figure(), ax
