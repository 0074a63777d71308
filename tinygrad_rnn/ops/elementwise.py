"""Elementwise primitives: arithmetic and the usual nonlinearities, each forward beside its VJP.

Binary ops broadcast like numpy in forward and ignore it in backward: the tape sums every
gradient back to its input's shape (``shapes.unbroadcast``).
"""

from __future__ import annotations

import numpy as np

from ..function import Function, register


@register
class Add(Function):
    """d(x + y) = grad, grad"""

    def forward(self, x, y):
        return np.add(x, y)

    def backward(self, grad):
        return grad, grad


@register
class Sub(Function):
    """d(x - y) = grad, -grad"""

    def forward(self, x, y):
        return np.subtract(x, y)

    def backward(self, grad):
        return grad, (-grad if self.needs_input_grad[1] else None)


@register
class Mul(Function):
    """d(x * y) = grad * y, grad * x"""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return np.multiply(x, y)

    def backward(self, grad):
        x, y = self.saved
        gx = grad * y if self.needs_input_grad[0] else None
        gy = grad * x if self.needs_input_grad[1] else None
        return gx, gy


@register
class Div(Function):
    """d(x / y) = grad / y, -grad * x / y²"""

    domains = ("any", "nonzero")

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return np.divide(x, y)

    def backward(self, grad):
        x, y = self.saved
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

    def backward(self, grad):
        (x,) = self.saved
        p = self.exponent
        if p == 0:
            return (grad * 0,)
        return (grad * p * x ** (p - 1) if p != 2 else grad * 2 * x,)


@register
class Pow(Function):
    """d(x ** y) = grad * y * x ** (y - 1), grad * out * log(x)"""

    domains = ("positive", "any")

    def forward(self, x, y):
        out = np.power(x, y)
        self.save_for_backward(x, y, out)
        return out

    def backward(self, grad):
        x, y, out = self.saved
        gx = grad * y * x ** (y - 1) if self.needs_input_grad[0] else None
        gy = grad * out * Log.dispatch(x) if self.needs_input_grad[1] else None
        return gx, gy


@register
class Exp(Function):
    """d exp(x) = grad * out"""

    def forward(self, x):
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        return (grad * self.saved[0],)


@register
class Log(Function):
    """d log(x) = grad / x"""

    domains = ("positive",)

    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, grad):
        return (grad / self.saved[0],)


@register
class Sqrt(Function):
    """d sqrt(x) = grad / (2 out)"""

    domains = ("positive",)

    def forward(self, x):
        out = np.sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        return (grad / (2 * self.saved[0]),)


@register
class Tanh(Function):
    """d tanh(x) = grad * (1 - out²)"""

    def forward(self, x):
        out = np.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out = self.saved[0]
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

    def backward(self, grad):
        out = self.saved[0]
        return (grad * (out * (1 - out)),)


@register
class Relu(Function):
    """d relu(x) = grad * (x > 0)"""

    domains = ("kink0",)

    def forward(self, x):
        mask = x > 0
        self.save_for_backward(mask)
        return np.where(mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, grad):
        return (grad * self.saved[0],)


@register
class Abs(Function):
    """d |x| = grad * sign(x)"""

    domains = ("kink0",)

    def forward(self, x):
        self.save_for_backward(np.sign(x))
        return np.abs(x)

    def backward(self, grad):
        return (grad * self.saved[0],)


@register
class Clip(Function):
    """d clip(x, lo, hi) = grad * (lo <= x <= hi)"""

    domains = ("clip",)

    def forward(self, x, lo, hi):
        if lo is not None and hi is not None and np.any(np.greater(lo, hi)):
            raise ValueError(f"clip: lo={lo} is greater than hi={hi}")
        mask = np.ones(np.shape(x), dtype=bool)
        if lo is not None:
            mask &= x >= lo
        if hi is not None:
            mask &= x <= hi
        self.save_for_backward(mask)
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, grad):
        return (grad * self.saved[0],)


@register
class Where(Function):
    """d where(c, x, y) = grad * c, grad * (1 - c)"""

    def forward(self, cond, x, y):
        cond = np.asarray(cond, dtype=bool)
        self.save_for_backward(cond)
        return np.where(cond, x, y)

    def backward(self, grad):
        (cond,) = self.saved
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
