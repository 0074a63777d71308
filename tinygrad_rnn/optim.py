"""Optimizers (SGD, Adam), gradient clipping, and the tutorial's learning-rate schedule.

Updates happen in place on each parameter's live array, through buffers allocated once, so a
step makes no temporaries the size of a parameter; each update counts as an in-place change
(the parameter's ``_version``), so a graph recorded before the step refuses to backpropagate.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable

import numpy as np

from . import gradients
from .nn.module import Parameter
from .tensor import increment_version


class Optimizer(abc.ABC):
    """Holds the parameters and their per-parameter state; ``step()`` applies ``.grad``."""

    def __init__(self, params: Iterable[Parameter], lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: no parameters to optimize")
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr}")
        self.lr = float(lr)
        self._scratch = [np.empty_like(p.data) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @abc.abstractmethod
    def step(self) -> None:
        """Update every parameter that has a gradient."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """The optimizer's arrays (momentum, moments, step count) by name, for exact resumption."""
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        mine = self.state_dict()
        if set(state) != set(mine):
            raise KeyError(f"{type(self).__name__}: state has keys {sorted(state)}, expected {sorted(mine)}")
        for key, value in state.items():
            if np.shape(value) != mine[key].shape:
                raise ValueError(f"{type(self).__name__}: state {key!r} has shape {np.shape(value)}, "
                                 f"expected {mine[key].shape}")
            value = np.asarray(value)
            if value.dtype.kind not in "iuf" or (value.dtype.kind == "f" and not np.isfinite(value).all()):
                raise ValueError(f"{type(self).__name__}: state {key!r} holds NaN, inf or non-numbers")
        self._check(state)
        self._load(state)

    def _check(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027 - most states need no more
        """Refuse state that no run of this optimizer can have produced."""

    def _load(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027 - a stateless optimizer loads nothing
        """Copy checked state into the optimizer's buffers."""


class SGD(Optimizer):
    """p -= lr * (g + weight_decay * p), with heavy-ball momentum when ``momentum > 0``."""

    def __init__(self, params, lr: float = 0.005, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity = [np.zeros_like(p.data) for p in self.params] if momentum else None

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if self.velocity is None and not self.weight_decay:
                # the gradient goes into the weights in its own form: a lookup's into the looked-up entries
                if gradients.apply_update(p, -self.lr, self._scratch[i]):
                    increment_version(p)
                continue
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay:
                g = np.add(g, p.data * self.weight_decay, out=self._scratch[i])
            if self.velocity is not None:
                v = self.velocity[i]
                v *= self.momentum
                v += g
                g = v
            np.multiply(g, self.lr, out=self._scratch[i])
            p.data -= self._scratch[i]
            increment_version(p)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {f"velocity.{i}": v for i, v in enumerate(self.velocity or [])}

    def _load(self, state) -> None:
        for i, v in enumerate(self.velocity or []):
            v[...] = state[f"velocity.{i}"]


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``weight_decay`` is added to the gradient (L2)."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        step_size = self.lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g, m, v, buf = p.grad, self.m[i], self.v[i], self._scratch[i]
            if self.weight_decay:
                g = np.add(g, p.data * self.weight_decay)
            m *= b1
            m += (1 - b1) * g
            v *= b2
            np.multiply(g, g, out=buf)
            buf *= 1 - b2
            v += buf
            np.sqrt(v, out=buf)
            buf += self.eps * math.sqrt(1 - b2**self.t)
            np.divide(m, buf, out=buf)
            buf *= step_size
            p.data -= buf
            increment_version(p)

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"t": np.array(self.t)}
        for i, (m, v) in enumerate(zip(self.m, self.v)):
            state[f"m.{i}"], state[f"v.{i}"] = m, v
        return state

    def _check(self, state) -> None:
        t = np.asarray(state["t"])
        whole = t.dtype.kind in "iu" or (t.dtype.kind == "f" and np.isfinite(t) and float(t) == np.floor(t))
        if not whole or not 0 <= float(t) < 2**62:
            raise ValueError(f"Adam: state 't' (the step count) must be an integer >= 0, got {t}")
        for key, v in state.items():
            if key.startswith("v.") and (np.asarray(v) < 0).any():
                raise ValueError(f"Adam: state {key!r} (a second moment) holds negative values")

    def _load(self, state) -> None:
        self.t = int(state["t"])
        for i, (m, v) in enumerate(zip(self.m, self.v)):
            m[...] = state[f"m.{i}"]
            v[...] = state[f"v.{i}"]


def clip_grad_norm_(params: Iterable[Parameter], max_norm: float) -> float:
    """Scale all gradients in place so their joint L2 norm is at most ``max_norm``; return the norm before."""
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if total > max_norm > 0:
        scale = max_norm / (total + 1e-12)
        for g in grads:
            g *= scale
    return total


class HalveOnIncrease:
    """The tutorial's schedule: evaluate the loss every ``every`` epochs, halve the lr when it rose."""

    def __init__(self, optimizer: Optimizer, every: int = 1, factor: float = 0.5):
        if every < 1:
            raise ValueError(f"HalveOnIncrease: every must be >= 1, got {every}")
        self.optimizer, self.every, self.factor = optimizer, every, factor
        self.history: list[float] = []

    def due(self, epoch: int) -> bool:
        """Whether the loss is evaluated at the start of this (0-based) epoch."""
        return epoch % self.every == 0

    def record(self, loss: float) -> bool:
        """Note an evaluated loss; halve the learning rate if it is above the previous one. Returns True if halved."""
        rose = bool(self.history) and loss > self.history[-1]
        self.history.append(float(loss))
        if rose:
            self.optimizer.lr *= self.factor
        return rose
