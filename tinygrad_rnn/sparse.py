"""Lazy gradients: sums of structured pieces kept as pieces until someone needs the array.

Two shapes of gradient are common in an unrolled RNN and expensive when made dense one at a
time: indexing (slicing a sequence step by step, looking up a few columns of a big embedding),
whose VJP is zero except at the indexed places, and a weight shared by many small products,
whose VJP per use is an outer product. Both are kept as parts: adding two joins their parts,
adding one to an array adds it into a copy of the array, a node's backward gets them dense
(unless it declares it can take them), and a leaf's ``.grad`` materialises them only when read,
so an optimizer can apply an embedding's gradient to the looked-up entries only.
"""

from __future__ import annotations

import numpy as np


def is_advanced(index) -> bool:
    """True if numpy treats the index as advanced (integer or boolean arrays): repeats must accumulate."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and (p.ndim > 0 or p.dtype == bool) for p in parts)


class LazyGrad:
    """A gradient of ``shape`` and ``dtype`` kept as a list of parts.

    Subclasses say what a part is and define ``add_to(out, scale=None, scratch=None)``: add the
    gradient (times ``scale``) into ``out`` in place, optionally using ``scratch``, an array
    like ``out``, for intermediate results.
    """

    __slots__ = ("shape", "dtype", "parts")
    __array_ufunc__ = None  # make ``ndarray + LazyGrad`` call __radd__

    def __init__(self, shape: tuple[int, ...], dtype, parts: list):
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.parts = parts

    def dense(self) -> np.ndarray:
        return self.add_to(np.zeros(self.shape, self.dtype))

    def astype(self, dtype) -> LazyGrad:
        return type(self)(self.shape, dtype, [tuple(np.asarray(v).astype(dtype) if isinstance(v, np.ndarray)
                                                     else v for v in part) for part in self.parts])

    def __add__(self, other):
        if type(other) is type(self):
            return type(self)(self.shape, self.dtype, self.parts + other.parts)
        if isinstance(other, LazyGrad):
            return other.add_to(self.dense())
        return self.add_to(np.array(other, dtype=np.result_type(other, self.dtype), copy=True))

    __radd__ = __add__


class IndexedGrad(LazyGrad):
    """Zero except at the indexed places; a part is (index, values)."""

    __slots__ = ()

    def add_to(self, out: np.ndarray, scale: float | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
        """Scatter-add every part (times ``scale``) into ``out`` in place."""
        for index, values in self.parts:
            if scale is not None:
                values = values * scale
            if is_advanced(index):
                np.add.at(out, index, values)
            else:
                out[index] += values  # a basic index selects each element at most once
        return out

    def transpose(self, axes: tuple[int, ...]) -> LazyGrad | np.ndarray:
        """The gradient of a transposed array; stays indexed for row lookups of a matrix (columns after)."""
        if tuple(axes) == (1, 0) and all(_single_array(i) for i, _ in self.parts):
            parts = [((slice(None), i[0] if isinstance(i, tuple) else i), np.moveaxis(v, -1, 0))
                     for i, v in self.parts]
            return IndexedGrad(self.shape[::-1], self.dtype, parts)
        return self.dense().transpose(axes)


class OuterGrad(LazyGrad):
    """A sum of products leftᵀ @ right, with left (n, rows) and right (n, cols); made dense by one matmul."""

    __slots__ = ()

    def product(self, scale: float | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Σ leftᵀ @ right as one matmul (times ``scale``, folded into the small left factor)."""
        if len(self.parts) == 1:
            left, right = self.parts[0]
        else:
            left = np.concatenate([p[0] for p in self.parts])
            right = np.concatenate([p[1] for p in self.parts])
        if scale is not None:
            left = left * scale
        if out is not None and out.shape == self.shape and out.dtype == np.result_type(left, right):
            return np.matmul(left.T, right, out=out)
        return left.T @ right

    def dense(self) -> np.ndarray:
        out = self.product()
        return out if out.dtype == self.dtype else out.astype(self.dtype)

    def add_to(self, out: np.ndarray, scale: float | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
        out += self.product(scale, scratch)
        return out

    def transpose(self, axes: tuple[int, ...]) -> LazyGrad | np.ndarray:
        if tuple(axes) == (1, 0):  # (Lᵀ R)ᵀ = Rᵀ L
            return OuterGrad(self.shape[::-1], self.dtype, [(r, left) for left, r in self.parts])
        return self.dense().transpose(axes)


def _single_array(index) -> bool:
    """An index that is one integer array (picking rows), alone or as a 1-tuple."""
    if isinstance(index, tuple):
        index = index[0] if len(index) == 1 else None
    return isinstance(index, np.ndarray) and index.dtype.kind in "iu"


def densify(g):
    """The gradient as an array (or Tensor), whatever form it travelled in."""
    return g.dense() if isinstance(g, LazyGrad) else g
