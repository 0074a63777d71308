"""Linear and Embedding against finite differences; the embedding gradient is a scatter-add."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import Tensor, gradcheck
from tinygrad_rnn.nn import Embedding, Linear
from tinygrad_rnn.testing.strategies import seeds


@given(batch=st.integers(1, 3), n_in=st.integers(1, 4), n_out=st.integers(1, 3), bias=st.booleans(), seed=seeds)
def test_linear_gradients(batch, n_in, n_out, bias, seed):
    layer = Linear(n_in, n_out, bias=bias, seed=seed % 1000)
    x = Tensor(np.random.default_rng(seed).standard_normal((batch, n_in)), requires_grad=True)
    params = [layer.weight] + ([layer.bias] if bias else [])
    assert gradcheck(lambda x, *p: layer(x), [x, *params])
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data.T + (layer.bias.data if bias else 0))


def test_embedding_gradient_accumulates_repeated_ids():
    emb = Embedding(5, 3, seed=0)
    ids = np.array([[1, 4], [1, 1]])
    out = emb(ids)
    assert out.shape == (2, 2, 3)
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [0, 3, 0, 0, 1])
    assert gradcheck(lambda w: (emb(ids) * np.arange(3.0)).sum(), [emb.weight])


def test_embedding_rejects_ids_out_of_range():
    with pytest.raises(IndexError, match="token id 5 is out of range for a vocabulary of size 5"):
        Embedding(5, 2)(np.array([0, 5]))
    with pytest.raises(TypeError, match="token ids must be integers"):
        Embedding(5, 2)(np.array([0.0]))
