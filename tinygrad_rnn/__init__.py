"""tinygrad_rnn: a small, general, tape-based reverse-mode autodiff framework on numpy."""

from .tensor import Tensor  # noqa: I001  (Tensor first: the primitives import it)
from . import functional
from .function import REGISTRY, Function, register
from .functional import cat, stack, where
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .shapes import ShapeError
from .tape import grad

__version__ = "0.1.0"

__all__ = [
    "REGISTRY",
    "Function",
    "GradcheckError",
    "ShapeError",
    "Tensor",
    "cat",
    "enable_grad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "register",
    "stack",
    "where",
]
