"""Resource limits, checked before any work: estimates of the memory and run time of a computation from
its sizes, and the check that refuses one beyond the limits in one line (never an out-of-memory kill, an
XLA abort or a run of years).

**The estimates** are deliberately simple, and meant to be within a small factor of the truth, above it
rather than below:

- *memory*: the bytes of the largest arrays alive at once, in float64 (8 bytes): N^2 weights per weight
  matrix, n^2 for each dense Jacobian (n the state dimension), the stored trajectories and results;
  workspaces (eigenvalue solvers, XLA buffers) are counted as a few more of the largest array, and a
  fixed :data:`BASE_MEMORY` for the interpreter, JAX and the libraries.
- *time*: floating-point operations at two rates, plus fixed per-item costs where the work is not flops
  (a theory point of a phase diagram, an iteration of an optimiser) and :data:`BASE_TIME` for a command's
  start-up and compilation: a matrix-vector product with an
  N x N matrix is 2 N^2 flops, an RK4 step 4 evaluations of the right-hand side, at :data:`RATE` per
  second (the network steps, tangents and sampled DMFT paths: bound by reading the weights from memory);
  a dense eigenvalue problem of size n about 30 n^3, a QR of n x k about 4 n k^2, a solve or a
  log-determinant n^3, at :data:`DENSE_RATE` (LAPACK's blocked, cache-friendly kernels run an order of
  magnitude faster per flop).

  The rates are calibrated by ``benchmarks/limits.py``, which runs representative commands end to end
  (compilation included) and prints estimate / wall time. On 2 cores (x86-64, float64) the step work ran
  at 2.8 GFLOP/s (a GRU of N = 2000, whose 96 MB of weights are read from memory every step) to 33
  (a vanilla RNN of N = 1000, in cache), a dense eigenvalue problem at 90-150 GFLOP/s-equivalent of the
  30 n^3 count; so the defaults, 2.5e9 and 2e10, keep every estimate above its run, by 1.1-15x.

**The limits**: memory :data:`MEMORY_FRACTION` of the machine's physical memory (``os.sysconf``), time
:data:`DEFAULT_TIME` (24 h), raised on the command line with ``--max-memory`` and ``--max-time``
(:func:`parse_size`, :func:`parse_duration`). Independently, one integration may take at most
:data:`MAX_STEPS` steps (:func:`check_steps`, also in the library's run-length arguments).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re

from .errors import InputError

#: Floating-point operations per second of the step work (network steps, tangents, sampled DMFT paths).
RATE = 2.5e9
#: Floating-point operations per second of dense LAPACK work (eigenvalues, QR, solves, log-determinants).
DENSE_RATE = 2e10
#: Time of a command before its sizes count: start-up, compiling its programs (1-3 s each on a CPU), the
#: figure, seconds.
BASE_TIME = 10.0
#: Bytes of a float64.
F64 = 8
#: Memory of the process before the arrays: the interpreter, JAX, XLA and the libraries.
BASE_MEMORY = 1.0e9
#: Default memory limit: this fraction of the physical memory.
MEMORY_FRACTION = 0.75
#: Default time limit, seconds.
DEFAULT_TIME = 24 * 3600.0
#: The most steps one integration (burn-in, observation, simulation) may take.
MAX_STEPS = 10**9
#: Time of one theory point of a phase diagram (static mean field + RMT; most take 0.1-1 s, a sharp
#: update gate up to 30 s) and of one DMFT point along a column (1-3 s), seconds.
THEORY_POINT = 1.0
DMFT_POINT = 3.0


@dataclasses.dataclass(frozen=True)
class Estimate:
    """Memory (bytes) and time (seconds) of a computation; ``what`` names the sizes that dominate each."""

    memory: float
    time: float
    memory_what: str = ""
    time_what: str = ""

    def __add__(self, other: Estimate) -> Estimate:
        """Two parts run one after the other: the larger memory, the sum of the times."""
        big = self if self.memory >= other.memory else other
        slow = self if self.time >= other.time else other
        return Estimate(big.memory, self.time + other.time, big.memory_what, slow.time_what)


# ----------------------------------------------------------------------------------------- the check


def physical_memory() -> float | None:
    """Bytes of physical memory, or None where the system does not say."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def default_memory() -> float:
    """The default memory limit: :data:`MEMORY_FRACTION` of the physical memory (16 GB if unknown)."""
    total = physical_memory()
    return MEMORY_FRACTION * total if total else 16e9


