"""dynagate: random-matrix and dynamical-mean-field analysis of gated recurrent networks."""

import os as _os

import jax as _jax

# float64 for analysis unless the user chose otherwise through JAX's own switch.
if "JAX_ENABLE_X64" not in _os.environ:
    _jax.config.update("jax_enable_x64", True)

from ._version import __version__
from .errors import InputError
from .fixedpoints import FixedPoints, count_fixed_points, find_fixed_points
from .jacobian import jacobian, jacobian_autodiff
from .lyapunov import lyapunov_ensemble, lyapunov_max_direct, lyapunov_spectrum
from .models import (
    GRU,
    LSTM,
    MODELS,
    ChronoInit,
    Flow,
    GatedRNN,
    Map,
    UniformGateInit,
    VanillaRNN,
    from_torch,
    sample,
)
from .simulate import simulate
from .spectra import relaxed_state, spectrum

__all__ = [
    "GRU",
    "LSTM",
    "MODELS",
    "ChronoInit",
    "FixedPoints",
    "Flow",
    "GatedRNN",
    "InputError",
    "Map",
    "UniformGateInit",
    "VanillaRNN",
    "__version__",
    "count_fixed_points",
    "find_fixed_points",
    "from_torch",
    "jacobian",
    "jacobian_autodiff",
    "lyapunov_ensemble",
    "lyapunov_max_direct",
    "lyapunov_spectrum",
    "relaxed_state",
    "sample",
    "simulate",
    "spectrum",
]
