"""Saved data: provenance attributes and NetCDF files for xarray Datasets.

Files are NetCDF-3 written by scipy (``engine="scipy"``), so no netCDF4/HDF5 dependency. That format
limits what can be stored: attributes must be strings, 32-bit integers or floats (:func:`provenance`
converts everything else), and variables must be real, so a caller splits complex numbers into real and
imaginary variables.
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import xarray as xr

from ._version import __version__

_INT32 = (-(2**31), 2**31 - 1)


_DEPENDENCIES = ("numpy", "scipy", "jax", "jaxlib", "equinox", "xarray", "zarr", "matplotlib", "sympy")


@functools.cache
def _versions() -> str:
    out = {}
    for name in _DEPENDENCIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return json.dumps(out)


@functools.cache
def _commit() -> str:
    """The git commit of the checkout the package runs from ("+dirty" with uncommitted changes), or "" when
    it is not a git checkout (an installed wheel) or git is missing."""
    here = Path(__file__).resolve().parent
    try:
        run = functools.partial(subprocess.run, cwd=here, capture_output=True, text=True, timeout=5)
        head = run(["git", "rev-parse", "HEAD"])
        if head.returncode != 0:
            return ""
        dirty = run(["git", "status", "--porcelain", "--untracked-files=no"])
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def provenance(**extra) -> dict:
    """Attributes that say where a result came from, safe to store in a NetCDF file.

    Records the time of writing (UTC, ISO 8601), the command line, the git commit of the package's checkout
    (empty outside one), the dynagate version and every dependency's version, the JAX backend and device
    kind, and the float dtype (``"float64"`` when ``jax_enable_x64`` is on), followed by ``extra``. Strings,
    floats and 32-bit integers are kept as they are; anything else (dicts of parameters, lists, ``None``,
    booleans, integers too large for NetCDF-3) is stored as a JSON string.
    """
    attrs = {
        "created_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command_line": json.dumps(sys.argv),
        "git_commit": _commit(),
        "dynagate_version": __version__,
        "jax_version": jax.__version__,
        "versions": _versions(),
        "backend": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "dtype": "float64" if jax.config.jax_enable_x64 else "float32",
    }
    attrs.update({k: _attr(v) for k, v in extra.items()})
    return attrs


def _attr(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (str, float)):
        return v
    if isinstance(v, int) and not isinstance(v, bool) and _INT32[0] <= v <= _INT32[1]:
        return v
    return json.dumps(v, default=str)


def save_dataset(ds: xr.Dataset, path) -> Path:
    """Write ``ds`` to the NetCDF file ``path`` (parent folders are created); returns the path.

    The file is written beside ``path`` and then renamed onto it, so a write stopped half-way (Ctrl-C, a
    full disk) leaves the previous file whole instead of a truncated one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    try:
        ds.to_netcdf(part, engine="scipy")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path


def load_dataset(path) -> xr.Dataset:
    """Read a NetCDF file written by :func:`save_dataset` fully into memory (the file is closed).

    Numeric attributes come back as Python ``int``/``float``; JSON-string attributes stay strings
    (``json.loads(ds.attrs["parameters"])``).
    """
    with xr.open_dataset(path, engine="scipy") as ds:
        ds = ds.load()
    ds.attrs = {k: v.item() if isinstance(v, np.generic) else v for k, v in ds.attrs.items()}
    return ds
