"""Gradient hooks and retained gradients: functions the reverse pass calls on a tensor's gradient.

A hook on a leaf sees the leaf's whole gradient from one pass before it is added to ``.grad``; a
hook on a computed tensor sees the gradient of that tensor's node once all of it has arrived,
before it flows on to the node's inputs (PyTorch's order). A hook may return a replacement.
The tables are weak: a hook lives as long as its tensor (or node) does, and the pass looks a
node up only while some hook exists anywhere.
"""

from __future__ import annotations

import itertools
import weakref

import numpy as np

from .tensor import Tensor

# Keyed by id, each entry holding a weak reference to its key (a Tensor's ``==`` is elementwise, so
# it cannot be a dictionary key itself); an entry goes when its key is collected.
_HOOKS: dict[int, tuple] = {}  # id(node or leaf) → (weak ref, {handle id: fn})
_RETAINED: dict[int, tuple] = {}  # id(node) → (weak ref, [weak refs of the tensors to fill])
_ids = itertools.count()


def _entry(table: dict, key, make):
    """The live entry for ``key`` (made by ``make()`` when missing), dropped when ``key`` is collected."""
    entry = table.get(id(key))
    if entry is None or entry[0]() is not key:
        k = id(key)
        ref = weakref.ref(key, lambda r: table.pop(k, None) if table.get(k, (None,))[0] is r else None)
        entry = table[k] = (ref, make())
    return entry[1]


def _lookup(table: dict, key):
    entry = table.get(id(key))
    return entry[1] if entry is not None and entry[0]() is key else None


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook off again (twice is harmless)."""

    def __init__(self, key, hook_id: int):
        self._key = weakref.ref(key)
        self.id = hook_id

    def remove(self) -> None:
        key = self._key()
        fns = None if key is None else _lookup(_HOOKS, key)
        if fns is not None:
            fns.pop(self.id, None)
            if not fns:
                del _HOOKS[id(key)]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def active() -> bool:
    """True while any hook or retained gradient exists: the pass looks nodes up only then."""
    return bool(_HOOKS) or bool(_RETAINED)


def register_hook(tensor: Tensor, fn) -> RemovableHandle:
    if not callable(fn):
        raise TypeError(f"register_hook: expected a function of the gradient, got {type(fn).__name__}")
    if not tensor.requires_grad:
        raise RuntimeError("register_hook: this tensor does not require grad, so no gradient will reach the hook; "
                           "create it with requires_grad=True")
    key = tensor._node or tensor
    hook_id = next(_ids)
    _entry(_HOOKS, key, dict)[hook_id] = fn
    return RemovableHandle(key, hook_id)


def retain_grad(tensor: Tensor) -> None:
    if not tensor.requires_grad:
        raise RuntimeError("retain_grad: this tensor does not require grad, so it has no gradient to keep")
    if tensor._node is None:
        return  # a leaf keeps its gradient anyway
    refs = _entry(_RETAINED, tensor._node, list)
    if not any(r() is tensor for r in refs):
        refs.append(weakref.ref(tensor))


def wanted(key) -> bool:
    """True if ``key`` has hooks or retained tensors."""
    return _lookup(_HOOKS, key) is not None or _lookup(_RETAINED, key) is not None


def run(key, grad, graph_mode: bool, retain: bool):
    """The gradient after ``key``'s hooks; with ``retain``, also added to the retained tensors' ``.grad``."""
    fns = _lookup(_HOOKS, key)
    if fns:
        for fn in list(fns.values()):
            given = grad if isinstance(grad, Tensor) else Tensor(grad)
            new = fn(given)
            if new is None:
                continue
            data = new.data if isinstance(new, Tensor) else np.asarray(new)
            if data.shape != given.shape:
                raise RuntimeError(f"hook {getattr(fn, '__qualname__', fn)!r} returned a gradient of shape "
                                   f"{data.shape} for a tensor of shape {given.shape}; return None or the same shape")
            if graph_mode:
                grad = new if isinstance(new, Tensor) else Tensor(data)
            elif data is not given.data:
                grad = np.array(data, dtype=given.dtype)  # the pass's own copy: the hook may keep its array
    if retain:
        refs = _lookup(_RETAINED, key)
        if refs:
            for ref in refs:
                t = ref()
                if t is not None:
                    data = grad.data if isinstance(grad, Tensor) else grad
                    own = np.array(data, dtype=t.dtype, order="C")  # the tensor's own copy
                    t._grad = own if t._grad is None else t.grad + own
    return grad
