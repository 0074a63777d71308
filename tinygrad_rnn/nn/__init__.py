"""Layers and models built from primitives: Module, Parameter, containers, Linear, Embedding, LayerNorm,
Dropout, RNNCell, RNN."""

from .containers import ModuleDict, ModuleList, Sequential
from .dropout import Dropout
from .layers import Embedding, Linear
from .module import Module, Parameter
from .norm import LayerNorm
from .rnn import RNN, RNNCell, recurrence

__all__ = ["RNN", "Dropout", "Embedding", "LayerNorm", "Linear", "Module", "ModuleDict", "ModuleList", "Parameter",
           "RNNCell", "Sequential", "recurrence"]