def check(estimate: Estimate, *, max_memory: float | None = None, max_time: float | None = None) -> None:
    """Refuse ``estimate`` beyond the limits (defaults: :func:`default_memory`, :data:`DEFAULT_TIME`) with
    an :class:`InputError` naming the estimate, what it comes from, the limit and the option that raises
    it."""
    max_memory = default_memory() if max_memory is None else max_memory
    max_time = DEFAULT_TIME if max_time is None else max_time
    if not estimate.memory <= max_memory:  # NaN too
        raise InputError(
            f"this run needs about {format_size(estimate.memory)} of memory ({estimate.memory_what}), more "
            f"than the limit of {format_size(max_memory)}; use smaller sizes or raise --max-memory"
        )
    if not estimate.time <= max_time:
        raise InputError(
            f"this run would take about {format_duration(estimate.time)} ({estimate.time_what}), more than "
            f"the limit of {format_duration(max_time)}; use smaller sizes or raise --max-time"
        )


def check_steps(owner: str, name: str, value, steps: float) -> None:
    """Refuse a run length of more than :data:`MAX_STEPS` steps, naming the parameter."""
    if not steps <= MAX_STEPS:
        raise InputError(f"{owner}: {name}={value:g} is {steps:.3g} steps, more than the {MAX_STEPS:.0e} "
                         "one run may take")  # fmt: skip


_SIZE = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
_TIME = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def _amount(text: str, units: str, scale: dict, option: str, examples: str, suffix: str = "") -> float:
    """A positive number followed by one of ``units`` (a regex; then an optional ``suffix``), times that
    unit's ``scale``."""
    m = re.fullmatch(rf"\s*([0-9.]+(?:e[+-]?[0-9]+)?)\s*({units})?{suffix}\s*", text.lower())
    value = float(m.group(1)) if m else math.nan
    if not (m and math.isfinite(value) and value > 0):
        raise InputError(f"{option} expects {examples}, got {text!r}")
    return value * scale[m.group(2) or ""]


def parse_size(text: str) -> float:
    """Bytes from ``"16G"``, ``"512M"``, ``"1.5T"``, ``"8GiB"`` or a plain number of bytes."""
    return _amount(text, "[kmgt]i?", _SIZE, "--max-memory", "a size such as 16G, 512M or 8GiB", "b?")


def parse_duration(text: str) -> float:
    """Seconds from ``"24h"``, ``"90m"``, ``"2d"``, ``"30s"`` or a plain number of seconds."""
    return _amount(text, "s|min|m|h|d", _TIME, "--max-time", "a duration such as 24h, 90m, 2d or 3600")


def format_size(b: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} bytes"


def format_duration(s: float) -> str:
    for unit, scale in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if s >= 2 * scale or (unit == "min" and s >= scale):
            return f"{s / scale:.3g} {unit}"
    return f"{s:.3g} s"


# ------------------------------------------------------------------------------------------ estimates
#
# The sizes of a network: N units, a state of n = units x N numbers, `matrices` N x N weight matrices (their
# total weights / N^2, biases included), `stages` evaluations per step (RK4: 4, a map: 1).


@dataclasses.dataclass(frozen=True)
class Network:
    """The sizes of a network of N units (see the comment above)."""

    n: int
    units: float  # state numbers per unit (gated RNN: h, z, r)
    matrices: float  # weights / N^2
    stages: int  # right-hand-side evaluations per step

    @property
    def n_state(self) -> float:
        return self.units * self.n

    @property
    def weights(self) -> float:
        return self.matrices * self.n**2 * F64

    @property
    def step_flops(self) -> float:
        """One step of the state: ``stages`` evaluations of the N x N products."""
        return self.stages * 2 * self.matrices * self.n**2

    def describe(self) -> str:
        return f"N = {self.n:g}"


