"""The LSTM map in the PyTorch convention, full state (h, c) (THEORY.md section 2), with UR-LSTM options."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import InputError
from .base import Ensemble, System
from .gru import refine
from .init import ChronoInit, GateInit, gaussian_bias, gaussian_matrix


class LSTM(Ensemble):
    r"""Random LSTM, a map per step on the 2N-dimensional state ``[h, c]`` (PyTorch convention).

    .. math::
        i, f, o = \sigma(W_{i,f,o} h + U x + b), \; u = \tanh(W_u h + U_u x + b_u), \;
        c' = f \odot c + i \odot u, \; h' = o \odot \tanh(c')

    Gate variants (Gu et al. 2020): ``refine=True`` replaces f by g = rho (1 - (1 - f)^2) + (1 - rho) f^2,
    rho = sigma(W_rf h + U_rf x + b_rf); ``tied_input=True`` sets i = 1 - (effective forget gate)
    (UR-LSTM: ``refine=True, tied_input=True, forget_init=UniformGateInit()``).

    ==========================  ========================================================
    symbol                      meaning
    ==========================  ========================================================
    ``g_i, g_f, g_u, g_o, g_rf``  recurrent weights W_a,ij ~ N(0, g_a^2 / N)
    ``mu_a, s_a``               biases b_a,i ~ N(mu_a, s_a^2) for a in i, f, u, o, rf
    ``forget_init``             ``UniformGateInit()`` or ``ChronoInit(t_max)`` for b_f (chrono
                                also sets b_i = -b_f)
    ``n_in, g_in``              input size and input weights U ~ N(0, g_in^2 / n_in)
    ==========================  ========================================================
    """

    g_i: float = 1.0
    g_f: float = 1.0
    g_u: float = 1.0
    g_o: float = 1.0
    mu_i: float = 0.0
    s_i: float = 0.0
    mu_f: float = 0.0
    s_f: float = 0.0
    mu_u: float = 0.0
    s_u: float = 0.0
    mu_o: float = 0.0
    s_o: float = 0.0
    g_rf: float = 1.0
    mu_rf: float = 0.0
    s_rf: float = 0.0
    g_in: float = 1.0
    n_in: int = eqx.field(static=True, default=0)
    refine: bool = eqx.field(static=True, default=False)
    tied_input: bool = eqx.field(static=True, default=False)
    forget_init: GateInit | None = None

    _nonneg: ClassVar[tuple[str, ...]] = (
        "g_i",
        "g_f",
        "g_u",
        "g_o",
        "g_rf",
        "g_in",
        "s_i",
        "s_f",
        "s_u",
        "s_o",
        "s_rf",
    )

    def __check_init__(self):
        super().__check_init__()
        if isinstance(self.n_in, bool) or not isinstance(self.n_in, int) or self.n_in < 0:
            raise InputError(f"LSTM: n_in must be a non-negative integer, got {self.n_in!r}")

    def sample(self, n: int, *, key) -> LSTMNet:
        k = jax.random.split(key, 13)
        d = self.n_in
        gains = (self.g_i, self.g_f, self.g_u, self.g_o)
        W_hh = jnp.concatenate([gaussian_matrix(kk, (n, n), g, n) for kk, g in zip(k[:4], gains)])
        W_ih = gaussian_matrix(k[4], (4 * n, d), self.g_in, d)
        b_f = (
            gaussian_bias(k[6], n, self.mu_f, self.s_f)
            if self.forget_init is None
            else self.forget_init.sample(n, key=k[6])
        )
        b_i = (
            -b_f if isinstance(self.forget_init, ChronoInit) else gaussian_bias(k[5], n, self.mu_i, self.s_i)
        )
        b_ih = jnp.concatenate(
            [
                b_i,
                b_f,
                gaussian_bias(k[7], n, self.mu_u, self.s_u),
                gaussian_bias(k[8], n, self.mu_o, self.s_o),
            ]
        )
        rf = {}
        if self.refine:
            rf = {
                "W_rf": gaussian_matrix(k[9], (n, n), self.g_rf, n),
                "U_rf": gaussian_matrix(k[10], (n, d), self.g_in, d),
                "b_rf": gaussian_bias(k[11], n, self.mu_rf, self.s_rf),
            }
        return LSTMNet(
            W_ih=W_ih,
            W_hh=W_hh,
            b_ih=b_ih,
            b_hh=jnp.zeros(4 * n),
            tied_input=self.tied_input,
            ensemble=self,
            **rf,
        )


class LSTMNet(System):
    """One LSTM: PyTorch-layout weights (gate order i, f, u(=g), o) on the state ``[h, c]``."""

    W_ih: jax.Array  # (4N, d)
    W_hh: jax.Array  # (4N, N)
    b_ih: jax.Array  # (4N,)
    b_hh: jax.Array  # (4N,)
    tied_input: bool = eqx.field(static=True, default=False)
    W_rf: jax.Array | None = None
    U_rf: jax.Array | None = None
    b_rf: jax.Array | None = None
    ensemble: LSTM | None = None

    is_flow = False

    @property
    def n(self) -> int:
        return self.W_hh.shape[1]

    @property
    def n_state(self) -> int:
        return 2 * self.n

    @property
    def n_input(self) -> int:
        return self.W_ih.shape[1]

    def split_state(self, state):
        return {"h": state[..., : self.n], "c": state[..., self.n :]}

    def _parts(self, state, x):
        n = self.n
        h, c = state[:n], state[n:]
        x = jnp.zeros(self.n_input) if x is None else x
        a = self.W_ih @ x + self.b_ih + self.W_hh @ h + self.b_hh
        i, f = jax.nn.sigmoid(a[:n]), jax.nn.sigmoid(a[n : 2 * n])
        u, o = jnp.tanh(a[2 * n : 3 * n]), jax.nn.sigmoid(a[3 * n :])
        if self.W_rf is None:
            g, dg_df, dg_drho, rho = f, jnp.ones_like(f), None, None
        else:
            rho = jax.nn.sigmoid(self.W_rf @ h + self.U_rf @ x + self.b_rf)
            g, dg_df, dg_drho = refine(f, rho)
        if self.tied_input:
            i = 1.0 - g
        c_new = g * c + i * u
        return h, c, i, f, u, o, g, dg_df, dg_drho, rho, c_new

    def site_values(self, state, x=None) -> dict[str, jax.Array]:
        """Per-unit values at ``state``: the cell c, the gates i, f, o, the candidate u and the refine gate
        rho if present (:func:`dynagate.sitelaw.empirical_stats`). With a tied input gate, i = 1 - g
        (g the refined forget gate)."""
        _, c, i, f, u, o, _, _, _, rho, _ = self._parts(state, x)
        return {"c": c, "i": i, "f": f, "u": u, "o": o} | ({} if rho is None else {"rho": rho})

    def rhs(self, state, x=None):
        *_, o, g, _, _, _, c_new = self._parts(state, x)
        return jnp.concatenate([o * jnp.tanh(c_new), c_new])

    def jac(self, state, x=None):
        """Full 2N x 2N Jacobian d(h', c') / d(h, c)."""
        n = self.n
        W = self.W_hh
        Wi, Wf, Wu, Wo = W[:n], W[n : 2 * n], W[2 * n : 3 * n], W[3 * n :]
        h, c, i, f, u, o, g, dg_df, dg_drho, rho, c_new = self._parts(state, x)
        dg = (dg_df * f * (1.0 - f))[:, None] * Wf
        if rho is not None:
            dg = dg + (dg_drho * rho * (1.0 - rho))[:, None] * self.W_rf
        di = -dg if self.tied_input else (i * (1.0 - i))[:, None] * Wi
        dc_dh = c[:, None] * dg + u[:, None] * di + (i * (1.0 - u**2))[:, None] * Wu
        tc = jnp.tanh(c_new)
        k = o * (1.0 - tc**2)
        dh_dh = (tc * o * (1.0 - o))[:, None] * Wo + k[:, None] * dc_dh
        idx = jnp.arange(n)
        J = jnp.zeros((2 * n, 2 * n), dh_dh.dtype).at[:n, :n].set(dh_dh).at[n:, :n].set(dc_dh)
        return J.at[idx, n + idx].set(k * g).at[n + idx, n + idx].set(g)
