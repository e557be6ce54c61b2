"""Resource limits (:mod:`dynagate.limits`): estimates from sizes, refused before any work in one line.

The estimates are checked against what they count (the bytes of a sampled network's arrays, the steps
of a run), the refusals against the issue's commands, with the work replaced by a failure so that a
command that started working cannot pass.
"""

import importlib
import math

import jax
import numpy as np
import pytest

import dynagate as dg
from dynagate import limits, validate
from dynagate.cli import main
from dynagate.cli._common import network_sizes
from dynagate.errors import InputError
from dynagate.models import MODELS

KEY = jax.random.PRNGKey(0)


def one_line_error(capfd, *parts):
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and lines[0].startswith("dynagate: error: "), (out, err)
    assert all(p in lines[0] for p in parts), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("text", "size"),
    [("16G", 16e9), ("512M", 512e6), ("1.5T", 1.5e12), ("8GiB", 8 * 2**30), ("2048", 2048.0), ("3 kb", 3e3)],
)
def test_parse_size(text, size):
    assert limits.parse_size(text) == size


DURATIONS = [
    ("24h", 86400.0),
    ("90m", 5400.0),
    ("2d", 172800.0),
    ("30s", 30.0),
    ("3600", 3600.0),
    ("1.5h", 5400.0),
]


@pytest.mark.parametrize(("text", "seconds"), DURATIONS)
def test_parse_duration(text, seconds):
    assert limits.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "12X", "-1G", "0", "nan", "inf", "G"])
def test_bad_limits_are_refused(text):
    with pytest.raises(InputError, match="--max-memory expects a size"):
        limits.parse_size(text)
    with pytest.raises(InputError, match="--max-time expects a duration"):
        limits.parse_duration(text)


def test_check_names_the_estimate_and_the_option():
    est = limits.Estimate(3e9, 7200.0, "the weights", "the steps")
    limits.check(est, max_memory=4e9, max_time=7201.0)  # within both
    memory = r"needs about 3 GB of memory \(the weights\), more than the limit of 2 GB; .* raise --max-memory"
    with pytest.raises(InputError, match=memory):
        limits.check(est, max_memory=2e9)
    time = r"take about 2 h \(the steps\), more than the limit of 60 min; .*--max-time"
    with pytest.raises(InputError, match=time):
        limits.check(est, max_memory=4e9, max_time=3600.0)
    with pytest.raises(InputError, match="memory"):  # an estimate that is not a number is not within a limit
        limits.check(limits.Estimate(math.nan, 0.0), max_memory=4e9)
    # the defaults: 3/4 of the physical memory, 24 h
    pages = limits.physical_memory()
    assert limits.default_memory() == (0.75 * pages if pages else 16e9)
    with pytest.raises(InputError, match="limit of 24 h"):
        limits.check(limits.Estimate(0.0, 86401.0))


def test_two_parts_in_turn_take_the_larger_memory_and_the_summed_time():
    a = limits.Estimate(2.0, 3.0, "a memory", "a time")
    b = limits.Estimate(5.0, 1.0, "b memory", "b time")
    assert a + b == limits.Estimate(5.0, 4.0, "b memory", "a time")


def test_steps_beyond_the_maximum_are_refused_naming_the_parameter():
    limits.check_steps("lyapunov", "t_obs", 1e9, 1e9)
    with pytest.raises(InputError, match=r"lyapunov: t_obs=5e\+10 is 1e\+12 steps, more than the 1e\+09"):
        limits.check_steps("lyapunov", "t_obs", 5e10, 1e12)
    # the library: refused before the run is set up, also for a map and for the burn-ins
    net = dg.sample(dg.VanillaRNN(), 4, key=KEY)
    with pytest.raises(InputError, match=r"t_burn=1e\+13 is 2e\+14 steps"):
        dg.lyapunov_spectrum(net, key=KEY, t_burn=1e13)
    with pytest.raises(InputError, match=r"t_obs=2e\+09 is 2e\+09 steps"):
        dg.lyapunov_spectrum(dg.sample(dg.VanillaRNN(delta=0.5), 4, key=KEY), key=KEY, t_obs=2e9)
    with pytest.raises(InputError, match="t_frame"):
        dg.lyapunov.lyapunov_max(net, np.zeros(4), key=KEY, t_frame=1e12)


