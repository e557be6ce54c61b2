"""dynagate.chaos: the bookkeeping of the DMFT-against-networks comparison (the science runs in the slow
test of tests/test_dmft.py and in `dynagate validate`); fakes stand in for the solver and the networks."""

import math

import jax
import numpy as np
import pytest

import dynagate as dg
from dynagate import chaos
from dynagate.meanfield.dmft import DMFTResult
from dynagate.plotting import plot_slowing
from dynagate.validate import slowing_rows


def test_efold_time_of_an_exponential():
    # C = 2 e^{-tau / t_c}: the e-folding time is t_c; linear interpolation on a 0.01 grid is exact to
    # (0.01 / t_c)^2 / 8 relative
    t_c = 7.0
    tau = np.arange(0, 40, 0.01)
    assert chaos.efold_time(tau, 2 * np.exp(-tau / t_c)) == pytest.approx(t_c, rel=1e-6)
    assert math.isnan(chaos.efold_time(tau, np.ones_like(tau)))  # never decays


def _fake_result(az):
    tau = np.linspace(0, 200, 2001)
    t_c = 10.0 * (1 + az)
    return DMFTResult(tau, 2.0 * np.exp(-tau / t_c), 2.0, 0.05 / (1 + az), t_c, 1 / t_c, "converged", 0.0,
                      "montecarlo", stderr={"lambda_max": 0.001})  # fmt: skip


def _fake_sample(result, lam_shift, d0_scale):
    lags = np.arange(0, 5 * result.relaxation_time + 1e-9, 0.25)
    c = d0_scale * np.interp(lags, result.tau, result.c_h)
    return chaos.ChaosSample(lags, c, result.lambda_max + lam_shift, 0.002)


def test_compare_passes_and_fails_at_its_tolerances():
    r = _fake_result(1.0)
    good = [_fake_sample(r, s, 1.0) for s in (-0.002, 0.0, 0.002)]
    out = chaos.compare(r, good)
    assert all(out["passed"].values())
    assert out["relaxation_time"][0] == pytest.approx(out["relaxation_time"][1], rel=1e-12)
    far = [_fake_sample(r, s, 1.08) for s in (0.011, 0.012, 0.013)]  # Delta0 8% off; lambda 48% off, tight
    bad = chaos.compare(r, far)["passed"]
    assert not bad["delta0"] and not bad["lambda_max"] and bad["relaxation_time"]


def test_slowing_scan_assembles_a_dataset_and_a_figure(monkeypatch, tmp_path):
    import sys

    dmft_module = sys.modules["dynagate.meanfield.dmft"]  # the package re-exports the function dmft
    monkeypatch.setattr(dmft_module, "dmft", lambda ens, **kw: _fake_result(float(ens.alpha_z)))
    monkeypatch.setattr(chaos, "simulate_chaos", lambda ens, n, *, key, **kw: _fake_sample(
        _fake_result(float(ens.alpha_z)), 0.001 * float(jax.random.normal(key)), 1.0))  # fmt: skip
    ds = chaos.slowing_scan(dg.GatedRNN(g_h=4.0), [0, 1, 2], [0, 2], n=10, seeds=3, key=jax.random.PRNGKey(0))
    assert list(ds.alpha_z.values) == [0, 1, 2] and list(ds.alpha_z_sim.values) == [0, 2]
    assert ds.sim_lambda_max.shape == (2, 3) and bool(ds.cmp_lambda_max_passed.all())
    assert ds.attrs["ensemble_g_h"] == 4.0 and "dynagate_version" in ds.attrs
    assert len(slowing_rows(ds)) == 2
    path = tmp_path / "s.nc"
    ds.to_netcdf(path)
    theory_only = chaos.slowing_scan(dg.GatedRNN(g_h=4.0), [5], [], n=10, seeds=3, key=jax.random.PRNGKey(0))
    assert theory_only.sim_lambda_max.shape == (0, 3)
    fig = plot_slowing(ds)
    assert fig.axes[0].get_xlabel() == "update-gate sensitivity α_z" and "λ_max" in fig.axes[0].get_ylabel()


def test_simulated_networks_are_stored_and_reused(monkeypatch, tmp_path):
    # each network is written once; a rerun with the same settings reads it back (same numbers, no
    # simulation), other settings simulate again; networks do not depend on the other alpha_z asked for
    calls = []

    def fake(ens, n, *, key, **kw):
        calls.append(float(ens.alpha_z))
        eig = np.array([0.1 + 1j, -2.0 + 0j]) * float(jax.random.uniform(key))
        return chaos.ChaosSample(np.arange(3.0), np.array([2.0, 1.0, 0.5]), float(jax.random.normal(key)),
                                 0.01, [eig])  # fmt: skip

    monkeypatch.setattr(chaos, "simulate_chaos", fake)
    kw = {"n": 10, "seeds": 2, "key": jax.random.PRNGKey(3), "snapshots": 1, "store": tmp_path}
    first = chaos.simulate_slowing(dg.GatedRNN(g_h=4.0), [0, 2], **kw)
    assert calls == [0, 0, 2, 2] and len(list(tmp_path.glob("*.npz"))) == 4
    again = chaos.simulate_slowing(dg.GatedRNN(g_h=4.0), [2], **kw)
    assert calls == [0, 0, 2, 2]
    for a, b in zip(first[2.0], again[2.0]):
        assert a.lambda_max == b.lambda_max and np.array_equal(a.eigenvalues[0], b.eigenvalues[0])
    chaos.simulate_slowing(dg.GatedRNN(g_h=4.0), [2], **(kw | {"t_obs": 500.0}))
    assert calls == [0, 0, 2, 2, 2, 2]
