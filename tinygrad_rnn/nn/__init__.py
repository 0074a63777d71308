"""Layers and models built from primitives: Module, Parameter, containers, Linear, Embedding, LayerNorm,
Dropout, RNNCell, RNN, GRUCell, GRU, LSTMCell, LSTM."""

from .containers import ModuleDict, ModuleList, Sequential
from .dropout import Dropout
from .layers import Embedding, Linear
from .module import Module, Parameter
from .norm import LayerNorm
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .rnn import recurrence

__all__ = ["GRU", "LSTM", "RNN", "Dropout", "Embedding", "GRUCell", "LSTMCell", "LayerNorm", "Linear", "Module",
           "ModuleDict", "ModuleList", "Parameter", "RNNCell", "Sequential", "recurrence"]
