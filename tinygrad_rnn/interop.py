"""Move models to PyTorch and back, weights copied exactly, so work started here can continue there.

PyTorch is optional (the ``bench`` extra): it is imported inside the functions, never at load time.

=====================  =====================================================================
tinygrad_rnn           torch.nn
=====================  =====================================================================
``nn.Linear``          ``Linear``
``nn.Embedding``       ``Embedding`` (no ``padding_idx``, ``max_norm``, ``scale_grad_by_freq``)
``nn.LayerNorm``       ``LayerNorm``
``nn.Dropout``         ``Dropout`` (same ``p``; the random masks come from different generators)
``nn.RNNCell``         ``RNNCell``, same ``nonlinearity`` and bias
``nn.GRUCell``         ``GRUCell``
``nn.LSTMCell``        ``LSTMCell``
``nn.RNN``             ``RNN``, same ``nonlinearity``, layers, direction, dropout, bias and ``batch_first``
``nn.GRU``/``LSTM``    ``GRU``/``LSTM``, same layers, direction, dropout, bias and ``batch_first``
                       (no ``proj_size``); RNN, GRU and LSTM: names as torch's, key for key, and
                       dropout masks from different generators
``nn.Sequential``      ``Sequential`` of the converted children
``models.RNNLM``       ``TorchRNNLM`` below: the tutorial's as ``nn.RNN`` (U, W, no bias) fed one-hot ids +
                       ``Linear`` V; a stacked one as ``Embedding`` (E transposed) + ``RNN``/``GRU``/``LSTM``
                       (the same names) + ``Linear`` V
=====================  =====================================================================
"""

from __future__ import annotations

import functools

import numpy as np

from . import nn
from .models import RNNLM

__all__ = ["from_torch", "to_torch"]


def _torch():
    """Import torch on first use, with an install hint instead of a bare ModuleNotFoundError."""
    try:
        import torch
    except ImportError as err:
        raise ImportError("interop needs PyTorch: pip install torch") from err
    return torch


def _unsupported(module, names: str) -> TypeError:
    return TypeError(f"interop: cannot convert {type(module).__module__}.{type(module).__qualname__}; "
                     f"supported: {names}")


_LIBRARY_TYPES = ("nn.Linear, nn.Embedding, nn.LayerNorm, nn.Dropout, nn.RNNCell, nn.RNN, nn.GRUCell, "
                  "nn.LSTMCell, nn.GRU, nn.LSTM, nn.Sequential (of these) and models.RNNLM")
_TORCH_TYPES = ("torch.nn.Linear, Embedding, LayerNorm, Dropout, RNNCell, RNN, GRUCell, LSTMCell, GRU, LSTM, "
                "Sequential (of these) and interop.TorchRNNLM")


@functools.cache
def _rnnlm_class():
    """Defined on first use, since its base class is torch's; ``interop.TorchRNNLM`` reaches it too."""
    torch = _torch()

    class TorchRNNLM(torch.nn.Module):
        """RNNLM in PyTorch. The tutorial's s_t = tanh(U x_t + W s_{t-1}) is ``nn.RNN`` on one-hot x_t (so
        ``rnn.weight_ih_l0`` is U itself and ``rnn.weight_hh_l0`` is W, no biases); the one-hot product is exact
        (one term is nonzero) but costs a (word_dim × hidden) product per step. A stacked model is
        ``embedding`` (weight E transposed), ``rnn`` (``nn.RNN``/``GRU``/``LSTM``, batch first) and the scores
        V s_t, in both a ``Linear`` without bias. ``bptt_truncate`` is kept for the way back only: torch
        always backpropagates through all steps.
        """

        def __init__(self, word_dim: int, hidden_dim: int, bptt_truncate: int | None = None, dtype=None,
                     cell: str = "rnn", num_layers: int = 1, dropout: float = 0.0):
            super().__init__()
            self.word_dim, self.hidden_dim, self.bptt_truncate = word_dim, hidden_dim, bptt_truncate
            self.cell, self.num_layers, self.dropout = cell, num_layers, dropout
            self.stacked = cell != "rnn" or num_layers != 1
            if self.stacked:
                self.embedding = torch.nn.Embedding(word_dim, hidden_dim, dtype=dtype)
                self.rnn = getattr(torch.nn, cell.upper())(hidden_dim, hidden_dim, num_layers, batch_first=True,
                                                           dropout=dropout, dtype=dtype)
            else:
                self.rnn = torch.nn.RNN(word_dim, hidden_dim, nonlinearity="tanh", bias=False, batch_first=True,
                                        dtype=dtype)
            self.out = torch.nn.Linear(hidden_dim, word_dim, bias=False, dtype=dtype)

        def hidden_states(self, x, h0=None):
            """Top-layer states (B, T, H) for ids (T,) or (B, T), from ``h0`` as RNNLM's, or zeros."""
            ids = torch.as_tensor(x).long()
            ids = ids if ids.ndim == 2 else ids[None]
            if self.stacked:
                if isinstance(h0, (tuple, list)):  # the LSTM's (h0, c0)
                    h0 = tuple(torch.as_tensor(s) for s in h0)
                elif h0 is not None:
                    h0 = torch.as_tensor(h0)
                return self.rnn(self.embedding(ids), h0)[0]
            onehot = torch.nn.functional.one_hot(ids, self.word_dim).to(self.out.weight.dtype)
            return self.rnn(onehot, None if h0 is None else torch.as_tensor(h0)[None])[0]

        def forward(self, x, h0=None):
            """Logits: (T, word_dim) for a sentence of ids, (B, T, word_dim) for a batch."""
            logits = self.out(self.hidden_states(x, h0))
            return logits if torch.as_tensor(x).ndim == 2 else logits[0]

        def loss(self, x, y, mask=None, reduction: str = "mean"):
            """Cross-entropy over the real tokens (mask True), ``'mean'`` per token or ``'sum'``, as RNNLM's."""
            logits = self.out(self.hidden_states(x)).reshape(-1, self.word_dim)
            targets = torch.as_tensor(y).long().reshape(-1)
            if mask is not None:
                keep = torch.as_tensor(np.asarray(mask, dtype=bool)).reshape(-1)
                logits, targets = logits[keep], targets[keep]
            return torch.nn.functional.cross_entropy(logits, targets, reduction=reduction)

    TorchRNNLM.__module__, TorchRNNLM.__qualname__ = __name__, "TorchRNNLM"  # picklable as interop.TorchRNNLM
    return TorchRNNLM


