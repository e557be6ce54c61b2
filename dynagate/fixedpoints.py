r"""Fixed points of networks and user systems: batched search, Newton polish, deduplication, stability.

A fixed point solves F(s) = 0 with F = rhs (flows) or F = rhs - s (maps), under a constant input ``x``.

1. **Seeds.** Half are random draws (around ``state0``, scale ``scale``, or uniform in ``box``), half are
   the end points of short trajectories from such draws (they start near slow regions of phase space).
2. **Descent.** Every seed takes ``n_descent`` Adam steps on q(s) = |F(s)|^2 / 2, all seeds at once under
   ``jax.vmap`` (the slow-point finder's objective; Sussillo & Barak 2013), in compiled calls of about a
   quarter of a second (:data:`CHUNK_SECONDS`).
3. **Newton polish.** Damped Newton s <- s - a J_F^{-1} F with the best a in {1, 1/2, ..., 1/64} (by
   |F|), ``n_newton`` steps, all seeds at once; a seed has *converged* when max|F| < ``tol`` (1e-10 in
   float64 by default) and the next Newton step is below sqrt(tol) (1 + max|s|), which rejects points
   where a saturated gate makes |F| small far from a root. Seeds that do not converge are counted, never
   raised.
4. **Deduplication.** Two converged points are the same when max|s - s'| < ``dedup`` (1 + max|s|)
   (default 1e-6 in float64, 3e-3 in float32: Newton has converged far below it, distinct fixed points
   are far above it; over vanilla, gated, GRU and LSTM networks of N = 20 the converged copies of one
   point spread up to 4e-9 in float64 and 4e-4 in float32, distinct points were >= 0.04 apart), by a
   KD-tree and union-find.
5. **Stability** from the eigenvalues of the system's Jacobian d rhs / d s at each point: flows are
   unstable along eigenvalues with Re > 0, maps along |lambda| > 1; the *index* is their number.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.spatial

from .blas import limit_blas
from .errors import InputError, Interrupted, check_key, check_param, check_size, check_vector
from .models.base import System
from .results import Status, jsonable


@dataclasses.dataclass(frozen=True)
class FixedPoints:
    """Distinct fixed points found from ``n_seeds`` seeds.

    Attributes:
        points: (k, n) the fixed points (float64 when enabled).
        residuals: (k,) max|F| at each point.
        eigenvalues: (k, n) complex eigenvalues of the Jacobian d rhs / d s, largest real part
            (flows) or modulus (maps) first.
        index: (k,) number of unstable directions; ``stable`` is index == 0.
        n_seeds, n_converged: seeds searched and seeds whose polish reached ``tol``.
        is_flow: whether the system is a flow.
        interrupted: Ctrl-C stopped the search; the points are those of the batches of seeds that
            finished, ``n_seeds`` counts their seeds (status INTERRUPTED).
    """

    points: np.ndarray
    residuals: np.ndarray
    eigenvalues: np.ndarray
    index: np.ndarray
    n_seeds: int
    n_converged: int
    is_flow: bool
    interrupted: bool = False

    @property
    def count(self) -> int:
        return int(self.points.shape[0])

    @property
    def stable(self) -> np.ndarray:
        return self.index == 0

    @property
    def n_stable(self) -> int:
        return int(np.sum(self.stable))

    @property
    def status(self) -> Status:
        """INTERRUPTED for the finished part of a search stopped by Ctrl-C; otherwise CONVERGED if at least
        one seed's polish reached the tolerance, else NOT_CONVERGED."""
        if self.interrupted:
            return Status.INTERRUPTED
        return Status.CONVERGED if self.n_converged > 0 else Status.NOT_CONVERGED

    def summary(self) -> dict:
        """The main numbers (strict JSON)."""
        keys = ("count", "n_stable", "max_residual", "n_seeds", "n_converged", "failure_rate", "status")
        return jsonable({k: getattr(self, k) for k in keys})

    @property
    def failure_rate(self) -> float:
        """Fraction of seeds whose Newton polish did not reach the tolerance."""
        return 1.0 - self.n_converged / self.n_seeds

    @property
    def max_residual(self) -> float:
        return float(np.max(self.residuals)) if self.count else 0.0


