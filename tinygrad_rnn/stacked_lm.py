"""The passes of the stacked language models (an embedding, RNN/GRU/LSTM layers, V): the full pass,
the tutorial's truncation as windows, a streamed chunk, and one step for generation.

They drive the PyTorch-named layer one step at a time through its ``weights``, ``project`` and
``advance``, because the truncation needs every layer's state at every step, not only the outputs.
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from . import state_watch
from .grad_mode import no_grad
from .tensor import Tensor


def states(model, ids: np.ndarray, h0, keep: np.ndarray | None, full: bool) -> Tensor:
    """Top-layer states at the flat positions ``keep`` of (B, T) (all when None), as (N, H).

    With ``full`` False, the tutorial's truncation: for every kept t at once, the k+1 steps ending at t
    are computed again from the detached state of every layer after step t-k-1.
    """
    batch, steps = ids.shape
    gx0 = _first_input(model, ids)
    start = [tuple(s) for s in model.rnn.initial_state(h0, batch)]
    masks = dropout_masks(model, batch, steps)
    if full:
        top, _ = unroll(model, gx0, start, masks)
        top = top.reshape(ids.size, model.hidden_dim)
        return top if keep is None else top[keep]
    k = model.bptt_truncate
    with no_grad():
        _, history = unroll(model, gx0, start, masks, keep_all=True)
    keep = np.arange(ids.size) if keep is None else keep
    b, t = np.divmod(keep, steps)
    first = np.maximum(t - k, 0)  # window t starts from the state after step t-k-1 (or the initial one)
    at_start = (t - k <= 0)[:, None]
    state = []
    for layer, per_layer in enumerate(history):
        parts = []
        for s0, s in zip(start[layer], per_layer):
            part = Tensor(np.concatenate([np.asarray(s0.data)[:, None], s[:, :-1]], axis=1)[b, first])
            if s0.requires_grad:  # windows that start at step 0 reach a trainable initial state itself
                part = F.where(at_start, s0[b], part)
            parts.append(part)
        state.append(tuple(parts))
    for j in range(k + 1):
        tau = t - k + j  # the step that window t takes at its j-th position
        at = np.maximum(tau, 0)
        real = (tau >= 0)[:, None]
        below = None
        for layer in range(model.num_layers):
            w_ih, w_hh, b_ih, b_hh = model.rnn.weights(layer)
            gx = gx0[b, at] if layer == 0 else model.rnn.project(below, w_ih, b_ih, b_hh)
            new = model.rnn.advance(gx, state[layer], w_hh, b_hh)
            if not real.all():  # windows that start before 0 wait
                new = tuple(F.where(real, a, s) for a, s in zip(new, state[layer]))
            state[layer] = new
            below = new[0] if masks is None or layer == model.num_layers - 1 else new[0] * masks[layer][b, at]
        if state_watch.watching is not None:
            state_watch.seen(below, tau, keep)
    return state[-1][0]


def unroll(model, gx0: Tensor, state: list[tuple], masks, keep_all: bool = False):
    """Every layer over every step, layer by layer: top-layer outputs (B, T, H), and with ``keep_all``
    each layer's states as arrays (B, T, H) (h, and c for the LSTM), else each layer's final state."""
    rnn, steps = model.rnn, gx0.shape[1]
    history, finals = [], []
    x = None
    for layer in range(model.num_layers):
        w_ih, w_hh, b_ih, b_hh = rnn.weights(layer)
        gx = gx0 if layer == 0 else rnn.project(x, w_ih, b_ih, b_hh)
        s, seen = state[layer], []
        for t in range(steps):
            s = rnn.advance(gx[:, t], s, w_hh, b_hh)
            seen.append(s)
            if state_watch.watching is not None and layer == model.num_layers - 1:
                state_watch.seen(s[0], t)
        finals.append(s)
        if keep_all:
            history.append([np.stack([np.asarray(v[c].data) for v in seen], axis=1) for c in range(len(s))])
        x = F.stack([v[0] for v in seen], axis=1)
        if masks is not None and layer < model.num_layers - 1:
            x = x * masks[layer]
    return x, (history if keep_all else finals)


def dropout_masks(model, batch: int, steps: int) -> list[np.ndarray] | None:
    """One inverted-dropout mask (B, T, H) per gap between layers, drawn once per pass, so that the
    truncated windows drop exactly the units the full pass drops; None when not training."""
    if not (model.training and model.dropout and model.num_layers > 1):
        return None
    return [model.rnn.drop.mask((batch, steps, model.hidden_dim), model.V.dtype) for _ in range(model.num_layers - 1)]


def chunk(model, ids: np.ndarray, state: list[tuple]) -> tuple[Tensor, list[tuple]]:
    """One chunk of streamed TBPTT from ``state``: top-layer outputs and the final states, detached."""
    out, finals = unroll(model, _first_input(model, ids), state, dropout_masks(model, *ids.shape))
    return out, [tuple(v.detach() for v in f) for f in finals]


def step(model, ids: np.ndarray, h) -> tuple[np.ndarray, list[tuple]]:
    """One step without recording for ids (B,): logits and each layer's state as arrays; no dropout."""
    rnn = model.rnn
    if h is not None:
        _check_step_state(model, h, len(ids))
    with no_grad():
        state = ([tuple(s) for s in rnn.initial_state(None, len(ids))] if h is None
                 else [tuple(Tensor(v) for v in s) for s in h])
        x = Tensor(model.E.data[:, ids].T)
        for layer in range(model.num_layers):
            w_ih, w_hh, b_ih, b_hh = rnn.weights(layer)
            state[layer] = rnn.advance(rnn.project(x, w_ih, b_ih, b_hh), state[layer], w_hh, b_hh)
            x = state[layer][0]
    return x.data @ model.V.data.T, [tuple(v.data for v in s) for s in state]


def _check_step_state(model, h, batch: int) -> None:
    """``step``'s state is what ``step`` returned: a list, one entry per layer, of (h,) or (h, c), each (B, H)."""
    n = 2 if model.cell == "lstm" else 1
    want = (batch, model.hidden_dim)
    ok = isinstance(h, list) and len(h) == model.num_layers and all(
        isinstance(s, tuple) and len(s) == n and all(np.shape(v) == want for v in s) for s in h)
    if not ok:
        shape = "(h, c)" if n == 2 else "(h,)"
        raise ValueError(f"RNNLM.step: the state must be the one step returned: a list of {model.num_layers} "
                         f"{shape} tuples of arrays {want}, one per layer (not the (layers, B, H) layout of "
                         "hidden_states' h0)")


def _first_input(model, ids: np.ndarray) -> Tensor:
    """Layer 0's input side for every step at once: W_ih E x_t + biases, E looked up by column."""
    w_ih, _, b_ih, b_hh = model.rnn.weights(0)
    return model.rnn.project(model.E.T[ids], w_ih, b_ih, b_hh)
