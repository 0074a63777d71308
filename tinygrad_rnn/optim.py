"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad), gradient clipping, and the tutorial's lr schedule.

Names, argument order and update rules are torch.optim's. Updates happen in place on each
parameter's live array, through buffers allocated once, so a step makes no temporaries the size
of a parameter; each update counts as an in-place change (the parameter's ``_version``), so a
graph recorded before the step refuses to backpropagate.

Parameters come as a list, or as torch's parameter groups — dicts with ``"params"`` and any
option to override for them. ``optimizer.param_groups`` holds every group with every option
filled in; editing ``group["lr"]`` takes effect at the next step (what the schedulers in
``optim.lr_scheduler`` do).

A lookup's deferred gradient (``gradients.IndexedGrad``) reaches plain SGD (no momentum, no
weight decay) in its own form, and is added to the looked-up entries only; every other
optimizer reads ``.grad``, which makes it dense — exactly torch's dense semantics: decay and
momentum move every entry.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable

import numpy as np

from . import gradients, lr_scheduler  # noqa: F401 - torch-style ``optim.lr_scheduler.StepLR``
from .tensor import Tensor, increment_version


class Optimizer(abc.ABC):
    """Holds the parameter groups and per-parameter state; ``step()`` applies ``.grad``.

    ``state_dict()`` is flat — name to array — so that it goes into an ``.npz`` as it is: the
    per-parameter buffers as ``"<buffer>.<i>"`` (``i`` counts parameters over all groups, in
    order), step counts, and each group's learning rate as ``"lr.<g>"`` (optional on load:
    checkpoints written before groups existed lack it, and keep the lr they are given).
    """

    def __init__(self, params, defaults: dict):
        name = type(self).__name__
        if isinstance(params, (Tensor, dict)):
            raise TypeError(f"{name}: params must be an iterable of Parameters or of param-group dicts, "
                            f"got a single {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: no parameters to optimize")
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.params: list[Tensor] = []  # every parameter, over the groups in order
        self.state: list[dict[str, np.ndarray]] = []  # per parameter: buffer name -> array
        self._scratch: list[np.ndarray] = []
        self._spare: list[np.ndarray | None] = []  # a second buffer, made when a rule needs one
        self._index: dict[int, int] = {}
        self._dict_groups = isinstance(groups[0], dict)  # errors then name the group
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own options (those not given are the defaults)."""
        name, g = type(self).__name__, len(self.param_groups)
        if not isinstance(group, dict):
            raise TypeError(f"{name}: param group {g} must be a dict, got {type(group).__name__} "
                            "(give all groups as dicts, or a plain list of parameters)")
        if "params" not in group:
            raise ValueError(f"{name}: param group {g} has no 'params' (its keys: {sorted(group)})")
        unknown = sorted(set(group) - set(self.defaults) - {"params", "initial_lr"})
        if unknown:
            raise ValueError(f"{name}: param group {g} has unknown option {unknown[0]!r} "
                             f"(options: {sorted(self.defaults)})")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: param group {g} has no parameters to optimize")
        seen = set()
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: param group {g} holds a {type(p).__name__}, not a Parameter or Tensor")
            if not p.requires_grad:
                raise ValueError(f"{name}: param group {g} holds a tensor of shape {p.shape} that does not "
                                 "require grad (an optimizer cannot update it)")
            if id(p) in self._index or id(p) in seen:
                raise ValueError(f"{name}: a parameter of shape {p.shape} appears in more than one param group "
                                 f"(again in group {g})")
            seen.add(id(p))
        full = {"params": params, **self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._validate(full, f" (param group {g})" if self._dict_groups else "")
        self.param_groups.append(full)
        for p in params:
            self._index[id(p)] = len(self.params)
            self.params.append(p)
            self.state.append({})
            self._scratch.append(np.empty_like(p.data))
            self._spare.append(None)
            self._init_state(len(self.params) - 1, full)

    def _validate(self, group: dict, where: str) -> None:
        """Refuse options no update rule can use; the message names the optimizer, option and value."""
        if not group["lr"] >= 0:  # 0 freezes a group, as in torch
            self._bad("lr must be >= 0", group["lr"], where)
        for option in ("weight_decay", "momentum", "eps", "lr_decay", "initial_accumulator_value", "alpha"):
            if option in group and not group[option] >= 0:
                self._bad(f"{option} must be >= 0", group[option], where)

    def _bad(self, what: str, value, where: str = ""):
        raise ValueError(f"{type(self).__name__}: {what}, got {value}{where}")

    def _init_state(self, i: int, group: dict) -> None:  # noqa: B027 - a stateless rule allocates nothing
        """Allocate parameter ``i``'s buffers for its group's options (more may come if options change)."""

    def _buffer(self, i: int, name: str) -> np.ndarray:
        buf = self.state[i].get(name)
        if buf is None:
            buf = self.state[i][name] = np.zeros_like(self.params[i].data)
        return buf

    def _second(self, i: int) -> np.ndarray:
        """A spare array like parameter ``i``, made on first use (weight decay, Nesterov, dampening)."""
        if self._spare[i] is None:
            self._spare[i] = np.empty_like(self.params[i].data)
        return self._spare[i]

    def _groups(self):
        """(group, index, parameter) for every parameter, in order."""
        for group in self.param_groups:
            for p in group["params"]:
                yield group, self._index[id(p)], p

    @property
    def lr(self) -> float:
        """The learning rate, for code written before groups: all groups must share it to read it."""
        lrs = {g["lr"] for g in self.param_groups}
        if len(lrs) != 1:
            raise ValueError(f"{type(self).__name__}: the param groups have different learning rates "
                             f"{[g['lr'] for g in self.param_groups]}; read optimizer.param_groups")
        return lrs.pop()

    @lr.setter
    def lr(self, value: float) -> None:
        for g in self.param_groups:
            g["lr"] = float(value)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @abc.abstractmethod
    def step(self) -> None:
        """Update every parameter that has a gradient."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """The optimizer's arrays (buffers, step count, each group's lr) by name, for exact resumption."""
        state = {f"lr.{g}": np.array(float(group["lr"])) for g, group in enumerate(self.param_groups)}
        state.update(self._scalars())
        for i, buffers in enumerate(self.state):
            for name, buf in buffers.items():
                state[f"{name}.{i}"] = buf.copy()  # a snapshot: training on must not change it
        return state

    def _scalars(self) -> dict[str, np.ndarray]:
        """State that is not per parameter (a step count)."""
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        name, mine = type(self).__name__, self.state_dict()
        optional = {k for k in mine if k.startswith(("lr.", "started."))}  # absent from older checkpoints
        if not set(mine) - optional <= set(state) <= set(mine):
            raise KeyError(f"{name}: state has keys {sorted(state)}, expected {sorted(set(mine) - optional)}"
                           f" and optionally {sorted(optional)}")
        for key, value in state.items():
            if np.shape(value) != mine[key].shape:
                raise ValueError(f"{name}: state {key!r} has shape {np.shape(value)}, expected {mine[key].shape}")
            value = np.asarray(value)
            if value.dtype.kind not in "iuf" or (value.dtype.kind == "f" and not np.isfinite(value).all()):
                raise ValueError(f"{name}: state {key!r} holds NaN, inf or non-numbers")
            if key.startswith("lr.") and not float(value) >= 0:
                raise ValueError(f"{name}: state {key!r} (a learning rate) must be >= 0, got {float(value)}")
        self._check(state)
        for key, value in state.items():
            if key.startswith("lr."):
                self.param_groups[int(key[3:])]["lr"] = float(value)
        for i, buffers in enumerate(self.state):
            for buf_name, buf in buffers.items():
                buf[...] = state[f"{buf_name}.{i}"]
        self._load(state)

    def _check(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027 - most states need no more
        """Refuse state that no run of this optimizer can have produced."""

    def _load(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027 - buffers are copied by the base
        """Take the scalars of checked state."""

    def _check_steps(self, state, key: str = "t") -> None:
        t = np.asarray(state[key])
        whole = t.dtype.kind in "iu" or (t.dtype.kind == "f" and np.isfinite(t) and float(t) == np.floor(t))
        if not whole or not 0 <= float(t) < 2**62:
            raise ValueError(f"{type(self).__name__}: state {key!r} (the step count) must be an integer >= 0, got {t}")

    def _check_nonnegative(self, state, prefix: str, what: str) -> None:
        for key, v in state.items():
            if key.startswith(prefix) and (np.asarray(v) < 0).any():
                raise ValueError(f"{type(self).__name__}: state {key!r} ({what}) holds negative values")

    def _decayed(self, i: int, p: Tensor, g: np.ndarray, weight_decay: float, out: np.ndarray) -> np.ndarray:
        """g + weight_decay * p (L2 decay through the gradient), written into ``out``."""
        np.multiply(p.data, weight_decay, out=out)
        out += g
        return out


class SGD(Optimizer):
    """Stochastic gradient descent, torch's rule::

        g = grad + weight_decay * p
        if momentum:  b = g at the first step, else momentum * b + (1 - dampening) * g
                      g = g + momentum * b if nesterov else b
        p -= lr * g

    Plain SGD (no momentum, no weight decay) adds a lookup's deferred gradient to the looked-up
    entries only; with momentum or decay the gradient is made dense (every entry moves).
    """

    def __init__(self, params, lr: float = 0.005, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        self._fresh: set[int] = set()  # momentum buffers no step has written yet: the first takes g itself
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _validate(self, group, where):
        super()._validate(group, where)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            self._bad("nesterov needs momentum > 0 and dampening 0",
                      f"momentum={group['momentum']}, dampening={group['dampening']}", where)

    def _init_state(self, i, group):
        if group["momentum"]:
            self._buffer(i, "velocity")
            self._fresh.add(i)

    def step(self) -> None:
        for group, i, p in self._groups():
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            if not momentum and not weight_decay:
                # the gradient goes into the weights in its own form: a lookup's into the looked-up entries
                if gradients.apply_update(p, -lr, self._scratch[i]):
                    increment_version(p)
                continue
            if p.grad is None:
                continue
            g, scratch = p.grad, self._scratch[i]
            if weight_decay:
                g = self._decayed(i, p, g, weight_decay, scratch)
            if momentum:
                if "velocity" not in self.state[i]:
                    self._fresh.add(i)
                b = self._buffer(i, "velocity")
                if i in self._fresh:
                    b[...] = g
                    self._fresh.discard(i)
                else:
                    b *= momentum
                    if dampening:
                        b += np.multiply(g, 1 - dampening, out=self._second(i))
                    else:
                        b += g
                if nesterov:
                    g = np.multiply(b, momentum, out=self._second(i))
                    g += scratch if weight_decay else p.grad
                else:
                    g = b
            np.multiply(g, lr, out=scratch)
            p.data -= scratch
            increment_version(p)

    def _scalars(self):
        """Whether each momentum buffer has started (a zero buffer may have: with dampening it matters)."""
        return {f"started.{i}": np.array(int(i not in self._fresh)) for i, s in enumerate(self.state)
                if "velocity" in s}

    def _load(self, state):
        # a checkpoint from before ``started`` existed: a buffer still all zeros is taken as not yet
        # started (exact for dampening 0, the default)
        self._fresh = {i for i, s in enumerate(self.state) if "velocity" in s and (
            not bool(state[f"started.{i}"]) if f"started.{i}" in state else not s["velocity"].any())}


class _StepCounted(Optimizer):
    """An optimizer with one step count ``t`` (Adam, Adagrad), saved, checked and restored with its buffers."""

    _nonnegative: tuple[str, str]  # (buffer prefix, what it holds): never negative in a real run; each sets it

    def _scalars(self):
        return {"t": np.array(self.t)}

    def _check(self, state) -> None:
        self._check_steps(state)
        self._check_nonnegative(state, *self._nonnegative)

    def _load(self, state) -> None:
        self.t = int(state["t"])


class Adam(_StepCounted):
    """Adam (Kingma & Ba), torch's rule; ``weight_decay`` is added to the gradient (L2)::

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g²
        p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    The step count ``t`` is the optimizer's (torch keeps one per parameter: the same while every
    parameter gets a gradient at every step). A lookup's deferred gradient is made dense.
    """

    _decoupled = False
    _nonnegative = ("v.", "a second moment")

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        self.t = 0
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _validate(self, group, where):
        super()._validate(group, where)
        b1, b2 = group["betas"]
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            self._bad("betas must be in [0, 1)", group["betas"], where)

    def _init_state(self, i, group):
        self._buffer(i, "m")
        self._buffer(i, "v")

    def step(self) -> None:
        self.t += 1
        for group, i, p in self._groups():
            if p.grad is None:
                continue
            lr, (b1, b2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            g, m, v, s = p.grad, self._buffer(i, "m"), self._buffer(i, "v"), self._scratch[i]
            if weight_decay and self._decoupled:
                p.data *= 1 - lr * weight_decay
            elif weight_decay:
                g = self._decayed(i, p, g, weight_decay, self._second(i))
            m *= b1
            m += np.multiply(g, 1 - b1, out=s)
            v *= b2
            np.multiply(g, g, out=s)
            s *= 1 - b2
            v += s
            np.sqrt(v, out=s)
            s /= math.sqrt(1 - b2**self.t)
            s += eps
            np.divide(m, s, out=s)
            s *= lr / (1 - b1**self.t)
            p.data -= s
            increment_version(p)



class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), torch's rule: before the Adam step,
    ``p *= 1 - lr * weight_decay`` — decay that Adam's scaling does not undo. State as Adam's."""

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    """RMSprop (Hinton), torch's rule::

        g = grad + weight_decay * p
        s = alpha * s + (1 - alpha) * g²
        centered:  a = alpha * a + (1 - alpha) * g;   d = sqrt(s - a²) + eps,   else d = sqrt(s) + eps
        momentum:  b = momentum * b + g / d;  p -= lr * b,   else p -= lr * g / d

    A lookup's deferred gradient is made dense.
    """

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _init_state(self, i, group):
        self._buffer(i, "square_avg")
        if group["momentum"]:
            self._buffer(i, "momentum_buffer")
        if group["centered"]:
            self._buffer(i, "grad_avg")

    def step(self) -> None:
        for group, i, p in self._groups():
            if p.grad is None:
                continue
            lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
            g, s = p.grad, self._scratch[i]
            if group["weight_decay"]:
                g = self._decayed(i, p, g, group["weight_decay"], self._second(i))
            square_avg = self._buffer(i, "square_avg")
            square_avg *= alpha
            np.multiply(g, g, out=s)
            s *= 1 - alpha
            square_avg += s
            if group["centered"]:
                grad_avg = self._buffer(i, "grad_avg")
                grad_avg *= alpha
                grad_avg += np.multiply(g, 1 - alpha, out=s)
                np.multiply(grad_avg, grad_avg, out=s)
                np.subtract(square_avg, s, out=s)
                np.sqrt(s, out=s)
            else:
                np.sqrt(square_avg, out=s)
            s += eps
            np.divide(g, s, out=s)
            if momentum:
                b = self._buffer(i, "momentum_buffer")
                b *= momentum
                b += s
                np.multiply(b, lr, out=s)
            else:
                s *= lr
            p.data -= s
            increment_version(p)

    def _check(self, state) -> None:
        self._check_nonnegative(state, "square_avg.", "a mean square")


