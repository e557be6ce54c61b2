"""dynagate: random-matrix and dynamical-mean-field analysis of gated recurrent networks."""

import importlib as _importlib
import os as _os
import sys as _sys
import types as _types

# float64 for analysis unless the user chose otherwise through JAX's own switch. JAX reads the variable
# when it is first imported (here JAX is imported only when a numerical name is first used, so that the
# command line's --help does not pay for it); if it is imported already, its config is set directly.
if "JAX_ENABLE_X64" not in _os.environ:
    if "jax" in _sys.modules:
        _sys.modules["jax"].config.update("jax_enable_x64", True)
    else:
        _os.environ["JAX_ENABLE_X64"] = "1"

from ._version import __version__

#: public name -> the submodule that defines it (imported on first use: PEP 562)
_LAZY = {
    "InputError": "errors",
    "FixedPoints": "fixedpoints",
    "count_fixed_points": "fixedpoints",
    "find_fixed_points": "fixedpoints",
    "jacobian": "jacobian",
    "jacobian_autodiff": "jacobian",
    "lyapunov_ensemble": "lyapunov",
    "lyapunov_max_direct": "lyapunov",
    "lyapunov_spectrum": "lyapunov",
    **dict.fromkeys(
        (
            "GRU",
            "LSTM",
            "MODELS",
            "ChronoInit",
            "Flow",
            "GatedRNN",
            "Map",
            "UniformGateInit",
            "VanillaRNN",
            "from_torch",
            "sample",
        ),
        "models",
    ),
    "simulate": "simulate",
    "relaxed_state": "spectra",
    "spectrum": "spectra",
}


#: submodules named after the function they export: the package attribute is the function (as when the
#: package imported it eagerly), not the module the import system would bind when the submodule loads
_SHADOWED = frozenset({"simulate", "jacobian"})


class _Package(_types.ModuleType):
    def __setattr__(self, name, value):
        if name in _SHADOWED and isinstance(value, _types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dynagate' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


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
