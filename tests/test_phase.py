"""Phase diagrams: theory lines against closed forms, resumable and backend-independent sweeps, bad input."""

import functools
import json
import math

import jax
import numpy as np
import pytest

import dynagate as dg
from dynagate import cluster, phase, sweep
from dynagate.cli import main
from dynagate.cli.phase_diagram import PRESETS
from dynagate.errors import InputError
from dynagate.io import load_dataset
from dynagate.meanfield.landau import tricritical_alpha_r
from dynagate.phase import diagram

# A tiny simulated sweep: small networks and short runs (the numbers are not physics; the machinery is).
TINY = phase.Simulation(n=8, seeds=2, t_burn=2.0, t_obs=4.0, dt=0.2, blocks=2)
GRID = {"x": ("alpha_r", np.array([0.0, 5.0, 10.0])), "y": ("g_h", np.array([1.5, 1.9, 2.3]))}
KEY = jax.random.PRNGKey(0)


def _same(a, b) -> None:
    """Bit-for-bit equality of two datasets' values (NaN equal to NaN)."""
    assert set(a.data_vars) == set(b.data_vars)
    for k in a.data_vars:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k, strict=True)


def test_theory_lines_match_closed_forms():
    # zero fixed point: unstable iff g_h > 1 + e^{beta_r} (THEORY.md 10); static onset below it past the
    # tricritical alpha_r = 2 sqrt 2 / g_r (Landau, THEORY.md 5), at 1.92 (alpha_r = 5) and 1.755 (10)
    for beta_r in (0.0, 0.5):
        ds = phase.phase_diagram(dg.GatedRNN(beta_r=beta_r), x=("alpha_r", [0.0, 2.0, 5.0, 10.0]),
                                 y=("g_h", np.linspace(1.5, 3.5, 6)))  # fmt: skip
        # bisection to 2^-8 of the 0.4 grid step
        np.testing.assert_allclose(ds.line_stability, 1 + math.exp(beta_r), atol=0.4 / 2**8)
    ds = phase.phase_diagram(
        dg.GatedRNN(), x=("alpha_r", [0.0, 2.0, 5.0, 10.0]), y=("g_h", np.linspace(1.5, 2.5, 11))
    )
    onset = np.asarray(ds.line_static_onset)
    np.testing.assert_allclose(onset[:2], 2.0, atol=0.1 / 2**8)  # supercritical: at the stability line
    np.testing.assert_allclose(onset[2:], [1.92, 1.755], atol=0.004)  # THEORY.md 5 quotes 2-3 digits
    assert ds.attrs["tricritical_alpha_r"] == pytest.approx(2 * math.sqrt(2), rel=1e-12)
    assert tricritical_alpha_r(1.0) == pytest.approx(2 * math.sqrt(2), rel=1e-12)
    # regions: unstable fixed points beside the stable zero one exactly between the two lines
    region = np.asarray(ds.region_theory)
    g = np.asarray(ds.g_h)[:, None]
    between = (g > onset[None, :]) & (g <= 2.0)
    assert np.array_equal(region == phase.UNSTABLE_FPS, between)
    assert np.array_equal(region == phase.CHAOTIC, np.broadcast_to(g > 2.0, region.shape))


def test_theory_rate_is_the_zero_fixed_point_decay():
    # at the zero fixed point the h-spectrum is the disk centred at -sigma_z0 of radius g_h sigma_r0 sigma_z0
    ds = phase.phase_diagram(dg.GatedRNN(beta_z=1.0), x=("beta_r", [-0.5, 0.0, 0.5]), y=("g_h", [0.5, 1.0]))
    sz0 = 1 / (1 + math.e)
    sr0 = 1 / (1 + np.exp(np.array([-0.5, 0.0, 0.5])))
    expected = -sz0 + np.array([[0.5], [1.0]]) * sr0 * sz0
    np.testing.assert_allclose(ds.rate_low, expected, atol=1e-9)


def test_vanilla_map_theory_layers():
    # the Euler map h <- (1 - delta) h + delta (J phi(h) + b) has the flow's fixed points; at the zero one the
    # Jacobian's support is the disk of radius delta g about 1 - delta: rate ln(1 - delta + delta g) per step,
    # unstable iff g > 1 for every delta (the flow's F(0) = g^2)
    deltas, gs = np.array([0.5, 1.0]), np.array([0.6, 0.9, 1.5, 2.0])
    ens = dg.VanillaRNN(delta=0.5)
    assert phase.has_theory(ens)
    ds = phase.phase_diagram(ens, x=("delta", deltas), y=("g", gs))
    np.testing.assert_allclose(ds.rate_low[:2], np.log(1 - deltas + deltas * gs[:2, None]), atol=1e-9)
    np.testing.assert_allclose(ds.f0_low[:2], np.broadcast_to(gs[:2, None] ** 2, (2, 2)), rtol=1e-9)
    np.testing.assert_allclose(ds.line_stability, 1.0, atol=0.6 / 2**8)
    assert np.array_equal(np.asarray(ds.region_theory)[:, 0], [phase.STABLE, phase.STABLE, phase.CHAOTIC,
                                                               phase.CHAOTIC])  # fmt: skip


