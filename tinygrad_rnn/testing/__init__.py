"""Testing tools for gradients, yours and the library's own (like ``torch.testing``).

* ``DOMAINS`` and ``sample(domain, shape, rng)``: float64 values that keep finite differences away
  from kinks, poles and ties; ``sample_inputs(op, shapes, rng)`` draws inputs for a primitive from
  the domains it declares (``Function.domains``).
* ``OpCase``, ``CASES``, ``MODEL_CASES`` and ``check_case``: the fixed first- and second-order
  cases of every registered primitive, which ``tinygrad-rnn gradcheck`` prints.
* ``tinygrad_rnn.testing.strategies``: hypothesis strategies for shapes, broadcastable shapes,
  axes and inputs (needs hypothesis, a dev dependency).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import functional as F
from .. import ops
from ..gradcheck import compare_gradients, first_derivative
from . import activation_cases, elementwise_cases, movement_cases, reduction_cases
from .sampling import DOMAINS, OpCase, sample, sample_inputs

__all__ = ["CASES", "DOMAINS", "MODEL_CASES", "CaseResult", "OpCase", "check_case", "sample", "sample_inputs"]

def _binary(op, name):
    return [
        OpCase(name, "same shape", op, ((3, 4), (3, 4))),
        OpCase(name, "broadcast", op, ((2, 3, 1), (4,))),
        OpCase(name, "0-d and vector", op, ((), (3,))),
        OpCase(name, "size-1", op, ((1,), (1, 1))),
    ]


def _unary(name, fn):
    return [
        OpCase(name, "matrix", fn, ((3, 4),)),
        OpCase(name, "0-d", fn, ((),)),
        OpCase(name, "size-1", fn, ((1, 1, 1),)),
    ]


_IDX = np.array([2, 0, 2, 1])
_TARGETS = np.array([[1, 4, 0], [3, 3, 2]])

CASES: list[OpCase] = [
    *_binary(lambda a, b: a + b, "add"),
    *_binary(lambda a, b: a - b, "sub"),
    *_binary(lambda a, b: a * b, "mul"),
    *_binary(lambda a, b: a / b, "div"),
    *_binary(lambda a, b: a ** b, "pow"),
    *_unary("neg", lambda x: -x),
    *_unary("pow_scalar", lambda x: x ** 2.5),
    OpCase("pow_scalar", "square", lambda x: x ** 2, ((4,),), ("any",)),
    *_unary("exp", F.exp),
    *_unary("log", F.log),
    *_unary("sqrt", F.sqrt),
    *_unary("tanh", F.tanh),
    *_unary("sigmoid", F.sigmoid),
    *_unary("relu", F.relu),
    *_unary("abs", F.abs),
    *_unary("clip", lambda x: F.clip(x, -1.0, 1.0)),
    OpCase("where", "broadcast", lambda a, b: F.where(np.array([True, False, True]), a, b), ((2, 3), (1,))),
    OpCase("where", "0-d", lambda a, b: F.where(np.array(False), a, b), ((), ())),
    OpCase("cast", "to float32", lambda x: x.astype(np.float32) * 3.0, ((3,),), eps=1e-2, atol=1e-4),
    OpCase("cast", "to float64", lambda x: (x * x).astype(np.float64), ((2, 2),)),
    OpCase("matmul", "matrix @ matrix", lambda a, b: a @ b, ((3, 4), (4, 2))),
    OpCase("matmul", "vector @ vector", lambda a, b: a @ b, ((4,), (4,))),
    OpCase("matmul", "vector @ batch", lambda a, b: a @ b, ((4,), (2, 4, 3))),
    OpCase("matmul", "batch @ vector", lambda a, b: a @ b, ((2, 3, 4), (4,))),
    OpCase("matmul", "broadcast batch", lambda a, b: a @ b, ((2, 1, 3, 4), (5, 4, 2))),
    OpCase("linear", "matrix", lambda x, w: F.linear(x, w), ((3, 4), (2, 4))),
    OpCase("linear", "batch and vector", lambda x, w: F.linear(x, w), ((2, 3, 4), (5, 4))),
    OpCase("linear", "one row", lambda x, w: F.linear(x, w), ((4,), (3, 4))),
    OpCase("linear", "with bias", lambda x, w, b: F.linear(x, w, b), ((2, 4), (3, 4), (3,))),
    OpCase("linear", "with a full-shape bias", lambda x, w, b: F.linear(x, w, b), ((2, 4), (3, 4), (2, 3))),
    OpCase("linear", "fused tanh", lambda x, w, b: F.linear(x, w, b, activation="tanh"), ((2, 4), (3, 4), (3,))),
    OpCase("reshape", "matrix to 3-d", lambda x: x.reshape(2, 3, 2), ((3, 4),)),
    OpCase("reshape", "0-d to (1, 1)", lambda x: x.reshape(1, 1), ((),)),
    OpCase("transpose", "permute 3-d", lambda x: x.transpose(2, 0, 1), ((2, 3, 4),)),
    OpCase("transpose", ".T", lambda x: x.T, ((3, 4),)),
    OpCase("broadcast_to", "add axes", lambda x: x.broadcast_to((2, 3, 4)), ((3, 1),)),
    OpCase("broadcast_to", "0-d", lambda x: x.broadcast_to((3,)), ((),)),
    OpCase("getitem", "slice", lambda x: x[1:, ::2], ((3, 4),)),
    OpCase("getitem", "repeated ids", lambda x: x[_IDX], ((3, 2),)),
    OpCase("getitem", "row and column ids", lambda x: x[_IDX, np.array([0, 1, 1, 0])], ((3, 2),)),
    OpCase("scatter_add", "repeated ids", lambda g: ops.ScatterAdd.apply(g, index=_IDX, shape=(3, 2)), ((4, 2),)),
    OpCase("scatter_add", "slice", lambda g: ops.ScatterAdd.apply(g, index=(slice(1, 3),), shape=(4,)), ((2,),)),
    OpCase("cat", "axis 1", lambda a, b: F.cat([a, b], axis=1), ((2, 3), (2, 1))),
    OpCase("cat", "axis 0, vectors", lambda a, b, c: F.cat([a, b, c]), ((2,), (1,), (3,))),
    OpCase("stack", "axis 0", lambda a, b: F.stack([a, b]), ((2, 3), (2, 3))),
    OpCase("stack", "axis -1, 0-d", lambda a, b: F.stack([a, b], axis=-1), ((), ())),
    OpCase("sum", "all", lambda x: x.sum(), ((3, 4),)),
    OpCase("sum", "axis 1 keepdims", lambda x: x.sum(axis=1, keepdims=True), ((2, 3, 4),)),
    OpCase("sum", "axes (0, 2)", lambda x: x.sum(axis=(0, 2)), ((2, 3, 4),)),
    OpCase("sum", "0-d", lambda x: x.sum(), ((),)),
    OpCase("max", "all", lambda x: x.max(), ((3, 4),)),
    OpCase("max", "axis -1 keepdims", lambda x: x.max(axis=-1, keepdims=True), ((2, 3, 4),)),
    OpCase("max", "0-d", lambda x: x.max(), ((),)),
    OpCase("min", "all", lambda x: x.min(), ((3, 4),)),
    OpCase("min", "axis 0", lambda x: x.min(axis=0), ((2, 3, 4),)),
    OpCase("min", "0-d, axis -1", lambda x: x.min(axis=-1), ((),)),
    OpCase("softmax", "last axis", lambda x: F.softmax(x), ((3, 5),)),
    OpCase("softmax", "axis 0", lambda x: F.softmax(x, axis=0), ((3, 2, 2),)),
    OpCase("log_softmax", "last axis", lambda x: F.log_softmax(x), ((3, 5),)),
    OpCase("log_softmax", "axis 1", lambda x: F.log_softmax(x, axis=1), ((2, 3, 2),)),
    OpCase("cross_entropy", "mean", lambda x: F.cross_entropy(x, _TARGETS), ((2, 3, 5),)),
    OpCase("cross_entropy", "sum", lambda x: F.cross_entropy(x, _TARGETS[0], reduction="sum"), ((3, 5),)),
    OpCase("linear_cross_entropy", "mean", lambda x, w: F.linear_cross_entropy(x, w, _TARGETS), ((2, 3, 4), (5, 4))),
    OpCase("linear_cross_entropy", "sum, one row", lambda x, w: F.linear_cross_entropy(x, w, np.array(2), "sum"),
           ((4,), (5, 4))),
    OpCase("linear_cross_entropy", "none, ignore_index",
           lambda x, w: F.linear_cross_entropy(x, w, _TARGETS, reduction="none", ignore_index=3), ((2, 3, 4), (5, 4))),
    OpCase("cross_entropy", "none, ignore_index",
           lambda x: F.cross_entropy(x, _TARGETS, reduction="none", ignore_index=3), ((2, 3, 5),)),
    OpCase("binary_cross_entropy", "broadcast target", lambda p, y: F.binary_cross_entropy(p, y, reduction="sum"),
           ((2, 3), (3,))),
    *elementwise_cases.CASES,
    *activation_cases.CASES,
    *reduction_cases.CASES,
    *movement_cases.CASES,
]


def _rnnlm_loss(u, v, w):
    from ..models import RNNLM

    model = RNNLM(5, 3)
    model.U, model.V, model.W = u, v, w  # the checked tensors stand in for the parameters
    return model.loss(np.array([0, 3, 1, 4, 2]), np.array([3, 1, 4, 2, 0]))


def _rnn_outputs(x, h0, w_ih, w_hh, b_ih, b_hh):
    from ..nn import RNN

    rnn = RNN(2, 2)
    rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0 = w_ih, w_hh, b_ih, b_hh
    return rnn(x, h0)[0]


def _gru_outputs(x, h0, w_ih, w_hh, b_ih, b_hh):
    from ..nn import GRU

    gru = GRU(2, 2)
    gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0 = w_ih, w_hh, b_ih, b_hh
    return gru(x, h0)[0]


def _lstm_outputs(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    from ..nn import LSTM

    lstm = LSTM(2, 2)
    lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0 = w_ih, w_hh, b_ih, b_hh
    out, (_, c_n) = lstm(x, (h0, c0))
    return F.cat([out.reshape(-1), c_n.reshape(-1)])  # c_n too: the cell state's own path


# Models built from the primitives, checked the same way (not primitives: kept out of the registry sweep).
MODEL_CASES: list[OpCase] = [
    OpCase("rnnlm", "full BPTT loss (U, V, W)", _rnnlm_loss, ((3, 5), (5, 3), (3, 3))),
    OpCase("rnn", "nn.RNN outputs (x, h0, W_ih, W_hh, b_ih, b_hh)", _rnn_outputs,
           ((1, 3, 2), (1, 1, 2), (2, 2), (2, 2), (2,), (2,))),
    OpCase("gru", "nn.GRU outputs (x, h0, W_ih, W_hh, b_ih, b_hh)", _gru_outputs,
           ((1, 3, 2), (1, 1, 2), (6, 2), (6, 2), (6,), (6,))),
    OpCase("lstm", "nn.LSTM outputs and c_n (x, h0, c0, W_ih, W_hh, b_ih, b_hh)", _lstm_outputs,
           ((1, 3, 2), (1, 1, 2), (1, 1, 2), (8, 2), (8, 2), (8,), (8,))),
]


@dataclass
class CaseResult:
    """First- and second-order comparison of one case: worst errors over all its inputs."""

    case: OpCase
    abs_err: float
    rel_err: float
    abs_err2: float
    ok: bool


def check_case(case: OpCase, seed: int = 0) -> CaseResult:
    """Run gradcheck's comparison on a case, to first and to second order."""
    inputs = case.inputs(np.random.default_rng(seed))
    tol = {"eps": case.eps, "atol": case.atol, "seed": seed}
    first = compare_gradients(case.fn, inputs, **tol)
    second = compare_gradients(first_derivative(case.fn, inputs, seed), inputs, **tol)
    return CaseResult(
        case,
        max(c.max_abs_err for c in first),
        max(c.max_rel_err for c in first),
        max(c.max_abs_err for c in second),
        all(c.ok for c in first + second),
    )
