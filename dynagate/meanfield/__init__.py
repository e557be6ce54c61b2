"""Mean-field theory of random (gated) RNNs at N -> infinity: the static fixed-point equations
(:mod:`dynagate.meanfield.static`) and the dynamical mean field of the chaotic state
(:mod:`dynagate.meanfield.dmft`: so far the SCS potential method with its lambda_max), and the sympy Landau
expansion of the static equations with the tricritical line (:mod:`dynagate.meanfield.landau`)."""

from .dmft import DMFTResult, dmft
from .static import MAX_BRANCHES, Static, static, static_map

__all__ = ["MAX_BRANCHES", "DMFTResult", "Static", "dmft", "static", "static_map"]
