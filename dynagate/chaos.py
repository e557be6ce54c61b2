"""The chaotic state of simulated gated networks against its DMFT: Delta0, relaxation time, lambda_max, and
the instantaneous Jacobian spectra against the RMT at the DMFT's single-site law.

:func:`simulate_chaos` measures one network (relaxed from a random state): C_h(tau) averaged over units,
the QR lambda_max with its batch-means error, and optionally the eigenvalues of the instantaneous Jacobian
at a few snapshots. :func:`compare` sets the measurements of several networks against a
:class:`~dynagate.meanfield.dmft.DMFTResult` with the acceptance tolerances (module constants below).

**Relaxation time on a window.** Both curves are summarised on the same lag window [0, L] as
int_0^L (C(tau) - C(L)) d tau / (C(0) - C(L)); the theory curve is interpolated to the simulated lags.
Truncation biases both alike (a C_h decaying as e^{-tau / t_c} gives t_c (1 - (1 + L / t_c) e^{-L / t_c}) /
(1 - e^{-L / t_c})); L = min(5 t_c, t_obs / 4) keeps the finite-observation noise of C(L) small.

**lambda_max bias.** A single tangent vector started at random needs a frame burn-in before it aligns with
the top Lyapunov vector; its estimate carries a bias of order log(sqrt N) / T (THEORY.md 7). The frame
burn-in here is max(600, 5 t_c) time units, which brings it below the statistical error at N = 1000.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np

LAMBDA_REL_TOL = 0.15  # lambda_max: within 15% or 3 combined standard errors
DELTA0_REL_TOL = 0.05
RELAXATION_REL_TOL = 0.15
SPECTRUM_TOL = 0.06  # RMT edge and slow fraction: within 6% of the spectrum's extent / absolute


@dataclasses.dataclass
class ChaosSample:
    """One simulated network: C_h on ``lags``, its lambda_max and standard error, and snapshot spectra."""

    lags: np.ndarray
    c_h: np.ndarray
    lambda_max: float
    lambda_se: float
    eigenvalues: list = dataclasses.field(default_factory=list)


def _se(x) -> float:
    """Standard error of the mean of independent values (NaN for fewer than two)."""
    x = np.asarray(x, float)
    return float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan


def window_relaxation_time(tau, c, window: float) -> float:
    """int_0^L (c - c(L)) / (c(0) - c(L)) over lags tau <= L = ``window`` (trapezoid rule)."""
    tau, c = np.asarray(tau, float), np.asarray(c, float)
    keep = tau <= window + 1e-9
    t, x = tau[keep], c[keep] - c[keep][-1]
    return float(np.trapezoid(x, t) / x[0]) if x[0] > 0 else 0.0


def simulate_chaos(
    ensemble,
    n: int,
    *,
    key,
    t_obs: float,
    max_lag: float,
    t_frame: float = 600.0,
    dt: float = 0.05,
    snapshots: int = 0,
    snapshot_gap: float = 200.0,
) -> ChaosSample:
    """Sample a network of ``n`` units, relax it (``t_frame`` time units), measure C_h over ``t_obs`` (lags up
    to ``max_lag``), lambda_max by QR (frame burn-in ``t_frame``, observation ``t_obs``), and the Jacobian's
    eigenvalues at ``snapshots`` states ``snapshot_gap`` time units apart."""
    from .lyapunov import lyapunov_spectrum
    from .models import sample
    from .simulate import autocorrelation, simulate
    from .spectra import eigenvalues, relaxed_state

    k_net, k_state, k_frame = jax.random.split(key, 3)
    net = sample(ensemble, n, key=k_net)
    s0 = relaxed_state(net, key=k_state, steps=round(t_frame / dt), dt=dt)
    lags, c = autocorrelation(net, s0, t_obs=t_obs, dt=dt, max_lag=max_lag)
    ly = lyapunov_spectrum(net, key=k_frame, k=1, state0=s0, dt=dt, t_burn=0.0, t_frame=t_frame, t_obs=t_obs)
    eigs, s = [], s0
    for _ in range(snapshots):
        eigs.append(eigenvalues(net, s))
        s = simulate(
            net, s, steps=round(snapshot_gap / dt), dt=dt, save_every=round(snapshot_gap / dt)
        ).states[-1]
    return ChaosSample(lags, c, float(ly.exponents[0]), float(ly.stderr[0]), eigs)


def compare(result, samples: list[ChaosSample]) -> dict:
    """The DMFT ``result`` against simulated networks: each quantity's theory, simulated mean and standard
    error (spread across networks), relative gap, and whether it is within tolerance (module constants)."""
    lags = samples[0].lags
    window = min(5 * result.relaxation_time, lags[-1])
    theory_c = np.interp(lags, result.tau, result.c_h)
    t_theory = window_relaxation_time(lags, theory_c, window)
    t_each = np.array([window_relaxation_time(lags, s.c_h, window) for s in samples])
    d0_each = np.array([s.c_h[0] for s in samples])
    lam_each = np.array([s.lambda_max for s in samples])
    lam_se = math.hypot(_se(lam_each), result.stderr.get("lambda_max", 0.0))
    out = {
        "delta0": (result.delta0, float(d0_each.mean()), _se(d0_each)),
        "relaxation_time": (t_theory, float(t_each.mean()), _se(t_each)),
        "lambda_max": (result.lambda_max, float(lam_each.mean()), lam_se),
        "window": window,
    }
    rel = {k: abs(v[0] - v[1]) / abs(v[1]) for k, v in out.items() if k != "window"}
    out["passed"] = {
        "delta0": rel["delta0"] <= DELTA0_REL_TOL,
        "relaxation_time": rel["relaxation_time"] <= RELAXATION_REL_TOL,
        "lambda_max": abs(result.lambda_max - lam_each.mean()) <= max(LAMBDA_REL_TOL * abs(lam_each.mean()),
                                                                     3 * lam_se),
    }  # fmt: skip
    return out


def compare_spectra(ensemble, result, samples: list[ChaosSample], eps: float) -> dict:
    """The RMT at the DMFT's single-site law (:func:`dynagate.rmt.dmft_stats`) against the snapshot spectra:
    rightmost point (relative to the spectrum's extent) and the fraction within ``eps`` of 0. Where the
    density formula does not apply (:func:`dynagate.rmt.has_density` false, e.g. alpha_r != 0) the slow
    fraction has no prediction: its theory is NaN and it is not judged."""
    from . import rmt
    from .spectra import slow_fraction

    st = rmt.structure(ensemble, rmt.dmft_stats(result))
    edge = float(rmt.rightmost(st))
    eigs = [e for s in samples for e in s.eigenvalues]
    right = np.array([e.real.max() for e in eigs])
    extent = float(np.mean([e.real.max() - e.real.min() for e in eigs]))
    slow_sim = np.array([float(slow_fraction(e, eps, is_flow=True)) for e in eigs])
    slow_th = float(rmt.slow_fraction(st, eps)) if rmt.has_density(st) else math.nan
    return {
        "rightmost": (edge, float(right.mean()), _se(right)),
        "slow_fraction": (slow_th, float(slow_sim.mean()), _se(slow_sim)),
        "extent": extent,
        "passed": {"rightmost": abs(edge - right.mean()) <= SPECTRUM_TOL * extent,
                   "slow_fraction": math.isnan(slow_th) or abs(slow_th - slow_sim.mean()) <= SPECTRUM_TOL},
    }  # fmt: skip


def slowing_scan(base, alpha_z_theory, alpha_z_sim, *, n: int, seeds: int, key, snapshots: int = 0,
                 eps: float = 0.05, progress=None):  # fmt: skip
    """The DMFT and simulated networks of ``base`` (a GatedRNN) over the update-gate sensitivity alpha_z:
    the theory at ``alpha_z_theory`` (Monte-Carlo DMFT, default options), ``seeds`` networks of ``n`` units
    at each of ``alpha_z_sim`` (observation max(1000, 15 t_c) time units, t_c the DMFT relaxation time).
    Returns an xarray Dataset (theory and per-network variables, the comparison per simulated alpha_z, the
    parameters in the attributes)."""
    import xarray as xr

    from .io import provenance
    from .meanfield.dmft import MonteCarlo, dmft

    k_th, k_sim = jax.random.split(key)
    theory = {}
    for az in sorted(set(map(float, alpha_z_theory)) | set(map(float, alpha_z_sim))):
        theory[az] = dmft(
            base.replace(alpha_z=az), solver=MonteCarlo(), key=jax.random.fold_in(k_th, round(1000 * az))
        )
        if progress is not None:
            r = theory[az]
            progress(f"DMFT alpha_z = {az:g}: lambda_max {r.lambda_max:.4f}, status {r.status}")
    rows = {}
    for az in map(float, alpha_z_sim):
        r = theory[az]
        t_obs = max(1000.0, 100.0 * math.ceil(0.15 * r.relaxation_time))  # 15 t_c in whole hundreds
        max_lag = min(5 * r.relaxation_time, t_obs / 4)
        samples = []
        for s in range(seeds):
            k = jax.random.fold_in(jax.random.fold_in(k_sim, round(1000 * az)), s)
            t_frame = max(600.0, 100.0 * math.ceil(0.05 * r.relaxation_time))
            samples.append(simulate_chaos(base.replace(alpha_z=az), n, key=k, t_obs=t_obs, max_lag=max_lag,
                                          t_frame=t_frame, snapshots=snapshots))  # fmt: skip
            if progress is not None:
                progress(f"network alpha_z = {az:g}, seed {s}: lambda_max {samples[-1].lambda_max:.4f}")
        rows[az] = (samples, compare(r, samples), compare_spectra(base.replace(alpha_z=az), r, samples, eps)
                    if snapshots else None)  # fmt: skip
    azt = np.array(sorted(theory))
    azs = np.array(sorted(rows))
    qty = ("delta0", "relaxation_time", "lambda_max")
    data = {
        "theory_lambda_max": ("alpha_z", [theory[a].lambda_max for a in azt]),
        "theory_lambda_max_se": ("alpha_z", [theory[a].stderr.get("lambda_max", 0.0) for a in azt]),
        "theory_delta0": ("alpha_z", [theory[a].delta0 for a in azt]),
        "theory_relaxation_time": ("alpha_z", [theory[a].relaxation_time for a in azt]),
        "theory_status": ("alpha_z", [theory[a].status for a in azt]),
        "sim_lambda_max": (
            ("alpha_z_sim", "seed"),
            np.reshape([[s.lambda_max for s in rows[a][0]] for a in azs], (-1, seeds)),
        ),
        "sim_lambda_se": (
            ("alpha_z_sim", "seed"),
            np.reshape([[s.lambda_se for s in rows[a][0]] for a in azs], (-1, seeds)),
        ),
        "sim_delta0": (
            ("alpha_z_sim", "seed"),
            np.reshape([[float(s.c_h[0]) for s in rows[a][0]] for a in azs], (-1, seeds)),
        ),
    }
    for q in qty:
        for j, part in enumerate(("theory", "sim", "sim_se")):
            data[f"cmp_{q}_{part}"] = ("alpha_z_sim", [rows[a][1][q][j] for a in azs])
        data[f"cmp_{q}_passed"] = ("alpha_z_sim", [rows[a][1]["passed"][q] for a in azs])
    data["cmp_window"] = ("alpha_z_sim", [rows[a][1]["window"] for a in azs])
    if snapshots:
        for q in ("rightmost", "slow_fraction"):
            for j, part in enumerate(("theory", "sim", "sim_se")):
                data[f"spec_{q}_{part}"] = ("alpha_z_sim", [rows[a][2][q][j] for a in azs])
            data[f"spec_{q}_passed"] = ("alpha_z_sim", [rows[a][2]["passed"][q] for a in azs])
        data["spec_extent"] = ("alpha_z_sim", [rows[a][2]["extent"] for a in azs])
    attrs = {"ensemble": type(base).__name__} | {f"ensemble_{k}": v for k, v in base.params().items()}
    attrs |= {"n": n, "seeds": seeds, "snapshots": snapshots, "slow_eps": eps, "key": str(np.asarray(key))}
    attrs = provenance(**attrs)
    coords = {"alpha_z": azt, "alpha_z_sim": azs, "seed": np.arange(seeds)}
    return xr.Dataset(data, coords=coords, attrs=attrs)
