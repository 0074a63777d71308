"""The gradient sweep's shared pieces: which primitives a property test covers, and one check for all.

Every op test module marks its property tests with ``covers(...)``; ``test_ops`` imports them all
and fails if a registered primitive has none.
"""

from __future__ import annotations

import numpy as np

from tinygrad_rnn import REGISTRY, gradcheck, gradgradcheck

TESTED: set[str] = set()
OP_TEST_MODULES = ("test_ops", "test_math_ops", "test_activations", "test_reductions", "test_movement",
                   "test_losses")


def covers(*names):
    """Mark a property test as the gradient sweep for these primitives."""
    TESTED.update(names)
    return lambda f: f


def check(fn, inputs, reference=None, second_order=True, rtol=1e-12, atol=1e-12):
    """Forward against a float64 reference, then first and second derivatives against finite differences."""
    if reference is not None:
        out = fn(*inputs)
        np.testing.assert_allclose(out.data, reference(*[x.data for x in inputs]), rtol=rtol, atol=atol)
        assert out.dtype == np.float64
    assert gradcheck(fn, inputs)
    if second_order:
        assert gradgradcheck(fn, inputs)


def domains(name: str, n: int) -> list[str]:
    """The primitive's registered input domains (its hint for where gradients are well defined)."""
    hint = list(REGISTRY[name].domains[:n])
    return hint + ["any"] * (n - len(hint))
