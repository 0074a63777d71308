"""Movement and indexing: pad, flip, roll, tile, repeat_interleave, gather, scatter_add and the composites
built on reshape, transpose, broadcast_to and getitem — forward against numpy, gradients to second order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import Tensor, gradcheck, gradgradcheck, gradients
from tinygrad_rnn.testing.strategies import axis_args, inputs_for, seeds, shapes

from sweep import check, covers


@st.composite
def sides(draw, min_dims=0, max_dims=3, empty=True):
    """Shapes with sides 1 to 4 (0-d and size-1 included) and, one time in eight, an empty axis."""
    shape = draw(shapes(min_dims, max_dims))
    if empty and shape and draw(st.integers(0, 7)) == 0:
        k = draw(st.integers(0, len(shape) - 1))
        shape = shape[:k] + (0,) + shape[k + 1:]
    return shape


def values(shape, seed=0):
    return Tensor(np.random.default_rng(seed).uniform(-2, 2, shape), requires_grad=True)


def grads(fn, x, seed=0):
    """x's gradient of (fn(x) * a fixed random cotangent).sum()."""
    out = fn(x)
    cot = np.random.default_rng(seed).standard_normal(out.shape)
    (g,) = tg.grad((out * cot).sum(), x)
    return g.data, cot


# --- pad -----------------------------------------------------------------------------------
@st.composite
def pad_widths(draw, ndim):
    kind = draw(st.sampled_from(["int", "pair", "per-axis"]))
    w = st.integers(0, 3)
    if kind == "int":
        return draw(w)
    if kind == "pair":
        return (draw(w), draw(w))
    return tuple((draw(w), draw(w)) for _ in range(ndim))


def _source_index(shape, pad_width, mode):
    """Per padded position, the flat position of the element it copies (-1 for a constant fill): numpy's pad
    applied to the positions themselves."""
    pos = np.arange(int(np.prod(shape, dtype=int))).reshape(shape)
    if mode == "constant":
        return np.pad(pos, pad_width, constant_values=-1)
    return np.pad(pos, pad_width, mode)


@covers("pad")
@given(shape=sides(), data=st.data(), mode=st.sampled_from(["constant", "reflect", "edge"]), seed=seeds)
def test_pad_matches_numpy_in_every_mode(shape, data, mode, seed):
    pw = data.draw(pad_widths(len(shape)))
    pairs = np.broadcast_to(np.asarray(pw if shape else 0), (len(shape), 2))
    if mode != "constant" and any(n == 0 and (b or a) for n, (b, a) in zip(shape, pairs)):
        with pytest.raises(tg.ShapeError, match="pad: cannot pad shape"):
            F.pad(values(shape), pw, mode)
        return
    kw = {"constant_values": 0.5} if mode == "constant" else {}
    check(lambda x: F.pad(x, pw, mode, value=0.5), inputs_for([shape], ["any"], seed),
          lambda x: np.pad(x, pw if shape else 0, mode, **kw))


@covers("pad_adjoint")
@given(shape=sides(), data=st.data(), mode=st.sampled_from(["constant", "reflect", "edge"]), seed=seeds)
def test_pad_adjoint_folds_every_padded_value_onto_its_source(shape, data, mode, seed):
    if mode != "constant":
        shape = tuple(max(n, 1) for n in shape)
    pw = data.draw(pad_widths(len(shape)))
    src = _source_index(shape, pw if shape else 0, mode)
    (g,) = inputs_for([src.shape], ["any"], seed)

    def reference(g):
        out = np.zeros(int(np.prod(shape, dtype=int)))
        keep = src >= 0
        np.add.at(out, src[keep], g[keep])
        return out.reshape(shape)

    check(lambda t: tg.ops.PadAdjoint.apply(t, pad_width=pw, mode=mode), [g], reference)
    x = values(shape, seed)  # the adjoint identity: <pad(x), g> = <x, pad_adjoint(g)>
    lhs = (F.pad(x, pw, mode).data * g.data).sum()
    rhs = (x.data * tg.ops.PadAdjoint.apply(g, pad_width=pw, mode=mode).data).sum()
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_pad_options_are_checked_by_name():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="pad: mode must be 'constant', 'reflect' or 'edge', got 'wrap'"):
        F.pad(x, 1, "wrap")
    with pytest.raises(ValueError, match=r"pad: pad_width must be non-negative integers, got \(1, -1\)"):
        x.pad((1, -1))
    with pytest.raises(ValueError, match="pad: pad_width must be non-negative integers, got 1.5"):
        x.pad(1.5)
    with pytest.raises(ValueError, match=r"pad: pad_width \(\(1, 1\), \(1, 1\), \(1, 1\)\) is neither"):
        x.pad(((1, 1),) * 3)
    with pytest.raises(tg.ShapeError, match=r"pad: cannot pad shape \(0, 3\)"):
        F.pad(Tensor(np.ones((0, 3))), 1, "edge")
    assert F.pad(Tensor(np.ones((0, 3))), ((0, 0), (1, 1)), "reflect").shape == (0, 5)


