"""State-to-state Jacobians: the analytic form each model provides, and the autodiff reference.

For flows the Jacobian is that of the vector field (d f / d s); for maps, of the step (d s' / d s).
Both functions jit and vmap (``jax.vmap(jacobian, in_axes=(None, 0))`` over states, or over networks).
"""

from __future__ import annotations

import jax

from .errors import InputError, check_vector
from .models.base import System


def _checked(system, state, x):
    if not isinstance(system, System):
        raise InputError(f"expected a dynagate system (network, Map or Flow), got {type(system).__name__}")
    state = check_vector("state", state, system.n_state)
    if x is not None:
        x = check_vector("input x", x, system.n_input)
    return state, x


def jacobian(system: System, state, x=None) -> jax.Array:
    """The analytic Jacobian of ``system`` at ``state`` (and input ``x``), shape (n_state, n_state)."""
    state, x = _checked(system, state, x)
    return _jac(system, state, x)


@jax.jit
def _jac(system, state, x):
    return system.jac(state, x)


def jacobian_autodiff(system: System, state, x=None) -> jax.Array:
    """Reference Jacobian by forward-mode autodiff of ``system.rhs`` (``jax.jacfwd``)."""
    state, x = _checked(system, state, x)
    return jax.jacfwd(lambda s: system.rhs(s, x))(state)
