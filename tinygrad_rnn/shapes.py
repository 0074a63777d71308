"""Shape bookkeeping: broadcasting's adjoint, axes, indices, and the errors that name a bad shape."""

from __future__ import annotations

import numpy as np

_NumpyAxisError = getattr(np, "exceptions", np).AxisError


class ShapeError(ValueError):
    """An op was given shapes it cannot work with; the message names the op and the shapes."""


class AxisError(_NumpyAxisError):
    """An axis out of range for an array: both an IndexError and a ValueError, like numpy's own."""


def unbroadcast(grad, shape: tuple[int, ...]):
    """Sum ``grad`` down to ``shape``: the adjoint of numpy broadcasting.

    Works on numpy arrays and on Tensors alike (it only uses ``sum`` and ``reshape``), so the
    same reduction is recorded when a backward pass is itself differentiated.
    """
    gshape = grad.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise ShapeError(f"unbroadcast: gradient of shape {gshape} is smaller than input shape {shape}")
    axes = list(range(lead))
    for i, n in enumerate(shape):
        g = gshape[lead + i]
        if n == 1 and g != 1:
            axes.append(lead + i)
        elif n != g:
            raise ShapeError(f"unbroadcast: gradient of shape {gshape} does not broadcast from {shape}")
    if axes:
        grad = grad.sum(axis=tuple(axes), keepdims=True)
    return grad.reshape(shape)


def broadcast_clash(op: str, arrays) -> ShapeError | None:
    """A ShapeError naming ``op`` and the shapes if the array arguments do not broadcast together."""
    shapes = [np.shape(a) for a in arrays if isinstance(a, (np.ndarray, np.generic, int, float, bool))]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        listed = ", ".join(str(s) for s in shapes)
        return ShapeError(f"{op}: shapes {listed} do not broadcast together")
    return None


def normalize_axis(axis, ndim: int, op: str) -> tuple[int, ...]:
    """Turn ``None``, an int or a tuple of ints into a sorted tuple of non-negative axes.

    A 0-d array accepts axis 0 and -1 as PyTorch does (reducing over them is a no-op).
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis) if isinstance(axis, (tuple, list)) else None
    if axes is None or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
        raise TypeError(f"{op}: axis must be None, an integer or a tuple of integers, got {axis!r}")
    if ndim == 0:
        bad = [a for a in axes if a not in (0, -1)]
        if bad:
            raise AxisError(f"{op}: axis {bad[0]} is out of range for a 0-d array (only 0 and -1 are accepted)")
        return ()
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise AxisError(f"{op}: axis {a} is out of range for an array of {ndim} dimensions")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def check_axis(axis: int, ndim: int, op: str) -> int:
    """One axis in [-ndim, ndim), as a non-negative int; otherwise an AxisError naming the op."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise AxisError(f"{op}: axis {axis} is out of range for an array of {ndim} dimensions")
    return int(axis) % ndim


def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape a reduction over ``axes`` has with ``keepdims=True``."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def is_advanced(index) -> bool:
    """True if numpy treats the index as advanced (integer or boolean arrays): repeats must accumulate."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and (p.ndim > 0 or p.dtype == bool) for p in parts)


def frozen_index(index):
    """The index with every array in it copied, so that a saved index cannot change under the tape."""
    if type(index) is tuple:
        for i in index:
            if isinstance(i, np.ndarray):
                return tuple(i.copy() if isinstance(i, np.ndarray) else i for i in index)
        return index
    return index.copy() if isinstance(index, np.ndarray) else index


def add_at(out: np.ndarray, index, values) -> np.ndarray:
    """out[index] += values in place, with repeated indices accumulating; the adjoint of indexing."""
    if is_advanced(index):
        np.add.at(out, index, values)
    else:
        out[index] += values  # a basic index selects each element at most once
    return out


def scatter_add(values, index, shape: tuple[int, ...]) -> np.ndarray:
    """Zeros of ``shape`` with ``values`` added at ``index``."""
    return add_at(np.zeros(shape, dtype=np.result_type(values)), index, values)