def __getattr__(name: str):
    """``interop.TorchRNNLM`` is built on first access, so importing this module never imports torch."""
    if name == "TorchRNNLM":
        return _rnnlm_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _dtype_of(module, default=np.float64) -> np.dtype:
    params = module.parameters()
    return params[0].dtype if params else np.dtype(default)


def _tensors(state: dict) -> dict:
    torch = _torch()
    return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in state.items()}


def _arrays(torch_module) -> dict:
    return {k: v.detach().cpu().numpy().copy() for k, v in torch_module.state_dict().items()}


def _torch_dtype(dtype):
    return _torch().from_numpy(np.empty(0, dtype)).dtype


def _kind(module, classes) -> str:
    """The name of the first of ``classes`` that ``module`` is an instance of: a subclass converts as its base."""
    return next(c.__name__ for c in classes if isinstance(module, c))


def _nonlinearity(module, elman) -> dict:
    """``nonlinearity=`` for the Elman RNN and its cell (the only recurrent layers that have one)."""
    return {"nonlinearity": module.nonlinearity} if isinstance(module, elman) else {}


def to_torch(module):
    """The equivalent ``torch.nn`` module holding copies of ``module``'s weights, in the same dtype.

    Raises TypeError for a module it has no exact counterpart for, rather than guessing.
    """
    torch = _torch()
    tnn = torch.nn
    dt = _torch_dtype(_dtype_of(module))
    if isinstance(module, RNNLM):
        out = _rnnlm_class()(module.word_dim, module.hidden_dim, module.bptt_truncate, dtype=dt, cell=module.cell,
                             num_layers=module.num_layers, dropout=module.dropout)
        if module.stacked:
            weights = {"embedding.weight": module.E.data.T, "out.weight": module.V.data,
                       **{"rnn." + k: v for k, v in module.rnn.state_dict().items()}}
        else:
            weights = {"rnn.weight_ih_l0": module.U.data, "rnn.weight_hh_l0": module.W.data,
                       "out.weight": module.V.data}
        out.load_state_dict(_tensors(weights))
        out.train(bool(module.rnn.training) if module.stacked else bool(module.training))  # dropout on or off
    elif isinstance(module, nn.Linear):
        out_f, in_f = module.weight.shape
        out = tnn.Linear(in_f, out_f, bias=module.bias is not None, dtype=dt)
        out.load_state_dict(_tensors(module.state_dict()))
    elif isinstance(module, nn.Embedding):
        out = tnn.Embedding(*module.weight.shape, dtype=dt)
        out.load_state_dict(_tensors(module.state_dict()))
    elif isinstance(module, nn.LayerNorm):
        out = tnn.LayerNorm(module.normalized_shape, eps=module.eps, elementwise_affine=module.elementwise_affine,
                            bias=module.bias is not None, dtype=dt)
        out.load_state_dict(_tensors(module.state_dict()))
    elif isinstance(module, nn.Dropout):
        out = tnn.Dropout(module.p)
    elif isinstance(module, (nn.RNNCell, nn.GRUCell, nn.LSTMCell)):
        cls = getattr(tnn, _kind(module, (nn.RNNCell, nn.GRUCell, nn.LSTMCell)))
        out = cls(module.input_size, module.hidden_size, bias=module.bias_ih is not None, dtype=dt,
                  **_nonlinearity(module, (nn.RNNCell, nn.RNN)))
        out.load_state_dict(_tensors(module.state_dict()))  # the same names: weight_ih, weight_hh, bias_ih, bias_hh
    elif isinstance(module, (nn.RNN, nn.GRU, nn.LSTM)):
        cls = getattr(tnn, _kind(module, (nn.RNN, nn.GRU, nn.LSTM)))
        out = cls(module.input_size, module.hidden_size, num_layers=module.num_layers, bias=module.bias,
                  batch_first=module.batch_first, dropout=module.dropout, bidirectional=module.bidirectional,
                  dtype=dt, **_nonlinearity(module, (nn.RNNCell, nn.RNN)))
        out.load_state_dict(_tensors(module.state_dict()))  # the same names, registered in torch's order
    elif isinstance(module, nn.Sequential):
        out = tnn.Sequential(*(to_torch(m) for m in module))
    else:
        raise _unsupported(module, _LIBRARY_TYPES)
    out.training = bool(module.training)  # this module's own flag; converted children carry theirs
    return out


