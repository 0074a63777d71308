"""Fixed first- and second-order gradient cases of the movement and indexing primitives."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import ops
from .sampling import OpCase

_ROWS = np.array([[0, 2, 2], [1, 0, 2]])  # repeated ids: their gradients accumulate

CASES: list[OpCase] = [
    OpCase("pad", "constant, a pair per axis", lambda x: F.pad(x, ((1, 0), (2, 1)), value=0.5), ((3, 4),)),
    OpCase("pad", "reflect, wider than the axis", lambda x: F.pad(x, (4, 1), "reflect"), ((2, 3),)),
    OpCase("pad", "edge", lambda x: F.pad(x, 2, "edge"), ((2, 1, 3),)),
    OpCase("pad", "0-d", lambda x: F.pad(x, 3, "reflect"), ((),)),
    OpCase("pad_adjoint", "reflect", lambda g: ops.PadAdjoint.apply(g, pad_width=((1, 2), (0, 1)), mode="reflect"),
           ((6, 4),)),
    OpCase("pad_adjoint", "edge", lambda g: ops.PadAdjoint.apply(g, pad_width=2, mode="edge"), ((5, 6),)),
    OpCase("pad_adjoint", "constant", lambda g: ops.PadAdjoint.apply(g, pad_width=(1, 0), mode="constant"), ((3, 2),)),
    OpCase("flip", "two axes", lambda x: F.flip(x, (0, -1)), ((2, 3, 4),)),
    OpCase("flip", "all, 0-d", lambda x: F.flip(x), ((),)),
    OpCase("roll", "flattened", lambda x: F.roll(x, 5), ((3, 4),)),
    OpCase("roll", "two axes", lambda x: F.roll(x, (1, -3), (0, 2)), ((2, 3, 4),)),
    OpCase("tile", "more reps than axes", lambda x: F.tile(x, (2, 1, 3)), ((3, 2),)),
    OpCase("tile", "repeat", lambda x: x.repeat(2, 2), ((1, 3),)),
    OpCase("repeat_interleave", "int, flattened", lambda x: F.repeat_interleave(x, 2), ((2, 3),)),
    OpCase("repeat_interleave", "counts along dim 1", lambda x: F.repeat_interleave(x, np.array([2, 0, 1]), dim=1),
           ((2, 3),)),
    OpCase("repeat_interleave", "counts, flattened", lambda x: F.repeat_interleave(x, np.array([1, 3, 0, 2])),
           ((2, 2),)),
    OpCase("gather", "dim 0, repeated ids", lambda x: F.gather(x, 0, _ROWS), ((3, 3),)),
    OpCase("gather", "dim -1, smaller index", lambda x: F.gather(x, -1, _ROWS[:1, :2]), ((2, 4),)),
    OpCase("scatter_add_dim", "dim 0, repeated ids", lambda x, s: F.scatter_add(x, 0, _ROWS, s), ((3, 3), (2, 3))),
    OpCase("scatter_add_dim", "src larger than index", lambda x, s: F.scatter_add(x, 1, _ROWS[:, :2], s),
           ((2, 3), (3, 3))),
]
