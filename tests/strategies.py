"""Hypothesis strategies shared by the tests: small shapes, broadcastable shapes, value seeds."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from tinygrad_rnn import Tensor
from tinygrad_rnn.op_cases import sample

seeds = st.integers(0, 2**32 - 1)


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4):
    return st.lists(st.integers(1, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def broadcastable(n: int, max_dims: int = 3):
    """``n`` shapes that broadcast together, including 0-d and size-1 axes."""
    return mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=max_dims, max_side=3).map(
        lambda s: s.input_shapes
    )


@st.composite
def axis_args(draw, ndim: int):
    """None, one axis (negative allowed) or a tuple of distinct axes for an array of ``ndim`` dims."""
    if ndim == 0:
        return draw(st.sampled_from([None, ()]))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return tuple(draw(st.lists(st.integers(0, ndim - 1), unique=True, min_size=1, max_size=ndim)))


def make_inputs(shapes_, domains, seed: int) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    return [Tensor(sample(d, s, rng), requires_grad=True) for s, d in zip(shapes_, domains)]
