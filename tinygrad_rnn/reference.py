"""The tutorial's hand-written RNN: gate objects, one layer per time step, BPTT derived by hand.

This is the baseline that ``RNNLM`` is compared with, kept faithful on purpose: inputs are
dense one-hot vectors, every time step gets its own layer object, and each layer's backward
re-runs its forward before differentiating, exactly as the tutorial's code did. It uses numpy
only — nothing here touches the tape.

Cost model, for a sentence of T words, vocabulary V, hidden size H, truncation k:
forward is T steps of an (H, V) @ one-hot product, an (H, H) product and a (V, H) product,
so O(T·V·H); BPTT runs, for every t, up to k+1 layer backwards, each recomputing that layer's
forward and forming dense (H, V) outer products for dU and (V, H) for dV, so
O(T·(k+1)·V·H) time and a fresh V×H temporary per step. The tape version does the same
arithmetic with an index lookup for U, one (T, H) @ (H, V) product for all outputs, and the
embedding gradient as a scatter into T columns.
"""

from __future__ import annotations

import numpy as np


class MultiplyGate:
    """z = W x; dW = dz xᵀ, dx = Wᵀ dz."""

    def forward(self, W, x):
        return np.dot(W, x)

    def backward(self, W, x, dz):
        dW = np.outer(dz, x)
        dx = np.dot(np.transpose(W), dz)
        return dW, dx


class AddGate:
    """z = x1 + x2; both inputs receive dz."""

    def forward(self, x1, x2):
        return x1 + x2

    def backward(self, x1, x2, dz):
        return dz * np.ones_like(x1), dz * np.ones_like(x2)


class Sigmoid:
    """s = 1 / (1 + e^-x); backward recomputes s: ds/dx = s (1 - s)."""

    def forward(self, x):
        return 1.0 / (1.0 + np.exp(-x))

    def backward(self, x, top_diff):
        output = self.forward(x)
        return (1.0 - output) * output * top_diff


class Tanh:
    """s = tanh(x); backward recomputes s: ds/dx = 1 - s²."""

    def forward(self, x):
        return np.tanh(x)

    def backward(self, x, top_diff):
        output = self.forward(x)
        return (1.0 - np.square(output)) * top_diff


class Softmax:
    """The output layer: probabilities, the loss -log p[y], and its gradient p - onehot(y)."""

    def predict(self, x):
        exp_scores = np.exp(x - np.max(x))
        return exp_scores / np.sum(exp_scores)

    def loss(self, x, y):
        probs = self.predict(x)
        return -np.log(probs[y])

    def diff(self, x, y):
        probs = self.predict(x)
        probs[y] -= 1.0
        return probs


class RNNLayer:
    """One time step: s = tanh(U x + W s_prev), output scores V s. Keeps its intermediate values."""

    def forward(self, x, prev_s, U, W, V):
        self.mulu = MultiplyGate().forward(U, x)
        self.mulw = MultiplyGate().forward(W, prev_s)
        self.add = AddGate().forward(self.mulw, self.mulu)
        self.s = Tanh().forward(self.add)
        self.mulv = MultiplyGate().forward(V, self.s)

    def backward(self, x, prev_s, U, W, V, diff_s, dmulv):
        """Gradients of this step, given the gradient reaching its state (diff_s) and its scores (dmulv)."""
        self.forward(x, prev_s, U, W, V)
        dV, dsv = MultiplyGate().backward(V, self.s, dmulv)
        ds = dsv + diff_s
        dadd = Tanh().backward(self.add, ds)
        dmulw, dmulu = AddGate().backward(self.mulw, self.mulu, dadd)
        dW, dprev_s = MultiplyGate().backward(W, prev_s, dmulw)
        dU, dx = MultiplyGate().backward(U, x, dmulu)
        return dprev_s, dU, dW, dV