@pytest.mark.slow
def test_vanilla_map_dmft_column():
    # the DMFT column of the map is the Euler-map DMFT's chaotic solution, which sets in at g = 1 (no
    # input): its line within the bisection step (0.6 / 2^4) of 1, plus the 2% the iteration budget leaves
    # near a continuous onset (dynagate.phase.theory._map_column); lambda_max per step as EulerMap gives it
    from dynagate.meanfield.euler_map import EulerMap

    deltas, gs = np.array([0.5, 1.0]), np.array([0.6, 0.9, 1.5, 2.0])
    ens = dg.VanillaRNN(delta=0.5)
    ds = phase.phase_diagram(ens, x=("delta", deltas), y=("g", gs), dmft=True)
    np.testing.assert_allclose(ds.line_dmft, 1.0, atol=0.6 / 2**4 + 0.02)
    lam = ds.lambda_dmft.values
    assert np.all(np.isnan(lam[:2])) and ds.lambda_dmft.attrs["units"] == "per step"
    for j, d in enumerate(deltas):
        ref = EulerMap()(ens.replace(g=2.0, delta=float(d))).lambda_max
        assert lam[-1, j] == pytest.approx(ref, rel=1e-6) and 0 < lam[2, j] < lam[3, j]


def test_simulated_decay_rate_matches_theory():
    # from a small state a stable network relaxes at the rightmost eigenvalue of its Jacobian; at N = 200
    # the edge of the disk fluctuates by O(N^-1/2) of its radius (here ~0.02), the estimate by its stderr
    sim = phase.Simulation(n=200, seeds=2, t_burn=20.0, t_obs=40.0, spectra=False)
    ds = phase.phase_diagram(dg.GatedRNN(), x=("alpha_r", [0.0, 4.0]), y=("g_h", [1.2, 1.6]), simulate=sim,
                             key=KEY)  # fmt: skip
    lam = np.asarray(ds.lambda_small).mean(-1)
    np.testing.assert_allclose(lam, np.asarray(ds.rate_low), atol=0.03)
    assert np.all(np.asarray(ds.region_simulated) == phase.STABLE)
    assert np.all(np.asarray(ds.final_small) < 1e-8)


def test_results_do_not_depend_on_chunking():
    a = phase.phase_diagram(dg.GatedRNN(), **GRID, simulate=TINY, key=KEY, chunk=1)
    b = phase.phase_diagram(dg.GatedRNN(), **GRID, simulate=TINY, key=KEY, chunk=4)
    _same(a, b)


