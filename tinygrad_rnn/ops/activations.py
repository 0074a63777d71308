"""Activation primitives, with torch.nn.functional's signatures, each one node with its VJP beside it.

Each is one primitive rather than a composite of several because per-op overhead dominates these
cheap functions. Every forward is stable for any finite input (outputs and gradients stay finite
and reach the right limits at ±1e4 in float32) and keeps float32 in float32. A VJP that reuses a
value the forward derived (Φ(x), tanh(...), sigmoid(x)) rebuilds it from the input with dispatched
primitives when it runs on Tensors, so second derivatives are right under create_graph.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..function import Function, register
from ..tensor import Tensor
from .elementwise import Abs, Exp, Sigmoid, Tanh, Where
from .math_ops import Erf, Expm1, erf

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)  # gelu's tanh form: tanh(k (x + c x³))
_TANH_C = 0.044715
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _real(op: str, name: str, value) -> float:
    """An option as a python float (a numpy float64 would widen float32 inputs); a ValueError otherwise."""
    real = isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.shape == ()
                                               and value.dtype.kind in "biuf")
    if not real or math.isnan(value):
        raise ValueError(f"{op}: {name} must be a real number, got {value!r}")
    return float(value)


def _sigmoid(x):
    """sigmoid(x) with exp of non-positive numbers only: no overflow, full relative accuracy for x << 0."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, z) / (1.0 + z)


@register
class Softplus(Function):
    """d softplus(x) = grad * sigmoid(βx) = grad * -expm1(-β out); grad where βx > threshold"""

    def forward(self, x, beta=1.0, threshold=20.0):
        beta, threshold = _real("softplus", "beta", beta), _real("softplus", "threshold", threshold)
        if not beta > 0:
            raise ValueError(f"softplus: beta must be positive, got beta={beta!r}")
        self.beta = beta
        bx = x * beta if beta != 1.0 else x
        # log(1 + e^βx) without overflow: np.logaddexp's formula, ten times faster than np.logaddexp
        out = np.log1p(np.exp(-np.abs(bx))) + np.maximum(bx, 0.0)
        if beta != 1.0:
            out = out / beta
        linear = bx > threshold
        if linear.any():  # as PyTorch: x itself where βx > threshold
            out = np.where(linear, x, out)
        else:
            linear = None
        self.save_for_backward(out, linear)
        return out

    def backward(self, grad, out, linear):
        # sigmoid(βx) = 1 - exp(-β softplus(x)): from the output, to full accuracy, and differentiable again
        g = grad * (0.0 - Expm1.dispatch(out * -self.beta))  # 0 - e, not -e: +0, not -0, in the far tail
        return (g if linear is None else Where.dispatch(linear, grad, g),)


