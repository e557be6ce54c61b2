"""BLAS/LAPACK threads around QR-heavy host work.

LAPACK runs on the host in OpenBLAS (numpy's ``eigvals`` and ``qr``; JAX's CPU backend calls SciPy's
OpenBLAS for ``jnp.linalg.qr``). OpenBLAS starts one worker thread per core by default; on a small or
shared machine those threads compete with XLA's own thread pool and with every other busy process, and
repeated factorisations of modest matrices (a Lyapunov frame: N x k, every ``t_ortho``) become many times
slower than on one thread (``benchmarks/blas_threads.py`` measures it). dynagate's LAPACK-heavy functions
(``lyapunov_spectrum`` and ``lyapunov_ensemble``: QR; ``find_fixed_points``: batched LU solves;
``spectra.eigenvalues``: dgeev) therefore run under a limit of **one BLAS thread by default**.

The limit is set, in this order of precedence, by the function's ``blas_threads`` argument, by the
environment variable ``DYNAGATE_BLAS_THREADS``, or else it is 1. ``0`` means no limit (OpenBLAS's own
setting, itself governed by ``OPENBLAS_NUM_THREADS``). The limit is applied with ``threadpoolctl`` for the
duration of the call only and restored afterwards.
"""

from __future__ import annotations

import contextlib
import numbers
import os

from .errors import InputError

#: The environment variable that sets the default BLAS thread limit of dynagate's QR-heavy functions.
ENV = "DYNAGATE_BLAS_THREADS"

#: The limit when neither the argument nor the environment variable says otherwise.
DEFAULT = 1


def blas_threads(threads: int | None = None) -> int:
    """The BLAS thread limit in force: ``threads`` if given, else ``$DYNAGATE_BLAS_THREADS``, else 1
    (0: no limit)."""
    source = "blas_threads"
    if threads is None:
        value = os.environ.get(ENV, "").strip()
        if not value:
            return DEFAULT
        source = ENV
        try:
            threads = int(value)
        except ValueError:
            raise InputError(f"{ENV}={value!r} must be a non-negative integer (0: no limit)") from None
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 0:
        raise InputError(f"{source}={threads!r} must be a non-negative integer (0: no limit)")
    return int(threads)


@contextlib.contextmanager
def limit_blas(threads: int | None = None):
    """Context manager: at most :func:`blas_threads` ``(threads)`` BLAS threads inside (no limit for 0).

    JAX dispatches asynchronously: block on (or convert) JAX results *inside* the block, or the LAPACK
    calls may run after the limit is lifted.
    """
    n = blas_threads(threads)
    if n == 0:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield
