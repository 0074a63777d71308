"""RNNLM with cell="rnn" | "gru" | "lstm" and num_layers: a numpy transcription, the truncation built
window by window from the library's own layers, dropout that truncation does not change, generation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn import functional as F
from tinygrad_rnn.models import RNNLM
from tinygrad_rnn.testing.strategies import seeds

STACKED = [("rnn", 2), ("gru", 1), ("gru", 2), ("lstm", 1), ("lstm", 2)]


def sig(v):
    return 1 / (1 + np.exp(-v))


def cell_numpy(cell, p, sfx, x, state):
    """One step of PyTorch's equations, written out."""
    gx = x @ p["weight_ih" + sfx].T + p["bias_ih" + sfx]
    gh = state[0] @ p["weight_hh" + sfx].T + p["bias_hh" + sfx]
    if cell == "rnn":
        return (np.tanh(gx + gh),)
    if cell == "gru":
        (h,) = state
        xr, xz, xn = np.split(gx, 3, axis=-1)
        hr, hz, hn = np.split(gh, 3, axis=-1)
        r, z = sig(xr + hr), sig(xz + hz)
        return ((1 - z) * np.tanh(xn + r * hn) + z * h,)
    i, f, g, o = np.split(gx + gh, 4, axis=-1)
    c = sig(f) * state[1] + sig(i) * np.tanh(g)
    return sig(o) * np.tanh(c), c


def loss_numpy(model, x, y):
    """Summed cross-entropy of the embedding → stacked cells → V model, step by step."""
    p = {k.removeprefix("rnn."): v for k, v in model.state_dict().items()}
    batch, steps = x.shape
    n_states = 2 if model.cell == "lstm" else 1
    states = [tuple(np.zeros((batch, model.hidden_dim)) for _ in range(n_states)) for _ in range(model.num_layers)]
    total = 0.0
    for t in range(steps):
        inp = p["E"][:, x[:, t]].T
        for layer in range(model.num_layers):
            states[layer] = cell_numpy(model.cell, p, f"_l{layer}", inp, states[layer])
            inp = states[layer][0]
        scores = inp @ p["V"].T
        scores = scores - scores.max(-1, keepdims=True)
        total -= (scores[np.arange(batch), y[:, t]] - np.log(np.exp(scores).sum(-1))).sum()
    return total


def windows_loss(model, x, y, k):
    """The tutorial's truncation spelled out with the library's own layer: for each t, a fresh pass over
    steps t-k..t from the state after step t-k-1, computed without a tape; the loss of step t only."""
    total = Tensor(0.0)
    for t in range(x.shape[1]):
        first = max(t - k, 0)
        h0 = None
        if first > 0:
            with tg.no_grad():
                _, h0 = model.rnn(model.E.T[x[:, :first]])
        out, _ = model.rnn(model.E.T[x[:, first:t + 1]], h0)
        total = total + F.linear_cross_entropy(out[:, -1], model.V, y[:, t], reduction="sum")
    return total


def grads(model, loss):
    model.zero_grad()
    loss.backward()
    return {n: np.zeros_like(p.data) if p.grad is None else p.grad.copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("cell,layers", STACKED)
def test_full_bptt_loss_is_the_numpy_transcription(cell, layers):
    rng = np.random.default_rng(0)
    model = RNNLM(7, 4, cell=cell, num_layers=layers, seed=1)
    x, y = rng.integers(0, 7, (2, 5)), rng.integers(0, 7, (2, 5))
    assert model.loss(x, y, reduction="sum").item() == pytest.approx(loss_numpy(model, x, y), rel=1e-12)
    names = [n for n, _ in model.named_parameters()]
    assert names[0] == "E" and names[-1] == "V" and f"rnn.weight_hh_l{layers - 1}" in names


@pytest.mark.parametrize("cell,layers", STACKED)
@settings(max_examples=8, deadline=None)
@given(steps=st.integers(1, 6), k=st.integers(0, 6), seed=seeds)
def test_truncated_gradients_equal_the_windows_built_from_the_layer(cell, layers, steps, k, seed):
    rng = np.random.default_rng(seed)
    model = RNNLM(6, 3, bptt_truncate=k, cell=cell, num_layers=layers, seed=seed % 1000)
    x, y = rng.integers(0, 6, (2, steps)), rng.integers(0, 6, (2, steps))
    loss = model.loss(x, y, reduction="sum")
    got = grads(model, loss)
    reference = windows_loss(model, x, y, k)
    want = grads(model, reference)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-12)
    for name in got:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell,layers", [("gru", 2), ("lstm", 2)])
def test_padded_batch_with_truncation_is_the_sum_of_its_sentences(cell, layers):
    rng = np.random.default_rng(4)
    model = RNNLM(6, 3, bptt_truncate=2, cell=cell, num_layers=layers, seed=0)
    lengths = [5, 2, 4]
    x, y = rng.integers(0, 6, (3, 5)), rng.integers(0, 6, (3, 5))  # padding holds real ids: it must not count
    mask = np.arange(5)[None] < np.array(lengths)[:, None]
    got = grads(model, model.loss(x, y, mask, reduction="sum"))
    want = {n: 0.0 for n in got}
    for b, n in enumerate(lengths):
        for name, g in grads(model, model.loss(x[b, :n], y[b, :n], reduction="sum")).items():
            want[name] = want[name] + g
    for name in got:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_full_bptt_gradient_of_a_stacked_model_matches_finite_differences(cell):
    model = RNNLM(5, 2, cell=cell, num_layers=2, seed=3)  # full BPTT: the true gradient
    x, y = np.array([[0, 3, 1, 4]]), np.array([[3, 1, 4, 2]])
    assert tg.gradcheck_model(model, lambda: model.loss(x, y, reduction="sum"), fast=False)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_truncation_leaves_the_loss_with_dropout_unchanged(cell):
    """Masks are drawn once per pass, so the windows drop exactly the units the full pass drops."""
    x, y = np.random.default_rng(0).integers(0, 6, (2, 6)), np.random.default_rng(1).integers(0, 6, (2, 6))
    losses = []
    for k in (None, 1):
        model = RNNLM(6, 4, bptt_truncate=k, cell=cell, num_layers=3, dropout=0.5, seed=2)
        losses.append([model.loss(x, y).item() for _ in range(3)])
    assert losses[0] == pytest.approx(losses[1], rel=1e-12)
    assert len(set(losses[0])) == 3  # each pass draws new masks
    model.eval()
    assert model.loss(x, y).item() == model.loss(x, y).item()