def network(ens, n: int) -> Network:
    """The sizes of a network of ``n`` units of the ensemble ``ens``, read off the shapes of a network of 8
    units (``jax.eval_shape``: nothing is drawn or compiled)."""
    import jax

    from .models import sample

    small = jax.eval_shape(lambda: sample(ens, 8, key=jax.random.PRNGKey(0)))
    # the weight and bias arrays (the ensemble's scalar hyperparameters are leaves too, of no size)
    weights = sum(leaf.size for leaf in jax.tree_util.tree_leaves(small) if len(leaf.shape) > 0)
    return Network(n=n, units=small.n_state / 8, matrices=weights / 64, stages=4 if small.is_flow else 1)


def _est(memory, memory_what, flops=0.0, time_what="", seconds=0.0, dense=0.0) -> Estimate:
    """``flops`` of step work at :data:`RATE`, ``dense`` flops at :data:`DENSE_RATE`, ``seconds`` more."""
    time = BASE_TIME + flops / RATE + dense / DENSE_RATE + seconds
    return Estimate(BASE_MEMORY + memory, time, memory_what, time_what)


def spectrum(net: Network, relax_steps: int) -> Estimate:
    """One network's weights, its dense Jacobian and the eigenvalue workspace (6 n^2: the matrix, its
    balanced copy, the Hessenberg and Schur forms, complex eigenvalues); a transient of ``relax_steps``
    steps and one dense eigenvalue problem (30 n^3)."""
    n = net.n_state
    jac = f"a dense {n:.3g} x {n:.3g} Jacobian"
    return _est(net.weights + 6 * n**2 * F64, f"{net.describe()}: the weights and {jac}",
                relax_steps * net.step_flops, f"{net.describe()}: the eigenvalues of {jac}",
                dense=30 * n**3)  # fmt: skip


def lyapunov(net: Network, k: int, steps: int, ortho: int, sum_rule: bool) -> Estimate:
    """The weights, ``stages`` + 2 dense Jacobians (the tangent of a step) and a few n x k frames; per step
    the state (``step_flops``) and the frame, a QR every ``ortho`` steps, and with the sum rule a
    log-determinant (about 3 n^3 with the tangent matrix of a step). The frame costs what the run does
    (:func:`dynagate.lyapunov.qr.tangent_step`): ``stages`` dense products of n^2 k where 4 k >= n, else one
    linearised step (``step_flops``) per vector; for the gated RNN (n = 3 N) the dense count was 3x the
    linearised one at small k."""
    n = net.n_state
    memory = net.weights + (net.stages + 2) * n**2 * F64 + 4 * n * k * F64
    dense_frame = 4 * k >= n
    flops = steps * net.step_flops * (1 if dense_frame else 1 + k)
    dense = steps * net.stages * 2 * n**2 * k * dense_frame + steps / ortho * 4 * n * k**2
    if sum_rule:
        dense += steps * (net.stages + 1) * 2 * n**3
    return _est(memory, f"{net.describe()}: the weights and the {n:.3g} x {n:.3g} tangent of a step", flops,
                f"{steps:.3g} steps of {net.describe()} with {k} tangent vectors", dense=dense)  # fmt: skip


def simulation(net: Network, steps: int, saved: int, lags: int = 0) -> Estimate:
    """A trajectory of ``steps`` steps with ``saved`` states kept (three copies: the states, their blocks,
    the h part) and an autocorrelation over ``lags`` lags (2 N flops per saved state and lag)."""
    return _est(net.weights + 3 * saved * net.n_state * F64,
                f"the weights of {net.describe()} and {saved:.3g} stored states",
                steps * net.step_flops + 2 * lags * saved * net.n,
                f"{steps:.3g} steps of {net.describe()}")  # fmt: skip


#: The sampled DMFT solvers: grid points (at most; map solvers 2 x 4096 lags, flows 4800 points) and
#: iterations (burn-in, average, tangent, warm-up: 30 + 60 + 60 + 20, up to 3 regrids).
DMFT_POINTS = 8192
DMFT_ITERATIONS = 680


