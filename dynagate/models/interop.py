"""Import trained PyTorch recurrent modules as dynagate networks.

:func:`from_torch` turns a one-layer, unidirectional ``torch.nn.GRU`` / ``torch.nn.LSTM`` or a
``torch.nn.GRUCell`` / ``torch.nn.LSTMCell`` into a :class:`~dynagate.models.gru.GRUNet` /
:class:`~dynagate.models.lstm.LSTMNet` whose ``rhs(state, x)`` is one step of the torch module, so every
analysis (Jacobians, Lyapunov spectra, fixed points) runs on the trained weights. The nets use
PyTorch's own layout, so the weights are copied unchanged (as float64):

=====================================  ===============================  =================================
torch (``nn.GRU`` / ``nn.LSTM``)       torch (``*Cell``)                dynagate net
=====================================  ===============================  =================================
``weight_ih_l0`` (3N or 4N, d)         ``weight_ih``                    ``W_ih``
``weight_hh_l0`` (3N or 4N, N)         ``weight_hh``                    ``W_hh``
``bias_ih_l0`` (3N or 4N,)             ``bias_ih``                      ``b_ih`` (zeros when bias=False)
``bias_hh_l0`` (3N or 4N,)             ``bias_hh``                      ``b_hh`` (zeros when bias=False)
=====================================  ===============================  =================================

Gate blocks keep torch's order: (r, z, n) for the GRU (``reset="after"``, torch's convention) and
(i, f, g, o) for the LSTM, where torch's cell candidate g is the net's ``u``. The GRU state is h; the LSTM
state is the flat vector ``[h, c]`` (length 2N). ``batch_first`` only changes how torch lays out a
batch of sequences, not the weights, so it is accepted either way; the imported net steps one unbatched
input vector ``x`` of length d at a time. Imported nets have ``ensemble=None``.

torch is imported only inside :func:`from_torch`, so dynagate itself does not need it.
"""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from .gru import GRUNet
from .lstm import LSTMNet

_INSTALL_HINT = "pip install torch==2.13.0 (or pip install 'dynagate[torch]')"


def _to_jax(t):
    return jnp.asarray(t.detach().cpu().double().numpy())


def _weights(what: str, w_ih, w_hh, b_ih, b_hh, n_gates: int, n: int):
    W_ih, W_hh = _to_jax(w_ih), _to_jax(w_hh)
    b_ih = jnp.zeros(n_gates * n) if b_ih is None else _to_jax(b_ih)
    b_hh = jnp.zeros(n_gates * n) if b_hh is None else _to_jax(b_hh)
    for name, a in (("weight_ih", W_ih), ("weight_hh", W_hh), ("bias_ih", b_ih), ("bias_hh", b_hh)):
        if not bool(np.all(np.isfinite(np.asarray(a)))):
            raise InputError(f"from_torch: {what} has non-finite entries in {name}")
    return {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b_ih, "b_hh": b_hh}


def from_torch(module) -> GRUNet | LSTMNet:
    """A dynagate network with the weights of a PyTorch GRU or LSTM.

    Args:
        module: a ``torch.nn.GRU`` or ``torch.nn.LSTM`` (one layer, unidirectional, no ``proj_size``;
            ``bias`` and ``batch_first`` either way), or a ``torch.nn.GRUCell`` / ``torch.nn.LSTMCell``.

    Returns:
        A :class:`GRUNet` (state h, length N) or :class:`LSTMNet` (state ``[h, c]``, length 2N) whose
        ``rhs(state, x)`` equals one step of ``module`` on the input vector ``x`` (length d), in float64.
        The layout mapping is in the module docstring.

    Raises:
        InputError: torch is not installed, or the module type or one of its options is not supported,
            or a weight is not finite.

    Warns:
        UserWarning: the module is a subclass that overrides ``forward`` (only its weights are imported).
    """
    try:
        import torch
    except ImportError:
        raise InputError(f"from_torch needs PyTorch: {_INSTALL_HINT}") from None
    nn = torch.nn
    what = type(module).__name__
    if isinstance(module, (nn.GRU, nn.LSTM)):
        if module.num_layers != 1:
            raise InputError(
                f"from_torch: {what} with num_layers={module.num_layers} is not supported (one layer only)"
            )
        if module.bidirectional:
            raise InputError(f"from_torch: bidirectional {what} is not supported (unidirectional only)")
        if getattr(module, "proj_size", 0) > 0:
            raise InputError(f"from_torch: {what} with proj_size={module.proj_size} is not supported")
        w = (
            module.weight_ih_l0,
            module.weight_hh_l0,
            getattr(module, "bias_ih_l0", None) if module.bias else None,
            getattr(module, "bias_hh_l0", None) if module.bias else None,
        )
    elif isinstance(module, (nn.GRUCell, nn.LSTMCell)):
        w = (module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh)
    else:
        raise InputError(
            f"from_torch: unsupported module {what}; expected torch.nn.GRU, LSTM, GRUCell or LSTMCell"
        )
    base = next(c for c in (nn.GRU, nn.LSTM, nn.GRUCell, nn.LSTMCell) if isinstance(module, c))
    if type(module).forward is not base.forward:
        warnings.warn(f"from_torch: {what} overrides forward(); its custom forward is ignored: the imported "
                      f"net steps the standard torch.nn.{base.__name__} cell with the module's weights",
                      UserWarning, stacklevel=2)  # fmt: skip
    n = module.hidden_size
    if isinstance(module, (nn.GRU, nn.GRUCell)):
        return GRUNet(**_weights(what, *w, 3, n), reset="after", ensemble=None)
    return LSTMNet(**_weights(what, *w, 4, n), ensemble=None)
