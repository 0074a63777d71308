"""Learning-rate schedulers, torch.optim.lr_scheduler's: each sets ``group["lr"]`` of an optimizer's
param groups, once per ``step()`` (after ``optimizer.step()``, as in torch).

The rules are torch's chainable ones — each step changes the current lr — so a schedule
follows whatever else edits ``group["lr"]``, and the values equal torch's to the last bits.
``state_dict()`` is the scheduler's own (plain numbers and lists); the lrs themselves are in
the optimizer's state, so a resume loads both, as in torch::

    opt, sched = SGD(params, lr=0.1), StepLR(opt, 10)   # then
    opt.load_state_dict(saved_opt); sched.load_state_dict(saved_sched)
"""

from __future__ import annotations

import abc
import math


class LRScheduler(abc.ABC):
    """Sets every group's lr from ``_next_lrs`` at each step; remembers the first lrs as ``base_lrs``."""

    _options: tuple[str, ...] = ()

    def __init__(self, optimizer):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an optimizer")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._set(self._initial_lrs())

    def _lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def _initial_lrs(self) -> list[float]:
        return self._lrs()

    @abc.abstractmethod
    def _next_lrs(self) -> list[float]:
        """The learning rates of epoch ``last_epoch``, one per group: each schedule's rule."""

    def _set(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = self._lrs()

    def step(self) -> None:
        """Move to the next epoch (or iteration) and set its learning rates."""
        self.last_epoch += 1
        self._set(self._next_lrs())

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` (or the constructor) set, one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer: options, ``base_lrs``, ``last_epoch``, the last lrs."""
        state = {k: getattr(self, k) for k in self._options}
        state.update(base_lrs=list(self.base_lrs), last_epoch=self.last_epoch, _last_lr=list(self._last_lr))
        return state

    def load_state_dict(self, state: dict) -> None:
        expected = set(self.state_dict())
        if set(state) != expected:
            raise KeyError(f"{type(self).__name__}: state has keys {sorted(state)}, expected {sorted(expected)}")
        for key, value in state.items():
            setattr(self, key, list(value) if isinstance(value, (list, tuple)) else value)


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps."""

    _options = ("step_size", "gamma")

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        if not (isinstance(step_size, int) and step_size >= 1):
            raise ValueError(f"StepLR: step_size must be an integer >= 1, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def _next_lrs(self):
        if self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every step."""

    _options = ("gamma",)

    def __init__(self, optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def _next_lrs(self):
        return [lr * self.gamma for lr in self._lrs()]


class CosineAnnealingLR(LRScheduler):
    """Follow half a cosine from the base lr down to ``eta_min`` over ``T_max`` steps (then back up):
    eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2, reached step by step as torch does."""

    _options = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803 - torch's name
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def _next_lrs(self):
        e, t, eta = self.last_epoch, self.T_max, self.eta_min
        if (e - 1 - t) % (2 * t) == 0:  # the bottom of the cosine: the ratio below would divide by zero
            return [lr + (base - eta) * (1 - math.cos(math.pi / t)) / 2 for lr, base in zip(self._lrs(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t))
        return [ratio * (lr - eta) + eta for lr in self._lrs()]


class LinearLR(LRScheduler):
    """Warm-up: scale the lr linearly from ``start_factor`` to ``end_factor`` times the base lr over
    ``total_iters`` steps, then leave it."""

    _options = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer)

    def _initial_lrs(self):
        return [lr * self.start_factor for lr in self._lrs()]

    def _next_lrs(self):
        if self.last_epoch > self.total_iters:
            return self._lrs()
        change = self.end_factor - self.start_factor
        scale = 1.0 + change / (self.total_iters * self.start_factor + (self.last_epoch - 1) * change)
        return [lr * scale for lr in self._lrs()]


class ReduceLROnPlateau:
    """Multiply the lr by ``factor`` when a metric has not improved for ``patience`` steps; ``step(metric)``.

    Improvement is relative: below best * (1 - threshold) in mode "min", above best * (1 + threshold)
    in mode "max" (``threshold_mode="abs"``: best ∓ threshold). After a reduction, ``cooldown`` steps
    are not counted. The lr never goes below ``min_lr``, and changes smaller than ``eps`` are skipped.
    """

    _options = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lrs", "eps")

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0, eps: float = 1e-8):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"ReduceLROnPlateau: {type(optimizer).__name__} is not an optimizer")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"ReduceLROnPlateau: min_lr has {len(min_lr)} values for {n} param groups")
            self.min_lrs = list(min_lr)
        else:
            self.min_lrs = [min_lr] * n
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.eps = threshold, threshold_mode, cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _is_better(self, a: float) -> bool:
        if self.threshold_mode == "rel":
            return a < self.best * (1 - self.threshold) if self.mode == "min" else a > self.best * (self.threshold + 1)
        return a < self.best - self.threshold if self.mode == "min" else a > self.best + self.threshold

    def step(self, metrics: float) -> None:
        """Note this step's metric (a validation loss, say); reduce the lr after ``patience`` bad ones."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad steps in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                new = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        state = {k: getattr(self, k) for k in self._options}
        state.update(best=self.best, num_bad_epochs=self.num_bad_epochs, cooldown_counter=self.cooldown_counter,
                     last_epoch=self.last_epoch, _last_lr=list(self._last_lr))
        return state

    def load_state_dict(self, state: dict) -> None:
        LRScheduler.load_state_dict(self, state)
