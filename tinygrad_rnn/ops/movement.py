"""Shape and indexing primitives: reshape, transpose, broadcast_to, indexing, cat and stack."""

from __future__ import annotations

import numpy as np

from ..function import Function, register
from ..shapes import ShapeError
from ..sparse import IndexedGrad, is_advanced


@register
class Reshape(Function):
    """d reshape(x) = grad reshaped back"""

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape an array of shape {x.shape} into {shape}") from None

    def backward(self, grad):
        return (grad.reshape(self.in_shape),)


@register
class Transpose(Function):
    """d transpose(x, axes) = grad transposed by the inverse permutation"""

    accepts_lazy_grad = True  # a lookup of U.T's rows is a lookup of U's columns: it stays lazy

    def forward(self, x, axes=None):
        axes = tuple(range(x.ndim))[::-1] if axes is None else axes
        if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)) or len(axes) != x.ndim:
            raise ShapeError(f"transpose: axes {axes} are not a permutation for shape {x.shape}")
        self.inverse = tuple(np.argsort([a % x.ndim for a in axes]))
        return x.transpose(axes)

    def backward(self, grad):
        return (grad.transpose(self.inverse),)  # a lazy gradient transposes its parts


@register
class BroadcastTo(Function):
    """d broadcast_to(x) = grad (the tape sums it back to x's shape)"""

    name = "broadcast_to"

    def forward(self, x, shape):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ShapeError(f"broadcast_to: cannot broadcast shape {np.shape(x)} to {shape}") from None

    def backward(self, grad):
        return (grad,)


@register
class GetItem(Function):
    """d x[index] = grad scattered (added) into zeros of x's shape, so repeated indices accumulate"""

    name = "getitem"

    def forward(self, x, index):
        self.in_shape = x.shape
        self.save_for_backward(index)
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} is invalid for shape {x.shape}: {e}") from None

    def backward(self, grad):
        if isinstance(grad, np.ndarray | np.generic):  # first order: keep it sparse until needed
            return (IndexedGrad(self.in_shape, grad.dtype, [(self.saved[0], grad)]),)
        return (ScatterAdd.dispatch(grad, index=self.saved[0], shape=self.in_shape),)


@register
class ScatterAdd(Function):
    """d scatter_add(g, index, shape) = grad[index]; the adjoint of indexing"""

    name = "scatter_add"

    def forward(self, g, index, shape):
        self.save_for_backward(index)
        out = np.zeros(shape, dtype=g.dtype)
        if is_advanced(index):
            np.add.at(out, index, g)
        else:
            out[index] = g  # basic indexing selects each element at most once
        return out

    def backward(self, grad):
        return (GetItem.dispatch(grad, index=self.saved[0]),)


@register
class Cat(Function):
    """d cat(xs, axis) = grad split back into the inputs' extents along axis"""

    def forward(self, *xs, axis=0):
        if not xs:
            raise ValueError("cat: needs at least one tensor")
        try:
            out = np.concatenate(xs, axis=axis)
        except ValueError as e:  # numpy.AxisError is a ValueError too
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ShapeError(f"cat: cannot concatenate shapes {shapes} along axis {axis}: {e}") from None
        self.axis = axis % out.ndim
        self.bounds = np.cumsum([0] + [np.shape(x)[self.axis] for x in xs]).tolist()
        return out

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(
            grad[lead + (slice(a, b),)] if need else None
            for a, b, need in zip(self.bounds, self.bounds[1:], self.needs_input_grad)
        )


@register
class Stack(Function):
    """d stack(xs, axis) = grad indexed at each input's position along the new axis"""

    def forward(self, *xs, axis=0):
        if not xs:
            raise ValueError("stack: needs at least one tensor")
        if len({np.shape(x) for x in xs}) > 1:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ShapeError(f"stack: all inputs must have the same shape, got {shapes}")
        out = np.stack(xs, axis=axis)
        self.axis = axis % out.ndim
        return out

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(
            grad[lead + (i,)] if need else None for i, need in enumerate(self.needs_input_grad)
        )
