"""The system protocol every analysis works on, and wrappers for user-defined systems.

A *system* is a frozen pytree (an ``equinox.Module``) with

- ``is_flow`` (class attribute): ``True`` for ``ds/dt = rhs(s, x)``, ``False`` for ``s' = rhs(s, x)``;
- ``n_state``: the length of the flat state vector (``None`` when only a state fixes it);
- ``n_input``: the length of the input vector ``x`` (0: no input);
- ``rhs(state, x)``: the vector field (flows) or the next state (maps);
- ``jac(state, x)``: the state-to-state Jacobian ``d rhs / d state``, analytic where the model has one;
- ``site_values(state, x)``: the named per-unit values the random-matrix theory reads (networks only).

``Map(f)`` and ``Flow(f)`` wrap any JAX function; their Jacobian comes from forward-mode autodiff unless
an explicit ``jac`` is given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, check_key, check_param, check_size, is_concrete


def rate_units(is_flow: bool) -> str:
    """Units of rates (eigenvalues, Lyapunov exponents): per unit time (flows, τ_h = 1) or per step."""
    return "per unit time (τ_h = 1)" if is_flow else "per step"


class System(eqx.Module):
    """Abstract base of every dynagate system (networks and user maps/flows)."""

    @property
    def is_flow(self) -> bool:
        raise NotImplementedError

    @property
    def n_state(self) -> int | None:
        return None

    @property
    def n_input(self) -> int | None:
        """Length of the input vector (``None``: not fixed, as for user maps and flows)."""
        return None

    def rhs(self, state, x=None):
        raise NotImplementedError

    def jac(self, state, x=None):
        return jax.jacfwd(lambda s: self.rhs(s, x))(state)

    def zero_state(self) -> jax.Array:
        if self.n_state is None:
            raise TypeError(f"{type(self).__name__} has no intrinsic state size")
        return jnp.zeros(self.n_state)

    def split_state(self, state) -> dict[str, jax.Array]:
        """Named blocks of a flat state, or of a batch/trajectory of states along the last axis."""
        return {"x": state}

    def site_values(self, state, x=None) -> dict[str, jax.Array]:
        """Named per-unit values at ``state`` (each of shape (N,)): what the single-site law of the
        random-matrix theory reads (:func:`dynagate.sitelaw.empirical_stats`). Networks define it."""
        raise NotImplementedError(f"no single-site values for {type(self).__name__}")


def _call(f, state, x):
    return f(state) if x is None else f(state, x)


class _UserSystem(System):
    f: Callable = eqx.field(static=True)
    jac_fn: Callable | None = eqx.field(static=True, default=None)

    def rhs(self, state, x=None):
        return _call(self.f, state, x)

    def jac(self, state, x=None):
        if self.jac_fn is not None:
            return _call(self.jac_fn, state, x)
        return jax.jacfwd(lambda s: _call(self.f, s, x))(state)


class Map(_UserSystem):
    """A user map ``s_{t+1} = f(s_t)`` (or ``f(s_t, x_t)`` when inputs are given).

    ``jac_fn`` (same signature as ``f``) supplies an analytic Jacobian; otherwise ``jax.jacfwd`` is used.
    """

    is_flow = False


class Flow(_UserSystem):
    """A user flow ``ds/dt = f(s)`` (or ``f(s, x)`` when inputs are given); see :class:`Map`."""

    is_flow = True


#: The largest magnitude of any hyperparameter. Gains, gate slopes and biases act through tanh and the
#: sigmoid, which are saturated to within double precision beyond |argument| ~ 40, so larger values add
#: nothing a network could show, while the squares and products the analyses form overflow (g^2 in the
#: mean-field variance, |F|^2 and its gradient ~ (g^2 N)^2 in the fixed-point search: float32 overflows
#: past 3e38, float64 past 1.8e308, so g = 1e308 lost even the zero fixed point of the vanilla network).
MAX_PARAM = 1e6


class Ensemble(eqx.Module):
    """Abstract base of the hyperparameter objects (the N -> infinity description of a model).

    Float fields are pytree leaves (so a phase diagram is a ``vmap`` over them); sizes and choices of
    equation are static. Subclasses list their non-negative and strictly positive fields in
    ``_nonneg`` / ``_positive``; every float field must be a finite number with |value| <= ``MAX_PARAM``.
    """

    _nonneg: ClassVar[tuple[str, ...]] = ()
    _positive: ClassVar[tuple[str, ...]] = ()

    def __check_init__(self):
        name = type(self).__name__
        optional = {f.name for f in dataclasses.fields(self) if f.type == "float | None"}
        for f in self.param_names():
            v = getattr(self, f)
            if (v is None and f not in optional) or isinstance(v, (str, bytes, bool)):
                raise InputError(f"{name}: parameter {f} must be a number, got {v!r}")
            check_param(name, f, v, positive=f in self._positive, nonneg=f in self._nonneg)
            if v is not None and is_concrete(v) and np.any(np.abs(np.asarray(v, float)) > MAX_PARAM):
                raise InputError(f"{name}: parameter {f}={v!r} is out of range: hyperparameters are "
                                 f"limited to |value| <= {MAX_PARAM:.0f}")  # fmt: skip

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """Names of the scalar hyperparameters (the pytree leaves that ``--set`` and sweeps address)."""
        return tuple(
            f.name
            for f in dataclasses.fields(cls)
            if not f.metadata.get("static", False) and f.type in ("float", "float | None")
        )

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Names of the static options (sizes, equation variants, initialisers)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in cls.param_names())

    def params(self) -> dict:
        """All fields as plain Python values (for provenance records)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = _plain(v)
        return out

    def replace(self, **changes) -> Ensemble:
        """A copy with some fields changed; unknown names raise :class:`InputError`."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise InputError(
                f"unknown parameter {unknown[0]!r} for {type(self).__name__}; "
                f"known: {', '.join(sorted(known))}"
            )
        return dataclasses.replace(self, **changes)

    def sample(self, n: int, *, key):
        raise NotImplementedError


def _plain(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, eqx.Module):
        return {
            "type": type(v).__name__,
            **{f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)},
        }
    try:
        return float(v)
    except (TypeError, ValueError):
        return repr(v)


def sample(ensemble: Ensemble, n: int, *, key):
    """Draw one network of size ``n`` from ``ensemble`` (weights and biases) with PRNG ``key``."""
    if not isinstance(ensemble, Ensemble):
        raise InputError(f"sample() needs an ensemble such as GatedRNN(...), got {type(ensemble).__name__}")
    n = check_size(type(ensemble).__name__, "n", n)
    return ensemble.sample(n, key=check_key("sample", key))