def dmft(samples: int) -> Estimate:
    """A sampled DMFT solve: ``samples`` paths of :data:`DMFT_POINTS` points, 30 arrays of that size (the
    paths of h and the gates, their tangents, FFT workspaces), 200 flops per path point and iteration."""
    size = samples * DMFT_POINTS
    return _est(30 * size * F64, f"{samples:g} sampled paths of {DMFT_POINTS} points",
                200 * size * DMFT_ITERATIONS, f"{samples:g} sampled paths")  # fmt: skip


def fixed_points(net: Network, seeds: int, batch: int = 4096, descent: int = 300, newton: int = 40,
                 traj_steps: int = 200) -> Estimate:  # fmt: skip
    """All seeds (4 copies: seeds, Adam moments, results) and a batch of dense Jacobians for Newton (3 per
    seed); per seed a seeding trajectory (half of them), the Adam descent (2 evaluations a step) and the
    Newton steps (an n^3 solve and a Jacobian each), and the spectra of the distinct fixed points (taken as
    a tenth of the seeds, 30 n^3 each)."""
    n = net.n_state
    memory = net.weights + 4 * seeds * n * F64 + 3 * min(seeds, batch) * n**2 * F64
    flops = seeds * (traj_steps / 2 * net.step_flops + descent * 2 * net.step_flops / net.stages
                     + newton * 2 * net.matrices * net.n**2 * net.units)  # fmt: skip
    return _est(memory, f"{seeds:g} seeds of {net.describe()} ({n:.3g} state numbers, Jacobians in batches)",
                flops, f"{seeds:g} seeds of {net.describe()}",
                dense=seeds * (newton * n**3 + 30 * n**3 / 10))  # fmt: skip


def complexity(values: int, grid: int, iterations: int = 500) -> Estimate:
    """The Kac-Rice variational problem on ``grid`` sites: 50 arrays of the grid (the functional, its
    gradient, the determinant's resolvent), per value up to ``iterations`` Gibbs steps of 1 ms plus 2000
    flops a site."""
    per_value = iterations * (1e-3 + 2000 * grid / RATE)
    return Estimate(BASE_MEMORY + 50 * grid * F64, BASE_TIME + values * per_value, f"a grid of {grid:.3g} sites",
                    f"{values:g} values on a grid of {grid:.3g} sites")  # fmt: skip


def phase_diagram(nx: int, ny: int, values_per_point: int, *, theory: bool, dmft_layer: bool,
                  sim: tuple | None = None) -> Estimate:  # fmt: skip
    """A phase diagram of nx x ny points storing ``values_per_point`` numbers each (three copies: the
    sweep's arrays, the dataset, a reopened store), :data:`THEORY_POINT` seconds a theory point,
    :data:`DMFT_POINT` a DMFT point; ``sim = (network, seeds, steps, spectra)``: per point ``seeds``
    networks (their weights at once, twice), each run from small and large states for ``steps`` steps with
    one tangent vector (twice the cost of a state step), and with ``spectra`` one dense eigenvalue problem.
    The grid's arrays are held while the networks run: the memory is the sum of the two."""
    points = nx * ny
    grid = 3 * points * values_per_point * F64
    memory, memory_what = grid, f"{nx:g} x {ny:g} points of {values_per_point} numbers"
    times = [(points * THEORY_POINT * theory, f"{nx:g} x {ny:g} theory points at about {THEORY_POINT:g} s")]
    if dmft_layer:
        times.append((points * DMFT_POINT, f"{points:.3g} DMFT points at about {DMFT_POINT:g} s"))
    if sim is not None:
        net, seeds, steps, spectra = sim
        n = net.n_state
        nets = 2 * seeds * net.weights + (6 * n**2 * F64 if spectra else 0)
        memory += nets
        if nets > grid:
            memory_what = f"{seeds} networks of {net.describe()} per point"
        flops = points * seeds * 2 * steps * 2 * net.step_flops
        dense = points * 30 * n**3 if spectra else 0
        times.append(
            (
                flops / RATE + dense / DENSE_RATE,
                f"{points:.3g} points x {seeds} networks x 2 runs of {steps:.3g} steps at {net.describe()}",
            )
        )
    return Estimate(BASE_MEMORY + memory, BASE_TIME + sum(t for t, _ in times), memory_what, max(times)[1])
