"""Gradient representations: the one module that knows the forms a gradient can take, and their rules.

A gradient is a dense array, or — in a first-order pass with fast paths on — one of two deferred
forms that are cheaper to build and to apply than to make dense one piece at a time:

* ``IndexedGrad``: zero except at indexed places, a list of (index, values). The gradient of
  indexing: slicing a sequence step by step, looking up a few columns of a big embedding.
  An optimizer can apply it to the looked-up entries only.
* ``OuterGrad``: a sum of products leftᵀ @ right, a list of (left, right). The gradient of a
  weight shared by many small products (once per step of an RNN), made dense by one matmul.

Everyone else goes through the functions here: ``scatter`` and ``outer`` make a gradient (deferred
or not), ``add``/``add_`` sum two, ``densify``, ``settle`` makes the results of a pass safe to keep,
``accumulate`` adds into a tensor's gradient, ``apply_update`` adds a scaled gradient into a
tensor's data (what SGD does), ``peek`` reads a tensor's gradient without making it dense, and
``norm``/``norm_sq`` measure one without making it dense either.

Ownership: a deferred gradient's arrays are never written to by anyone. A lookup's index is a
copy made when the forward ran; a product's factor taken from the forward pass (a layer's input)
is copied by ``settle`` at the end of the pass, which also copies anything the pass's results
share — so what a tensor keeps after ``backward()`` is its own.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

from . import grad_mode
from .shapes import add_at, frozen_index, scatter_add


class Deferred:
    """A gradient of ``shape`` and ``dtype`` kept as a list of parts; subclasses say what a part is."""

    __slots__ = ("shape", "dtype", "parts", "held")
    __array_ufunc__ = None  # ``ndarray + Deferred`` must not be taken over by numpy

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, parts: list, held: int | None = None):
        self.shape = shape
        self.dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        self.parts = parts
        if held is None:
            held = sum(np.size(a) for part in parts for a in part if isinstance(a, np.ndarray))
        self.held = held  # elements in the parts: past the dense size, keeping the form stops paying

    def dense(self) -> np.ndarray:
        return self.add_to(np.zeros(self.shape, self.dtype))

    def add_to(self, out: np.ndarray, scale: float | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
        """Add the gradient (times ``scale``) into ``out`` in place; ``scratch`` is a spare array like ``out``."""
        raise TypeError(f"{type(self).__name__} does not define add_to")

    def arrays(self) -> Iterable[np.ndarray]:
        """The arrays the parts hold that ``settle`` may keep as they are (it counts who holds what)."""
        return (a for part in self.parts for a in part if isinstance(a, np.ndarray))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype}, parts={len(self.parts)})"


class IndexedGrad(Deferred):
    """Zero except at the indexed places; a part is (index, values), the index's arrays copied."""

    __slots__ = ()

    def add_to(self, out, scale=None, scratch=None):
        for index, values in self.parts:
            add_at(out, index, values if scale is None else values * scale)
        return out

    def arrays(self):
        return (values for _, values in self.parts)

    def astype(self, dtype) -> IndexedGrad:
        return IndexedGrad(self.shape, np.dtype(dtype), [(i, v.astype(dtype)) for i, v in self.parts])

    def transpose(self, axes) -> Deferred | np.ndarray:
        """The gradient of a transposed array; a row lookup of a matrix stays indexed (as a column lookup)."""
        if tuple(axes) == (1, 0) and all(_row_ids(i) is not None for i, _ in self.parts):
            parts = [((slice(None), _row_ids(i)), np.moveaxis(v, -1, 0)) for i, v in self.parts]
            return IndexedGrad(self.shape[::-1], self.dtype, parts, held=self.held)
        return self.dense().transpose(axes)

    def _owned(self, needs_copy) -> IndexedGrad:
        return IndexedGrad(self.shape, self.dtype,
                           [(i, v.copy() if needs_copy(v) else v) for i, v in self.parts])


