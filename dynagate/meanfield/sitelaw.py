"""The single-site laws of the mean-field theory, for the random-matrix theory of the Jacobian
(:class:`~dynagate.sitelaw.SiteLaw`, consumed by :func:`dynagate.rmt.structure`).

**Static mean field** (:func:`meanfield_stats`, :func:`branch_stats`): at the fixed point h, r, z are
independent Gaussians (THEORY.md 5), so the spectrum follows from the ensemble alone. With alpha_z > 0,
sigma_z has mass near 0 and the eigenvalues -sigma_z of the nearly decoupled units reach 0 as N grows: the
rightmost point of a stable fixed point tends to 0 (marginal stability); with a quadrature rule it stops at
the extreme node.

**Chaotic state** (:func:`dmft_stats`): the DMFT's equal-time single-site law, Gaussian or sampled paths.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..models.gated import GatedRNN, _is_zero
from ..sitelaw import SiteLaw, gaussian_stats
from .static import static


@functools.singledispatch
def _gates(ensemble, sol, b: int) -> tuple[dict, dict]:
    """The gate variables of branch ``b`` of a static solution: their variances and the gates' slopes for
    the quadrature (none for a model without gates; a gated model registers its own)."""
    return {}, {}


@_gates.register
def _(ensemble: GatedRNN, sol, b: int) -> tuple[dict, dict]:
    var = {"r": sol.delta_r[b]} | ({} if _is_zero(ensemble.alpha_z) else {"z": sol.delta_z[b]})
    return var, {"r": abs(float(ensemble.alpha_r)), "z": abs(float(ensemble.alpha_z))}


def meanfield_stats(ensemble, *, n_nodes: int = 20) -> SiteLaw:
    """Statistics of the static mean-field fixed point (:func:`~dynagate.meanfield.static`): h, r, z
    independent Gaussians, a = 0, on the stable branch of largest variance (the z variable is dropped when
    alpha_z = 0, where it does not enter the Jacobian)."""
    sol = static(ensemble)
    ok = np.asarray(sol.valid & sol.stable)
    if not ok.any():
        raise InputError(f"no stable static mean-field solution for {ensemble!r}")
    return branch_stats(ensemble, sol, int(np.flatnonzero(ok)[-1]), n_nodes=n_nodes)


def branch_stats(ensemble, sol, branch: int, *, n_nodes: int = 20) -> SiteLaw:
    """Statistics of branch ``branch`` of a static solution ``sol`` (:func:`~dynagate.meanfield.static`)."""
    gates, sharpness = _gates(ensemble, sol, branch)
    return gaussian_stats({"h": sol.delta_h[branch]} | gates, n_nodes, means={"h": sol.mean_h[branch]},
                          sharpness=sharpness)  # fmt: skip


def dmft_stats(result, *, n_nodes: int = 20) -> SiteLaw:
    """Statistics of the DMFT chaotic state (:func:`~dynagate.meanfield.dmft`): its equal-time single-site
    law, Gaussian (h, r, z independent; a = 0 where alpha_z = 0 makes it irrelevant) or sampled paths.
    The result records the gate slopes for the quadrature (:func:`~dynagate.sitelaw.gaussian_stats`)."""
    st = result.statistics
    if "samples" in st:
        vals = {k: jnp.asarray(v) for k, v in st["samples"].items()}
        m = next(iter(vals.values())).shape[0]
        return SiteLaw(weights=jnp.full(m, 1.0 / m), values=vals)
    if not st:
        raise InputError(f"this DMFT result ({result.method}, {result.status}) carries no statistics")
    return gaussian_stats(st["variances"], n_nodes, means=st["means"], sharpness=st.get("sharpness"))