def test_reflect_pad_wider_than_the_axis_reflects_again_as_numpy_does():
    x = Tensor(np.arange(3.0), requires_grad=True)
    out = F.pad(x, (5, 4), "reflect")
    np.testing.assert_array_equal(out.data, np.pad(np.arange(3.0), (5, 4), "reflect"))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.bincount(np.pad(np.arange(3), (5, 4), "reflect")))


# --- flip, roll, tile, repeat_interleave -------------------------------------------------
@covers("flip")
@given(shape=sides(), data=st.data(), seed=seeds)
def test_flip_matches_numpy(shape, data, seed):
    dims = data.draw(axis_args(len(shape)))
    axes = tuple(range(len(shape))) if dims is None else (dims,) if isinstance(dims, int) else dims
    axes = tuple(a % len(shape) for a in axes) if shape else ()
    check(lambda x: x.flip(dims), inputs_for([shape], ["any"], seed), lambda x: np.flip(x, axes) if axes else x)


def test_flip_call_forms():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    want = x.data[::-1, ::-1]
    for out in (x.flip(), x.flip(None), x.flip(0, 1), x.flip((0, 1)), x.flip([-1, 0]), F.flip(x), F.flip(x, (0, 1))):
        np.testing.assert_array_equal(out.data, want)
    np.testing.assert_array_equal(x.flip(()).data, x.data)
    with pytest.raises(ValueError, match="flip: repeated axis"):
        x.flip(0, 0)
    with pytest.raises(tg.AxisError, match="flip: axis 2 is out of range"):
        x.flip(2)


@covers("roll")
@given(shape=sides(), data=st.data(), seed=seeds)
def test_roll_matches_numpy(shape, data, seed):
    if data.draw(st.booleans()) or not shape:
        shifts, dims = data.draw(st.integers(-5, 5)), None
    else:
        dims = tuple(data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=3)))
        shifts = tuple(data.draw(st.integers(-5, 5)) for _ in dims)
    check(lambda x: x.roll(shifts, dims), inputs_for([shape], ["any"], seed), lambda x: np.roll(x, shifts, dims))


def test_roll_options_follow_pytorch():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.roll(1).data, [[5, 0, 1], [2, 3, 4]])  # flattened, shape restored
    np.testing.assert_array_equal(F.roll(x, -1, 1).data, [[1, 2, 0], [4, 5, 3]])
    with pytest.raises(ValueError, match=r"roll: shifts \(1, 2\) and dims 0 must have the same length"):
        x.roll((1, 2), 0)
    with pytest.raises(ValueError, match=r"roll: with dims=None, shifts must be one integer, got \(1, 2\)"):
        x.roll((1, 2))
    with pytest.raises(TypeError, match="roll: shifts must be an integer"):
        x.roll(1.5, 0)
    with pytest.raises(tg.AxisError, match="roll: axis 2 is out of range"):
        x.roll(1, 2)


