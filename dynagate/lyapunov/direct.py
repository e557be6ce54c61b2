"""lambda_1 from two nearby trajectories, without a Jacobian: an independent check of the QR method."""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp

from ..errors import check_param
from ..models.base import System
from ..models.init import normal
from ..simulate import RK4, Euler, step_function
from .qr import _bad, _burn, _input_at, _prepare
from .result import LyapunovResult, _result

# ------------------------------------------------------------------------------- two trajectories


def lyapunov_max_direct(
    system: System,
    *,
    key,
    state0=None,
    dt: float | None = None,
    t_burn: float | None = None,
    t_frame: float | None = None,
    t_obs: float | None = None,
    t_ortho: float | None = None,
    n_blocks: int = 20,
    d0: float = 1e-8,
    x=None,
    xs=None,
    solver: RK4 | Euler | None = None,
    accuracy: float | None = None,
) -> LyapunovResult:
    """lambda_1 from two nearby trajectories (no Jacobian): an independent check of the QR method.

    A copy displaced by ``d0`` (relative to sqrt(n)) is integrated alongside the reference; every
    ``t_ortho`` the separation d is measured, log(d / d0) accumulated and the copy pulled back to distance
    d0 along the separation. ``t_frame`` is the alignment burn-in of the separation direction. Same time
    arguments and defaults as :func:`lyapunov_spectrum`; the result has k = 1.
    """
    p = _prepare(system, key, state0, dt, t_burn, t_frame, t_obs, t_ortho, n_blocks, x, xs, solver)
    check_param("lyapunov_max_direct", "d0", d0, positive=True)
    if accuracy is None:
        accuracy = 0.01 if system.is_flow else 0.005
    v = normal(p["k_frame"], (p["n"],))
    eps = d0 * math.sqrt(p["n"])
    out = _direct_run(
        system, p["s0"], v / jnp.linalg.norm(v), eps, p["x"], p["xs"], p["dt"], p["solver"],
        n_burn=p["n_burn"], n_frame=p["n_frame"], n_blocks=p["n_blocks"], per_block=p["per_block"],
        ortho=p["ortho"],
    )  # fmt: skip
    return _result(system, out, p, accuracy, False)


@partial(jax.jit, static_argnames=("n_burn", "n_frame", "n_blocks", "per_block", "ortho"))
def _direct_run(system, s0, v, eps, x, xs, dt, solver, *, n_burn, n_frame, n_blocks, per_block, ortho):
    advance = step_function(system, solver, dt)

    s, t, bad = _burn(advance, s0, x, xs, n_burn)

    def interval(c, _):
        s, u, t, bad = c

        def one(c2, _):
            s, u, t, bad = c2
            xt = _input_at(x, xs, t)
            s, u = advance(s, xt), advance(u, xt)
            return (s, u, t + 1, _bad(s, t + 1, bad)), None

        (s, u, t, bad), _ = jax.lax.scan(one, (s, u, t, bad), length=ortho)
        d = jnp.linalg.norm(u - s)
        return (s, s + (eps / d) * (u - s), t, bad), jnp.log(d / eps)

    (s, u, t, bad), _ = jax.lax.scan(interval, (s, s + eps * v, t, bad), length=n_frame)

    def block(c, _):
        c, logs = jax.lax.scan(interval, c, length=per_block)
        return c, logs.sum()[None]

    (s, u, t, bad), sums = jax.lax.scan(block, (s, u, t, bad), length=n_blocks)
    return {"sums": sums, "cond": jnp.ones(()), "trace": jnp.zeros(()), "logdet": jnp.zeros(()), "bad": bad}
