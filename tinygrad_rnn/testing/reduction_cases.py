"""Fixed first- and second-order gradient cases of the reductions and the linear-algebra primitives."""

from __future__ import annotations

import numpy as np  # noqa: F401

from .. import functional as F  # noqa: F401
from .sampling import OpCase

CASES: list[OpCase] = [
]
