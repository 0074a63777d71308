"""tinygrad_rnn: a small, general, tape-based reverse-mode autodiff framework on numpy."""

from . import functional, ops  # ops: importing it registers every primitive
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .creation import (
    arange,
    default_generator,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    manual_seed,
    normal,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    uniform,
    zeros,
    zeros_like,
)
from .function import Function, Node
from .functional import cat, stack, where
from .grad_mode import enable_grad, fast_paths, fast_paths_enabled, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradcheck_model, gradgradcheck
from .hooks import RemovableHandle
from .registry import REGISTRY, register
from .shapes import AxisError, ShapeError
from .tape import grad
from .tensor import Tensor, increment_version

__version__ = "0.1.0"

__all__ = [
    "REGISTRY",
    "AnomalyError",
    "AxisError",
    "RemovableHandle",
    "arange",
    "default_generator",
    "empty",
    "empty_like",
    "eye",
    "full",
    "full_like",
    "linspace",
    "manual_seed",
    "normal",
    "ones",
    "ones_like",
    "rand",
    "randint",
    "randn",
    "uniform",
    "zeros",
    "zeros_like",
    "Function",
    "GradcheckError",
    "Node",
    "ShapeError",
    "Tensor",
    "cat",
    "detect_anomaly",
    "enable_grad",
    "fast_paths",
    "fast_paths_enabled",
    "functional",
    "grad",
    "gradcheck",
    "gradcheck_model",
    "gradgradcheck",
    "increment_version",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "ops",
    "register",
    "set_detect_anomaly",
    "set_grad_enabled",
    "stack",
    "where",
]
