"""The GRU map in the PyTorch ``nn.GRU`` convention (THEORY.md section 2), with a refine-gate variant."""

from __future__ import annotations

from typing import ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import InputError
from .base import Ensemble, System
from .init import GateInit, gaussian_bias, gaussian_matrix


def refine(f, rho):
    """Gu et al.'s refine gate: g = rho (1 - (1 - f)^2) + (1 - rho) f^2.

    Returns ``(g, dg/df, dg/drho)``; dg/drho = 2 f (1 - f).
    """
    g = rho * (1.0 - (1.0 - f) ** 2) + (1.0 - rho) * f**2
    return g, 2.0 * rho * (1.0 - f) + 2.0 * (1.0 - rho) * f, 2.0 * f * (1.0 - f)


class GRU(Ensemble):
    r"""Random GRU, a map per step, in the PyTorch ``nn.GRU`` convention.

    .. math::
        r = \sigma(W_r h + U_r x + b_r), \; z = \sigma(W_z h + U_z x + b_z), \;
        n = \tanh(U_n x + b_{in} + r \odot (W_n h + b_{hn})), \; h' = (1 - z) \odot n + z \odot h

    ``reset="before"`` gives the Cho et al. form n = tanh(W_n (r ⊙ h) + U_n x + b_n). With
    ``refine=True`` the update gate z is replaced by Gu et al.'s refined gate
    g = rho (1 - (1 - z)^2) + (1 - rho) z^2, rho = sigma(W_rf h + U_rf x + b_rf).

    ======================  ============================================================
    symbol                  meaning
    ======================  ============================================================
    ``g_r, g_z, g_n, g_rf`` recurrent weights W_a,ij ~ N(0, g_a^2 / N)
    ``mu_a, s_a``           biases b_a,i ~ N(mu_a, s_a^2) for a in r, z, n, rf
    ``update_init``         ``UniformGateInit()`` or ``ChronoInit(t_max)`` for b_z instead
    ``n_in, g_in``          input size and input weights U ~ N(0, g_in^2 / n_in)
    ======================  ============================================================
    """

    g_r: float = 1.0
    g_z: float = 1.0
    g_n: float = 1.0
    mu_r: float = 0.0
    s_r: float = 0.0
    mu_z: float = 0.0
    s_z: float = 0.0
    mu_n: float = 0.0
    s_n: float = 0.0
    g_rf: float = 1.0
    mu_rf: float = 0.0
    s_rf: float = 0.0
    g_in: float = 1.0
    n_in: int = eqx.field(static=True, default=0)
    reset: Literal["after", "before"] = eqx.field(static=True, default="after")
    refine: bool = eqx.field(static=True, default=False)
    update_init: GateInit | None = None

    _nonneg: ClassVar[tuple[str, ...]] = (
        "g_r",
        "g_z",
        "g_n",
        "g_rf",
        "g_in",
        "s_r",
        "s_z",
        "s_n",
        "s_rf",
    )

    def __check_init__(self):
        super().__check_init__()
        if self.reset not in ("after", "before"):
            raise InputError(f"GRU: reset must be 'after' or 'before', got {self.reset!r}")
        if isinstance(self.n_in, bool) or not isinstance(self.n_in, int) or self.n_in < 0:
            raise InputError(f"GRU: n_in must be a non-negative integer, got {self.n_in!r}")

    def sample(self, n: int, *, key) -> GRUNet:
        k = jax.random.split(key, 11)
        d = self.n_in
        W_hh = jnp.concatenate(
            [gaussian_matrix(kk, (n, n), g, n) for kk, g in zip(k[:3], (self.g_r, self.g_z, self.g_n))]
        )
        W_ih = gaussian_matrix(k[3], (3 * n, d), self.g_in, d)
        b_z = (
            gaussian_bias(k[5], n, self.mu_z, self.s_z)
            if self.update_init is None
            else self.update_init.sample(n, key=k[5])
        )
        b_ih = jnp.concatenate(
            [
                gaussian_bias(k[4], n, self.mu_r, self.s_r),
                b_z,
                gaussian_bias(k[6], n, self.mu_n, self.s_n),
            ]
        )
        rf = {}
        if self.refine:
            rf = {
                "W_rf": gaussian_matrix(k[7], (n, n), self.g_rf, n),
                "U_rf": gaussian_matrix(k[8], (n, d), self.g_in, d),
                "b_rf": gaussian_bias(k[9], n, self.mu_rf, self.s_rf),
            }
        return GRUNet(
            W_ih=W_ih,
            W_hh=W_hh,
            b_ih=b_ih,
            b_hh=jnp.zeros(3 * n),
            reset=self.reset,
            ensemble=self,
            **rf,
        )


