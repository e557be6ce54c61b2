"""Empirical Jacobian spectra: eigenvalues at a chosen state, spectral radius, rightmost eigenvalue.

Stability convention: a flow's state is linearly stable when every eigenvalue has negative real part
(``rightmost.real < 0``); a map's when every eigenvalue has modulus below 1 (``spectral_radius < 1``).
Slow modes are eigenvalues within ``eps`` of 0 (flows) or of 1 (maps).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .blas import limit_blas
from .errors import InputError, check_key, check_param
from .jacobian import jacobian
from .models.base import System
from .models.init import normal
from .simulate import simulate


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Eigenvalues of a Jacobian and the numbers read off them."""

    eigenvalues: np.ndarray
    is_flow: bool

    @property
    def n(self) -> int:
        return self.eigenvalues.size

    @property
    def rightmost(self) -> complex:
        """The eigenvalue with the largest real part."""
        return complex(rightmost(self.eigenvalues))

    @property
    def spectral_radius(self) -> float:
        return float(spectral_radius(self.eigenvalues))

    @property
    def stable(self) -> bool:
        return self.rightmost.real < 0 if self.is_flow else self.spectral_radius < 1

    def slow_fraction(self, eps: float) -> float:
        return float(slow_fraction(self.eigenvalues, eps, is_flow=self.is_flow))


def eigenvalues(system: System, state, x=None, *, blas_threads: int | None = None) -> np.ndarray:
    """Eigenvalues (complex, unsorted) of the analytic Jacobian of ``system`` at ``state``.

    The Jacobian is built with JAX (on any device); the non-symmetric eigenproblem is solved by LAPACK on
    the host (``numpy.linalg.eigvals``), which JAX does not offer on every backend, under the library's
    BLAS thread limit (``blas_threads``, :mod:`dynagate.blas`; default 1): on two cores OpenBLAS's default
    threads were no faster idle at N = 600 and 4x slower at a load of 7 (``benchmarks/blas_threads.py``).
    """
    J = np.asarray(jacobian(system, state, x))
    if not np.all(np.isfinite(J)):
        raise InputError("the Jacobian is not finite at this state")
    with limit_blas(blas_threads):
        return np.linalg.eigvals(J)


def spectrum(system: System, state, x=None) -> Spectrum:
    """The :class:`Spectrum` of ``system``'s Jacobian at ``state``."""
    return Spectrum(eigenvalues(system, state, x), is_flow=system.is_flow)


def spectral_radius(eigs) -> jax.Array:
    return jnp.max(jnp.abs(eigs))


def rightmost(eigs) -> jax.Array:
    """The eigenvalue of largest real part."""
    eigs = jnp.asarray(eigs)
    return eigs[jnp.argmax(eigs.real)]


def slow_fraction(eigs, eps: float, *, is_flow: bool) -> jax.Array:
    """Fraction of eigenvalues within ``eps`` of 0 (flows) or 1 (maps)."""
    eigs = jnp.asarray(eigs)
    centre = 0.0 if is_flow else 1.0
    return jnp.mean((jnp.abs(eigs - centre) < eps).astype(eigs.real.dtype))


def random_state(system: System, *, key, scale: float = 1.0) -> jax.Array:
    """A state with iid N(0, scale^2) entries."""
    if system.n_state is None:
        raise InputError("random_state needs a system with a known state size (a dynagate network)")
    return scale * normal(key, (system.n_state,))


#: Defaults of :func:`relaxed_state`: 2000 steps, RK4 with dt = 0.05 for flows (100 time units).
RELAX_STEPS = 2000
RELAX_DT = 0.05


def relaxed_state(
    system: System, *, key, steps: int = RELAX_STEPS, dt: float | None = None, scale: float = 1.0, x=None
) -> jax.Array:
    """The state reached after a transient of ``steps`` steps from a random N(0, scale^2) state.

    Flows use RK4 with ``dt`` (default :data:`RELAX_DT`).
    """
    check_param("relaxed_state", "scale", scale, nonneg=True)
    key = check_key("relaxed_state", key)
    if system.is_flow and dt is None:
        dt = RELAX_DT
    s0 = random_state(system, key=key, scale=scale)
    traj = simulate(system, s0, steps=steps, dt=dt, x=x, save_every=steps)
    return traj.states[-1]
