"""from_torch: imported GRU/LSTM nets reproduce torch's own modules (states and Jacobians)."""

import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynagate
from dynagate import InputError, from_torch
from dynagate.models import GRUNet, LSTMNet

torch = pytest.importorskip("torch")

D, N, T = 5, 24, 100

# (kind, options, recurrent-weight scale); scale 3 makes the dynamics expanding (checked below).
CASES = [
    ("GRU", {"bias": True, "batch_first": False}, 1.0),
    ("GRU", {"bias": False, "batch_first": True}, 3.0),
    ("LSTM", {"bias": True, "batch_first": True}, 1.0),
    ("LSTM", {"bias": False, "batch_first": False}, 3.0),
    ("GRUCell", {"bias": True}, 3.0),
    ("LSTMCell", {"bias": True}, 1.0),
    ("LSTMCell", {"bias": False}, 3.0),
]
IDS = [f"{k}-{'-'.join(f'{a}={v}' for a, v in o.items())}-x{s:g}" for k, o, s in CASES]


def _module(kind, opts, scale, seed=0):
    torch.manual_seed(seed)
    m = getattr(torch.nn, kind)(D, N, **opts).double()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.startswith("weight_hh"):
                p.mul_(scale)
    return m


def _is_lstm(kind):
    return kind.startswith("LSTM")


def _torch_run(m, kind, opts, xs, s0):
    """torch's own trajectory: (T, n_state) with rows [h_t] or [h_t, c_t], t = 1..T."""
    h0, c0 = s0[:N], s0[N:]
    with torch.no_grad():
        if kind in ("GRU", "LSTM"):
            seq = xs[None] if opts["batch_first"] else xs[:, None]  # batch of one
            hx = h0.view(1, 1, N) if kind == "GRU" else (h0.view(1, 1, N), c0.view(1, 1, N))
            out, _ = m(seq, hx)
            hs = out[0] if opts["batch_first"] else out[:, 0]
            if kind == "GRU":
                return hs
            # nn.LSTM returns only h_t per step; rerun one step at a time for c_t
            cs, hx = [], (h0.view(1, 1, N), c0.view(1, 1, N))
            for x in xs:
                _, hx = m(x.view(1, 1, D), hx)
                cs.append(hx[1].view(N))
            return torch.cat([hs, torch.stack(cs)], dim=1)
        out, s = [], (h0 if kind == "GRUCell" else (h0, c0))
        for x in xs:
            s = m(x, s)
            out.append(s if kind == "GRUCell" else torch.cat(s))
        return torch.stack(out)


def _torch_step(m, kind, x):
    """torch's one-step map of the flat state (h or [h, c]), for torch autograd."""

    def step(s):
        if kind == "GRUCell":
            return m(x, s)
        if kind == "LSTMCell":
            return torch.cat(m(x, (s[:N], s[N:])))
        if kind == "GRU":
            return m(x.view(1, 1, D), s.view(1, 1, N))[1].view(N)
        _, (h, c) = m(x.view(1, 1, D), (s[:N].view(1, 1, N), s[N:].view(1, 1, N)))
        return torch.cat([h.view(N), c.view(N)])

    return step


@jax.jit
def _dynagate_run(net, s0, xs):
    def body(s, x):
        s = net.rhs(s, x)
        return s, s

    return jax.lax.scan(body, s0, xs)[1]


def _random_state(kind, scale=0.5):
    return scale * torch.randn(2 * N if _is_lstm(kind) else N, dtype=torch.float64)


@pytest.mark.parametrize(("kind", "opts", "scale"), CASES, ids=IDS)
def test_trajectory_matches_torch(kind, opts, scale):
    m = _module(kind, opts, scale)
    net = from_torch(m)
    assert isinstance(net, LSTMNet if _is_lstm(kind) else GRUNet)
    assert net.ensemble is None and net.n_input == D
    assert net.n_state == (2 * N if _is_lstm(kind) else N)
    torch.manual_seed(1)
    xs = torch.randn(T, D, dtype=torch.float64)
    s0 = _random_state(kind)
    ref = _torch_run(m, kind, opts, xs, s0).numpy()
    got = np.asarray(_dynagate_run(net, jnp.asarray(s0.numpy()), jnp.asarray(xs.numpy())))
    assert ref.shape == got.shape == (T, net.n_state)
    assert np.std(ref[-1]) > 1e-2  # the trajectory has not collapsed to a trivial state
    # float64 round-off (~1e-16 per op, different summation order) stays far below 1e-10 over 100 steps
    assert np.max(np.abs(ref - got)) < 1e-10


