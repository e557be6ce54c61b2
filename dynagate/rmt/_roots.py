"""Bracketed scalar root finders and an outward search for a sign change, under ``jit``."""

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


def _illinois(f, lo, hi, iters=14):
    """Root of a function >= 0 at lo and < 0 at hi by the Illinois false-position method: bracketed like
    bisection, superlinear for a smooth monotone f (here 14 steps reach ~1e-12 of the bracket where 44
    bisections would be needed)."""

    def body(_, c):
        lo, hi, flo, fhi, side = c
        x = (lo * fhi - hi * flo) / (fhi - flo)
        x = jnp.where((x > lo) & (x < hi), x, 0.5 * (lo + hi))
        fx = f(x)
        up = fx >= 0
        # halve the retained end's value when the same end is kept twice (Illinois)
        flo2 = jnp.where(up, fx, jnp.where(side < 0, 0.5 * flo, flo))
        fhi2 = jnp.where(up, jnp.where(side > 0, 0.5 * fhi, fhi), fx)
        return jnp.where(up, x, lo), jnp.where(up, hi, x), flo2, fhi2, jnp.where(up, 1, -1)

    lo, hi, flo, fhi, _ = jax.lax.fori_loop(0, iters, body, (lo, hi, f(lo), f(hi), 0))
    return jnp.where(fhi - flo != 0, (lo * fhi - hi * flo) / (fhi - flo), 0.5 * (lo + hi))


def _reach(f, start, direction, scale):
    """A point beyond ``start`` in ``direction`` where f < 0 (f decreasing away from start)."""

    def cond(c):
        d, k = c
        return (f(start + direction * d) >= 0) & (k < 64)

    d, _ = jax.lax.while_loop(cond, lambda c: (2 * c[0], c[1] + 1), (scale, 0))
    return start + direction * d