def test_interrupted_sweep_resumes_without_recomputing(tmp_path, monkeypatch):
    full = phase.phase_diagram(dg.GatedRNN(), **GRID, simulate=TINY, key=KEY, chunk=2)
    calls = []
    original = diagram._Task.__call__

    def interrupted(self, indices):
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the third chunk
        calls.append(list(indices))
        return original(self, indices)

    monkeypatch.setattr(diagram._Task, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        phase.phase_diagram(dg.GatedRNN(), **GRID, simulate=TINY, key=KEY, chunk=2, store=tmp_path / "s")
    assert calls == [[0, 1], [2, 3]]

    calls.clear()
    monkeypatch.setattr(
        diagram._Task, "__call__", lambda self, idx: calls.append(list(idx)) or original(self, idx)
    )
    resumed = phase.phase_diagram(dg.GatedRNN(), **GRID, simulate=TINY, key=KEY, chunk=2,
                                  store=tmp_path / "s")  # fmt: skip
    assert calls == [[4, 5], [6, 7], [8]]  # only the unfinished points
    _same(full, resumed)

    calls.clear()
    again = phase.phase_diagram(dg.GatedRNN(), **GRID, simulate=TINY, key=KEY, chunk=2, store=tmp_path / "s")
    assert calls == []  # everything was on disk
    _same(full, again)


def test_a_store_of_another_sweep_is_refused(tmp_path):
    phase.phase_diagram(dg.GatedRNN(), **GRID, store=tmp_path / "s")
    with pytest.raises(InputError, match="different sweep"):
        phase.phase_diagram(dg.GatedRNN(alpha_z=1.0), **GRID, store=tmp_path / "s")


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_dataset(tmp_path):
    pytest.importorskip("distributed")
    local = phase.phase_diagram(dg.GatedRNN(), **GRID, simulate=TINY, key=KEY, chunk=2)
    client = cluster.connect(workers=2)
    try:
        remote = phase.phase_diagram(dg.GatedRNN(), **GRID, simulate=TINY, key=KEY, chunk=2, client=client,
                                     store=tmp_path / "s")  # fmt: skip
    finally:
        cluster.close(client)
    _same(local, remote)


def test_dask_in_process_cluster_gives_the_same_dataset(tmp_path):
    # The Dask path of the sweep (submit, gather as completed, store) on an in-process cluster of one
    # thread; the slow test above adds the worker processes of cluster.connect (their start-up and imports
    # are most of its time).
    distributed = pytest.importorskip("distributed")
    local = phase.phase_diagram(dg.GatedRNN(), **GRID, simulate=TINY, key=KEY, chunk=2)
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        remote = phase.phase_diagram(dg.GatedRNN(), **GRID, simulate=TINY, key=KEY, chunk=2, client=client,
                                     store=tmp_path / "s")  # fmt: skip
    _same(local, remote)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"x": ("alpha_q", [0.0, 1.0])}, "unknown axis 'alpha_q'"),
        ({"x": ("alpha_r", [1.0])}, "at least two values"),
        ({"x": ("alpha_r", [2.0, 1.0])}, "must increase"),
        ({"x": ("alpha_r", [0.0, np.nan])}, "finite"),
        ({"x": ("g_h", [1.0, 2.0])}, "must differ"),
        ({"x": ("alpha_r", [0.0, 1.0]), "y": ("g_h", [-1.0, 2.0])}, "g_h"),
        ({"theory": False}, "nothing to compute"),
        ({"seed": 3}, r"seed= was replaced by key=; pass key=jax.random.PRNGKey\(3\)"),
        ({"simulate": TINY}, r"pass key=jax.random.PRNGKey"),
        ({"simulate": TINY, "key": 3}, "key must be a PRNG key"),
        ({"chunk": 0}, "chunk"),
        ({"simulate": phase.Simulation(seeds=0), "key": KEY}, "seeds"),
        ({"simulate": phase.Simulation(small=2.0, large=1.0), "key": KEY}, "below"),
    ],
)
def test_bad_input_is_refused_before_any_work(kwargs, match, tmp_path):
    args = {"x": ("alpha_r", [0.0, 1.0]), "y": ("g_h", [1.0, 2.0])} | kwargs
    with pytest.raises(InputError, match=match):
        phase.phase_diagram(dg.GatedRNN(), store=tmp_path / "s", **args)
    assert not (tmp_path / "s").exists()


def test_unreachable_scheduler_is_a_clear_error():
    pytest.importorskip("distributed")
    assert sweep.connect is cluster.connect and sweep.close is cluster.close  # the former spelling stays
    unreachable = r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9 within 0\.5 s"
    with pytest.raises(InputError, match=unreachable):
        cluster.connect(scheduler="tcp://127.0.0.1:9", timeout=0.5)
    with pytest.raises(InputError, match="tcp://HOST:PORT"):
        cluster.connect(scheduler="localhost")
    with pytest.raises(InputError, match="not both"):
        cluster.connect(workers=2, scheduler="tcp://127.0.0.1:9")