@pytest.mark.parametrize("cell,layers", STACKED + [("rnn", 1)])
def test_step_by_step_generation_reproduces_the_forward_logits(cell, layers):
    model = RNNLM(9, 5, cell=cell, num_layers=layers, dropout=0.3 if layers > 1 else 0.0, seed=0).eval()
    ids = np.random.default_rng(0).integers(0, 9, (3, 6))
    want = model(ids).data
    h = None
    for t in range(6):
        logits, h = model.step(ids[:, t], h)
        np.testing.assert_allclose(logits, want[:, t], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_stream_in_one_chunk_is_full_bptt_and_carries_the_state(cell):
    model = RNNLM(6, 3, cell=cell, num_layers=2, seed=0)
    x, y = np.random.default_rng(0).integers(0, 6, (2, 7)), np.random.default_rng(1).integers(0, 6, (2, 7))
    (whole, n), = list(model.stream(x, y, chunk=7))
    assert n == 14 and whole.item() == pytest.approx(model.loss(x, y, reduction="sum").item(), rel=1e-12)
    chunked = sum(loss.item() for loss, _ in model.stream(x, y, chunk=3))
    assert chunked == pytest.approx(whole.item(), rel=1e-12)  # the state is carried: the same losses


def test_float32_stacked_model_stays_float32():
    model = RNNLM(6, 3, cell="lstm", num_layers=2, dtype=np.float32, seed=0)
    loss = model.loss(np.array([1, 2, 3]), np.array([2, 3, 4]))
    loss.backward()
    assert loss.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in model.parameters())


@pytest.mark.parametrize("cell,layers", [("rnn", 1), ("gru", 2), ("lstm", 2)])
def test_with_truncation_a_trainable_initial_state_gets_the_gradient_of_the_windows_that_start_at_it(cell, layers):
    rng = np.random.default_rng(5)
    model = RNNLM(6, 3, bptt_truncate=1, cell=cell, num_layers=layers, seed=0)
    full = RNNLM(6, 3, cell=cell, num_layers=layers, seed=0)  # the same weights, no truncation
    x, w = rng.integers(0, 6, (2, 5)), rng.standard_normal((2, 5, 3))
    shape = (2, 3) if not model.stacked else (layers, 2, 3)
    h0 = [Tensor(rng.standard_normal(shape), requires_grad=True) for _ in range(2 if cell == "lstm" else 1)]
    start = h0[0] if len(h0) == 1 else tuple(h0)
    (model.hidden_states(x, start) * w).sum().backward()
    got = [h.grad.copy() for h in h0]
    for h in h0:
        h.grad = None
    total = Tensor(0.0)
    for t in range(5):  # window t: steps t-1, t from the state after step t-2, or from h0 itself
        first = max(t - 1, 0)
        state = start
        if first > 0:
            with tg.no_grad():
                before = full.hidden_states(x[:, :first], start)
            state = before[:, -1].detach() if not model.stacked else _detached_final(full, x[:, :first], start)
        total = total + (full.hidden_states(x[:, first:t + 1], state)[:, -1] * w[:, t]).sum()
    total.backward()
    for g, h in zip(got, h0):
        assert np.abs(g).max() > 0
        np.testing.assert_allclose(g, h.grad, rtol=1e-10, atol=1e-12)


def _detached_final(model, x, start):
    with tg.no_grad():
        _, last = model.rnn(model.E.T[x], start)
    return last.detach() if model.cell != "lstm" else tuple(v.detach() for v in last)


def test_step_refuses_a_state_in_another_layout():
    model = RNNLM(6, 3, cell="lstm", num_layers=2, seed=0)
    _, state = model.step(np.array([1, 2]))
    h_n, c_n = np.stack([s[0] for s in state]), np.stack([s[1] for s in state])  # hidden_states' layout
    with pytest.raises(ValueError, match=r"RNNLM.step: the state must be the one step returned: a list of 2"):
        model.step(np.array([1, 2]), (h_n, c_n))
    with pytest.raises(ValueError, match=r"tuples of arrays \(2, 3\)"):
        model.step(np.array([1, 2]), state[:1])


def test_bad_options_are_one_clear_error():
    with pytest.raises(ValueError, match="cell must be one of 'rnn', 'gru', 'lstm', got 'elman'"):
        RNNLM(5, 3, cell="elman")
    with pytest.raises(ValueError, match="dropout acts between recurrent layers, so it needs num_layers >= 2"):
        RNNLM(5, 3, cell="gru", dropout=0.2)
    with pytest.raises(ValueError, match="num_layers must be >= 1, got 0"):
        RNNLM(5, 3, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1"):
        RNNLM(5, 3, num_layers=2, dropout=1)
