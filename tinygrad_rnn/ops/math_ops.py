"""Elementwise math primitives: trigonometry, logarithms, rounding, pairwise max/min and erf, each
forward beside its VJP.

Gradients follow PyTorch: ``maximum``/``minimum`` split the gradient in half between tied inputs,
the step functions (``sign``, ``floor``, ``ceil``, ``round``, ``trunc``) have a zero gradient, and
``remainder`` is numpy's (and Python's) floor modulo, whose result has the divisor's sign.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from ..function import Function, register
from ..tensor import Tensor
from .elementwise import Exp

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _zero_grad(grad):
    """An exact zero gradient of grad's shape (``grad * 0`` would turn an inf or nan in grad into nan);
    a constant Tensor under create_graph, so the second derivative is zero too."""
    zero = np.zeros(grad.shape, grad.dtype)
    return Tensor(zero) if isinstance(grad, Tensor) else zero


# --- pairwise extrema ------------------------------------------------------------------------
class _Pairwise(Function):
    """max or min of two inputs: the gradient goes to the winner, half to each at a tie (as PyTorch)."""

    broadcasting = True
    ufunc = np.maximum
    beats = np.less  # x loses to y where beats(x, y): for maximum, where x < y

    def forward(self, x, y):
        out = self.ufunc(x, y)
        need = self.needs_input_grad
        if (need[0] or need[1]) and np.result_type(out).kind == "f":
            tie = np.equal(x, y)
            dtype = np.result_type(out)
            half = dtype.type(0.5)
            # not "x wins" but "x does not lose": PyTorch's rule, which gives a NaN's gradient to both
            wx = np.where(tie, half, ~self.beats(x, y)).astype(dtype, copy=False) if need[0] else None
            wy = np.where(tie, half, ~self.beats(y, x)).astype(dtype, copy=False) if need[1] else None
            self.save_for_backward(wx, wy)
        return out

    def backward(self, grad, wx, wy):
        return (grad * wx if wx is not None else None), (grad * wy if wy is not None else None)


@register
class Maximum(_Pairwise):
    """d maximum(x, y) = grad * [x > y] + grad/2 * [x = y], grad * [y > x] + grad/2 * [x = y]"""

    ufunc = np.maximum
    beats = np.less


@register
class Minimum(_Pairwise):
    """d minimum(x, y) = grad * [x < y] + grad/2 * [x = y], grad * [y < x] + grad/2 * [x = y]"""

    ufunc = np.minimum
    beats = np.greater


# --- trigonometric and hyperbolic ------------------------------------------------------------
@register
class Sin(Function):
    """d sin(x) = grad * cos(x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sin(x)

    def backward(self, grad, x):
        return (grad * Cos.dispatch(x),)


@register
class Cos(Function):
    """d cos(x) = -grad * sin(x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.cos(x)

    def backward(self, grad, x):
        return (-(grad * Sin.dispatch(x)),)


@register
class Tan(Function):
    """d tan(x) = grad * (1 + out²)"""

    domains = ("halfpi",)  # away from the poles at ±π/2

    def forward(self, x):
        out = np.tan(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (grad * (1 + out * out),)


@register
class Atan(Function):
    """d atan(x) = grad / (1 + x²)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.arctan(x)

    def backward(self, grad, x):
        return (grad / (1 + x * x),)


@register
class Atan2(Function):
    """d atan2(y, x) = grad * x / (x² + y²), -grad * y / (x² + y²)"""

    # y away from 0: no finite difference straddles the branch cut (x < 0, y = 0) or the origin
    domains = ("nonzero", "any")
    broadcasting = True

    def forward(self, y, x):
        self.save_for_backward(y, x)
        return np.arctan2(y, x)

    def backward(self, grad, y, x):
        g = grad / (x * x + y * y)
        return (g * x if self.needs_input_grad[0] else None), (-(g * y) if self.needs_input_grad[1] else None)


@register
class Sinh(Function):
    """d sinh(x) = grad * cosh(x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sinh(x)

    def backward(self, grad, x):
        return (grad * Cosh.dispatch(x),)


@register
class Cosh(Function):
    """d cosh(x) = grad * sinh(x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.cosh(x)

    def backward(self, grad, x):
        return (grad * Sinh.dispatch(x),)


# --- exponentials and logarithms -------------------------------------------------------------
@register
class Log1p(Function):
    """d log1p(x) = grad / (1 + x)"""

    domains = ("positive",)

    def forward(self, x):
        self.save_for_backward(x)
        return np.log1p(x)

    def backward(self, grad, x):
        return (grad / (1 + x),)


@register
class Expm1(Function):
    """d expm1(x) = grad * (out + 1)"""

    def forward(self, x):
        out = np.expm1(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (grad * (out + 1),)


@register
class Log2(Function):
    """d log2(x) = grad / (x ln 2)"""

    domains = ("positive",)

    def forward(self, x):
        self.save_for_backward(x)
        return np.log2(x)

    def backward(self, grad, x):
        return (grad / (x * _LN2),)


@register
class Log10(Function):
    """d log10(x) = grad / (x ln 10)"""

    domains = ("positive",)

    def forward(self, x):
        self.save_for_backward(x)
        return np.log10(x)

    def backward(self, grad, x):
        return (grad / (x * _LN10),)


@register
class Reciprocal(Function):
    """d (1 / x) = -grad * out²"""

    domains = ("nonzero",)

    def forward(self, x):
        out = np.divide(1.0, x)  # not np.reciprocal: that one is integer division on integers
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (-(grad * (out * out)),)


@register
class Rsqrt(Function):
    """d x^(-1/2) = -grad * out³ / 2"""

    domains = ("positive",)

    def forward(self, x):
        out = np.divide(1.0, np.sqrt(x))
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (grad * (out * out * out) * -0.5,)


# --- steps: piecewise constant, zero gradient (as PyTorch) ------------------------------------
class _Step(Function):
    """A piecewise-constant function: its gradient is zero wherever it is defined."""

    domains = ("offgrid",)  # away from the jumps, so finite differences see the zero too

    def backward(self, grad):
        return (_zero_grad(grad),)


@register
class Sign(_Step):
    """d sign(x) = 0"""

    domains = ("kink0",)

    def forward(self, x):
        return np.sign(x)


@register
class Floor(_Step):
    """d floor(x) = 0"""

    def forward(self, x):
        return np.floor(x)


@register
class Ceil(_Step):
    """d ceil(x) = 0"""

    def forward(self, x):
        return np.ceil(x)


@register
class Round(_Step):
    """d round(x) = 0"""

    def forward(self, x, decimals=0):
        if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
            raise ValueError(f"round: decimals must be an integer, got {decimals!r}")
        return np.round(x, decimals)  # half to even, as PyTorch


@register
class Trunc(_Step):
    """d trunc(x) = 0"""

    def forward(self, x):
        return np.trunc(x)


@register
class Remainder(Function):
    """d (x mod y) = grad, -grad * floor(x / y)"""

    domains = ("any", "nonzero")
    broadcasting = True

    def forward(self, x, y):
        if self.needs_input_grad[1]:
            quotient, out = np.divmod(x, y)  # the floor quotient that goes with numpy's remainder
            self.save_for_backward(quotient)
            return out
        self.save_for_backward(None)
        return np.remainder(x, y)

    def backward(self, grad, quotient):
        gx = grad if self.needs_input_grad[0] else None
        gy = -(grad * quotient) if self.needs_input_grad[1] else None
        return gx, gy


# --- erf ---------------------------------------------------------------------------------------
_ERF_TOP = 6.0  # erf(x) rounds to ±1 in float64 from here on (erfc(6) = 2e-17)
_ERF_PIECES = 192  # intervals of width h = 1/32 on [0, 6]
_ERF_DEGREE = 6
_ERF_CHUNK = 8192  # elements per pass: the temporaries of one chunk stay in cache
_ERF_FEW = 512  # up to here, one gather of whole rows of the table; beyond, one gather per coefficient


@functools.cache
def _erf_table() -> tuple[np.ndarray, np.ndarray]:
    """The table, by rows and by columns. Row k: the coefficients of erf(x)/x on [k h, (k+1) h) as a
    polynomial in u = x/h - k in [0, 1]; row 192: the constant erf(6)/6.

    Each row interpolates math.erf(x)/x at 7 points near the Chebyshev points, exactly (Newton's
    divided differences in rationals), then rounds each coefficient once: within 4 ulp of erf
    everywhere. Interpolating erf(x)/x, not erf, keeps the relative accuracy near 0. Built on first
    use (about 35 ms), not at import.
    """
    h = _ERF_TOP / _ERF_PIECES
    m = _ERF_DEGREE + 1
    # nodes on a 1/1024 grid: short rationals, fast exact arithmetic; barely off the Chebyshev points
    us = [Fraction(round((1 - math.cos(math.pi * (2 * k + 1) / (2 * m))) * 512), 1024) for k in range(m)]
    rows = []
    for i in range(_ERF_PIECES):
        d = []
        for u in us:
            x = (i + float(u)) * h  # exact: h is a power of 2
            d.append(Fraction(math.erf(x) / x))
        for k in range(1, m):  # divided differences, in place
            for j in range(m - 1, k - 1, -1):
                d[j] = (d[j] - d[j - 1]) / (us[j] - us[j - k])
        poly = [d[-1]]  # Newton form to powers of u
        for k in range(m - 2, -1, -1):
            nxt = [Fraction(0)] * (len(poly) + 1)
            for r, c in enumerate(poly):
                nxt[r + 1] += c
                nxt[r] -= c * us[k]
            nxt[0] += d[k]
            poly = nxt
        rows.append([float(c) for c in poly])
    rows.append([math.erf(_ERF_TOP) / _ERF_TOP] + [0.0] * _ERF_DEGREE)
    table = np.array(rows)
    return table, np.ascontiguousarray(table.T)


def _erf_chunk(x: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    np.minimum(a, _ERF_TOP, out=a)  # a NaN stays NaN
    s = a * (_ERF_PIECES / _ERF_TOP)
    whole = np.floor(s)
    u = s - whole
    index = np.fmin(whole, _ERF_PIECES, out=whole).astype(np.intp)  # fmin: a NaN reads the last row, harmlessly
    if x.size <= _ERF_FEW:  # one gather of whole rows: the fewest numpy calls
        coef = np.take(rows, index, axis=0).T
        p = coef[_ERF_DEGREE] * u
        for k in range(_ERF_DEGREE - 1, 0, -1):  # Horner
            p += coef[k]
            p *= u
        p += coef[0]
    else:  # one contiguous gather per coefficient: no (n, 7) temporary, faster on many elements
        p = np.take(columns[_ERF_DEGREE], index, mode="clip")
        for k in range(_ERF_DEGREE - 1, -1, -1):
            p *= u
            p += np.take(columns[k], index, mode="clip")
    p *= a
    np.minimum(p, 1.0, out=p)
    return np.copysign(p, x, out=p)


def erf(x) -> np.ndarray:
    """The error function of an array, vectorized: within 4 ulp of math.erf in float64 (±1 exactly
    beyond 6); computed in float64, returned in x's float dtype."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    flat = x.astype(np.float64, copy=False).reshape(-1)  # 1-d: numpy keeps 0-d results as arrays then
    tables = _erf_table()
    if flat.size <= _ERF_CHUNK:
        out = _erf_chunk(flat, *tables)
    else:
        out = np.empty_like(flat)
        for i in range(0, flat.size, _ERF_CHUNK):
            out[i:i + _ERF_CHUNK] = _erf_chunk(flat[i:i + _ERF_CHUNK], *tables)
    return out.reshape(x.shape).astype(dtype, copy=False)


@register
class Erf(Function):
    """d erf(x) = grad * 2/√π * exp(-x²)"""

    def forward(self, x):
        self.save_for_backward(x)
        return erf(x)

    def backward(self, grad, x):
        return (grad * (Exp.dispatch(x * x * -1.0) * _TWO_OVER_SQRT_PI),)

