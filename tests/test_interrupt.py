"""Ctrl-C: one line on stderr, exit code 130, and the finished work kept (or a line saying why none is).

The default tier presses Ctrl-C by raising KeyboardInterrupt from inside the work (a patched step or
progress hook) and calls ``dynagate.cli.main``; the slow tier sends SIGINT to a real process.
"""

import json
import os
import shlex
import sys
import types

import jax
import numpy as np
import pytest

import dynagate as dg
from dynagate import fixedpoints, kacrice, validate
from dynagate.cli import _interrupt, fixed_points, main, spectrum
from dynagate.errors import Interrupted
from dynagate.io import load_dataset
from dynagate.phase import diagram
from dynagate.phase.theory import THEORY_SPEC

KEY = jax.random.PRNGKey(0)
POLISH = fixedpoints._polish
PD = ["phase-diagram", "vanilla", "--x", "g=0.5:1:2", "--y", "mu_b=0:1:2"]


def ctrl_c_at(call: int, work):
    """``work`` wrapped so that its ``call``-th call presses Ctrl-C instead; ``calls`` counts them."""

    def wrapped(*args, **kwargs):
        wrapped.calls += 1
        if wrapped.calls == call:
            raise KeyboardInterrupt
        return work(*args, **kwargs)

    wrapped.calls = 0
    return wrapped


class StopAfter:
    """A progress hook that presses Ctrl-C at the first report of ``blocks`` finished observation blocks
    (10 re-orthonormalisations each); ``blocks_done`` is what was finished then (a chunk can end later)."""

    def __init__(self, blocks):
        self.blocks, self.blocks_done = blocks, None

    def __call__(self, stage, done, total):
        if stage == "observation" and done >= self.blocks * 10:
            self.blocks_done = done // 10
            raise KeyboardInterrupt


def ctrl_c_in(stage):
    def progress(at, done, total):
        if at == stage:
            raise KeyboardInterrupt

    return progress


# a small chaotic map (vanilla Euler map, g = 3, N = 12): 20 blocks of 10 re-orthonormalisations of 5 steps
MAP = {"t_burn": 50, "t_frame": 50, "t_obs": 1000, "t_ortho": 5}
MAP_NET = dg.sample(dg.VanillaRNN(g=3.0, delta=0.5), 12, key=KEY)


def test_interrupted_lyapunov_spectrum_keeps_the_finished_blocks():
    full = dg.lyapunov_spectrum(MAP_NET, key=KEY, k=3, **MAP)
    stop = StopAfter(7)
    with pytest.raises(Interrupted) as e:
        dg.lyapunov_spectrum(MAP_NET, key=KEY, k=3, **MAP, progress=stop)
    b = stop.blocks_done
    assert (
        str(e.value)
        == f"lyapunov_spectrum: stopped after {b} of 20 observation blocks (t_obs = {50 * b} of 1000)"
    )
    part = e.value.partial
    # a block's exponents do not depend on where the run stopped or how it was chunked: the first blocks of
    # the whole run, to the last bit (the same operations in the same order)
    order = np.argsort(-full.blocks[:b].mean(0), kind="stable")
    np.testing.assert_array_equal(part.blocks, full.blocks[:b][:, order])
    assert part.t_obs == 50 * b and part.status == "interrupted"
    assert part.message.startswith(f"stopped after {b} of 20")
    with pytest.raises(Interrupted, match="before two of the 20 observation blocks") as e:
        dg.lyapunov_spectrum(MAP_NET, key=KEY, k=3, **MAP, progress=ctrl_c_in("frame"))
    assert e.value.partial is None


def test_chunked_spectrum_matches_the_single_compiled_run():
    # lyapunov_spectrum runs in timed chunks, lyapunov_max in one compiled scan: with k = 1 both carry the
    # same vector (the QR of one column is its normalisation, up to sign) through the same steps
    times = MAP | {"t_obs": 200}
    chunked = dg.lyapunov_spectrum(MAP_NET, key=KEY, k=1, **times)
    state0 = jax.random.normal(jax.random.split(KEY)[0], (MAP_NET.n_state,))  # lyapunov_spectrum's default
    single = dg.lyapunov.lyapunov_max(MAP_NET, state0, key=KEY, **times)
    np.testing.assert_allclose(chunked.blocks[:, 0], np.asarray(single.blocks), rtol=1e-12, atol=1e-14)