class GRUNet(System):
    """One GRU: PyTorch-layout weights (gate order r, z, n), optional refine-gate weights."""

    W_ih: jax.Array  # (3N, d)
    W_hh: jax.Array  # (3N, N)
    b_ih: jax.Array  # (3N,)
    b_hh: jax.Array  # (3N,)
    reset: str = eqx.field(static=True, default="after")
    W_rf: jax.Array | None = None
    U_rf: jax.Array | None = None
    b_rf: jax.Array | None = None
    ensemble: GRU | None = None

    is_flow = False

    def __check_init__(self):
        if self.reset not in ("after", "before"):
            raise InputError(f"GRUNet: reset must be 'after' or 'before', got {self.reset!r}")

    @property
    def n(self) -> int:
        """Number of units N."""
        return self.W_hh.shape[1]

    @property
    def n_state(self) -> int:
        return self.W_hh.shape[1]

    @property
    def n_input(self) -> int:
        return self.W_ih.shape[1]

    def split_state(self, state):
        return {"h": state}

    def _parts(self, h, x):
        n = self.n_state
        x = jnp.zeros(self.n_input) if x is None else x
        gi = self.W_ih @ x + self.b_ih
        Wr, Wz, Wn = self.W_hh[:n], self.W_hh[n : 2 * n], self.W_hh[2 * n :]
        bhr, bhz, bhn = self.b_hh[:n], self.b_hh[n : 2 * n], self.b_hh[2 * n :]
        r = jax.nn.sigmoid(gi[:n] + Wr @ h + bhr)
        z = jax.nn.sigmoid(gi[n : 2 * n] + Wz @ h + bhz)
        m = Wn @ h + bhn if self.reset == "after" else Wn @ (r * h) + bhn
        cand = jnp.tanh(gi[2 * n :] + r * m) if self.reset == "after" else jnp.tanh(gi[2 * n :] + m)
        if self.W_rf is None:
            g, dg_dz, dg_drho, rho = z, jnp.ones_like(z), None, None
        else:
            rho = jax.nn.sigmoid(self.W_rf @ h + self.U_rf @ x + self.b_rf)
            g, dg_dz, dg_drho = refine(z, rho)
        return (Wr, Wz, Wn), r, z, m, cand, g, dg_dz, dg_drho, rho

    def site_values(self, h, x=None) -> dict[str, jax.Array]:
        """Per-unit values at ``h``: h, the gates r, z, the reset's operand m (W_n h + b, or W_n (r h) + b
        when the reset acts before), the candidate n and the refine gate rho if present
        (:func:`dynagate.sitelaw.empirical_stats`)."""
        _, r, z, m, cand, _, _, _, rho = self._parts(h, x)
        return {"h": h, "r": r, "z": z, "m": m, "n": cand} | ({} if rho is None else {"rho": rho})

    def rhs(self, h, x=None):
        _, _, _, _, cand, g, *_ = self._parts(h, x)
        return (1.0 - g) * cand + g * h

    def jac(self, h, x=None):
        (Wr, Wz, Wn), r, z, m, cand, g, dg_dz, dg_drho, rho = self._parts(h, x)
        dr = r * (1.0 - r)
        if self.reset == "after":
            dn = (1.0 - cand**2)[:, None] * (r[:, None] * Wn + (m * dr)[:, None] * Wr)
        else:
            dn = (1.0 - cand**2)[:, None] * (Wn * r[None, :] + Wn @ ((h * dr)[:, None] * Wr))
        dg = (dg_dz * z * (1.0 - z))[:, None] * Wz
        if rho is not None:
            dg = dg + (dg_drho * rho * (1.0 - rho))[:, None] * self.W_rf
        return (1.0 - g)[:, None] * dn + jnp.diag(g) + (h - cand)[:, None] * dg