@covers("tile")
@given(shape=sides(), reps=st.lists(st.integers(1, 3), max_size=4).map(tuple), seed=seeds)
def test_tile_matches_numpy(shape, reps, seed):
    check(lambda x: x.tile(reps), inputs_for([shape], ["any"], seed), lambda x: np.tile(x, reps))


def test_tile_of_zero_reps_has_a_zero_gradient_and_repeat_is_tile():
    x = values((2, 3))
    assert x.tile((0, 2)).shape == (0, 6)
    x.tile((2, 0, 1)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros((2, 3)))
    np.testing.assert_array_equal(x.repeat(2, 1, 2).data, np.tile(x.data, (2, 1, 2)))
    np.testing.assert_array_equal(x.repeat((2, 2)).data, F.tile(x, 2 * (2,)).data)
    assert F.tile(x, 2).shape == (2, 6)  # numpy: ones prepended to the shorter reps
    with pytest.raises(ValueError, match=r"repeat: 1 sizes \(2,\) for a tensor of 2 dimensions"):
        x.repeat(2)
    with pytest.raises(ValueError, match=r"tile: reps must be non-negative, got \(-1,\)"):
        x.tile(-1)


@covers("repeat_interleave")
@given(shape=sides(), data=st.data(), seed=seeds)
def test_repeat_interleave_matches_numpy_repeat(shape, data, seed):
    dim = data.draw(st.none() | st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    n = int(np.prod(shape, dtype=int)) if dim is None else (shape[dim] if shape else 1)
    if data.draw(st.booleans()):
        repeats = data.draw(st.integers(1, 3))
    else:
        repeats = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
        if n and not repeats.any():
            repeats[0] = 1  # an output that ignores the input has nothing to check
    flat = (lambda x: x) if shape or dim is None else (lambda x: x.reshape(1))
    check(lambda x: x.repeat_interleave(repeats, dim), inputs_for([shape], ["any"], seed),
          lambda x: np.repeat(flat(x), repeats, axis=None if dim is None else dim))


def test_repeat_interleave_counts_are_checked():
    x = values((2, 3))
    np.testing.assert_array_equal(F.repeat_interleave(x, Tensor(np.array([2])), 0).data, np.repeat(x.data, 2, 0))
    with pytest.raises(tg.ShapeError, match=r"repeat_interleave: 3 repeats for the 2 elements along dim 0 of shape"):
        x.repeat_interleave([1, 2, 3], 0)
    with pytest.raises(ValueError, match="repeat_interleave: repeats must be a non-negative integer"):
        x.repeat_interleave(-1)
    with pytest.raises(TypeError, match="repeat_interleave: repeats must be integers"):
        x.repeat_interleave(1.5)


# --- gather, take_along_axis, scatter_add -----------------------------------------------
@st.composite
def gather_case(draw, src=False):
    """(x shape, dim, index), index of x's ndim, no larger than x outside dim, in range along it."""
    shape = draw(sides(min_dims=1, empty=False))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    d = dim % len(shape)
    ishape = tuple(draw(st.integers(1, 4)) if i == d else draw(st.integers(1, n)) for i, n in enumerate(shape))
    if draw(st.integers(0, 7)) == 0:  # an empty index picks nothing
        ishape = (0,) + ishape[1:]
    rng = np.random.default_rng(draw(seeds))
    index = rng.integers(0, shape[d], ishape)
    if not src:
        return shape, dim, index
    sshape = tuple(n + draw(st.integers(0, 1)) for n in ishape)
    return shape, dim, index, sshape


@covers("gather")
@given(case=gather_case(), seed=seeds)
def test_gather_matches_take_along_axis(case, seed):
    shape, dim, index = case
    lead = tuple(slice(0, n) for n in index.shape)
    lead = lead[: dim % len(shape)] + (slice(None),) + lead[dim % len(shape) + 1:]
    check(lambda x: x.gather(dim, index), inputs_for([shape], ["any"], seed),
          lambda x: np.take_along_axis(x[lead], index, dim))


def _scatter_add_reference(x, dim, index, src):
    out = x.copy()
    for pos in np.ndindex(index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] += src[pos]
    return out


@covers("scatter_add_dim")
@given(case=gather_case(src=True), seed=seeds)
def test_scatter_add_matches_a_loop(case, seed):
    shape, dim, index, sshape = case
    check(lambda x, s: x.scatter_add(dim, index, s), inputs_for([shape, sshape], ["any", "any"], seed),
          lambda x, s: _scatter_add_reference(x, dim, index, s))


def test_gather_and_scatter_add_of_a_0d_tensor():
    x, s = values(()), values((), 1)
    check(lambda x: F.gather(x, 0, np.array(0)), [x], lambda x: x)
    check(lambda x, s: F.scatter_add(x, -1, np.array(0), s), [x, s], lambda x, s: x + s)


def test_gather_gradient_accumulates_repeats_and_src_gets_gather_of_grad():
    x = values((3, 2))
    index = np.array([[0, 2], [0, 0], [1, 2]])
    x.gather(0, index).sum().backward()
    np.testing.assert_array_equal(x.grad, [[2, 1], [1, 0], [0, 2]])
    base, src = values((3, 2)), values((3, 2), 1)
    g, cot = grads(lambda s: base.scatter_add(0, index, s), src)
    np.testing.assert_array_equal(g, np.take_along_axis(cot, index, 0))


def test_gather_keeps_its_own_copy_of_the_index():
    x = values((4,))
    index = np.array([0, 1, 1])
    out = x.gather(0, index)
    src = values((3,), 1)
    summed = Tensor(np.zeros(4)).scatter_add(0, index, src)
    index[:] = 3
    out.sum().backward()
    summed.sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 2, 0, 0])
    np.testing.assert_array_equal(src.grad, [1, 1, 1])


