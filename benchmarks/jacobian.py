"""Analytic state-to-state Jacobian vs jax.jacfwd, measured side by side in one run.

Prints, for the GRU, the LSTM (full (h, c) state) and the gated RNN at N = 1024, the best-of-k wall time
of each (both jitted, after compilation) and their ratio. Target: analytic >= 5x faster.

    python benchmarks/jacobian.py [--n 1024] [--repeats 7]
"""

import argparse
import time

import jax

import dynagate as dg


def best_time(fn, *args, repeats):
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=7)
    a = p.parse_args()
    print(f"backend={jax.default_backend()} dtype=float64 N={a.n}")
    print(f"{'model':<10}{'state dim':>10}{'analytic [ms]':>15}{'jacfwd [ms]':>13}{'ratio':>8}")
    analytic = jax.jit(dg.jacobian)
    autodiff = jax.jit(dg.jacobian_autodiff)
    models = {
        "GRU": dg.GRU(n_in=16),
        "LSTM": dg.LSTM(n_in=16),
        "gated": dg.GatedRNN(g_h=3.0, alpha_z=2.0, alpha_r=2.0),
    }
    for name, ens in models.items():
        k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
        net = dg.sample(ens, a.n, key=k1)
        state = jax.random.normal(k2, (net.n_state,))
        x = jax.random.normal(k3, (net.n_input,))
        t_an = best_time(analytic, net, state, x, repeats=a.repeats)
        t_ad = best_time(autodiff, net, state, x, repeats=a.repeats)
        print(f"{name:<10}{net.n_state:>10}{1e3 * t_an:>15.2f}{1e3 * t_ad:>13.2f}{t_ad / t_an:>8.1f}")


if __name__ == "__main__":
    main()
