"""Broadcasting bookkeeping: the one place where gradients are summed back to an input's shape."""

from __future__ import annotations


class ShapeError(ValueError):
    """An op was given shapes it cannot work with; the message names the op and the shapes."""


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


def normalize_axis(axis, ndim: int, op: str) -> tuple[int, ...]:
    """Turn ``None``, an int or a tuple of ints into a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of range for an array of {ndim} dimensions")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape a reduction over ``axes`` has with ``keepdims=True``."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))
