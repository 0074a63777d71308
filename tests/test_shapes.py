import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn.shapes import AxisError, ShapeError, normalize_axis, unbroadcast
from tinygrad_rnn.testing.strategies import broadcastable, seeds, shapes


@given(broadcastable(2), seeds)
def test_unbroadcast_inverts_broadcasting(pair, seed):
    small, other = pair
    big = np.broadcast_shapes(small, other)
    g = np.random.default_rng(seed).standard_normal(big)
    out = unbroadcast(g, small)
    assert out.shape == small
    np.testing.assert_allclose(out.sum(), g.sum(), rtol=1e-10, atol=1e-10)


@given(shapes(), seeds)
def test_unbroadcast_is_identity_on_equal_shapes(shape, seed):
    g = np.random.default_rng(seed).standard_normal(shape)
    assert unbroadcast(g, shape) is g


def test_unbroadcast_sums_leading_axes():
    np.testing.assert_array_equal(unbroadcast(np.ones((4, 2, 3)), (3,)), np.full(3, 8.0))


def test_unbroadcast_sums_size_one_axes():
    np.testing.assert_array_equal(unbroadcast(np.ones((2, 3)), (2, 1)), np.full((2, 1), 3.0))


@pytest.mark.parametrize("big, small", [((2, 3), (4,)), ((3,), (2, 3)), ((2, 3), (2, 2))])
def test_unbroadcast_refuses_incompatible_shapes(big, small):
    with pytest.raises(ShapeError, match="unbroadcast"):
        unbroadcast(np.ones(big), small)


@given(st.integers(0, 4), st.data())
def test_normalize_axis_accepts_every_valid_axis(ndim, data):
    if ndim == 0:
        assert normalize_axis(None, 0, "sum") == ()
        return
    a = data.draw(st.integers(-ndim, ndim - 1))
    assert normalize_axis(a, ndim, "sum") == (a % ndim,)


def test_normalize_axis_names_op_and_axis():
    with pytest.raises(AxisError, match="sum: axis 3 is out of range"):
        normalize_axis(3, 2, "sum")
    with pytest.raises(ValueError, match="repeated axis"):
        normalize_axis((0, -2), 2, "max")
    assert normalize_axis(0, 0, "sum") == normalize_axis(-1, 0, "sum") == ()  # 0-d: as PyTorch
    with pytest.raises(AxisError, match="out of range for a 0-d array"):
        normalize_axis(1, 0, "sum")