def test_cli_phase_diagram_writes_and_resumes(tmp_path, capsys):
    out = tmp_path / "pd"
    argv = ["phase-diagram", "gated", "--x", "alpha_r=0:10:3", "--y", "g_h=1.5:2.5:3", "--simulate",
            "--n", "8", "--t-burn", "2", "--t-obs", "4", "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert (out / "phase_diagram.png").stat().st_size > 10_000
    assert sum(first["regions_theory"].values()) == 9
    assert first["tricritical_alpha_r"] == pytest.approx(2 * math.sqrt(2))
    ds = load_dataset(out / "phase_diagram.nc")
    assert ds.lambda_max.dims == ("g_h", "alpha_r") and json.loads(ds.attrs["simulation"])["n"] == 8
    assert main(argv) == 0  # resumes from the store: same numbers
    assert json.loads(capsys.readouterr().out)["lambda_max"] == first["lambda_max"]


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--x", "alpha_q=0:1:3", "--y", "g_h=1:2:3"], "unknown parameter 'alpha_q'"),
        (["--x", "alpha_r=0:1:1", "--y", "g_h=1:2:3"], "at least two values"),
        (["--x", "alpha_r=1:0:3", "--y", "g_h=1:2:3"], "must increase"),
        (["--x", "alpha_r=0:1:3", "--y", "g_h=1:1:3"], "must increase"),  # an empty range
        (["--x", "alpha_r=0:1:3"], "--y NAME=START:STOP:NUM is required"),
        (["--preset", "lstm"], "is for MODEL lstm"),
        (["--preset", "nope"], "unknown preset"),
        (["--x", "alpha_r=0:1:3", "--y", "g_h=1:2:3", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach"),
    ],
)
def test_cli_bad_input(extra, match, tmp_path, capsys, monkeypatch):
    # an unreachable scheduler is given half a second, not the default 10 s (the wait is Dask's retrying)
    monkeypatch.setattr(cluster, "connect", functools.partial(cluster.connect, timeout=0.5))
    assert main(["phase-diagram", "gated", *extra, "--out", str(tmp_path / "o")]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_presets_name_real_axes():
    from dynagate.models import MODELS

    for p in PRESETS.values():
        cls = MODELS[p["model"]]
        cls().replace(**p["set"])
        for axis in (p["x"], p["y"]):
            phase.check_axis(cls, axis[0], np.linspace(axis[1], axis[2], axis[3]))


def check_gated_reset(ds) -> None:
    """The acceptance criteria of the (alpha_r, g_h) diagram (a dataset with simulations and the DMFT)."""
    alpha, g = np.asarray(ds.alpha_r), np.asarray(ds.g_h)
    step = g[1] - g[0]
    lam, region = np.asarray(ds.lambda_max), np.asarray(ds.region_simulated)
    tc = ds.attrs["tricritical_alpha_r"]
    for i in np.flatnonzero(alpha < tc):
        # continuous transition: the simulated lambda_max map turns positive within one grid step of the
        # theory's chaos boundary (the stability line), and is negative below it
        line = float(ds.line_stability[i])
        first = g[np.flatnonzero(lam[:, i] > 0)[0]]
        assert abs(first - line) <= step + 1e-9, (alpha[i], first, line)
        assert np.all(lam[g < line - step, i] < 0), alpha[i]
        assert not np.any(region[:, i] == phase.BISTABLE), alpha[i]
    above = np.flatnonzero(alpha > tc + step)
    bistable = region == phase.BISTABLE
    # past the tricritical point a bistable band in simulation (chaos from large states only), found in
    # at least half of the columns ...
    assert np.mean(bistable[:, above].any(0)) >= 0.5
    # ... that lies where theory puts it: between the DMFT line and the stability line, within a step
    gg, lo, hi = np.broadcast_arrays(g[:, None], np.asarray(ds.line_dmft)[None, :] - step,
                                     np.asarray(ds.line_stability)[None, :] + step)  # fmt: skip
    assert np.all((gg[bistable] >= lo[bistable]) & (gg[bistable] <= hi[bistable]))
    assert np.any(np.asarray(ds.region_theory)[:, above] == phase.BISTABLE)


@pytest.mark.slow
def test_gated_reset_preset_simulation_agrees_with_theory():
    # the acceptance diagram: gated RNN over (alpha_r, g_h) at beta_r = 0, N = 200, 4 networks per point,
    # with the DMFT columns (the command `dynagate phase-diagram gated --preset gated-reset --simulate
    # --n 200 --seeds 4 --dmft`); about 40 minutes on 2 cores
    p = PRESETS["gated-reset"]
    axes = {k: (p[k][0], np.linspace(*p[k][1:3], p[k][3])) for k in ("x", "y")}
    check_gated_reset(
        phase.phase_diagram(
            dg.GatedRNN(), **axes, dmft=True, simulate=phase.Simulation(n=200, seeds=4), key=KEY
        )
    )


def test_cli_closes_the_cluster_when_the_sweep_fails(tmp_path, monkeypatch):
    # an error in the sweep closes the cluster at once (and waits for it); only Ctrl-C closes it behind
    closed = []
    monkeypatch.setattr(cluster, "connect", lambda **kwargs: "client")
    monkeypatch.setattr(cluster, "close", lambda client, wait=True: closed.append((client, wait)))

    def fails(*args, **kwargs):
        raise RuntimeError("the sweep failed")

    monkeypatch.setattr(phase, "phase_diagram", fails)
    argv = ["phase-diagram", "gated", "--x", "alpha_r=0:1:2", "--y", "g_h=1:2:2", "--workers", "2"]
    with pytest.raises(RuntimeError, match="the sweep failed"):
        main([*argv, "--out", str(tmp_path / "o")])
    assert closed == [("client", True)]
