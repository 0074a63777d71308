"""Fixed first- and second-order gradient cases of the activation primitives."""

from __future__ import annotations

import numpy as np  # noqa: F401

from .. import functional as F  # noqa: F401
from .sampling import OpCase

CASES: list[OpCase] = [
]
