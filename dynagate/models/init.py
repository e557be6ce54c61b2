"""Gate-bias initialisers (Gu et al., ICML 2020; Tallec & Ollivier, ICLR 2018) and weight sampling.

The forget gate of an LSTM (and the update gate z of a GRU, which plays the same "keep" role in
h' = (1 - z) n + z h) is biased at initialisation so that its timescale D = 1 / (1 - f) is spread out:

- ``None`` (the ensemble's own Gaussian ``mu``/``s`` fields): b ~ N(mu, s^2); ``s = 0`` is a constant bias.
- :class:`UniformGateInit` (UGI): b = logit(u), u ~ U[1/d, 1 - 1/d]; ``d`` defaults to the hidden size.
- :class:`ChronoInit`: b = log(u), u ~ U[1, t_max - 1], so D is roughly uniform on [2, t_max]; for an LSTM
  the input-gate bias is set to -b.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import InputError, check_param


class UniformGateInit(eqx.Module):
    """Uniform gate initialisation: b = logit(u), u ~ U[1/d, 1 - 1/d] (``d=None``: the hidden size)."""

    d: float | None = None

    def __check_init__(self):
        check_param("UniformGateInit", "d", self.d, positive=True)
        if self.d is not None and float(self.d) <= 2:
            raise InputError(f"UniformGateInit: d={self.d} must be > 2 (the interval [1/d, 1-1/d])")

    def sample(self, n: int, *, key) -> jax.Array:
        d = n if self.d is None else self.d
        if self.d is None and n <= 2:
            raise InputError(f"UniformGateInit: d defaults to the hidden size, which must be > 2 (got {n})")
        u = jax.random.uniform(key, (n,), minval=1.0 / d, maxval=1.0 - 1.0 / d)
        return jnp.log(u) - jnp.log1p(-u)

    def quantile(self, p):
        """The bias law's quantile function at ``p`` in (0, 1) (mean-field theory, N -> infinity: with
        ``d=None`` the interval [1/N, 1 - 1/N] becomes (0, 1), a logistic law)."""
        lo = 0.0 if self.d is None else 1.0 / self.d
        u = lo + (1.0 - 2.0 * lo) * jnp.asarray(p)
        return jnp.log(u) - jnp.log1p(-u)


class ChronoInit(eqx.Module):
    """Chrono initialisation: b = log(u), u ~ U[1, t_max - 1]; the LSTM input-gate bias becomes -b."""

    t_max: float = 10.0

    def __check_init__(self):
        check_param("ChronoInit", "t_max", self.t_max, positive=True)
        if float(self.t_max) <= 2:
            raise InputError(f"ChronoInit: t_max={self.t_max} must be > 2")

    def sample(self, n: int, *, key) -> jax.Array:
        return jnp.log(jax.random.uniform(key, (n,), minval=1.0, maxval=self.t_max - 1.0))

    def quantile(self, p):
        """The bias law's quantile function at ``p`` in (0, 1)."""
        return jnp.log(1.0 + (self.t_max - 2.0) * jnp.asarray(p))


GateInit = UniformGateInit | ChronoInit


def normal(key, shape) -> jax.Array:
    """``jax.random.normal(key, shape)``, the same numbers, drawn as the first entries of a flat draw whose
    length is a power of two (at least 256). JAX's (partitionable) threefry makes entry i a function of the
    key and i alone, so the numbers do not depend on the length drawn; but outside ``jit`` every new shape
    compiles the sampler anew (0.5 s on CPU), and a few lengths serve every network size: the test suite
    compiled it 68 times over five test files before, 23 times after."""
    shape = tuple(shape)
    size = math.prod(shape)
    return jax.random.normal(key, (1 << max(8, (size - 1).bit_length()),))[:size].reshape(shape)


def gaussian_matrix(key, shape, g, fan_in: int) -> jax.Array:
    """iid N(0, g^2 / fan_in) entries (THEORY.md section 1)."""
    if fan_in == 0:
        return jnp.zeros(shape)
    return g / jnp.sqrt(fan_in) * normal(key, shape)


def gaussian_bias(key, n: int, mu, s) -> jax.Array:
    return mu + s * normal(key, (n,))
