"""The same RNN language model written without the tape, for the benchmark to measure against.

Every builder takes the initial weights (U (H, V), V (V, H), W (H, H)), the sentences as padded
batches (x, y, mask) and the learning rate, and returns a function that runs one epoch of SGD
on the summed loss with full BPTT, starting from those weights; its ``weights()`` gives the
current U, V, W as numpy arrays (the tests check that every baseline trains like the tape).
None of them is part of the package: they are baselines.
"""

from __future__ import annotations

import numpy as np


def numpy_epoch(weights: dict, work: list, lr: float, dtype) -> callable:
    """Hand-optimised numpy, no autodiff: the ceiling for the tape.

    An index lookup instead of one-hot products, all output logits in one (N, H) @ (H, V) product,
    softmax-cross-entropy fused into probs − indicator in place, only H×H work inside the time
    loops, a scatter-add for U's gradient, and no V×H temporary beyond V's gradient itself.
    """
    U, V, W = (np.array(weights[n], dtype=dtype) for n in ("U", "V", "W"))
    scratch = np.empty_like(V)

    def epoch():
        for x, y, mask in work:
            batch, steps = x.shape
            xu = U.T[x]                                   # (B, T, H)
            states = np.empty((batch, steps + 1, U.shape[0]), dtype)
            states[:, 0] = 0
            for t in range(steps):
                np.tanh(xu[:, t] + states[:, t] @ W.T, out=states[:, t + 1])
            real = states[:, 1:][mask] if mask is not None else states[0, 1:]
            targets = y[mask] if mask is not None else y[0]
            probs = real @ V.T                            # (N, V)
            probs -= probs.max(axis=1, keepdims=True)
            np.exp(probs, out=probs)
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(targets)), targets] -= 1  # d loss / d logits, in place
            d_real = probs @ V                            # (N, H)
            np.matmul(probs.T, real, out=scratch)         # dV
            d_states = np.zeros((batch, steps, U.shape[0]), dtype)
            if mask is not None:
                d_states[mask] = d_real
            else:
                d_states[0] = d_real
            dz = np.empty_like(d_states)
            carry = np.zeros((batch, U.shape[0]), dtype)
            for t in reversed(range(steps)):
                s = states[:, t + 1]
                dz[:, t] = (d_states[:, t] + carry) * (1 - s * s)
                carry = dz[:, t] @ W
            # padded steps come after every real one: their dz is zero, they feed nothing below
            dW = dz.reshape(-1, W.shape[0]).T @ states[:, :-1].reshape(-1, W.shape[0])
            np.multiply(scratch, lr, out=scratch)
            np.subtract(V, scratch, out=V)
            np.subtract(W, lr * dW, out=W)
            np.subtract.at(U.T, x.reshape(-1), lr * dz.reshape(-1, U.shape[0]))
    epoch.weights = lambda: {"U": U, "V": V, "W": W}
    return epoch


def torch_loop_epoch(weights: dict, work: list, lr: float, dtype) -> callable:
    """PyTorch eager with a Python loop over the steps, the same structure as the tape model."""
    import torch
    import torch.nn.functional as F

    tdt = torch.float64 if dtype == np.float64 else torch.float32
    U, V, W = (torch.tensor(weights[n], dtype=tdt, requires_grad=True) for n in ("U", "V", "W"))
    batches = [(torch.as_tensor(x), torch.as_tensor(y), None if m is None else torch.as_tensor(m)) for x, y, m in work]

    def epoch():
        for x, y, mask in batches:
            xu = U.t()[x]
            h, states = None, []
            for t in range(x.shape[1]):
                h = torch.tanh(xu[:, t] if h is None else xu[:, t] + h @ W.t())
                states.append(h)
            states = torch.stack(states, 1)
            real, targets = (states[mask], y[mask]) if mask is not None else (states[0], y[0])
            F.cross_entropy(real @ V.t(), targets, reduction="sum").backward()
            _torch_sgd((U, V, W), lr)
    epoch.weights = lambda: {"U": U.detach().numpy(), "V": V.detach().numpy(), "W": W.detach().numpy()}
    return epoch


def torch_rnn_epoch(weights: dict, work: list, lr: float, dtype) -> callable:
    """PyTorch eager with ``nn.RNN`` (its fused C++ loop) over the looked-up inputs U x_t."""
    import torch
    import torch.nn.functional as F

    tdt = torch.float64 if dtype == np.float64 else torch.float32
    hidden = weights["W"].shape[0]
    U, V = (torch.tensor(weights[n], dtype=tdt, requires_grad=True) for n in ("U", "V"))
    rnn = torch.nn.RNN(hidden, hidden, nonlinearity="tanh", bias=False, batch_first=True).to(tdt)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.eye(hidden, dtype=tdt))  # the input is already U x_t
        rnn.weight_hh_l0.copy_(torch.tensor(weights["W"], dtype=tdt))
    rnn.weight_ih_l0.requires_grad_(False)
    batches = [(torch.as_tensor(x), torch.as_tensor(y), None if m is None else torch.as_tensor(m)) for x, y, m in work]

    def epoch():
        for x, y, mask in batches:
            states, _ = rnn(U.t()[x])
            real, targets = (states[mask], y[mask]) if mask is not None else (states[0], y[0])
            F.cross_entropy(real @ V.t(), targets, reduction="sum").backward()
            _torch_sgd((U, V, rnn.weight_hh_l0), lr)
    epoch.weights = lambda: {"U": U.detach().numpy(), "V": V.detach().numpy(),
                             "W": rnn.weight_hh_l0.detach().numpy()}
    return epoch


def _torch_sgd(params, lr):
    import torch

    with torch.no_grad():
        for p in params:
            p.add_(p.grad, alpha=-lr)
            p.grad = None


def autograd_epoch(weights: dict, work: list, lr: float, dtype) -> callable:
    """HIPS autograd: the model in autograd.numpy, per sentence, differentiated by ``grad``."""
    import autograd.numpy as anp
    from autograd import grad
    from autograd.scipy.special import logsumexp

    def loss(params, x, y):
        U, V, W = params
        h, states = anp.zeros(W.shape[0], dtype), []
        for t in range(len(x)):
            h = anp.tanh(U[:, x[t]] + anp.dot(W, h))
            states.append(h)
        logits = anp.dot(anp.stack(states), V.T)
        logp = logits - logsumexp(logits, axis=1, keepdims=True)
        return -anp.sum(logp[anp.arange(len(y)), y])

    gradient = grad(loss)
    params = [np.array(weights[n], dtype=dtype) for n in ("U", "V", "W")]
    if any(m is not None for _, _, m in work):
        raise ValueError("the autograd baseline runs per sentence only")
    sentences = [(x[0], y[0]) for x, y, _ in work]

    def epoch():
        for x, y in sentences:
            for p, g in zip(params, gradient(params, x, y)):
                p -= lr * g
    epoch.weights = lambda: dict(zip("UVW", params))
    return epoch
