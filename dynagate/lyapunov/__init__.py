"""Lyapunov spectra by the QR (Benettin) method, and the two-trajectory estimate of lambda_1.

Algorithm (THEORY.md section 7; Benettin et al. 1980, Shimada & Nagashima 1979):

1. *State burn-in*: the state is integrated for ``t_burn`` so that it lies on the attractor.
2. *Frame burn-in*: a random orthonormal frame Q (n x k, float64) is carried along for ``t_frame`` with
   the same re-orthonormalisations as below, and its logs are discarded. In large networks the top
   exponents are densely spaced, so a random frame needs a long burn-in to align; skipping it biases
   lambda_1 low by ~ log(sqrt(N)) / T.
3. *Observation*: for ``t_obs`` the frame is advanced by the **exact tangent of the integrator in use**
   (for a map, the Jacobian of the step; for an RK4 flow, the derivative of the RK4 step, i.e. the RK4
   stages of the variational equation with the Jacobian at each stage point), and re-orthonormalised
   (Q R = Q_new R) every ``t_ortho``. The exponents are sum log|R_jj| / T.

The observation is split into ``n_blocks`` equal blocks; each block's exponent estimate is kept, and the
standard error of the mean is their standard deviation / sqrt(n_blocks) (batch means). Conditioning guard:
max|R_jj| / min|R_jj| at each re-orthonormalisation bounds cond(Q) from below; if it exceeds
``COND_LIMIT`` the smallest exponents lose accuracy and the result says so (status ``ill_conditioned``:
use a shorter ``t_ortho``).

Sum rules (checked by the result): for a full spectrum (k = n) sum(lambda) equals the mean of
log|det M| of the step's tangent M along the orbit (an identity of the QR method, so it holds to
round-off); for flows, this tends to the mean trace of the Jacobian as dt -> 0, with an O(dt^4) gap for
RK4 (per step, log det of the RK4 tangent minus dt tr J is ~ -sum (dt mu)^5 / 120, mu the Jacobian's
eigenvalues).

:func:`lyapunov_max` is the same method for lambda_1 alone (one tangent vector, normalised instead of QR)
as a pure kernel that runs under ``jit`` and ``vmap``, for sweeps over many networks and initial states
(:mod:`dynagate.phase`).

Units: per unit time (flows, tau_h = 1) or per step (maps), natural logarithms.
"""

from .direct import lyapunov_max_direct
from .ensemble import EnsembleLyapunov, lyapunov_ensemble
from .qr import LyapunovMaxRun, lyapunov_max, lyapunov_spectrum, tangent_step
from .result import COND_LIMIT, LyapunovResult, kaplan_yorke, units_of

__all__ = [
    "COND_LIMIT",
    "EnsembleLyapunov",
    "LyapunovMaxRun",
    "LyapunovResult",
    "kaplan_yorke",
    "lyapunov_ensemble",
    "lyapunov_max",
    "lyapunov_max_direct",
    "lyapunov_spectrum",
    "tangent_step",
    "units_of",
]