class GateRNN:
    """The tutorial's model and training loop; U (hidden, word), W (hidden, hidden), V (word, hidden)."""

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, seed=None):
        self.word_dim = word_dim
        self.hidden_dim = hidden_dim
        self.bptt_truncate = bptt_truncate
        rng = np.random.default_rng(seed)
        self.U = rng.uniform(-np.sqrt(1.0 / word_dim), np.sqrt(1.0 / word_dim), (hidden_dim, word_dim))
        self.W = rng.uniform(-np.sqrt(1.0 / hidden_dim), np.sqrt(1.0 / hidden_dim), (hidden_dim, hidden_dim))
        self.V = rng.uniform(-np.sqrt(1.0 / hidden_dim), np.sqrt(1.0 / hidden_dim), (word_dim, hidden_dim))

    def one_hot(self, word):
        x = np.zeros(self.word_dim)
        x[word] = 1
        return x

    def forward_propagation(self, x):
        """One layer object per word, each run from the state the previous one left."""
        layers = []
        prev_s = np.zeros(self.hidden_dim)
        for t in range(len(x)):
            layer = RNNLayer()
            layer.forward(self.one_hot(x[t]), prev_s, self.U, self.W, self.V)
            prev_s = layer.s
            layers.append(layer)
        return layers

    def predict(self, x):
        output = Softmax()
        return [np.argmax(output.predict(layer.mulv)) for layer in self.forward_propagation(x)]

    def calculate_loss(self, x, y):
        """Mean cross-entropy per word of one sentence."""
        assert len(x) == len(y)
        output = Softmax()
        layers = self.forward_propagation(x)
        loss = 0.0
        for i, layer in enumerate(layers):
            loss += output.loss(layer.mulv, y[i])
        return loss / float(len(y))

    def calculate_total_loss(self, X, Y):
        """Mean over sentences of calculate_loss."""
        loss = 0.0
        for i in range(len(Y)):
            loss += self.calculate_loss(X[i], Y[i])
        return loss / float(len(Y))

    def bptt(self, x, y):
        """Gradients of the summed loss, back through at most bptt_truncate earlier steps."""
        assert len(x) == len(y)
        output = Softmax()
        layers = self.forward_propagation(x)
        dU = np.zeros(self.U.shape)
        dV = np.zeros(self.V.shape)
        dW = np.zeros(self.W.shape)
        T = len(layers)
        prev_s_t = np.zeros(self.hidden_dim)
        diff_s = np.zeros(self.hidden_dim)
        for t in range(0, T):
            dmulv = output.diff(layers[t].mulv, y[t])
            dprev_s, dU_t, dW_t, dV_t = layers[t].backward(
                self.one_hot(x[t]), prev_s_t, self.U, self.W, self.V, diff_s, dmulv)
            prev_s_t = layers[t].s
            dmulv = np.zeros(self.word_dim)
            for i in range(t - 1, max(-1, t - self.bptt_truncate - 1), -1):
                prev_s_i = np.zeros(self.hidden_dim) if i == 0 else layers[i - 1].s
                dprev_s, dU_i, dW_i, dV_i = layers[i].backward(
                    self.one_hot(x[i]), prev_s_i, self.U, self.W, self.V, dprev_s, dmulv)
                dU_t += dU_i
                dW_t += dW_i
            dV += dV_t
            dU += dU_t
            dW += dW_t
        return dU, dW, dV

    def state_gradients(self, x, y):
        """(T, T) norms ‖∂E_t/∂s_k‖ of what bptt sends back from step t's loss to the state of step k
        (k ≤ t, at most bptt_truncate steps back; 0 elsewhere): the gradient's flow through time."""
        assert len(x) == len(y)
        output = Softmax()
        layers = self.forward_propagation(x)
        T = len(layers)
        norms = np.zeros((T, T))
        prev_s_t = np.zeros(self.hidden_dim)
        for t in range(0, T):
            dmulv = output.diff(layers[t].mulv, y[t])
            _, ds_t = MultiplyGate().backward(self.V, layers[t].s, dmulv)
            norms[t, t] = np.linalg.norm(ds_t)
            dprev_s, _, _, _ = layers[t].backward(
                self.one_hot(x[t]), prev_s_t, self.U, self.W, self.V, np.zeros(self.hidden_dim), dmulv)
            prev_s_t = layers[t].s
            dmulv = np.zeros(self.word_dim)
            for i in range(t - 1, max(-1, t - self.bptt_truncate - 1), -1):
                norms[t, i] = np.linalg.norm(dprev_s)
                prev_s_i = np.zeros(self.hidden_dim) if i == 0 else layers[i - 1].s
                dprev_s, _, _, _ = layers[i].backward(
                    self.one_hot(x[i]), prev_s_i, self.U, self.W, self.V, dprev_s, dmulv)
        return norms

    def sgd_step(self, x, y, learning_rate):
        dU, dW, dV = self.bptt(x, y)
        self.U -= learning_rate * dU
        self.V -= learning_rate * dV
        self.W -= learning_rate * dW

    def train(self, X, Y, learning_rate=0.005, nepoch=100, evaluate_loss_after=5, log=print):
        """Per-sentence SGD; every evaluate_loss_after epochs the loss is evaluated, lr halved if it rose."""
        num_examples_seen = 0
        losses = []
        for epoch in range(nepoch):
            if epoch % evaluate_loss_after == 0:
                loss = self.calculate_total_loss(X, Y)
                losses.append((num_examples_seen, loss))
                log(f"Loss after num_examples_seen={num_examples_seen} epoch={epoch}: {loss:f}")
                if len(losses) > 1 and losses[-1][1] > losses[-2][1]:
                    learning_rate = learning_rate * 0.5
                    log(f"Setting learning rate to {learning_rate:f}")
            for i in range(len(Y)):
                self.sgd_step(X[i], Y[i], learning_rate)
                num_examples_seen += 1
        return losses