@register
class Gelu(Function):
    """d gelu(x) = grad * (Φ(x) + x φ(x)); tanh form: grad * (½(1 + T) + ½ x (1 - T²) k (1 + 3c x²))"""

    def forward(self, x, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.tanh_form = approximate == "tanh"
        if self.tanh_form:
            t = np.tanh((x + x * x * x * _TANH_C) * _TANH_K)
            out = x * (0.5 + 0.5 * t)
        else:
            t = 0.5 + 0.5 * erf(x * _SQRT_HALF)  # Φ(x)
            out = x * t
        self.save_for_backward(x, t)
        return out

    def backward(self, grad, x, t):
        if self.tanh_form:
            if isinstance(x, Tensor):  # under create_graph: T rebuilt from x, so its derivative is recorded
                t = Tanh.dispatch((x + x * x * x * _TANH_C) * _TANH_K)
            return (grad * (0.5 + 0.5 * t + (0.5 * _TANH_K) * x * (1 - t * t) * (1 + (3 * _TANH_C) * (x * x))),)
        if isinstance(x, Tensor):  # likewise Φ(x)
            t = 0.5 + 0.5 * Erf.dispatch(x * _SQRT_HALF)
        pdf = Exp.dispatch(x * x * -0.5) * _INV_SQRT_2PI
        return (grad * (t + x * pdf),)


@register
class Silu(Function):
    """d silu(x) = grad * s (1 + x (1 - s)), s = sigmoid(x)"""

    def forward(self, x):
        s = _sigmoid(x)
        self.save_for_backward(x, s)
        return x * s

    def backward(self, grad, x, s):
        if isinstance(x, Tensor):  # under create_graph: sigmoid rebuilt from x
            s = Sigmoid.dispatch(x)
        return (grad * (s * (1 + x * (1 - s))),)


@register
class LeakyRelu(Function):
    """d leaky_relu(x) = grad * (1 if x > 0 else negative_slope)"""

    name = "leaky_relu"
    domains = ("kink0",)

    def forward(self, x, negative_slope=0.01):
        slope = _real("leaky_relu", "negative_slope", negative_slope)
        positive = x > 0
        out = np.where(positive, x, x * slope)
        if self.needs_input_grad[0]:
            one = np.result_type(out).type
            self.save_for_backward(np.where(positive, one(1.0), one(slope)))
        else:
            self.save_for_backward(None)
        return out

    def backward(self, grad, factor):
        return (grad * factor,)


@register
class Elu(Function):
    """d elu(x) = grad * (1 if x > 0 else α exp(x))"""

    domains = ("kink0",)

    def forward(self, x, alpha=1.0, scale=1.0):
        self.alpha, self.scale = _real(self.name, "alpha", alpha), scale
        positive = x > 0
        negative = np.expm1(np.minimum(x, 0.0)) * (self.alpha * scale)  # min: no overflow in the unused branch
        out = np.where(positive, x * scale if scale != 1.0 else x, negative)
        self.save_for_backward(x, positive)
        return out

    def backward(self, grad, x, positive):
        # exp(x) of the input, not out + α: accurate far below 0
        if isinstance(x, Tensor):  # recorded; exp of x < 0 only, so the second derivative at 0 is 0, as PyTorch's
            slope = Exp.dispatch(Where.dispatch(x < 0, x, 0.0)) * (self.alpha * self.scale)
            return (grad * Where.dispatch(positive, self.scale, slope),)
        slope = np.exp(np.minimum(x, 0.0)) * (self.alpha * self.scale)
        return (grad * np.where(positive, self.scale, slope),)


@register
class Selu(Elu):
    """d selu(x) = grad * λ * (1 if x > 0 else α exp(x)), with SELU's fixed α and λ"""

    def forward(self, x):
        return super().forward(x, _SELU_ALPHA, _SELU_SCALE)


@register
class Hardtanh(Function):
    """d hardtanh(x) = grad * (min_val < x < max_val)"""

    domains = ("clip",)

    def forward(self, x, min_val=-1.0, max_val=1.0):
        lo, hi = _real("hardtanh", "min_val", min_val), _real("hardtanh", "max_val", max_val)
        if lo > hi:
            raise ValueError(f"hardtanh: min_val={min_val!r} is greater than max_val={max_val!r}")
        if self.needs_input_grad[0]:  # strict, as PyTorch: zero at the bounds themselves
            self.save_for_backward((x > lo) & (x < hi))
        else:
            self.save_for_backward(None)
        return np.clip(x, lo, hi)

    def backward(self, grad, inside):
        return (grad * inside,)


@register
class Softsign(Function):
    """d softsign(x) = grad / (1 + |x|)²"""

    domains = ("kink0",)  # the second derivative jumps at 0

    def forward(self, x):
        self.save_for_backward(x)
        return x / (1.0 + np.abs(x))

    def backward(self, grad, x):
        d = 1 + Abs.dispatch(x)
        return (grad / (d * d),)


@register
class Logsigmoid(Function):
    """d logsigmoid(x) = grad * sigmoid(-x) = grad * -expm1(out)"""

    def forward(self, x):
        out = np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))  # exp of non-positive numbers only
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (grad * (0.0 - Expm1.dispatch(out)),)
