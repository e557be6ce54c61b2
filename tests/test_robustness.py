"""Bad and extreme input: refused early with one clear line, never a silently wrong result.

Every case here stops before any numerical work (or runs a few tiny steps), so the file stays cheap.
"""

import math
import os
import types

import jax
import numpy as np
import pytest

import dynagate as dg
from dynagate import phase
from dynagate.cli import main
from dynagate.errors import InputError, NonFiniteError
from dynagate.fixedpoints import _dedup, find_fixed_points, tolerances
from dynagate.models.base import MAX_PARAM
from dynagate.phase import diagram, regions

KEY = jax.random.PRNGKey(0)


def one_line_error(capfd, *parts: str) -> str:
    """Exit-2 helper: the message is one line on stderr naming every part; nothing on stdout (fd 1 too,
    so a library printing from C would be seen)."""
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and lines[0].startswith("dynagate: error: "), (out, err)
    assert all(p in lines[0] for p in parts), lines[0]
    return lines[0]


# ---------------------------------------------------------------------------------- simulated regions


def test_simulated_region_is_chaotic_only_with_lambda_above_its_error():
    surv = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    lam = np.array([-0.7, 0.01, 0.2, 0.2, 0.3, 0.3, -0.01])
    se = np.array([0.02, 0.02, 0.02, np.nan, 0.02, 0.02, 0.02])
    chaos_large = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    slow = np.array([0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0])
    got = regions.simulated_region(surv, chaos_large, lam, se, slow, 0.1)
    # activity with lambda < 0 beyond its error (a driven or non-trivial fixed point) is stable; lambda
    # within 2 se of 0 is not resolved: marginal (by that alone, as in the last case, or by slow modes);
    # NaN error: not resolved and not known to be near 0; small states dying with chaos from large ones is
    # bistable
    want = [phase.STABLE, phase.MARGINAL, phase.CHAOTIC, phase.STABLE, phase.BISTABLE, phase.STABLE,
            phase.MARGINAL]  # fmt: skip
    assert got.tolist() == want


def test_simulated_layers_agree_with_their_lambda():
    # the vanilla-map case: activity survives from small states everywhere (a static input), but
    # lambda_max < 0 at the first point; built from stored per-seed values, no simulation needed
    sim = phase.Simulation(seeds=2, spectra=False)
    values = {"lambda_small": np.array([[-0.70, -0.68], [0.20, 0.22]]),
              "lambda_large": np.array([[-0.71, -0.69], [0.21, 0.19]]),
              "lambda_small_se": np.full((2, 2), 0.01), "lambda_large_se": np.full((2, 2), 0.01),
              "final_small": np.full((2, 2), 0.3), "final_large": np.full((2, 2), 0.3)}  # fmt: skip
    data = diagram._simulated(values, 1, 2, "g", "mu_b", sim, 0.1, "per step")
    lam, se = data["lambda_max"][1][0], data["lambda_max_se"][1][0]
    region = data["region_simulated"][1][0]
    assert data["survived_small"][1][0].tolist() == [1.0, 1.0]
    assert region.tolist() == [phase.STABLE, phase.CHAOTIC]
    assert np.all((region == phase.CHAOTIC) == (lam > 2 * se))


def test_theory_and_dmft_region_rules_unchanged():
    assert regions.theory_region(True, True, False) == phase.UNSTABLE_FPS
    assert regions.theory_region(False, True, False) == phase.CHAOTIC
    assert regions.theory_region(True, False, True) == phase.MARGINAL
    lam = np.array([0.1, 0.1, np.nan, np.nan, np.nan])
    f0_low, f0_high = np.array([0.5, 1.5, 1.5, 0.5, 0.5]), np.array([0.5, 1.5, 1.5, 0.5, 0.5])
    slow = np.array([0.0, 0.0, 0.0, 0.5, 0.0])
    got = regions.dmft_region(lam, f0_low, f0_high, slow, 0.1)
    assert got.tolist() == [phase.BISTABLE, phase.CHAOTIC, phase.CHAOTIC, phase.MARGINAL, phase.STABLE]
    got = regions.dmft_region(lam, f0_low, f0_high, slow, 0.1, unstable_is_chaos=False)
    assert got[2] == phase.UNSTABLE_FPS


# ------------------------------------------------------------------------------- --restart and --out

PD = ["phase-diagram", "vanilla", "--x", "g=0.5:1:2", "--y", "mu_b=0:1:2"]


@pytest.mark.parametrize(("extra", "message"), [(["--chunk", "0"], "chunk must be an integer >= 1"),
                                                (["--seed", "-1"], "--seed must be an integer")])  # fmt: skip
def test_restart_keeps_the_store_when_an_argument_is_bad(extra, message, tmp_path, capfd):
    marker = tmp_path / "phase_diagram.zarr" / "zarr.json"
    marker.parent.mkdir(parents=True)
    marker.write_text("{}")
    assert main([*PD, "--restart", *extra, "--out", str(tmp_path)]) == 2
    one_line_error(capfd, message)
    assert marker.is_file()


def test_restart_discards_the_store_only_after_the_checks(tmp_path, monkeypatch):
    store = tmp_path / "store"
    (store / "points").mkdir(parents=True)
    seen = {}

    def stop(*args, **kwargs):
        seen["exists"] = store.exists()
        raise KeyboardInterrupt  # stop before any work

    monkeypatch.setattr(diagram.sweep, "run", stop)
    monkeypatch.setattr(diagram, "sample", lambda *a, **k: types.SimpleNamespace(is_flow=True))  # no compile
    grid = {"x": ("g", [0.5, 1.0]), "y": ("mu_b", [0.0, 1.0])}
    with pytest.raises(InputError, match="chunk"):
        phase.phase_diagram(dg.VanillaRNN(), **grid, store=store, chunk=0, restart=True)
    assert store.exists()
    with pytest.raises(KeyboardInterrupt):
        phase.phase_diagram(dg.VanillaRNN(), **grid, store=store, restart=True)
    assert seen == {"exists": False}


WRITERS = [
    ["spectrum", "vanilla", "--n", "4"],
    ["lyapunov", "vanilla", "--n", "4"],
    ["complexity", "vanilla", "--param", "g=1:2:2"],
    ["fixed-points", "vanilla", "--n", "4"],
    ["dmft", "vanilla"],
    PD,
    ["validate", "--only", "complexity"],
]


@pytest.mark.parametrize("argv", WRITERS, ids=[a[0] for a in WRITERS])
def test_unusable_out_is_refused_before_any_work(argv, tmp_path, capfd, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started")

    for module in ("spectrum", "lyapunov", "complexity", "fixed_points", "dmft", "phase_diagram", "validate"):
        monkeypatch.setattr(f"dynagate.cli.{module}.run", no_work)
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main([*argv, "--out", str(afile)]) == 2
    one_line_error(capfd, f"--out {afile}", "not a folder")
    assert main([*argv, "--out", str(afile / "sub")]) == 2
    one_line_error(capfd, "is not a folder")
    # a folder that cannot be written (os.access, since a test may run as root, which writes anywhere)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert main([*argv, "--out", str(tmp_path / "new" / "deeper")]) == 2
    one_line_error(capfd, "cannot write there", "is not writable")
    assert afile.read_text() == "" and not (tmp_path / "new").exists()


# ------------------------------------------------------------ fixed points, ensembles, overflowing input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": math.nan}, "lr=nan is not finite"),
        ({"lr": -0.1}, "lr=-0.1 must be > 0"),
        ({"lr": 0.0}, "lr=0.0 must be > 0"),
        ({"tol": math.nan}, "tol=nan is not finite"),
        ({"tol": -1.0}, "tol=-1.0 must be > 0"),
        ({"tol": 0.0}, "tol=0.0 must be > 0"),
        ({"dt": -0.05}, "dt=-0.05 must be > 0"),
        ({"dt": math.nan}, "dt=nan is not finite"),
        ({"batch": 0}, "batch must be >= 1"),
        ({"batch": 2.5}, "batch must be an integer"),
        ({"dedup": math.nan}, "dedup=nan is not finite"),
        ({"box": (math.nan, 1.0)}, "bounds must be finite"),
        ({"box": (-1.0, math.nan)}, "bounds must be finite"),
    ],
)
def test_find_fixed_points_refuses_bad_options(kwargs, message):
    with pytest.raises(InputError, match=message):
        find_fixed_points(dg.Flow(lambda s: -s), key=KEY, n_seeds=2, state0=np.zeros(2), **kwargs)


def test_dedup_tolerance_scales_with_the_dtype():
    # the float32 case of the issue: one fixed point (the zero state) converged three times, up to 1.5e-5
    # apart (Newton stops at max|F| < 1e-5); in float64 the copies agree to 4e-9 (module doc)
    copies = np.array([[0.0, 0.0], [2.7e-6, -1e-6], [1.5e-5, 4e-6]], np.float32)
    distinct = np.array([[0.0, 0.0], [0.04, 0.0]])
    assert tolerances(True) == (1e-10, 1e-6)  # float64 unchanged
    tol32, dedup32 = tolerances(False)
    assert tol32 == 1e-5 and _dedup(copies, dedup32).size == 1
    assert _dedup(distinct, dedup32).size == 2


