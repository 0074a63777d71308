"""How far back through time the gradient reaches: ‖∂E_t/∂s_k‖ for every loss step t and state step k.

The tutorial argues in prose that a vanilla RNN's gradient from step t to step k shrinks
geometrically with t − k. Here it is measured with the tape itself: the recurrent loops report the
state tensors they record (``state_watch``), and the gradient of each step's loss is taken with
respect to them — under truncation, with respect to each window's own copy, so the matrix is what
BPTT really sends back, zero past the cut.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import grad_mode, state_watch
from ..compare import transfer_weights
from ..reference import GateRNN
from ..tape import grad
from ..tensor import Tensor


def gradient_flow(model, x, y) -> np.ndarray:
    """(T, T) array for one sentence: [t, k] = ‖∂E_t/∂s_k‖₂ for k ≤ t, 0 above the diagonal.

    E_t is the cross-entropy of step t's prediction and s_k the top layer's hidden state after step
    k (h, not an LSTM's c), as the model's truncation leaves them: with ``bptt_truncate=K`` the
    entries more than K steps back are 0. ``model`` is an ``RNNLM`` (any cell, any number of
    layers), in whatever mode it is in (``eval()`` for no dropout). Parameters are left untouched.
    """
    ids, targets = _sentence(model, x, y)
    with state_watch.watch() as seen, grad_mode.enable_grad():
        losses = model.loss(ids, targets, reduction="none")
    if not seen:
        raise TypeError(f"gradient_flow: {type(model).__name__} reported no recurrent states that require grad; "
                        "it takes an RNNLM with trainable weights (for a model of your own, use state_gradients)")
    steps = len(ids)
    flow = np.zeros((steps, steps))
    tensors = [s.tensor for s in seen]
    for t in range(steps):
        for s, g in zip(seen, grad(losses[t], tensors, retain_graph=True, allow_unused=True)):
            if g is None:
                continue
            rows = (s.steps >= 0) & (s.steps <= t)
            if s.owners is not None:
                rows &= s.owners == t
            if rows.any():
                flow[t, s.steps[rows]] = np.linalg.norm(g.data[rows].reshape(int(rows.sum()), -1), axis=1)
    return flow


def state_gradients(losses: Tensor, states: Sequence[Tensor]) -> np.ndarray:
    """For a model of your own: [t, k] = ‖∂losses[t]/∂states[k]‖₂ for k ≤ t, from T losses and T states.

    ``states[k]`` must be the tensor the model went on from (not a copy made afterwards, such as a
    slice of a stacked output), or its gradient holds only the direct path.
    """
    steps = len(states)
    if losses.shape != (steps,):
        raise ValueError(f"state_gradients: losses must have shape ({steps},), one per state, got {losses.shape}")
    flow = np.zeros((steps, steps))
    for t in range(steps):
        parts = grad(losses[t], list(states[: t + 1]), retain_graph=True, allow_unused=True)
        flow[t, : t + 1] = [0.0 if g is None else np.linalg.norm(g.data) for g in parts]
    return flow


def gate_flow(model, x, y) -> np.ndarray:
    """The same matrix from the tutorial's hand-written gate version, given the tape model's weights and
    truncation (only the tutorial's model has one): the check that both tell the same story."""
    if model.stacked:
        raise ValueError(f"gate_flow: only the tutorial's model (cell 'rnn', 1 layer) has a hand-written gate "
                         f"version, not cell {model.cell!r} with {model.num_layers} layers")
    ids, targets = _sentence(model, x, y)
    truncate = len(ids) if model.bptt_truncate is None else model.bptt_truncate
    gate = GateRNN(model.word_dim, model.hidden_dim, bptt_truncate=truncate)
    transfer_weights(model, gate)
    return gate.state_gradients(ids.tolist(), targets.tolist())


def largest_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The largest |a − b| relative to max(|a|, |b|) entry by entry (0 where both are 0; inf for NaN)."""
    if np.isnan(a).any() or np.isnan(b).any():
        return float("inf")
    scale = np.maximum(np.abs(a), np.abs(b))
    seen = scale > 0
    return float((np.abs(a - b)[seen] / scale[seen]).max(initial=0.0))


def by_distance(flow: np.ndarray) -> list[np.ndarray]:
    """The entries t − k = d apart, for each d: ``by_distance(f)[d][i]`` = f[d + i, i]."""
    return [np.diagonal(flow, -d).copy() for d in range(flow.shape[0])]


def _sentence(model, x, y) -> tuple[np.ndarray, np.ndarray]:
    ids, targets = np.asarray(x), np.asarray(y)
    if ids.ndim != 1 or targets.shape != ids.shape or ids.size == 0:
        raise ValueError(f"gradient_flow: x and y must be one sentence of ids each, (T,) and (T,) with T >= 1, "
                         f"got shapes {ids.shape} and {targets.shape}")
    return ids, targets
