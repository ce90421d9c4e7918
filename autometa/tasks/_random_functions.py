"""The random functions both task priors draw from: activations, correlated inputs, MLPs and SCMs.

One copy of the task math that the classification prior (:mod:`autometa.tasks._synthetic`)
and the regression prior (:mod:`autometa.tasks._regression_prior`) share. Each function takes
the task's NumPy generator and draws from it in a fixed order, so a seed gives the same task
whichever prior calls it; the priors differ only in the options they pass (how many inputs
are relevant, hidden-layer noise, which node of the causal graph is the target) and in what
they make of the outputs (classes by arg-max or quantile cuts, or a regression target).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "activation",
    "correlated_inputs",
    "random_mlp",
    "random_scm",
    "standardize",
]

#: the activations random generators draw from
ACTIVATIONS = ("tanh", "relu", "sin", "abs", "identity", "square")


def activation(name: str, h: np.ndarray) -> np.ndarray:
    """Apply one of :data:`ACTIVATIONS` by name."""
    if name == "tanh":
        return np.tanh(h)
    if name == "relu":
        return np.maximum(h, 0.0)
    if name == "sin":
        return np.sin(h)
    if name == "abs":
        return np.abs(h)
    if name == "square":
        return h * h / 2.0
    return h  # "identity"


def _random_activation_name(rng: np.random.Generator) -> str:
    return ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))]


def standardize(t: np.ndarray) -> np.ndarray:
    """``t`` centred and scaled per column (``1e-9`` keeps a constant column finite)."""
    return (t - t.mean(axis=0)) / (t.std(axis=0) + 1e-9)


def correlated_inputs(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """``n`` rows of ``d`` correlated Gaussian inputs (a random mixing of independent normals)."""
    z = rng.standard_normal((n, d))
    mix = rng.standard_normal((d, d)) * rng.uniform(0.0, 1.0) / np.sqrt(d) + np.eye(d)
    return z @ mix


def random_mlp(
    rng: np.random.Generator,
    X: np.ndarray,
    n_out: int | None = None,
    *,
    relevant_share: tuple[float, float] = (0.3, 1.0),
    hidden_noise: bool = False,
) -> np.ndarray:
    """Outputs of a randomly initialized MLP on ``X``, mixed with a random linear map of it.

    The inputs are standardized and a random share of them (drawn from ``relevant_share``, at
    least one) is kept; 1-2 hidden layers of random width (8-64) and activation follow (with
    ``hidden_noise``, Gaussian noise of a random scale up to 0.1 after each). The result is a
    random convex mix of the standardized network output and the standardized linear map.

    Returns
    -------
    ndarray of shape (n,) when ``n_out`` is None, else (n, n_out)
    """
    d = X.shape[1]
    shape = (d,) if n_out is None else (d, int(n_out))
    h = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-9)
    relevant = rng.random(d) < rng.uniform(*relevant_share)
    relevant[int(rng.integers(d))] = True
    h = h * relevant
    linear = h @ rng.standard_normal(shape)
    noise = rng.uniform(0.0, 0.1) if hidden_noise else 0.0
    for _ in range(int(rng.integers(1, 3))):
        width = int(rng.integers(8, 65))
        w = rng.standard_normal((h.shape[1], width)) * rng.uniform(0.5, 2.0) / np.sqrt(h.shape[1])
        act = _random_activation_name(rng)  # drawn before the layer's bias
        h = activation(act, h @ w + rng.normal(0, 0.5, width))
        if hidden_noise:
            h = h + rng.normal(0.0, noise, h.shape)
    out = standardize(h @ rng.standard_normal((h.shape[1], *shape[1:])))
    mix = rng.uniform(0.0, 1.0)
    return mix * standardize(linear) + (1.0 - mix) * out


def random_scm(
    rng: np.random.Generator, n: int, d: int, *, target_after: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sample a random structural causal model: ``(features [n, d], target [n])``.

    A random DAG of ``d + 1`` to ``2d + 1`` nodes (edge probability 0.2-0.7): a root node is
    Gaussian or uniform noise, every other node a random activation of a random linear map of
    its parents, standardized, plus noise of one random scale. The target is a node with
    parents (with ``target_after=k``: a node after the first ``k``); the features are up to
    ``d // 2`` nodes of its Markov blanket (parents and children) and other nodes at random.
    """
    m = d + int(rng.integers(1, d + 2))
    edge_prob = rng.uniform(0.2, 0.7)
    nodes = np.empty((n, m))
    adjacency = np.zeros((m, m), dtype=bool)
    noise_scale = rng.uniform(0.05, 0.6)
    for j in range(m):
        parents = np.flatnonzero(rng.random(j) < edge_prob)
        adjacency[parents, j] = True
        if parents.size == 0:
            nodes[:, j] = rng.standard_normal(n) if rng.random() < 0.7 else rng.uniform(-2, 2, n)
            continue
        w = rng.standard_normal(parents.size) / np.sqrt(parents.size)
        act = _random_activation_name(rng)
        h = activation(act, nodes[:, parents] @ w + rng.normal(0, 0.5))
        nodes[:, j] = standardize(h) + noise_scale * rng.standard_normal(n)
    if target_after is None:
        candidates = [j for j in range(1, m) if adjacency[:, j].any()]
    else:
        candidates = [j for j in range(1, m) if j > target_after]
    target = int(rng.choice(candidates)) if candidates else m - 1
    blanket = np.flatnonzero(adjacency[:, target] | adjacency[target, :])
    near = rng.permutation(blanket)[: max(1, d // 2)]
    others = rng.permutation(np.setdiff1d(np.arange(m), np.concatenate([near, [target]])))
    features = rng.permutation(np.concatenate([near, others])[:d])
    return nodes[:, features], nodes[:, target]
