"""Per-step gradient flow: the tape's ‖∂E_t/∂s_k‖ against finite differences and the hand-written gate version."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import functional as F
from tinygrad_rnn.models import RNNLM
from tinygrad_rnn.viz.flow import by_distance, gate_flow, gradient_flow, largest_difference, state_gradients

X, Y = np.array([0, 4, 2, 6, 1, 3]), np.array([4, 2, 6, 1, 3, 5])


def _loss_of_logits(logits: np.ndarray, target: int) -> float:
    top = logits.max()
    return float(np.log(np.exp(logits - top).sum()) + top - logits[target])


def _finite_difference_flow(model: RNNLM, x, y, eps: float = 1e-6) -> np.ndarray:
    """[t, k] by central differences in the top layer's h after step k, run on with ``step`` (no tape)."""
    steps = len(x)
    states, h = [], None
    for t in range(steps):
        _, h = model.step(np.array([x[t]]), h)
        states.append(h)

    def top(state):
        return state if not model.stacked else state[-1][0]

    def nudged(state, i, delta):
        if not model.stacked:
            out = state.copy()
            out[0, i] += delta
            return out
        out = [tuple(v.copy() for v in layer) for layer in state]
        out[-1][0][0, i] += delta
        return out

    def loss_at(t, k, state):
        for j in range(k + 1, t + 1):
            _, state = model.step(np.array([x[j]]), state)
        return _loss_of_logits((top(state) @ model.V.data.T)[0], y[t])

    flow = np.zeros((steps, steps))
    for t in range(steps):
        for k in range(t + 1):
            g = [(loss_at(t, k, nudged(states[k], i, eps)) - loss_at(t, k, nudged(states[k], i, -eps))) / (2 * eps)
                 for i in range(model.hidden_dim)]
            flow[t, k] = np.linalg.norm(g)
    return flow


@pytest.mark.parametrize("cell,layers", [("rnn", 1), ("rnn", 2), ("gru", 1), ("gru", 2), ("lstm", 1), ("lstm", 2)])
def test_full_bptt_flow_equals_finite_differences(cell, layers):
    model = RNNLM(7, 3, bptt_truncate=None, cell=cell, num_layers=layers, seed=3)
    flow = gradient_flow(model, X, Y)
    np.testing.assert_allclose(flow, _finite_difference_flow(model, X, Y), rtol=1e-6, atol=1e-9)
    assert np.all(flow[np.triu_indices(len(X), 1)] == 0)
    assert np.all(flow[np.tril_indices(len(X))] > 0)


@pytest.mark.parametrize("cell,layers", [("rnn", 1), ("gru", 2), ("lstm", 2)])
@pytest.mark.parametrize("k", [0, 2, 4])
def test_truncation_keeps_the_band_of_the_full_flow_and_nothing_else(cell, layers, k):
    """The windows recompute the same values, so within K steps the gradient is the full one; past them, 0."""
    full = gradient_flow(RNNLM(7, 3, bptt_truncate=None, cell=cell, num_layers=layers, seed=5), X, Y)
    cut = gradient_flow(RNNLM(7, 3, bptt_truncate=k, cell=cell, num_layers=layers, seed=5), X, Y)
    t, s = np.indices(full.shape)
    band = (t - s >= 0) & (t - s <= k)
    np.testing.assert_allclose(cut[band], full[band], rtol=1e-12, atol=0)
    assert np.all(cut[~band] == 0)


@given(steps=st.integers(1, 9), hidden=st.integers(1, 5), k=st.one_of(st.none(), st.integers(0, 6)),
       seed=st.integers(0, 2**16))
def test_the_tapes_flow_equals_the_hand_written_gate_versions(steps, hidden, k, seed):
    rng = np.random.default_rng(seed)
    model = RNNLM(11, hidden, bptt_truncate=k, seed=seed)
    x, y = rng.integers(0, 11, steps), rng.integers(0, 11, steps)
    tape, gate = gradient_flow(model, x, y), gate_flow(model, x, y)
    assert largest_difference(tape, gate) <= 1e-10
    assert np.array_equal(tape == 0, gate == 0)


def test_state_gradients_for_a_loop_of_ones_own_equals_the_models_flow():
    model = RNNLM(7, 3, bptt_truncate=None, seed=2)
    states, h = [], None
    for t in range(len(X)):
        xu = model.U.T[X[t]][None]
        h = F.tanh(xu) if h is None else F.linear(h, model.W, xu, activation="tanh")
        states.append(h)
    logits = F.linear(F.cat(states), model.V)
    losses = F.cross_entropy(logits, Y, reduction="none")
    np.testing.assert_allclose(state_gradients(losses, states), gradient_flow(model, X, Y), rtol=1e-12)
    with pytest.raises(ValueError, match=r"losses must have shape \(5,\)"):
        state_gradients(losses, states[:5])


def test_the_flow_leaves_the_parameters_gradients_alone_and_follows_the_mode():
    model = RNNLM(7, 4, bptt_truncate=2, cell="gru", num_layers=2, dropout=0.5, seed=0)
    model.eval()
    first = gradient_flow(model, X, Y)
    np.testing.assert_array_equal(first, gradient_flow(model, X, Y))  # no dropout in eval mode
    assert all(p.grad is None for p in model.parameters())


def test_by_distance_reads_the_diagonals():
    flow = np.tril(np.arange(16.0).reshape(4, 4))
    parts = by_distance(flow)
    np.testing.assert_array_equal(parts[0], [0, 5, 10, 15])
    np.testing.assert_array_equal(parts[1], [4, 9, 14])
    np.testing.assert_array_equal(parts[3], [12])


def test_bad_input_is_refused_by_name():
    model = RNNLM(7, 3, seed=0)
    with pytest.raises(ValueError, match=r"one sentence of ids each.*\(2, 3\)"):
        gradient_flow(model, np.zeros((2, 3), int), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="got shapes"):
        gradient_flow(model, [1, 2], [1])
    with pytest.raises(ValueError, match="only the tutorial's model"):
        gate_flow(RNNLM(7, 3, cell="lstm", seed=0), X, Y)
    frozen = RNNLM(7, 3, seed=0)
    for p in frozen.parameters():
        p.requires_grad = False
    with pytest.raises(TypeError, match="no recurrent states that require grad"):
        gradient_flow(frozen, X, Y)


def test_nan_never_counts_as_agreement():
    assert largest_difference(np.array([[np.nan]]), np.array([[1.0]])) == float("inf")
    assert largest_difference(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