@pytest.mark.parametrize("model", list(MODELS))
def test_network_sizes_count_the_arrays_of_a_sampled_network(model):
    # the sizes read off 8 units, against the arrays of a network of 40 units: the state exactly, the
    # weights within the biases (a bias per matrix row: O(N) of the O(N^2) weights)
    ens = MODELS[model]()
    sizes = network_sizes(ens, 40, "test")
    net = dg.sample(ens, 40, key=KEY)
    weights = sum(leaf.size for leaf in jax.tree_util.tree_leaves(net) if hasattr(leaf, "size"))
    assert sizes.n_state == net.n_state and sizes.stages == (4 if net.is_flow else 1)
    assert weights <= sizes.matrices * 40**2 <= weights * 1.2
    # the spectrum estimate counts at least the weights and the dense Jacobian, and at most 8 times that
    jac = dg.jacobian(net, net.zero_state())
    held = weights * 8 + jac.size * 8
    assert held <= limits.spectrum(sizes, 0).memory - limits.BASE_MEMORY <= 8 * held


def test_lyapunov_estimate_counts_the_steps_of_the_run():
    # flows: the library's defaults are 200 + 200 + 1000 time units at dt = 0.05, i.e. 28000 RK4 steps
    net = limits.Network(n=100, units=1, matrices=1, stages=4)
    est = limits.lyapunov(net, k=10, steps=28000, ortho=20, sum_rule=False)
    per_step = 4 * 2 * 100**2 + 4 * 2 * 100**2 * 10  # the state, then ten tangent vectors, by four stages
    qr = 1400 * 4 * 100 * 10**2  # 28000 / 20 QRs of 100 x 10, dense LAPACK work
    expected = limits.BASE_TIME + 28000 * per_step / limits.RATE + qr / limits.DENSE_RATE
    assert est.time == pytest.approx(expected)
    assert est.time_what == "2.8e+04 steps of N = 100 with 10 tangent vectors"
    # the gated RNN (n_state = 3 N, 3.125 N^2 weights): a few vectors cost one linearised step each (the run
    # differentiates the step), a full frame (4 k >= n) stages dense products of n^2 k
    gated = limits.Network(n=100, units=3, matrices=3.125, stages=4)
    few = limits.lyapunov(gated, k=1, steps=1000, ortho=10, sum_rule=False)
    assert few.time == pytest.approx(limits.BASE_TIME + 1000 * 2 * gated.step_flops / limits.RATE
                                     + 100 * 4 * 300 / limits.DENSE_RATE)  # fmt: skip
    full = limits.lyapunov(gated, k=300, steps=1000, ortho=10, sum_rule=False)
    dense = 1000 * 4 * 2 * 300**2 * 300 + 100 * 4 * 300 * 300**2
    assert full.time == pytest.approx(limits.BASE_TIME + 1000 * gated.step_flops / limits.RATE
                                      + dense / limits.DENSE_RATE)  # fmt: skip


# ------------------------------------------------------------------------------------- the command line

SMALL = ["phase-diagram", "gated", "--x", "alpha_r=0:4:3", "--y", "g_h=1:2:3"]
ISSUE = [
    (["phase-diagram", "gated", "--x", "alpha_r=0:4:1000000000", "--y", "g_h=1:2:3"], "NUM must be at most"),
    (["phase-diagram", "gated", "--x", "alpha_r=0:4:1000000", "--y", "g_h=1:2:1000"], "--max-memory"),
    ([*SMALL, "--simulate", "--n", "1000000000"], "--max-memory"),
    ([*SMALL, "--simulate", "--t-obs", "1e12"], "--t-obs=1e+12 is 1e+13 steps"),
    (["spectrum", "vanilla", "--n", "1000000000"], "--max-memory"),
    (["spectrum", "gated", "--n", "2000", "--steps", "2000000000"], "--steps=2e+09 is 2e+09 steps"),
    (["dmft", "gated", "--simulate", "--t-sim", "1e12"], "--t-sim=1e+12 is 2e+13 steps"),
    (["dmft", "gated", "--simulate", "--n", "100000"], "--max-memory"),
    (["dmft", "gated", "--samples", "100000000"], "--max-memory"),
    (["lyapunov", "gated", "--t-obs", "1e12"], "--t-obs=1e+12 is 2e+13 steps"),
    (["lyapunov", "gated", "--n", "60", "--t-obs", "20000", "--max-time", "1m"], "--max-time"),
    (["fixed-points", "vanilla", "--seeds", "1000000000"], "--max-memory"),
    (["complexity", "vanilla", "--param", "g=1:2:2", "--n-h", "100000000"], "--max-memory"),
    (["complexity", "vanilla", "--param", "g=1:2:100000000"], "NUM must be at most"),
    (["complexity", "vanilla", "--param", "g=1:2:1000000"], "--max-time"),
    (["complexity", "vanilla", "--param", "g=1:2:2", "--count-sizes", "10,1000000"], "--max-memory"),
    (["spectrum", "vanilla", "--n", "10", "--max-memory", "12X"], "--max-memory expects a size"),
]  # fmt: skip
WORK = ("network_from", "phase_diagram", "complexity")