def strict_json(text: str):
    """``text`` as one JSON object, refusing NaN and Infinity (which ``json.loads`` accepts by default)."""

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_cli_lyapunov_ctrl_c_saves_the_finished_blocks(tmp_path, capfd, monkeypatch):
    import dynagate.lyapunov

    original, hook = dynagate.lyapunov.lyapunov_spectrum, {"progress": StopAfter(4)}
    monkeypatch.setattr(dynagate.lyapunov, "lyapunov_spectrum", lambda *a, **k: original(*a, **k | hook))
    argv = ["lyapunov", "vanilla", "--set", "g=3", "--set", "delta=0.5", "--n", "12", "--k", "3", "--t-obs",
            "1000", "--t-burn", "50", "--t-frame", "50", "--out", str(tmp_path), "--json"]  # fmt: skip
    assert main(argv) == 130
    out, err = capfd.readouterr()
    b, nc = hook["progress"].blocks_done, tmp_path / "lyapunov.nc"
    assert err == (
        f"dynagate: interrupted: stopped after {b} of 20 observation blocks (t_obs = {50 * b} of 1000); the "
        f"exponents of those blocks are saved in {nc} (status interrupted); a run cannot be resumed: run "
        "the command again for the whole observation\n"
    )
    ds, result = load_dataset(nc), strict_json(out)
    assert ds.sizes["block"] == b and ds.attrs["interrupted"] == "true" and ds.attrs["t_obs"] == 50.0 * b
    assert ds.attrs["status"] == "interrupted"
    assert not (tmp_path / "lyapunov.png").exists()  # the data alone, at once
    # --json: the partial result, as saved
    assert result["status"] == "interrupted" and result["files"] == [str(nc)]
    assert result["message"].startswith(f"stopped after {b} of 20 observation blocks")
    assert result["t_obs"] == 50.0 * b and result["k"] == 3
    np.testing.assert_array_equal(result["exponents"], ds.exponent.values)
    # Ctrl-C before two blocks are finished: nothing saved, nothing on stdout
    hook["progress"] = ctrl_c_in("frame")
    assert main([*argv[:-3], "--out", str(tmp_path / "w"), "--json"]) == 130
    out, err = capfd.readouterr()
    assert out == "" and err == ("dynagate: interrupted: stopped before two of the 20 observation blocks "
                                 "were finished: nothing to keep; nothing was saved\n")  # fmt: skip
    assert not (tmp_path / "w" / "lyapunov.nc").exists()


def test_cli_phase_diagram_ctrl_c_is_one_line_and_resumes(tmp_path, capfd, monkeypatch):
    calls, stop = [], {"at": 0}

    def fake_theory(ensemble, **kwargs):  # the sweep is under test, not the theory
        return {k: np.asarray(ensemble.g, dt) for k, (_, dt) in THEORY_SPEC.items()}

    def interrupted(self, indices):
        if len(calls) == stop["at"]:
            raise KeyboardInterrupt  # Ctrl-C during chunk number stop["at"] (from 0)
        calls.append([int(i) for i in indices])
        return original(self, indices)

    monkeypatch.setattr(diagram, "theory_point", fake_theory)
    original = diagram._Task.__call__
    monkeypatch.setattr(diagram._Task, "__call__", interrupted)
    store = tmp_path / "phase_diagram.zarr"
    argv = [*PD, "--chunk", "2", "--out", str(tmp_path), "--json"]
    # Ctrl-C in the first chunk: nothing kept, nothing on stdout
    assert main(argv) == 130
    out, err = capfd.readouterr()
    assert out == "" and err == (f"dynagate: interrupted: phase diagram: 0 of 2 chunks are kept in {store}; "
                                 "run the same command to resume\n")  # fmt: skip
    # Ctrl-C in the second chunk of a run started with --restart: its command without --restart resumes it
    stop["at"] = 1
    assert main([*argv[:-3], "--restart", *argv[-3:]]) == 130
    out, err = capfd.readouterr()
    assert err == (f"dynagate: interrupted: phase diagram: 1 of 2 chunks are kept in {store}; "
                   "run the same command to resume\n")  # fmt: skip
    assert strict_json(out) == {"model": "vanilla", "x": "g", "y": "mu_b", "set": {}, "status": "interrupted",
                                "interrupted": True, "store": str(store), "points_done": 2, "points": 4,
                                "resume": "dynagate " + shlex.join(argv)}  # fmt: skip
    calls.clear()
    monkeypatch.setattr(
        diagram._Task,
        "__call__",
        lambda self, idx: calls.append([int(i) for i in idx]) or original(self, idx),
    )
    assert main(shlex.split(json.loads(out)["resume"])[1:]) == 0
    assert calls == [[2, 3]]  # the second chunk only, on resuming
    assert strict_json(capfd.readouterr().out)["files"][-1] == str(store)


