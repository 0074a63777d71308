"""The primitive base class: a forward on numpy arrays, its VJP beside it, and the registry."""

from __future__ import annotations

import itertools

import numpy as np

from . import grad_mode
from .shapes import ShapeError
from .tensor import Tensor

REGISTRY: dict[str, type[Function]] = {}
_sequence = itertools.count()


def register(cls: type[Function]) -> type[Function]:
    """Add a primitive to the registry that the gradient sweep and ``tinygrad-rnn gradcheck`` walk."""
    REGISTRY[cls.name] = cls
    return cls


class Function:
    """One primitive. Subclass it, write ``forward`` and ``backward``, call ``YourOp.apply(...)``.

    ``forward(ctx, *arrays, **params)`` receives the inputs as numpy arrays (Tensors are
    unwrapped; other arguments pass through unchanged) and returns one array. It keeps what the
    VJP needs with ``ctx.save_for_backward(...)`` and may keep small non-array facts (shapes,
    axes) as attributes of ``ctx``.

    ``backward(ctx, grad)`` returns one gradient per input (``None`` where
    ``ctx.needs_input_grad`` is False). It is written with operators and methods that numpy
    arrays and Tensors share, so it runs twice over: on plain arrays for a first-order pass
    (nothing is recorded, nothing is wrapped) and on Tensors under ``create_graph=True``, where
    ``ctx.saved`` holds Tensors connected to the graph and the VJP itself is recorded. Call other
    primitives inside a VJP with ``Op.dispatch(...)``, which picks the right form.

    The instance is the graph node: it holds its inputs' edges, not its output, so a finished
    graph has no reference cycles and is freed by reference counting alone.
    """

    name = "function"
    # Per-input value domains for the gradient sweep (see ``op_cases.sample``): "any", "positive",
    # "nonzero", "kink0" (away from a kink at zero), "distinct" (no ties), "clip" (away from the
    # bounds), "targets" (class ids). Only tests and the CLI read this.
    domains: tuple[str, ...] = ()
    # True if backward handles a ``sparse.LazyGrad`` itself; otherwise it is made dense first.
    accepts_lazy_grad = False
    # Set by the reverse pass before backward: True when the graph is not kept, so this is the
    # node's last backward and it may consume its saved arrays in place.
    last_use = False
    saved: tuple = ()  # what save_for_backward kept (an instance attribute once it is called)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()

    def save_for_backward(self, *arrays) -> None:
        """Keep arrays for the VJP; inputs and the output are recognised and re-linked under create_graph."""
        self.saved = arrays

    def forward(self, *args, **params):  # pragma: no cover - every primitive overrides it
        raise NotImplementedError(f"{self.name}: forward is not defined")

    def backward(self, grad):  # pragma: no cover - every differentiable primitive overrides it
        raise NotImplementedError(f"{self.name}: backward is not defined")

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
                    edges.append(a._ctx or a)
                    needs.append(True)
                    continue
            else:
                arrays.append(a)
            edges.append(None)
            needs.append(False)
        ctx = cls.__new__(cls)
        try:
            out = ctx.forward(*arrays, **params)
        except ShapeError:
            raise
        except ValueError as e:
            shapes = ", ".join(str(np.shape(a)) for a in arrays)
            raise ShapeError(f"{cls.name}: cannot apply to shapes {shapes}: {e}") from None
        if type(out) is not np.ndarray:  # numpy returns scalars for 0-d results
            raw, out = out, np.asarray(out)
            ctx.saved = tuple(out if s is raw else s for s in ctx.saved)
        if not record or not grad_mode.enabled:
            return Tensor._make(out, None)
        ctx.edges = edges
        ctx.needs_input_grad = needs
        ctx.seq = next(_sequence)
        ctx.out_shape = out.shape
        ctx.out_dtype = out.dtype
        if ctx.saved:
            ctx.saved_from = _saved_sources(ctx.saved, arrays, out)
        return Tensor._make(out, ctx)

    @classmethod
    def dispatch(cls, *args, **params):
        """Call this primitive from inside a VJP: recorded on Tensors, a bare forward on arrays."""
        if any(isinstance(a, Tensor) for a in args):
            return cls.apply(*args, **params)
        out = cls().forward(*args, **params)
        return out if type(out) is np.ndarray else np.asarray(out)

    @classmethod
    def from_output(cls, out: np.ndarray, edges: list, **attrs) -> Tensor:
        """A graph-connected Tensor for ``out`` as if this primitive had computed it from the inputs
        behind ``edges``. Lets a fused op that saved only its result be differentiated again."""
        ctx = cls.__new__(cls)
        ctx.__dict__.update(attrs)
        ctx.saved, ctx.saved_from = (out,), [-1]
        ctx.edges, ctx.needs_input_grad = list(edges), [e is not None for e in edges]
        ctx.seq, ctx.out_shape, ctx.out_dtype = next(_sequence), out.shape, out.dtype
        return Tensor._make(out, ctx)

    def saved_tensors(self) -> tuple:
        """``ctx.saved`` as graph-connected Tensors, for a VJP that is being recorded."""
        out = []
        for value, src in zip(self.saved, self.saved_from):
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
                    out.append(Tensor._make(value, edge))
        return tuple(out)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def _saved_sources(saved, arrays, out) -> list:
    """For each saved array: the index of the input it is, -1 for the output, None for a constant."""
    sources = []
    for s in saved:
        found = -1 if s is out else None
        if found is None:
            for i, a in enumerate(arrays):
                if a is s:
                    found = i
                    break
        sources.append(found)
    return sources