class OuterGrad(Deferred):
    """Σ leftᵀ @ right over the parts, left (n, rows) and right (n, cols); one matmul makes it dense.

    ``forward`` is which factor of a single part is a value of the forward pass, not yet copied
    (0 left, 1 right), or None; ``settle`` copies it (many parts are joined into fresh arrays).
    """

    __slots__ = ("forward",)

    def __init__(self, shape, dtype, parts: list, forward: int | None = None, held: int | None = None):
        self.shape, self.parts, self.forward = shape, parts, forward
        self.dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        self.held = sum(a.size + b.size for a, b in parts) if held is None else held

    def product(self, scale: float | None = None, out: np.ndarray | None = None) -> np.ndarray:
        if len(self.parts) == 1:
            left, right = self.parts[0]
        else:
            left = np.concatenate([p[0] for p in self.parts])
            right = np.concatenate([p[1] for p in self.parts])
        if scale is not None:
            left = left * scale  # the small factor takes the scale
        if out is not None and out.shape == self.shape and out.dtype == np.result_type(left, right):
            return np.matmul(left.T, right, out=out)
        return left.T @ right

    def dense(self) -> np.ndarray:
        return self.product().astype(self.dtype, copy=False)

    def add_to(self, out, scale=None, scratch=None):
        out += self.product(scale, scratch)
        return out

    def arrays(self):
        return self.parts[0] if len(self.parts) == 1 else ()  # many parts are joined into new arrays

    def astype(self, dtype) -> OuterGrad:
        """The same products, cast when made dense (as the dense product would be, then cast)."""
        return OuterGrad(self.shape, np.dtype(dtype), self.parts, self.forward, self.held)

    def transpose(self, axes) -> Deferred | np.ndarray:
        if tuple(axes) == (1, 0):  # (Lᵀ R)ᵀ = Rᵀ L
            return OuterGrad(self.shape[::-1], self.dtype, [(r, left) for left, r in self.parts],
                             None if self.forward is None else 1 - self.forward, held=self.held)
        return self.dense().transpose(axes)

    def _owned(self, needs_copy) -> OuterGrad:
        if len(self.parts) > 1:  # one part of fresh arrays: what the product would build anyway
            return OuterGrad(self.shape, self.dtype, [(np.concatenate([p[0] for p in self.parts]),
                                                       np.concatenate([p[1] for p in self.parts]))])
        part = tuple(a.copy() if k == self.forward or needs_copy(a) else a for k, a in enumerate(self.parts[0]))
        return OuterGrad(self.shape, self.dtype, [part])


def _row_ids(index):
    """The integer array of an index that picks rows (alone or as a 1-tuple), else None."""
    if isinstance(index, tuple):
        index = index[0] if len(index) == 1 else None
    return index if isinstance(index, np.ndarray) and index.dtype.kind in "iu" else None


# --- making gradients ---------------------------------------------------------------------
def scatter(values, index, shape: tuple[int, ...]):
    """The gradient of ``x[index]`` for an ``x`` of ``shape``: ``values`` added at ``index`` into zeros.

    Deferred (an ``IndexedGrad``, holding a copy of the index's arrays) with fast paths on. Called
    on arrays only: a recorded VJP uses the ScatterAdd primitive (``ScatterAdd.dispatch`` picks).
    """
    if grad_mode.fast:
        return IndexedGrad(shape, values.dtype, [(frozen_index(index), values)], held=values.size)
    return scatter_add(values, index, shape)


def outer(left, right, shape: tuple[int, ...]):
    """leftᵀ @ right for left (n, rows) and right (n, cols): the gradient of a weight used as x @ wᵀ.

    With fast paths on and few rows (the parts smaller than the product), it is deferred so that
    the products of many uses are summed by one matmul; ``right``, a value from the forward pass,
    is copied before ``backward()`` returns (``settle``). Tensors (a recorded VJP) get the product.
    """
    if (grad_mode.fast and type(left) is np.ndarray and type(right) is np.ndarray
            and left.shape[0] * (left.shape[1] + right.shape[1]) <= left.shape[1] * right.shape[1]):
        dtype = left.dtype if left.dtype == right.dtype else np.result_type(left, right)
        return OuterGrad(shape, dtype, [(left, right)], forward=1, held=left.size + right.size)
    return left.T @ right


