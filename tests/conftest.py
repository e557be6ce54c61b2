import os

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
