"""gradients.norm, a fast path: every form it measures without densifying agrees with the dense gradient's norm."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import gradients
from tinygrad_rnn.gradients import IndexedGrad, OuterGrad
from tinygrad_rnn.models import RNNLM

DTYPES = st.sampled_from([np.float32, np.float64])


def assert_norm_of_dense(g, scale: float = 1.0):
    """``norm(g)`` equals the dense gradient's norm; ``scale`` bounds rounding where terms cancel (Gram)."""
    dense = gradients.densify(g)
    expected = float(np.linalg.norm(np.asarray(dense, np.float64)))
    tol = 1e-4 if np.dtype(g.dtype if hasattr(g, "dtype") else dense.dtype) == np.float32 else 1e-11
    assert gradients.norm(g) == pytest.approx(expected, rel=tol, abs=tol * scale)


def no_densifying(monkeypatch):
    def refuse(self):
        raise AssertionError(f"{self!r} was made dense")

    monkeypatch.setattr(IndexedGrad, "dense", refuse)
    monkeypatch.setattr(OuterGrad, "dense", refuse)


@st.composite
def outer_grads(draw):
    dtype = draw(DTYPES)
    rows, cols = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    parts = [(rng.standard_normal((n, rows)).astype(dtype), rng.standard_normal((n, cols)).astype(dtype))
             for n in draw(st.lists(st.integers(0, 12), min_size=1, max_size=4))]
    return OuterGrad((rows, cols), dtype, parts)


@given(outer_grads())
def test_a_products_norm_is_the_dense_products(g):
    scale = sum(float(np.linalg.norm(a)) * float(np.linalg.norm(b)) for a, b in g.parts)
    assert_norm_of_dense(g, scale)


def test_a_product_is_measured_by_its_gram_matrices_only_when_they_are_smaller(monkeypatch):
    rng = np.random.default_rng(0)
    few = OuterGrad((50, 40), np.float64, [(rng.standard_normal((3, 50)), rng.standard_normal((3, 40)))] * 2)
    many = OuterGrad((50, 40), np.float64, [(rng.standard_normal((30, 50)), rng.standard_normal((30, 40)))])
    expected = [np.linalg.norm(g.dense()) for g in (few, many)]
    no_densifying(monkeypatch)
    assert gradients.norm(few) == pytest.approx(expected[0], rel=1e-12)
    with pytest.raises(AssertionError, match="was made dense"):
        gradients.norm(many)  # 30 * 90 >= 50 * 40: the product is the cheaper way


def test_a_product_that_cancels_is_not_negative():
    left = np.array([[1.0, 1e-9], [-1.0, 0.0]])
    g = OuterGrad((2, 1), np.float64, [(left, np.ones((2, 1)))])
    assert gradients.norm_sq(g) >= 0 and gradients.norm(g) == pytest.approx(1e-9, abs=1e-15)


@st.composite
def lookups(draw):
    """IndexedGrads of row ids ``x[ids]`` or column ids ``x[rows, ids]``, ids repeated and negative, several parts."""
    dtype = draw(DTYPES)
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=2, max_size=3)))
    columns = draw(st.booleans())
    rows = draw(st.sampled_from([slice(None), slice(1, None), slice(None, None, -2)])) if columns else None
    axis = 1 if columns else 0
    picked = (len(range(*rows.indices(shape[0]))),) if columns else ()
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        id_shape = tuple(draw(st.lists(st.integers(0, 5), max_size=2)))
        ids = rng.integers(-shape[axis], shape[axis], id_shape)  # few ids, drawn with repeats
        values = rng.standard_normal(picked + id_shape + shape[axis + 1:]).astype(dtype)
        parts.append(((rows, ids) if columns else ids, values))
    return IndexedGrad(shape, dtype, parts)


@given(lookups())
def test_a_lookups_norm_sums_repeated_ids_first(g):
    assert_norm_of_dense(g)


def test_a_lookup_is_measured_without_densifying(monkeypatch):
    ids = np.array([[3, 1, 3], [3, -7, 0]])  # -7 is 1: looked up three times in all
    rng = np.random.default_rng(1)
    rows = IndexedGrad((8, 2), np.float64, [(ids, rng.standard_normal((2, 3, 2))), ((np.array([1, 1]),),
                                                                                  rng.standard_normal((2, 2)))])
    columns = rows.transpose((1, 0))  # what a column lookup U.T[ids] leaves in U's gradient
    expected = np.linalg.norm(rows.dense())
    no_densifying(monkeypatch)
    assert gradients.norm(rows) == pytest.approx(expected, rel=1e-12)
    assert gradients.norm(columns) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("parts", [
    [(np.array([True, False, True]), np.ones((2, 2)))],  # a mask
    [(slice(0, 2), np.ones((2, 2)))],  # a basic slice
    [(np.array([0, 0]), np.ones((1, 2)))],  # values broadcast over the index
    [(np.array([0, 2]), np.ones((2, 2))), ((slice(None), np.array([1, 1])), np.ones((3, 2)))],  # two forms
    [((np.array([0, 0]), np.array([1, 1])), np.ones(2))],  # an element lookup
])
def test_other_index_forms_are_measured_dense(parts):
    assert_norm_of_dense(IndexedGrad((3, 2), np.float64, parts))


@given(st.lists(st.integers(0, 4), max_size=3), DTYPES, st.integers(0, 2**32 - 1))
def test_a_dense_gradients_norm_is_numpys(shape, dtype, seed):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    assert_norm_of_dense(a)
    assert_norm_of_dense(a.T)  # not contiguous


@pytest.mark.parametrize("options", [dict(), dict(cell="gru", num_layers=2)])
@pytest.mark.parametrize("batched", [False, True])
def test_every_parameter_of_a_model_measures_as_its_dense_gradient(options, batched):
    """With fast paths on, a model's gradients are deferred; off, dense. The norms agree."""
    def norms(fast):
        with tg.fast_paths(fast):
            model = RNNLM(300, 12, 2, seed=0, **options)
            if batched:
                x = np.array([[0, 5, 9, 5, 2], [7, 5, 5, 1, 0]])
                model.loss(x, x[:, ::-1], mask=np.array([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]), reduction="sum").backward()
            else:
                model.loss([0, 5, 9, 5, 2, 5], [5, 9, 5, 2, 5, 1], reduction="sum").backward()
            held = {name: gradients.peek(p) for name, p in model.named_parameters()}
            return {name: gradients.norm(g) for name, g in held.items()}, held

    fast, held = norms(True)
    dense, _ = norms(False)
    assert any(isinstance(g, IndexedGrad) for g in held.values())
    assert any(isinstance(g, OuterGrad) for g in held.values())
    assert fast.keys() == dense.keys()
    for name in fast:
        assert fast[name] == pytest.approx(dense[name], rel=1e-10), name
