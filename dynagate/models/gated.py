"""The continuous-time gated RNN of Krishnamurthy, Can & Schwab (PRX 2022), THEORY.md section 2."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import is_concrete
from .base import Ensemble, System
from .init import gaussian_bias, gaussian_matrix
from .vanilla import dphi, phi


def gate(x, alpha, beta):
    """sigma(x) = 1 / (1 + exp(-alpha x + beta))."""
    return jax.nn.sigmoid(alpha * x - beta)


def dgate(x, alpha, beta):
    s = gate(x, alpha, beta)
    return alpha * s * (1.0 - s)


class GatedRNN(Ensemble):
    r"""Gated RNN: an update gate z sets each unit's time constant, a reset gate r scales its output.

    .. math::
        \dot h = \sigma_z(z) \odot [-h + J^h(\sigma_r(r) \odot \phi(h)) + b_h + x], \quad
        \tau_z \dot z = -z + J^z \phi(h), \quad \tau_r \dot r = -r + J^r \phi(h)

    =======================  ==========================================================
    symbol                   meaning
    =======================  ==========================================================
    ``g_h, g_z, g_r``        J^a_ij ~ N(0, g_a^2 / N)
    ``alpha_z, alpha_r``     gate sensitivities; sigma_a(x) = 1 / (1 + exp(-alpha_a x + beta_a))
    ``beta_z, beta_r``       gate biases; alpha_a = 0 makes sigma_a the constant 1/(1 + e^beta_a)
    ``tau_z, tau_r``         gate time constants (units of tau_h = 1); a literal 0 makes the gate
                             instantaneous (z = J^z phi(h)) and removes it from the state
    ``mu_b, s_b``            static input b_h,i ~ N(mu_b, s_b^2)
    =======================  ==========================================================

    phi = tanh. The flat state is ``[h, z, r]`` (without the instantaneous gates). Time is in units of
    the h time constant; Lyapunov exponents are per unit time.
    """

    g_h: float = 2.0
    g_z: float = 1.0
    g_r: float = 1.0
    alpha_z: float = 0.0
    alpha_r: float = 0.0
    beta_z: float = 0.0
    beta_r: float = 0.0
    tau_z: float = 1.0
    tau_r: float = 1.0
    mu_b: float = 0.0
    s_b: float = 0.0

    _nonneg: ClassVar[tuple[str, ...]] = ("g_h", "g_z", "g_r", "tau_z", "tau_r", "s_b")

    def sample(self, n: int, *, key) -> GatedNet:
        kh, kz, kr, kb = jax.random.split(key, 4)
        return GatedNet(
            ensemble=self,
            Jh=gaussian_matrix(kh, (n, n), self.g_h, n),
            Jz=gaussian_matrix(kz, (n, n), self.g_z, n),
            Jr=gaussian_matrix(kr, (n, n), self.g_r, n),
            b=gaussian_bias(kb, n, self.mu_b, self.s_b),
            z_state=not _is_zero(self.tau_z),
            r_state=not _is_zero(self.tau_r),
        )


def _is_zero(tau) -> bool:
    return is_concrete(tau) and float(tau) == 0.0


class GatedNet(System):
    """One realisation of :class:`GatedRNN`. ``z_state``/``r_state``: whether z, r are state variables."""

    ensemble: GatedRNN
    Jh: jax.Array
    Jz: jax.Array
    Jr: jax.Array
    b: jax.Array
    z_state: bool = eqx.field(static=True, default=True)
    r_state: bool = eqx.field(static=True, default=True)

    is_flow = True

    @property
    def n(self) -> int:
        return self.Jh.shape[0]

    @property
    def n_state(self) -> int:
        return self.n * (1 + self.z_state + self.r_state)

    @property
    def n_input(self) -> int:
        return self.n

    def split_state(self, state):
        n = self.n
        out = {"h": state[..., :n]}
        i = n
        for name, present in (("z", self.z_state), ("r", self.r_state)):
            if present:
                out[name] = state[..., i : i + n]
                i += n
        return out

    def _parts(self, state, x):
        s = self.split_state(state)
        h = s["h"]
        ph = phi(h)
        z = s["z"] if self.z_state else self.Jz @ ph
        r = s["r"] if self.r_state else self.Jr @ ph
        e = self.ensemble
        sz, sr = gate(z, e.alpha_z, e.beta_z), gate(r, e.alpha_r, e.beta_r)
        drive = self.b if x is None else self.b + x
        a = -h + self.Jh @ (sr * ph) + drive
        return h, z, r, ph, sz, sr, a

    def site_values(self, state, x=None) -> dict[str, jax.Array]:
        """Per-unit values at ``state``: h, the gate pre-activations z, r and the bracket a of
        dh/dt = sigma_z(z) a (:func:`dynagate.sitelaw.empirical_stats`)."""
        h, z, r, _, _, _, a = self._parts(state, x)
        return {"h": h, "z": z, "r": r, "a": a}

    def rhs(self, state, x=None):
        h, z, r, ph, sz, sr, a = self._parts(state, x)
        e = self.ensemble
        out = [sz * a]
        if self.z_state:
            out.append((-z + self.Jz @ ph) / e.tau_z)
        if self.r_state:
            out.append((-r + self.Jr @ ph) / e.tau_r)
        return jnp.concatenate(out)

    def jac(self, state, x=None):
        """Analytic Jacobian (THEORY.md section 3), instantaneous gates by the chain rule through h."""
        h, z, r, ph, sz, sr, a = self._parts(state, x)
        e = self.ensemble
        n = self.n
        idx = jnp.arange(n)
        dph = dphi(h)
        dsz = dgate(z, e.alpha_z, e.beta_z)
        dsr = dgate(r, e.alpha_r, e.beta_r)
        Jh_r = self.Jh * (dsr * ph)[None, :]  # J^h D[sigma_r' phi]
        # d(sigma_z a)/dh through the explicit h-dependence
        hh = (sz[:, None] * self.Jh) * (sr * dph)[None, :]
        hh = hh.at[idx, idx].add(-sz)
        if not self.r_state:
            hh = hh + sz[:, None] * (Jh_r @ (self.Jr * dph[None, :]))
        if not self.z_state:
            hh = hh + (dsz * a)[:, None] * (self.Jz * dph[None, :])
        # Assemble in place: off-diagonal gate blocks are diagonal matrices (written as diagonals),
        # and the z-r blocks are zero, so no dense identity or zero blocks are materialised.
        J = jnp.zeros((self.n_state, self.n_state), hh.dtype).at[:n, :n].set(hh)
        col = n
        if self.z_state:
            J = J.at[idx, col + idx].set(dsz * a)
            J = J.at[col : col + n, :n].set(self.Jz * (dph / e.tau_z)[None, :])
            J = J.at[col + idx, col + idx].set(-1.0 / e.tau_z)
            col += n
        if self.r_state:
            J = J.at[:n, col : col + n].set(sz[:, None] * Jh_r)
            J = J.at[col : col + n, :n].set(self.Jr * (dph / e.tau_r)[None, :])
            J = J.at[col + idx, col + idx].set(-1.0 / e.tau_r)
        return J
