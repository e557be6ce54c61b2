"""The discrete-time DMFT of the LSTM (dynagate.meanfield.lstm_dmft) against independent truth: the closed
form of a memoryless map, the zero state's Jacobian, simulated networks."""

import json
import math

import jax
import numpy as np
import pytest
import scipy.optimize
from scipy.special import expit

import dynagate as dg
from dynagate.errors import InputError
from dynagate.io import load_dataset
from dynagate.meanfield import dmft, dmft_stats
from dynagate.meanfield.dmft import default_solver
from dynagate.meanfield.lstm_dmft import LSTMMonteCarlo, MapOptions
from dynagate.phase.theory import dmft_column
from dynagate.validate import LSTM_SETS, LSTM_SIZES, set_label


def test_a_forgetless_lstm_with_constant_gates_is_the_closed_delta_one_map():
    # f = sigma(-60) = 0 and constant i, o (g_i = g_f = g_o = 0): c' = i u, h' = o tanh(i tanh(W_u h)), so
    # x = W_u h is the delta = 1 map x' = g_u W phi(x) with phi(x) = o tanh(i tanh x), whose DMFT closes
    # (Molgedey, Schuchhardt & Schuster 1992): Delta_x = g_u^2 <phi^2>_{Delta_x}, E h^2 = Delta_x / g_u^2,
    # lambda_max = 1/2 ln(g_u^2 <phi'^2>_{Delta_x}). This checks the sampled fields, the gates, the cell
    # recursion's periodic solution and the tangent's input and output terms. Observed: E h^2 within 0.1%
    # (1.6 standard errors), lambda_max within 1.2% (standard error 0.7%).
    g_u, mu_i, mu_o = 3.0, 1.0, 0.5
    i, o = expit(mu_i), expit(mu_o)
    x, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    t = lambda y: np.tanh(i * np.tanh(y))  # noqa: E731
    d = scipy.optimize.brentq(lambda d: g_u**2 * o**2 * (w @ t(np.sqrt(d) * x) ** 2) - d, 1e-3, 100.0)
    dphi = o * i * (1 - t(np.sqrt(d) * x) ** 2) * (1 - np.tanh(np.sqrt(d) * x) ** 2)
    lam = 0.5 * math.log(g_u**2 * (w @ dphi**2))
    ens = dg.LSTM(g_i=0.0, g_f=0.0, g_o=0.0, g_u=g_u, mu_f=-60.0, mu_i=mu_i, mu_o=mu_o)
    res = LSTMMonteCarlo(MapOptions(n_lags=32))(ens, key=jax.random.PRNGKey(0))
    assert res.status == "converged" and res.per_step
    assert res.delta0 == pytest.approx(d / g_u**2, rel=0.01)
    assert abs(res.lambda_max - lam) <= max(0.03 * lam, 3 * res.stderr["lambda_max"])


def test_the_zero_state_is_no_chaos_with_the_log_spectral_radius_and_the_dmft_column():
    # mu_u = s_u = 0 and g = 1: h = c = 0 is a fixed point and the iteration settles there. Its Jacobian is
    # [[W_u / 4, I / 4], [W_u / 2, I / 2]] (i = f = o = 1/2, u = 0) = [1/4; 1/2] (x) [W_u, I], whose non-zero
    # eigenvalues are those of W_u / 4 + I / 2: a disk of radius g_u / 4 about 1/2 (Girko).
    res = dmft(dg.LSTM(g_u=1.2), key=jax.random.PRNGKey(0))
    assert res.status == "no_chaos" and res.delta0 == 0.0
    assert res.lambda_max == pytest.approx(math.log(0.5 + 1.2 / 4), abs=3e-3)
    # the phase diagram's DMFT column: chaos at g_u = 4 (lambda_max 0.057 per step at the column's lighter
    # settings), none at 1.2, so the line lies between (one bisection step: 1.75 or 3.25)
    col = dmft_column(dg.LSTM(), ("g_u", [1.2, 4.0]), iters=1)
    assert np.isnan(col["lambda_dmft"][0]) and 0.03 < col["lambda_dmft"][1] < 0.09
    assert 1.2 < col["line_dmft"] < 4.0


def test_registration_and_bad_input():
    assert isinstance(default_solver(dg.LSTM()), LSTMMonteCarlo)
    with pytest.raises(InputError, match="PRNGKey"):
        dmft(dg.LSTM(g_u=4.0))
    with pytest.raises(InputError, match="n_in"):
        dmft(dg.LSTM(n_in=2), key=jax.random.PRNGKey(0))
    with pytest.raises(InputError, match="LSTM ensemble"):
        LSTMMonteCarlo()(dg.GRU(), key=jax.random.PRNGKey(0))
    user = dg.Map(lambda s: 0.5 * s)
    with pytest.raises(InputError, match="GRU, GatedRNN, LSTM, VanillaRNN"):
        dmft(user, key=jax.random.PRNGKey(0))


