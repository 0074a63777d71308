"""RNNLM: the tutorial's language model s_t = tanh(U x_t + W s_{t-1}), yhat_t = softmax(V s_t), on the tape,
and its descendants in the tutorial series: stacked RNN, GRU and LSTM layers between an embedding and V."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from . import functional as F
from . import grad_mode, stacked_lm, state_watch
from .grad_mode import no_grad
from .nn.layers import check_ids, uniform
from .nn.module import Module, Parameter
from .nn.recurrent import GRU, LSTM, RNN
from .nn.rnn import recurrence
from .tensor import Tensor

CELLS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}


class RNNLM(Module):
    """A recurrent language model built from primitives (no hand-written backward anywhere).

    ``cell="rnn"``, ``num_layers=1`` (the default) is the tutorial's model. Parameters are named and
    shaped as there, so weights move one to one between the two versions: ``U`` (hidden, word),
    ``W`` (hidden, hidden), ``V`` (word, hidden), no biases, each uniform(±1/sqrt(fan_in)).

    Any other ``cell`` ("rnn", "gru", "lstm") or ``num_layers`` is the shape of the series' GRU model:
    an embedding ``E`` (hidden, word) looked up by column, as U, then ``rnn``, a PyTorch-named
    ``nn.RNN``/``nn.GRU``/``nn.LSTM`` of ``num_layers`` layers (hidden → hidden, with biases, ``dropout``
    between layers while training), then ``V`` (word, hidden). ``m.U.data`` etc. are the live storage.

    ``bptt_truncate=None`` is full BPTT. ``bptt_truncate=k`` is the tutorial's truncation, for every
    cell: the loss at step t reaches V through step t only and everything else through steps t, t-1,
    …, max(0, t-k), the whole recurrent state (every layer, h and c) cut k+1 steps back. Truncation
    shapes gradients only: the losses are those of the full pass, dropout masks included.
    """

    def __init__(self, word_dim: int, hidden_dim: int, bptt_truncate: int | None = None, cell: str = "rnn",
                 num_layers: int = 1, dropout: float = 0.0, dtype=np.float64, seed=None):
        if word_dim < 1 or hidden_dim < 1:
            raise ValueError(f"RNNLM: word_dim and hidden_dim must be positive, got {word_dim} and {hidden_dim}")
        if bptt_truncate is not None and bptt_truncate < 0:
            raise ValueError(f"RNNLM: bptt_truncate must be None or >= 0, got {bptt_truncate}")
        if cell not in CELLS:
            raise ValueError(f"RNNLM: cell must be one of {', '.join(map(repr, CELLS))}, got {cell!r}")
        if num_layers < 1:
            raise ValueError(f"RNNLM: num_layers must be >= 1, got {num_layers}")
        if not 0 <= dropout < 1:
            raise ValueError(f"RNNLM: dropout must be in [0, 1), got {dropout}")
        if dropout and num_layers == 1:
            raise ValueError(f"RNNLM: dropout acts between recurrent layers, so it needs num_layers >= 2, "
                             f"got dropout {dropout} with 1 layer")
        rng = np.random.default_rng(seed)
        self.word_dim, self.hidden_dim, self.bptt_truncate = word_dim, hidden_dim, bptt_truncate
        self.cell, self.num_layers, self.dropout = cell, num_layers, float(dropout)
        if not self.stacked:
            self.U = Parameter(uniform(rng, 1 / np.sqrt(word_dim), (hidden_dim, word_dim), dtype))
            self.V = Parameter(uniform(rng, 1 / np.sqrt(hidden_dim), (word_dim, hidden_dim), dtype))
            self.W = Parameter(uniform(rng, 1 / np.sqrt(hidden_dim), (hidden_dim, hidden_dim), dtype))
            return
        self.E = Parameter(uniform(rng, 1 / np.sqrt(word_dim), (hidden_dim, word_dim), dtype))
        self.rnn = CELLS[cell](hidden_dim, hidden_dim, num_layers, dropout=dropout, dtype=dtype, seed=rng)
        self.V = Parameter(uniform(rng, 1 / np.sqrt(hidden_dim), (word_dim, hidden_dim), dtype))

    @property
    def stacked(self) -> bool:
        """False for the tutorial's model (U, W, V); True for an embedding, a recurrent layer and V."""
        return self.cell != "rnn" or self.num_layers != 1

    # --- the model ---------------------------------------------------------------------
    def hidden_states(self, x, h0=None) -> Tensor:
        """Top-layer states s_t for ids (B, T): (B, T, H), recorded so that their gradient follows the truncation.

        ``h0``: (B, H) for the tutorial's model; else as the recurrent layer's (L, B, H), or (h0, c0).
        """
        ids = self._ids(x, "x")
        return self._states(ids, h0).reshape(ids.shape + (self.hidden_dim,))

    def _states(self, ids: np.ndarray, h0=None, keep: np.ndarray | None = None) -> Tensor:
        """Top-layer states at the flat positions ``keep`` of (B, T) (all when None), as (N, H)."""
        k = self.bptt_truncate
        full = k is None or k >= ids.shape[1] - 1 or not grad_mode.enabled  # truncation only shapes gradients
        if self.stacked:
            return stacked_lm.states(self, ids, h0, keep, full)
        xu = self.U.T[ids]  # one gather of U's columns for every step: U x_t with a one-hot x_t
        if full:
            states = recurrence(xu, self.W, h0)[0].reshape(ids.size, self.hidden_dim)
            return states if keep is None else states[keep]
        return self._truncated_states(xu, k, h0, np.arange(ids.size) if keep is None else keep)

    def _truncated_states(self, xu: Tensor, k: int, h0, keep: np.ndarray) -> Tensor:
        """Recompute, for every kept t at once, the k+1 steps ending at t from the detached state s_{t-k-1}."""
        batch, steps, hidden = xu.shape
        with no_grad():
            states = recurrence(xu, self.W, h0)[0].data
        start = np.zeros((batch, 1, hidden), xu.dtype) if h0 is None else np.asarray(Tensor(h0).data)[:, None]
        before = np.concatenate([np.broadcast_to(start, (batch, 1, hidden)), states[:, :-1]], axis=1)
        b, t = np.divmod(keep, steps)
        h = Tensor(before[b, np.maximum(t - k, 0)])
        if isinstance(h0, Tensor) and h0.requires_grad:  # windows that start at step 0 reach h0 itself
            h = F.where((t - k <= 0)[:, None], h0[b], h)
        for j in range(k + 1):
            tau = t - k + j  # the step that window t takes at its j-th position
            s = F.linear(h, self.W, xu[b, np.maximum(tau, 0)], activation="tanh")
            real = (tau >= 0)[:, None]
            h = s if real.all() else F.where(real, s, h)  # windows that start before 0 wait
            if state_watch.watching is not None:
                state_watch.seen(h, tau, keep)
        return h

    # --- outputs and losses -----------------------------------------------------------------
    def forward(self, x) -> Tensor:
        """Logits: (T, word_dim) for a sentence of ids, (B, T, word_dim) for a padded batch."""
        batched = np.ndim(x.data if isinstance(x, Tensor) else x) == 2
        logits = F.linear(self.hidden_states(x), self.V)  # every step's output in one matmul
        return logits if batched else logits[0]

    def loss(self, x, y, mask=None, reduction: str = "mean") -> Tensor:
        """Cross-entropy of next-word predictions over the real tokens (mask True; padding adds nothing).

        ``'mean'`` is per real token (the tutorial's ``calculate_loss``); ``'sum'`` is the total whose
        gradient the tutorial's SGD step follows. Outputs are computed for the real tokens only.
        """
        ids, targets = self._ids(x, "x"), self._ids(y, "y")
        if targets.shape != ids.shape:
            raise ValueError(f"RNNLM.loss: x of shape {ids.shape} and y of shape {targets.shape} differ")
        keep = None if mask is None else np.flatnonzero(np.asarray(mask, dtype=bool).reshape(ids.shape))
        targets = targets.reshape(-1) if keep is None else targets.reshape(-1)[keep]
        return F.linear_cross_entropy(self._states(ids, keep=keep), self.V, targets, reduction=reduction)

    def stream(self, x, y, chunk: int, h0=None) -> Iterator[tuple[Tensor, int]]:
        """Classic TBPTT for long sequences: yields (summed loss, tokens) per chunk of ``chunk`` steps.

        The hidden state is carried from chunk to chunk, detached; call ``backward()`` (and an
        optimizer step) on each loss before taking the next. Memory stays that of one chunk.
        """
        if chunk < 1:
            raise ValueError(f"RNNLM.stream: chunk must be >= 1, got {chunk}")
        ids, targets = self._ids(x, "x"), self._ids(y, "y")
        h = h0 if not self.stacked else [tuple(s) for s in self.rnn.initial_state(h0, ids.shape[0])]
        for s in range(0, ids.shape[1], chunk):
            part = ids[:, s:s + chunk]
            if self.stacked:
                states, h = stacked_lm.chunk(self, part, h)
            else:
                states, last = recurrence(self.U.T[part], self.W, h)
                h = last.detach()
            loss = F.linear_cross_entropy(states, self.V, targets[:, s:s + chunk], reduction="sum")
            yield loss, targets[:, s:s + chunk].size

    @no_grad()
    def step(self, ids, h=None):
        """One step without recording, for generation: ids (B,) and a state → logits (B, word), the new state.

        The state is (B, H) for the tutorial's model, else a list per layer of (h,) or (h, c); None starts
        from zeros. Dropout is never applied here.
        """
        ids = check_ids(ids, self.word_dim, "RNNLM")
        if not self.stacked:
            z = self.U.data[:, ids].T
            if h is not None:
                z = z + h @ self.W.data.T
            h = np.tanh(z)
            return h @ self.V.data.T, h
        return stacked_lm.step(self, ids, h)

    def _ids(self, x, what: str) -> np.ndarray:
        ids = check_ids(x, self.word_dim, "RNNLM")
        if ids.ndim not in (1, 2):
            raise ValueError(f"RNNLM: {what} must be ids of shape (T,) or (B, T), got shape {ids.shape}")
        if ids.size == 0:
            raise ValueError(f"RNNLM: {what} is empty (shape {ids.shape}); a sentence needs at least one token")
        return ids[None] if ids.ndim == 1 else ids

