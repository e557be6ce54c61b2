"""The sweep store (:mod:`dynagate.sweep`): a dataset while it fills, verified on reopening, one writer.

A sweep of a cheap numpy task (no JAX) whose truth is known in closed form: point i holds a = 2 i and
b = (i, i + 1, i + 2). Every test damages a finished store in one way and checks what the next run does.
"""

import json
import os
import shutil
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
import xarray as xr
import zarr

import dynagate as dg
from dynagate import lockfile, phase, sweep
from dynagate.errors import InputError, Interrupted
from dynagate.phase import diagram
from dynagate.phase.theory import THEORY_SPEC

SPEC = {"a": ((), "float64"), "b": ((3,), "int32")}
GRID = [("y", np.array([0.0, 1.0, 2.0])), ("x", np.array([10.0, 20.0, 30.0, 40.0]))]
N = 12  # points, row-major over GRID
CHUNK = 5  # sweep chunks [0, 5), [5, 10), [10, 12)


class Task:
    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def __call__(self, idx):
        if len(self.calls) == self.stop_at:
            raise KeyboardInterrupt
        self.calls.append(int(idx[0]))
        return {"a": idx * 2.0, "b": np.stack([idx, idx + 1, idx + 2], 1)}


def truth():
    i = np.arange(N)
    return {"a": i * 2.0, "b": np.stack([i, i + 1, i + 2], 1)}


def run(store, task=None, **kwargs):
    task = Task() if task is None else task
    out = sweep.run(task, N, SPEC, chunk=CHUNK, store=store, fingerprint="fp", grid=GRID,
                    dims={"b": [("k", [1, 2, 3])]}, **kwargs)  # fmt: skip
    return out, task.calls


def same(out, want=None):
    want = truth() if want is None else want
    for name in SPEC:
        np.testing.assert_array_equal(out[name], want[name])


def test_the_store_is_a_dataset_while_it_fills(tmp_path):
    store = tmp_path / "s"
    with pytest.raises(Interrupted, match=r"2 of 3 chunks are kept in .*s$"):
        run(store, Task(stop_at=2))
    ds = xr.open_zarr(store)  # no warning either: the metadata is consolidated
    assert ds.a.dims == ("y", "x") and ds.b.dims == ("y", "x", "k")
    np.testing.assert_array_equal(ds.x, GRID[1][1])
    np.testing.assert_array_equal(ds.k, [1, 2, 3])
    done = np.arange(N).reshape(3, 4) < 10  # the first two chunks
    np.testing.assert_array_equal(ds.done, done)
    a = np.asarray(ds.a)
    np.testing.assert_array_equal(a[done], truth()["a"][:10])
    assert np.all(np.isnan(a[~done]))  # NaN where not done
    out, calls = run(store)
    assert calls == [10]  # only the unfinished chunk
    same(out)
    np.testing.assert_array_equal(xr.open_zarr(store).b, truth()["b"].reshape(3, 4, 3))


def test_ctrl_c_without_a_store_says_nothing_is_kept():
    with pytest.raises(Interrupted, match="nothing is kept"):
        sweep.run(Task(stop_at=1), N, SPEC, chunk=CHUNK)


def chunk_file(store, name, *block):
    return store / name / "c" / "/".join(str(b) for b in block)


