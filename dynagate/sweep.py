"""Execution of sweeps: many independent points, computed in chunks, in-process or on a Dask cluster,
written incrementally to a Zarr store so that an interrupted sweep resumes where it stopped.

A sweep is a picklable ``task(indices) -> {name: array of shape (len(indices), *shape)}`` over the points
0 .. n_points - 1, and a ``spec`` {name: (shape, dtype)} of what it returns per point. Each point must be
computed on its own (its own PRNG key, derived from its index), so the results do not depend on how the
points are grouped into chunks or on which machine computes them.

**Storage.** With ``store``, one Zarr array per name of shape (n_points, *shape) in chunks of ``chunk``
points, and a ``done`` flag per chunk. A chunk's values are written before its flag, both by the calling
process only (workers return results, so no shared file system is needed and there is one writer). A
sweep opened again with the same ``fingerprint`` (the caller's description of what is computed) skips the
finished chunks; a different fingerprint is an error, never a silent mix of two sweeps.

**Backends.** ``client=None`` computes in this process (a progress bar on a terminal); a
``dask.distributed.Client`` (a ``LocalCluster`` or an existing scheduler) gets one task per chunk, and the
results are written as they arrive. Dask retries a task whose worker died. Ctrl-C (or any error) leaves
every finished chunk on disk.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import InputError

#: Name of the per-chunk completion flags in a store.
DONE = "done"


def chunks(n_points: int, chunk: int) -> list[np.ndarray]:
    """The point indices of each chunk: [0, chunk), [chunk, 2 chunk), ..."""
    return [np.arange(s, min(s + chunk, n_points)) for s in range(0, n_points, chunk)]


def open_store(path, spec: dict, n_points: int, chunk: int, fingerprint: str):
    """The Zarr group at ``path``, created for this sweep or reopened; returns (group, chunk) where chunk
    is the stored chunk size of a reopened sweep (which wins over the requested one)."""
    import zarr

    path = Path(path)
    if path.exists():
        try:
            group = zarr.open_group(str(path), mode="a")
        except Exception as e:  # not a Zarr group
            raise InputError(f"{path} exists and is not a sweep store ({type(e).__name__}: {e})") from None
        old = group.attrs.get("fingerprint")
        if old is not None or list(group.array_keys()):  # an empty group is started afresh below
            if old != fingerprint or group.attrs.get("n_points") != n_points:
                raise InputError(
                    f"{path} holds a different sweep (other parameters or grid); choose another output "
                    "folder or delete it to start again"
                )
            return group, int(group.attrs["chunk"])
    group = zarr.open_group(str(path), mode="w")
    for name, (shape, dtype) in spec.items():
        fill = np.nan if np.dtype(dtype).kind == "f" else 0
        group.create_array(name, shape=(n_points, *shape), chunks=(chunk, *shape), dtype=dtype,
                           fill_value=fill)  # fmt: skip
    group.create_array(DONE, shape=(math.ceil(n_points / chunk),), chunks=(1,), dtype="uint8", fill_value=0)
    group.attrs.update({"fingerprint": fingerprint, "n_points": n_points, "chunk": chunk})
    return group, chunk


def run(
    task: Callable,
    n_points: int,
    spec: dict,
    *,
    chunk: int,
    store=None,
    fingerprint: str = "",
    client=None,
    progress: bool | None = None,
    description: str = "sweep",
) -> dict[str, np.ndarray]:
    """Compute ``task`` over all points (see the module doc); returns {name: (n_points, *shape) array}.

    ``progress``: show a progress bar (default: when stderr is a terminal). With ``store``, finished
    chunks are skipped and new ones written as they complete.
    """
    if chunk < 1:
        raise InputError(f"chunk must be >= 1, got {chunk}")
    group = None
    if store is not None:
        group, chunk = open_store(store, spec, n_points, chunk, fingerprint)
    parts = chunks(n_points, chunk)
    out = {name: np.full((n_points, *shape), np.nan if np.dtype(dt).kind == "f" else 0, dtype=dt)
           for name, (shape, dt) in spec.items()}  # fmt: skip
    done = np.zeros(len(parts), bool) if group is None else np.asarray(group[DONE][:], bool)
    if group is not None and done.any():
        for name in spec:
            out[name][:] = group[name][:]
    todo = np.flatnonzero(~done).tolist()

    def accept(c: int, values: dict) -> None:
        idx = parts[c]
        for name, (shape, dt) in spec.items():
            v = np.asarray(values[name], dtype=dt).reshape(len(idx), *shape)
            out[name][idx] = v
            if group is not None:
                group[name][idx[0] : idx[-1] + 1] = v
        if group is not None:
            group[DONE][c] = 1

    bar = _bar(len(parts), int(done.sum()), description, progress)
    try:
        if client is None:
            for c in todo:
                accept(c, task(parts[c]))
                bar.update(1)
        else:
            from distributed import as_completed

            futures = {client.submit(task, parts[c], pure=False): c for c in todo}
            try:
                for fut in as_completed(futures):
                    accept(futures[fut], fut.result())
                    bar.update(1)
            finally:
                client.cancel(list(futures))
    finally:
        bar.close()
    return out


def _bar(total: int, initial: int, description: str, progress: bool | None):
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    return tqdm(
        total=total, initial=initial, desc=description, unit="chunk", file=sys.stderr, disable=not show
    )


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
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           env=_WORKER_ENV)  # fmt: skip
    return Client(cluster)


#: Worker processes run XLA on one thread each, so that K workers use K cores.
_WORKER_ENV = {
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def close(client) -> None:
    """Close a client from :func:`connect` (and its LocalCluster, if it made one)."""
    if client is None:
        return
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()
