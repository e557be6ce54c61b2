"""What a Lyapunov computation returns: :class:`LyapunovResult` (exponents, errors, status and the numbers
derived from them), the Kaplan-Yorke dimension, rate units, and the conversion of a run's sums into a
result with its status."""

from __future__ import annotations

import dataclasses
import warnings

import jax
import numpy as np

from ..errors import NonFiniteError
from ..models.base import Flow, System, rate_units
from ..results import Status, as_status, jsonable

#: A re-orthonormalisation whose max|R_jj| / min|R_jj| exceeds this is reported as ill-conditioned.
COND_LIMIT = 1e12


@dataclasses.dataclass(frozen=True)
class LyapunovResult:
    """Lyapunov exponents with their errors and the numbers derived from them.

    Attributes:
        exponents: the k exponents, largest first.
        stderr: standard error of each (batch means over ``n_blocks`` blocks).
        blocks: the per-block estimates, shape (n_blocks, k).
        units: "per unit time (τ_h = 1)" or "per step".
        t_obs: the observation time actually used (time units or steps); ``dt`` for flows.
        n_state: the dimension of the state space.
        status: a :class:`~dynagate.results.Status`: CONVERGED, TOO_SHORT (some stderr above
            ``accuracy``) or ILL_CONDITIONED.
        message: why the status is not CONVERGED ("" otherwise).
        max_cond: the largest max|R_jj|/min|R_jj| seen at a re-orthonormalisation.
        logdet_mean: mean log|det M| per unit time/step along the orbit (full spectra only), the exact
            sum-rule reference; ``trace_mean``: mean tr J along the orbit (flows, when the dense tangent
            is used, i.e. 4k >= n; ``None`` otherwise).
        t_burn, t_frame, t_ortho: the state burn-in, frame burn-in and re-orthonormalisation interval
            actually used (rounded to whole steps and intervals; time units or steps).
    """

    exponents: np.ndarray
    stderr: np.ndarray
    blocks: np.ndarray
    units: str
    t_obs: float
    dt: float | None
    n_state: int
    status: Status
    message: str
    max_cond: float
    logdet_mean: float | None = None
    trace_mean: float | None = None
    t_burn: float | None = None
    t_frame: float | None = None
    t_ortho: float | None = None

    @property
    def k(self) -> int:
        return self.exponents.size

    @property
    def lambda_max(self) -> float:
        return float(self.exponents[0])

    @property
    def kaplan_yorke(self) -> float | None:
        """Kaplan-Yorke dimension j + sum_{i<=j} lambda_i / |lambda_{j+1}|; ``None`` if k is too small
        to decide (the partial sums are still positive at the k-th exponent)."""
        return kaplan_yorke(self.exponents, self.n_state)

    @property
    def ks_entropy(self) -> float:
        """Sum of the positive exponents (Pesin's identity; a lower bound if k < n and lambda_k > 0)."""
        return float(np.sum(np.clip(self.exponents, 0.0, None)))

    @property
    def sum_rule_residual(self) -> float | None:
        """|sum(lambda) - <log|det M|>| / max(1, |<log|det M|>|) for a full spectrum, else ``None``."""
        if self.logdet_mean is None:
            return None
        return abs(float(np.sum(self.exponents)) - self.logdet_mean) / max(1.0, abs(self.logdet_mean))

    def __post_init__(self):
        object.__setattr__(self, "status", as_status(self.status))

    def summary(self) -> dict:
        """The main numbers as plain Python values (strict JSON: NaN and inf as null)."""
        return jsonable(
            {
                "exponents": self.exponents.tolist(),
                "stderr": self.stderr.tolist(),
                "lambda_max": self.lambda_max,
                "kaplan_yorke": self.kaplan_yorke,
                "ks_entropy": self.ks_entropy,
                "sum_rule_residual": self.sum_rule_residual,
                "units": self.units,
                "t_obs": self.t_obs,
                "t_burn": self.t_burn,
                "t_frame": self.t_frame,
                "t_ortho": self.t_ortho,
                "status": self.status,
                "message": self.message,
            }
        )


def kaplan_yorke(exponents, n_state: int | None = None) -> float | None:
    """Kaplan-Yorke dimension of sorted (descending) exponents; ``None`` if undecidable from them."""
    lam = np.sort(np.asarray(exponents, dtype=float))[::-1]
    cs = np.cumsum(lam)
    if lam[0] < 0:
        return 0.0
    j = int(np.flatnonzero(cs >= 0)[-1])  # 0-based index of the last non-negative partial sum
    if j + 1 >= lam.size:
        return float(lam.size) if n_state is not None and lam.size == n_state else None
    return j + 1 + cs[j] / abs(lam[j + 1])


def units_of(system: System) -> str:
    """Rate units of ``system``; a user ``Flow`` has its own time unit (no tau_h)."""
    return "per unit time" if isinstance(system, Flow) else rate_units(system.is_flow)


def _result(system, out, p, accuracy, full, full_frame=False) -> LyapunovResult:
    bad = int(out["bad"])
    if bad >= 0:
        where = f"t = {bad * p['dt']:g}" if system.is_flow else f"step {bad}"
        raise NonFiniteError(f"the state became non-finite at {where}; the orbit diverged")
    block_len = p["per_block"] * p["ortho"] * p["dt"]
    blocks = np.asarray(out["sums"]) / block_len  # (n_blocks, k) per-block exponents
    order = np.argsort(-blocks.mean(0), kind="stable")
    blocks = blocks[:, order]
    lam = blocks.mean(0)
    stderr = blocks.std(0, ddof=1) / np.sqrt(blocks.shape[0])
    cond = float(out["cond"])
    status, message = Status.CONVERGED, ""
    if cond > COND_LIMIT:
        status = Status.ILL_CONDITIONED
        message = f"max|R_jj|/min|R_jj| reached {cond:.2e} > {COND_LIMIT:.0e}: use a shorter t_ortho"
    elif np.max(stderr) > accuracy:
        status = Status.TOO_SHORT
        message = (f"largest standard error {np.max(stderr):.3g} exceeds the accuracy {accuracy:g}: "
                   "increase t_obs")  # fmt: skip
    T = p["t_obs"]
    return LyapunovResult(
        exponents=lam, stderr=stderr, blocks=blocks, units=units_of(system), t_obs=T,
        dt=p["dt"] if system.is_flow else None, n_state=p["n"], status=status, message=message,
        max_cond=cond, logdet_mean=float(out["logdet"]) / T if full else None,
        trace_mean=float(out["trace"]) / (T / p["dt"]) if system.is_flow and full_frame else None,
        t_burn=p["n_burn"] * p["dt"], t_frame=p["n_frame"] * p["ortho"] * p["dt"],
        t_ortho=p["ortho"] * p["dt"],
    )  # fmt: skip


def _warn_precision():
    if not jax.config.jax_enable_x64:
        warnings.warn(
            "float32 tangent frame: exponents are accurate to ~1e-3 at best and small or very negative "
            "exponents may be wrong; enable float64 (unset JAX_ENABLE_X64=0)",
            stacklevel=3,
        )