@pytest.mark.parametrize(("argv", "message"), ISSUE, ids=[" ".join(a)[:60] for a, _ in ISSUE])
def test_the_issue_commands_are_refused_before_any_work(argv, message, tmp_path, capfd, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started")

    module = importlib.import_module(f"dynagate.cli.{argv[0].replace('-', '_')}")
    for name in WORK:
        if hasattr(module, name):
            monkeypatch.setattr(module, name, no_work)
    monkeypatch.setattr("dynagate.phase.phase_diagram", no_work)
    monkeypatch.setattr("dynagate.kacrice.complexity", no_work)
    assert main([*argv, "--out", str(tmp_path)]) == 2
    one_line_error(capfd, message)


DOCUMENTED = [
    "spectrum gated --set g_h=3 --set alpha_z=2 --n 400 --state relaxed --theory",
    "lyapunov gated --n 100",
    "lyapunov lstm --n 100",
    "dmft gated --set g_h=6 --set alpha_r=3 --simulate --n 1000",
    "dmft gru --simulate --n 2000 --t-sim 4000",
    "fixed-points vanilla --set g=3 --n 20 --seeds 1024",
    "complexity vanilla --param g=0.8:3:12 --count-sizes 6,10,14 --networks 20",
    "phase-diagram gated --preset gated-reset --simulate",
    "phase-diagram gated --preset gated-reset --simulate --n 200 --seeds 4 --dmft",
    "phase-diagram gated --preset gated-update",
    "phase-diagram gru --preset gru --simulate --n 100 --seeds 2 --dmft",
    "phase-diagram lstm --preset lstm --simulate --n 100 --seeds 2 --dmft",
    "validate --quick",
]


@pytest.mark.parametrize("command", DOCUMENTED)
def test_documented_commands_fit_the_default_time_and_16_gb(command, tmp_path, monkeypatch):
    # README, figures/README and the presets: within 24 h and 16 GB (a laptop), whatever this machine has
    seen = []

    class Checked(Exception):
        pass

    def check(args, estimate):
        seen.append(estimate)
        raise Checked

    argv = command.split()
    module = importlib.import_module(f"dynagate.cli.{argv[0].replace('-', '_')}")
    monkeypatch.setattr(module, "check_limits", check)
    with pytest.raises(Checked):
        main([*argv, "--out", str(tmp_path)])
    limits.check(seen[0], max_memory=16e9)


def test_phase_diagram_estimate_holds_the_grid_while_the_networks_run():
    # the issue's grid: 1e9 points of 7 theory numbers, three copies of 8 bytes each
    est = limits.phase_diagram(10**9, 1, 7, theory=True, dmft_layer=False)
    assert est.memory == limits.BASE_MEMORY + 3 * 10**9 * 7 * 8
    assert est.time == limits.BASE_TIME + 10**9 * limits.THEORY_POINT
    net = limits.Network(n=100, units=1, matrices=1, stages=4)
    sim = limits.phase_diagram(11, 11, 7 + 8 * 2 + 3, theory=True, dmft_layer=True, sim=(net, 2, 2000, True))
    assert sim.memory == limits.BASE_MEMORY + 3 * 121 * 26 * 8 + 2 * 2 * 100**2 * 8 + 6 * 100**2 * 8
    flops, dense = 121 * 2 * 2 * 2000 * 2 * (4 * 2 * 100**2), 121 * 30 * 100**3
    assert sim.time == pytest.approx(limits.BASE_TIME + 121 * (limits.THEORY_POINT + limits.DMFT_POINT)
                                     + flops / limits.RATE + dense / limits.DENSE_RATE)  # fmt: skip


def test_the_full_validation_asks_for_a_time_limit_above_a_day(tmp_path, capfd, monkeypatch):
    # the full checks are estimated above the default 24 h (conservatively): refused before any work in one
    # line naming the estimate and --max-time; with --max-time 2d they pass the check
    monkeypatch.setattr("dynagate.validate.run_checks", lambda *a, **k: pytest.fail("work started"))
    assert main(["validate", "--out", str(tmp_path)]) == 2
    err = one_line_error(capfd, "--max-time")
    assert "this run would take about" in err and "(gated_slowing: " in err
    est = validate.estimate(False, list(validate.CHECKS))
    assert limits.DEFAULT_TIME < est.time < 2 * 86400
    limits.check(est, max_time=limits.parse_duration("2d"))