def test_gather_and_scatter_add_errors_name_the_index_and_the_size():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="gather: index 3 is out of range for dimension 1 with size 3"):
        x.gather(1, np.array([[3]]))
    with pytest.raises(IndexError, match="gather: index -1 is out of range for dimension 0 with size 2"):
        F.gather(x, 0, Tensor(np.array([[-1]])))
    with pytest.raises(tg.ShapeError, match=r"gather: index of shape \(3,\) must have as many dimensions as the "
                                            r"input of shape \(2, 3\)"):
        x.gather(0, np.array([0, 1, 0]))
    with pytest.raises(tg.ShapeError, match=r"gather: index of shape \(3, 1\) is larger than the input of shape "
                                            r"\(2, 3\) outside dimension 1"):
        x.gather(1, np.zeros((3, 1), int))
    with pytest.raises(TypeError, match="gather: index must hold integers, got dtype float64"):
        x.gather(0, np.zeros((1, 1)))
    with pytest.raises(tg.AxisError, match="gather: axis 2 is out of range"):
        x.gather(2, np.zeros((1, 1), int))
    with pytest.raises(tg.ShapeError, match=r"scatter_add: index of shape \(1, 2\) is larger than src of shape "
                                            r"\(1, 1\)"):
        x.scatter_add(0, np.zeros((1, 2), int), np.ones((1, 1)))
    with pytest.raises(IndexError, match="scatter_add: index 5 is out of range for dimension 0 with size 2"):
        x.scatter_add(0, np.array([[5]]), np.ones((1, 1)))


