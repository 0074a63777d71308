"""Elementwise primitives: arithmetic and the usual nonlinearities, each forward beside its VJP.

Binary ops broadcast like numpy in forward and ignore it in backward: the tape sums every
gradient back to its input's shape (``shapes.unbroadcast``).
"""

from __future__ import annotations

import numpy as np

from ..function import Function, register
from ..shapes import ShapeError


@register
class Add(Function):
    """d(x + y) = grad, grad"""

    broadcasting = True

    def forward(self, x, y):
        return np.add(x, y)

    def backward(self, grad):
        return grad, grad


@register
class Sub(Function):
    """d(x - y) = grad, -grad"""

    broadcasting = True

    def forward(self, x, y):
        return np.subtract(x, y)

    def backward(self, grad):
        return grad, (-grad if self.needs_input_grad[1] else None)


@register
class Mul(Function):
    """d(x * y) = grad * y, grad * x"""

    broadcasting = True

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return np.multiply(x, y)

    def backward(self, grad, x, y):
        gx = grad * y if self.needs_input_grad[0] else None
        gy = grad * x if self.needs_input_grad[1] else None
        return gx, gy


@register
class Div(Function):
    """d(x / y) = grad / y, -grad * x / y²"""

    domains = ("any", "nonzero")
    broadcasting = True

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return np.divide(x, y)

    def backward(self, grad, x, y):
        gx = grad / y if self.needs_input_grad[0] else None
        gy = -grad * x / (y * y) if self.needs_input_grad[1] else None
        return gx, gy


@register
class Neg(Function):
    """d(-x) = -grad"""

    def forward(self, x):
        return np.negative(x)

    def backward(self, grad):
        return (-grad,)


@register
class PowScalar(Function):
    """d(x ** p) = grad * p * x ** (p - 1), for a constant exponent p"""

    name = "pow_scalar"
    domains = ("positive",)

    def forward(self, x, exponent):
        self.exponent = exponent
        self.save_for_backward(x)
        return np.power(x, exponent)

    def backward(self, grad, x):
        p = self.exponent
        if p == 0:
            return (grad * 0,)
        return (grad * p * x ** (p - 1) if p != 2 else grad * 2 * x,)


@register
class Pow(Function):
    """d(x ** y) = grad * y * x ** (y - 1), grad * out * log(x); 0 where y = 0 (for x), x = 0 (for y)

    At x = 0 the formulas meet 0 * inf: as PyTorch, the gradient in y is 0 there (for y >= 0),
    and in x it is 0 where y = 0 (x ** 0 is constant).
    """

    domains = ("positive", "any")
    broadcasting = True

    def forward(self, x, y):
        out = np.power(x, y)
        y_zero = np.equal(y, 0)  # x ** 0 is constant in x
        x_zero = np.equal(x, 0) & np.greater_equal(y, 0)  # where log(x) is -inf
        self.save_for_backward(x, y, out, y_zero if y_zero.any() else None, x_zero if x_zero.any() else None)
        return out

    def backward(self, grad, x, y, out, y_zero, x_zero):
        gx = gy = None
        if self.needs_input_grad[0]:
            if y_zero is None:
                gx = grad * y * x ** (y - 1)
            else:  # 1 in place of x where y = 0, then masked: no 0 * inf here or in a second derivative
                gx = Where.dispatch(y_zero, 0.0, grad * y * Where.dispatch(y_zero, 1.0, x) ** (y - 1))
        if self.needs_input_grad[1]:
            if x_zero is None:
                gy = grad * out * Log.dispatch(x)
            else:  # likewise: the log of 1 where x is 0, then masked
                gy = Where.dispatch(x_zero, 0.0, grad * out * Log.dispatch(Where.dispatch(x_zero, 1.0, x)))
        return gx, gy


@register
class Exp(Function):
    """d exp(x) = grad * out"""

    def forward(self, x):
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (grad * out,)


@register
class Log(Function):
    """d log(x) = grad / x"""

    domains = ("positive",)

    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, grad, x):
        return (grad / x,)


@register
class Sqrt(Function):
    """d sqrt(x) = grad / (2 out)"""

    domains = ("positive",)

    def forward(self, x):
        out = np.sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (grad / (2 * out),)


@register
class Tanh(Function):
    """d tanh(x) = grad * (1 - out²)"""

    def forward(self, x):
        out = np.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (grad * (1 - out * out),)


@register
class Sigmoid(Function):
    """d sigmoid(x) = grad * out * (1 - out)"""

    def forward(self, x):
        # exp of a non-positive number only: no overflow for large |x|
        z = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(np.result_type(x, np.float16), copy=False)
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (grad * (out * (1 - out)),)


@register
class Relu(Function):
    """d relu(x) = grad * (x > 0)"""

    domains = ("kink0",)

    def forward(self, x):
        mask = x > 0
        self.save_for_backward(mask)
        return np.where(mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, grad, mask):
        return (grad * mask,)


@register
class Abs(Function):
    """d |x| = grad * sign(x)"""

    domains = ("kink0",)

    def forward(self, x):
        self.save_for_backward(np.sign(x))
        return np.abs(x)

    def backward(self, grad, sign):
        return (grad * sign,)


@register
class Clip(Function):
    """d clip(x, lo, hi) = grad * (lo <= x <= hi)"""

    domains = ("clip",)
    broadcasting = True

    def forward(self, x, lo, hi):
        bounds = [np.shape(b) for b in (lo, hi) if b is not None]
        try:
            if np.broadcast_shapes(np.shape(x), *bounds) != np.shape(x):
                raise ValueError
        except ValueError:
            raise ShapeError(f"clip: bounds of shapes {', '.join(map(str, bounds))} do not broadcast to "
                             f"the input's shape {np.shape(x)}") from None
        if lo is not None and hi is not None and np.any(np.greater(lo, hi)):
            raise ValueError(f"clip: the lower bound lo={lo} is greater than the upper bound hi={hi}")
        mask = np.ones(np.shape(x), dtype=bool)
        if lo is not None:
            mask &= x >= lo
        if hi is not None:
            mask &= x <= hi
        self.save_for_backward(mask)
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, grad, mask):
        return (grad * mask,)


@register
class Where(Function):
    """d where(c, x, y) = grad * c, grad * (1 - c)"""

    broadcasting = True

    def forward(self, cond, x, y):
        cond = np.asarray(cond, dtype=bool)
        self.save_for_backward(cond)
        return np.where(cond, x, y)

    def backward(self, grad, cond):
        gx = grad * cond if self.needs_input_grad[1] else None
        gy = grad * ~cond if self.needs_input_grad[2] else None
        return None, gx, gy


@register
class Cast(Function):
    """d x.astype(dtype) = grad.astype(x.dtype)"""

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return (grad.astype(self.in_dtype),)

