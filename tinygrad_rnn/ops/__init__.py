"""The built-in primitives; importing this package registers every one of them."""

from .elementwise import (
    Abs,
    Add,
    Cast,
    Clip,
    Div,
    Exp,
    Log,
    Mul,
    Neg,
    Pow,
    PowScalar,
    Relu,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
)
from .losses import CrossEntropy, LinearCrossEntropy
from .matmul import Linear, MatMul
from .movement import BroadcastTo, Cat, GetItem, Reshape, ScatterAdd, Stack, Transpose
from .reduce import Max, Min, Sum
from .softmax import LogSoftmax, Softmax

__all__ = [
    "Abs", "Add", "BroadcastTo", "Cast", "Cat", "Clip", "CrossEntropy", "Div", "Exp", "GetItem", "Linear",
    "LinearCrossEntropy", "Log", "LogSoftmax", "MatMul", "Max", "Min", "Mul", "Neg", "Pow", "PowScalar", "Relu",
    "Reshape", "ScatterAdd", "Sigmoid", "Softmax", "Sqrt", "Stack", "Sub", "Sum", "Tanh", "Transpose", "Where",
]