@given(shape=shapes(min_dims=1), data=st.data(), seed=seeds)
def test_take_along_axis_is_numpys(shape, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    ishape = tuple(data.draw(st.sampled_from([1, s])) if i != axis % len(shape) else data.draw(st.integers(1, 3))
                   for i, s in enumerate(shape))
    xshape = tuple(1 if i != axis % len(shape) and data.draw(st.booleans()) else s for i, s in enumerate(shape))
    index = np.random.default_rng(seed).integers(-n, n, ishape)
    check(lambda x: F.take_along_axis(x, index, axis), inputs_for([xshape], ["any"], seed),
          lambda x: np.take_along_axis(x, index, axis))


def test_take_along_axis_errors_and_axis_none():
    x = values((2, 3))
    np.testing.assert_array_equal(x.take_along_axis(np.array([5, -6]), None).data, x.data.ravel()[[5, 0]])
    with pytest.raises(IndexError, match="take_along_axis: index 3 is out of range for axis 1 with size 3"):
        x.take_along_axis(np.array([[3]]), 1)
    with pytest.raises(tg.ShapeError, match=r"take_along_axis: indices of shape \(2, 2\) do not broadcast"):
        x.take_along_axis(np.zeros((2, 2), int), 0)


# --- composites: squeeze, unsqueeze, flatten, permute, swapaxes, expand -------------------
@given(shape=shapes(max_side=2), data=st.data(), seed=seeds)
def test_squeeze_drops_only_length_one_axes(shape, data, seed):
    axis = data.draw(axis_args(len(shape)))
    axes = range(len(shape)) if axis is None else [a % max(len(shape), 1) for a in np.atleast_1d(axis)]
    want = tuple(n for d, n in enumerate(shape) if not (d in axes and n == 1))
    check(lambda x: x.squeeze(axis), inputs_for([shape], ["any"], seed), lambda x: x.reshape(want))


def test_squeeze_and_unsqueeze_follow_pytorch():
    x = Tensor(np.ones((3, 1, 2)))
    assert x.squeeze(0).shape == (3, 1, 2)  # not 1: kept (numpy would raise)
    assert x.squeeze((0, 1)).shape == F.squeeze(x).shape == (3, 2)
    assert Tensor(1.0).squeeze(0).shape == () and Tensor(1.0).unsqueeze(-1).shape == (1,)
    assert x.unsqueeze(-1).shape == (3, 1, 2, 1) and F.unsqueeze(x, 0).shape == (1, 3, 1, 2)
    with pytest.raises(ValueError, match=r"squeeze: axis \(1, -2\) names an axis twice"):
        x.squeeze((1, -2))
    with pytest.raises(tg.AxisError, match="squeeze: axis 3 is out of range"):
        x.squeeze(3)
    with pytest.raises(tg.AxisError, match="unsqueeze: axis 4 is out of range for an array of 4 dimensions"):
        x.unsqueeze(4)


def test_flatten_permute_swapaxes():
    x = values((2, 3, 4))
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12) and F.flatten(x, 0, 1).shape == (6, 4)
    assert x.flatten(-2, -1).shape == (2, 12) and Tensor(1.0).flatten().shape == (1,)
    assert Tensor(np.ones((2, 0, 3))).flatten(1).shape == (2, 0)
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 1"):
        x.flatten(2, 1)
    for out in (x.permute(2, 0, 1), x.permute((2, 0, 1)), x.permute([-1, 0, 1]), F.permute(x, (2, 0, 1))):
        np.testing.assert_array_equal(out.data, x.data.transpose(2, 0, 1))
    with pytest.raises(ValueError, match=r"permute: axes \(0, 1\) are not a permutation of the 3 axes"):
        x.permute(0, 1)
    with pytest.raises(ValueError, match=r"permute: axes \(0, 0, 1\) are not a permutation"):
        x.permute(0, 0, 1)
    with pytest.raises(tg.AxisError, match="permute: axis 3 is out of range"):
        x.permute(0, 1, 3)
    np.testing.assert_array_equal(x.swapaxes(0, -1).data, x.data.swapaxes(0, 2))
    np.testing.assert_array_equal(F.swapdims(x, 1, 2).data, x.data.swapaxes(1, 2))
    assert x.swapdims(0, 1).shape == F.swapaxes(x, 0, 1).shape == (3, 2, 4)
    assert Tensor(1.0).swapaxes(0, -1).shape == () and Tensor(1.0).permute().shape == ()
    for fn in (lambda t: t.flatten(1), lambda t: t.permute(1, 2, 0), lambda t: t.swapaxes(0, 2)):
        assert gradcheck(fn, [x]) and gradgradcheck(fn, [x])


