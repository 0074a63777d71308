"""GRU and LSTM, cells and multi-layer sequence layers, with PyTorch's parameter names, shapes and gate order.

Built from primitives only: one ``linear`` per side for all the gates and ``chunk`` to cut them apart,
so backpropagation through time is the generic reverse pass, with no hand-written backward.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .dropout import Dropout
from .layers import uniform
from .module import Module, Parameter


def _gru_step(gx: Tensor, state: tuple, w_hh, b_hh) -> tuple:
    """PyTorch's GRU: r, z, n gates; the reset gate scales W_hn h + b_hn, after its bias."""
    (h,) = state
    xr, xz, xn = gx.chunk(3, dim=-1)
    hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r = F.sigmoid(xr + hr)
    z = F.sigmoid(xz + hz)
    n = F.tanh(xn + r * hn)
    return ((1 - z) * n + z * h,)


def _lstm_step(gx: Tensor, state: tuple, w_hh, b_hh) -> tuple:
    """PyTorch's LSTM: i, f, g, o gates."""
    h, c = state
    i, f, g, o = (gx + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    c = F.sigmoid(f) * c + F.sigmoid(i) * F.tanh(g)
    return F.sigmoid(o) * F.tanh(c), c


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _check_sizes(owner: str, input_size: int, hidden_size: int) -> None:
    if input_size <= 0 or hidden_size <= 0:
        raise ValueError(f"{owner}: sizes must be positive, got input {input_size}, hidden {hidden_size}")


class _Cell(Module):
    _gates = 0
    _step = None

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float64, seed=None):
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        rng = np.random.default_rng(seed)
        bound, rows = 1 / np.sqrt(hidden_size), self._gates * hidden_size
        self.weight_ih = Parameter(uniform(rng, bound, (rows, input_size), dtype))
        self.weight_hh = Parameter(uniform(rng, bound, (rows, hidden_size), dtype))
        self.bias_ih = Parameter(uniform(rng, bound, (rows,), dtype)) if bias else None
        self.bias_hh = Parameter(uniform(rng, bound, (rows,), dtype)) if bias else None

    def _input(self, x) -> Tensor:
        x = _as_tensor(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input has shape {x.shape}, expected (batch, "
                             f"{self.input_size}) or ({self.input_size},)")
        return x

    def _state(self, s, x: Tensor, what: str) -> Tensor:
        want = x.shape[:-1] + (self.hidden_size,)
        if s is None:
            return Tensor(np.zeros(want, self.weight_hh.dtype))
        s = _as_tensor(s)
        if s.shape != want:
            raise ValueError(f"{type(self).__name__}: {what} has shape {s.shape}, expected {want} for an input "
                             f"of shape {x.shape}")
        return s

    def _run(self, x, state):
        gx = F.linear(x, self.weight_ih, self.bias_ih)
        return type(self)._step(gx, state, self.weight_hh, self.bias_hh)


class GRUCell(_Cell):
    """One GRU step, PyTorch's ``GRUCell``: ``forward(x, h=None)`` returns h' (zeros when h is None)."""

    _gates = 3
    _step = staticmethod(_gru_step)

    def forward(self, x, h=None) -> Tensor:
        x = self._input(x)
        return self._run(x, (self._state(h, x, "h"),))[0]


class LSTMCell(_Cell):
    """One LSTM step, PyTorch's ``LSTMCell``: ``forward(x, (h, c)=None)`` returns (h', c')."""

    _gates = 4
    _step = staticmethod(_lstm_step)

    def forward(self, x, state=None) -> tuple[Tensor, Tensor]:
        x = self._input(x)
        h, c = (None, None) if state is None else state
        return self._run(x, (self._state(h, x, "h"), self._state(c, x, "c")))


class _Recurrent(Module):
    _gates = 0
    _step = None
    _n_states = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float64, seed=None):
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        if num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be positive, got {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout = float(dropout)
        directions = 2 if bidirectional else 1
        rng = np.random.default_rng(seed)
        bound, rows = 1 / np.sqrt(hidden_size), self._gates * hidden_size
        # flat attributes, registered in PyTorch's order, so a state dict moves over name for name
        self._suffixes = [f"_l{layer}" + ("_reverse" if d else "")
                          for layer in range(num_layers) for d in range(directions)]
        for i, sfx in enumerate(self._suffixes):
            width = input_size if i < directions else hidden_size * directions
            setattr(self, "weight_ih" + sfx, Parameter(uniform(rng, bound, (rows, width), dtype)))
            setattr(self, "weight_hh" + sfx, Parameter(uniform(rng, bound, (rows, hidden_size), dtype)))
            if bias:
                setattr(self, "bias_ih" + sfx, Parameter(uniform(rng, bound, (rows,), dtype)))
                setattr(self, "bias_hh" + sfx, Parameter(uniform(rng, bound, (rows,), dtype)))
        # between layers only, in training mode only (Dropout reads ``training``); it has no parameters
        self.drop = Dropout(self.dropout, seed=None if seed is None else rng)

    def _weights(self, sfx: str) -> tuple:
        get = lambda n: getattr(self, n + sfx, None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _initial(self, hx, batch: int, batched: bool) -> list[tuple]:
        """Per layer and direction, the starting state: a tuple of (B, H) tensors."""
        name, n = type(self).__name__, len(self._suffixes)
        want = (n, batch, self.hidden_size) if batched else (n, self.hidden_size)
        if hx is None:
            zeros = np.zeros((batch, self.hidden_size), self.weight_hh_l0.dtype)
            return [tuple(Tensor(zeros) for _ in range(self._n_states))] * n
        parts = (hx,) if self._n_states == 1 else tuple(hx)
        if len(parts) != self._n_states:
            raise ValueError(f"{name}: the initial state must be (h0, c0), got {len(parts)} tensors")
        parts = [_as_tensor(p) for p in parts]
        for label, p in zip(("h0", "c0"), parts):
            if p.shape != want:
                raise ValueError(f"{name}: {label} has shape {p.shape}, expected {want} "
                                 "(num_layers * num_directions, batch, hidden_size)")
        if not batched:
            parts = [p[:, None] for p in parts]
        return list(zip(*(p.unbind(0) for p in parts)))

    def _direction(self, x: Tensor, sfx: str, state: tuple, mask, reverse: bool):
        w_ih, w_hh, b_ih, b_hh = self._weights(sfx)
        gx = F.linear(x, w_ih, b_ih)  # every step's input projection in one product
        steps = x.shape[1]
        outs = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            new = type(self)._step(gx[:, t], state, w_hh, b_hh)
            if mask is not None:  # a padded step keeps the state and outputs zeros
                keep = mask[:, t, None]
                new = tuple(F.where(keep, a, b) for a, b in zip(new, state))
                outs[t] = new[0] * keep.astype(new[0].dtype)
            else:
                outs[t] = new[0]
            state = new
        return F.stack(outs, axis=1), state

    def _run(self, x, hx, mask):
        name = type(self).__name__
        x = _as_tensor(x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            order = "(batch, time" if self.batch_first else "(time, batch"
            raise ValueError(f"{name}: input has shape {x.shape}, expected {order}, {self.input_size}) "
                             f"or (time, {self.input_size})")
        batched = x.ndim == 3
        if not batched:
            x = x[None]
        elif not self.batch_first:
            x = x.transpose(1, 0, 2)
        batch, steps = x.shape[:2]
        if steps == 0:
            raise ValueError(f"{name}: input has shape {x.shape}, with no time steps")
        if mask is not None:
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
            mask = mask if batched else mask[None]
            if mask.dtype != np.bool_ or mask.shape != (batch, steps):
                raise ValueError(f"{name}: mask must be booleans of shape (batch, time) = {(batch, steps)}, "
                                 f"got {mask.dtype} {mask.shape}")
        states = self._initial(hx, batch, batched)
        directions = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                i = layer * directions + d
                out, final = self._direction(x, self._suffixes[i], states[i], mask, reverse=d == 1)
                outs.append(out)
                finals.append(final)
            x = F.cat(outs, axis=-1) if directions == 2 else outs[0]
            if layer < self.num_layers - 1:
                x = self.drop(x)
        last = [F.stack([f[k] for f in finals]) for k in range(self._n_states)]
        if not batched:
            return x[0], [s[:, 0] for s in last]
        return (x if self.batch_first else x.transpose(1, 0, 2)), last


class GRU(_Recurrent):
    """PyTorch's multi-layer ``GRU`` (``batch_first=True`` by default: inputs (B, T, I)).

    ``forward(x, h0=None, mask=None)`` returns ``(output, h_n)``: output (B, T, D·H), h_n (L·D, B, H).
    ``mask`` (B, T) booleans marks real steps: a padded step leaves the state unchanged and outputs zeros,
    so a padded batch ends in the states each sequence reaches on its own.
    """

    _gates = 3
    _step = staticmethod(_gru_step)
    _n_states = 1

    def forward(self, x, h0=None, mask=None) -> tuple[Tensor, Tensor]:
        out, (h_n,) = self._run(x, h0, mask)
        return out, h_n


class LSTM(_Recurrent):
    """PyTorch's multi-layer ``LSTM`` (``batch_first=True`` by default: inputs (B, T, I)).

    ``forward(x, (h0, c0)=None, mask=None)`` returns ``(output, (h_n, c_n))``, with GRU's shapes and mask.
    """

    _gates = 4
    _step = staticmethod(_lstm_step)
    _n_states = 2

    def forward(self, x, state=None, mask=None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        out, (h_n, c_n) = self._run(x, state, mask)
        return out, (h_n, c_n)
