"""Module and Parameter: parameters found by walking attributes, state dicts checked key by key."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..tensor import Tensor, increment_version


class Parameter(Tensor):
    """A Tensor that a Module owns and an optimizer updates; requires grad by default."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)


class Module:
    """Base class for layers and models: Parameters and sub-modules assigned as attributes are registered."""

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted path, depth first in attribute order, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, object]] = [(prefix, self)]
        while stack:
            path, value = stack.pop()
            if not isinstance(value, (Parameter, Module)) or id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, Parameter):
                yield path, value
            else:
                members = [(f"{path}.{k}" if path else k, v) for k, v in vars(value).items()]
                stack.extend(reversed(members))

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter's array, keyed by its dotted name."""
        return {name: np.array(p.data, copy=True) for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the parameters in place; names, shapes and dtypes must match exactly."""
        params = dict(self.named_parameters())
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if missing:
            raise KeyError(f"load_state_dict: missing key {missing[0]!r} (the model has {', '.join(params)})")
        if unexpected:
            raise KeyError(f"load_state_dict: unexpected key {unexpected[0]!r} (the model has {', '.join(params)})")
        for name, p in params.items():
            value = np.asarray(state[name])
            if value.shape != p.shape:
                raise ValueError(f"load_state_dict: {name!r} has shape {value.shape}, the model expects {p.shape}")
            if value.dtype != p.dtype:
                raise ValueError(f"load_state_dict: {name!r} has dtype {value.dtype}, the model expects {p.dtype}")
        for name, p in params.items():
            p.data[...] = state[name]
            increment_version(p)

    def __call__(self, *args, **kwargs):
        forward = getattr(self, "forward", None)
        if forward is None:  # a container of parameters only: nothing to call
            raise TypeError(f"{type(self).__name__} has no forward(); define one to call the module")
        return forward(*args, **kwargs)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}={p.shape}" for n, p in self.named_parameters())
        return f"{type(self).__name__}({shapes})"
