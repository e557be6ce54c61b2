"""Mean-field theory of random (gated) RNNs at N -> infinity: the static fixed-point equations
(:mod:`dynagate.meanfield.static`)."""

from .static import MAX_BRANCHES, Static, static, static_map

__all__ = ["MAX_BRANCHES", "Static", "static", "static_map"]
