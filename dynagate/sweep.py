"""Execution of sweeps: many independent points, computed in chunks, in-process or on a Dask cluster,
written incrementally to a Zarr store so that an interrupted sweep resumes where it stopped.

A sweep is a picklable ``task(indices) -> {name: array of shape (len(indices), *shape)}`` over the points
0 .. n_points - 1, and a ``spec`` {name: (shape, dtype)} of what it returns per point. Each point must be
computed on its own (its own PRNG key, derived from its index), so the results do not depend on how the
points are grouped into chunks or on which machine computes them.

**Storage.** With ``store``, a Zarr (v3) group that ``xarray.open_zarr(store)`` reads as a dataset at any
time, also while the sweep fills it. The points lie on a ``grid`` of named axes with coordinates (row-major,
the last axis fastest; default one axis ``point``), so each ``spec`` name is an array of shape
(*grid, *shape) with named dimensions (``dims`` names and gives coordinates to the trailing ones), NaN (0
for integers) where nothing is computed yet. ``done`` (same grid, uint8) marks the finished points and
``checksum`` (one per chunk of ``chunk`` points) is a SHA-256 digest (first 8 bytes) of the chunk's values
and of the sweep's ``fingerprint``. A chunk's values are written first, then its checksum, then its done
flags, all by the calling process (workers return results, so no shared file system is needed).

**Verified, never trusted.** A store opened again is checked before anything is skipped: its fingerprint
(the caller's description of what is computed) and grid must match (a different sweep is an error, never a
silent mix of two), every array must be readable (a damaged store is refused in one line), and the values
of every finished chunk must match their checksum; a chunk whose data is missing, altered or unreadable is
computed again (a :class:`StoreWarning` says how many). A store is created in a temporary folder and moved
into place, so a half-created store is never seen.

**One writer.** :func:`~dynagate.lockfile.lock` holds ``STORE.lock`` while a sweep writes: a second run
into the same store is refused at once, naming the pid; the lock of a process that died is taken over.

**Backends.** ``client=None`` computes in this process (a progress bar on a terminal); a
``dask.distributed.Client`` (a ``LocalCluster`` or an existing scheduler) gets one task per chunk, and the
results are written as they arrive. Dask retries a task whose worker died. Ctrl-C (or any error) leaves
every finished chunk on disk; Ctrl-C is raised again as :class:`~dynagate.errors.Interrupted`, saying how
many chunks are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .cluster import close, connect  # noqa: F401  (the Dask connection; sweep.connect and sweep.close stay)
from .errors import InputError, Interrupted
from .lockfile import lock

#: Names of the per-point completion flags and of the per-chunk checksums in a store.
DONE = "done"
CHECKSUM = "checksum"
#: Version of the store layout (a store of another layout is refused, not misread).
FORMAT = 2


class StoreWarning(UserWarning):
    """Finished chunks of a store failed verification and are computed again."""


def chunks(n_points: int, chunk: int) -> list[np.ndarray]:
    """The point indices of each chunk: [0, chunk), [chunk, 2 chunk), ..."""
    return [np.arange(s, min(s + chunk, n_points)) for s in range(0, n_points, chunk)]


def checksum(fingerprint: str, c: int, values: dict, spec: dict) -> int:
    """The digest of chunk ``c``: the first 8 bytes of SHA-256 over the fingerprint, the chunk index and
    each array of the chunk (names sorted, as stored: C order, little-endian ``spec`` dtype)."""
    h = hashlib.sha256(f"{fingerprint}\0{c}".encode())
    for name in sorted(spec):
        dt = np.dtype(spec[name][1]).newbyteorder("<")
        h.update(name.encode() + b"\0" + np.ascontiguousarray(values[name], dtype=dt).tobytes())
    return int.from_bytes(h.digest()[:8], "big")


# ------------------------------------------------------------------------------------------- the lock


# -------------------------------------------------------------------------------------------- the store


def _layout(n_points, grid):
    grid = [("point", np.arange(n_points))] if grid is None else [(d, np.asarray(v)) for d, v in grid]
    shape = tuple(v.size for _, v in grid)
    if math.prod(shape) != n_points:
        raise InputError(f"the grid {shape} does not hold {n_points} points")
    return grid, shape


def _runs(a: int, b: int, shape: tuple):
    """Points a .. b-1 (row-major over ``shape``) as runs along the last axis: (selection, start, stop) with
    start/stop offsets into the flat range."""
    last, i = shape[-1], a
    while i < b:
        j = min(b, (i // last + 1) * last)
        lead = np.unravel_index(i // last, shape[:-1]) if len(shape) > 1 else ()
        yield (*(int(t) for t in lead), slice(i % last, i % last + j - i)), i - a, j - a
        i = j


def _damaged(path, what: str) -> InputError:
    return InputError(f"{path} is a damaged sweep store ({what}); delete it or restart the sweep (--restart) "
                      "to start again")  # fmt: skip


@contextlib.contextmanager
def _quiet():
    """Zarr's notes about consolidated metadata (not yet in the v3 specification) are not the user's."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        yield


