"""The Dask cluster that a sweep (:mod:`dynagate.sweep`) runs on: :func:`connect` starts a LocalCluster of
single-threaded worker processes or joins a scheduler, :func:`close` ends it. Ctrl-C at a terminal reaches
the workers too; they ignore it, so that the main process alone reports it (one line) and the cluster closes
behind it (the workers end with the main process)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading

from .errors import InputError


def connect(*, workers: int | None = None, scheduler: str | None = None, timeout: float = 10.0):
    """A Dask client: a new ``LocalCluster`` of ``workers`` single-threaded processes, or the scheduler at
    ``scheduler`` (tcp://HOST:PORT). Raises :class:`InputError` at once if Dask is missing or the scheduler
    cannot be reached within ``timeout`` seconds. Returns None for neither (in-process)."""
    if workers is not None and scheduler is not None:
        raise InputError("give either --workers or --scheduler, not both")
    if workers is None and scheduler is None:
        return None
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(
            "the Dask backends need dask.distributed: pip install 'dynagate[distributed]'"
        ) from None
    if scheduler is not None:
        if "://" not in scheduler:
            raise InputError(f"--scheduler expects an address like tcp://HOST:PORT, got {scheduler!r}")
        try:
            return Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as e:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s: {e}"
            ) from None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"--workers must be an integer >= 1, got {workers!r}")
    with _sigint_ignored():  # the workers inherit it: Ctrl-C is the main process's to handle (close below)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, env=_WORKER_ENV)  # fmt: skip
    return Client(cluster)


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored while worker processes start, which inherit it (and then install no KeyboardInterrupt
    handler): Ctrl-C at a terminal, sent to the process group, stops the main process only, not each worker
    with a traceback of its own. In the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _quiet_resource_tracker()
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with its warnings off: after Ctrl-C the main process exits at
    once, and the tracker would add a warning on the "leaked semaphore objects" it frees below the line."""
    from multiprocessing import resource_tracker

    saved = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"
    try:
        resource_tracker.ensure_running()
    finally:
        if saved is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = saved


#: Worker processes run XLA on one thread each, so that K workers use K cores.
_WORKER_ENV = {
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def close(client, *, wait: bool = True) -> None:
    """Close a client from :func:`connect` (and its LocalCluster, if it made one); ``wait=False`` closes
    in a background thread (after Ctrl-C: a LocalCluster's orderly shutdown takes seconds, and worker
    processes end by themselves when the main process does)."""
    if client is None:
        return
    if not wait:
        threading.Thread(target=close, args=(client,), daemon=True).start()
        return
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()
