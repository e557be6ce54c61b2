"""Bad and extreme input: refused early with one clear line, never a silently wrong result.

Every case here stops before any numerical work (or runs a few tiny steps), so the file stays cheap.
"""

import os
import types

import numpy as np
import pytest

import dynagate as dg
from dynagate import phase
from dynagate.cli import main
from dynagate.errors import InputError
from dynagate.phase import diagram, regions


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
    surv = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    lam = np.array([-0.7, 0.01, 0.2, 0.2, 0.3, 0.3])
    se = np.array([0.02, 0.02, 0.02, np.nan, 0.02, 0.02])
    chaos_large = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    slow = np.array([0.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    got = regions.simulated_region(surv, chaos_large, lam, se, slow, 0.1)
    # activity with lambda < 0 (a driven or non-trivial fixed point) is stable; lambda within 2 se is not
    # resolved (here marginal by its slow modes); NaN error: not resolved; small states dying with chaos
    # from large ones is bistable
    want = [phase.STABLE, phase.MARGINAL, phase.CHAOTIC, phase.STABLE, phase.BISTABLE, phase.STABLE]
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
    marker = tmp_path / "phase_diagram.zarr" / "points" / "zarr.json"
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
