"""The classical random RNN of Sompolinsky, Crisanti & Sommers (1988), as a flow or its Euler map."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp

from .base import Ensemble, System
from .init import gaussian_bias, gaussian_matrix


def phi(x):
    return jnp.tanh(x)


def dphi(x):
    return 1.0 - jnp.tanh(x) ** 2


class VanillaRNN(Ensemble):
    r"""Random rate network ``dh/dt = -h + J phi(h) + b (+ x)``; with ``delta`` its Euler map.

    ================  ===========================================================
    symbol            meaning
    ================  ===========================================================
    ``g``             coupling gain, J_ij ~ N(0, g^2/N)
    ``mu_b``, ``s_b`` static input b_i ~ N(mu_b, s_b^2)
    ``delta``         ``None``: the flow (time in units of tau = 1); a float in (0, 1]:
                      the map h <- (1 - delta) h + delta (J phi(h) + b + x), per step
    ================  ===========================================================

    phi = tanh. An input ``x`` (length N) adds to b at each time.
    """

    g: float = 1.5
    mu_b: float = 0.0
    s_b: float = 0.0
    delta: float | None = None

    _nonneg: ClassVar[tuple[str, ...]] = ("g", "s_b")
    _positive: ClassVar[tuple[str, ...]] = ("delta",)

    def sample(self, n: int, *, key) -> VanillaNet:
        kj, kb = jax.random.split(key)
        return VanillaNet(
            ensemble=self,
            J=gaussian_matrix(kj, (n, n), self.g, n),
            b=gaussian_bias(kb, n, self.mu_b, self.s_b),
        )


class VanillaNet(System):
    """One realisation of :class:`VanillaRNN`: coupling matrix ``J`` and static input ``b``."""

    ensemble: VanillaRNN
    J: jax.Array
    b: jax.Array

    @property
    def is_flow(self) -> bool:  # type: ignore[override]
        return self.ensemble.delta is None

    @property
    def n(self) -> int:
        """Number of units N."""
        return self.J.shape[0]

    @property
    def n_state(self) -> int:
        return self.J.shape[0]

    @property
    def n_input(self) -> int:
        return self.J.shape[0]

    def field(self, h, x=None):
        """The flow's vector field -h + J phi(h) + b + x."""
        drive = self.b if x is None else self.b + x
        return -h + self.J @ phi(h) + drive

    def rhs(self, h, x=None):
        f = self.field(h, x)
        return f if self.is_flow else h + self.ensemble.delta * f

    def jac(self, h, x=None):
        jf = self.J * dphi(h)[None, :] - jnp.eye(h.shape[0])
        return jf if self.is_flow else jnp.eye(h.shape[0]) + self.ensemble.delta * jf

    def split_state(self, state):
        return {"h": state}

    def site_values(self, h, x=None) -> dict[str, jax.Array]:
        """Per-unit values at ``h``: h alone (:func:`dynagate.sitelaw.empirical_stats`)."""
        return {"h": h}
