"""The reverse pass: ordering, accumulation and freeing, iterative so no graph is too deep."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from . import grad_mode
from .function import Function
from .shapes import ShapeError, unbroadcast
from .sparse import LazyGrad, densify
from .tensor import Tensor


def backward(tensor: Tensor, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no graph; "
            "create its inputs with requires_grad=True"
        )
    seed = _seed(tensor, grad, create_graph, "backward")
    retain = retain_graph or create_graph
    leaves, _ = _run([tensor], [seed], retain, create_graph, set())
    handed: set[int] = set()
    for leaf, g in leaves.values():
        g = g.data if isinstance(g, Tensor) else g
        if isinstance(g, LazyGrad):
            leaf.accumulate_lazy(g)
        elif leaf.grad is not None:
            leaf.grad += g
        elif retain or id(g) in handed or not _owned(g, leaf.dtype):
            leaf.grad = np.array(g, dtype=leaf.dtype, order="C")
        else:  # a fresh array that no one else holds: it becomes .grad without a copy
            leaf.grad = g
        handed.add(id(g))


def _owned(g, dtype) -> bool:
    """True for an array the reverse pass made and nothing else references: contiguous, own memory."""
    return (type(g) is np.ndarray and g.base is None and g.dtype == dtype
            and g.flags.c_contiguous and g.flags.writeable)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs=None,
    retain_graph: bool = False,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs`` as Tensors, leaving ``.grad`` alone.

    With ``create_graph=True`` the returned Tensors carry a graph and can be differentiated again.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad; it does not depend on any input")
    seeds = [_seed(t, g, create_graph, "grad") for t, g in zip(outputs, grad_outputs)]
    targets = {t._ctx for t in inputs if t._ctx is not None}
    leaves, captured = _run(outputs, seeds, retain_graph or create_graph, create_graph, targets)
    result = []
    for i, t in enumerate(inputs):
        g = densify(captured.get(t._ctx) if t._ctx is not None else leaves.get(id(t), (None, None))[1])
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} of shape {t.shape} is not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
        elif isinstance(g, Tensor):
            result.append(g)
        else:
            result.append(Tensor(np.array(g, dtype=t.dtype, order="C")))
    return tuple(result)


def _seed(tensor: Tensor, grad, create_graph: bool, op: str):
    """The starting cotangent: one for a scalar, the given array (checked) otherwise."""
    if grad is None:
        if tensor.size != 1 or tensor.ndim != 0:
            raise RuntimeError(
                f"{op}: output of shape {tensor.shape} is not a scalar; pass grad= an array of that shape"
            )
        seed = np.ones((), dtype=tensor.dtype)
    else:
        data = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
        if data.shape != tensor.shape:
            raise ValueError(f"{op}: grad of shape {data.shape} does not match output of shape {tensor.shape}")
        if create_graph and isinstance(grad, Tensor):
            return grad
        seed = np.array(data, dtype=tensor.dtype)
    return Tensor(seed) if create_graph else seed


def _run(roots, seeds, retain: bool, graph_mode: bool, targets: set):
    """Process nodes newest first (a valid reverse topological order for a dynamic tape)."""
    pending: dict[Function, object] = {}
    leaves: dict[int, list] = {}
    captured: dict[Function, object] = {}
    heap: list = []
    push, pop = heapq.heappush, heapq.heappop

    def deliver(edge, g, op: str) -> None:
        leaf = isinstance(edge, Tensor)
        if leaf:
            shape, dtype = edge.data.shape, edge.data.dtype
        else:
            shape, dtype = edge.out_shape, edge.out_dtype
        if not graph_mode and isinstance(g, Tensor):
            g = g.data
        if g.shape != shape:
            try:
                g = unbroadcast(g, shape)
            except ShapeError as e:
                raise ShapeError(f"{op} backward returned a gradient of the wrong shape: {e}") from None
        if g.dtype != dtype:
            g = g.astype(dtype)
        if leaf:
            slot = leaves.get(id(edge))
            if slot is None:
                leaves[id(edge)] = [edge, g]
            else:
                slot[1] = _accumulate(slot[1], g)
        elif edge in pending:
            pending[edge] = _accumulate(pending[edge], g)
        else:
            pending[edge] = g
            push(heap, (-edge.seq, edge))

    with grad_mode._SetGrad(graph_mode):
        for root, seed in zip(roots, seeds):
            deliver(root._ctx or root, seed, "backward")
        while heap:
            node = pop(heap)[1]
            g = pending.pop(node)
            if targets and node in targets:
                captured[node] = g
            edges = node.edges
            if edges is None:
                raise RuntimeError(
                    f"backward through {node.name} a second time: its graph was already freed; "
                    "pass retain_graph=True to the first backward"
                )
            if isinstance(g, LazyGrad) and not node.accepts_lazy_grad:
                g = g.dense()
            node.last_use = not retain
            grads = _call_vjp(node, g) if graph_mode else node.backward(g)
            if type(grads) is not tuple:
                grads = (grads,)
            if len(grads) != len(edges):
                raise RuntimeError(f"{node.name} backward returned {len(grads)} gradients for {len(edges)} inputs")
            for edge, gi in zip(edges, grads):
                if edge is not None and gi is not None:
                    deliver(edge, gi, node.name)
            if not retain:
                node.edges = node.saved = None  # memory falls during the pass
    return leaves, captured


def _accumulate(total, g):
    """total + g; lazy gradients of one kind, built by this pass and held only by it, grow in place."""
    if type(total) is type(g) and isinstance(g, LazyGrad):
        total.parts.extend(g.parts)
        return total
    return total + g


def _call_vjp(node: Function, g):
    """Run a VJP on Tensors: its saved arrays are swapped for graph-connected Tensors meanwhile."""
    if not node.saved:
        return node.backward(g)
    arrays = node.saved
    node.saved = node.saved_tensors()
    try:
        return node.backward(g)
    finally:
        node.saved = arrays
