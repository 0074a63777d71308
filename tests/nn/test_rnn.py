"""RNNCell and RNN: unrolled from primitives, checked against finite differences and a numpy loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import Tensor, gradcheck
from tinygrad_rnn.nn import RNN, RNNCell
from tinygrad_rnn.testing.strategies import seeds


def numpy_rnn(w_ih, w_hh, b, inputs, h, f):
    out = []
    for x in inputs:
        h = f(w_ih @ x + b + w_hh @ h)
        out.append(h)
    return np.array(out)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@given(steps=st.integers(1, 4), seed=seeds)
def test_rnn_on_vectors_matches_numpy_and_finite_differences(nonlinearity, steps, seed):
    rnn = RNN(3, 4, nonlinearity=nonlinearity, seed=seed % 1000)
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((steps, 3)), requires_grad=True)
    h0 = Tensor(rng.standard_normal(4), requires_grad=True)
    states, last = rnn(x, h0)
    f = np.tanh if nonlinearity == "tanh" else (lambda z: np.maximum(z, 0))
    want = numpy_rnn(rnn.weight_ih.data, rnn.weight_hh.data, rnn.bias.data, x.data, h0.data, f)
    np.testing.assert_allclose(states.data, want, atol=1e-12)
    np.testing.assert_array_equal(last.data, states.data[-1])
    params = [rnn.weight_ih, rnn.weight_hh, rnn.bias]
    if nonlinearity == "tanh":  # relu has kinks where finite differences are meaningless
        assert gradcheck(lambda x, h, *p: rnn(x, h)[0], [x, h0, *params])


@given(batch=st.integers(1, 3), steps=st.integers(1, 5), seed=seeds)
def test_rnn_on_ids_equals_one_hot_inputs(batch, steps, seed):
    rnn = RNN(6, 3, seed=seed % 1000)
    ids = np.random.default_rng(seed).integers(0, 6, (batch, steps))
    states, last = rnn(ids)
    one_hot = np.eye(6)[ids]
    dense_states, _ = rnn(Tensor(one_hot))
    np.testing.assert_allclose(states.data, dense_states.data, atol=1e-12)
    assert states.shape == (batch, steps, 3) and last.shape == (batch, 3)
    # closes over the layer: its parameters are perturbed in place; W_hh is unused for one step
    assert gradcheck(lambda *_: rnn(ids)[0], [rnn.weight_ih, rnn.weight_hh], allow_unused=steps == 1)
    single, single_last = rnn(ids[0])
    np.testing.assert_allclose(single.data, states.data[0], atol=1e-12)
    assert single_last.shape == (3,)


def test_rnn_cell_one_step():
    cell = RNNCell(2, 3, bias=False, seed=0)
    x, h = np.array([0.5, -1.0]), Tensor(np.array([0.1, 0.2, 0.3]))
    want = np.tanh(cell.weight_ih.data @ x + cell.weight_hh.data @ h.data)
    np.testing.assert_allclose(cell(x, h).data, want)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        RNNCell(2, 3, nonlinearity="gelu")