def from_torch(torch_module):
    """The library's module equivalent to ``torch_module``, with copies of its weights in the same dtype.

    Raises TypeError for an unsupported type and ValueError for options with no exact counterpart here
    (an LSTM's ``proj_size``, an Embedding's ``padding_idx`` or ``max_norm``, …).
    """
    torch = _torch()
    tnn = torch.nn
    m = torch_module
    params = list(m.parameters())
    dt = params[0].detach().cpu().numpy().dtype if params else np.dtype(np.float64)
    if isinstance(m, _rnnlm_class()):
        out = RNNLM(m.word_dim, m.hidden_dim, m.bptt_truncate, cell=m.cell, num_layers=m.num_layers,
                    dropout=m.dropout, dtype=dt)
        s = _arrays(m)
        if out.stacked:
            out.load_state_dict({"E": np.ascontiguousarray(s.pop("embedding.weight").T), "V": s.pop("out.weight"),
                                 **s})  # the rest: rnn.weight_ih_l0, …, the same names
        else:
            out.load_state_dict({"U": s["rnn.weight_ih_l0"], "W": s["rnn.weight_hh_l0"], "V": s["out.weight"]})
    elif isinstance(m, tnn.Linear):
        out = nn.Linear(m.in_features, m.out_features, bias=m.bias is not None, dtype=dt)
        out.load_state_dict(_arrays(m))
    elif isinstance(m, tnn.Embedding):
        for option in ("padding_idx", "max_norm"):
            if getattr(m, option) is not None:
                raise ValueError(f"from_torch: nn.Embedding has no {option} (got {getattr(m, option)!r})")
        if m.scale_grad_by_freq:
            raise ValueError("from_torch: nn.Embedding has no scale_grad_by_freq")
        out = nn.Embedding(m.num_embeddings, m.embedding_dim, dtype=dt)
        out.load_state_dict(_arrays(m))
    elif isinstance(m, tnn.LayerNorm):
        out = nn.LayerNorm(m.normalized_shape, eps=m.eps, elementwise_affine=m.elementwise_affine,
                           bias=getattr(m, "bias", None) is not None, dtype=dt)
        out.load_state_dict(_arrays(m))
    elif isinstance(m, tnn.Dropout):
        out = nn.Dropout(m.p)
    elif isinstance(m, (tnn.RNNCell, tnn.GRUCell, tnn.LSTMCell)):
        cls = getattr(nn, _kind(m, (tnn.RNNCell, tnn.GRUCell, tnn.LSTMCell)))
        out = cls(m.input_size, m.hidden_size, bias=m.bias, dtype=dt, **_nonlinearity(m, (tnn.RNNCell, tnn.RNN)))
        out.load_state_dict(_arrays(m))
    elif isinstance(m, (tnn.RNN, tnn.GRU, tnn.LSTM)):
        if getattr(m, "proj_size", 0):
            raise ValueError(f"from_torch: nn.LSTM has no proj_size (got {m.proj_size})")
        cls = getattr(nn, _kind(m, (tnn.RNN, tnn.GRU, tnn.LSTM)))
        out = cls(m.input_size, m.hidden_size, num_layers=m.num_layers, bias=m.bias, batch_first=m.batch_first,
                  dropout=m.dropout, bidirectional=m.bidirectional, dtype=dt,
                  **_nonlinearity(m, (tnn.RNNCell, tnn.RNN)))
        out.load_state_dict(_arrays(m))
    elif isinstance(m, tnn.Sequential):
        out = nn.Sequential(*(from_torch(c) for c in m))
    else:
        raise _unsupported(m, _TORCH_TYPES)
    out.training = bool(m.training)
    return out
