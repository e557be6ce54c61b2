"""What a network is: ensembles (hyperparameters) and realisations (sampled weights)."""

from .base import Ensemble, Flow, Map, System, sample
from .gated import GatedNet, GatedRNN
from .gru import GRU, GRUNet
from .init import ChronoInit, UniformGateInit
from .interop import from_torch
from .lstm import LSTM, LSTMNet
from .vanilla import VanillaNet, VanillaRNN

#: CLI / config names of the built-in models.
MODELS: dict[str, type[Ensemble]] = {
    "vanilla": VanillaRNN,
    "gated": GatedRNN,
    "gru": GRU,
    "lstm": LSTM,
}

__all__ = [
    "GRU",
    "LSTM",
    "MODELS",
    "ChronoInit",
    "Ensemble",
    "Flow",
    "GRUNet",
    "GatedNet",
    "GatedRNN",
    "LSTMNet",
    "Map",
    "System",
    "UniformGateInit",
    "VanillaNet",
    "VanillaRNN",
    "from_torch",
    "sample",
]
