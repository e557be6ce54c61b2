"""Input validation shared by every layer.

All user-facing checks raise :class:`InputError` with a one-line message, so the CLI can report them
(exit code 2, no traceback) without hiding programming errors. Checks on *values* run only when the
values are concrete (outside ``jit``/``vmap``); shape checks always run.
"""

from __future__ import annotations

import math

import jax
import numpy as np


class DynagateError(Exception):
    """Base of the errors dynagate reports to users (the CLI prints them in one line, exit code 2)."""


class InputError(DynagateError, ValueError):
    """A bad argument from the user: an unknown name, an out-of-range or non-finite value, a bad shape."""


class NonFiniteError(DynagateError, ArithmeticError):
    """A computation produced a non-finite value (a diverging trajectory); the message says where."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a long computation, raised once what was finished has been kept: ``str(e)`` says what
    and where in one line, ``partial`` holds it for the caller (or ``None``). A ``KeyboardInterrupt``, so
    code that stops on Ctrl-C still stops."""

    def __init__(self, message: str, partial=None):
        super().__init__(message)
        self.partial = partial


def is_concrete(x) -> bool:
    """True when no leaf of ``x`` is a JAX tracer (so its values can be inspected)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def check_param(owner: str, name: str, value, *, positive: bool = False, nonneg: bool = False) -> None:
    """Validate one hyperparameter value (skipped under tracing)."""
    if value is None or not is_concrete(value):
        return
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{owner}: parameter {name}={_fmt(value)} is not finite")
    if positive and np.any(arr <= 0):
        raise InputError(f"{owner}: parameter {name}={_fmt(value)} must be > 0")
    if nonneg and np.any(arr < 0):
        raise InputError(f"{owner}: parameter {name}={_fmt(value)} must be >= 0")


def check_size(owner: str, name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InputError(f"{owner}: {name} must be an integer, got {n!r}")
    if n < 1:
        raise InputError(f"{owner}: {name} must be >= 1, got {n}")
    return int(n)


def check_vector(what: str, v, size: int | None, *, finite: bool = True):
    """Check that ``v`` is a 1-D array of length ``size`` (``None``: any), with finite entries."""
    v = jax.numpy.asarray(v)
    if v.ndim != 1:
        raise InputError(f"{what} must be a 1-D vector, got shape {tuple(v.shape)}")
    if size is not None and v.shape[0] != size:
        raise InputError(f"{what} has length {v.shape[0]}, expected {size}")
    if finite and is_concrete(v) and not bool(np.all(np.isfinite(np.asarray(v)))):
        bad = int(np.flatnonzero(~np.isfinite(np.asarray(v)))[0])
        raise InputError(f"{what} is not finite (first bad entry at index {bad})")
    return v


def _fmt(value) -> str:
    try:
        f = float(value)
        return "nan" if math.isnan(f) else repr(f)
    except (TypeError, ValueError):
        return repr(value)


def check_key(owner: str, key):
    """A PRNG key: ``jax.random.PRNGKey(n)`` (two uint32 words) or a typed ``jax.random.key(n)``, returned
    as raw key data. An integer or any other value is an InputError naming the spelling to use."""
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    # shape and dtype only (a key traced under jit or vmap has both, not its values)
    ok = isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32 and key.shape == (2,)
    if not ok:
        raise InputError(f"{owner}: key must be a PRNG key such as jax.random.PRNGKey(0), got {key!r}")
    return key
