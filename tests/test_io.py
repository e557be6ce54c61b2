"""Provenance attributes and the NetCDF round trip."""

import datetime
import json
import re
import sys
from pathlib import Path

import jax
import numpy as np
import xarray as xr

import dynagate
from dynagate.io import load_dataset, provenance, save_dataset


def test_provenance_types_are_netcdf_safe():
    attrs = provenance(
        n=30, seed=2**40, g=1.5, name="gated", flag=True, nothing=None, params={"g_h": 3.0}, arr=np.int64(7)
    )
    assert attrs["dynagate_version"] == dynagate.__version__
    assert attrs["jax_version"] == jax.__version__
    assert attrs["backend"] == jax.default_backend()
    assert attrs["dtype"] == ("float64" if jax.config.jax_enable_x64 else "float32")
    assert (attrs["n"], attrs["g"], attrs["name"], attrs["arr"]) == (30, 1.5, "gated", 7)
    # NetCDF-3 has no int64, bool, null or dict attributes: they become JSON strings
    assert json.loads(attrs["seed"]) == 2**40
    assert (attrs["flag"], attrs["nothing"]) == ("true", "null")
    assert json.loads(attrs["params"]) == {"g_h": 3.0}
    assert all(type(v) in (str, int, float) for v in attrs.values())
    # where it came from: UTC time, command line, commit (this is a git checkout), every dependency's version
    when = datetime.datetime.fromisoformat(attrs["created_utc"])
    assert when.utcoffset() == datetime.timedelta(0)
    assert abs((datetime.datetime.now(datetime.UTC) - when).total_seconds()) < 60
    assert json.loads(attrs["command_line"]) == sys.argv
    if (Path(dynagate.__file__).parent.parent / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", attrs["git_commit"])
    versions = json.loads(attrs["versions"])
    assert versions["numpy"] == np.__version__ and versions["xarray"] == xr.__version__
    assert {"scipy", "zarr", "jaxlib", "equinox"} <= set(versions)


def test_save_load_round_trip(tmp_path):
    x = np.random.default_rng(0).normal(size=5)
    ds = xr.Dataset(
        {"real": ("eigenvalue", x, {"units": "per unit time (τ_h = 1)"})},
        attrs=provenance(n=5, params={"g": 2.0}, seed=2**40),
    )
    path = save_dataset(ds, tmp_path / "sub" / "a.nc")
    back = load_dataset(path)
    np.testing.assert_array_equal(back["real"].values, x)  # float64 stored exactly
    assert back["real"].attrs["units"] == "per unit time (τ_h = 1)"
    assert back.attrs == ds.attrs
    assert type(back.attrs["n"]) is int