# ------------------------------------------------------------------------------------------ complexity


def fake_complexity(ensemble, **grid):
    """A Kac-Rice result in no time (the command's saving is under test, not the optimisation)."""
    g = float(ensemble.g)
    return kacrice.Complexity(sigma=g / 10, functional=g / 10, gaussian=g / 20, kl=0.1, log_det=0.2,
                              q=0.3, h=np.zeros(3), r=None, rho=np.ones(3) / 3, converged=True,
                              message="ok")  # fmt: skip


def test_cli_complexity_ctrl_c_saves_the_finished_values(tmp_path, capfd, monkeypatch):
    nc = tmp_path / "complexity.nc"
    (tmp_path / "complexity.png").write_text("an earlier run's figure")

    def checkpointed(ensemble, **grid):  # the 2nd value: the 1st is on disk already, for the watchdog too
        ds = load_dataset(nc)
        assert ds.done.values.tolist() == [1, 0, 0, 0, 0] and ds.attrs["status"] == "interrupted"
        assert _interrupt._kept["line"].startswith(f"complexity: 1 of 5 values of g finished, saved in {nc}")
        return fake_complexity(ensemble, **grid)

    calls = iter([fake_complexity, checkpointed, None])
    stop = ctrl_c_at(3, lambda ens, **grid: next(calls)(ens, **grid))
    monkeypatch.setattr(kacrice, "complexity", stop)
    assert main(["complexity", "vanilla", "--param", "g=1:2:5", "--out", str(tmp_path), "--json"]) == 130
    out, err = capfd.readouterr()
    assert err == (f"dynagate: interrupted: complexity: 2 of 5 values of g finished, saved in {nc} "
                   "(status interrupted; the others NaN, done = 0); for the others, run the same command "
                   "with --param g=1.5:2.0:3 and another --out\n")  # fmt: skip
    assert np.array_equal(np.linspace(1.5, 2.0, 3), np.linspace(1, 2, 5)[2:])  # that --param is the rest
    result = json.loads(out)
    assert result["status"] == "interrupted" and result["done"] == [True, True, False, False, False]
    assert result["sigma"] == [0.1, 0.125, None, None, None] and result["files"] == [str(nc)]
    ds = load_dataset(nc)
    assert ds.done.values.tolist() == [1, 1, 0, 0, 0] and ds.attrs["interrupted"] == "true"
    np.testing.assert_array_equal(ds.sigma.values, [0.1, 0.125, np.nan, np.nan, np.nan])
    assert json.loads(ds.attrs["messages"])[2:] == ["not computed: interrupted"] * 3
    assert not (tmp_path / "complexity.png").exists()  # the data alone: no figure of other data beside it