def _residual_fn(system: System, x):
    if system.is_flow:
        return lambda s: system.rhs(s, x)
    return lambda s: system.rhs(s, x) - s


def _seeds(system, key, n_seeds, state0, scale, box, n_state, traj_steps, dt, x):
    k_rand, k_traj = jax.random.split(key)
    n_rand = n_seeds - n_seeds // 2
    if box is not None:
        lo, hi = box
        draw = lambda k, m: jax.random.uniform(k, (m, n_state), minval=lo, maxval=hi)  # noqa: E731
    else:
        center = jnp.zeros(n_state) if state0 is None else state0
        draw = lambda k, m: center + scale * jax.random.normal(k, (m, n_state))  # noqa: E731
    rand = draw(k_rand, n_rand)
    starts = draw(k_traj, n_seeds // 2)
    if n_seeds // 2 == 0:
        return rand
    ends = _ends(system, x, starts, dt, traj_steps)
    ends = jnp.where(jnp.all(jnp.isfinite(ends), axis=1, keepdims=True), ends, starts)
    return jnp.concatenate([rand, ends])


@functools.partial(jax.jit, static_argnames="steps")
def _ends(system, x, starts, dt, steps):
    from .simulate import RK4, step_function

    step = step_function(system, RK4(), dt)
    return jax.vmap(lambda s: jax.lax.fori_loop(0, steps, lambda _, s: step(s, x), s))(starts)


#: Seconds a compiled call of the descent takes, about: the descent of a batch runs in calls of that many
#: steps, so that Python sees Ctrl-C between them (the command line ends the process when a compiled call
#: outlasts its grace of 0.8 s). In one call, 300 steps of 128 seeds took 0.9 s at gated N = 200, 2.7 s at
#: gated N = 400 and 2.6 s at vanilla N = 1000 (two cores).
CHUNK_SECONDS = 0.25


def _descend(system, x, seeds, lr, n_descent):
    """The ``n_descent`` Adam steps of every seed (:func:`_descent`) in compiled calls of about
    :data:`CHUNK_SECONDS` (steps growing at most fourfold a call: the first call also compiles), with the
    Adam moments and the step index carried from call to call: the same numbers as one call of all the
    steps, whatever the chunks."""
    zero = jnp.zeros_like(seeds)
    carry, done, m = (seeds, zero, zero), 0, 1
    while done < n_descent:
        m = min(m, n_descent - done)
        t0 = time.perf_counter()
        carry = jax.block_until_ready(_descent_chunk(system, x, carry, lr, done, m))
        elapsed = time.perf_counter() - t0
        done += m
        m = max(1, min(4 * m, int(m * CHUNK_SECONDS / max(elapsed, 1e-9))))
    return carry[0]


@jax.jit
def _descent_chunk(system, x, carry, lr, start, n_steps):
    """Adam steps ``start`` .. ``start + n_steps - 1`` of :func:`_descent` (both traced: one compilation
    for every chunk)."""
    return _descent(_residual_fn(system, x), carry, lr, start, n_steps)


def _jacobian_fn(system, x, n: int):
    eye = 0.0 if system.is_flow else jnp.eye(n)
    return lambda s: system.jac(s, x) - eye


@jax.jit
def _newton_chunk(system, x, seeds, n_steps):
    """``n_steps`` damped Newton steps of every seed (traced: one compilation per padded batch size)."""
    return _newton(_residual_fn(system, x), _jacobian_fn(system, x, seeds.shape[1]), seeds, n_steps)


@jax.jit
def _next_step(system, x, seeds):
    """max|J^{-1} F| at each seed: the size of the next Newton step, small at a true root."""
    F, J = _residual_fn(system, x), _jacobian_fn(system, x, seeds.shape[1])

    def one(s):
        d = jnp.linalg.solve(J(s), F(s))
        return jnp.where(jnp.all(jnp.isfinite(d)), jnp.max(jnp.abs(d)), jnp.inf)

    return jax.vmap(one)(seeds)


_CHUNK = 5  # Newton steps between compactions of the active seeds (at most)


def _buckets(n):
    """Padded batch sizes 64, 96, 128, 192, 256, ...: at most a third wasted, few compilations."""
    b = 64
    while True:
        yield b
        yield 3 * b // 2
        b *= 2


def _polish(system, x, seeds, lr, n_descent, n_newton, tol):
    """Descent, then damped Newton in compiled calls of at most ``_CHUNK`` steps (fewer where a call would
    take longer than :data:`CHUNK_SECONDS`, so that Ctrl-C is seen between calls) on the seeds still active.

    A seed leaves the active set once converged (max|F| < tol) or stuck: the damped step rejects every
    trial that does not lower |F| and then leaves the seed where it is, so a seed whose |F| did not drop
    over a chunk would stay there for good. Most seeds that do not converge get stuck within 10 steps,
    so this saves most of the Newton work (O(N^3) per seed and step). The active seeds are padded to a
    bucket size (:func:`_buckets`) to bound recompilation. Returns points, max|F| and the size of the
    next Newton step.
    """
    s = np.array(_descend(system, x, seeds, lr, n_descent) if n_descent else seeds)
    m = s.shape[0]
    if n_newton == 0:
        res = np.asarray(jax.vmap(lambda v: jnp.max(jnp.abs(_residual_fn(system, x)(v))))(s))
        return s, res, np.full(m, np.inf)
    res = np.full(m, np.inf)
    active, done, n = np.arange(m), 0, 1
    while done < n_newton and active.size:
        n = min(n, n_newton - done)
        size = next(b for b in _buckets(active.size) if b >= active.size)
        idx = np.concatenate([active, np.full(size - active.size, active[0])])
        t0 = time.perf_counter()
        p, r = (np.asarray(v) for v in _newton_chunk(system, x, jnp.asarray(s[idx]), n))
        elapsed, done = time.perf_counter() - t0, done + n
        k = active.size
        before = res[active]
        s[active], res[active] = p[:k], r[:k]
        active = active[np.isfinite(r[:k]) & (r[:k] < before) & (r[:k] >= tol)]
        n = max(1, min(_CHUNK, 4 * n, int(n * CHUNK_SECONDS / max(elapsed, 1e-9))))
    size = next(b for b in _buckets(m) if b >= m)
    step = np.asarray(_next_step(system, x, jnp.asarray(np.concatenate([s, np.repeat(s[:1], size - m, 0)]))))
    return s, res, step[:m]


def _descent(F, carry, lr, start, n_steps):
    """Adam (Kingma & Ba 2015; beta 0.9, 0.999, eps 1e-12) on q(s) = |F(s)|^2 / 2 from the states and
    moments ``carry = (s, m, v)`` (each (seeds, n)), steps ``start`` .. ``start + n_steps - 1`` (their
    index sets the bias correction); a non-finite gradient entry counts as 0. Returns the new carry."""
    q = lambda s: 0.5 * jnp.sum(F(s) ** 2)  # noqa: E731
    grad = jax.grad(q)

    def one(s, m, v):
        def step(i, carry):
            s, m, v = carry
            t = (start + i).astype(s.dtype)  # float: exponents
            g = grad(s)
            g = jnp.where(jnp.isfinite(g), g, 0.0)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g**2
            mh, vh = m / (1 - 0.9 ** (t + 1)), v / (1 - 0.999 ** (t + 1))
            return s - lr * mh / (jnp.sqrt(vh) + 1e-12), m, v

        return jax.lax.fori_loop(0, n_steps, step, (s, m, v))

    return jax.vmap(one)(*carry)


_DAMPING = 2.0 ** -jnp.arange(7.0)  # trial Newton step lengths 1 .. 1/64


def _newton(F, J, seeds, n_steps):
    def norm(s):
        f = F(s)
        return jnp.where(jnp.all(jnp.isfinite(f)), jnp.max(jnp.abs(f)), jnp.inf)

    def one(s):
        def step(s, _):
            d = jnp.linalg.solve(J(s), F(s))
            trials = s[None, :] - _DAMPING[:, None] * d[None, :]
            r = jax.vmap(norm)(trials)
            best = jnp.argmin(r)
            ok = jnp.isfinite(r[best]) & (r[best] < norm(s)) & jnp.all(jnp.isfinite(d))
            return jnp.where(ok, trials[best], s), None

        s = jax.lax.fori_loop(0, n_steps, lambda _, s: step(s, None)[0], s)
        return s, norm(s)

    return jax.vmap(one)(seeds)


def _dedup(points: np.ndarray, rel: float) -> np.ndarray:
    """Indices of one representative per cluster of points closer than rel (1 + max|s|) (max norm)."""
    if points.shape[0] == 0:
        return np.zeros(0, int)
    r = rel * (1.0 + np.max(np.abs(points)))
    pairs = scipy.spatial.cKDTree(points).query_pairs(r, p=np.inf, output_type="ndarray")
    parent = np.arange(points.shape[0])

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([root(i) for i in range(points.shape[0])])
    return np.unique(roots)


def tolerances(x64: bool) -> tuple[float, float]:
    """The default convergence threshold on max|F| and the relative deduplication tolerance (module doc)
    in float64 (``x64``) or float32."""
    return (1e-10, 1e-6) if x64 else (1e-5, 3e-3)


def find_fixed_points(
    system: System,
    *,
    key,
    n_seeds: int = 256,
    x=None,
    state0=None,
    scale: float = 1.0,
    box=None,
    n_descent: int = 300,
    lr: float = 0.05,
    n_newton: int = 40,
    tol: float | None = None,
    dedup: float | None = None,
    traj_steps: int = 200,
    dt: float = 0.05,
    batch: int = 4096,
    blas_threads: int | None = None,
) -> FixedPoints:
    """Fixed points of ``system`` (a dynagate network under the constant input ``x``, or a ``Map``/``Flow``).

    Args:
        key: PRNG key for the seeds.
        n_seeds: number of seeds (half random, half trajectory end points; module doc).
        state0, scale: seeds are drawn N(state0, scale^2) per coordinate (state0 default 0) ...
        box: ... or uniformly in ``box = (lo, hi)`` (scalars or arrays of the state's length).
        n_descent, lr: Adam steps on |F|^2 / 2 and their step size (0 skips the descent).
        n_newton: damped Newton steps; ``tol``: convergence threshold on max|F| (default 1e-10 in float64,
            1e-5 in float32).
        dedup: relative tolerance for merging converged points (default 1e-6 in float64, 3e-3 in
            float32; module doc).
        traj_steps, dt: length of the seeding trajectories (steps; RK4 step ``dt`` for flows).
        batch: seeds per compiled batch (bounds memory). Ctrl-C between compiled calls (the descent's
            pieces of about :data:`CHUNK_SECONDS`, the Newton chunks, the batches) raises
            :class:`~dynagate.errors.Interrupted` with the result of the finished batches as ``partial``
            (status INTERRUPTED; ``None`` before the first).
        blas_threads: BLAS/LAPACK threads for the search (:mod:`dynagate.blas`; default 1): Newton's
            batched LU solves run in LAPACK, where OpenBLAS's default threads made them 3-7x slower on
            two loaded cores (``benchmarks/blas_threads.py``).
    """
    if not isinstance(system, System):
        raise InputError(f"expected a dynagate system (network, Map or Flow), got {type(system).__name__}")
    key = check_key("find_fixed_points", key)
    n_seeds = check_size("find_fixed_points", "n_seeds", n_seeds)
    for name, v in (("n_descent", n_descent), ("n_newton", n_newton), ("traj_steps", traj_steps)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise InputError(f"find_fixed_points: {name} must be a non-negative integer, got {v!r}")
    batch = check_size("find_fixed_points", "batch", batch)
    default_tol, default_dedup = tolerances(jax.config.jax_enable_x64)
    tol = default_tol if tol is None else tol
    dedup = default_dedup if dedup is None else dedup
    for name, v in (("scale", scale), ("dedup", dedup), ("lr", lr), ("tol", tol), ("dt", dt)):
        check_param("find_fixed_points", name, v, positive=True)
    n_state = system.n_state
    if state0 is not None:
        state0 = check_vector("state0", state0, n_state)
        n_state = state0.shape[0]
    if box is not None:
        try:
            lo, hi = (jnp.asarray(b, float) for b in box)
        except (TypeError, ValueError) as e:
            raise InputError("box must be a pair (lo, hi)") from e
        if n_state is None:
            n_state = max(lo.size, hi.size) if max(lo.size, hi.size) > 1 else None
        if not (bool(jnp.all(jnp.isfinite(lo))) and bool(jnp.all(jnp.isfinite(hi)))):
            raise InputError("box: the bounds must be finite numbers")
        if not bool(jnp.all(hi > lo)):
            raise InputError("box: every upper bound must exceed its lower bound")
        box = (lo, hi)
    if n_state is None:
        raise InputError(
            "a user Map/Flow needs state0 or an array box (its dimension is not known otherwise)"
        )
    # batch by batch, so that Ctrl-C between them keeps the finished ones (the seeds are drawn first, so
    # the batches do not change them)
    parts = []
    with limit_blas(blas_threads):
        try:
            seeds = _seeds(system, key, n_seeds, state0, scale, box, n_state, traj_steps, dt, x)
            for i in range(0, n_seeds, batch):
                p, r, d = _polish(system, x, seeds[i : i + batch], lr, n_descent, n_newton, tol)
                parts.append((np.asarray(p), np.asarray(r), np.asarray(d)))
        except KeyboardInterrupt:
            done = sum(r.size for _, r, _ in parts)
            partial = _collect(system, x, parts, n_state, tol, dedup, interrupted=True) if parts else None
            raise Interrupted(
                f"find_fixed_points: stopped after {len(parts)} of {-(-n_seeds // batch)} batches of seeds "
                f"({done} of {n_seeds} seeds)",
                partial=partial,
            ) from None
        return _collect(system, x, parts, n_state, tol, dedup)


def _collect(system, x, parts, n_state, tol, dedup, interrupted=False) -> FixedPoints:
    """The distinct fixed points, their spectra and indices from the polished batches ``parts``."""
    pts, res, steps = (np.concatenate(v) for v in zip(*parts))
    # a root also needs a small next Newton step: where a gate saturates (a GRU with z -> 1 at large |h|)
    # |F| falls below tol far from any root, but F / F' does not
    scale_ = 1.0 + np.max(np.abs(pts), axis=1, initial=0.0)
    ok = np.isfinite(res) & (res < tol) & (steps < math.sqrt(tol) * scale_)
    conv = pts[ok]
    keep = _dedup(conv, dedup)
    points, residuals = conv[keep], res[ok][keep]
    if points.shape[0]:
        jac = np.asarray(jax.vmap(lambda s: system.jac(s, x))(jnp.asarray(points)))
        eig = np.linalg.eigvals(jac)
    else:
        eig = np.zeros((0, n_state), complex)
    key_ = eig.real if system.is_flow else np.abs(eig)
    eig = np.take_along_axis(eig, np.argsort(-key_, axis=1), axis=1)
    unstable = (eig.real > 0) if system.is_flow else (np.abs(eig) > 1)
    order = np.lexsort(points.T[::-1]) if points.shape[0] else np.zeros(0, int)
    return FixedPoints(
        points=points[order],
        residuals=residuals[order],
        eigenvalues=eig[order],
        index=unstable.sum(axis=1)[order],
        n_seeds=int(res.size),
        n_converged=int(ok.sum()),
        is_flow=system.is_flow,
        interrupted=interrupted,
    )


def count_fixed_points(ensemble, sizes, *, key, n_networks: int = 20, x=None, **kwargs) -> dict:
    """Fixed-point counts over ``n_networks`` realisations at each size in ``sizes``.

    Network i at size n is ``sample(ensemble, n, key=fold_in(fold_in(key, n), i))``. Returns a dict with
    ``sizes``, ``mean`` and ``stderr`` of the count, ``counts`` (n_sizes, n_networks), ``failure_rate``
    (mean over networks), the indices (a list per size of all fixed points' indices), and the fitted growth
    rate ``rate`` ± ``rate_stderr`` of log(mean count) in N, and ``rate_prefactor`` ±
    ``rate_prefactor_stderr`` with a free N^gamma prefactor (:func:`growth_rate`). Other keyword arguments
    go to :func:`find_fixed_points`.
    """
    from .models.base import sample

    n_networks = check_size("count_fixed_points", "n_networks", n_networks)
    sizes = [check_size("count_fixed_points", "size", int(n)) for n in sizes]
    counts = np.zeros((len(sizes), n_networks), int)
    fail = np.zeros((len(sizes), n_networks))
    indices = []
    for a, n in enumerate(sizes):
        idx = []
        for i in range(n_networks):
            k = jax.random.fold_in(jax.random.fold_in(key, n), i)
            k_net, k_fp = jax.random.split(k)
            fp = find_fixed_points(sample(ensemble, n, key=k_net), key=k_fp, x=x, **kwargs)
            counts[a, i], fail[a, i] = fp.count, fp.failure_rate
            idx.extend(fp.index.tolist())
        indices.append(np.array(idx, int))
    mean = counts.mean(axis=1)
    se = counts.std(axis=1, ddof=1) / math.sqrt(n_networks) if n_networks > 1 else np.full(len(sizes), np.nan)
    rate, rate_se = growth_rate(sizes, counts) if len(sizes) >= 2 else (math.nan, math.nan)
    rate_n, rate_n_se = growth_rate(sizes, counts, log_prefactor=True) if len(sizes) >= 3 else (math.nan,) * 2
    return {"sizes": np.asarray(sizes), "mean": mean, "stderr": se, "counts": counts,
            "failure_rate": fail.mean(axis=1), "indices": indices, "rate": rate, "rate_stderr": rate_se,
            "rate_prefactor": rate_n, "rate_prefactor_stderr": rate_n_se}  # fmt: skip


def growth_rate(sizes, counts, *, log_prefactor: bool = False) -> tuple[float, float]:
    """Growth rate of log(mean count) in N, with its standard error: (rate, stderr).

    Weighted least squares of log(mean) on (1, N), or on (1, N, log N) with ``log_prefactor`` (the Kac-Rice
    form E[#] ~ C N^gamma exp(N Sigma)). ``counts`` is (n_sizes, n_networks). The weights are the inverse
    delta-method variances of the log means, with a floor of one count in the total per size (so sizes
    whose networks all have the same count do not get infinite weight). NaN if a mean count is 0 or there
    are too few sizes.
    """
    counts = np.asarray(counts, float)
    n = np.asarray(sizes, float)
    k = 3 if log_prefactor else 2
    m = counts.mean(axis=1)
    if counts.shape[1] < 2 or len(n) < k or np.any(m <= 0):
        return math.nan, math.nan
    se = counts.std(axis=1, ddof=1) / math.sqrt(counts.shape[1])
    rel = np.maximum(se / m, 1.0 / (counts.shape[1] * m))
    w = 1.0 / rel**2
    X = np.stack([np.ones_like(n), n] + ([np.log(n)] if log_prefactor else []), axis=1)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = cov @ X.T @ (w * np.log(m))
    return float(beta[1]), float(math.sqrt(cov[1, 1]))
