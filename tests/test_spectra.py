"""Empirical spectra: eigenvalues, radius, rightmost point, stability, slow modes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynagate as dg
from dynagate.spectra import Spectrum, relaxed_state, slow_fraction, spectrum


def test_linear_map_and_flow_spectra_are_the_matrix_eigenvalues():
    A = jax.random.normal(jax.random.PRNGKey(0), (30, 30)) / np.sqrt(30)
    ref = np.linalg.eigvals(np.asarray(A))
    s = jnp.zeros(30)
    m, f = spectrum(dg.Map(lambda u: A @ u), s), spectrum(dg.Flow(lambda u: A @ u), s)
    assert np.allclose(np.sort_complex(m.eigenvalues), np.sort_complex(ref), atol=1e-12)
    assert m.spectral_radius == np.abs(ref).max()
    assert m.rightmost.real == ref.real.max() == f.rightmost.real
    assert m.stable == (np.abs(ref).max() < 1) and f.stable == (ref.real.max() < 0)


def test_slow_fraction():
    eigs = jnp.array([0.0, 0.005, -0.02, 1.0 + 0.001j, 0.5])
    # counts of 5 points; approx only for the round-off of the mean
    assert float(slow_fraction(eigs, 0.01, is_flow=True)) == pytest.approx(2 / 5, abs=1e-15)
    assert float(slow_fraction(eigs, 0.01, is_flow=False)) == pytest.approx(1 / 5, abs=1e-15)
    assert Spectrum(np.asarray(eigs), is_flow=True).slow_fraction(0.03) == pytest.approx(3 / 5, abs=1e-15)


def test_gru_zero_state_threshold_at_gain_two():
    # THEORY.md 10: zero biases, h = 0: J = I/2 + W_n/4, a disk of radius g_n/4 around 1/2, so the zero
    # state is unstable iff g_n > 2. N = 400: the circular-law edge is within ~0.03 of its limit.
    for g_n, stable in ((1.5, True), (2.6, False)):
        net = dg.sample(dg.GRU(g_n=g_n), 400, key=jax.random.PRNGKey(1))
        sp = spectrum(net, jnp.zeros(400))
        assert abs(sp.spectral_radius - (0.5 + g_n / 4)) < 0.03
        assert sp.stable == stable


def test_relaxed_state_of_a_contracting_network_is_the_origin():
    # g = 0.5 < 1: the origin is globally attracting with rate >= 1 - g = 0.5 per unit time, so after
    # 100 time units the distance is below e^-50 times the start.
    net = dg.sample(dg.VanillaRNN(g=0.5), 50, key=jax.random.PRNGKey(0))
    s = relaxed_state(net, key=jax.random.PRNGKey(1))
    assert float(jnp.max(jnp.abs(s))) < 1e-12
    sp = spectrum(net, s)
    assert sp.stable and abs(sp.rightmost.real - (-1 + 0.5)) < 0.1