def test_expand_follows_pytorch():
    x = values((3, 1))
    check(lambda t: t.expand(2, -1, 4), [x], lambda a: np.broadcast_to(a, (2, 3, 4)))
    assert x.expand((3, 2)).shape == (3, 2)
    with pytest.raises(ValueError, match=r"expand: size -1 in \(-1, 3, 1\) is at a new leading axis"):
        x.expand(-1, 3, 1)
    with pytest.raises(tg.ShapeError, match=r"expand: cannot broadcast shape \(3, 1\) to \(2, 5\)"):
        x.expand(2, 5)
    with pytest.raises(tg.ShapeError, match=r"expand: 1 sizes \(3,\) for a tensor of shape \(3, 1\)"):
        x.expand(3)
    with pytest.raises(tg.ShapeError, match=r"expand: cannot broadcast shape \(3, 1\) to \(3, -2\)"):
        x.expand(3, -2)


# --- split, chunk, unbind ------------------------------------------------------------------
@given(shape=sides(min_dims=1), data=st.data(), seed=seeds)
def test_split_chunk_unbind_cut_like_numpy(shape, data, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    (x,) = inputs_for([shape], ["any"], seed)
    size = data.draw(st.integers(1, 4))
    sizes = data.draw(st.lists(st.integers(0, n), min_size=1, max_size=3).filter(lambda s: sum(s) <= n))
    sizes[-1] += n - sum(sizes)
    chunks = data.draw(st.integers(1, 4))
    step = -(-n // chunks)
    cases = [
        (lambda t: t.split(size, dim), [*range(size, n, size)]),
        (lambda t: F.split(t, sizes, dim), np.cumsum(sizes)[:-1]),
        (lambda t: F.chunk(t, chunks, dim), [*range(step, n, step)] if n else [0] * (chunks - 1)),
    ]
    for fn, cuts in cases:
        pieces = fn(x)
        want = np.split(x.data, cuts, axis=dim)
        assert len(pieces) == len(want)
        for p, w in zip(pieces, want):
            np.testing.assert_array_equal(p.data, w)
        if x.size:
            joined = lambda t, fn=fn: F.cat(fn(t), dim)  # noqa: E731
            assert gradcheck(joined, [x]) and gradgradcheck(joined, [x])
    pieces = F.unbind(x, dim)
    assert len(pieces) == n and all(np.array_equal(p.data, np.take(x.data, i, dim)) for i, p in enumerate(pieces))
    if x.size:
        weights = np.arange(1.0, n + 1)
        g, _ = grads(lambda t: F.stack([p * w for p, w in zip(t.unbind(dim), weights)], dim), x, seed)
        assert g.shape == x.shape


def test_split_sizes_must_add_up():
    x = Tensor(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"split: sizes \[1, 2\] sum to 3, not to the length 4 of dim 0"):
        x.split([1, 2])
    with pytest.raises(ValueError, match="split: split_size must be a positive integer, got 0"):
        x.split(0)
    with pytest.raises(ValueError, match="chunk: chunks must be a positive integer, got 0"):
        x.chunk(0)
    with pytest.raises(tg.AxisError, match="unbind: axis 2 is out of range"):
        x.unbind(2)
    assert [p.shape for p in x.split(3)] == [(3, 2), (1, 2)]
    assert [p.shape for p in x.chunk(3)] == [(2, 2), (2, 2)]  # ceil(4 / 3) = 2: two pieces, not three
    assert [p.shape for p in Tensor(np.ones(0)).chunk(3)] == [(0,)] * 3  # PyTorch's


def test_split_pieces_send_one_gradient_to_the_input():
    x = values((5, 3))
    for fast in (True, False):
        with tg.fast_paths(fast):
            x.grad = None
            out = [p * float(k + 1) for k, p in enumerate(x.split(2))]
            F.cat(out, 0).sum().backward()
            np.testing.assert_array_equal(x.grad, np.repeat([[1.0], [1.0], [2.0], [2.0], [3.0]], 3, 1))
            x.grad = None
            pieces = x.split(2)
            sum(p.sum() for p in pieces).backward()
            held = gradients.peek(x)
            if fast:  # one deferred scatter holding the three pieces, made dense once
                assert isinstance(held, gradients.IndexedGrad) and len(held.parts) == 3
            np.testing.assert_array_equal(x.grad, np.ones((5, 3)))


# --- against PyTorch -----------------------------------------------------------------------
def test_the_family_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 5))
    x, t = Tensor(a.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)
    index = rng.integers(0, 3, (2, 4, 3))
    src = rng.standard_normal((2, 4, 3))
    pairs = [
        (x.gather(0, index), t.gather(0, torch.tensor(index))),
        (F.gather(x, -1, index[:, :, :2] + 2), torch.gather(t, -1, torch.tensor(index[:, :, :2] + 2))),
        (x.scatter_add(0, index, Tensor(src)), t.scatter_add(0, torch.tensor(index), torch.tensor(src))),
        (F.scatter_add(x, 1, index, src), torch.scatter_add(t, 1, torch.tensor(index), torch.tensor(src))),
        (x.squeeze(1), t.squeeze(1)),
        (x[:, :1].squeeze((0, 1)), t[:, :1].squeeze((0, 1))),
        (x.flatten(1), t.flatten(1)),
        (x.permute(2, 0, 1), t.permute(2, 0, 1)),
        (x.swapdims(0, 2), t.swapdims(0, 2)),
        (x[:1].expand(2, 3, -1, 5), t[:1].expand(2, 3, -1, 5)),
        (x.repeat(2, 1, 1, 2), t.repeat(2, 1, 1, 2)),
        (x.repeat_interleave(2), t.repeat_interleave(2)),
        (x.repeat_interleave(np.array([1, 0, 3]), 0), t.repeat_interleave(torch.tensor([1, 0, 3]), 0)),
        (x.flip(0, 2), t.flip(0, 2)),
        (x.roll(3), t.roll(3)),
        (x.roll((1, -2), (0, 2)), t.roll((1, -2), (0, 2))),
        (x.unsqueeze(-2), t.unsqueeze(-2)),
    ]
    for cut_ours, cut_torch in [(x.split(2, 1), t.split(2, 1)), (x.split([1, 3, 1], -1), t.split([1, 3, 1], -1)),
                                (x.chunk(3, 2), t.chunk(3, 2)), (x.chunk(5, 0), t.chunk(5, 0)),
                                (x.unbind(1), t.unbind(1))]:
        assert [p.shape for p in cut_ours] == [tuple(p.shape) for p in cut_torch]
        pairs += list(zip(cut_ours, cut_torch))
    nnf = torch.nn.functional
    for mode, tmode in [("constant", "constant"), ("reflect", "reflect"), ("edge", "replicate")]:
        ours = F.pad(x, ((0, 0), (1, 2), (2, 1)), mode, value=0.5) if mode == "constant" else \
            F.pad(x, ((0, 0), (1, 2), (2, 1)), mode)
        kw = {"value": 0.5} if mode == "constant" else {}
        pairs.append((ours, nnf.pad(t, (2, 1, 1, 2), tmode, **kw)))  # torch: last axis first
    for k, (ours, theirs) in enumerate(pairs):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=0, atol=1e-14, err_msg=str(k))
    cot = [rng.standard_normal(o.shape) for o, _ in pairs]
    sum((o * c).sum() for (o, _), c in zip(pairs, cot)).backward()
    sum((th * torch.tensor(c)).sum() for (_, th), c in zip(pairs, cot)).backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(IndexError):  # both refuse a negative gather index
        x.gather(0, -np.ones((1, 1, 1), int))
    with pytest.raises(RuntimeError):
        t.gather(0, -torch.ones((1, 1, 1), dtype=torch.int64))


def test_malformed_split_sizes_and_pad_widths_are_named():
    t = Tensor(np.ones((2, 2)))
    with pytest.raises(TypeError, match="split: split_size_or_sections must be an int or a list of sizes, got 1.5"):
        t.split(1.5)
    with pytest.raises(ValueError, match=r"pad: pad_width \(\(1, 2\), \(3,\)\) is neither one"):
        t.pad(((1, 2), (3,)))
