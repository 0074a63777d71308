"""Layers and models built from primitives: Module, Parameter, Linear, Embedding, RNNCell, RNN."""

from .layers import Embedding, Linear
from .module import Module, Parameter
from .rnn import RNN, RNNCell, recurrence

__all__ = ["RNN", "Embedding", "Linear", "Module", "Parameter", "RNNCell", "recurrence"]