def open_store(path, spec: dict, n_points: int, chunk: int, fingerprint: str, *, grid=None, dims=None,
               attrs=None):  # fmt: skip
    """The Zarr group at ``path``, created for this sweep (module doc) or reopened; returns (group, chunk)
    where chunk is the stored chunk size of a reopened sweep (which wins over the requested one).

    ``grid``: [(dimension, coordinate values), ...] of the points (default [("point", 0 .. n_points-1)]);
    ``dims``: {name: [(dimension, values), ...]} for the trailing axes of an array (default ``name_i``
    without coordinates); ``attrs``: {name: attributes} of the arrays (``long_name``, ``units``).
    """
    import zarr

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} exists and is not a sweep store (not a folder)")
    if (path / "zarr.json").is_file():
        try:
            meta = json.loads((path / "zarr.json").read_text())
            stored = dict(meta["attributes"])
        except Exception as e:
            raise _damaged(path, f"its group metadata cannot be read: {_first_line(e)}") from None
        if stored.get("format") != FORMAT:
            if "fingerprint" in stored:
                raise InputError(f"{path} was written by an older version of dynagate; delete it or restart "
                                 "the sweep (--restart) to start again")  # fmt: skip
            raise InputError(f"{path} exists and is not a sweep store")
        if stored.get("fingerprint") != fingerprint or stored.get("n_points") != n_points:
            raise InputError(
                f"{path} holds a different sweep (other parameters or grid); choose another output "
                "folder or delete it to start again"
            )
        _restore(path, meta)
        try:
            group = zarr.open_group(str(path), mode="r+")
        except Exception as e:
            raise _damaged(path, f"it cannot be opened: {_first_line(e)}") from None
        for name, (shape, dt) in {**spec, DONE: ((), "uint8"), CHECKSUM: ((), "uint64")}.items():
            try:
                arr = group[name]
            except Exception as e:
                raise _damaged(path, f"array {name!r} is missing or unreadable: {_first_line(e)}") from None
            if arr.shape[arr.ndim - len(shape) :] != tuple(shape) or arr.dtype != np.dtype(dt):
                raise _damaged(path, f"array {name!r} has shape {arr.shape} and dtype {arr.dtype}")
        return group, int(stored["chunk"])
    if path.exists() and any(path.iterdir()):
        raise _damaged(path, "its group metadata zarr.json is missing")
    return _create(path, spec, n_points, chunk, fingerprint, grid, dims or {}, attrs or {}), chunk


