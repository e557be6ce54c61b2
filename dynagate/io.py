"""Saved data: provenance attributes and NetCDF files for xarray Datasets.

Files are NetCDF-3 written by scipy (``engine="scipy"``), so no netCDF4/HDF5 dependency. That format
limits what can be stored: attributes must be strings, 32-bit integers or floats (:func:`provenance`
converts everything else), and variables must be real, so a caller splits complex numbers into real and
imaginary variables.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import xarray as xr

from ._version import __version__

_INT32 = (-(2**31), 2**31 - 1)


def provenance(**extra) -> dict:
    """Attributes that say where a result came from, safe to store in a NetCDF file.

    Records the dynagate and JAX versions, the JAX backend and device kind, and the float dtype
    (``"float64"`` when ``jax_enable_x64`` is on), followed by ``extra``. Strings, floats and 32-bit
    integers are kept as they are; anything else (dicts of parameters, lists, ``None``, booleans, integers
    too large for NetCDF-3) is stored as a JSON string.
    """
    attrs = {
        "dynagate_version": __version__,
        "jax_version": jax.__version__,
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
    """Write ``ds`` to the NetCDF file ``path`` (parent folders are created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path, engine="scipy")
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
