"""The ``dynagate`` command line, run in-process (``main([...])``) and once as a subprocess."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import dynagate
from dynagate.cli import MODEL_NAMES, main, parse_sets
from dynagate.errors import InputError
from dynagate.io import load_dataset
from dynagate.models import MODELS, ChronoInit, UniformGateInit

REPO = Path(__file__).resolve().parents[1]
# Closed forms below are the same matrix up to rounding of the Jacobian formula, so eigenvalues agree to
# ~1e-15 (float64); 1e-10 is ample. Under JAX_ENABLE_X64=0 the Jacobian is float32 (~1e-7).
EIG_TOL = 1e-10 if jax.config.jax_enable_x64 else 1e-5


def run_json(capsys, argv) -> dict:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)  # stdout holds exactly one JSON object


def saved_eigenvalues(path) -> np.ndarray:
    ds = load_dataset(path)
    return ds["eig_real"].values + 1j * ds["eig_imag"].values


def test_model_names_match_registry():
    assert tuple(MODELS) == MODEL_NAMES


def test_info_json(capsys):
    info = run_json(capsys, ["info", "--json"])
    assert info["dynagate_version"] == dynagate.__version__
    assert info["jax_version"] == jax.__version__
    assert info["backend"] == jax.default_backend()
    assert info["dtype"] == ("float64" if jax.config.jax_enable_x64 else "float32")
    assert len(info["devices"]) == len(jax.devices())


def test_spectrum_gated_json_matches_saved_file(tmp_path, capsys):
    res = run_json(
        capsys, ["spectrum", "gated", "--set", "g_h=3", "--n", "40", "--json", "--out", str(tmp_path)]
    )
    assert {"model", "n", "seed", "state", "rightmost", "spectral_radius", "stable", "units"} <= set(res)
    assert (res["model"], res["n"], res["seed"], res["state"]) == ("gated", 40, 0, "relaxed")
    assert res["parameters"]["g_h"] == 3.0
    assert res["units"] == "per unit time (τ_h = 1)"
    files = [Path(f) for f in res["files"]]
    assert {f.name for f in files} == {"spectrum.png", "spectrum.nc"}
    assert all(f.is_file() and f.stat().st_size > 0 for f in files)

    eigs = saved_eigenvalues(tmp_path / "spectrum.nc")
    assert eigs.size == 3 * 40  # state [h, z, r]
    # The .nc stores the same float64 numbers the JSON was computed from: equal to rounding.
    assert res["spectral_radius"] == pytest.approx(np.abs(eigs).max(), rel=1e-12)
    rightmost = eigs[np.argmax(eigs.real)]
    assert res["rightmost"][0] == pytest.approx(rightmost.real, rel=1e-12)
    assert res["stable"] == (rightmost.real < 0)
    assert res["eps"] == 0.05  # default; a flow's slow modes are near 0
    assert res["slow_fraction"] == pytest.approx(np.mean(np.abs(eigs) < 0.05), rel=1e-6)
    assert "theory" not in res

    attrs = load_dataset(tmp_path / "spectrum.nc").attrs
    assert (attrs["model"], attrs["n"], attrs["seed"], attrs["state"]) == ("gated", 40, 0, "relaxed")
    assert json.loads(attrs["parameters"]) == res["parameters"]
    assert attrs["dtype"] in ("float64", "float32")


def test_spectrum_gru_zero_state_closed_form(tmp_path, capsys):
    """At h = 0 with zero biases r = z = 1/2 and n = 0, so the Jacobian is I/2 + W_n/4."""
    n, seed = 30, 3
    res = run_json(
        capsys,
        [
            "spectrum",
            "gru",
            "--state",
            "zero",
            "--n",
            str(n),
            "--seed",
            str(seed),
            "--json",
            "--out",
            str(tmp_path),
        ],
    )
    kn, _ = jax.random.split(jax.random.PRNGKey(seed))
    W_n = np.asarray(dynagate.sample(dynagate.GRU(), n, key=kn).W_hh[2 * n :])
    ref = np.linalg.eigvals(np.eye(n) / 2 + W_n / 4)
    assert res["rightmost"][0] == pytest.approx(ref.real.max(), abs=EIG_TOL)
    saved = saved_eigenvalues(tmp_path / "spectrum.nc")
    assert saved.size == n
    dist = np.abs(saved[:, None] - ref[None, :])
    assert dist.min(axis=0).max() < EIG_TOL and dist.min(axis=1).max() < EIG_TOL
    assert res["units"] == "per step"
    assert res["stable"] == (np.abs(ref).max() < 1)


def test_spectrum_vanilla_summary(tmp_path, capsys):
    """Human summary; at h = 0 with b = 0 the flow's Jacobian is -I + J."""
    code = main(["spectrum", "vanilla", "--state", "zero", "--n", "30", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "rightmost eigenvalue" in out and "per unit time" in out and "spectrum.nc" in out
    kn, _ = jax.random.split(jax.random.PRNGKey(0))
    J = np.asarray(dynagate.sample(dynagate.VanillaRNN(), 30, key=kn).J)
    saved = saved_eigenvalues(tmp_path / "spectrum.nc")
    # eigenvalues are saved sorted by decreasing real part; closed form up to LAPACK rounding
    assert saved[0].real == pytest.approx(np.linalg.eigvals(J).real.max() - 1.0, abs=EIG_TOL)


def test_spectrum_lstm_chrono(tmp_path, capsys):
    argv = ["spectrum", "lstm", "--set", "forget_init=chrono:20", "--n", "30", "--steps", "200"]
    res = run_json(capsys, [*argv, "--json", "--out", str(tmp_path)])
    assert res["parameters"]["forget_init"] == {"type": "ChronoInit", "t_max": 20.0}
    assert res["units"] == "per step"
    assert saved_eigenvalues(tmp_path / "spectrum.nc").size == 2 * 30  # state [h, c]
    assert load_dataset(tmp_path / "spectrum.nc").attrs["relax_steps"] == 200


# ----------------------------------------------------------------------------------- spectrum --theory

# The random-matrix support is the N -> oo limit; at N = 200 the sampled edge fluctuates about it. Measured
# (float64, seeds 0-9, relaxed state), as a fraction of the support's real extent (~1.1-1.4): the gated flow
# below has sampled rightmost Re λ - predicted rightmost in [-0.035, +0.041], the GRU map has sampled -
# predicted spectral radius in [-0.054, +0.010] (the sample mostly inside: few eigenvalues sit where the
# density thins out at the edge). 0.1 of the extent leaves a margin of 2 over the worst seed.
EDGE_TOL = 0.1
GATED_FLOW = ["gated", "--set", "g_h=3", "--set", "alpha_z=2", "--set", "alpha_r=0", "--n", "200"]


def run_theory(capsys, monkeypatch, tmp_path, argv) -> tuple[dict, object]:
    """``spectrum ARGV --theory --json``: the JSON and the saved dataset (a coarse density grid for speed:
    the grid's resolution is a drawing choice, the numbers checked here do not depend on it)."""
    monkeypatch.setattr("dynagate.cli.spectrum.DENSITY_GRID", 40)
    res = run_json(capsys, ["spectrum", *argv, "--theory", "--json", "--out", str(tmp_path)])
    assert all(Path(f).is_file() and Path(f).stat().st_size > 0 for f in res["files"])
    return res, load_dataset(tmp_path / "spectrum.nc")


def support_extent(ds) -> float:
    """Real extent of the saved support boundary (its polyline runs from leftmost to rightmost)."""
    return float(ds["boundary_real"].max() - ds["boundary_real"].min())


def test_spectrum_theory_gated_flow(tmp_path, capsys, monkeypatch):
    res, ds = run_theory(capsys, monkeypatch, tmp_path, [*GATED_FLOW, "--state", "relaxed"])
    th = res["theory"]
    assert set(th) == {"rightmost", "spectral_radius", "slow_fraction", "eps", "stable", "statistics"}
    assert th["statistics"].startswith("empirical")
    assert th["eps"] == res["eps"] == 0.05
    assert th["stable"] == (th["rightmost"] < 0)
    # flows: the sampled rightmost real part against the predicted rightmost point
    extent = support_extent(ds)
    assert 1.0 < extent < 2.0  # the support spans about (-1.3, 0) here
    assert abs(res["rightmost"][0] - th["rightmost"]) < EDGE_TOL * extent
    # slow fractions within eps = 0.05 of 0, of 600 eigenvalues: both ~0.01, binomial sd ~0.004
    assert 0.0 <= th["slow_fraction"] <= 1.0
    assert abs(res["slow_fraction"] - th["slow_fraction"]) < 0.02

    # the saved data: boundary, theory scalars and the density grid
    b = ds["boundary_real"].values + 1j * ds["boundary_imag"].values
    assert b.real.max() == pytest.approx(th["rightmost"], rel=1e-12)
    np.testing.assert_allclose(np.sort(b.imag), np.sort(-b.imag), atol=1e-12)  # conjugation symmetric
    attrs = ds.attrs
    for key in ("rightmost", "spectral_radius", "slow_fraction"):
        assert attrs[f"theory_{key}"] == th[key]
    assert attrs["eps"] == 0.05 and attrs["slow_fraction"] == res["slow_fraction"]
    dens = ds["density"]
    assert dens.dims == ("density_imag", "density_real")
    assert dens.shape == (ds.sizes["density_imag"], 40)
    assert np.all(np.isfinite(dens.values)) and dens.values.max() > 0
    assert dens.values.min() > -1e-9  # a density, up to round-off
    np.testing.assert_array_equal(dens.values, dens.values[::-1])  # symmetric under Im λ -> -Im λ


def test_spectrum_theory_gru_map(tmp_path, capsys, monkeypatch):
    res, ds = run_theory(capsys, monkeypatch, tmp_path, ["gru", "--set", "g_n=3", "--n", "200"])
    th = res["theory"]
    assert res["units"] == "per step"
    # maps: the sampled spectral radius against the largest |λ| over the support
    assert abs(res["spectral_radius"] - th["spectral_radius"]) < EDGE_TOL * support_extent(ds)
    assert th["stable"] == (th["spectral_radius"] < 1)
    assert 0.0 <= th["slow_fraction"] <= 1.0  # within eps of 1
    assert abs(res["slow_fraction"] - th["slow_fraction"]) < 0.02
    assert "density" in ds


def test_spectrum_theory_without_density(tmp_path, capsys, monkeypatch):
    """alpha_r != 0: the boundary is predicted, the density (and so the slow fraction) is not."""
    argv = ["gated", "--set", "g_h=3", "--set", "alpha_z=2", "--set", "alpha_r=2", "--n", "200"]
    res, ds = run_theory(capsys, monkeypatch, tmp_path, argv)
    th = res["theory"]
    assert th["slow_fraction"] is None
    assert th["density"] == "not implemented for this structure"
    assert th["eps"] == res["eps"] and 0.0 <= res["slow_fraction"] <= 1.0
    assert abs(res["rightmost"][0] - th["rightmost"]) < EDGE_TOL * support_extent(ds)
    assert "density" not in ds and ds.sizes["boundary"] > 100
    assert ds.attrs["theory_slow_fraction"] == "null"  # None, stored as JSON
    # the human summary says so too
    assert main(["spectrum", *argv, "--theory", "--eps", "0.1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "random-matrix prediction" in out and "n/a (not implemented for this structure)" in out
    assert "within 0.1 of 0" in out


def test_spectrum_theory_unsupported_is_one_line(tmp_path, capsys, monkeypatch):
    """Every registered model has an RMT structure; one without (rmt raises NotImplementedError) is a user
    error: one line, exit code 2, nothing written."""

    def no_structure(model, stats):
        raise NotImplementedError("no RMT structure for SomeNet")

    monkeypatch.setattr("dynagate.rmt.structure", no_structure)
    out = tmp_path / "out"
    code = main(["spectrum", "vanilla", "--n", "10", "--state", "zero", "--theory", "--out", str(out)])
    assert_one_line_error(code, capsys, "--theory is not available here: no RMT structure for SomeNet")
    assert not out.exists()


def test_plot_spectrum_theory_overlay_from_a_dict():
    """The overlay may be a plain mapping; a map's prediction is drawn as its radius circle."""
    from matplotlib.figure import Figure

    from dynagate.plotting import plot_spectrum
    from dynagate.spectra import Spectrum

    t = np.linspace(0, 2 * np.pi, 50)
    x = y = np.linspace(-0.6, 0.6, 13)
    inside = np.hypot(x[None, :], y[:, None]) < 0.5
    theory = {"boundary": 0.5 * np.exp(1j * t), "rightmost": 0.5, "radius": 0.5, "is_flow": False}
    theory |= {"density_x": x, "density_y": y, "density": np.where(inside, 1 / (np.pi * 0.25), 0.0)}
    fig = Figure(layout="constrained")
    ax = fig.subplots()
    eigs = 0.4 * np.exp(1j * np.linspace(0, 6, 20))
    assert plot_spectrum(Spectrum(eigs, is_flow=False), ax=ax, theory=theory) is fig
    labels = [h.get_label() for h in ax.get_legend().legend_handles]
    assert "RMT support boundary" in labels and "predicted spectral radius 0.5" in labels
    assert [a.get_ylabel() for a in fig.axes][1] == "predicted eigenvalue density [fraction per unit area]"
    assert ax.get_xlabel() == "Re λ [per step]"


def test_parse_sets():
    kw = parse_sets(
        MODELS["lstm"], ["forget_init=ugi:5", "refine=1", "tied_input=False", "n_in=3", "g_f = 2.5"]
    )
    assert kw == {
        "forget_init": UniformGateInit(d=5.0),
        "refine": True,
        "tied_input": False,
        "n_in": 3,
        "g_f": 2.5,
    }
    assert parse_sets(MODELS["gru"], ["update_init=chrono:30", "reset=before"]) == {
        "update_init": ChronoInit(t_max=30.0),
        "reset": "before",
    }
    assert parse_sets(MODELS["lstm"], ["forget_init=none"]) == {"forget_init": None}
    with pytest.raises(InputError, match="g_n is given twice"):  # never silently the last value
        parse_sets(MODELS["gru"], ["g_n=2", "g_n=3"])
    assert parse_sets(MODELS["vanilla"], ["delta=none", "g=2"]) == {"delta": None, "g": 2.0}
    # names the model lacks pass through unparsed, for Ensemble.replace to report
    assert parse_sets(MODELS["gated"], ["forget_init=whatever"]) == {"forget_init": "whatever"}


def assert_one_line_error(code, capsys, message):
    """Exit code 2, one line "dynagate: error: ..." containing ``message`` on stderr, nothing on stdout."""
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dynagate: error: "), captured.err
    assert message in lines[0]
    assert captured.out == ""


@pytest.mark.parametrize(
    "argv, message",
    [
        (["gated", "--set", "foo=1"], "unknown parameter 'foo'"),
        (["gated", "--n", "0"], "n must be >= 1"),
        (["gated", "--set", "g_h=-1"], "g_h=-1.0 must be >= 0"),
        (["gated", "--set", "g_h=nan"], "g_h=nan is not finite"),
        (["gated", "--set", "g_h=inf"], "is not finite"),
        (["gated", "--set", "tau_z=-1"], "tau_z=-1.0 must be >= 0"),
        (["gated", "--set", "g_h=abc"], "not a number"),
        (["gated", "--set", "g_h"], "NAME=VALUE"),
        (["gru", "--set", "refine=maybe"], "true/false"),
        (["gru", "--set", "reset=sideways"], "reset must be"),
        (["gru", "--set", "n_in=1.5"], "not an integer"),
        (["lstm", "--set", "forget_init=chrono:1"], "t_max=1.0 must be > 2"),
        (["lstm", "--set", "forget_init=ugi:nan"], "not finite"),
        (["lstm", "--set", "forget_init=orthogonal"], "expected ugi"),
        (["lstm", "--set", "update_init=ugi"], "unknown parameter 'update_init'"),
        (["gated", "--state", "zero", "--steps", "10"], "--steps"),
        (["gated", "--steps", "0"], "steps must be >= 1"),
        (["gated", "--seed", "-1"], "--seed"),
        (["gated", "--eps", "0"], "--eps must be a finite number > 0"),
        (["gru", "--eps", "nan", "--theory"], "--eps must be a finite number > 0"),
    ],
)
def test_user_errors_are_one_line(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["spectrum", *argv, "--out", str(out)])
    assert_one_line_error(code, capsys, message)
    assert not out.exists()  # nothing written before the inputs were checked


def test_unknown_model_is_a_usage_error(capsys):
    code = main(["spectrum", "transformer"])
    err = capsys.readouterr().err
    assert code == 2
    assert "invalid choice: 'transformer'" in err and "Traceback" not in err


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "spectrum" in capsys.readouterr().out


def test_module_entry_point_reports_error_without_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "dynagate.cli", "spectrum", "gated", "--set", "bogus=1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "dynagate: error: unknown parameter 'bogus'" in proc.stderr
    assert proc.stdout == ""
    assert not any(tmp_path.iterdir())


def test_parse_sets_rejects_bad_gate_init():
    with pytest.raises(InputError, match="expected ugi"):
        parse_sets(MODELS["gru"], ["update_init=ugi2"])


# ----------------------------------------------------------------------------------------- lyapunov

# At a stable fixed point the Lyapunov exponents are the real parts of the Jacobian's eigenvalues. For a
# real, simple leading eigenvalue the QR estimate of lambda_1 carries only the frame-alignment error
# ~exp(-gap * t_frame) (gap ~0.1, t_frame = 200: negligible) and the RK4 bias ~dt^4 |mu|^5 / 120 ~ 1e-7
# (dt = 0.05, |mu| <= 1.5); float32 tangents are good to ~1e-3 at best (dynagate.lyapunov).
LYAP_TOL = 1e-5 if jax.config.jax_enable_x64 else 2e-3


def test_lyapunov_vanilla_stable_fixed_point(tmp_path, capsys):
    """g = 0.5 < 1: the origin attracts and the Jacobian there is -I + J (tanh'(0) = 1, b = 0)."""
    n = 20
    argv = ["lyapunov", "vanilla", "--set", "g=0.5", "--n", str(n), "--t-obs", "200", "--out", str(tmp_path)]
    res = run_json(capsys, [*argv, "--json"])
    keys = {"exponents", "stderr", "lambda_max", "kaplan_yorke", "ks_entropy", "units", "status", "message"}
    assert keys | {"n", "k", "model", "parameters", "files"} <= set(res)
    assert (res["model"], res["n"], res["k"]) == ("vanilla", n, n)  # default: the full spectrum
    assert res["parameters"]["g"] == 0.5
    assert res["units"].startswith("per unit time")

    kn, _ = jax.random.split(jax.random.PRNGKey(0))
    J = np.asarray(dynagate.sample(dynagate.VanillaRNN(g=0.5), n, key=kn).J)
    mu = np.linalg.eigvals(-np.eye(n) + J)
    ref = np.sort(mu.real)[::-1]
    lam = np.asarray(res["exponents"])
    assert np.all(lam < 0)
    # Seed 0 (float64) has a real leading eigenvalue; if it were a complex pair (as the float32 draw
    # has), each member would carry the O(log cond / T) oscillation described below, < 1e-2 here.
    lead_is_real = abs(mu[np.argmax(mu.real)].imag) < 1e-12
    assert res["lambda_max"] == lam[0] == pytest.approx(ref[0], abs=LYAP_TOL if lead_is_real else 1e-2)
    assert -0.75 < res["lambda_max"] < -0.25  # -1 + max Re eig(J), |eig(J)| <~ 0.5
    # Complex-conjugate pairs rotate inside their 2-D invariant subspace, so their two QR exponents
    # oscillate (O(log cond / T) each) but their sum does not: partial sums that do not split a pair are
    # exact growth rates of volumes, up to the RK4 bias (~1e-7 per exponent).
    whole = [j for j in range(1, n + 1) if j == n or not np.isclose(ref[j - 1], ref[j], rtol=0, atol=1e-12)]
    np.testing.assert_allclose(np.cumsum(lam)[np.array(whole) - 1], np.cumsum(ref)[np.array(whole) - 1],
                               atol=n * LYAP_TOL)  # fmt: skip
    assert res["kaplan_yorke"] == 0.0 and res["ks_entropy"] == 0.0
    # The pairs' oscillation makes the batch-means error exceed the 0.01 target at t_obs = 200: the
    # result is still written and printed, with its status.
    assert res["status"] in ("converged", "too_short")
    assert (res["message"] == "") == (res["status"] == "converged")

    files = [Path(f) for f in res["files"]]
    assert {f.name for f in files} == {"lyapunov.png", "lyapunov.nc"}
    assert all(f.is_file() and f.stat().st_size > 0 for f in files)
    ds = load_dataset(tmp_path / "lyapunov.nc")
    np.testing.assert_array_equal(ds["exponent"].values, lam)
    np.testing.assert_array_equal(ds["stderr"].values, res["stderr"])
    assert ds["block_estimate"].dims == ("block", "index") and ds.sizes["index"] == n
    mean_rtol = 1e-12 if jax.config.jax_enable_x64 else 1e-6  # the mean of 20 numbers, re-rounded
    np.testing.assert_allclose(ds["block_estimate"].values.mean(0), lam, rtol=mean_rtol)
    attrs = ds.attrs
    assert (attrs["model"], attrs["n"], attrs["seed"], attrs["k"]) == ("vanilla", n, 0, n)
    assert (attrs["units"], attrs["status"], attrs["t_obs"]) == (res["units"], res["status"], 200.0)
    # the times used (the library's defaults for flows, in whole RK4 steps), not the null of an unset option
    used = [attrs[k] for k in ("t_burn", "t_frame", "t_ortho", "dt")]
    assert used == pytest.approx([200.0, 200.0, 1.0, 0.05], rel=1e-12)
    assert [res[k] for k in ("t_burn", "t_frame", "t_ortho")] == pytest.approx(used[:3], rel=1e-12)
    assert attrs["kaplan_yorke"] == 0.0 and attrs["ks_entropy"] == 0.0
    assert json.loads(attrs["parameters"]) == res["parameters"]

    # The human summary of the same run shows a warning line when the status is not "converged".
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "lambda_max" in out and "lyapunov.nc" in out
    if res["status"] != "converged":
        assert f"WARNING: {res['status']}: {res['message']}" in out


def test_lyapunov_gru_leading_k(tmp_path, capsys):
    res = run_json(capsys, ["lyapunov", "gru", "--n", "10", "--k", "3", "--json", "--out", str(tmp_path)])
    assert res["k"] == 3 and len(res["exponents"]) == len(res["stderr"]) == 3
    assert res["exponents"] == sorted(res["exponents"], reverse=True)
    assert res["units"] == "per step"
    assert load_dataset(tmp_path / "lyapunov.nc")["block_estimate"].shape[1] == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--k", "0"], "k must be an integer in [1, 10]"),
        (["--k", "1000"], "k must be an integer in [1, 10]"),
        (["--t-obs", "-1"], "t_obs=-1.0 must be > 0"),
        (["--dt", "0.1"], "dt is only for flows"),
    ],
)
def test_lyapunov_user_errors_are_one_line(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["lyapunov", "gru", "--n", "10", *argv, "--out", str(out)])
    assert_one_line_error(code, capsys, message)
    assert not out.exists()


def test_dmft_vanilla_published_values(tmp_path, capsys):
    # THEORY.md 10: SCS at g = 5, Delta0 = 16.964, lambda_max = 0.434 (0.5%)
    out = run_json(capsys, ["dmft", "vanilla", "--set", "g=5", "--out", str(tmp_path), "--json"])
    assert out["method"] == "scs" and out["status"] == "converged"
    assert out["delta0"] == pytest.approx(16.964, rel=5e-3)
    assert out["lambda_max"] == pytest.approx(0.434, rel=5e-3)
    ds = load_dataset(tmp_path / "dmft.nc")
    assert ds.attrs["delta0"] == out["delta0"] and ds["c_h"].values[0] == pytest.approx(out["delta0"])
    assert (tmp_path / "dmft.png").stat().st_size > 10_000


def test_dmft_gated_with_simulation(tmp_path, capsys):
    # the closed alpha_z = 0 solver with a small simulated network drawn over it: the JSON carries the
    # theory numbers and the simulated C_h(0); at N = 300 the gap is finite-N (checked in the slow tests)
    argv = ["dmft", "gated", "--set", "g_h=6", "--set", "alpha_r=3", "--simulate", "--n", "300",
            "--t-sim", "100", "--out", str(tmp_path), "--json"]  # fmt: skip
    out = run_json(capsys, argv)
    assert out["method"] == "closed" and out["status"] == "converged"
    assert {"delta0", "lambda_max", "relaxation_time", "status", "simulated_delta0", "rms_gap"} <= set(out)
    assert out["simulated_delta0"] == pytest.approx(out["delta0"], rel=0.25)
    ds = load_dataset(tmp_path / "dmft.nc")
    assert ds["c_h_simulated"].values[0] == pytest.approx(out["simulated_delta0"])
    assert "c_r" in ds and ds["tau"].attrs["units"] == "time units τ_h"


def test_dmft_vanilla_map_per_step_with_simulation(tmp_path, capsys):
    # the Euler map at delta = 1 (Molgedey, Schuchhardt & Schuster 1992): Delta0 = g^2 <phi^2>_{Delta0} and
    # lambda_max = 0.5 ln(g^2 <phi'^2>_{Delta0}) per step, here through --solver euler-map; --simulate runs a
    # map network (lags in steps; at delta = 1, C_h(1) is ~0, so C_h is a step of height Delta0)
    argv = ["dmft", "vanilla", "--set", "delta=1", "--set", "g=2", "--solver", "euler-map", "--simulate",
            "--n", "300", "--t-sim", "400", "--out", str(tmp_path), "--json"]  # fmt: skip
    out = run_json(capsys, argv)
    assert out["method"] == "euler_map" and out["units"] == "per step" and out["status"] == "converged"
    d0 = out["delta0"]
    x, w = np.polynomial.hermite_e.hermegauss(200)  # independent quadrature: E f(sqrt(d0) x), x ~ N(0, 1)
    mean = lambda f: float(np.sum(w * f(math.sqrt(d0) * x)) / np.sum(w))  # noqa: E731
    phi2, dphi2 = mean(lambda h: np.tanh(h) ** 2), mean(lambda h: (1 - np.tanh(h) ** 2) ** 2)
    assert d0 == pytest.approx(4 * phi2, rel=1e-8)
    assert out["lambda_max"] == pytest.approx(0.5 * math.log(4 * dphi2), rel=1e-6)
    assert out["simulated_delta0"] == pytest.approx(d0, rel=0.1)
    ds = load_dataset(tmp_path / "dmft.nc")
    assert ds["tau"].attrs["units"] == "steps" and ds["lag"].values[1] == 1.0
    assert abs(ds["c_h_simulated"].values[1]) < 0.1 * d0


def test_dmft_no_chaos_and_bad_input(tmp_path, capsys):
    out = run_json(capsys, ["dmft", "gated", "--set", "g_h=1.5", "--out", str(tmp_path), "--json"])
    assert out["status"] == "no_chaos" and out["delta0"] == 0.0 and out["lambda_max"] < 0
    for argv, message in (
        (["dmft", "gated", "--set", "alpha_z=2", "--solver", "closed"], "alpha_z = 0"),
        (["dmft", "gated", "--samples", "0"], "--samples"),
    ):
        assert main([*argv, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------- fixed-points

FP_KEYS = {"count", "n_stable", "max_residual", "n_seeds", "n_converged", "failure_rate", "index_histogram"}


def test_fixed_points_vanilla_json(tmp_path, capsys):
    n = 6
    res = run_json(capsys, ["fixed-points", "vanilla", "--set", "g=2", "--n", str(n), "--json",
                            "--out", str(tmp_path)])  # fmt: skip
    assert FP_KEYS | {"model", "n", "n_state", "seed", "units", "parameters", "files"} <= set(res)
    assert (res["model"], res["n"], res["n_state"], res["n_seeds"]) == ("vanilla", n, n, 512)
    assert res["parameters"]["g"] == 2.0 and res["units"].startswith("per unit time")
    assert res["count"] >= 1  # with b = 0 the origin is always a fixed point
    tol = 1e-10 if jax.config.jax_enable_x64 else 1e-5
    assert res["max_residual"] < tol
    assert 0 < res["n_converged"] <= res["n_seeds"]
    assert res["failure_rate"] == pytest.approx(1 - res["n_converged"] / res["n_seeds"])
    assert sum(res["index_histogram"]) == res["count"] and res["index_histogram"][0] == res["n_stable"]

    files = [Path(f) for f in res["files"]]
    assert {f.name for f in files} == {"fixed-points.png", "fixed-points.nc"}
    assert all(f.is_file() and f.stat().st_size > 0 for f in files)
    ds = load_dataset(tmp_path / "fixed-points.nc")
    points = ds["points"].values
    assert points.shape == (res["count"], n) and ds["eig_real"].shape == (res["count"], n)
    assert ds["residual"].values.max() == res["max_residual"]
    assert np.bincount(ds["index"].values).tolist() == res["index_histogram"]
    # the saved points are fixed points of the sampled network, F(h) = -h + J tanh(h)
    kn, _ = jax.random.split(jax.random.PRNGKey(0))
    J = np.asarray(dynagate.sample(dynagate.VanillaRNN(g=2.0), n, key=kn).J)
    assert np.abs(-points + np.tanh(points) @ J.T).max() < 10 * tol
    # index = number of eigenvalues of the Jacobian with Re > 0 (a flow)
    assert ((ds["eig_real"].values > 0).sum(axis=1) == ds["index"].values).all()
    attrs = ds.attrs
    assert (attrs["command"], attrs["n_seeds"], attrs["count"]) == ("fixed-points", 512, res["count"])
    assert ds["projection"].shape == (res["count"], 2)


def test_fixed_points_summary_and_bad_input(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["fixed-points", "vanilla", "--set", "g=0.5", "--n", "4", "--seeds", "16", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "fixed points          1 (1 stable)" in text and "fixed-points.nc" in text
    for argv, message in (
        (["--seeds", "0"], "--seeds must be >= 1"),
        (["--scale", "0"], "--scale must be a finite number > 0"),
        (["--scale", "nan"], "--scale must be a finite number > 0"),
        (["--set", "g=-1"], "g=-1.0 must be >= 0"),
    ):
        bad = tmp_path / "bad"
        code = main(["fixed-points", "vanilla", "--n", "4", *argv, "--out", str(bad)])
        assert_one_line_error(code, capsys, message)
        assert not bad.exists()


# --------------------------------------------------------------------------------------- complexity


def test_complexity_vanilla_json(tmp_path, capsys):
    argv = ["complexity", "vanilla", "--param", "g=0.8:2:3", "--n-h", "120", "--json", "--out", str(tmp_path)]
    res = run_json(capsys, argv)
    assert {"param", "values", "sigma", "gaussian", "converged", "files"} <= set(res)
    assert res["param"] == "g" and res["values"] == pytest.approx([0.8, 1.4, 2.0])
    assert res["parameters"]["g"] == res["values"]
    assert "rate" not in res
    # g < 1: the zero fixed point only; g = 2: Sigma ~ 0.025 (THEORY.md 8)
    assert res["sigma"][0] == 0.0
    assert res["sigma"][2] > 0.02
    assert all(res["converged"])
    assert all(gs <= s + 1e-12 for gs, s in zip(res["gaussian"], res["sigma"]))  # a lower bound
    ds = load_dataset(tmp_path / "complexity.nc")
    np.testing.assert_array_equal(ds["sigma"].values, res["sigma"])
    np.testing.assert_array_equal(ds["value"].values, res["values"])
    assert ds.attrs["n_h"] == 120 and ds.attrs["param"] == "g"
    assert (tmp_path / "complexity.png").stat().st_size > 10_000


def test_complexity_with_counts(tmp_path, capsys, monkeypatch):
    """--count-sizes: the numerical growth rate next to Sigma. At g = 0.5 every network has the origin only,
    so the rate is 0; Sigma is stubbed (the count is what is checked here)."""
    import dynagate.kacrice as kacrice

    def fake(ens, **kw):
        return kacrice.Complexity(0.0, -0.1, -0.2, 0.1, 0.0, 0.0, np.zeros(3), None, np.ones(3) / 3, True, "")

    monkeypatch.setattr(kacrice, "complexity", fake)
    argv = ["complexity", "vanilla", "--param", "g=0.5:0.5:1", "--count-sizes", "4,8", "--networks", "3",
            "--seeds", "32", "--out", str(tmp_path)]  # fmt: skip
    res = run_json(capsys, [*argv, "--json"])
    assert res["values"] == [0.5] and res["sigma"] == [0.0] and res["gaussian"] == [-0.2]
    assert res["count_sizes"] == [4, 8] and res["mean_count"] == [[1.0, 1.0]]
    assert res["rate"][0] == pytest.approx(0.0, abs=1e-12) and res["rate_stderr"][0] >= 0
    ds = load_dataset(tmp_path / "complexity.nc")
    assert ds["mean_count"].dims == ("value", "size") and ds["size"].values.tolist() == [4, 8]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Sigma" in out and "complexity.nc" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["vanilla", "--param", "foo=0:1:3"], "unknown parameter 'foo' for VanillaRNN"),
        (["gru", "--param", "n_in=1:2:2"], "'n_in' is not a hyperparameter of GRU"),
        (["vanilla", "--param", "g=0:1"], "NAME=START:STOP:NUM"),
        (["vanilla", "--param", "g"], "NAME=START:STOP:NUM"),
        (["vanilla", "--param", "g=a:1:3"], "START and STOP must be numbers"),
        (["vanilla", "--param", "g=0:inf:3"], "START and STOP must be finite"),
        (["vanilla", "--param", "g=0:1:2.5"], "NUM must be an integer"),
        (["vanilla", "--param", "g=0:1:0"], "NUM must be >= 1"),
        (["vanilla", "--param", "g=-1:1:3"], "g=-1.0 must be >= 0"),
        (["vanilla", "--param", "g=1:2:3", "--set", "g=2"], "both --param and --set"),
        (["vanilla", "--param", "g=1:2:3", "--n-h", "0"], "--n-h must be >= 1"),
        (["vanilla", "--param", "g=1:2:3", "--count-sizes", "6"], "two or more different sizes"),
        (["vanilla", "--param", "g=1:2:3", "--count-sizes", "6,x"], "integers separated by commas"),
        (["vanilla", "--param", "g=1:2:3", "--count-sizes", "6,9", "--networks", "0"], "--networks"),
        (["lstm", "--param", "g_f=1:2:3"], "derived for VanillaRNN and GatedRNN, not LSTM"),
    ],
)
def test_complexity_user_errors_are_one_line(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["complexity", *argv, "--out", str(out)])
    assert_one_line_error(code, capsys, message)
    assert not out.exists()


def test_help_lists_new_subcommands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "fixed-points" in out and "complexity" in out


def test_help_does_not_import_jax_and_numerics_default_to_float64():
    # `dynagate --help` builds every subcommand's parser without JAX (the numerics are imported when a
    # command runs: --help in well under a second); a fresh `import dynagate` still makes float64 JAX's
    # default, whether JAX is imported after dynagate or before it
    code = (
        "import sys, contextlib, io\n"
        "from dynagate.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
        "assert 'jax' not in sys.modules, 'jax imported by --help'\n"
        "import dynagate, dynagate.chaos, jax.numpy as jnp\n"
        "assert jnp.zeros(1).dtype == jnp.float64 and dynagate.GRU().g_n == 1.0\n"
        "assert callable(dynagate.simulate) and callable(dynagate.jacobian)  # not the submodules\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    before = "import jax, jax.numpy as jnp\nimport dynagate\nassert jnp.zeros(1).dtype == jnp.float64\n"
    subprocess.run([sys.executable, "-c", before], check=True, env=env)
