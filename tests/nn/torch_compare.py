"""One check for a layer against its PyTorch twin: equal outputs, then equal gradients of one random weighting."""

from __future__ import annotations

import numpy as np

from tinygrad_rnn import Tensor


def flat(result) -> list:
    """Every tensor of a nested result, (output, (h_n, c_n)) and the like, in order."""
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in flat(r)]
    return [result]


def assert_matches_torch(ours, theirs, ours_out, theirs_out, rng, inputs=(), atol=1e-10) -> None:
    """Outputs equal in shape and value; then the gradients of sum(w * output) with the same random w
    on both sides, for every parameter (by name) and every (ours, theirs) pair in ``inputs``."""
    import torch

    ours_out, theirs_out = flat(ours_out), flat(theirs_out)
    for a, b in zip(ours_out, theirs_out, strict=True):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=0, atol=atol)
    weights = [rng.standard_normal(t.shape) for t in ours_out]
    sum(((a * w).sum() for a, w in zip(ours_out, weights)), Tensor(0.0)).backward()
    sum((b * torch.from_numpy(w)).sum() for b, w in zip(theirs_out, weights)).backward()
    torch_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, torch_params[name].grad.numpy(), rtol=0, atol=atol, err_msg=name)
    for a, b in inputs:
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=0, atol=atol)
