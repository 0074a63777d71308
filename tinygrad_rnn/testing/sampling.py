"""Value domains, sample inputs and the fixed gradient case: what every case module builds on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..gradcheck import ATOL, EPS
from ..registry import REGISTRY
from ..tensor import Tensor

DOMAINS = {
    "any": "uniform in [-2, 2]",
    "positive": "uniform in [0.5, 2]",
    "nonzero": "magnitude in [0.3, 2], either sign (away from a pole at 0)",
    "kink0": "magnitude in [0.3, 2], either sign (away from a kink at 0)",
    "distinct": "well-separated values, no ties (for max and min)",
    "clip": "at least 0.2 away from -1 and 1 (for clip(x, -1, 1))",
    "halfpi": "uniform in [-1.2, 1.2] (inside tan's poles at ±π/2)",
    "offgrid": "at least 0.1 away from every multiple of 0.5 (the jumps of floor, ceil, round, trunc)",
    "unit": "uniform in [0.05, 0.95] (probabilities away from 0 and 1)",
}


def sample(domain: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """float64 values in ``shape`` that keep finite differences away from kinks, poles and ties."""
    if domain not in DOMAINS:
        raise ValueError(f"sample: unknown domain {domain!r}; known: {', '.join(DOMAINS)}")
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain in ("nonzero", "kink0"):
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)
    if domain == "distinct":
        size = int(np.prod(shape, dtype=int))
        return (rng.permutation(size) * 0.1 - size * 0.05 + rng.uniform(0, 0.01, size)).reshape(shape)
    if domain == "clip":  # for clip(x, -1, 1): stay 0.2 away from both bounds
        bands = rng.integers(0, 3, shape)
        lows, mids, highs = rng.uniform(-2, -1.2, shape), rng.uniform(-0.8, 0.8, shape), rng.uniform(1.2, 2, shape)
        return np.choose(bands, [lows, mids, highs])
    if domain == "unit":
        return rng.uniform(0.05, 0.95, shape)
    if domain == "halfpi":
        return rng.uniform(-1.2, 1.2, shape)
    if domain == "offgrid":  # in [-1.9, 1.9]
        return rng.integers(-4, 4, shape) * 0.5 + rng.uniform(0.1, 0.4, shape)
    return rng.uniform(-2.0, 2.0, shape)


@dataclass
class OpCase:
    """One primitive applied to inputs of given shapes; ``fn`` takes Tensors, returns a Tensor."""

    op: str
    label: str
    fn: Callable[..., Tensor]
    shapes: tuple[tuple[int, ...], ...]
    domains: tuple[str, ...] = ()
    eps: float = EPS  # a coarser step for ops that round through float32
    atol: float = ATOL

    def inputs(self, rng: np.random.Generator) -> list[Tensor]:
        """Random float64 inputs, each from its domain: the case's own, else the primitive's hint."""
        return sample_inputs(REGISTRY.get(self.op), self.shapes, rng, self.domains)


def sample_inputs(op, shapes, rng: np.random.Generator, domains: tuple[str, ...] = ()) -> list[Tensor]:
    """One float64 Tensor requiring grad per shape, drawn from ``domains`` or else from the domains
    the primitive ``op`` (a Function subclass, or None) declares; "any" where neither says."""
    hint = tuple(domains) or (tuple(op.domains) if op is not None else ())
    doms = hint[: len(shapes)] + ("any",) * (len(shapes) - len(hint))
    return [Tensor(sample(d, tuple(s), rng), requires_grad=True) for d, s in zip(doms, shapes)]