class Adagrad(_StepCounted):
    """Adagrad (Duchi et al.), torch's rule::

        g = grad + weight_decay * p
        s = s + g²                      (s starts at initial_accumulator_value)
        p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    The step count ``t`` is the optimizer's (torch keeps one per parameter). A lookup's deferred
    gradient is made dense.
    """

    _nonnegative = ("sum.", "a sum of squares")

    def __init__(self, params, lr: float = 0.01, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10):
        self.t = 0
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _init_state(self, i, group):
        self._buffer(i, "sum")[...] = group["initial_accumulator_value"]

    def step(self) -> None:
        self.t += 1
        for group, i, p in self._groups():
            if p.grad is None:
                continue
            g, s = p.grad, self._scratch[i]
            if group["weight_decay"]:
                g = self._decayed(i, p, g, group["weight_decay"], self._second(i))
            clr = group["lr"] / (1 + (self.t - 1) * group["lr_decay"])
            total = self._buffer(i, "sum")
            total += np.multiply(g, g, out=s)
            np.sqrt(total, out=s)
            s += group["eps"]
            np.divide(g, s, out=s)
            s *= clr
            p.data -= s
            increment_version(p)



def clip_grad_norm_(params: Iterable[Tensor], max_norm: float) -> float:
    """Scale all gradients in place so their joint L2 norm is at most ``max_norm``; return the norm before."""
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if total > max_norm > 0:
        scale = max_norm / (total + 1e-12)
        for g in grads:
            g *= scale
    return total


def clip_grad_value_(params: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value] in place (torch's).

    A lookup's deferred gradient is made dense first: entries looked up twice are summed before
    they are clipped, as in the dense gradient.
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in [params] if isinstance(params, Tensor) else params:
        g = p.grad
        if g is not None:
            np.clip(g, -clip_value, clip_value, out=g)


class HalveOnIncrease:
    """The tutorial's schedule: evaluate the loss every ``every`` epochs, halve the lr when it rose.

    With param groups, every group's lr is multiplied by ``factor``.
    """

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
            for group in self.optimizer.param_groups:
                group["lr"] *= self.factor
        return rose

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """The losses seen (the lr itself is the optimizer's state)."""
        return {"every": self.every, "factor": self.factor, "history": list(self.history)}

    def load_state_dict(self, state: dict) -> None:
        if set(state) != {"every", "factor", "history"}:
            raise KeyError(f"HalveOnIncrease: state has keys {sorted(state)}, expected ['every', 'factor', 'history']")
        self.every, self.factor, self.history = int(state["every"]), float(state["factor"]), list(state["history"])
