"""Hypothesis strategies for gradient tests: shapes, broadcastable shapes, axes, and inputs from domains.

Use them to property-test your own ``Function`` the way the library tests its primitives::

    @given(shape=shapes(), seed=seeds)
    def test_softplus(shape, seed):
        (x,) = inputs_for([shape], ["any"], seed)
        assert gradcheck(Softplus.apply, [x]) and gradgradcheck(Softplus.apply, [x])

Needs hypothesis (``pip install 'tinygrad_rnn[dev]'``).
"""

from __future__ import annotations

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import mutually_broadcastable_shapes
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError("tinygrad_rnn.testing.strategies needs hypothesis: pip install 'tinygrad_rnn[dev]'") from e

from ..tensor import Tensor
from . import sample

seeds = st.integers(0, 2**32 - 1)


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4):
    """Shapes of rank ``min_dims`` to ``max_dims`` (0-d included by default), sides 1 to ``max_side``."""
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
        return draw(st.sampled_from([None, (), 0, -1]))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return tuple(draw(st.lists(st.integers(0, ndim - 1), unique=True, min_size=1, max_size=ndim)))


def inputs_for(shapes_, domains, seed: int) -> list[Tensor]:
    """float64 Tensors requiring grad, one per shape, drawn from the named domains (see ``DOMAINS``)."""
    rng = np.random.default_rng(seed)
    return [Tensor(sample(d, tuple(s), rng), requires_grad=True) for s, d in zip(shapes_, domains)]
