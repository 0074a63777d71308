"""Dropout: inverted dropout while training, the identity in eval mode."""

from __future__ import annotations

import numbers

import numpy as np

from ..creation import default_generator
from ..tensor import Tensor
from .module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p), so the expected value
    is unchanged and eval mode (``model.eval()``) needs no rescaling: there it returns its input.

    ``seed=None`` draws from tinygrad_rnn's default generator (``tg.manual_seed`` makes it
    repeatable); an int or a ``numpy.random.Generator`` gives this layer its own stream.
    """

    def __init__(self, p: float = 0.5, seed=None):
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability between 0 and 1, got {p!r}")
        self.p = float(p)
        self.rng = None if seed is None else np.random.default_rng(seed)

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if not self.training or self.p == 0:
            return x
        return x * self.mask(x.shape, x.dtype)

    def mask(self, shape, dtype) -> np.ndarray:
        """One draw of the multiplier: 0 where dropped, 1/(1-p) where kept; for code that must reuse a mask."""
        rng = self.rng if self.rng is not None else default_generator()
        keep = rng.random(shape) >= self.p  # drawn in float64: float32 and float64 models drop alike
        scale = 0.0 if self.p == 1 else 1 / (1 - self.p)
        return (keep * scale).astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