# --- rules ------------------------------------------------------------------------------
def densify(g):
    """The gradient as an array (or Tensor), whatever form it travelled in."""
    return g.dense() if isinstance(g, Deferred) else g


def add(a, b):
    """a + b as a new value; neither argument is changed."""
    if isinstance(a, Deferred) or isinstance(b, Deferred):
        if type(a) is type(b):  # (many parts of a product are joined into fresh arrays by settle)
            return type(a)(a.shape, a.dtype, a.parts + b.parts, held=a.held + b.held)
        lazy, dense = (a, b) if isinstance(a, Deferred) else (b, a)
        if isinstance(dense, Deferred):
            dense = dense.dense()
        return lazy.add_to(np.array(dense, dtype=np.result_type(dense, lazy.dtype)))
    return a + b


def add_(total, g):
    """total + g, changing ``total`` in place where it can: ``total`` must be the caller's own."""
    if isinstance(total, Deferred):
        if type(total) is type(g):
            total.parts.extend(g.parts)
            total.held += g.held
            return total
        return add(total, g)
    if isinstance(g, Deferred):
        return g.add_to(total) if type(total) is np.ndarray else g.add_to(np.array(total))
    if type(total) is np.ndarray:
        total += g
        return total
    return total + g  # a numpy scalar (0-d result) cannot change in place


def _bounded(g):
    """A deferred gradient that has grown past the size of its dense form is made dense, so that
    gradients accumulated over many passes take no more memory than the dense one. (Within one pass
    it may grow: a weight used at every step of a long sequence is still summed by one matmul.)"""
    return g.dense() if isinstance(g, Deferred) and g.held > math.prod(g.shape) else g


def settle(results: list, foreign: set[int], copy_all: bool) -> list:
    """The results of a pass, each safe to keep: every array they hold is held by that result alone.

    A dense result is kept without a copy only if it owns its memory (or is a view of all of it),
    nothing else among the results refers to that memory, it did not come from a user-defined
    VJP (``foreign``: ids of such arrays' roots), and ``copy_all`` is off. Anything else is copied.
    Deferred results keep their form, with shared arrays copied the same way.
    """
    uses = Counter(id(_root(a)) for g in results for a in _arrays_of(g))

    def shared(a) -> bool:
        """Whether anything besides this one result may hold or change ``a``'s memory."""
        root = _root(a)
        return (uses[id(root)] > 1 or id(root) in foreign or type(root) is not np.ndarray
                or a.nbytes != root.nbytes)

    settled = []
    for g in results:
        if isinstance(g, Deferred):
            settled.append(g.dense() if copy_all else g._owned(shared))
        elif (copy_all or type(g) is not np.ndarray or shared(g)
              or not g.flags.c_contiguous or not g.flags.writeable):  # .grad: the caller's to write to
            settled.append(np.array(g, order="C"))
        else:
            settled.append(g)
    return settled


def _arrays_of(g) -> Iterable[np.ndarray]:
    if isinstance(g, Deferred):
        return g.arrays()
    return (g,) if isinstance(g, np.ndarray) else ()


def _root(a: np.ndarray):
    """The object that owns an array's memory (numpy points every view at it)."""
    return a if a.base is None else a.base


def roots(values) -> set[int]:
    """Ids of the memory owners behind a VJP's results, for ``settle``'s ``foreign``."""
    out = set()
    for g in values:
        out.update(id(_root(a)) for a in _arrays_of(g))
    return out


# --- measuring ---------------------------------------------------------------------------
def norm(g) -> float:
    """The Frobenius (L2) norm of a gradient in any form, as the dense array's would be."""
    return math.sqrt(norm_sq(g))


def norm_sq(g) -> float:
    """The squared Frobenius norm of a gradient in any form, computed without densifying where it pays.

    A product Σ leftᵀ @ right is measured through its Gram matrices, ‖LᵀR‖² = Σ (L Lᵀ) ∘ (R Rᵀ),
    when they are smaller than the product; a lookup's values are summed per id first (an entry
    looked up twice is one entry of the dense gradient), then squared. Anything else is made dense.
    """
    if isinstance(g, OuterGrad):
        return _outer_norm_sq(g)
    if isinstance(g, IndexedGrad):
        compact = _combined_lookup(g)
        return _dense_norm_sq(g.dense() if compact is None else compact)
    if isinstance(g, Deferred):
        return _dense_norm_sq(g.dense())
    return _dense_norm_sq(g)


