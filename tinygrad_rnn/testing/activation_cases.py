"""Fixed first- and second-order gradient cases of the activation primitives."""

from __future__ import annotations

from .. import functional as F
from .sampling import OpCase


def _unary(name, fn, label="", domain=()):
    label = f", {label}" if label else ""
    return [
        OpCase(name, "matrix" + label, fn, ((3, 4),), domain),
        OpCase(name, "0-d" + label, fn, ((),), domain),
        OpCase(name, "size-1" + label, fn, ((1, 1, 1),), domain),
    ]


CASES: list[OpCase] = [
    *_unary("softplus", F.softplus),
    OpCase("softplus", "beta 2, linear above x = 1", lambda x: F.softplus(x, beta=2.0, threshold=2.0), ((3, 4),),
           ("clip",)),
    *_unary("gelu", F.gelu),
    *_unary("gelu", lambda x: F.gelu(x, approximate="tanh"), "tanh form"),
    *_unary("silu", F.silu),
    *_unary("leaky_relu", F.leaky_relu),
    OpCase("leaky_relu", "slope 0.2", lambda x: F.leaky_relu(x, 0.2), ((3, 4),)),
    *_unary("elu", F.elu),
    OpCase("elu", "alpha 0.5", lambda x: F.elu(x, alpha=0.5), ((3, 4),)),
    *_unary("selu", F.selu),
    *_unary("hardtanh", F.hardtanh),
    OpCase("hardtanh", "relu6", F.relu6, ((3, 4),), ("kink0",)),
    OpCase("hardtanh", "[-0.5, 1.5], times x", lambda x: F.hardtanh(x + 0.5, -0.5, 1.5) * x, ((3, 4),), ("clip",)),
    *_unary("softsign", F.softsign),
    *_unary("logsigmoid", F.logsigmoid),
]