def _restore(path: Path, meta: dict) -> None:
    """Rewrite the metadata file of any array of the store that is missing or altered from the copy in the
    group's consolidated metadata (array metadata never changes after a store is created)."""
    copies = (meta.get("consolidated_metadata") or {}).get("metadata") or {}
    restored = []
    for name, entry in copies.items():
        if "/" in name:  # a store inside this one checks its own
            continue
        file = path / name / "zarr.json"
        try:
            if json.loads(file.read_text()) == entry:
                continue
        except (OSError, ValueError):
            pass
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(entry, indent=2))
        restored.append(name)
    if restored:
        what = f"{len(restored)} array{'s' if len(restored) > 1 else ''} ({', '.join(restored)})"
        warnings.warn(f"{path}: restored the metadata of {what} from the group's consolidated metadata",
                      StoreWarning, stacklevel=4)  # fmt: skip


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _create(path: Path, spec, n_points, chunk, fingerprint, grid, dims, attrs):
    """A new store, built in a temporary folder beside ``path`` and renamed into place."""
    import zarr

    grid, gshape = _layout(n_points, grid)
    names = [d for d, _ in grid]
    clash = ({*spec, DONE, CHECKSUM} & set(names)) or ({DONE, CHECKSUM} & set(spec))
    if clash:
        raise InputError(f"sweep store: the name {sorted(clash)[0]!r} is both an array and an axis")
    # zarr chunks of about `chunk` points in whole runs of the last axis (a sweep chunk may span two)
    last = gshape[-1]
    if len(gshape) == 1 or chunk < last:
        zchunk = (*(1,) * (len(gshape) - 1), min(last, chunk))
    else:
        zchunk = (*(1,) * (len(gshape) - 2), min(gshape[-2], -(-chunk // last)), last)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _build(tmp, spec, n_points, chunk, fingerprint, grid, dims, attrs, zchunk)
        if path.exists():
            path.rmdir()  # empty (checked by the caller)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if (path.parent / "zarr.json").is_file():  # a store inside a store: the enclosing metadata lists it
        with _quiet():
            zarr.consolidate_metadata(str(path.parent))
    return zarr.open_group(str(path), mode="r+")


def _build(tmp: Path, spec, n_points, chunk, fingerprint, grid, dims, attrs, zchunk) -> None:
    import zarr

    gshape = tuple(v.size for _, v in grid)
    names = [d for d, _ in grid]
    group = zarr.open_group(str(tmp), mode="w", attributes={
        "fingerprint": fingerprint, "n_points": n_points, "chunk": chunk, "format": FORMAT,
        "about": "a dynagate sweep: NaN (0 for integers) where done == 0; read with xarray.open_zarr",
    })  # fmt: skip
    coords = dict(grid)
    for name, (shape, dt) in spec.items():
        trailing = dims.get(name, [(f"{name}_{i}", None) for i in range(len(shape))])
        for d, v in trailing:
            if v is not None:
                coords[d] = np.asarray(v)
        fill = np.nan if np.dtype(dt).kind == "f" else 0
        group.create_array(name, shape=(*gshape, *shape), chunks=(*zchunk, *shape), dtype=dt, fill_value=fill,
                           dimension_names=(*names, *(d for d, _ in trailing)),
                           attributes=_plain(attrs.get(name, {})))  # fmt: skip
    group.create_array(DONE, shape=gshape, chunks=zchunk, dtype="uint8", fill_value=0, dimension_names=names,
                       attributes={"long_name": "point finished (1) or not yet computed (0)"})  # fmt: skip
    n_chunks = math.ceil(n_points / chunk)
    about = f"SHA-256 (first 8 bytes) of each chunk of {chunk} points and of the sweep's fingerprint"
    group.create_array(CHECKSUM, shape=(n_chunks,), chunks=(min(n_chunks, 4096),), dtype="uint64",
                       fill_value=0, dimension_names=("chunk",), attributes={"long_name": about})  # fmt: skip
    for d, v in coords.items():
        a = group.create_array(d, shape=v.shape, dtype=v.dtype, dimension_names=(d,))
        a[...] = v
    with _quiet():
        zarr.consolidate_metadata(str(tmp))


def _plain(attrs: dict) -> dict:
    """Attributes as JSON values (arrays become lists)."""
    return {k: v.tolist() if isinstance(v, (np.ndarray, np.generic)) else v for k, v in attrs.items()}


def _read(arr, idx: np.ndarray, shape: tuple, point_shape: tuple) -> np.ndarray:
    """The values of the flat points idx[0] .. idx[-1] of ``arr`` (grid ``shape``)."""
    out = np.empty((idx.size, *point_shape), arr.dtype)
    for sel, a, b in _runs(int(idx[0]), int(idx[-1]) + 1, shape):
        out[a:b] = arr[sel]
    return out


def _verified(group, spec, parts, fingerprint, gshape):
    """The stored values (flat) and which chunks are finished and intact; warns about the others."""
    n = math.prod(gshape)
    # every array read whole; a zarr chunk that cannot be decoded is reset to the fill value (a whole-chunk
    # write reads nothing), so that the sweep chunks over it fail their checksum and are written again
    whole = {name: _read_all(group[name]) for name in (*spec, DONE, CHECKSUM)}
    values = {name: whole[name].reshape(n, *shape) for name, (shape, _) in spec.items()}
    flags = whole[DONE].reshape(-1).astype(bool)
    sums = whole[CHECKSUM]
    finished = np.array([flags[idx].all() for idx in parts], bool)
    ok = np.zeros(len(parts), bool)
    for c in np.flatnonzero(finished):
        idx = parts[c]
        chunk_values = {name: values[name][idx] for name in spec}
        ok[c] = checksum(fingerprint, int(c), chunk_values, spec) == int(sums[c])
    for c in np.flatnonzero(~ok):  # what is not verified is not returned
        for name, (_, dt) in spec.items():
            values[name][parts[c]] = np.nan if np.dtype(dt).kind == "f" else 0
    bad = int(finished.sum() - ok.sum())
    if bad:
        warnings.warn(
            f"{_store_path(group)}: {bad} of {int(finished.sum())} finished chunks failed verification "
            "(missing, altered or unreadable data) and are computed again",
            StoreWarning,
            stacklevel=4,
        )
    return values, ok


def _read_all(arr) -> np.ndarray:
    """All of ``arr``; a zarr chunk that cannot be read is reset to the fill value first."""
    try:
        return np.asarray(arr[...])
    except Exception:
        pass
    fill = arr.fill_value
    for block in np.ndindex(*arr.cdata_shape):
        try:
            arr.blocks[block]
        except Exception:
            shape = [min(c, n - i * c) for i, c, n in zip(block, arr.chunks, arr.shape)]
            arr.blocks[block] = np.full(shape, fill, arr.dtype)
    return np.asarray(arr[...])


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
    grid: Sequence | None = None,
    dims: dict | None = None,
    attrs: dict | None = None,
    lock_store: bool = True,
) -> dict[str, np.ndarray]:
    """Compute ``task`` over all points (see the module doc); returns {name: (n_points, *shape) array}.

    ``progress``: show a progress bar (default: when stderr is a terminal). With ``store``, finished
    (and verified) chunks are skipped and new ones written as they complete; ``grid``, ``dims`` and
    ``attrs`` describe the store (:func:`open_store`); ``lock_store=False`` when the caller already holds
    a :func:`lock` that covers the store. Ctrl-C raises :class:`~dynagate.errors.Interrupted` once the
    finished chunks are written.
    """
    if chunk < 1:
        raise InputError(f"chunk must be >= 1, got {chunk}")
    if store is None:
        return _run(task, n_points, spec, chunk, None, fingerprint, client, progress, description, grid)
    with lock(store) if lock_store else contextlib.nullcontext():
        group, chunk = open_store(store, spec, n_points, chunk, fingerprint, grid=grid, dims=dims,
                                  attrs=attrs)  # fmt: skip
        return _run(task, n_points, spec, chunk, group, fingerprint, client, progress, description, grid)


def _run(task, n_points, spec, chunk, group, fingerprint, client, progress, description, grid):
    parts = chunks(n_points, chunk)
    _, gshape = _layout(n_points, grid)
    if group is None:
        out = {name: np.full((n_points, *shape), np.nan if np.dtype(dt).kind == "f" else 0, dtype=dt)
               for name, (shape, dt) in spec.items()}  # fmt: skip
        done = np.zeros(len(parts), bool)
    else:
        out, done = _verified(group, spec, parts, fingerprint, gshape)
    todo = np.flatnonzero(~done).tolist()

    def accept(c: int, values: dict) -> None:
        idx = parts[c]
        chunk_values = {}
        for name, (shape, dt) in spec.items():
            chunk_values[name] = np.asarray(values[name], dtype=dt).reshape(len(idx), *shape)
            out[name][idx] = chunk_values[name]
        if group is not None:
            for name, v in chunk_values.items():
                for sel, a, b in _runs(int(idx[0]), int(idx[-1]) + 1, gshape):
                    group[name][sel] = v[a:b]
            group[CHECKSUM][c] = np.uint64(checksum(fingerprint, c, chunk_values, spec))
            for sel, _a, _b in _runs(int(idx[0]), int(idx[-1]) + 1, gshape):
                group[DONE][sel] = 1
        done[c] = True

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
    except KeyboardInterrupt as e:
        if isinstance(e, Interrupted):
            raise
        where = "nothing is kept (no store)" if group is None else \
            f"{int(done.sum())} of {len(parts)} chunks are kept in {_store_path(group)}"  # fmt: skip
        raise Interrupted(f"{description}: {where}") from None
    finally:
        bar.close()
    return out


def _store_path(group) -> str:
    root = getattr(group.store, "root", None)
    return str(Path(root) / group.path) if root is not None else str(group.store_path)


def _bar(total: int, initial: int, description: str, progress: bool | None):
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    return tqdm(
        total=total, initial=initial, desc=description, unit="chunk", file=sys.stderr, disable=not show
    )