@pytest.mark.parametrize(("kind", "opts", "scale"), CASES, ids=IDS)
def test_jacobian_matches_torch_autograd(kind, opts, scale):
    m = _module(kind, opts, scale)
    net = from_torch(m)
    torch.manual_seed(2)
    for _ in range(3):
        x = torch.randn(D, dtype=torch.float64)
        s = _random_state(kind, scale=1.0)
        ref = torch.autograd.functional.jacobian(_torch_step(m, kind, x), s).numpy()
        got = np.asarray(dynagate.jacobian(net, jnp.asarray(s.numpy()), jnp.asarray(x.numpy())))
        # analytic vs reverse-mode float64 Jacobians of O(1) entries agree to round-off (~1e-15)
        assert np.max(np.abs(ref - got)) < 1e-10


@pytest.mark.parametrize(
    ("kind", "opts", "scale"), [c for c in CASES if c[2] > 1], ids=[i for i, c in zip(IDS, CASES) if c[2] > 1]
)
def test_scaled_weights_are_not_contracting(kind, opts, scale):
    """Guards the premise of the scaled cases: somewhere on the trajectory the step expands a direction."""
    m = _module(kind, opts, scale)
    net = from_torch(m)
    torch.manual_seed(1)
    xs = jnp.asarray(torch.randn(T, D, dtype=torch.float64).numpy())
    states = _dynagate_run(net, jnp.asarray(_random_state(kind).numpy()), xs)
    jacs = jax.vmap(dynagate.jacobian, in_axes=(None, 0, 0))(net, states[:-1], xs[1:])
    norms = np.linalg.norm(np.asarray(jacs), ord=2, axis=(1, 2))
    # a spectral norm > 1 is a structural property of these weights, not a round-off question
    assert max(norms) > 1.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.nn.GRU(D, N, num_layers=2),
        lambda: torch.nn.LSTM(D, N, bidirectional=True),
        lambda: torch.nn.LSTM(D, N, proj_size=4),
        lambda: torch.nn.RNN(D, N),
        lambda: torch.nn.Linear(D, N),
    ],
    ids=["gru-2-layers", "lstm-bidirectional", "lstm-proj", "rnn", "linear"],
)
def test_unsupported_modules_raise(make):
    # exact error type and a one-line message: no numerical tolerance involved
    with pytest.raises(InputError, match=r"^from_torch: [^\n]+$"):
        from_torch(make())


def test_non_finite_weights_raise():
    m = torch.nn.GRUCell(D, N)
    with torch.no_grad():
        m.weight_hh[0, 0] = float("nan")
    with pytest.raises(InputError, match="non-finite"):
        from_torch(m)


def test_subclass_with_its_own_forward_warns():
    # only the weights are imported: a custom forward would silently not be what the net steps
    class Doubled(torch.nn.GRU):
        def forward(self, x, h=None):
            return super().forward(2 * x, h)

    class Renamed(torch.nn.LSTMCell):  # a subclass that keeps torch's forward imports silently
        pass

    with pytest.warns(UserWarning, match="Doubled overrides forward.*ignored.*torch.nn.GRU"):
        net = from_torch(Doubled(D, 3))
    assert isinstance(net, GRUNet)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(from_torch(Renamed(D, 3)), LSTMNet)


def test_missing_torch_raises_with_install_hint(monkeypatch):
    # sys.modules[name] = None makes `import torch` raise ImportError, as when torch is not installed
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(InputError, match=r"pip install torch==2\.13\.0.*dynagate\[torch\]"):
        from_torch(object())


def test_dynagate_imports_without_torch():
    # A meta-path finder that refuses torch acts like an uninstalled package (sys.modules["torch"] = None
    # would also break libraries that look torch up in sys.modules, e.g. equinox's pretty-printer).
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is not installed')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import dynagate, jax\n"
        "net = dynagate.sample(dynagate.GRU(), 3, key=jax.random.PRNGKey(0))\n"
        "print(dynagate.from_torch.__name__, net.n)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "from_torch 3"
