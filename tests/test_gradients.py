"""The gradient forms and their rules, one by one: make, add, transpose, densify, settle, apply."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, gradients
from tinygrad_rnn.gradients import IndexedGrad, OuterGrad

rng = np.random.default_rng(0)


def indexed(shape=(5, 3), ids=(1, 3, 1)):
    ids = np.array(ids)
    values = rng.standard_normal((len(ids),) + shape[1:])
    dense = np.zeros(shape)
    np.add.at(dense, ids, values)
    return IndexedGrad(shape, np.float64, [(ids, values)]), dense


def outer(rows=6, cols=5, n=2):
    left, right = rng.standard_normal((n, rows)), rng.standard_normal((n, cols))
    return OuterGrad((rows, cols), np.float64, [(left, right)]), left.T @ right


def test_scatter_is_deferred_with_fast_paths_and_dense_without():
    values, ids = np.ones((3, 2)), np.array([0, 2, 0])
    g = gradients.scatter(values, ids, (4, 2))
    assert isinstance(g, IndexedGrad)
    with tg.fast_paths(False):
        d = gradients.scatter(values, ids, (4, 2))
    assert type(d) is np.ndarray
    np.testing.assert_array_equal(g.dense(), d)
    np.testing.assert_array_equal(d, [[2, 2], [0, 0], [1, 1], [0, 0]])


def test_outer_defers_only_when_it_pays_and_settle_copies_the_forward_value():
    left, right = np.ones((2, 6)), np.arange(10.0).reshape(2, 5)
    g = gradients.outer(left, right, (6, 5))
    assert isinstance(g, OuterGrad)
    (g,) = gradients.settle([g], set(), False)  # the end of the pass: the forward value is copied
    right[...] = -1  # the caller's array changes later: the deferred product does not
    np.testing.assert_array_equal(g.dense(), np.ones((2, 6)).T @ np.arange(10.0).reshape(2, 5))
    many = gradients.outer(np.ones((9, 6)), np.ones((9, 5)), (6, 5))  # 9 * 11 > 30: dense now
    assert type(many) is np.ndarray and (many == 9).all()
    with tg.fast_paths(False):
        assert type(gradients.outer(left, right, (6, 5))) is np.ndarray
    transposed = gradients.settle([gradients.outer(left, right, (6, 5)).transpose((1, 0))], set(), False)[0]
    right[...] = 7  # the forward value is the left factor once transposed: copied all the same
    np.testing.assert_array_equal(transposed.dense(), np.full((5, 2), -1.0) @ np.ones((2, 6)))
    t = gradients.outer(Tensor(left, requires_grad=True), Tensor(right), (6, 5))  # recorded: a product
    assert isinstance(t, Tensor) and t.grad_fn is not None


def test_densify_passes_dense_values_through():
    g, dense = indexed()
    np.testing.assert_array_equal(gradients.densify(g), dense)
    a = np.ones(3)
    assert gradients.densify(a) is a and gradients.densify(None) is None


def test_add_makes_a_new_value_and_changes_neither_argument():
    (a, da), (b, db) = indexed(), indexed(ids=(0, 4))
    total = gradients.add(a, b)
    assert isinstance(total, IndexedGrad) and len(a.parts) == 1 and len(b.parts) == 1
    np.testing.assert_allclose(total.dense(), da + db)
    mixed = gradients.add(a, db)
    assert type(mixed) is np.ndarray
    np.testing.assert_allclose(mixed, da + db)
    (o, do), _ = outer(5, 3), None
    np.testing.assert_allclose(gradients.add(a, o), da + do)  # two kinds: dense
    x, y = np.ones(2), np.full(2, 2.0)
    assert gradients.add(x, y) is not x and (x == 1).all()


def test_add_in_place_extends_the_callers_own_total():
    a, da = indexed()
    b, db = indexed(ids=(2,))
    total = gradients.add_(a, b)
    assert total is a and len(a.parts) == 2
    np.testing.assert_allclose(total.dense(), da + db)
    dense_total = np.zeros((5, 3))
    assert gradients.add_(dense_total, b) is dense_total
    np.testing.assert_allclose(dense_total, db)
    scalar = gradients.add_(np.float64(1.0), np.float64(2.0))  # a 0-d result is a numpy scalar
    assert scalar == 3.0


def test_accumulated_passes_past_the_dense_size_become_dense():
    t = Tensor(np.zeros((6, 5)), requires_grad=True)
    gradients.accumulate(t, outer(rows=6, cols=5, n=1)[0])  # 11 elements held for a 30-element gradient
    gradients.accumulate(t, outer(rows=6, cols=5, n=1)[0])
    assert isinstance(gradients.peek(t), OuterGrad)  # 22 <= 30: still worth it
    gradients.accumulate(t, outer(rows=6, cols=5, n=1)[0])
    assert type(gradients.peek(t)) is np.ndarray  # 33 > 30: dense
    within_a_pass = gradients.add_(outer(rows=6, cols=5, n=3)[0], outer(rows=6, cols=5, n=3)[0])
    assert isinstance(within_a_pass, OuterGrad) and within_a_pass.held == 66  # one pass: one matmul later


def test_transpose_keeps_a_row_lookup_indexed_as_a_column_lookup():
    g, dense = indexed((5, 3))
    t = g.transpose((1, 0))
    assert isinstance(t, IndexedGrad) and t.shape == (3, 5)
    np.testing.assert_array_equal(t.dense(), dense.T)
    s = IndexedGrad((4, 3), np.float64, [((slice(1, 3),), np.ones((2, 3)))])
    np.testing.assert_array_equal(s.transpose((1, 0)), s.dense().T)  # a slice: dense
    o, do = outer()
    assert isinstance(o.transpose((1, 0)), OuterGrad)
    np.testing.assert_allclose(o.transpose((1, 0)).dense(), do.T)


def test_astype_keeps_the_form():
    g, dense = indexed()
    o, do = outer()
    assert g.astype(np.float32).dense().dtype == np.float32
    np.testing.assert_allclose(o.astype(np.float32).dense(), do, rtol=1e-5, atol=1e-6)


def test_settle_keeps_an_exclusive_array_and_copies_what_is_shared():
    own = np.ones(3)
    shared = np.full(3, 2.0)
    view_of_all = np.arange(6.0).reshape(2, 3)[...]  # a view covering its whole root
    part = np.arange(6.0)[:3]  # a view of half its root
    out = gradients.settle([own, shared, shared, view_of_all, part], foreign=set(), copy_all=False)
    assert out[0] is own and out[3] is view_of_all
    assert out[1] is not shared and out[2] is not shared and out[1] is not out[2]
    assert out[4] is not part and out[4].base is None
    foreign = np.ones(2)
    assert gradients.settle([foreign], {id(foreign)}, False)[0] is not foreign
    assert gradients.settle([own], set(), copy_all=True)[0] is not own


def test_settle_copies_deferred_parts_that_share_memory_and_compacts_products():
    values = np.ones((2, 3))
    g = IndexedGrad((5, 3), np.float64, [(np.array([0, 1]), values)])
    settled_g, settled_dense = gradients.settle([g, values], set(), False)
    assert settled_g.parts[0][1] is not values and settled_dense is not values
    o = OuterGrad((6, 5), np.float64, [(np.ones((1, 6)), np.ones((1, 5))), (np.ones((2, 6)), np.ones((2, 5)))])
    (settled,) = gradients.settle([o], set(), False)
    assert len(settled.parts) == 1 and settled.parts[0][0].shape == (3, 6)
    np.testing.assert_array_equal(settled.dense(), o.dense())
    (plain,) = gradients.settle([o], set(), True)  # copy_all (fast paths off): dense
    assert type(plain) is np.ndarray


def test_accumulate_adds_into_a_tensors_own_gradient():
    t = Tensor(np.zeros((5, 3)), requires_grad=True)
    g, dense = indexed()
    gradients.accumulate(t, g)
    assert gradients.peek(t) is g
    gradients.accumulate(t, np.ones((5, 3)))
    np.testing.assert_allclose(t.grad, dense + 1)
    held = t.grad
    gradients.accumulate(t, indexed()[0])
    assert t.grad is held  # added in place into the tensor's own array


@pytest.mark.parametrize("form", ["indexed", "outer", "dense"])
def test_apply_update_adds_the_scaled_gradient_into_the_data(form):
    shape = (5, 3) if form == "indexed" else (6, 5)
    g, dense = indexed() if form == "indexed" else outer()
    if form == "dense":
        g = dense.copy()
    t = Tensor(rng.standard_normal(shape), requires_grad=True)
    start = t.data.copy()
    gradients.accumulate(t, g)
    assert gradients.apply_update(t, -0.1, np.empty(shape))
    np.testing.assert_allclose(t.data, start - 0.1 * dense, rtol=1e-14)
    if form == "indexed":  # only the looked-up rows were touched, and the gradient stayed deferred
        np.testing.assert_array_equal(t.data[[0, 2, 4]], start[[0, 2, 4]])
        assert isinstance(gradients.peek(t), IndexedGrad)
    assert not gradients.apply_update(Tensor(np.zeros(2), requires_grad=True), 1.0)


def test_repr_names_the_form():
    assert repr(indexed()[0]) == "IndexedGrad(shape=(5, 3), dtype=float64, parts=1)"
