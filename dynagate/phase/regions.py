"""The regions of a phase diagram: every rule that labels a grid point, from the theory and from
simulation, in one place.

Codes (the CF ``flag_values`` / ``flag_meanings`` of the ``region_*`` variables, :func:`flags`):
*stable*, *chaotic*, *bistable*, *marginal* and *unstable_fixed_points*.

* **Static theory** (:func:`theory_region`, from the fixed points of the static mean-field branches and
  their RMT stability): *stable* (stable fixed points only), *chaotic* (unstable ones only, for the
  vanilla and gated RNN), *unstable_fixed_points* (a stable fixed point beside unstable ones: a necessary
  condition for bistability, not a sufficient one; for the GRU and the LSTM also unstable fixed points
  alone, which their static theory cannot call chaotic: their DMFT layer decides) and *marginal*
  (stable, with many slow modes).
* **DMFT** (:func:`dmft_region`): the chaotic DMFT solution decides chaos: *bistable* where it exists
  while the smallest fixed point is stable, *chaotic* where it exists otherwise (or, for the vanilla and
  gated RNN, where every branch is unstable; for the GRU and LSTM that is *unstable_fixed_points*); else
  *stable* or *marginal* as above. Unstable fixed points alone do not make a chaotic attractor.
* **Simulation** (:func:`simulated_region`): a run *survived* if <h^2> at its end is above a threshold
  (:func:`survived`), and is *chaotic* if it survived with lambda above twice its standard error
  (:func:`chaotic`). A point is *chaotic* where activity survives from small states in most networks
  **and** its lambda_max (the mean over networks of each network's larger exponent) is above twice its
  standard error; *bistable* where small states die out in most networks but most are chaotic from large
  states; *marginal* where activity survives with lambda_max within twice its standard error of 0, or
  with many slow modes; *stable* otherwise. Surviving activity alone is not chaos:
  a static input or a non-trivial fixed point keeps activity with lambda_max < 0, and near a continuous
  onset, where lambda_max grows like (g - g_c)^2, a point whose exponent a finite run does not resolve is
  not called chaotic (its ``survived_small`` shows the activity).
"""

from __future__ import annotations

import numpy as np

#: Region codes (CF ``flag_values`` / ``flag_meanings`` of the ``region`` variables).
REGIONS = ("stable", "chaotic", "bistable", "marginal", "unstable_fixed_points")
STABLE, CHAOTIC, BISTABLE, MARGINAL, UNSTABLE_FPS = range(5)


def theory_region(stable: bool, unstable: bool, slow: bool) -> int:
    """The static theory's region of one point: whether it has stable and unstable fixed points (branches),
    and whether the slow-mode fraction is above the marginal level."""
    if stable and unstable:
        return UNSTABLE_FPS  # bistable only where the DMFT has a chaotic solution there too
    if unstable:
        return CHAOTIC
    return MARGINAL if slow else STABLE


def dmft_region(lambda_dmft, f0_low, f0_high, slow_theory, marginal: float, *,
                unstable_is_chaos: bool = True) -> np.ndarray:  # fmt: skip
    """The regions (int8) from the DMFT chaotic solution (``lambda_dmft`` finite where it exists) and the
    static branches' stability measure (fixed points unstable iff > 1) and predicted slow-mode fraction.
    With ``unstable_is_chaos`` (vanilla, gated) fixed points that are all unstable also make the point
    chaotic; without it (GRU) they are *unstable_fixed_points* unless the DMFT has a chaotic solution."""
    zero_stable = np.asarray(f0_low) <= 1.0
    all_unstable = ~zero_stable & (np.asarray(f0_high) > 1.0)
    chaos = np.isfinite(lambda_dmft) | (all_unstable & unstable_is_chaos)
    slow = np.asarray(slow_theory) > marginal
    region = np.where(chaos & zero_stable, BISTABLE,
                      np.where(chaos, CHAOTIC, np.where(all_unstable, UNSTABLE_FPS,
                               np.where(slow, MARGINAL, STABLE))))  # fmt: skip
    return region.astype(np.int8)


def survived(final, threshold: float) -> np.ndarray:
    """Whether each run's activity survived: <h^2> at its end above ``threshold``."""
    return np.asarray(final) > threshold


def chaotic(lam, se, final, threshold: float) -> np.ndarray:
    """Whether each run is chaotic: it survived, with its exponent above twice its standard error (a small
    network can also settle on a non-trivial fixed point or limit cycle)."""
    return survived(final, threshold) & (np.asarray(lam) > 2 * np.asarray(se))


def simulated_region(survived_small, chaotic_large, lambda_max, lambda_max_se, slow_fraction,
                     marginal: float) -> np.ndarray:  # fmt: skip
    """The regions (int8) found in simulation (module doc) from the fractions of networks whose activity
    survived from small initial states and that are chaotic from large ones, the point's lambda_max and its
    standard error, and the Jacobian's slow-mode fraction."""
    lam, two_se = np.asarray(lambda_max), 2 * np.asarray(lambda_max_se)
    resolved = lam > two_se  # NaN: not resolved
    near_zero = np.abs(lam) <= two_se  # activity whose exponent is within error of 0 (NaN: not known)
    small = np.asarray(survived_small) >= 0.5
    region = np.where(small & resolved, CHAOTIC, np.where(~small & (np.asarray(chaotic_large) >= 0.5),
                      BISTABLE, np.where((small & near_zero) | (slow_fraction > marginal), MARGINAL,
                                         STABLE)))  # fmt: skip
    return region.astype(np.int8)


def flags(long_name: str) -> dict:
    """The attributes of a region variable: its long name and the CF flag values and meanings."""
    return {"long_name": long_name, "flag_values": np.arange(len(REGIONS), dtype=np.int8),
            "flag_meanings": " ".join(REGIONS)}  # fmt: skip
