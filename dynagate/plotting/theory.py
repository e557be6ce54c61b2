"""Mean-field figures: the DMFT correlation, the Kac-Rice complexity, the update gate's slowing of chaos."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._common import _axes


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
    per_step = getattr(result, "per_step", False)
    ax.set_xlabel("lag τ [steps]" if per_step else "lag τ [time units τ_h]")
    ax.set_ylabel("autocorrelation C_h(τ)")
    lam = f"{result.lambda_max:.4g}"
    if "lambda_max" in result.stderr and np.isfinite(result.stderr["lambda_max"]):
        lam += f" ± {result.stderr['lambda_max']:.2g}"
    unit = "step" if per_step else "unit time"
    ax.set_title(title or f"Δ0 = {result.delta0:.4g}, λ_max = {lam} per {unit}, {result.status}")
    ax.legend(loc="best", fontsize="small", framealpha=0.85)
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
