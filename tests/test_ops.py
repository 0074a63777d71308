"""Every primitive: forward against numpy, gradient and second derivative against finite differences."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import REGISTRY, Tensor, gradcheck, gradgradcheck, ops
from tinygrad_rnn.testing import CASES, MODEL_CASES, check_case
from tinygrad_rnn.testing.strategies import axis_args, broadcastable, inputs_for, seeds, shapes

from sweep import OP_TEST_MODULES, TESTED, check, covers, domains

UNARY = {
    "neg": (lambda x: -x, np.negative),
    "exp": (F.exp, np.exp),
    "log": (F.log, np.log),
    "sqrt": (F.sqrt, np.sqrt),
    "tanh": (F.tanh, np.tanh),
    "sigmoid": (F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "abs": (F.abs, np.abs),
    "clip": (lambda x: F.clip(x, -1.0, 1.0), lambda x: np.clip(x, -1, 1)),
    "pow_scalar": (lambda x: x ** 1.5, lambda x: x ** 1.5),
}
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a ** b, np.power),
}


@covers(*UNARY)
@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes(), seed=seeds)
def test_unary_op_matches_numpy_and_finite_differences(name, shape, seed):
    fn, ref = UNARY[name]
    check(fn, inputs_for([shape], domains(name, 1), seed), ref)


@covers(*BINARY)
@pytest.mark.parametrize("name", sorted(BINARY))
@given(pair=broadcastable(2), seed=seeds)
def test_binary_op_broadcasts_like_numpy(name, pair, seed):
    fn, ref = BINARY[name]
    check(fn, inputs_for(pair, domains(name, 2), seed), ref)


@covers("where")
@given(trio=broadcastable(3), seed=seeds)
def test_where_selects_and_routes_gradient(trio, seed):
    cond = np.random.default_rng(seed).random(trio[0]) > 0.5
    check(lambda a, b: F.where(cond, a, b), inputs_for(trio[1:], ["any", "any"], seed),
          lambda a, b: np.where(cond, a, b))


@covers("cast")
@given(shape=shapes(), seed=seeds)
def test_cast_round_trip_keeps_values_and_dtype(shape, seed):
    (x,) = inputs_for([shape], ["any"], seed)
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float64 and x.grad.shape == x.shape
    check(lambda t: t.astype(np.float64) * 2.0, [x], lambda a: a * 2)


@st.composite
def matmul_shapes(draw):
    k = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm"]))
    batch_a, batch_b = draw(broadcastable(2, max_dims=2))
    m, n = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    a = (k,) if kind[0] == "v" else batch_a + (m, k)
    b = (k,) if kind[1] == "v" else batch_b + (k, n)
    return a, b


@covers("matmul")
@given(pair=matmul_shapes(), seed=seeds)
def test_matmul_handles_vectors_and_broadcast_batches(pair, seed):
    check(lambda a, b: a @ b, inputs_for(pair, ["any", "any"], seed), np.matmul)


@covers("linear")
@given(lead=shapes(max_dims=2, max_side=3), n_in=st.integers(1, 4), n_out=st.integers(1, 3), seed=seeds)
def test_linear_is_x_times_w_transposed_plus_b(lead, n_in, n_out, seed):
    inputs = inputs_for([lead + (n_in,), (n_out, n_in), (n_out,)], ["any", "any", "any"], seed)
    check(lambda x, w: F.linear(x, w), inputs[:2], lambda x, w: x @ w.T)
    check(lambda x, w, b: F.linear(x, w, b), inputs, lambda x, w, b: x @ w.T + b)
    check(lambda x, w, b: F.linear(x, w, b, activation="tanh"), inputs, lambda x, w, b: np.tanh(x @ w.T + b))
    x, w, b = inputs
    F.linear(x, w, b).sum().backward()
    assert w.grad.flags.c_contiguous and w.grad.shape == (n_out, n_in) and b.grad.shape == (n_out,)


def test_linear_with_fused_relu_matches_the_composite():
    x = Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    w = Tensor(np.array([[0.7, 0.2], [-0.4, 0.9], [0.3, -0.8]]), requires_grad=True)
    fused = F.linear(x, w, activation="relu")
    composite = F.relu(x @ w.T)
    np.testing.assert_array_equal(fused.data, composite.data)
    assert gradcheck(lambda x, w: F.linear(x, w, activation="relu"), [x, w])
    with pytest.raises(ValueError, match="activation must be None, 'tanh' or 'relu'"):
        F.linear(x, w, activation="gelu")


@covers("sum")
@given(shape=shapes(), data=st.data(), keepdims=st.booleans(), seed=seeds)
def test_sum_over_any_axes(shape, data, keepdims, seed):
    axis = data.draw(axis_args(len(shape)))
    check(lambda x: x.sum(axis=axis, keepdims=keepdims), inputs_for([shape], ["any"], seed),
          lambda x: np.sum(x, axis=axis, keepdims=keepdims))


@covers("max", "min")
@pytest.mark.parametrize("name", ["max", "min"])
@given(shape=shapes(), data=st.data(), keepdims=st.booleans(), seed=seeds)
def test_max_and_min_over_any_axes(name, shape, data, keepdims, seed):
    axis = data.draw(axis_args(len(shape)))
    reference = getattr(np, name)
    check(lambda x: getattr(x, name)(axis=axis, keepdims=keepdims), inputs_for([shape], domains(name, 1), seed),
          lambda x: reference(x, axis=axis, keepdims=keepdims))


def test_max_splits_gradient_evenly_between_ties():
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_mean_has_right_gradients():
    x = Tensor(np.array([[0.0, 1.5, 0.7], [2.0, -1.0, 0.3]]), requires_grad=True)
    assert gradcheck(lambda t: t.mean(axis=0), [x])
    np.testing.assert_allclose(x.mean().item(), 3.5 / 6)
    np.testing.assert_array_equal(x.min(axis=1).data, [0.0, -1.0])


@covers("reshape")
@given(shape=shapes(min_dims=1), seed=seeds, use_minus_one=st.booleans())
def test_reshape_round_trips(shape, seed, use_minus_one):
    target = tuple(reversed(shape)) + (1,)
    if use_minus_one:
        target = (-1,) + target[1:]
    check(lambda x: x.reshape(target), inputs_for([shape], ["any"], seed), lambda x: x.reshape(target))


@covers("transpose")
@given(shape=shapes(), data=st.data(), seed=seeds)
def test_transpose_any_permutation(shape, data, seed):
    axes = tuple(data.draw(st.permutations(range(len(shape)))))
    check(lambda x: x.transpose(axes), inputs_for([shape], ["any"], seed), lambda x: x.transpose(axes))


@covers("broadcast_to")
@given(shape=shapes(max_side=3), lead=shapes(max_dims=2, max_side=3), fill=st.integers(1, 3), seed=seeds)
def test_broadcast_to_sums_back(shape, lead, fill, seed):
    target = lead + tuple(fill if n == 1 else n for n in shape)
    check(lambda x: x.broadcast_to(target), inputs_for([shape], ["any"], seed),
          lambda x: np.broadcast_to(x, target))


@st.composite
def basic_index(draw, shape):
    parts = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "all"]))
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.integers(0, n - 1))
            parts.append(slice(start, draw(st.integers(start + 1, n)), draw(st.sampled_from([1, 2, -1]))))
        else:
            parts.append(slice(None))
    return tuple(parts)


@covers("getitem")
@given(shape=shapes(min_dims=1), data=st.data(), seed=seeds)
def test_getitem_basic_slicing(shape, data, seed):
    index = data.draw(basic_index(shape))
    check(lambda x: x[index] * 1.0, inputs_for([shape], ["any"], seed), lambda x: x[index] * 1.0)


@given(shape=shapes(min_dims=1), data=st.data(), seed=seeds)
def test_getitem_integer_arrays_accumulate_repeats(shape, data, seed):
    ids = np.array(data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=6)))
    check(lambda x: x[ids], inputs_for([shape], ["any"], seed), lambda x: x[ids])
    x = Tensor(np.zeros(shape), requires_grad=True)
    x[ids].sum().backward()
    counts = np.bincount(ids, minlength=shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))
    np.testing.assert_array_equal(x.grad, np.broadcast_to(counts, shape))


def test_getitem_boolean_mask():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    mask = np.array([[True, False, True], [False, False, True]])
    x[mask].sum().backward()
    np.testing.assert_array_equal(x.grad, mask.astype(float))


@covers("scatter_add")
@given(shape=shapes(min_dims=1), data=st.data(), seed=seeds)
def test_scatter_add_is_the_adjoint_of_indexing(shape, data, seed):
    ids = np.array(data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=5)))
    (g,) = inputs_for([(len(ids),) + shape[1:]], ["any"], seed)
    ref = np.zeros(shape)
    np.add.at(ref, ids, g.data)
    check(lambda t: ops.ScatterAdd.apply(t, index=ids, shape=shape), [g], lambda t: ref)


@covers("cat")
@given(base=shapes(min_dims=1), data=st.data(), seed=seeds)
def test_cat_splits_gradient_back(base, data, seed):
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    shapes_ = [base[: axis % len(base)] + (n,) + base[axis % len(base) + 1:] for n in sizes]
    check(lambda *xs: F.cat(xs, axis=axis), inputs_for(shapes_, ["any"] * len(sizes), seed),
          lambda *xs: np.concatenate(xs, axis=axis))


@covers("stack")
@given(shape=shapes(), data=st.data(), n=st.integers(1, 3), seed=seeds)
def test_stack_along_a_new_axis(shape, data, n, seed):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check(lambda *xs: F.stack(xs, axis=axis), inputs_for([shape] * n, ["any"] * n, seed),
          lambda *xs: np.stack(xs, axis=axis))


@covers("softmax", "log_softmax")
@given(shape=shapes(min_dims=1), data=st.data(), seed=seeds)
def test_softmax_and_log_softmax(shape, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    inputs = inputs_for([shape], ["any"], seed)
    e = lambda x: np.exp(x - x.max(axis=axis, keepdims=True))
    check(lambda x: F.softmax(x, axis=axis), inputs, lambda x: e(x) / e(x).sum(axis=axis, keepdims=True))
    check(lambda x: F.log_softmax(x, axis=axis), inputs,
          lambda x: np.log(e(x) / e(x).sum(axis=axis, keepdims=True)))


@covers("cross_entropy")
@given(lead=shapes(max_dims=2), classes=st.integers(1, 5), data=st.data(),
       reduction=st.sampled_from(["mean", "sum", "none"]), ignore=st.booleans(), seed=seeds)
def test_cross_entropy_matches_log_softmax_composite(lead, classes, data, reduction, ignore, seed):
    targets = np.random.default_rng(seed).integers(0, classes, lead)
    ignore_index = data.draw(st.integers(0, classes - 1)) if ignore else None
    fused = lambda x: F.cross_entropy(x, targets, reduction=reduction, ignore_index=ignore_index)
    (x,) = inputs_for([lead + (classes,)], ["any"], seed)
    logp = np.take_along_axis(F.log_softmax(x).data, targets[..., None], -1)[..., 0]
    keep = np.ones(lead, bool) if ignore_index is None else targets != ignore_index
    losses = np.where(keep, -logp, 0.0)
    want = {"none": losses, "sum": losses.sum(), "mean": losses.sum() / max(keep.sum(), 1)}[reduction]
    check(fused, [x], lambda _: want)


@covers("linear_cross_entropy")
@given(lead=shapes(max_dims=2), n_in=st.integers(1, 4), classes=st.integers(1, 5), data=st.data(),
       reduction=st.sampled_from(["mean", "sum", "none"]), ignore=st.booleans(), seed=seeds)
def test_linear_cross_entropy_equals_linear_then_cross_entropy(lead, n_in, classes, data, reduction, ignore, seed):
    targets = np.random.default_rng(seed).integers(0, classes, lead)
    ignore_index = data.draw(st.integers(0, classes - 1)) if ignore else None
    inputs = inputs_for([lead + (n_in,), (classes, n_in)], ["any", "any"], seed)
    kw = dict(reduction=reduction, ignore_index=ignore_index)
    want = F.cross_entropy(F.linear(*inputs), targets, **kw).data
    check(lambda x, w: F.linear_cross_entropy(x, w, targets, **kw), inputs, lambda x, w: want)


def test_every_registered_primitive_has_a_property_test():
    for module in OP_TEST_MODULES:  # each marks what it covers when imported
        importlib.import_module(module)
    assert TESTED == set(REGISTRY), f"untested: {set(REGISTRY) - TESTED}; unknown: {TESTED - set(REGISTRY)}"


def test_every_registered_primitive_has_a_cli_case():
    assert {c.op for c in CASES} == set(REGISTRY)


@pytest.mark.parametrize("case", CASES + MODEL_CASES, ids=lambda c: f"{c.op}-{c.label}")
def test_fixed_case_passes_to_second_order(case):
    assert check_case(case).ok


# --- edge cases found by peers' suites ---------------------------------------------------
def test_pow_at_zero_base_has_zero_gradient_in_the_exponent():
    x = Tensor(np.array([0.0, 0.0, 2.0]), requires_grad=True)
    y = Tensor(np.array([2.0, 0.0, 3.0]), requires_grad=True)
    (x ** y).sum().backward()
    np.testing.assert_array_equal(y.grad, [0.0, 0.0, 8 * np.log(2.0)])
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 12.0])  # 0 ** 0 is constant in x: 0, not nan
    (gy,) = tg.grad((Tensor(0.0) ** y).sum(), y, create_graph=True)
    (h,) = tg.grad(gy.sum(), y)
    assert np.isfinite(h.data).all()


def test_pow_matches_pytorch_at_zero():
    torch = pytest.importorskip("torch")
    xs, ys = np.array([0.0, 0.0, 0.0, 1.5]), np.array([2.0, 0.0, 0.5, -1.0])
    x, y = Tensor(xs.copy(), requires_grad=True), Tensor(ys.copy(), requires_grad=True)
    (x ** y).sum().backward()
    tx, ty = (torch.tensor(a, requires_grad=True) for a in (xs, ys))
    (tx ** ty).sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    np.testing.assert_array_equal(y.grad, ty.grad.numpy())


@pytest.mark.parametrize("name", ["max", "min"])
def test_a_nan_does_not_spread_to_other_elements_gradients(name):
    x = Tensor(np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]]), requires_grad=True)
    getattr(x, name)(axis=1).sum().backward()
    want_row1 = [0, 0, 1] if name == "max" else [1, 0, 0]
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], want_row1])  # the NaN takes its row's gradient
    x.grad = None
    getattr(x, name)().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("values", [
    np.array([3, 0, 7], np.uint8),
    np.array([np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max]),
    np.array([True, False, True]),
])
def test_min_and_max_are_exact_on_integer_and_bool_tensors(values):
    t = Tensor(values)
    assert t.min().item() == values.min() and t.max().item() == values.max()
    assert t.min().dtype == values.dtype


def test_reductions_accept_axis_0_and_minus_1_on_a_0d_tensor():
    x = Tensor(2.5, requires_grad=True)
    for axis in (0, -1):
        assert x.sum(axis).item() == 2.5 and x.max(axis=axis).item() == 2.5 and x.mean(axis).item() == 2.5
    x.sum(-1).backward()
    assert x.grad == 1.0
    with pytest.raises(tg.AxisError, match="sum: axis 1 is out of range for a 0-d array"):
        x.sum(1)


def test_transpose_none_reverses_the_axes():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.transpose(None).shape == (4, 3, 2)
    assert x.transpose().shape == x.T.shape == (4, 3, 2)


@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (1, 1, 1)])
def test_backward_seeds_one_for_any_one_element_output(shape):
    x = Tensor(np.full(shape, 3.0), requires_grad=True)
    (x * x).backward()
    np.testing.assert_array_equal(x.grad, np.full(shape, 6.0))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_is_twice_differentiable_behind_other_ops(reduction):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 5)), requires_grad=True)
    t = np.array([0, 2, 4])
    assert gradgradcheck(lambda x, w: F.cross_entropy(x @ w, t, reduction=reduction), [x, w])
    assert gradgradcheck(lambda x, w: F.linear_cross_entropy(x.tanh(), w.T, t, reduction=reduction), [x, w])


def test_a_composite_needing_an_input_its_forward_did_not_save_is_refused_clearly():
    class ScaleBy(tg.Function):
        once_differentiable = True

        def forward(self, x, k):
            return x * k

        def backward(self, grad):
            return grad * 3.0, None

        def composite(self, x, k):
            return x * 3.0

    t = Tensor(np.ones(2), requires_grad=True)
    (g,) = tg.grad(ScaleBy.apply(t * 1.0, 3.0).sum(), t, create_graph=False)
    np.testing.assert_array_equal(g.data, [3.0, 3.0])
    with pytest.raises(RuntimeError, match="scaleby cannot be differentiated twice: its composite form needs input 0"):
        tg.grad(ScaleBy.apply(t * 1.0, 3.0).sum(), t, create_graph=True)


@pytest.mark.parametrize("index", [((0, 0), slice(None)), (slice(None), (1, 1, 1)), [0, 0, 1], ([1, 1], [2, 2])])
def test_a_tuple_or_list_inside_an_index_repeats_like_numpy(index):
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x[index].sum().backward()
    want = np.zeros((2, 3))
    raw = tuple(np.asarray(i) if isinstance(i, (tuple, list)) else i for i in index) \
        if isinstance(index, tuple) else np.asarray(index)
    np.add.at(want, raw, 1.0)
    np.testing.assert_array_equal(x.grad, want)
