"""The primitive base class and the tape's node: a forward on arrays, its VJP beside it, one record per call."""

from __future__ import annotations

import itertools

import numpy as np

from . import grad_mode
from .registry import REGISTRY, register
from .shapes import broadcast_clash
from .tensor import CHANGES, Tensor

__all__ = ["REGISTRY", "Function", "Node", "register"]

_sequence = itertools.count()
_new = object.__new__


class Node:
    """One recorded operation: what the reverse pass needs of it, and nothing else.

    ``fn`` is the primitive's instance (with the facts its forward noted), ``edges`` one entry per
    input (the input's node, the leaf tensor, or None for a constant), ``saved`` what the forward
    kept for the VJP, ``sources`` where each saved value came from (an input's index, -1 for the
    output, None for anything else), ``versions`` the count of in-place changes (``CHANGES``) at
    recording, then (counter, version then, position in saved) for each saved tensor, all in one
    flat tuple, ``seq`` the recording order. Built by ``Function.apply`` only; the
    node holds its inputs, never its output, so a finished graph has no reference cycles.
    """

    __slots__ = ("fn", "edges", "saved", "sources", "versions", "seq", "shape", "dtype", "__weakref__")
    # No __init__: ``Function.apply`` fills the slots directly (it is the hot path of every op).

    @property
    def name(self) -> str:
        return self.fn.name

    def check_versions(self) -> None:
        """Raise if a tensor this node saved was changed in place after the forward."""
        v = self.versions
        for j in range(1, len(v), 3):
            counter, version, k = v[j], v[j + 1], v[j + 2]
            if counter[0] != version:
                src = self.sources[k]
                what = "its output" if src == -1 else "an input" if src is None else f"its input {src}"
                value = self.saved[k]
                raise RuntimeError(
                    f"backward through {self.name}: {what}, a tensor of shape {np.shape(value)} "
                    f"({np.result_type(value)}) that it saved for its gradient, was changed in place after the "
                    f"forward (version {counter[0]}, saved at {version}); redo the forward after the change, "
                    "or change a copy"
                )

    def input_tensors(self) -> list:
        """Per input: the leaf, or its saved value re-linked to its node (a constant when it has none);
        None for an input whose value the forward did not save."""
        values = [None] * len(self.edges)
        for value, src in zip(self.saved, self.sources):
            if src is not None and src >= 0:
                values[src] = value
        out = []
        for edge, value in zip(self.edges, values):
            if isinstance(edge, Tensor):
                out.append(edge)
            else:  # re-linked to its node; None when the forward did not save it
                out.append(None if value is None else Tensor._make(value, edge))
        return out

    def saved_tensors(self) -> tuple:
        """``saved`` with inputs and the output as graph-connected Tensors, for a VJP that is being recorded."""
        inputs = None
        out = []
        for value, src in zip(self.saved, self.sources):
            if src is None:
                out.append(value)
            elif src == -1:
                out.append(Tensor._make(value, self))
            else:
                edge = self.edges[src]
                if edge is None:
                    out.append(value)
                elif isinstance(edge, Tensor):
                    out.append(edge)
                else:
                    inputs = inputs or {}
                    out.append(inputs.setdefault(src, Tensor._make(value, edge)))
        return tuple(out)

    def __repr__(self) -> str:
        return f"<{type(self.fn).__name__}>"


