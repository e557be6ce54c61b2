"""One result vocabulary for every solver: a :class:`Status` with its meaning, standard errors as a dict
name -> value (or array) on the result's ``stderr``, and ``summary()`` on every result, the JSON-safe dict of
its main numbers (what the CLI's ``--json`` prints; :func:`jsonable` makes NaN and inf ``null``).

A status compares equal to its string value (``Status.CONVERGED == "converged"``), so stored datasets
and scripts that read the strings keep working. The Lyapunov status "ok" of earlier versions is
``Status.CONVERGED``; ``Status("ok")`` raises an error that says so.
"""

from __future__ import annotations

import enum
import math

import numpy as np


class Status(enum.StrEnum):
    """How a solver ended; ``meaning`` says it in words."""

    CONVERGED = "converged"
    NOT_CONVERGED = "not_converged"
    NO_CHAOS = "no_chaos"
    TOO_SHORT = "too_short"
    ILL_CONDITIONED = "ill_conditioned"
    INTERRUPTED = "interrupted"

    @property
    def meaning(self) -> str:
        return _MEANING[self]

    @classmethod
    def _missing_(cls, value):
        if value == "ok":
            raise ValueError("status 'ok' is now Status.CONVERGED ('converged')")
        return None


_MEANING = {
    Status.CONVERGED: "converged to the stated tolerance",
    Status.NOT_CONVERGED: "did not converge: the message says what to raise",
    Status.NO_CHAOS: "no chaotic solution: the state is a stable fixed point",
    Status.TOO_SHORT: "the run was too short for the requested accuracy: some standard errors exceed it",
    Status.ILL_CONDITIONED: "the tangent frame lost accuracy: the smallest exponents are unreliable",
    Status.INTERRUPTED: "stopped by Ctrl-C: the result holds the finished part of the work, and says which",
}


def as_status(value) -> Status:
    """``value`` (a Status or its string) as a Status."""
    return value if isinstance(value, Status) else Status(value)


def jsonable(x):
    """``x`` with arrays as lists, NaN / inf as None, enums as their values (strict JSON)."""
    if isinstance(x, enum.Enum):
        return x.value
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray) or (hasattr(x, "__array__") and not np.isscalar(x)):
        return jsonable(np.asarray(x).tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
