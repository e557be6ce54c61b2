"""Phase diagrams: wall-clock times of ``dynagate.phase.phase_diagram`` and the Dask speed-up.

Float64 on JAX's default backend; every case runs in this one process (the Dask workers are processes
of a LocalCluster started here, one thread each).

(1) Theory only, gated RNN over (alpha_r, g_h) = 41 x 41 (static mean field, RMT stability of each
    branch, slow-mode fraction, the theory lines). Target: < 60 s on 2 cores.
(2) Simulated lambda_max map, 11 x 11 at N = 200 (2 networks per point, burn-in 100, observation 100
    time units, RK4 dt = 0.1, with the Jacobian spectra at the end): its time.
(3) The same kind of simulated sweep (N = 100, 6 x 6) on a Dask LocalCluster of 1 and of 2 worker
    processes, after a warm-up sweep on each cluster (compilation in the workers): the ratio of the two
    times. Target: >= 1.6 with 2 workers.
(4) With --gpu-map on a GPU: the simulated 41 x 41 map at N = 1000, its time.

    python benchmarks/phase.py [--quick] [--gpu-map]
"""

import argparse
import time

import jax
import numpy as np

import dynagate as dg
from dynagate import cluster, phase


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def simulated(n, num, seeds=2, **kwargs):
    sim = phase.Simulation(n=n, seeds=seeds)
    axes = {"x": ("alpha_r", np.linspace(0.0, 10.0, num)), "y": ("g_h", np.linspace(1.5, 2.5, num))}
    return lambda: phase.phase_diagram(
        dg.GatedRNN(), **axes, theory=False, simulate=sim, key=jax.random.PRNGKey(0), **kwargs
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller grids (a smoke test of this script)")
    ap.add_argument("--gpu-map", action="store_true", help="also the 41 x 41 map at N = 1000")
    args = ap.parse_args()
    print(f"JAX {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}")

    num = 11 if args.quick else 41
    ds, t = timed(lambda: phase.phase_diagram(dg.GatedRNN(), x=("alpha_r", np.linspace(0.0, 10.0, num)),
                                              y=("g_h", np.linspace(1.5, 2.5, num))))  # fmt: skip
    counts = {r: int((np.asarray(ds.region_theory) == i).sum()) for i, r in enumerate(phase.REGIONS)}
    print(f"(1) theory only, {num} x {num}: {t:.1f} s (target < 60 s); regions {counts}")

    n, num = (64, 5) if args.quick else (200, 11)
    ds, t = timed(simulated(n, num))
    print(f"(2) simulated lambda_max map, {num} x {num} at N = {n}, 2 networks per point: {t:.1f} s "
          f"({t / num**2:.2f} s per point); lambda_max in [{float(ds.lambda_max.min()):.3f}, "
          f"{float(ds.lambda_max.max()):.3f}]")  # fmt: skip

    n, num = (32, 4) if args.quick else (100, 6)
    times = {}
    for workers in (1, 2):
        client = cluster.connect(workers=workers)
        try:
            simulated(n, 2, client=client, chunk=1)()  # warm-up: compile in every worker
            ds, times[workers] = timed(simulated(n, num, client=client, chunk=1))
        finally:
            cluster.close(client)
        print(f"(3) Dask LocalCluster, {workers} worker(s): {num} x {num} at N = {n}: {times[workers]:.1f} s")
    print(f"    speed-up with 2 workers: {times[1] / times[2]:.2f}x (target >= 1.6)")

    if args.gpu_map:
        if jax.default_backend() != "gpu":
            print("(4) skipped: no GPU backend")
        else:
            ds, t = timed(simulated(1000, 41))
            print(f"(4) simulated 41 x 41 map at N = 1000 on {jax.devices()[0].device_kind}: {t:.1f} s")


if __name__ == "__main__":
    main()
