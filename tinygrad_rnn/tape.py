"""The reverse pass: ordering, accumulation, ownership and freeing, iterative so no graph is too deep."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from . import anomaly, grad_mode, gradients, hooks
from .function import Node
from .gradients import Deferred
from .shapes import ShapeError, unbroadcast
from .tensor import CHANGES, Tensor


def backward(tensor: Tensor, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    When it returns, every gradient it wrote is the leaf's own: no other leaf, no input, no saved
    array and nothing the user holds shares its memory (``gradients.settle``).
    """
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no graph; "
            "create its inputs with requires_grad=True"
        )
    seed = _seed(tensor, grad, create_graph, "backward")
    leaves, _, foreign = _run([tensor], [seed], retain_graph or create_graph, create_graph, (), retain_grads=True)
    results = [g.data if isinstance(g, Tensor) else g for _, g, _ in leaves.values()]
    copy_all = create_graph or not grad_mode.fast  # a recorded gradient's array is saved by its graph
    for (leaf, _, _), g in zip(leaves.values(), gradients.settle(results, foreign, copy_all)):
        gradients.accumulate(leaf, g)


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
    return _gradients_of(outputs, seeds, inputs, retain_graph or create_graph, create_graph, allow_unused,
                         retain_grads=True)


def _gradients_of(outputs, seeds, inputs, retain: bool, graph_mode: bool, allow_unused: bool,
                  stop_at_inputs: bool = False, retain_grads: bool = False) -> tuple[Tensor | None, ...]:
    targets = {t._node for t in inputs if t._node is not None}
    leaves, captured, _ = _run(outputs, seeds, retain, graph_mode, targets, stop_at_inputs, retain_grads)
    result = []
    for i, t in enumerate(inputs):
        g = captured.get(t._node) if t._node is not None else leaves.get(id(t), (None, None))[1]
        g = gradients.densify(g)
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
    """The starting cotangent: ones for a one-element output, the given array (checked) otherwise."""
    if grad is None:
        if tensor.size != 1:
            raise RuntimeError(
                f"{op}: output of shape {tensor.shape} has {tensor.size} elements; a gradient can be implied "
                "only for one element, so pass grad= an array of that shape"
            )
        seed = np.ones(tensor.shape, dtype=tensor.dtype)
    else:
        data = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
        if data.shape != tensor.shape:
            raise ValueError(f"{op}: grad of shape {data.shape} does not match output of shape {tensor.shape}")
        if create_graph and isinstance(grad, Tensor):
            return grad
        seed = np.array(data, dtype=tensor.dtype)  # a copy: the pass may hand it to a leaf
    return Tensor(seed) if create_graph else seed


