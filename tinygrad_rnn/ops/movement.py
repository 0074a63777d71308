"""Shape and indexing primitives: reshape, transpose, broadcast_to, indexing, cat and stack."""

from __future__ import annotations

import numpy as np

from .. import gradients
from ..function import Function, register
from ..shapes import ShapeError, check_axis, frozen_index, scatter_add


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

    accepts_lazy_grad = True  # a lookup of U.T's rows is a lookup of U's columns: it stays deferred

    def forward(self, x, axes=None):
        axes = tuple(range(x.ndim))[::-1] if axes is None else axes
        if len(axes) != x.ndim or sorted(check_axis(a, max(x.ndim, 1), "transpose") for a in axes) \
                != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
        self.inverse = tuple(int(i) for i in np.argsort([a % x.ndim for a in axes]))
        return x.transpose(axes)

    def backward(self, grad):
        return (grad.transpose(self.inverse),)  # a deferred gradient transposes its parts


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
        try:
            out = x[index]
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} is invalid for shape {x.shape}: {e}") from None
        self.save_for_backward(frozen_index(index))  # a copy: the caller may reuse its index array
        return out

    def backward(self, grad, index):
        return (ScatterAdd.dispatch(grad, index=index, shape=self.in_shape),)


@register
class ScatterAdd(Function):
    """d scatter_add(g, index, shape) = grad[index]; the adjoint of indexing"""

    name = "scatter_add"

    def forward(self, g, index, shape):
        index = frozen_index(index)
        self.save_for_backward(index)
        return scatter_add(g, index, shape)

    def backward(self, grad, index):
        return (GetItem.dispatch(grad, index=index),)

    @classmethod
    def on_arrays(cls, g, index, shape):
        """In a first-order VJP: the gradient form that keeps only the indexed values."""
        return gradients.scatter(g, index, shape)


@register
class Cat(Function):
    """d cat(xs, axis) = grad split back into the inputs' extents along axis"""

    def forward(self, *xs, axis=0):
        if not xs:
            raise ValueError("cat: needs at least one tensor")
        ndims = {np.ndim(x) for x in xs}
        if 0 in ndims:
            raise ShapeError("cat: 0-d arrays cannot be concatenated; use stack")
        axis = check_axis(axis, np.ndim(xs[0]), "cat")
        try:
            out = np.concatenate(xs, axis=axis)
        except ValueError as e:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ShapeError(f"cat: cannot concatenate shapes {shapes} along axis {axis}: {e}") from None
        self.axis = axis
        self.bounds = np.cumsum([0] + [np.shape(x)[axis] for x in xs]).tolist()
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
        self.axis = check_axis(axis, np.ndim(xs[0]) + 1, "stack")
        return np.stack(xs, axis=self.axis)

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(
            grad[lead + (i,)] if need else None for i, need in enumerate(self.needs_input_grad)
        )
