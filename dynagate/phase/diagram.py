"""The phase diagram over two hyperparameters: the sweep over the grid and the ``xarray.Dataset``.

Every point has its own PRNG keys (``fold_in`` of the point index and the diagram's ``key``), so a diagram
does not depend on chunking or backend (:mod:`dynagate.sweep`), and a stored diagram resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .. import lockfile, sweep
from ..errors import InputError, check_key
from ..io import provenance
from ..meanfield.dmft import has_dmft
from ..models.base import Ensemble, sample
from . import regions
from .regions import flags
from .simulation import Simulation, sim_spec, simulate_point
from .theory import (
    LINES,
    THEORY_SPEC,
    dmft_column,
    has_theory,
    theory_lines,
    theory_point,
    tricritical,
    unstable_is_chaos,
)


def check_axis(cls, name: str, values) -> np.ndarray:
    """An axis of a diagram: a hyperparameter of ``cls`` and >= 2 finite, strictly increasing values."""
    params = cls.param_names()
    if name not in params:
        raise InputError(f"unknown axis {name!r} for {cls.__name__}; hyperparameters: {', '.join(params)}")
    v = np.asarray(values, float)
    if v.ndim != 1 or v.size < 2:
        raise InputError(f"axis {name}: give at least two values (got {v.size})")
    if not np.all(np.isfinite(v)):
        raise InputError(f"axis {name}: the values must be finite")
    if not np.all(np.diff(v) > 0):
        raise InputError(f"axis {name}: the values must increase (got a reversed or repeated range)")
    return v


@dataclasses.dataclass(frozen=True)
class _Task:
    """One chunk of grid points (picklable, for Dask workers)."""

    ensemble: Ensemble
    x: tuple
    y: tuple
    theory: bool
    sim: Simulation | None
    key: tuple  # the key's data (uint32 words): picklable for Dask workers
    eps: float
    marginal: float

    def point(self, i: int):
        iy, ix = divmod(int(i), len(self.x[1]))
        return self.ensemble.replace(**{self.x[0]: float(self.x[1][ix]), self.y[0]: float(self.y[1][iy])})

    def __call__(self, indices) -> dict:
        rows = []
        for i in indices:
            e = self.point(i)
            row = {}
            if self.theory:
                row |= theory_point(e, eps=self.eps, marginal=self.marginal)
            if self.sim is not None:
                key = jnp.asarray(self.key, dtype=jnp.uint32)
                row |= simulate_point(e, jax.random.fold_in(key, int(i)), self.sim)
            rows.append(row)
        return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}


@dataclasses.dataclass(frozen=True)
class _DmftTask:
    """DMFT columns (one per x value; picklable)."""

    ensemble: Ensemble
    x: tuple
    y: tuple

    def __call__(self, indices) -> dict:
        xn, xv = self.x
        cols = [dmft_column(self.ensemble.replace(**{xn: float(xv[i])}), self.y) for i in indices]
        return {k: np.stack([c[k] for c in cols]) for k in cols[0]}


def phase_diagram(
    ensemble,
    *,
    x: tuple,
    y: tuple,
    theory: bool = True,
    dmft: bool = False,
    simulate: Simulation | None = None,
    key=None,
    store=None,
    chunk: int | None = None,
    client=None,
    progress: bool | None = None,
    eps: float = 0.05,
    marginal: float = 0.1,
    seed=None,
    restart: bool = False,
):
    """The phase diagram of ``ensemble`` over ``x = (name, values)`` and ``y = (name, values)``.

    Args:
        ensemble: the base hyperparameters (the two axes override theirs).
        theory: compute the theory layers (:mod:`dynagate.phase.theory`).
        dmft: also solve the DMFT along every column (:func:`dynagate.phase.dmft_column`; vanilla flow and
            gated RNN; about 1-3 s per grid point): ``lambda_dmft``, ``line_dmft``, and theory regions from
            it (:func:`dynagate.phase.regions.dmft_region`).
        simulate: a :class:`Simulation` for the simulated layers (:mod:`dynagate.phase.simulation`; None:
            theory only).
        key: PRNG key of the simulations, required with ``simulate`` (point i, network s:
            ``fold_in(fold_in(key, i), s)``; ``key=jax.random.PRNGKey(seed)`` gives the networks that the
            former ``seed=seed`` gave). ``seed`` is the removed spelling: passing it is an error that says so.
        store: a folder for Zarr stores written incrementally and resumed from (None: in memory only).
        restart: discard what ``store`` holds and start again (only once every argument is checked).
        chunk: points per task and per stored chunk (default: 64 theory-only, 4 with simulations).
        client: a ``dask.distributed.Client`` (:func:`dynagate.cluster.connect`); None: in this process.
        progress: progress bars (default: when stderr is a terminal).
        eps, marginal: slow-mode distance, and the slow fraction above which a stable point is marginal.

    Returns:
        An ``xarray.Dataset`` with dimensions (y, x[, seed]) named after the hyperparameters, the layers
        as variables, region labels, the tricritical alpha_r where it applies, and provenance attributes.
    """
    if not isinstance(ensemble, Ensemble):
        raise InputError(f"phase_diagram needs an ensemble such as GatedRNN(), not {type(ensemble).__name__}")
    cls = type(ensemble)
    (xn, xv), (yn, yv) = x, y
    xv, yv = check_axis(cls, xn, xv), check_axis(cls, yn, yv)
    if xn == yn:
        raise InputError(f"the two axes must differ (both are {xn!r})")
    if not theory and simulate is None:
        raise InputError("nothing to compute: theory=False and no simulation")
    dmft = bool(dmft and theory)
    if dmft and not has_dmft(ensemble):
        raise InputError(f"the DMFT layer needs a DMFT registered for the model; {cls.__name__} has none")
    if simulate is not None:
        if not isinstance(simulate, Simulation):
            raise InputError(f"simulate must be a Simulation(...) or None, got {type(simulate).__name__}")
        simulate.check()
    if seed is not None:
        raise InputError(f"phase_diagram: seed= was replaced by key=; pass key=jax.random.PRNGKey({seed!r}) "
                         "for the networks seed= gave")  # fmt: skip
    if simulate is not None and key is None:
        raise InputError("phase_diagram: the simulations sample networks; pass key=jax.random.PRNGKey(...)")
    key_data = () if key is None else tuple(int(w) for w in np.asarray(check_key("phase_diagram", key)))
    if chunk is not None and (
        isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1
    ):
        raise InputError(f"chunk must be an integer >= 1, got {chunk!r}")
    task = _Task(ensemble, (xn, tuple(xv)), (yn, tuple(yv)), bool(theory), simulate, key_data, eps, marginal)
    for i in range(xv.size * yv.size):  # every grid point is a valid ensemble, before any work
        task.point(i)
    is_flow = bool(sample(ensemble, 2, key=jax.random.PRNGKey(0)).is_flow)
    spec = (THEORY_SPEC if theory else {}) | (sim_spec(simulate) if simulate is not None else {})
    chunk = int(chunk) if chunk is not None else (4 if simulate is not None else 64)
    params = {"model": cls.__name__, "ensemble": ensemble.params(), "x": [xn, xv.tolist()],
              "y": [yn, yv.tolist()], "theory": bool(theory), "eps": eps, "marginal": marginal,
              "simulation": None if simulate is None else dataclasses.asdict(simulate), "key": list(key_data),
              "is_flow": is_flow}  # fmt: skip
    folder = None if store is None else Path(store)
    units = "per unit time (tau_h = 1)" if is_flow else "per step"
    with contextlib.nullcontext() if folder is None else lockfile.lock(folder):
        if restart and folder is not None and folder.exists():
            shutil.rmtree(folder)
        if folder is not None:
            _check_layout(folder)
        seeds = {} if simulate is None else {"seed": np.arange(simulate.seeds)}
        values = sweep.run(task, xv.size * yv.size, spec, chunk=chunk, store=folder, lock_store=False,
                           fingerprint=_fingerprint(params), client=client, progress=progress,
                           description="phase diagram", grid=[(yn, yv), (xn, xv)],
                           dims={k: [("seed", seeds["seed"])] for k, (shape, _) in spec.items() if shape},
                           attrs={k: _attrs(k, units) for k in spec})  # fmt: skip
        ds = _dataset(values, params, spec, xv, yv, simulate)
        if theory and has_theory(ensemble):
            grid = {k: np.asarray(ds[k]) for k in ("f0_low", "branches")}
            for name, line in theory_lines(ensemble, (xn, xv), (yn, yv), grid).items():
                ds[name] = (xn, line, {"long_name": LINES[name], "units": yn})
        if dmft:
            dspec = {"lambda_dmft": ((yv.size,), "float64"), "delta0_dmft": ((yv.size,), "float64"),
                     "line_dmft": ((), "float64")}  # fmt: skip
            cols = sweep.run(_DmftTask(ensemble, (xn, tuple(xv)), (yn, tuple(yv))), xv.size, dspec, chunk=1,
                             store=folder and folder / "dmft", lock_store=False,
                             fingerprint=_fingerprint(params | {"dmft": True}), client=client,
                             progress=progress, description="DMFT columns", grid=[(xn, xv)],
                             dims={"lambda_dmft": [(yn, yv)], "delta0_dmft": [(yn, yv)]},
                             attrs=_dmft_attrs(units, yn))  # fmt: skip
            _add_dmft(ds, cols, xn, yn, marginal, is_flow, unstable_is_chaos(ensemble))
    return ds


def _dmft_attrs(units: str, yn: str) -> dict:
    lam = "DMFT lambda_max of the chaotic solution (NaN: none)"
    return {"lambda_dmft": {"long_name": lam, "units": units},
            "delta0_dmft": {"long_name": "DMFT Var h of the chaotic solution (NaN: none)"},
            "line_dmft": {"long_name": LINES["line_dmft"], "units": yn}}  # fmt: skip


def _add_dmft(ds, cols: dict, xn: str, yn: str, marginal: float, is_flow: bool, unstable_chaos: bool) -> None:
    attrs = _dmft_attrs("per unit time (tau_h = 1)" if is_flow else "per step", yn)
    lam = cols["lambda_dmft"].T
    ds["lambda_dmft"] = ((yn, xn), lam, attrs["lambda_dmft"])
    ds["delta0_dmft"] = ((yn, xn), cols["delta0_dmft"].T, attrs["delta0_dmft"])
    ds["line_dmft"] = (xn, cols["line_dmft"], attrs["line_dmft"])
    region = regions.dmft_region(lam, ds.f0_low, ds.f0_high, ds.slow_theory, marginal,
                                 unstable_is_chaos=unstable_chaos)  # fmt: skip
    ds["region_theory"] = ((yn, xn), region, flags(
        "region predicted by the DMFT (chaos) and the static mean field + RMT (fixed points)"))  # fmt: skip


def _check_layout(folder: Path) -> None:
    """Refuse a store of the layout before version 2 (the points in a ``points`` subgroup)."""
    if (folder / "points" / "zarr.json").is_file() and not (folder / "zarr.json").is_file():
        raise InputError(f"{folder} was written by an older version of dynagate; delete it or restart the "
                         "sweep (--restart) to start again")  # fmt: skip


def _attrs(name: str, units: str) -> dict:
    long, unit = _LONG.get(name, (name, ""))
    if name == "region_theory":
        return flags("region predicted by the static mean field and RMT")
    return {"long_name": long} | ({"units": units} if unit == "rate" else {})


def _fingerprint(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


_LONG = {
    "branches": ("number of static mean-field solutions", ""),
    "delta_h": ("Var h of the largest static mean-field solution", ""),
    "f0_low": ("F(0) at the smallest static solution (fixed points unstable iff > 1)", ""),
    "f0_high": ("F(0) at the largest static solution (fixed points unstable iff > 1)", ""),
    "rate_low": (
        "theory decay rate at the smallest static solution: rightmost Jacobian eigenvalue (flows), "
        "ln spectral radius (maps)",
        "rate",
    ),
    "slow_theory": ("predicted slow-mode fraction at the smallest static solution", ""),
    "lambda_small": ("leading Lyapunov exponent from small initial states", "rate"),
    "lambda_large": ("leading Lyapunov exponent from large initial states", "rate"),
    "lambda_small_se": ("standard error of lambda_small (batch means)", "rate"),
    "lambda_large_se": ("standard error of lambda_large (batch means)", "rate"),
    "activity_small": ("mean <h^2> over the observation, from small initial states", ""),
    "activity_large": ("mean <h^2> over the observation, from large initial states", ""),
    "final_small": ("<h^2> at the end of the run from small initial states", ""),
    "final_large": ("<h^2> at the end of the run from large initial states", ""),
    "spectral_radius": ("spectral radius of the Jacobian at the end of a large-state run (seed 0)", "rate"),
    "rightmost": ("largest real part of the Jacobian's eigenvalues (same state)", "rate"),
    "slow_fraction": ("fraction of Jacobian eigenvalues within eps of 0 (flows) or 1 (maps)", ""),
}


def _dataset(values, params, spec, xv, yv, sim):
    xn, yn = params["x"][0], params["y"][0]
    ny, nx = yv.size, xv.size
    units = "per unit time (tau_h = 1)" if params["is_flow"] else "per step"
    data = {}
    for name, (shape, _dt) in spec.items():
        arr = values[name].reshape(ny, nx, *shape)
        dims = (yn, xn, "seed")[: 2 + len(shape)]
        data[name] = (dims, arr, _attrs(name, units))
    if sim is not None:
        data |= _simulated(values, ny, nx, xn, yn, sim, params["marginal"], units)
    coords = {xn: (xn, xv, {"long_name": xn}), yn: (yn, yv, {"long_name": yn})}
    if sim is not None:
        coords["seed"] = ("seed", np.arange(sim.seeds, dtype=np.int32), {"long_name": "network seed"})
    # the swept hyperparameters are axes: their base values were not used, so they are not parameters
    fixed = {k: v for k, v in params["ensemble"].items() if k not in (xn, yn)}
    swept = {n: {"start": float(v[0]), "stop": float(v[-1]), "num": int(v.size)}
             for n, v in ((xn, xv), (yn, yv))}  # fmt: skip
    attrs = provenance(command="phase_diagram", model=params["model"], x=xn, y=yn, parameters=fixed,
                       swept=swept, simulation=params["simulation"], key=params["key"], eps=params["eps"],
                       marginal=params["marginal"], rate_units=units)  # fmt: skip
    tc = tricritical(params["model"], params["ensemble"], {xn, yn})
    if tc is not None:
        attrs["tricritical_alpha_r"] = tc
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _simulated(values, ny: int, nx: int, xn: str, yn: str, sim: Simulation, marginal: float, units: str):
    """The variables derived from the simulated runs: lambda_max over seeds, survival, chaos, regions."""
    data = {}
    # per network the larger of the two runs' exponents: the most unstable attractor found (near a
    # continuous onset a large state can land on a non-trivial fixed point of a finite network)
    both = np.stack([values["lambda_small"], values["lambda_large"]]).reshape(2, ny, nx, -1)
    pick = np.argmax(both, axis=0)[None]
    lam = np.take_along_axis(both, pick, 0)[0]
    se_b = np.take_along_axis(np.stack([values["lambda_small_se"], values["lambda_large_se"]]).reshape(
        2, ny, nx, -1), pick, 0)[0]  # fmt: skip
    s = lam.shape[-1]
    se = (lam.std(-1, ddof=1) / math.sqrt(s)) if s > 1 else se_b[..., 0]
    long = "leading Lyapunov exponent (the larger of the small- and large-state runs, mean over seeds)"
    data["lambda_max"] = ((yn, xn), lam.mean(-1), {"long_name": long, "units": units})
    data["lambda_max_se"] = ((yn, xn), se, {"long_name": "standard error of lambda_max over seeds",
                                            "units": units})  # fmt: skip
    thr = sim.threshold
    surv = {}
    for init in ("small", "large"):
        surv[init] = regions.survived(values[f"final_{init}"].reshape(ny, nx, -1), thr).mean(-1)
        data[f"survived_{init}"] = ((yn, xn), surv[init], {"long_name": "fraction of seeds whose activity "
                                    f"survived (> {thr:g}) from {init} initial states"})  # fmt: skip
    chaos = {}
    for init in ("small", "large"):
        lam_i = values[f"lambda_{init}"].reshape(ny, nx, -1)
        se_i = values[f"lambda_{init}_se"].reshape(ny, nx, -1)
        chaos[init] = regions.chaotic(lam_i, se_i, values[f"final_{init}"].reshape(ny, nx, -1), thr).mean(-1)
        long = f"fraction of seeds chaotic from {init} initial states (survived, lambda > 2 se)"
        data[f"chaotic_{init}"] = ((yn, xn), chaos[init], {"long_name": long})
    slow = values["slow_fraction"].reshape(ny, nx) if sim.spectra else np.zeros((ny, nx))
    region = regions.simulated_region(surv["small"], chaos["large"], lam.mean(-1), se, slow, marginal)
    data["region_simulated"] = ((yn, xn), region, flags("region found in simulation"))
    return data
