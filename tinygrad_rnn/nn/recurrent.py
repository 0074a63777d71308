"""RNN, GRU and LSTM, cells and multi-layer sequence layers, with PyTorch's parameter names, shapes and gate order.

Built from primitives only: one ``linear`` over every time step for the input side, one per step for the
hidden side, and ``chunk`` to cut the gates apart, so backpropagation through time is the generic reverse
pass, with no hand-written backward. Inputs are vectors or integer ids; ids select columns of the first
input weight, which is its product with a one-hot vector, without building it.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .dropout import Dropout
from .layers import check_ids, uniform
from .module import Module, Parameter

_NONLINEARITIES = ("tanh", "relu")


def _rnn_step(gx: Tensor, state: tuple, w_hh, b_hh, nonlinearity: str) -> tuple:
    """h' = f(gx + W_hh h): one fused node, with both biases already in gx."""
    (h,) = state
    return (F.linear(h, w_hh, gx, activation=nonlinearity),)


def _gru_step(gx: Tensor, state: tuple, w_hh, b_hh, nonlinearity=None) -> tuple:
    """PyTorch's GRU: r, z, n gates; the reset gate scales W_hn h + b_hn, after its bias."""
    (h,) = state
    xr, xz, xn = gx.chunk(3, dim=-1)
    hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r = F.sigmoid(xr + hr)
    z = F.sigmoid(xz + hz)
    n = F.tanh(xn + r * hn)
    return ((1 - z) * n + z * h,)


def _lstm_step(gx: Tensor, state: tuple, w_hh, b_hh, nonlinearity=None) -> tuple:
    """PyTorch's LSTM: i, f, g, o gates; both biases are already in gx, so W_hh h + gx is one node."""
    h, c = state
    i, f, g, o = F.linear(h, w_hh, gx).chunk(4, dim=-1)
    c = F.sigmoid(f) * c + F.sigmoid(i) * F.tanh(g)
    return F.sigmoid(o) * F.tanh(c), c


class _Kind:
    """What differs between RNN, GRU and LSTM: gates, states, the step, and where b_hh goes."""

    _gates = 1
    _n_states = 1
    _hh_bias_inside = False  # GRU's reset gate multiplies W_hn h + b_hn, so b_hh cannot join the input side
    _step = staticmethod(_rnn_step)

    def project(self, x, w_ih, b_ih, b_hh) -> Tensor:
        """W_ih x + b_ih (+ b_hh when it can join) for inputs of any leading shape, ids or vectors."""
        bias = b_ih
        if b_hh is not None and not self._hh_bias_inside:
            bias = b_hh if b_ih is None else b_ih + b_hh
        if isinstance(x, np.ndarray):  # ids, already checked
            gx = w_ih.T[x]
            return gx if bias is None else gx + bias
        return F.linear(x, w_ih, bias)

    def advance(self, gx: Tensor, state: tuple, w_hh, b_hh) -> tuple:
        return type(self)._step(gx, state, w_hh, b_hh if self._hh_bias_inside else None,
                                 getattr(self, "nonlinearity", None))

    def _inputs(self, x, ndims: tuple, what: str):
        """Ids as a checked integer array, or vectors as a Tensor whose last axis is input_size."""
        raw = x.data if isinstance(x, Tensor) else np.asarray(x)
        name = type(self).__name__
        if raw.dtype.kind in "iu":
            if raw.ndim + 1 not in ndims:
                raise ValueError(f"{name}: ids have shape {raw.shape}, expected {what} without the input axis")
            return check_ids(raw, self.input_size, name)
        x = x if isinstance(x, Tensor) else Tensor(raw)
        if x.ndim not in ndims or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has shape {x.shape}, expected {what}")
        return x


def _check_sizes(owner: str, input_size: int, hidden_size: int) -> None:
    if input_size <= 0 or hidden_size <= 0:
        raise ValueError(f"{owner}: sizes must be positive, got input {input_size}, hidden {hidden_size}")


