"""Seeing inside the tape: the graph as Graphviz DOT, and the gradient's flow back through time."""

from .flow import gate_flow, gradient_flow, state_gradients
from .graph import GraphvizMissing, render, to_dot

__all__ = ["GraphvizMissing", "gate_flow", "gradient_flow", "render", "state_gradients", "to_dot"]
