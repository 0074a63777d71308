"""The registry of primitives: op name → class, for the Tensor methods, the gradient sweep and the docs.

It imports nothing from the package, so every module can use it whatever the import order.
"""

from __future__ import annotations

from types import MappingProxyType

_PRIMITIVES: dict[str, type] = {}
REGISTRY = MappingProxyType(_PRIMITIVES)  # read-only: register() is the one way in


def register(cls: type) -> type:
    """Add a primitive (a ``Function`` subclass) under its ``name``; a name is taken once, for good."""
    name = cls.name
    if name in _PRIMITIVES and _PRIMITIVES[name] is not cls:
        raise ValueError(f"register: a primitive named {name!r} is already registered "
                         f"({_PRIMITIVES[name].__qualname__}); give {cls.__qualname__} another name")
    _PRIMITIVES[name] = cls
    return cls
