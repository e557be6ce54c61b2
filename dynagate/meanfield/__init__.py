"""Mean-field theory of random (gated) RNNs at N -> infinity: the static fixed-point equations
(:mod:`dynagate.meanfield.static`) and the dynamical mean field of the chaotic state
(:mod:`dynagate.meanfield.dmft` with the solvers SCS, Closed (:mod:`.closed`) and MonteCarlo
(:mod:`.montecarlo`) for flows, EulerMap (:mod:`.euler_map`) for the vanilla Euler map, and the sampled
gated-map DMFT (:mod:`.map_dmft`) of the GRU (:mod:`.gru_dmft`) and the LSTM (:mod:`.lstm_dmft`), each with
its two-replica lambda_max; a model's solver registers with :func:`.dmft.default_solver`), and the sympy
Landau expansion of the static equations with the tricritical line
(:mod:`dynagate.meanfield.landau`). The single-site laws of the static and chaotic states, for the
random-matrix theory of the Jacobian (:mod:`dynagate.rmt`), are :func:`meanfield_stats`,
:func:`branch_stats` and :func:`dmft_stats` (:mod:`dynagate.meanfield.sitelaw`)."""

from . import gru_dmft, lstm_dmft  # noqa: F401  (they register the GRU's and the LSTM's DMFT)
from .dmft import SCS, Closed, DMFTResult, MonteCarlo, dmft
from .euler_map import EulerMap
from .sitelaw import branch_stats, dmft_stats, meanfield_stats
from .static import MAX_BRANCHES, Static, static, static_map

__all__ = [
    "MAX_BRANCHES", "SCS", "Closed", "DMFTResult", "EulerMap", "MonteCarlo", "Static", "branch_stats", "dmft",
    "dmft_stats", "meanfield_stats", "static", "static_map",
]  # fmt: skip
