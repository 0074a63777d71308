"""RNNLM: the tutorial's language model s_t = tanh(U x_t + W s_{t-1}), yhat_t = softmax(V s_t), on the tape."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from . import functional as F
from . import grad_mode
from .grad_mode import no_grad
from .nn.layers import check_ids, uniform
from .nn.module import Module, Parameter
from .nn.rnn import recurrence
from .tensor import Tensor


class RNNLM(Module):
    """The vanilla RNN language model, built from primitives (no hand-written backward anywhere).

    Parameters are named and shaped as in the tutorial, so weights move one to one between the
    two versions: ``U`` (hidden, word), ``W`` (hidden, hidden), ``V`` (word, hidden), no biases,
    each uniform(±1/sqrt(fan_in)). ``m.U.data`` is the live storage.

    ``bptt_truncate=None`` is full BPTT. ``bptt_truncate=k`` is the tutorial's truncation: the
    loss at step t reaches V through step t only and U, W through steps t, t-1, …, max(0, t-k).
    """

    def __init__(self, word_dim: int, hidden_dim: int, bptt_truncate: int | None = None,
                 dtype=np.float64, seed=None):
        if word_dim < 1 or hidden_dim < 1:
            raise ValueError(f"RNNLM: word_dim and hidden_dim must be positive, got {word_dim} and {hidden_dim}")
        if bptt_truncate is not None and bptt_truncate < 0:
            raise ValueError(f"RNNLM: bptt_truncate must be None or >= 0, got {bptt_truncate}")
        rng = np.random.default_rng(seed)
        self.U = Parameter(uniform(rng, 1 / np.sqrt(word_dim), (hidden_dim, word_dim), dtype))
        self.V = Parameter(uniform(rng, 1 / np.sqrt(hidden_dim), (word_dim, hidden_dim), dtype))
        self.W = Parameter(uniform(rng, 1 / np.sqrt(hidden_dim), (hidden_dim, hidden_dim), dtype))
        self.word_dim, self.hidden_dim, self.bptt_truncate = word_dim, hidden_dim, bptt_truncate

    # --- the model ---------------------------------------------------------------------
    def hidden_states(self, x, h0=None) -> Tensor:
        """States s_t for ids (B, T): (B, T, H), recorded so that their gradient follows the truncation."""
        ids = self._ids(x, "x")
        return self._states(ids, h0).reshape(ids.shape + (self.hidden_dim,))

    def _states(self, ids: np.ndarray, h0=None, keep: np.ndarray | None = None) -> Tensor:
        """States at the flat positions ``keep`` of (B, T) (all when None), as (N, H)."""
        xu = self.U.T[ids]  # one gather of U's columns for every step: U x_t with a one-hot x_t
        k = self.bptt_truncate
        if k is None or k >= ids.shape[1] - 1 or not grad_mode.enabled:  # truncation only shapes gradients
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
        for j in range(k + 1):
            tau = t - k + j  # the step that window t takes at its j-th position
            s = F.linear(h, self.W, xu[b, np.maximum(tau, 0)], activation="tanh")
            real = (tau >= 0)[:, None]
            h = s if real.all() else F.where(real, s, h)  # windows that start before 0 wait
        return h

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
        h = h0
        for s in range(0, ids.shape[1], chunk):
            xu = self.U.T[ids[:, s:s + chunk]]
            states, last = recurrence(xu, self.W, h)
            h = last.detach()
            loss = F.linear_cross_entropy(states, self.V, targets[:, s:s + chunk], reduction="sum")
            yield loss, targets[:, s:s + chunk].size

    @no_grad()
    def step(self, ids, h=None) -> tuple[np.ndarray, np.ndarray]:
        """One step without recording, for generation: ids (B,) and states (B, H) → logits (B, word), states."""
        ids = check_ids(ids, self.word_dim, "RNNLM")
        z = self.U.data[:, ids].T
        if h is not None:
            z = z + h @ self.W.data.T
        h = np.tanh(z)
        return h @ self.V.data.T, h

    def _ids(self, x, what: str) -> np.ndarray:
        ids = check_ids(x, self.word_dim, "RNNLM")
        if ids.ndim not in (1, 2):
            raise ValueError(f"RNNLM: {what} must be ids of shape (T,) or (B, T), got shape {ids.shape}")
        if ids.size == 0:
            raise ValueError(f"RNNLM: {what} is empty (shape {ids.shape}); a sentence needs at least one token")
        return ids[None] if ids.ndim == 1 else ids
