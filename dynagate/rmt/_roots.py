"""Root finders under ``jit``: bisection, and a batched outward search then Illinois steps along rays."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _bisect(f, lo, hi, iters=44):
    """Root of a function that is >= 0 at lo and < 0 at hi (monotone between)."""

    def body(_, c):
        lo, hi = c
        mid = 0.5 * (lo + hi)
        up = f(mid) >= 0
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iters, body, (lo, hi))
    return 0.5 * (lo + hi)


def _ray_roots(f, scale, iters: int = 60, reach: int = 64, offset=0.0):
    """Roots along a batch of rays, with one evaluation of ``f`` per step for the whole batch (so that a
    compiled caller holds one copy of f, not one per search stage): f maps distances t (k,) >= 0 to values
    (k,), each >= 0 at t = 0 when its ray starts inside and decreasing through one root beyond. Each ray
    doubles t from ``scale`` until f < 0 (at most ``reach`` times), then narrows the bracket by the
    Illinois false-position method until it is a few units of round-off wide at ``|offset| + t`` (the
    ray's start, for the stopping rule) or ``iters`` steps have passed. Returns (f(0) >= 0, root), the
    root 0 where f(0) < 0."""
    scale = jnp.asarray(scale)
    tol = 4 * jnp.finfo(scale.dtype).eps
    zero = jnp.zeros_like(scale)
    offset = jnp.abs(zero + offset)

    def point(c):  # where each ray evaluates next: 0, the reach distance, or the false-position point
        phase, lo, hi, flo, fhi, _ = c
        x = (lo * fhi - hi * flo) / jnp.where(fhi != flo, fhi - flo, 1.0)
        x = jnp.where((x > lo) & (x < hi), x, 0.5 * (lo + hi))
        return jnp.where(phase == 0, 0.0, jnp.where(phase == 1, hi, x))

    def body(c):
        phase, lo, hi, flo, fhi, side = c[0]
        t = point(c[0])
        ft = f(t)
        up = ft >= 0
        start, grow, solve = phase == 0, phase == 1, phase == 2
        # phase 0 -> 1 (inside) or 3 (outside); 1: double until f < 0, then 2; 2: Illinois until narrow
        lo2 = jnp.where((grow | solve) & up, t, lo)
        hi2 = jnp.where(grow & up, 2 * hi, jnp.where(solve & ~up, t, hi))
        flo2 = jnp.where(start | ((grow | solve) & up), ft, jnp.where(solve & (side < 0), 0.5 * flo, flo))
        fhi2 = jnp.where((grow | solve) & ~up, ft, jnp.where(solve & up & (side > 0), 0.5 * fhi, fhi))
        side2 = jnp.where(solve, jnp.where(up, 1, -1), 0).astype(side.dtype)
        narrow = hi2 - lo2 <= tol * (offset + hi2)
        phase2 = jnp.where(start, jnp.where(up, 1, 3), jnp.where(grow & ~up, 2, phase))
        phase2 = jnp.where((phase2 == 2) & narrow, 3, phase2)
        steps = c[1] + 1
        phase2 = jnp.where(grow & (steps > reach), 3, phase2).astype(phase.dtype)
        return (phase2, lo2, hi2, flo2, fhi2, side2), steps

    def cond(c):
        return jnp.any(c[0][0] < 3) & (c[1] < 1 + reach + iters)

    ones = jnp.ones(scale.shape, jnp.int32)
    init = ((0 * ones, zero, scale, zero, zero, 0 * ones), 0)
    (phase, lo, hi, flo, fhi, side), _ = jax.lax.while_loop(cond, body, init)
    inside = flo >= 0  # f(0), or a later value of the same sign (Illinois halves it)
    root = point((2 * ones, lo, hi, flo, fhi, side))
    return inside, jnp.where(inside, root, 0.0)
