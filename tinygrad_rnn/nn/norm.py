"""LayerNorm from the mean and var primitives: no hand-written backward."""

from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor
from .module import Module, Parameter


class LayerNorm(Module):
    """Normalise over the last ``len(normalized_shape)`` axes, then scale by ``weight`` and shift by ``bias``.

    As torch.nn.LayerNorm: the biased variance (divided by n), ``eps`` inside the square root,
    ``weight`` ones and ``bias`` zeros of ``normalized_shape``; None when not affine (or ``bias=False``).
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=np.float64):
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
        if not shape or any(not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive integers, got {normalized_shape!r}")
        if not eps >= 0:
            raise ValueError(f"LayerNorm: eps must be >= 0, got {eps!r}")
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps = float(eps)
        self.elementwise_affine = elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype)) if elementwise_affine and bias else None

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k:] != self.normalized_shape or x.ndim < k:
            raise ValueError(f"LayerNorm: input of shape {x.shape} does not end in normalized_shape "
                             f"{self.normalized_shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        mu = x.mean(axis=axes, keepdims=True)
        out = (x - mu) * (x.var(axis=axes, keepdims=True, correction=0) + self.eps).rsqrt()
        if self.weight is not None:
            out = out * self.weight
        return out + self.bias if self.bias is not None else out

    def __repr__(self) -> str:
        return (f"LayerNorm({self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine})")