def _dense_norm_sq(a) -> float:
    a = np.asarray(a)
    return float(np.vdot(a, a))


def _outer_norm_sq(g: OuterGrad) -> float:
    rows, cols = g.shape
    n = sum(left.shape[0] for left, _ in g.parts)
    if n * (rows + cols) >= rows * cols:  # the Gram matrices would cost more than the product
        return _dense_norm_sq(g.dense())
    left = np.concatenate([p[0] for p in g.parts]) if len(g.parts) > 1 else g.parts[0][0]
    right = np.concatenate([p[1] for p in g.parts]) if len(g.parts) > 1 else g.parts[0][1]
    # Rounding can leave a tiny negative where the product is (nearly) zero.
    return max(float(np.vdot(left @ left.T, right @ right.T)), 0.0)


def _combined_lookup(g: IndexedGrad) -> np.ndarray | None:
    """A lookup's values summed per distinct id, (distinct ids, width); None for index forms other
    than row ids (``x[ids]``) or column ids (``x[:, ids]``), all the parts in one form."""
    parts = [_as_rows(index, v, g.shape) for index, v in g.parts]
    if not parts or any(p is None or p[0] != parts[0][0] for p in parts):
        return None
    ids = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    values = np.concatenate([p[2] for p in parts]) if len(parts) > 1 else parts[0][2]
    order = np.argsort(ids, kind="stable")  # stable: each id's values summed in the order add_at adds them
    ids = ids[order]
    new = ids[1:] != ids[:-1]
    if new.all():
        return values
    return np.add.reduceat(values[order], np.flatnonzero(np.concatenate(([True], new))), axis=0)


def _as_rows(index, values: np.ndarray, shape: tuple[int, ...]):
    """A lookup's part as (form, ids (k,), values (k, width)), the ids made non-negative; None for
    other index forms. Column ids ``x[rows, ids]`` (rows a slice) become rows of the transpose."""
    ids = _row_ids(index)
    if ids is not None:
        form, picked, axis = "rows", (), 0
    elif (isinstance(index, tuple) and len(index) == 2 and isinstance(index[0], slice) and len(shape) >= 2
          and isinstance(index[1], np.ndarray) and index[1].dtype.kind in "iu"):
        ids, axis = index[1], 1
        form = ("columns", index[0].indices(shape[0]))  # parts combine only over the same rows
        picked = (len(range(*form[1])),)
    else:
        return None
    rest = shape[axis + 1:]
    if values.shape != picked + ids.shape + rest:
        return None  # values broadcast over the index: the dense form says what they add up to
    if axis == 1:  # (rows, ids..., rest...) → (ids..., rows, rest...)
        values = np.moveaxis(values, 0, ids.ndim)
    ids = ids.reshape(-1)
    return form, np.where(ids < 0, ids + shape[axis], ids), values.reshape(len(ids), math.prod(picked + rest))


# --- a tensor's gradient -----------------------------------------------------------------
def accumulate(tensor, g) -> None:
    """Add a settled gradient (the tensor's own from now on) into ``tensor``'s gradient."""
    tensor._grad = g if tensor._grad is None else _bounded(add_(tensor._grad, g))


def peek(tensor):
    """The tensor's gradient as it is held — an array, a deferred form, or None — without densifying it."""
    return tensor._grad


def apply_update(tensor, scale: float, scratch: np.ndarray | None = None) -> bool:
    """tensor.data += scale * gradient, in place; a deferred gradient touches only the entries it covers.

    ``scratch`` is a spare array like the data (it saves an allocation). Returns False when the
    tensor has no gradient. The caller bumps the tensor's version.
    """
    g = tensor._grad
    if g is None:
        return False
    if isinstance(g, Deferred):
        g.add_to(tensor.data, scale, scratch)
    elif scratch is not None and scratch.shape == g.shape:
        np.multiply(g, scale, out=scratch)
        tensor.data += scratch
    else:
        tensor.data += scale * g
    return True
