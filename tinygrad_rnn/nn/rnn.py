"""RNNCell and RNN unrolled over time from primitives only: BPTT is the generic reverse pass."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .layers import check_ids, uniform
from .module import Module, Parameter

_NONLINEARITIES = {"tanh": F.tanh, "relu": F.relu}


def recurrence(xw: Tensor, w_hh: Tensor, h0=None, nonlinearity: str = "tanh") -> tuple[Tensor, Tensor]:
    """h_t = f(xw[:, t] + h_{t-1} W_hhᵀ) for every t of a (B, T, H) input projection.

    Returns all states (B, T, H) and the last (B, H). ``h0=None`` is the zero state, and then
    the first step needs no matrix product. Only the H×H work happens inside the loop.
    """
    h = h0
    states = []
    for t in range(xw.shape[1]):
        if h is None:
            h = _NONLINEARITIES[nonlinearity](xw[:, t])
        else:  # one fused primitive per step: f(h W_hhᵀ + xw_t)
            h = F.linear(h, w_hh, xw[:, t], activation=nonlinearity)
        states.append(h)
    return F.stack(states, axis=1), h


def _check_nonlinearity(nonlinearity: str) -> str:
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


class RNNCell(Module):
    """One step h' = f(W_ih x + b + W_hh h). ``x`` is a float vector (..., input_size) or integer ids,
    which select columns of W_ih: the product with a one-hot vector, without building it."""

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh", bias: bool = True,
                 dtype=np.float64, seed=None):
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"RNNCell: sizes must be positive, got input {input_size}, hidden {hidden_size}")
        self.nonlinearity = _check_nonlinearity(nonlinearity)
        rng = np.random.default_rng(seed)
        bound = 1 / np.sqrt(hidden_size)
        self.weight_ih = Parameter(uniform(rng, bound, (hidden_size, input_size), dtype))
        self.weight_hh = Parameter(uniform(rng, bound, (hidden_size, hidden_size), dtype))
        self.bias = Parameter(uniform(rng, bound, (hidden_size,), dtype)) if bias else None

    def project(self, x) -> Tensor:
        """W_ih x (+ b) for inputs of any leading shape: one gather for ids, one matmul for vectors."""
        raw = x.data if isinstance(x, Tensor) else np.asarray(x)
        if raw.dtype.kind in "iu":
            xw = self.weight_ih.T[check_ids(raw, self.weight_ih.shape[1], type(self).__name__)]
        else:
            xw = F.linear(x, self.weight_ih)
        return xw + self.bias if self.bias is not None else xw

    def forward(self, x, h=None) -> Tensor:
        z = self.project(x)
        if h is None:
            return _NONLINEARITIES[self.nonlinearity](z)
        return F.linear(h, self.weight_hh, z, activation=self.nonlinearity)


class RNN(RNNCell):
    """The cell unrolled over a sequence: ids (T,) or (B, T), or vectors (T, input) or (B, T, input).

    ``forward(x, h0=None)`` returns all hidden states, (T, H) or (B, T, H), and the last, (H,) or (B, H).
    """

    def forward(self, x, h0=None) -> tuple[Tensor, Tensor]:
        raw = x.data if isinstance(x, Tensor) else np.asarray(x)
        batched = raw.ndim == (2 if raw.dtype.kind in "iu" else 3)
        if not batched:
            x = x[None] if isinstance(x, Tensor) else raw[None]
            h0 = h0[None] if h0 is not None else None
        states, last = recurrence(self.project(x), self.weight_hh, h0, self.nonlinearity)
        return (states, last) if batched else (states[0], last[0])
