"""Indexed gradients: the VJP of indexing kept as (index, values) parts until someone needs it dense.

Slicing a long sequence step by step, or looking up a few rows of a big embedding, would
otherwise allocate a full-size zero gradient per lookup. Parts are summed lazily: adding two
indexed gradients joins their parts, adding one to an array scatters into a copy of the array,
and a leaf's ``.grad`` receives the parts in place.
"""

from __future__ import annotations

import numpy as np


def is_advanced(index) -> bool:
    """True if numpy treats the index as advanced (integer or boolean arrays): repeats must accumulate."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and (p.ndim > 0 or p.dtype == bool) for p in parts)


class IndexedGrad:
    """Zero except at the indexed places; ``parts`` is a list of (index, values)."""

    __slots__ = ("shape", "dtype", "parts")
    __array_ufunc__ = None  # make ``ndarray + IndexedGrad`` call __radd__

    def __init__(self, shape: tuple[int, ...], dtype, parts: list):
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.parts = parts

    def add_to(self, out: np.ndarray, scale: float | None = None) -> np.ndarray:
        """Scatter-add every part (times ``scale``) into ``out`` in place."""
        for index, values in self.parts:
            if scale is not None:
                values = values * scale
            if is_advanced(index):
                np.add.at(out, index, values)
            else:
                out[index] += values  # a basic index selects each element at most once
        return out

    def transpose(self, axes: tuple[int, ...]) -> IndexedGrad | np.ndarray:
        """The gradient of a transposed array; stays indexed for row lookups of a matrix (columns after)."""
        if tuple(axes) == (1, 0) and all(_single_array(i) for i, _ in self.parts):
            parts = [((slice(None), i[0] if isinstance(i, tuple) else i), np.moveaxis(v, -1, 0))
                     for i, v in self.parts]
            return IndexedGrad(self.shape[::-1], self.dtype, parts)
        return self.dense().transpose(axes)

    def dense(self) -> np.ndarray:
        return self.add_to(np.zeros(self.shape, self.dtype))

    def astype(self, dtype) -> IndexedGrad:
        return IndexedGrad(self.shape, dtype, [(i, np.asarray(v).astype(dtype)) for i, v in self.parts])

    def __add__(self, other):
        if isinstance(other, IndexedGrad):
            return IndexedGrad(self.shape, self.dtype, self.parts + other.parts)
        return self.add_to(np.array(other, dtype=np.result_type(other, self.dtype), copy=True))

    __radd__ = __add__


def _single_array(index) -> bool:
    """An index that is one integer array (picking rows), alone or as a 1-tuple."""
    if isinstance(index, tuple):
        index = index[0] if len(index) == 1 else None
    return isinstance(index, np.ndarray) and index.dtype.kind in "iu"


def densify(g):
    """The gradient as an array (or Tensor), whatever form it travelled in."""
    return g.dense() if type(g) is IndexedGrad else g