def _run(roots, seeds, retain: bool, graph_mode: bool, targets, stop_at_targets: bool = False,
         retain_grads: bool = False):
    """Process nodes newest first (a valid reverse topological order for a dynamic tape).

    Returns the leaves' gradients ({id: [leaf, gradient, owned]}), the gradients of ``targets``
    (nodes) and the ids of arrays that user-defined VJPs returned. An entry's ``owned`` flag says
    the pass made its value itself (by summing), so later contributions may be added in place.
    Hooks run on a node's gradient once all of it has arrived, and on a leaf's at the end; with
    ``retain_grads`` (``backward`` and ``grad``, not the composites inside a VJP) tensors that asked for
    it get their ``.grad``, as in PyTorch.
    """
    pending: dict[Node, list] = {}
    leaves: dict[int, list] = {}
    captured: dict[Node, object] = {}
    foreign: set[int] = set()
    heap: list = []
    push, pop = heapq.heappush, heapq.heappop
    fast = grad_mode.fast
    hooked = hooks.active()
    watched = anomaly.active
    node = None

    def deliver(edge, g, source) -> None:
        """Add gradient ``g`` (from node ``source``, None for a seed) to what ``edge`` has received."""
        leaf = type(edge) is not Node
        if leaf:
            shape, dtype = edge.data.shape, edge.data.dtype
        else:
            shape, dtype = edge.shape, edge.dtype
        if not graph_mode and isinstance(g, Tensor):
            g = g.data
        if g.shape != shape:
            try:
                g = unbroadcast(g, shape)
            except ShapeError as e:
                op = "backward" if source is None else source.name
                raise ShapeError(f"{op} backward returned a gradient of the wrong shape: {e}") from None
        if g.dtype is not dtype and g.dtype != dtype:
            g = g.astype(dtype)
        entry = leaves.get(id(edge)) if leaf else pending.get(edge)
        if entry is None:
            if leaf:
                leaves[id(edge)] = [edge, g, False]
            else:
                pending[edge] = [g, False]
                push(heap, (-edge.seq, edge))
        elif graph_mode:
            entry[-2] = entry[-2] + g
        elif entry[-1]:
            entry[-2] = gradients.add_(entry[-2], g)
        else:
            entry[-2], entry[-1] = gradients.add(entry[-2], g), True

    with grad_mode.set_grad_enabled(graph_mode):
        try:
            for root, seed in zip(roots, seeds):
                deliver(root._node or root, seed, None)
            while heap:
                node = pop(heap)[1]
                g = pending.pop(node)[0]
                if hooked and hooks.wanted(node):
                    g = hooks.run(node, gradients.densify(g), graph_mode, retain_grads)
                if node in targets:
                    captured[node] = g
                    if stop_at_targets:
                        continue
                edges = node.edges
                if edges is None:
                    raise RuntimeError(
                        f"backward through {node.name} a second time: its graph was already freed; "
                        "pass retain_graph=True to the first backward"
                    )
                versions = node.versions
                if versions and versions[0] != CHANGES[0]:  # something changed in place since it was recorded
                    node.check_versions()
                fn = node.fn
                if graph_mode:
                    grads = _recorded_vjp(node, g)
                else:
                    if type(g) is not np.ndarray and isinstance(g, Deferred) and not fn.accepts_lazy_grad:
                        g = g.dense()
                    if fn.plain:
                        grads = fn.backward(g, *node.saved)
                    else:
                        saved = node.saved
                        if fn.consumes:  # the VJP writes to them: copies unless they are its own, used once
                            keep = not retain and fast
                            saved = tuple(np.array(s) if k in fn.consumes and not (keep and node.sources[k] is None)
                                          else s for k, s in enumerate(saved))
                        grads = fn.backward(g, *saved)
                        if fn.foreign:
                            foreign |= gradients.roots(gi for gi in (grads if type(grads) is tuple else (grads,))
                                                       if gi is not None)
                if type(grads) is not tuple:
                    grads = (grads,)
                if len(grads) != len(edges):
                    raise RuntimeError(f"{node.name} backward returned {len(grads)} gradients for {len(edges)} inputs")
                if watched:
                    anomaly.check_backward(node, g, grads)
                for edge, gi in zip(edges, grads):
                    if edge is None or gi is None:
                        continue
                    if type(gi) is np.ndarray and type(edge) is Node and gi.shape == edge.shape \
                            and gi.dtype is edge.dtype and edge not in pending:
                        pending[edge] = [gi, False]  # deliver's commonest case inlined: a first arrival that fits
                        push(heap, (-edge.seq, edge))
                    else:
                        deliver(edge, gi, node)
                if not retain:
                    node.edges = node.saved = None  # memory falls during the pass
            node = None  # a leaf's hook is no op's backward
            if hooked:
                for entry in leaves.values():
                    if hooks.wanted(entry[0]):
                        entry[1] = hooks.run(entry[0], gradients.densify(entry[1]), graph_mode, False)
        except Exception as e:
            if watched:  # the forward's traceback of the op whose backward failed
                anomaly.annotate(e, node)
            raise
    return leaves, captured, foreign


def _recorded_vjp(node: Node, g: Tensor):
    """A VJP under create_graph: on graph-connected Tensors, or through the op's composite form."""
    fn = node.fn
    if not fn.once_differentiable:
        return fn.backward(g, *node.saved_tensors())
    # Rebuild the op from other primitives on stand-ins for its inputs (identity reshapes, so each
    # input's partial derivative is taken alone) and differentiate that, recorded.
    inputs = node.input_tensors()
    wrt = [i for i, e in enumerate(node.edges) if e is not None]
    missing = [i for i in wrt if inputs[i] is None]
    if missing:
        raise RuntimeError(f"{node.name} cannot be differentiated twice: its composite form needs input "
                           f"{missing[0]}, which its forward did not save; save the inputs it needs "
                           "(save_for_backward) to support create_graph=True")
    stand_ins = list(inputs)
    for i in wrt:
        stand_ins[i] = inputs[i].reshape(inputs[i].shape)
    out = fn.composite(*stand_ins)
    parts = _gradients_of([out], [g], [stand_ins[i] for i in wrt], retain=True, graph_mode=True,
                          allow_unused=True, stop_at_inputs=True)
    grads = [None] * len(node.edges)
    for i, gi in zip(wrt, parts):
        grads[i] = gi
    return tuple(grads)
