"""Fixed first- and second-order gradient cases of the elementwise math primitives."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .sampling import OpCase


def _unary(name, fn, domain=()):
    return [
        OpCase(name, "matrix", fn, ((3, 4),), domain),
        OpCase(name, "0-d", fn, ((),), domain),
        OpCase(name, "size-1", fn, ((1, 1, 1),), domain),
    ]


def _binary(name, fn):
    return [
        OpCase(name, "same shape", fn, ((3, 4), (3, 4))),
        OpCase(name, "broadcast", fn, ((2, 3, 1), (4,))),
        OpCase(name, "0-d and vector", fn, ((), (3,))),
    ]


_FAR = np.array([0.0, 2.5, -2.5])  # at least 0.3 from any "kink0" value: no ties


CASES: list[OpCase] = [
    *_binary("maximum", F.maximum),
    *_binary("minimum", F.minimum),
    OpCase("maximum", "against a constant", lambda x: F.maximum(x, _FAR), ((2, 3),), ("kink0",)),
    OpCase("minimum", "against a constant", lambda x: F.minimum(_FAR, x), ((2, 3),), ("kink0",)),
    *_unary("sin", F.sin),
    *_unary("cos", F.cos),
    *_unary("tan", F.tan),
    *_unary("atan", F.arctan),
    *_binary("atan2", F.arctan2),
    OpCase("atan2", "x < 0 (across the left half-plane)", lambda y: F.arctan2(y, -1.5), ((4,),)),
    *_unary("sinh", F.sinh),
    *_unary("cosh", F.cosh),
    *_unary("log1p", F.log1p),
    OpCase("log1p", "on (-0.9, 0.9)", lambda x: F.log1p(x * 0.45), ((5,),), ("any",)),
    *_unary("expm1", F.expm1),
    *_unary("log2", F.log2),
    *_unary("log10", F.log10),
    *_unary("erf", F.erf),
    OpCase("erf", "tails", lambda x: F.erf(x * 2.5), ((6,),)),
    *_unary("reciprocal", F.reciprocal),
    *_unary("rsqrt", F.rsqrt),
    *_unary("sign", F.sign),
    *_unary("floor", F.floor),
    *_unary("ceil", F.ceil),
    *_unary("round", F.round),
    OpCase("round", "2 decimals, times x", lambda x: F.round(x, 2) * x, ((3, 2),)),
    *_unary("trunc", F.trunc),
    *_binary("remainder", F.remainder),
    OpCase("remainder", "by a negative constant", lambda x: x % -0.7, ((3, 4),)),
    OpCase("remainder", "of a constant", lambda y: 2.5 % y, ((3, 4),), ("nonzero",)),
]
