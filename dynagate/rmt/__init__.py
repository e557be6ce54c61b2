r"""Random-matrix theory of Jacobian spectra: support boundary, rightmost point, radius, density.

**Structure.** Every dynagate Jacobian, at a state whose single-site statistics are given, has the form

.. math::  (\lambda B - A)\,v = \sum_k L_k\, G_k\, R_k^{\mathsf T} v

over d variables per unit (gated RNN: d = 3 for (h, z, r); LSTM: d = 2 for (h, c); GRU with reset before:
d = 2 for h and an algebraic W_r h; vanilla, GRU: d = 1):
A_i (d x d, per unit i) and the constant diagonal B collect the parts without random weights, each
weight matrix G_k (iid N(0, g_k^2 / N)) enters with a per-unit left vector L_ki (which equations) and
right vector R_ki (which variables). The left and right vectors, and A_i, are functions of the unit's
state (gate values, phi, phi', ...), so a distribution of single-site states (a
:class:`~dynagate.sitelaw.SiteLaw`) fixes the ensemble. (For instantaneous gates, tau = 0 enters
through B, so products such as J^h D J^r are handled without approximation.)

**Support (derived here; checked in tests/test_rmt.py).** Eliminating v: with y_k = G_k R_k^T v,
y_k = G_k sum_m D[c_km] y_m, c_km,i = R_ki^T (lambda B - A_i)^{-1} L_mi. The block matrix on the right
has independent entries with a variance profile, so its spectrum fills the disk of radius
sqrt(rho(T)), rho the Perron root of

.. math::  T_{km}(\lambda) = g_k^2 \,\langle |c_{km}|^2 \rangle   (Cook, Hachem, Najim & Renfrew 2018).

lambda is inside the support iff F(lambda) := rho(T(lambda)) >= 1. For a single weight matrix this is
THEORY.md's F(lambda), with one correction: averages of a left and a right factor of the same unit
are *joint* (A G B is similar to G (B A)); THEORY.md's product of separate averages is right only when
the two factors are independent, as at the static mean-field fixed point. All |c_km|^2 are products of
1 / |lambda - real|^2, so F decreases with |Im lambda|: the support meets each vertical line in a
symmetric interval and its rightmost point lies on the real axis.

**Density and slow modes.** When every weight acts on the first variable with one column profile
(vanilla, GRU with reset after, LSTM, gated with alpha_r = 0), the log-potential
Phi(lambda) = (1/N) log|det(lambda B - A - sum L G R^T)| has a closed variational form (see
:func:`log_potential`; Girko's hermitization of a matrix with a variance profile, Feinberg & Zee 1997,
Ahmadian, Fumarola & Miller 2015). The density is Laplacian(Phi) / 2 pi and the mass in a disk the flux of
grad Phi through its circle; the slow-mode fraction is the mass within eps of 0 (flows) or 1 (maps).

**Layout.** The single-site law and its model-side producers are :mod:`dynagate.sitelaw` (re-exported
here), the laws of the mean-field theory are in :mod:`dynagate.meanfield`; this package holds the blocks
(``_structure``: :class:`Structure`, :func:`structure`), the support (``_support``: :func:`F`,
:func:`support`, :func:`rightmost`) and the density (``_density``: :func:`density`, :func:`mass_in_disk`,
:func:`slow_fraction`, :func:`density_grid`); import everything from ``dynagate.rmt``.

**Checks** (tests/test_rmt.py): the zero state gives THEORY.md's disk to 1e-9 for every gated parameter
set tried and loses stability at g_h = 1 + e^{beta_r}; the density of the vanilla zero state is the
uniform disk to 1e-6; the radial distribution at an input-driven vanilla fixed point is Haagerup-Larsen's
closed form to 1e-3; rightmost points, supports, radial distributions and slow-mode fractions agree with
sampled eigenvalues of gated (fixed point and chaos, alpha_z up to 10, alpha_r up to 5), GRU (reset after
and before, refine gate, UGI) and LSTM (constant, UGI, chrono forget bias; refine gate; UR-LSTM)
networks at N = 500-2000.
"""

from ..sitelaw import SiteLaw, empirical_stats, gaussian_stats, zero_state_stats
from ._density import (
    check_density,
    density,
    density_grid,
    has_density,
    log_potential,
    mass_in_disk,
    slow_fraction,
)
from ._structure import Structure, linearisation, structure
from ._support import F, Support, perron_root, rightmost, support, transfer_matrix

#: The former name of :class:`~dynagate.sitelaw.SiteLaw`.
Stats = SiteLaw

__all__ = [
    "F", "SiteLaw", "Stats", "Structure", "Support", "check_density", "density", "density_grid",
    "empirical_stats", "gaussian_stats", "has_density", "linearisation", "log_potential", "mass_in_disk",
    "perron_root",
    "rightmost", "slow_fraction", "structure", "support", "transfer_matrix", "zero_state_stats",
]  # fmt: skip

#: Single-site laws of the mean-field theory, formerly here: they live with the theory that makes them.
_MOVED_TO_MEANFIELD = ("meanfield_stats", "branch_stats", "dmft_stats")


def __getattr__(name: str):
    if name in _MOVED_TO_MEANFIELD:
        raise AttributeError(
            f"dynagate.rmt.{name} has moved to dynagate.meanfield.{name} "
            f"(from dynagate import meanfield; meanfield.{name}(...))"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