def _check_options(owner: str, bias, num_layers: int = 1) -> None:
    """PyTorch's argument order differs from the library's old RNN (nonlinearity came third): catch a
    string where a flag or a count belongs instead of building something else."""
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"{owner}: bias must be True or False, got {bias!r} (the order is PyTorch's: "
                        f"pass nonlinearity= by name)")
    if not isinstance(num_layers, (int, np.integer)) or isinstance(num_layers, bool):
        raise TypeError(f"{owner}: num_layers must be an integer, got {num_layers!r} (the order is PyTorch's: "
                        f"pass nonlinearity= by name)")


def _check_nonlinearity(owner: str, nonlinearity: str) -> str:
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


class _Cell(_Kind, Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float64, seed=None):
        _check_sizes(type(self).__name__, input_size, hidden_size)
        _check_options(type(self).__name__, bias)
        self.input_size, self.hidden_size = input_size, hidden_size
        rng = np.random.default_rng(seed)
        bound, rows = 1 / np.sqrt(hidden_size), self._gates * hidden_size
        self.weight_ih = Parameter(uniform(rng, bound, (rows, input_size), dtype))
        self.weight_hh = Parameter(uniform(rng, bound, (rows, hidden_size), dtype))
        self.bias_ih = Parameter(uniform(rng, bound, (rows,), dtype)) if bias else None
        self.bias_hh = Parameter(uniform(rng, bound, (rows,), dtype)) if bias else None

    def _input(self, x):
        return self._inputs(x, (1, 2), f"(batch, {self.input_size}) or ({self.input_size},), or ids (batch,) or ()")

    def _state(self, s, x, what: str) -> Tensor:
        want = x.shape[:-1] + (self.hidden_size,) if isinstance(x, Tensor) else x.shape + (self.hidden_size,)
        if s is None:
            return Tensor(np.zeros(want, self.weight_hh.dtype))
        s = _as_tensor(s)
        if s.shape != want:
            raise ValueError(f"{type(self).__name__}: {what} has shape {s.shape}, expected {want} for an input "
                             f"of shape {x.shape}")
        return s

    def _run(self, x, state) -> tuple:
        gx = self.project(x, self.weight_ih, self.bias_ih, self.bias_hh)
        return self.advance(gx, state, self.weight_hh, self.bias_hh)


class RNNCell(_Cell):
    """One Elman step, PyTorch's ``RNNCell``: h' = f(W_ih x + b_ih + W_hh h + b_hh), f tanh or relu;
    ``forward(x, h=None)`` returns h' (h is zeros when None)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=np.float64, seed=None):
        self.nonlinearity = _check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype, seed)

    def forward(self, x, h=None) -> Tensor:
        x = self._input(x)
        return self._run(x, (self._state(h, x, "h"),))[0]


class GRUCell(_Cell):
    """One GRU step, PyTorch's ``GRUCell``: ``forward(x, h=None)`` returns h' (zeros when h is None)."""

    _gates = 3
    _hh_bias_inside = True
    _step = staticmethod(_gru_step)

    def forward(self, x, h=None) -> Tensor:
        x = self._input(x)
        return self._run(x, (self._state(h, x, "h"),))[0]


class LSTMCell(_Cell):
    """One LSTM step, PyTorch's ``LSTMCell``: ``forward(x, (h, c)=None)`` returns (h', c')."""

    _gates = 4
    _n_states = 2
    _step = staticmethod(_lstm_step)

    def forward(self, x, state=None) -> tuple[Tensor, Tensor]:
        x = self._input(x)
        h, c = (None, None) if state is None else state
        return self._run(x, (self._state(h, x, "h"), self._state(c, x, "c")))