class Function:
    """One primitive. Subclass it, write ``forward`` and ``backward``, call ``YourOp.apply(...)``.

    ``forward(self, *arrays, **params)`` receives the inputs as numpy arrays (Tensors are
    unwrapped; other arguments pass through unchanged) and returns one array. It keeps what the
    VJP needs with ``self.save_for_backward(...)`` and may note small non-array facts (shapes,
    axes) as attributes of ``self``. ``self.needs_input_grad`` says which inputs want a gradient.

    ``backward(self, grad, *saved)`` is a pure function of the incoming gradient and the saved
    values: it returns one gradient per input (``None`` where ``needs_input_grad`` is False). It
    is written with operators and methods that numpy arrays and Tensors share, so it runs twice
    over: on plain arrays in a first-order pass (nothing recorded), and under ``create_graph`` on
    Tensors — the saved inputs and output re-linked to the graph — where it is itself recorded.
    Call another primitive inside a VJP with ``Op.dispatch(...)``, which picks the right form.

    The contract (docs/adding_an_op.md): ``backward`` never writes to ``grad`` or to a saved array
    (unless it lists the array's position in ``consumes``), and returns new arrays, the incoming
    gradient, or views of them — never an array it keeps elsewhere.
    """

    __slots__ = ("needs_input_grad", "saved", "__dict__")  # ops note other facts in __dict__

    name = "function"
    # Per-input value domains for the gradient sweep (see ``testing.sample``): "any", "positive",
    # "nonzero", "kink0" (away from a kink at zero), "distinct" (no ties), "clip" (away from the
    # bounds), "halfpi" (inside tan's poles), "offgrid" (away from the jumps of floor and round);
    # ``testing.DOMAINS`` says each. Only tests and the CLI read this.
    domains: tuple[str, ...] = ()
    # True if backward takes a deferred gradient (``gradients.Deferred``) as it is; otherwise the
    # tape makes it dense first.
    accepts_lazy_grad = False
    # Positions of saved arrays that backward overwrites (using them as its output's memory). The
    # tape hands it copies instead when the graph is kept, fast paths are off, or the array is an
    # input or the output.
    consumes: tuple[int, ...] = ()
    # True if backward works on arrays only. Under create_graph such an op is differentiated
    # through ``composite`` (the same function built from other primitives), or refused.
    once_differentiable = False
    # True for elementwise ops: a numpy error on their inputs is a broadcasting clash.
    broadcasting = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()
        if cls.consumes and not cls.once_differentiable:
            raise TypeError(f"{cls.__name__}: an op that overwrites its saved arrays (consumes) cannot run its "
                            "backward on Tensors; set once_differentiable = True (and define composite)")
        # Only the package's own primitives are trusted to return arrays nothing else holds.
        cls.foreign = not cls.__module__.startswith(__package__ + ".")
        cls.plain = not cls.consumes and not cls.foreign  # the tape's common case, in one lookup

    def save_for_backward(self, *values) -> None:
        """Keep values for the VJP; the inputs and the output among them are version-checked and,
        under create_graph, re-linked to the graph."""
        self.saved = values

    def forward(self, *args, **params):
        raise TypeError(f"{type(self).__name__} defines no forward()")

    def backward(self, grad, *saved):
        raise TypeError(f"{self.name} is not differentiable: {type(self).__name__} defines no backward()")

    def composite(self, *inputs):
        """This op's output rebuilt from other primitives (``inputs`` as Tensors), for create_graph."""
        raise RuntimeError(f"{self.name} cannot be differentiated twice: its backward runs on arrays only "
                           "and it has no composite form; use create_graph=False through it")

    @classmethod
    def apply(cls, *args, **params) -> Tensor:
        """Run the forward on the inputs' arrays and, when any input requires grad, record a node."""
        arrays = []
        edges = []
        needs = []
        record = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                if a.requires_grad:
                    record = True
                    edges.append(a._node or a)
                    needs.append(True)
                    continue
            else:
                arrays.append(a)
            edges.append(None)
            needs.append(False)
        if cls.broadcasting and len(arrays) > 1:  # the last two inputs are the operands (where: cond, x, y)
            x, y = arrays[-2], arrays[-1]
            tx, ty = type(x), type(y)
            if tx is ty:
                if tx is np.ndarray and x.dtype is not y.dtype:
                    arrays = _scalars_follow(arrays)
            elif not (tx is float or ty is float or tx is int or ty is int):  # Python numbers never widen
                arrays = _scalars_follow(arrays)
        fn = cls.__new__(cls)
        fn.needs_input_grad = needs
        fn.saved = ()
        try:
            out = fn.forward(*arrays, **params)
        except ValueError:
            clash = broadcast_clash(cls.name, arrays) if cls.broadcasting else None
            if clash is None:
                raise
            raise clash from None
        saved, fn.saved = fn.saved, None  # the node holds them, and frees them after backward
        if type(out) is not np.ndarray:  # numpy returns scalars for 0-d results
            raw, out = out, np.asarray(out)
            saved = tuple(out if s is raw else s for s in saved)
        counter = None if out.base is None else _shared_counter(out, args)
        if not record or not grad_mode.enabled or out.dtype.kind != "f":  # integers carry no gradient
            return Tensor._make(out, None, counter)
        node = _new(Node)
        node.fn, node.edges, node.saved, node.seq, node.shape, node.dtype = fn, edges, saved, next(_sequence), \
            out.shape, out.dtype
        if saved:
            node.sources, node.versions, counter = _provenance(saved, arrays, args, out, counter)
        else:
            node.sources = node.versions = ()
        t = _new(Tensor)  # Tensor._make, inlined: this is the hot path of every op
        t.data, t.requires_grad, t._grad, t._node, t._counter = out, True, None, node, counter
        return t

    @classmethod
    def dispatch(cls, *args, **params):
        """Call this primitive from inside a VJP: recorded on Tensors, ``on_arrays`` on plain arrays."""
        for a in args:
            if isinstance(a, Tensor):
                return cls.apply(*args, **params)
        return cls.on_arrays(*args, **params)

    @classmethod
    def on_arrays(cls, *args, **params):
        """The primitive on arrays, without a tape: its forward (an op may give a cheaper form)."""
        fn = cls.__new__(cls)
        fn.needs_input_grad = [False] * len(args)
        fn.saved = ()
        out = fn.forward(*args, **params)
        return out if type(out) is np.ndarray else np.asarray(out)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def _scalars_follow(arrays: list) -> list:
    """PyTorch's promotion rule, which numpy 2 lacks: a numpy scalar acts as a Python number (it never
    widens an array), and a 0-d float array does not widen a float array of one or more dimensions
    (``float32 * Tensor(2.0)`` and ``float32 * np.float64(2)`` stay float32)."""
    arrays = [python_number(a) for a in arrays]
    dtype = None
    scalar = False
    for a in arrays:
        if type(a) is np.ndarray:
            if not a.ndim:
                scalar = True
            elif a.dtype.kind == "f":
                dtype = a.dtype if dtype is None or dtype == a.dtype else np.promote_types(dtype, a.dtype)
    if not scalar or dtype is None:
        return arrays
    return [a.astype(dtype) if type(a) is np.ndarray and not a.ndim and a.dtype.kind == "f" and a.dtype != dtype
            else a for a in arrays]


