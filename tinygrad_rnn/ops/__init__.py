"""The built-in primitives; importing this package registers every one of them."""

from .activations import Elu, Gelu, Hardtanh, LeakyRelu, Logsigmoid, Selu, Silu, Softplus, Softsign
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
from .linalg import DiagEmbed, Diagonal, Einsum, Trace, Tril, Triu
from .losses import BinaryCrossEntropy, CrossEntropy, LinearCrossEntropy
from .math_ops import (
    Atan,
    Atan2,
    Ceil,
    Cos,
    Cosh,
    Erf,
    Expm1,
    Floor,
    Log1p,
    Log2,
    Log10,
    Maximum,
    Minimum,
    Reciprocal,
    Remainder,
    Round,
    Rsqrt,
    Sign,
    Sin,
    Sinh,
    Tan,
    Trunc,
)
from .matmul import Linear, MatMul
from .movement import (
    BroadcastTo,
    Cat,
    Flip,
    Gather,
    GetItem,
    Pad,
    PadAdjoint,
    RepeatInterleave,
    Reshape,
    Roll,
    ScatterAdd,
    ScatterAddDim,
    Stack,
    Tile,
    Transpose,
)
from .reduce import Cumprod, Cumsum, LogSumExp, Max, Mean, Min, Norm, Prod, Std, Sum, Var
from .softmax import LogSoftmax, Softmax

__all__ = [
    "Abs", "Add", "BroadcastTo", "Cast", "Cat", "Clip", "CrossEntropy", "Div", "Exp", "GetItem", "Linear",
    "LinearCrossEntropy", "Log", "LogSoftmax", "MatMul", "Max", "Min", "Mul", "Neg", "Pow", "PowScalar", "Relu",
    "Reshape", "ScatterAdd", "Sigmoid", "Softmax", "Sqrt", "Stack", "Sub", "Sum", "Tanh", "Transpose", "Where",
]
__all__ += ["Flip", "Gather", "Pad", "PadAdjoint", "RepeatInterleave", "Roll", "ScatterAddDim", "Tile"]
__all__ += ["Cumprod", "Cumsum", "DiagEmbed", "Diagonal", "Einsum", "LogSumExp", "Mean", "Norm", "Prod", "Trace",
            "Std", "Tril", "Triu", "Var"]
__all__ += ["Atan", "Atan2", "Ceil", "Cos", "Cosh", "Erf", "Expm1", "Floor", "Log1p", "Log2", "Log10", "Maximum",
            "Minimum", "Reciprocal", "Remainder", "Round", "Rsqrt", "Sign", "Sin", "Sinh", "Tan", "Trunc"]
__all__ += ["BinaryCrossEntropy"]
__all__ += ["Elu", "Gelu", "Hardtanh", "LeakyRelu", "Logsigmoid", "Selu", "Silu", "Softplus", "Softsign"]