def test_huge_gain_is_refused_not_zero_fixed_points(capfd, tmp_path):
    # g = 1e308 overflowed |F| and lost even h = 0, the fixed point every vanilla network has
    with pytest.raises(InputError, match="out of range"):
        dg.VanillaRNN(g=1e308)
    assert main(["fixed-points", "vanilla", "--set", "g=1e308", "--json", "--out", str(tmp_path)]) == 2
    one_line_error(capfd, "parameter g=1e+308 is out of range", f"{MAX_PARAM:.0f}")


@pytest.mark.parametrize(
    "argv",
    [
        ["dmft", "vanilla", "--set", "g=1e308"],
        ["dmft", "gated", "--set", "alpha_r=1e300"],
        ["complexity", "vanilla", "--param", "g=1e300:1e300:1"],
        ["phase-diagram", "gated", "--x", "alpha_r=0:1e300:2", "--y", "g_h=1:2:2"],
    ],
    ids=["dmft-g", "dmft-alpha_r", "complexity-g", "phase-diagram-axis"],
)
def test_overflowing_parameters_are_one_line_errors(argv, capfd, tmp_path):
    assert main([*argv, "--json", "--out", str(tmp_path)]) == 2
    one_line_error(capfd, "out of range")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"g_h": None}, "g_h must be a number, got None"), ({"g_h": "3"}, "g_h must be a number, got '3'"),
     ({"alpha_r": True}, "alpha_r must be a number"), ({"alpha_r": -2e6}, "out of range")],
)  # fmt: skip
def test_ensemble_refuses_non_numbers_at_construction(kwargs, message):
    with pytest.raises(InputError, match=message):
        dg.GatedRNN(**kwargs)
    assert dg.VanillaRNN(delta=None).delta is None  # an optional field may be None


# ------------------------------------------------------------------------------------------- messages


@pytest.mark.parametrize("n_blocks", [1, 0, 2.5])
def test_bad_n_blocks_is_blamed_on_n_blocks(n_blocks):
    with pytest.raises(InputError, match=f"n_blocks must be an integer >= 2.*got {n_blocks}"):
        dg.lyapunov_spectrum(dg.Flow(lambda s: -s), key=KEY, state0=np.ones(2), t_obs=10.0, n_blocks=n_blocks)


def test_non_finite_map_inputs_and_divergence_do_not_mention_dt():
    driven = dg.Map(lambda s, x: 0.5 * s + x)
    xs = np.zeros((4, 2))
    xs[2, 1] = np.nan
    with pytest.raises(InputError, match=r"xs is not finite \(first bad entry at step 2, index 1\)"):
        dg.simulate(driven, np.zeros(2), xs=xs)
    with pytest.raises(InputError, match="xs is not finite"):
        dg.lyapunov_spectrum(driven, key=KEY, state0=np.zeros(2), t_obs=10.0, t_burn=0.0, t_frame=0.0,
                             xs=np.tile(xs, (5, 1)))  # fmt: skip
    blowup = dg.Map(lambda s: 1e200 * s)
    with pytest.raises(NonFiniteError) as e:
        dg.simulate(blowup, np.ones(2), steps=3)
    assert "dt" not in str(e.value) and "check the parameters" in str(e.value)


@pytest.mark.parametrize(
    ("axes", "flag", "message"),
    [
        (["--x", "alpha_r=0:1", "--y", "g_h=1:2:3"], "--x", "expects NAME=START:STOP:NUM"),
        (["--x", "alpha_r=0:1:3", "--y", "g_h=1:2:x"], "--y", "NUM must be an integer"),
        (["--x", "alpha_r=0:1:3", "--y", "foo=1:2:3"], "--y", "unknown parameter 'foo'"),
        (["--x", "alpha_r=1:0:3", "--y", "g_h=1:2:3"], "--x", "the values must increase"),
        (["--x", "alpha_r=0:1:1", "--y", "g_h=1:2:3"], "--x", "give at least two values"),
    ],
)
def test_axis_errors_name_their_flag(axes, flag, message, tmp_path, capfd):
    assert main(["phase-diagram", "gated", *axes, "--out", str(tmp_path)]) == 2
    line = one_line_error(capfd, flag, message)
    assert "--param" not in line
