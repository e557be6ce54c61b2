import os
import shutil
import tempfile
from pathlib import Path

import jax
import pytest
import threadpoolctl

import dynagate  # noqa: F401  (enables float64)

# Strict dtype promotion for the whole suite (as the diffrax and equinox test suites do): an implicit
# promotion between arrays of different dtypes (float32 + float64, an int array times a float) raises
# instead of silently choosing a precision; Python scalars stay weakly typed. The library makes such casts
# explicitly where they are meant.
jax.config.update("jax_numpy_dtype_promotion", "strict")


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# Under pytest-xdist (-n W) each worker gets cores / W BLAS threads. OpenBLAS otherwise starts one thread
# per core in every worker, and W workers' threads oversubscribe the machine: a 300 x 300 eigvals (the
# tests' sampled spectra) ran 3.5x slower on 2 threads than on 1 with two workers busy on 2 cores.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    threadpoolctl.threadpool_limits(max(1, _cores() // _WORKERS), user_api="blas")


def pytest_configure(config):
    # The default tier's time is largely XLA compilation of many small programs (each test builds its own
    # networks and solvers; one jax.random.normal per new shape compiles for 1-3 s on CPU). Skipping LLVM's
    # expensive passes compiles faster at no cost in run time: tests/test_phase.py, test_simulate.py and
    # test_lyapunov.py in one process took 285 s of CPU with XLA's defaults, 273 s with it; the sampled
    # GRU DMFT test_update_gate_slows_the_gru... 34.6 s and 33.9 s. (The unoptimised backend,
    # --xla_backend_optimization_level=0, compiled faster still, 244 s on the first set, but ran that DMFT
    # test in 86 s: its elementwise code runs 2-3x slower.) The slow tier keeps XLA's defaults. Set before
    # JAX starts its backend (importing dynagate does not), inherited by the notebook kernels; a user's own
    # XLA_FLAGS win.
    if "not slow" in (config.option.markexpr or ""):
        os.environ.setdefault("XLA_FLAGS", "--xla_llvm_disable_expensive_passes=true")


def _compile_cache(controller_pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"dynagate-tests-jax-cache-{controller_pid}"


# Under pytest-xdist the workers share one JAX compilation cache for the run (a fresh temporary folder,
# keyed by the controlling process and removed when the run ends, so nothing carries over between runs):
# both workers run tests of the same modules and otherwise compile the same functions twice. Measured
# with -n 2 on tests/test_phase.py, test_gru_meanfield.py and test_gru_dmft.py: 268 s of CPU without,
# 241 s with (wall 307 s -> 270 s).
if os.environ.get("PYTEST_XDIST_WORKER"):
    jax.config.update("jax_compilation_cache_dir", str(_compile_cache(os.getppid())))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def pytest_sessionfinish(session):
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the controller (or a run without xdist)
        shutil.rmtree(_compile_cache(os.getpid()), ignore_errors=True)


def keys(seed: int, n: int):
    """n fixed PRNG keys derived from one seed."""
    return jax.random.split(jax.random.PRNGKey(seed), n)


@pytest.fixture
def key():
    """A fixed PRNG key (``PRNGKey(0)``): a test that takes it is reproducible and says so."""
    return jax.random.PRNGKey(0)


def _map_fixed_point(ensemble, n: int, radius: float):
    """A network of ``n`` units from ``ensemble`` (a map) iterated from a random N(0, 1/4) state until it
    sits on a fixed point (the error contracts by about the stable branch's ``radius`` per step: 400 steps
    reach 1e-10 at radius 0.95, 6000 at 0.996; at least 1000, at most 8000); the residual is checked.
    Returns (network, fixed point, largest |eigenvalue| of the Jacobian there)."""
    import math

    import jax.numpy as jnp
    import numpy as np

    import dynagate as dg

    net = dg.sample(ensemble, n, key=jax.random.PRNGKey(1))
    s0 = 0.5 * jax.random.normal(jax.random.PRNGKey(2), (net.n_state,))
    steps = int(min(8000, max(1000, 1.5 * math.log(1e-12) / math.log(radius))))
    s = dg.simulate(net, s0, steps=steps, save_every=steps).states[-1]
    assert float(jnp.max(jnp.abs(net.rhs(s) - s))) < 1e-10, "no fixed point reached"
    return net, s, float(np.abs(np.linalg.eigvals(np.asarray(dg.jacobian(net, s)))).max())


@pytest.fixture
def map_fixed_point():
    """:func:`_map_fixed_point`: a sampled map network on a stable fixed point, with its spectral radius."""
    return _map_fixed_point


@pytest.fixture
def dmft_against_networks():
    """``check(ensemble, n)``: the sampled DMFT of a gated map against three simulated networks of ``n``
    units (:func:`dynagate.validate.map_comparison`; the slow tests of the GRU and LSTM DMFTs): prints the
    comparison and asserts a converged (or fixed-point) solution and every verdict."""

    def check(ensemble, n: int) -> None:
        from dynagate.validate import map_comparison

        cmp, res = map_comparison(ensemble, n=n, seeds=3, key=jax.random.PRNGKey(2027))
        rows = ", ".join(f"{k} {v[0]:.4g} / {v[1]:.4g} ± {v[2]:.2g}" for k, v in cmp.items() if k != "passed")
        print(f"\n{ensemble}: {rows}")
        assert res.status in ("converged", "no_chaos")  # no_chaos: a stable fixed point's set
        assert all(cmp["passed"].values()), cmp["passed"]

    return check
