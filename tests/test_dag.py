"""Random expression DAGs with shared subexpressions: fan-out must accumulate, in any order."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn.functional as F
from tinygrad_rnn import gradcheck, gradgradcheck
from tinygrad_rnn.testing.strategies import seeds

# bounded, smooth operations so any composition stays well-conditioned
UNARY = [F.tanh, F.sigmoid, lambda x: x * 0.5, lambda x: -x]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, lambda a, b: F.tanh(a) * F.sigmoid(b)]


@st.composite
def programs(draw):
    """A list of steps; each reads earlier values by index, so values get reused (fan-out)."""
    n_inputs = draw(st.integers(1, 3))
    steps = []
    for k in range(draw(st.integers(1, 12))):
        avail = n_inputs + k
        if draw(st.booleans()):
            steps.append(("u", draw(st.integers(0, len(UNARY) - 1)), draw(st.integers(0, avail - 1))))
        else:
            steps.append(("b", draw(st.integers(0, len(BINARY) - 1)),
                          draw(st.integers(0, avail - 1)), draw(st.integers(0, avail - 1))))
    return n_inputs, steps


def run(steps, inputs):
    values = list(inputs)
    for step in steps:
        if step[0] == "u":
            values.append(UNARY[step[1]](values[step[2]]))
        else:
            values.append(BINARY[step[1]](values[step[2]], values[step[3]]))
    return sum(values[len(inputs):], values[-1] * 0).sum()


@given(programs(), seeds)
def test_random_dag_gradients_match_finite_differences(program, seed):
    from tinygrad_rnn import Tensor

    n_inputs, steps = program
    rng = np.random.default_rng(seed)
    inputs = [Tensor(rng.uniform(-1, 1, (2,)), requires_grad=True) for _ in range(n_inputs)]
    fn = lambda *xs: run(steps, xs)
    assert gradcheck(fn, inputs, allow_unused=True)  # a program may not read every input
    assert gradgradcheck(fn, inputs)