def python_number(value):
    """A numpy float or integer scalar as the Python number it holds (which adopts an array's dtype);
    anything else unchanged. For scalar options too: ``x * (1 - np.float64(0.1))`` keeps x's dtype."""
    if isinstance(value, np.generic) and value.dtype.kind in "fiu":
        return value.item()
    return value


def _shared_counter(out: np.ndarray, args) -> list | None:
    """The version counter of the input whose memory ``out`` views: a change through one shows in both."""
    root = out.base
    for a in args:
        if isinstance(a, Tensor):
            data = a.data
            if data is root or data.base is root:
                return _counter(a)
    return None


def _counter(t: Tensor) -> list:
    """A tensor's version counter, made when first needed (most tensors are never saved or viewed)."""
    c = t._counter
    if c is None:
        c = t._counter = [0]
    return c


def _provenance(saved, arrays, args, out, out_counter):
    """For each saved value: the input it is (index), -1 for the output, None for anything else;
    flattened, (counter, version, position) for each saved tensor, to check before backward; and
    the output's counter (made here if the output is saved). Lists, not tuples: this runs per op."""
    sources = []
    versions = [CHANGES[0]]
    n = len(arrays)  # at least one: every primitive takes an input
    k = -1
    for s in saved:
        k += 1
        if s is out:
            sources.append(-1)
            if out_counter is None:
                out_counter = [0]
            versions += (out_counter, out_counter[0], k)
            continue
        if s is arrays[0]:  # the usual cases first: the first two inputs
            i = 0
        elif n > 1 and s is arrays[1]:
            i = 1
        else:
            for i in range(2, n):
                if arrays[i] is s:
                    break
            else:
                sources.append(None)
                if getattr(s, "base", None) is not None:  # a view of an input: version-checked, not re-linked
                    versions += _view_version(s.base, arrays, args, k)
                continue
        sources.append(i)
        t = args[i]
        if isinstance(t, Tensor):
            c = t._counter
            if c is None:
                c = t._counter = [0]
            versions += (c, c[0], k)
    return sources, versions if len(versions) > 1 else (), out_counter


def _view_version(root, arrays, args, k) -> tuple:
    for a, t in zip(arrays, args):
        if isinstance(t, Tensor) and (a is root or a.base is root):
            c = _counter(t)
            return (c, c[0], k)
    return ()
