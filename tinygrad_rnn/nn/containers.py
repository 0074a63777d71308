"""ModuleList, ModuleDict and Sequential: containers whose items are registered as ``name.0``, ``name.key``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from .module import Module


def _module(owner: str, value) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{owner}: expected a Module, got {type(value).__name__}")
    return value


class ModuleList(Module):
    """A list of modules, registered under their positions (``layers.0.weight``), as torch.nn.ModuleList."""

    def __init__(self, modules: Iterable[Module] | None = None):
        object.__setattr__(self, "_list", [])  # a plain list of modules: the one place it is allowed
        if modules is not None:
            self.extend(modules)

    def _members(self) -> Iterator[tuple[str, object]]:
        """A subclass's own attributes (a scale, a head), then the items under their positions."""
        own = [(k, v) for k, v in vars(self).items() if k != "_list"]
        return iter(own + [(str(i), m) for i, m in enumerate(self._list)])

    def append(self, module: Module) -> ModuleList:
        self._list.append(_module(f"{type(self).__name__}.append", module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) and not isinstance(modules, ModuleList):
            raise TypeError(f"{type(self).__name__}.extend: expected an iterable of Modules, "
                            f"got {type(modules).__name__}")
        self._list.extend([_module(f"{type(self).__name__}.extend", m) for m in modules])
        return self

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def insert(self, index: int, module: Module) -> None:
        self._list.insert(index, _module(f"{type(self).__name__}.insert", module))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(self._list[index])
        try:
            return self._list[index]
        except IndexError:
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {len(self)} modules") from None

    def __setitem__(self, index: int, module: Module) -> None:
        self._list[index] = _module(f"{type(self).__name__}[{index}] = ...", module)

    def __delitem__(self, index) -> None:
        del self._list[index]

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._list))

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {m!r}" for i, m in enumerate(self._list))
        return f"{type(self).__name__}({inner}\n)" if inner else f"{type(self).__name__}()"


class Sequential(ModuleList):
    """Modules called in order, each on the previous one's output: ``Sequential(a, b)(x) == b(a(x))``."""

    def __init__(self, *modules: Module):
        if len(modules) == 1 and not isinstance(modules[0], Module):
            raise TypeError("Sequential: pass the modules as arguments, Sequential(a, b), not a "
                            f"{type(modules[0]).__name__} of them")
        super().__init__(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._list[index])
        return super().__getitem__(index)

    def forward(self, x):
        for m in self._list:
            x = m(x)
        return x


class ModuleDict(Module):
    """A dict of modules, registered under their keys (``heads.fine.weight``) in insertion order."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        object.__setattr__(self, "_dict", {})
        if modules is not None:
            self.update(modules)

    def _members(self) -> Iterator[tuple[str, object]]:
        """A subclass's own attributes, then the items under their keys."""
        own = [(k, v) for k, v in vars(self).items() if k != "_dict"]
        return iter(own + list(self._dict.items()))

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: keys must be non-empty strings without '.', got {key!r}")
        self._dict[key] = _module(f"ModuleDict[{key!r}] = ...", module)

    def __getitem__(self, key: str) -> Module:
        try:
            return self._dict[key]
        except KeyError:
            raise KeyError(f"ModuleDict: no module {key!r} (it has {', '.join(map(repr, self._dict)) or 'none'})") \
                from None

    def __delitem__(self, key: str) -> None:
        del self._dict[key]

    def __contains__(self, key) -> bool:
        return key in self._dict

    def __len__(self) -> int:
        return len(self._dict)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._dict))

    def keys(self):
        return self._dict.keys()

    def values(self):
        return self._dict.values()

    def items(self):
        return self._dict.items()

    def pop(self, key: str) -> Module:
        module = self[key]
        del self._dict[key]
        return module

    def clear(self) -> None:
        self._dict.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({k}): {m!r}" for k, m in self._dict.items())
        return f"ModuleDict({inner}\n)" if inner else "ModuleDict()"
