"""Module and Parameter: parameters found by walking attributes, state dicts checked key by key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..tensor import Tensor, increment_version


class Parameter(Tensor):
    """A Tensor that a Module owns and an optimizer updates; requires grad by default."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)


_PLAIN = (list, tuple, dict)  # containers whose contents the walk does not see


def _check_plain(owner: Module, name: str, value) -> None:
    """Refuse a plain list/tuple/dict holding Modules or Parameters that are not registered otherwise:
    they would be neither trained nor saved. One holding registered attributes (``(self.h0, self.c0)``)
    is an alias, and allowed."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    registered = None
    for key, v in items:
        if isinstance(v, (Module, Parameter)):
            if registered is None:
                registered = {id(a) for a in vars(owner).values() if isinstance(a, (Module, Parameter))}
            if id(v) in registered:
                continue
        if isinstance(v, (Module, Parameter)) or (isinstance(v, _PLAIN) and _holds_registrable(v, {id(value)})):
            kind = "dict" if isinstance(value, dict) else type(value).__name__
            wrapper = "use nn.ModuleDict" if isinstance(value, dict) else "use nn.ModuleList (or nn.Sequential)"
            if isinstance(v, Parameter):
                wrapper = "assign each Parameter as its own attribute"
            raise TypeError(
                f"{type(owner).__name__}.{name}: a plain {kind} holding {type(v).__name__} (at {key!r}) is not "
                f"registered, so its parameters would be neither trained nor saved; {wrapper}")


def _holds_registrable(value, seen: set) -> bool:
    """True if a (nested) plain container holds a Module or Parameter; ``seen`` stops self-reference."""
    if id(value) in seen:
        return False
    seen.add(id(value))
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, (Module, Parameter)) or (isinstance(v, _PLAIN) and _holds_registrable(v, seen))
               for v in items)


class Module:
    """Base class for layers and models: Parameters and sub-modules assigned as attributes are registered.

    A plain list, tuple or dict of Modules or Parameters is refused (TypeError): it would register
    nothing. Use ModuleList, ModuleDict or Sequential, which register their items as ``name.0``, ….
    """

    training: bool = True  # a class default, so subclasses need not call Module.__init__

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, _PLAIN):  # only assignments pay; reads and forward passes never come here
            _check_plain(self, name, value)
        object.__setattr__(self, name, value)

    def _members(self) -> Iterator[tuple[str, object]]:
        """(name, value) of everything that may be a sub-module or parameter, in registration order."""
        return iter(vars(self).items())

    def _walk(self, prefix: str, want: type) -> Iterator[tuple[str, object]]:
        """Depth first in attribute order, each object once: the Modules or the Parameters, with dotted paths."""
        seen: set[int] = set()
        stack: list[tuple[str, object]] = [(prefix, self)]
        while stack:
            path, value = stack.pop()
            if not isinstance(value, (Parameter, Module)) or id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, want):
                yield path, value
            if isinstance(value, Module):
                members = []
                for k, v in value._members():
                    if isinstance(v, _PLAIN):  # filled after assignment, e.g. self.layers = [] then append
                        _check_plain(value, k, v)
                    members.append((f"{path}.{k}" if path else k, v))
                stack.extend(reversed(members))

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted path, depth first in attribute order, each once."""
        return self._walk(prefix, Parameter)

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many numbers the model learns (a parameter shared by two layers counts once)."""
        return sum(p.size for p in self.parameters())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``, "" by default) and every sub-module, depth first, each once."""
        return self._walk(prefix, Module)

    def modules(self) -> list[Module]:
        return [m for _, m in self.named_modules()]

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names, each once."""
        seen: set[int] = set()
        for name, v in self._members():
            if isinstance(v, Module) and id(v) not in seen:
                seen.add(id(v))
                yield name, v

    def children(self) -> list[Module]:
        return [m for _, m in self.named_children()]

    def apply(self, fn: Callable[[Module], object]) -> Module:
        """Call ``fn`` on every sub-module, then on this one (PyTorch's order, for initialisers); returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def train(self, mode: bool = True) -> Module:
        """Set ``training`` on this module and every sub-module (Dropout reads it); returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"{type(self).__name__}.train: mode must be True or False, got {mode!r}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """``train(False)``: Dropout becomes the identity; returns self."""
        return self.train(False)

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

    def save(self, path) -> None:
        """Write the weights to one .npz file (arrays plus JSON metadata, no pickle), atomically."""
        from .serialization import save_module

        save_module(self, Path(path))

    def load(self, path) -> Module:
        """Read weights written by ``save`` into this model in place, all checked first; returns self."""
        from .serialization import load_module

        load_module(self, Path(path))
        return self

    def __call__(self, *args, **kwargs):
        forward = getattr(self, "forward", None)
        if forward is None:  # a container of parameters only: nothing to call
            raise TypeError(f"{type(self).__name__} has no forward(); define one to call the module")
        return forward(*args, **kwargs)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}={p.shape}" for n, p in self.named_parameters())
        return f"{type(self).__name__}({shapes})"