class _Recurrent(_Kind, Module):
    """The sequence layers' shared body. ``weights``, ``initial_state``, ``project`` and ``advance`` are
    public so that code can step the layers itself (the RNNLM's truncated windows do)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float64, seed=None):
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        _check_options(name, bias, num_layers)
        if num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be positive, got {num_layers}")
        if not 0 <= dropout < 1:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
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

    def weights(self, layer: int, reverse: bool = False) -> tuple:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer and direction; the biases may be None."""
        sfx = f"_l{layer}" + ("_reverse" if reverse else "")
        return tuple(getattr(self, n + sfx, None) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def initial_state(self, hx, batch: int, batched: bool = True) -> list[tuple]:
        """Per layer and direction, the starting state: a tuple of (B, H) tensors (zeros for None)."""
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

    def _direction(self, x, layer: int, state: tuple, mask, reverse: bool):
        w_ih, w_hh, b_ih, b_hh = self.weights(layer, reverse)
        gx = self.project(x, w_ih, b_ih, b_hh)  # every step's input side in one product (or one gather)
        steps = x.shape[1]
        outs = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            new = self.advance(gx[:, t], state, w_hh, b_hh)
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
        order = "(batch, time" if self.batch_first else "(time, batch"
        x = self._inputs(x, (2, 3), f"{order}, {self.input_size}) or (time, {self.input_size}), or ids {order})")
        ndim = x.ndim + (1 if isinstance(x, np.ndarray) else 0)
        batched = ndim == 3
        if not batched:
            x = x[None]
        elif not self.batch_first:
            x = x.swapaxes(0, 1) if isinstance(x, np.ndarray) else x.transpose(1, 0, 2)
        batch, steps = x.shape[:2]
        if steps == 0:
            raise ValueError(f"{name}: input has shape {x.shape}, with no time steps")
        if mask is not None:
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
            mask = mask if batched else mask[None]
            if mask.dtype != np.bool_ or mask.shape != (batch, steps):
                raise ValueError(f"{name}: mask must be booleans of shape (batch, time) = {(batch, steps)}, "
                                 f"got {mask.dtype} {mask.shape}")
        states = self.initial_state(hx, batch, batched)
        directions = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                out, final = self._direction(x, layer, states[layer * directions + d], mask, reverse=d == 1)
                outs.append(out)
                finals.append(final)
            x = F.cat(outs, axis=-1) if directions == 2 else outs[0]
            if layer < self.num_layers - 1:
                x = self.drop(x)
        last = [F.stack([f[k] for f in finals]) for k in range(self._n_states)]
        if not batched:
            return x[0], [s[:, 0] for s in last]
        return (x if self.batch_first else x.transpose(1, 0, 2)), last


class RNN(_Recurrent):
    """PyTorch's multi-layer Elman ``RNN`` (``batch_first=True`` by default: inputs (B, T, I) or ids (B, T)).

    ``forward(x, h0=None, mask=None)`` returns ``(output, h_n)``: output (B, T, D·H), h_n (L·D, B, H);
    ``mask`` as GRU's. Each step is one fused node, f(W_hh h + gx), both biases already in gx.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float64, seed=None):
        self.nonlinearity = _check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype, seed)

    def forward(self, x, h0=None, mask=None) -> tuple[Tensor, Tensor]:
        out, (h_n,) = self._run(x, h0, mask)
        return out, h_n


class GRU(_Recurrent):
    """PyTorch's multi-layer ``GRU`` (``batch_first=True`` by default: inputs (B, T, I) or ids (B, T)).

    ``forward(x, h0=None, mask=None)`` returns ``(output, h_n)``: output (B, T, D·H), h_n (L·D, B, H).
    ``mask`` (B, T) booleans marks real steps: a padded step leaves the state unchanged and outputs zeros,
    so a padded batch ends in the states each sequence reaches on its own.
    """

    _gates = 3
    _hh_bias_inside = True
    _step = staticmethod(_gru_step)

    def forward(self, x, h0=None, mask=None) -> tuple[Tensor, Tensor]:
        out, (h_n,) = self._run(x, h0, mask)
        return out, h_n


class LSTM(_Recurrent):
    """PyTorch's multi-layer ``LSTM`` (``batch_first=True`` by default: inputs (B, T, I) or ids (B, T)).

    ``forward(x, (h0, c0)=None, mask=None)`` returns ``(output, (h_n, c_n))``, with GRU's shapes and mask.
    """

    _gates = 4
    _n_states = 2
    _step = staticmethod(_lstm_step)

    def forward(self, x, state=None, mask=None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        out, (h_n, c_n) = self._run(x, state, mask)
        return out, (h_n, c_n)