@pytest.mark.parametrize(
    ("damage", "recomputed"),
    [
        # zarr chunks hold 2 rows (8 points): the second one is points 8-11, in sweep chunks 1 and 2
        (lambda s: os.remove(chunk_file(s, "a", 1, 0)), [5, 10]),
        (lambda s: chunk_file(s, "b", 0, 0, 0).write_bytes(b"not zstd"), [0, 5]),
        (lambda s: zarr.open_group(s, mode="r+")["a"].__setitem__((0, 1), 99.0), [0]),
        (lambda s: zarr.open_group(s, mode="r+")["b"].__setitem__((2, 2, 0), 7), [10]),
        (lambda s: chunk_file(s, "checksum", 0).write_bytes(b"xx"), [0, 5, 10]),
        (lambda s: zarr.open_group(s, mode="r+")["checksum"].__setitem__(1, 0), [5]),
        (lambda s: os.remove(chunk_file(s, "done", 0, 0)), [0, 5]),
    ],
    ids=[
        "deleted-chunk",
        "corrupt-chunk",
        "altered-value",
        "altered-int",
        "corrupt-checksums",
        "wrong-checksum",
        "deleted-flags",
    ],
)
def test_damaged_chunks_are_computed_again_with_one_warning(damage, recomputed, tmp_path):
    store = tmp_path / "s"
    run(store)
    damage(store)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out, calls = run(store)
    assert calls == recomputed
    same(out)
    notes = [str(w.message) for w in seen if w.category is sweep.StoreWarning]
    if "done" in damage.__code__.co_consts:  # lost flags: those chunks are simply not finished
        assert notes == []
    else:
        assert len(notes) == 1 and f"{len(recomputed)} of 3 finished chunks failed verification" in notes[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", sweep.StoreWarning)
        out, calls = run(store)  # repaired: nothing left to do
    assert calls == []
    same(out)


@pytest.mark.parametrize("how", ["missing", "garbage"])
def test_lost_array_metadata_is_restored_from_the_consolidated_copy(how, tmp_path):
    store = tmp_path / "s"
    run(store)
    meta = store / "a" / "zarr.json"
    meta.unlink() if how == "missing" else meta.write_text("{garbage")
    with pytest.warns(sweep.StoreWarning, match=r"restored the metadata of 1 array \(a\)"):
        out, calls = run(store)
    assert calls == [] and json.loads(meta.read_text())["node_type"] == "array"
    same(out)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda s: (s / "zarr.json").unlink(),
            "damaged sweep store .its group metadata zarr.json is missing",
        ),
        (
            lambda s: (s / "zarr.json").write_text("{"),
            "damaged sweep store .its group metadata cannot be read",
        ),
        (
            lambda s: (s / "zarr.json").write_text("{}"),
            "damaged sweep store .its group metadata cannot be read",
        ),
        (lambda s: _strip_consolidated(s, remove="a"), "array 'a' is missing or unreadable"),
    ],
    ids=["no-group-metadata", "garbage-group-metadata", "empty-group-metadata", "array-lost"],
)
def test_an_unreadable_store_is_refused_in_one_line(damage, message, tmp_path):
    store = tmp_path / "s"
    run(store)
    damage(store)
    with pytest.raises(InputError, match=message) as e:
        run(store)
    assert "\n" not in str(e.value) and "--restart" in str(e.value)


def _strip_consolidated(store, remove):
    meta = json.loads((store / "zarr.json").read_text())
    meta.pop("consolidated_metadata")
    (store / "zarr.json").write_text(json.dumps(meta))
    shutil.rmtree(store / remove)


def test_a_store_of_another_sweep_or_layout_is_refused(tmp_path):
    store = tmp_path / "s"
    run(store)
    with pytest.raises(InputError, match="holds a different sweep"):
        sweep.run(Task(), N, SPEC, chunk=CHUNK, store=store, fingerprint="other", grid=GRID)
    old = tmp_path / "old"  # the layout before format 2: no format attribute
    zarr.open_group(old, mode="w", attributes={"fingerprint": "fp", "n_points": N, "chunk": CHUNK})
    with pytest.raises(InputError, match="older version of dynagate"):
        run(old)


def test_the_checksum_covers_values_fingerprint_and_chunk():
    values = {"a": np.arange(5.0), "b": np.ones((5, 3), np.int32)}
    ref = sweep.checksum("fp", 0, values, SPEC)
    assert ref == sweep.checksum("fp", 0, {k: v.copy() for k, v in values.items()}, SPEC)
    assert ref != sweep.checksum("fp2", 0, values, SPEC)
    assert ref != sweep.checksum("fp", 1, values, SPEC)
    changed = values | {"a": np.arange(5.0) + np.finfo(float).eps * 4}
    assert ref != sweep.checksum("fp", 0, changed, SPEC)


HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()} host".encode())
print("held", flush=True)
sys.stdin.read()
"""


def test_one_writer_per_store(tmp_path):
    store = tmp_path / "s"
    with lockfile.lock(store) as file:
        assert file == tmp_path / "s.lock" and file.read_text().split()[0] == str(os.getpid())
        held = rf"in use by another run \(pid {os.getpid()}, lock file .*s\.lock\)"
        with pytest.raises(InputError, match=held):
            run(store)
    assert not (tmp_path / "s.lock").exists()  # released
    # another live process holds it: refused at once, naming that process
    other = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "s.lock")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert other.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match=rf"in use by another run \(pid {other.pid}, "):
            run(store)
    finally:
        other.communicate("")
    # that process is gone; its lock file stays behind, with its pid: taken over
    assert (tmp_path / "s.lock").read_text().split()[0] == str(other.pid)
    out, calls = run(store)
    assert calls == [0, 5, 10]
    same(out)
    assert not (tmp_path / "s.lock").exists()


# ------------------------------------------------------------------------------- the phase-diagram store


def test_phase_diagram_store_opens_with_xarray(tmp_path, monkeypatch):
    # the DMFT columns replaced by a known function (the store is under test, not the DMFT)
    def fake_column(ensemble, y):
        lam = ensemble.g * np.asarray(y[1])
        return {"lambda_dmft": lam, "delta0_dmft": lam + 1, "line_dmft": ensemble.g}

    def fake_theory(ensemble, **kwargs):
        return {k: np.asarray(ensemble.g + 10 * ensemble.mu_b, dt) for k, (_, dt) in THEORY_SPEC.items()}

    monkeypatch.setattr(diagram, "dmft_column", fake_column)
    monkeypatch.setattr(diagram, "has_dmft", lambda e: True)
    monkeypatch.setattr(diagram, "theory_point", fake_theory)
    monkeypatch.setattr(diagram, "has_theory", lambda e: False)  # no theory lines
    monkeypatch.setattr(diagram, "sample", lambda *a, **k: types.SimpleNamespace(is_flow=True))  # no compile
    grid = {"x": ("g", [0.5, 0.8, 1.1]), "y": ("mu_b", [0.0, 0.5])}
    store = tmp_path / "pd"
    ds = phase.phase_diagram(dg.VanillaRNN(), **grid, dmft=True, store=store, chunk=4)
    points = xr.open_zarr(store)
    assert points.f0_low.dims == ("mu_b", "g") and points.attrs["format"] == sweep.FORMAT
    np.testing.assert_array_equal(points.f0_low, ds.f0_low)
    np.testing.assert_array_equal(points.f0_low, [[0.5, 0.8, 1.1], [5.5, 5.8, 6.1]])
    np.testing.assert_array_equal(points.branches, ds.branches)
    assert points.rate_low.attrs["units"] == "per unit time (tau_h = 1)"
    assert np.all(points.done == 1)
    cols = xr.open_zarr(store, group="dmft")
    assert cols.lambda_dmft.dims == ("g", "mu_b")
    np.testing.assert_allclose(cols.lambda_dmft, np.outer([0.5, 0.8, 1.1], [0.0, 0.5]))
    np.testing.assert_array_equal(ds.lambda_dmft, cols.lambda_dmft.T)
    assert not (tmp_path / "pd.lock").exists()
    # the swept hyperparameters are axes, not parameters: their base values were not used
    assert set(json.loads(ds.attrs["parameters"])) == set(dg.VanillaRNN().params()) - {"g", "mu_b"}
    swept = json.loads(ds.attrs["swept"])
    assert swept["g"] == {"start": 0.5, "stop": 1.1, "num": 3}
    assert swept["mu_b"] == {"start": 0.0, "stop": 0.5, "num": 2}


def test_phase_diagram_refuses_a_store_in_use_and_the_old_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(diagram, "sample", lambda *a, **k: types.SimpleNamespace(is_flow=True))  # no compile
    grid = {"x": ("g", [0.5, 1.0]), "y": ("mu_b", [0.0, 1.0])}
    store = tmp_path / "pd"
    with lockfile.lock(store), pytest.raises(InputError, match="in use by another run"):
        phase.phase_diagram(dg.VanillaRNN(), **grid, store=store, restart=True)
    (store / "points").mkdir(parents=True)
    (store / "points" / "zarr.json").write_text("{}")
    with pytest.raises(InputError, match="older version of dynagate"):
        phase.phase_diagram(dg.VanillaRNN(), **grid, store=store)
