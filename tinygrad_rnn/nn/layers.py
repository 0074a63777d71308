"""Linear and Embedding layers, built from primitives only."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .module import Module, Parameter


def uniform(rng: np.random.Generator, bound: float, shape, dtype) -> np.ndarray:
    """uniform(-bound, bound) drawn in float64 (so float32 and float64 models start alike), then cast."""
    return rng.uniform(-bound, bound, shape).astype(dtype, copy=False)


def check_ids(ids, size: int, owner: str) -> np.ndarray:
    """Integer ids as an array, each in [0, size); otherwise an IndexError naming the id and the size."""
    ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if ids.size == 0 and ids.dtype.kind == "f":  # an empty list: no ids, whatever numpy's default dtype
        ids = ids.astype(np.int64)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{owner}: token ids must be integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        bad = ids[(ids < 0) | (ids >= size)].flat[0]
        raise IndexError(f"{owner}: token id {bad} is out of range for a vocabulary of size {size}")
    return ids


class Linear(Module):
    """y = x Wᵀ + b, with W of shape (out_features, in_features), initialised uniform(±1/sqrt(in))."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float64, seed=None):
        rng = np.random.default_rng(seed)
        bound = 1 / np.sqrt(in_features)
        self.weight = Parameter(uniform(rng, bound, (out_features, in_features), dtype))
        self.bias = Parameter(uniform(rng, bound, (out_features,), dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)


class Embedding(Module):
    """Row lookup: ids of any shape → vectors; the gradient is a scatter-add, never a one-hot product."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=np.float64, seed=None):
        rng = np.random.default_rng(seed)
        self.weight = Parameter(rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype, copy=False))

    def forward(self, ids) -> Tensor:
        return self.weight[check_ids(ids, self.weight.shape[0], "Embedding")]