def test_cli_complexity_ctrl_c_while_counting_keeps_the_counted_values(tmp_path, capfd, monkeypatch):
    def fake_count(ensemble, sizes, **kwargs):
        mean = np.array([2.0, 4.0])
        return {"mean": mean, "stderr": mean / 10, "failure_rate": np.zeros(2), "rate": 0.1,
                "rate_stderr": 0.01}  # fmt: skip

    monkeypatch.setattr(kacrice, "complexity", fake_complexity)
    monkeypatch.setattr(fixedpoints, "count_fixed_points", ctrl_c_at(2, fake_count))
    argv = ["complexity", "vanilla", "--param", "g=1:2:3", "--count-sizes", "4,6", "--out", str(tmp_path)]
    assert main(argv) == 130
    out, err = capfd.readouterr()
    assert out == "" and err.startswith("dynagate: interrupted: complexity: 1 of 3 values of g finished")
    ds = load_dataset(tmp_path / "complexity.nc")  # the 2nd value's Sigma without its counts is not kept
    assert ds.done.values.tolist() == [1, 0, 0] and np.isnan(ds.sigma.values[1])
    np.testing.assert_array_equal(ds.mean_count.values, [[2.0, 4.0], [np.nan, np.nan], [np.nan, np.nan]])


def test_cli_complexity_ctrl_c_at_the_first_value_saves_nothing(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(kacrice, "complexity", ctrl_c_at(1, fake_complexity))
    assert main(["complexity", "vanilla", "--param", "g=1:2:5", "--out", str(tmp_path)]) == 130
    assert capfd.readouterr().err == ("dynagate: interrupted: complexity: stopped at the first of 5 values "
                                      "of g; nothing was saved; run the command again\n")  # fmt: skip
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------- fixed points


def test_ctrl_c_in_fixed_points_saves_the_finished_batches(tmp_path, capfd, monkeypatch):
    # 8 seeds in batches of 2 (the command's batches are 128 seeds): Ctrl-C in the 3rd batch keeps 2
    argv = ["fixed-points", "vanilla", "--set", "g=2", "--n", "4", "--seeds", "8", "--out", str(tmp_path)]
    monkeypatch.setattr(fixed_points, "BATCH", 2)

    def polish(*args):  # inside the search, the watchdog's line says why it cannot save
        assert _interrupt._kept["line"] == fixed_points.WATCHDOG
        return POLISH(*args)

    monkeypatch.setattr(fixedpoints, "_polish", ctrl_c_at(3, polish))
    assert main([*argv, "--json"]) == 130
    out, err = capfd.readouterr()
    nc = tmp_path / "fixed-points.nc"
    ds, result = load_dataset(nc), json.loads(out)
    count = ds.sizes["point"]
    found = f"{count} fixed points they found are" if count != 1 else "fixed point they found is"
    assert err == (f"dynagate: interrupted: stopped after 2 of 4 batches of seeds (4 of 8 seeds); the "
                   f"{found} saved in {nc} (status interrupted); run the command again for all "
                   "the seeds (a search cannot be resumed)\n")  # fmt: skip
    assert ds.attrs["status"] == "interrupted" and ds.attrs["interrupted"] == "true"
    assert ds.attrs["n_seeds"] == 4
    assert result["status"] == "interrupted" and result["n_seeds"] == 4 and result["count"] == count >= 1
    assert not (tmp_path / "fixed-points.png").exists()
    # the library, on the command's network and key: the kept points are those of the whole search's first
    # batches (the seeds are drawn before the batches), found again by the whole search
    k_net, k_search = jax.random.split(jax.random.PRNGKey(0))
    net = dg.sample(dg.VanillaRNN(g=2.0), 4, key=k_net)
    monkeypatch.setattr(fixedpoints, "_polish", ctrl_c_at(3, POLISH))
    with pytest.raises(Interrupted) as e:
        fixedpoints.find_fixed_points(net, key=k_search, n_seeds=8, batch=2)
    part = e.value.partial
    assert part.status == "interrupted" and part.n_seeds == 4 and part.interrupted
    np.testing.assert_array_equal(part.points, ds.points.values)
    monkeypatch.setattr(fixedpoints, "_polish", POLISH)
    whole = fixedpoints.find_fixed_points(net, key=k_search, n_seeds=8, batch=2)
    assert whole.status == "converged" and whole.n_seeds == 8
    assert all(np.min(np.max(np.abs(whole.points - p), axis=1)) < 1e-9 for p in part.points)
    monkeypatch.setattr(fixedpoints, "_polish", ctrl_c_at(1, POLISH))
    with pytest.raises(Interrupted, match=r"stopped after 0 of 4 batches of seeds \(0 of 8 seeds\)") as e:
        fixedpoints.find_fixed_points(net, key=k_search, n_seeds=8, batch=2)
    assert e.value.partial is None


def test_ctrl_c_inside_the_descent_of_a_batch_keeps_the_finished_batches(monkeypatch):
    # the Adam descent of a batch (300 steps: 2.7 s in one compiled call at gated N = 400) runs in pieces
    # of about fixedpoints.CHUNK_SECONDS, so Ctrl-C is seen between them: here in the second batch's
    # descent, after its first piece; the first batch is kept
    net = dg.sample(dg.VanillaRNN(g=2.0), 4, key=KEY)
    pieces, descent = [], fixedpoints._descent_chunk

    def piece(system, x, carry, lr, start, n_steps):
        pieces.append((start, n_steps))
        if start > 0 and [s for s, _ in pieces].count(0) == 2:
            raise KeyboardInterrupt
        return descent(system, x, carry, lr, start, n_steps)

    monkeypatch.setattr(fixedpoints, "_descent_chunk", piece)
    with pytest.raises(Interrupted, match=r"stopped after 1 of 4 batches of seeds \(2 of 8 seeds\)") as e:
        fixedpoints.find_fixed_points(net, key=KEY, n_seeds=8, batch=2)
    assert e.value.partial.n_seeds == 2 and e.value.partial.status == "interrupted"
    first = pieces[: [s for s, _ in pieces].index(0, 1)]  # the first batch's pieces: all 300 steps, in order
    assert len(first) >= 2 and sum(m for _, m in first) == 300
    assert all(s == sum(m for _, m in first[:i]) for i, (s, _) in enumerate(first))


# -------------------------------------------------------------------------------------------- validate


def passing(name):
    return lambda quick, out: validate.Check(name, "a claim", "1", "1", "0", True)


def test_ctrl_c_in_validate_reports_the_finished_checks(tmp_path, capfd, monkeypatch):
    out = tmp_path / "v"
    report = out / "report.md"

    def stopped(quick, out_):  # the report of the first check is on disk already, for the watchdog too
        assert "**Incomplete**" in report.read_text()
        assert _interrupt._kept["line"].startswith("validate: 1 of 3")
        raise KeyboardInterrupt

    for name, check in (("jacobians", passing("jacobians")), ("scs_dmft", stopped), ("lorenz", passing("x"))):
        monkeypatch.setitem(validate.CHECKS, name, check)
    argv = ["validate", "--quick", "--only", "jacobians,scs_dmft,lorenz", "--out", str(out)]
    assert main([*argv, "--json"]) == 130
    stdout, err = capfd.readouterr()
    assert err == (f"dynagate: interrupted: validate: 1 of 3 checks finished (1 passed), reported in "
                   f"{report} (marked incomplete; not run: scs_dmft, lorenz); for the others, run dynagate "
                   "validate --quick --only scs_dmft,lorenz with another --out\n")  # fmt: skip
    result = json.loads(stdout)
    assert result["interrupted"] and result["not_run"] == ["scs_dmft", "lorenz"]
    assert [c["name"] for c in result["checks"]] == ["jacobians"]
    text = report.read_text()
    assert "1 of 1 checks passed" in text and "not run: scs_dmft, lorenz." in text
    assert "| jacobians | a claim |" in text and "| lorenz | | | | | not run | |" in text
    # Ctrl-C in the first check: nothing to report
    monkeypatch.setitem(validate.CHECKS, "jacobians", ctrl_c_at(1, passing("jacobians")))
    assert main([*argv[:3], "jacobians", "--out", str(tmp_path / "w"), "--json"]) == 130
    assert capfd.readouterr().err == ("dynagate: interrupted: validate: stopped at jacobians, after 0 of 1 "
                                      "checks; nothing was saved; run the command again\n")  # fmt: skip
    assert not (tmp_path / "w" / "report.md").exists()


def test_validate_checks_its_memory_before_any_work(tmp_path, capfd, monkeypatch):
    monkeypatch.setitem(validate.CHECKS, "gru_dmft", ctrl_c_at(1, None))  # never reached
    assert main(["validate", "--only", "gru_dmft", "--max-memory", "2G", "--out", str(tmp_path)]) == 2
    err = capfd.readouterr().err.strip()
    assert err.startswith(
        "dynagate: error: this run needs about 2.97 GB of memory (gru_dmft: 1000 sampled paths"
    )
    assert err.endswith("raise --max-memory") and len(err.splitlines()) == 1
    small, large = validate.estimate(True, ["jacobians"]), validate.estimate(False, ["rmt_fixed_point"])
    assert small.memory < large.memory


# ------------------------------------------------------------------------------------ dmft and spectrum


def fake_dmft(ensemble, **kwargs):
    """A DMFT result in no time (the command's saving is under test, not the solver)."""
    return types.SimpleNamespace(summary=lambda: {"delta0": 1.0, "status": "converged"}, correlations={},
                                 c_h=np.array([1.0, 0.5]), tau=np.array([0.0, 1.0]), stderr={})  # fmt: skip


def test_ctrl_c_in_dmft_simulation_saves_the_theory(tmp_path, capfd, monkeypatch):
    import dynagate.meanfield
    import dynagate.spectra

    monkeypatch.setattr(dynagate.meanfield, "dmft", fake_dmft)
    monkeypatch.setattr(dynagate.spectra, "relaxed_state", ctrl_c_at(1, None))
    argv = ["dmft", "vanilla", "--simulate", "--n", "8", "--out", str(tmp_path)]
    assert main([*argv, "--json"]) == 130
    out, err = capfd.readouterr()
    nc = tmp_path / "dmft.nc"
    assert err == (f"dynagate: interrupted: the DMFT solution is saved in {nc}, without the simulated "
                   "network (marked interrupted); run the command again for the comparison, or without "
                   "--simulate for the DMFT alone\n")  # fmt: skip
    assert json.loads(out) == {"model": "vanilla", "delta0": 1.0, "status": "converged",
                               "units": "per unit time (τ_h = 1)", "parameters": dg.VanillaRNN().params(),
                               "interrupted": True, "files": [str(nc)]}  # fmt: skip
    ds = load_dataset(nc)
    assert ds.attrs["interrupted"] == "true" and ds.attrs["simulation"].startswith("did not finish")
    assert "c_h_simulated" not in ds and ds.c_h.values.tolist() == [1.0, 0.5]
    # Ctrl-C in the solve itself: one iteration loop, nothing to keep
    monkeypatch.setattr(dynagate.meanfield, "dmft", ctrl_c_at(1, None))
    assert main([*argv[:2], "--out", str(tmp_path / "w")]) == 130
    line = "nothing was saved (the DMFT solve is one iteration loop, with no partial result); run the "
    assert capfd.readouterr().err == f"dynagate: interrupted: {line}command again\n"
    assert not (tmp_path / "w").exists()


def test_ctrl_c_in_spectrum_says_why_nothing_was_saved(tmp_path, capfd, monkeypatch):
    import dynagate.spectra

    def eigenvalues(*args):  # inside the one LAPACK call, the watchdog's line is set too
        assert _interrupt._kept["line"] == spectrum.NOTHING_KEPT
        raise KeyboardInterrupt

    monkeypatch.setattr(dynagate.spectra, "spectrum", eigenvalues)
    assert main(["spectrum", "vanilla", "--n", "4", "--state", "zero", "--out", str(tmp_path)]) == 130
    assert capfd.readouterr().err == f"dynagate: interrupted: {spectrum.NOTHING_KEPT}\n"
    assert "one eigenvalue computation" in spectrum.NOTHING_KEPT and not any(tmp_path.iterdir())


def interrupt(argv, tmp_path, ready: bytes, after: float = 0.0, seen_by=None):
    """Run ``dynagate ARGV`` with stderr on a terminal (so the progress line shows), press Ctrl-C once
    ``ready`` has appeared there (then ``after`` seconds more); returns (exit code, the lines of stderr
    after the progress line). A pseudo-terminal: the program sees what a person at a terminal sees; as
    there, Ctrl-C goes to the program's whole process group (its worker processes too). ``seen_by``: a
    dict that receives the seconds from Ctrl-C to the exit and all of stderr."""
    import fcntl
    import pty
    import re
    import select
    import signal
    import struct
    import subprocess
    import termios
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))  # tqdm needs a width
    exe = [sys.executable, "-c", "import sys; from dynagate.cli import main; sys.exit(main())"]
    proc = subprocess.Popen([*exe, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                            cwd=tmp_path, start_new_session=True)  # fmt: skip
    os.close(slave)
    buf, seen = b"", None
    try:
        while True:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    data = os.read(master, 4096)
                except OSError:  # the program has ended
                    break
                buf += data
            if seen is None and re.search(ready, buf):
                seen = time.monotonic()
            if seen is not None and time.monotonic() - seen >= after and proc.returncode is None:
                pressed = time.monotonic()
                os.killpg(proc.pid, signal.SIGINT)
                proc.returncode = proc.wait(timeout=30)
                if seen_by is not None:
                    seen_by["seconds"] = time.monotonic() - pressed
            if proc.poll() is not None and not select.select([master], [], [], 0.05)[0]:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    lines = [t.strip() for t in buf.decode(errors="replace").replace("\r", "\n").split("\n")]
    if seen_by is not None:
        seen_by["stderr"] = buf.decode(errors="replace")
    return proc.returncode, [t for t in lines if t.startswith("dynagate:")], proc.stdout.read()


@pytest.mark.slow
def test_ctrl_c_in_lyapunov_saves_the_finished_blocks_and_exits_130(tmp_path):
    # the case at a smaller size: Ctrl-C during the observation (20 blocks), once 15% is done
    argv = ["lyapunov", "vanilla", "--set", "g=2", "--n", "20", "--t-obs", "20000", "--out", "out"]
    code, lines, stdout = interrupt(argv, tmp_path, rb"observation 1[5-9]%")
    assert code == 130 and stdout == b"" and len(lines) == 1, lines
    assert lines[0].startswith("dynagate: interrupted: stopped after ")
    assert "of 20 observation blocks" in lines[0] and "saved in out/lyapunov.nc" in lines[0]
    ds = load_dataset(tmp_path / "out" / "lyapunov.nc")
    assert ds.attrs["interrupted"] == "true" and 3 <= ds.sizes["block"] < 20
    assert ds.attrs["t_obs"] == 1000.0 * ds.sizes["block"]


@pytest.mark.slow
def test_ctrl_c_inside_one_long_compiled_call_still_exits_130(tmp_path):
    # the eigenvalues of a dense 6000 x 6000 Jacobian are one LAPACK call of about a minute on two cores
    # (at the gated RNN's zero state the Jacobian is reducible: LAPACK's balancing splits it and finishes in
    # seconds): Python does not run until it returns, so the process ends without it (after GRACE), saying
    # nothing was saved and why
    argv = ["spectrum", "vanilla", "--n", "6000", "--steps", "1", "--out", "out"]
    code, lines, stdout = interrupt(argv, tmp_path, rb"$", after=20.0)
    assert code == 130 and stdout == b"" and len(lines) == 1, lines
    assert lines[0] == f"dynagate: interrupted (inside a compiled step): {spectrum.NOTHING_KEPT}"
    assert not (tmp_path / "out" / "spectrum.nc").exists()


@pytest.mark.slow
def test_ctrl_c_with_dask_workers_is_one_line_within_a_second(tmp_path):
    # a terminal's Ctrl-C reaches the worker processes too: they ignore it (sweep.connect), so the line is
    # the main process's alone, with no worker tracebacks; the cluster closes behind it, and the workers
    # end with the main process
    argv = ["phase-diagram", "gated", "--x", "alpha_r=0:4:6", "--y", "g_h=1:4:6", "--simulate", "--n", "60",
            "--workers", "2", "--out", "out"]  # fmt: skip
    seen = {}
    code, lines, stdout = interrupt(argv, tmp_path, rb"$", after=30.0, seen_by=seen)
    assert code == 130 and len(lines) == 1, seen["stderr"]
    assert "Traceback" not in seen["stderr"] and "leaked" not in seen["stderr"], seen["stderr"]
    assert lines[0].startswith("dynagate: interrupted: phase diagram: ") and "chunks are kept in" in lines[0]
    assert seen["seconds"] < 1.0
