"""Phase diagrams over two hyperparameters: theory layers and simulated maps in one ``xarray.Dataset``.

:func:`phase_diagram` (:mod:`.diagram`) evaluates, on every point of an (x, y) grid of two
hyperparameters of an ensemble, the theory layers (:mod:`.theory`: the static mean field and the RMT
stability of its fixed points, the theory lines, with ``dmft=True`` the DMFT chaotic solution along each
column) and, with a :class:`Simulation`, the simulated maps (:mod:`.simulation`: leading Lyapunov
exponent and survival of activity from small and large initial states, Jacobian spectra at the end).
Each point gets a region label from the theory and from the simulation (:mod:`.regions`, where every
rule is).
"""

from .diagram import check_axis, phase_diagram
from .regions import BISTABLE, CHAOTIC, MARGINAL, REGIONS, STABLE, UNSTABLE_FPS
from .simulation import SIM_FIELDS, Simulation, sim_spec, simulate_point
from .theory import THEORY_SPEC, dmft_column, has_theory, theory_lines, theory_point

__all__ = [
    "BISTABLE",
    "CHAOTIC",
    "MARGINAL",
    "REGIONS",
    "SIM_FIELDS",
    "STABLE",
    "THEORY_SPEC",
    "UNSTABLE_FPS",
    "Simulation",
    "check_axis",
    "dmft_column",
    "has_theory",
    "phase_diagram",
    "sim_spec",
    "simulate_point",
    "theory_lines",
    "theory_point",
]