def test_cli_dmft_lstm_per_step(tmp_path, capsys):
    from dynagate.cli import main

    out = tmp_path / "d"
    argv = ["dmft", "lstm", "--set", "g_u=4", "--samples", "300", "--json", "--out", str(out)]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["method"] == "lstm-montecarlo" and res["units"] == "per step"
    assert res["status"] == "converged" and 0.03 < res["lambda_max"] < 0.09  # 0.059 at 1000 paths
    assert (out / "dmft.nc").exists() and (out / "dmft.png").exists()
    attrs = load_dataset(out / "dmft.nc").attrs  # what makes the sampled run repeatable
    assert attrs["seed"] == 0 and json.loads(attrs["solver_options"])["n_samples"] == 300
    assert attrs["solver"].startswith("LSTMMonteCarlo")


@pytest.mark.slow
@pytest.mark.parametrize(
    "params, n",
    list(zip(LSTM_SETS, LSTM_SIZES)),
    ids=[set_label(p) for p in LSTM_SETS],
)
def test_lstm_dmft_against_simulated_networks(params, n, dmft_against_networks):
    # Three networks per set (dynagate.validate.LSTM_SETS; also `dynagate validate --only lstm_dmft`):
    # Delta0 within 5%, the e-folding time of C_h within 15%, lambda_max per step within 10% or 3 combined
    # standard errors; at the stable set, E h^2 and lambda_max (ln of the RMT radius) of the fixed point.
    # Observed (theory / simulated): g_u = 4: Delta0 0.0694 / 0.0696, e-fold 8.59 / 8.66, lambda 0.0605 /
    # 0.0561; all gates g = 2: 0.0761 / 0.0768, 7.52 / 7.80, 0.0838 / 0.0784; mu_f = 1, s_f = 1: 0.1378 /
    # 0.1372, 25.5 / 24.5, 0.0542 / 0.0522; UR-LSTM: 0.0682 / 0.0682, 9.03 / 9.01, 0.0556 / 0.0518; stable:
    # E h^2 0.0507 / 0.0511, lambda -0.247 / -0.249; slow chaos (mu_f = 4, N = 2000): Delta0 0.2544 / 0.2551,
    # e-fold 131 / 137, lambda 0.0332 / 0.0307 +- 0.0008.
    dmft_against_networks(dg.LSTM(**params), n)


@pytest.mark.slow
def test_chaotic_state_spectrum_against_instantaneous_jacobians():
    # the RMT support of the full (h, c) Jacobian at the DMFT's sampled single-site law (c_t, the gates of
    # step t) against the eigenvalues of the Jacobian of a chaotic network (N = 1000, a 2000 x 2000 matrix)
    # at four states 50 steps apart: the mean spectral radius and rightmost point within 5% of the
    # support's extent. One snapshot's radius varies by about +-0.03 (2% of the extent) between states, as
    # does the RMT radius at each snapshot's own empirical law: the edge of a finite network fluctuates.
    # Observed: 1.130 against 1.101-1.167 (mean 1.135, 0.4% of the extent away).
    from dynagate import rmt
    from dynagate.spectra import relaxed_state

    e = dg.LSTM(g_u=4.0, g_f=2.0, g_i=2.0, g_o=2.0)
    res = dmft(e, key=jax.random.PRNGKey(5))
    sp = rmt.support(rmt.structure(e, dmft_stats(res)))
    extent = float(sp.rightmost - sp.leftmost)
    net = dg.sample(e, 1000, key=jax.random.PRNGKey(6))
    s = relaxed_state(net, key=jax.random.PRNGKey(7), steps=500)
    radius, right = [], []
    for _ in range(4):
        eigs = np.linalg.eigvals(np.asarray(dg.jacobian(net, s)))
        radius.append(np.abs(eigs).max())
        right.append(eigs.real.max())
        s = dg.simulate(net, s, steps=50, save_every=50).states[-1]
    print(f"\nradius {float(sp.radius):.4f} vs {np.round(radius, 4)}; rightmost {float(sp.rightmost):.4f} vs "
          f"{np.round(right, 4)}; extent {extent:.3f}")  # fmt: skip
    assert abs(float(sp.radius) - np.mean(radius)) < 0.05 * extent
    assert abs(float(sp.rightmost) - np.mean(right)) < 0.05 * extent
