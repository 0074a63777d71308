"""Fixed first- and second-order gradient cases of the reductions and the linear-algebra primitives."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .sampling import OpCase

# Multiplying by these puts exact zeros into a product: one zero in row 0, two in row 1, none in row 2.
_ZEROS = np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])

CASES: list[OpCase] = [
    OpCase("mean", "all", lambda x: x.mean(), ((3, 4),)),
    OpCase("mean", "axis -1 keepdims", lambda x: x.mean(axis=-1, keepdims=True), ((2, 3, 4),)),
    OpCase("mean", "axes (0, 2)", lambda x: x.mean(axis=(0, 2)), ((2, 3, 4),)),
    OpCase("mean", "0-d", lambda x: x.mean(), ((),)),
    OpCase("var", "all", lambda x: x.var(), ((3, 4),)),
    OpCase("var", "axis 1, correction 0", lambda x: x.var(axis=1, correction=0), ((2, 3, 4),)),
    OpCase("var", "axes (0, 2) keepdims", lambda x: x.var(axis=(0, 2), keepdims=True), ((2, 3, 4),)),
    OpCase("std", "last axis", lambda x: x.std(axis=-1), ((3, 4),)),
    OpCase("std", "all, correction 0", lambda x: x.std(correction=0), ((2, 3),)),
    OpCase("prod", "all", lambda x: x.prod(), ((3, 4),)),
    OpCase("prod", "axis 0 keepdims", lambda x: x.prod(axis=0, keepdims=True), ((3, 2),)),
    OpCase("prod", "rows with no, one and two zeros", lambda x: (x * _ZEROS).prod(axis=1), ((3, 4),)),
    OpCase("prod", "0-d", lambda x: x.prod(), ((),)),
    OpCase("logsumexp", "all", lambda x: x.logsumexp(), ((3, 4),)),
    OpCase("logsumexp", "axis 1", lambda x: x.logsumexp(axis=1), ((2, 3, 2),)),
    OpCase("logsumexp", "large inputs", lambda x: (x + 500.0).logsumexp(axis=-1, keepdims=True), ((2, 3),)),
    OpCase("cumsum", "axis 1", lambda x: x.cumsum(axis=1), ((2, 3, 2),)),
    OpCase("cumsum", "flattened", lambda x: x.cumsum(), ((2, 3),)),
    OpCase("cumprod", "axis -1", lambda x: x.cumprod(axis=-1), ((2, 4),)),
    OpCase("cumprod", "flattened", lambda x: x.cumprod(), ((2, 3),)),
    OpCase("cumprod", "rows with no, one and two zeros", lambda x: (x * _ZEROS).cumprod(axis=1), ((3, 4),)),
    OpCase("norm", "2-norm of all", lambda x: x.norm(), ((3, 4),)),
    OpCase("norm", "1-norm, axis 1", lambda x: x.norm(1, axis=1), ((3, 4),)),
    OpCase("norm", "inf-norm, axis 0", lambda x: x.norm(np.inf, axis=0), ((3, 4),)),
    OpCase("norm", "-inf-norm keepdims", lambda x: x.norm(-np.inf, axis=-1, keepdims=True), ((2, 3),)),
    OpCase("norm", "fro over (0, 1)", lambda x: x.norm("fro", axis=(0, 1)), ((2, 3, 2),)),
    OpCase("einsum", "matrix product", lambda a, b: F.einsum("ij,jk->ik", a, b), ((2, 3), (3, 4))),
    OpCase("einsum", "batched, transposed out", lambda a, b: F.einsum("bij,bjk->bki", a, b), ((2, 2, 3), (2, 3, 2))),
    OpCase("einsum", "implicit outer", lambda a, b: F.einsum("i,j", a, b), ((3,), (2,))),
    OpCase("einsum", "sum over an index of one operand", lambda a, b: F.einsum("ij,k->ik", a, b), ((2, 3), (4,))),
    OpCase("einsum", "diagonal 'ii->i'", lambda a: F.einsum("ii->i", a), ((3, 3),)),
    OpCase("einsum", "ellipsis batch", lambda a, b: F.einsum("...ij,...j->...i", a, b), ((2, 3, 4), (4,))),
    OpCase("einsum", "tensordot", lambda a, b: F.tensordot(a, b, axes=([0, 2], [1, 0])), ((2, 3, 4), (4, 2))),
    OpCase("diagonal", "offset 1", lambda x: x.diagonal(1), ((3, 4),)),
    OpCase("diagonal", "axes (2, 0), offset -1", lambda x: x.diagonal(-1, 2, 0), ((3, 2, 4),)),
    OpCase("diagonal", "diag of a matrix", lambda x: F.diag(x, -1), ((4, 3),)),
    OpCase("diag_embed", "last axis", lambda x: F.diag_embed(x), ((2, 3),)),
    OpCase("diag_embed", "diag of a vector, k 1", lambda x: F.diag(x, 1), ((3,),)),
    OpCase("trace", "square", lambda x: x.trace(), ((3, 3),)),
    OpCase("trace", "wide", lambda x: x.trace(), ((2, 4),)),
    OpCase("tril", "k 0", lambda x: x.tril(), ((3, 4),)),
    OpCase("tril", "batch, k -1", lambda x: x.tril(-1), ((2, 3, 3),)),
    OpCase("triu", "k 1", lambda x: x.triu(1), ((4, 3),)),
    OpCase("triu", "batch, k 0", lambda x: x.triu(), ((2, 2, 3),)),
]
