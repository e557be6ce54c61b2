"""Lyapunov spectra of several sampled networks of one ensemble in one vmapped computation."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ..blas import limit_blas
from ..errors import InputError, check_size
from ..models.base import sample
from .qr import _check_k, _prepare, _qr_run
from .result import LyapunovResult, _result, _warn_precision


@dataclasses.dataclass(frozen=True)
class EnsembleLyapunov:
    """Lyapunov exponents of several sampled networks of one ensemble.

    ``exponents``/``stderr``: shape (n_networks, k); ``results``: the per-network
    :class:`LyapunovResult`; ``mean``/``spread``: mean and standard deviation over networks.
    """

    results: tuple[LyapunovResult, ...]

    @property
    def exponents(self) -> np.ndarray:
        return np.stack([r.exponents for r in self.results])

    @property
    def stderr(self) -> np.ndarray:
        return np.stack([r.stderr for r in self.results])

    @property
    def mean(self) -> np.ndarray:
        return self.exponents.mean(0)

    @property
    def spread(self) -> np.ndarray:
        return self.exponents.std(0, ddof=1) if len(self.results) > 1 else np.zeros(self.exponents.shape[1])


def lyapunov_ensemble(ensemble, n: int, *, key, n_networks: int, k: int | None = None, **kwargs):
    """:func:`lyapunov_spectrum` of ``n_networks`` networks of size ``n``, vmapped in one computation.

    Network i is ``sample(ensemble, n, key=fold_in(k_net, i))`` and its run uses ``fold_in(k_run, i)``
    with ``k_net, k_run = split(key)``, so results do not depend on how networks are batched. Other
    keyword arguments are those of :func:`lyapunov_spectrum` (not ``state0``), ``blas_threads`` included.
    """
    n_networks = check_size("lyapunov_ensemble", "n_networks", n_networks)
    if "state0" in kwargs:
        raise InputError("lyapunov_ensemble draws each network's initial state; state0 is not accepted")
    k_net, k_run = jax.random.split(key)
    template = sample(ensemble, n, key=jax.random.fold_in(k_net, 0))
    accuracy = kwargs.pop("accuracy", None)
    sum_rule = kwargs.pop("sum_rule", None)
    blas_threads = kwargs.pop("blas_threads", None)
    times = {a: kwargs.pop(a, None) for a in ("dt", "t_burn", "t_frame", "t_obs", "t_ortho")}
    p = _prepare(template, k_run, None, *times.values(), kwargs.pop("n_blocks", 20),
                 kwargs.pop("x", None), kwargs.pop("xs", None), kwargs.pop("solver", None))  # fmt: skip
    if kwargs:
        raise InputError(f"unknown argument {sorted(kwargs)[0]!r} for lyapunov_ensemble")
    nn = p["n"]
    k = _check_k(k, nn)
    sum_rule = (k == nn and nn <= 256) if sum_rule is None else sum_rule
    accuracy = (0.01 if template.is_flow else 0.005) if accuracy is None else accuracy
    _warn_precision()

    def one(i):
        net = sample(ensemble, n, key=jax.random.fold_in(k_net, i))
        k_state, k_frame = jax.random.split(jax.random.fold_in(k_run, i))
        s0 = jax.random.normal(k_state, (nn,))
        Q0 = jnp.linalg.qr(jax.random.normal(k_frame, (nn, int(k))))[0]
        return _qr_run(
            net, s0, Q0, p["x"], p["xs"], p["dt"], p["solver"],
            n_burn=p["n_burn"], n_frame=p["n_frame"], n_blocks=p["n_blocks"], per_block=p["per_block"],
            ortho=p["ortho"], sum_rule=bool(sum_rule),
        )  # fmt: skip

    with limit_blas(blas_threads):
        outs = jax.block_until_ready(jax.vmap(one)(jnp.arange(n_networks)))
    results = tuple(
        _result(
            template,
            jax.tree_util.tree_map(lambda a, i=i: a[i], outs),
            p,
            accuracy,
            sum_rule and k == nn,
            full_frame=4 * k >= nn,
        )
        for i in range(n_networks)
    )
    return EnsembleLyapunov(results)
