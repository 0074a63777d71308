"""The tutorial's forward pass and truncated BPTT, transcribed literally in numpy: a test oracle."""

from __future__ import annotations

import numpy as np


def forward(U, V, W, x):
    T = len(x)
    s = np.zeros((T + 1, W.shape[0]))  # s[-1] is the initial (zero) state
    o = np.zeros((T, V.shape[0]))
    for t in range(T):
        s[t] = np.tanh(U[:, x[t]] + W.dot(s[t - 1]))
        z = V.dot(s[t])
        e = np.exp(z - z.max())
        o[t] = e / e.sum()
    return o, s


def loss_sum(U, V, W, x, y):
    o, _ = forward(U, V, W, x)
    return -np.sum(np.log(o[np.arange(len(y)), y]))


def bptt(U, V, W, x, y, truncate):
    T = len(y)
    o, s = forward(U, V, W, x)
    dU, dV, dW = np.zeros_like(U), np.zeros_like(V), np.zeros_like(W)
    delta_o = o
    delta_o[np.arange(T), y] -= 1.0
    for t in np.arange(T)[::-1]:
        dV += np.outer(delta_o[t], s[t])
        delta_t = V.T.dot(delta_o[t]) * (1 - s[t] ** 2)
        for step in np.arange(max(0, t - truncate), t + 1)[::-1]:
            dW += np.outer(delta_t, s[step - 1])
            dU[:, x[step]] += delta_t
            delta_t = W.T.dot(delta_t) * (1 - s[step - 1] ** 2)
    return dU, dV, dW
