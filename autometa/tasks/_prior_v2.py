"""Prior v2: what TabICL's task prior draws that the first prior did not.

:class:`SyntheticPriorV2` keeps every generator of :class:`~autometa.tasks.SyntheticPrior` and
adds, per task:

* **tree-SCMs** (``"tree_scm"``): a random DAG whose nodes are random decision trees of their
  parents (piecewise-constant values plus noise), the structure where tree ensembles shine,
  wired causally instead of one tree over independent inputs;
* **mixtures of function families** (``"mix_scm"``): a random DAG whose every node draws its own
  function family (MLP-style activation of a linear map, a tree, a linear map, a quadratic, a
  product of two parents, a discretization);
* **classes by random thresholds** on an SCM node (random cut points instead of the drawn class
  shares' quantiles), with about half of all tasks binary (``binary_prob``);
* **a categorical share drawn per task** (``categorical_share``: no categorical columns in most
  tasks, a uniform share of them in the rest), instead of one probability per column;
* **both sides hold every class**: a task whose query rows lack a class of its support rows (or
  the reverse) is redrawn, so no class is learned without being tested.

Missing values, imbalance, label noise and irrelevant features stay as in the first prior.
:class:`InContextPriorV2` is :class:`~autometa.tasks.InContextPrior` drawing its synthetic
tasks from :class:`SyntheticPriorV2`.
"""

from __future__ import annotations

import numpy as np

from autometa.tasks._in_context_prior import InContextPrior
from autometa.tasks._random_functions import ACTIVATIONS, activation
from autometa.tasks._synthetic import SyntheticPrior

__all__ = ["InContextPriorV2", "SyntheticPriorV2"]

KINDS_V2 = ("mlp", "scm", "gmm", "tree", "tree_scm", "mix_scm")
_FAMILIES = ("activation", "tree", "linear", "quadratic", "product", "discretize")


def _standardize(h: np.ndarray) -> np.ndarray:
    return (h - h.mean()) / (h.std() + 1e-9)


def _tree_function(rng: np.random.Generator, parents: np.ndarray) -> np.ndarray:
    """A random axis-aligned tree (depth 1-4) of ``parents`` (n, k) with Gaussian leaf values."""
    n, k = parents.shape
    depth = int(rng.integers(1, 5))
    node = np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    S = np.sort(parents, axis=0)
    for level in range(depth):
        width = 2 ** (level + 1) - 1
        feats = rng.integers(0, k, size=width)
        thresholds = S[(rng.uniform(0.1, 0.9, size=width) * (n - 1)).astype(np.int64), feats]
        node = 2 * node + 1 + (parents[rows, feats[node]] > thresholds[node])
    leaf_values = rng.standard_normal(2**depth)
    return leaf_values[node - (2**depth - 1)]


def _node_function(rng: np.random.Generator, parents: np.ndarray, family: str) -> np.ndarray:
    """One SCM node's value from its parents' values under a function ``family``."""
    k = parents.shape[1]
    w = rng.standard_normal(k) / np.sqrt(k)
    lin = parents @ w
    if family == "activation":
        return activation(
            ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))], lin + rng.normal(0, 0.5)
        )
    if family == "tree":
        return _tree_function(rng, parents)
    if family == "linear":
        return lin
    if family == "quadratic":
        return lin * (parents @ (rng.standard_normal(k) / np.sqrt(k)))
    if family == "product":
        a, b = rng.integers(0, k, size=2)
        return parents[:, a] * parents[:, b]
    # "discretize": a parent cut into a few levels with random values
    cuts = np.quantile(lin, np.sort(rng.uniform(0.05, 0.95, int(rng.integers(1, 5)))))
    return rng.standard_normal(cuts.size + 1)[np.searchsorted(cuts, lin)]


class SyntheticPriorV2(SyntheticPrior):
    """:class:`~autometa.tasks.SyntheticPrior` plus the v2 generators and draws (module docstring).

    Parameters
    ----------
    binary_prob : float, default=0.5
        Probability that a task has two classes (else the class count is drawn from
        ``class_range`` as before).
    categorical_share : (float, float), default=(0.3, 0.7)
        ``(p, hi)``: with probability ``p`` a task gets categorical columns, a share of its
        columns uniform in ``(0, hi]``; otherwise none. Replaces ``categorical_prob``.
    threshold_prob : float, default=0.5
        Probability that an SCM task's classes come from random cut points of the target node
        rather than the quantiles of the drawn class shares.
    **kwargs
        Passed to :class:`~autometa.tasks.SyntheticPrior` (``kinds`` may name the v2 kinds
        ``"tree_scm"`` and ``"mix_scm"``; the default is all six).
    """

    def __init__(
        self,
        d_max: int = 32,
        c_max: int = 10,
        *,
        binary_prob: float = 0.5,
        categorical_share: tuple[float, float] = (0.3, 0.7),
        threshold_prob: float = 0.5,
        kinds: tuple[str, ...] = KINDS_V2,
        **kwargs: object,
    ) -> None:
        kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        unknown = [k for k in kinds if k not in KINDS_V2]
        if not kinds or unknown:
            raise ValueError(f"kinds must be a non-empty subset of {KINDS_V2}; got {kinds!r}.")
        v1_kinds = tuple(k for k in kinds if k in ("mlp", "scm", "gmm", "tree")) or ("mlp",)
        super().__init__(d_max, c_max, kinds=v1_kinds, **kwargs)  # type: ignore[arg-type]
        self.kinds = kinds
        for name, value in (("binary_prob", binary_prob), ("threshold_prob", threshold_prob)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {value!r}.")
        p, hi = (float(v) for v in categorical_share)
        if not (0.0 <= p <= 1.0 and 0.0 < hi <= 1.0):
            raise ValueError(
                f"categorical_share must be (probability, share in (0, 1]); got {categorical_share!r}."
            )
        self.binary_prob, self.threshold_prob = float(binary_prob), float(threshold_prob)
        self.categorical_share = (p, hi)

    def __repr__(self) -> str:
        return super().__repr__().replace("SyntheticPrior(", "SyntheticPriorV2(", 1)

    # ------------------------------------------------------------------ draws (hooks of the first prior)
    def _n_classes(self, rng: np.random.Generator, low: int, high: int) -> int:
        return 2 if rng.random() < self.binary_prob else int(rng.integers(low, high + 1))

    def _categorical_prob(self, rng: np.random.Generator) -> float:
        share_p, share_hi = self.categorical_share
        return float(rng.uniform(0.0, share_hi)) if rng.random() < share_p else 0.0

    def _split_ok(self, y_support: np.ndarray, y_query: np.ndarray) -> bool:
        classes = np.unique(y_support)
        return classes.size >= 2 and np.array_equal(
            classes, np.unique(y_query)
        )  # every class on both sides

    # ------------------------------------------------------------------ generators
    def _scm(
        self, rng: np.random.Generator, n: int, d: int, families: tuple[str, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Node values of a random DAG (``n`` rows) and the chosen feature columns; last node is the target."""
        m = d + int(rng.integers(1, d + 2))
        edge_prob = rng.uniform(0.2, 0.7)
        noise_scale = rng.uniform(0.05, 0.6)
        nodes = np.empty((n, m))
        for j in range(m):
            parents = np.flatnonzero(rng.random(j) < edge_prob)
            if parents.size == 0:
                nodes[:, j] = (
                    rng.standard_normal(n) if rng.random() < 0.7 else rng.uniform(-2, 2, n)
                )
                continue
            family = families[int(rng.integers(len(families)))]
            nodes[:, j] = _standardize(
                _node_function(rng, nodes[:, parents], family)
            ) + noise_scale * rng.standard_normal(n)
        target = int(rng.integers(max(1, m // 2), m))
        features = rng.permutation(np.setdiff1d(np.arange(m), [target]))[:d]
        return nodes[:, features], nodes[:, target]

    def _classes(
        self, rng: np.random.Generator, t: np.ndarray, c: int, p: np.ndarray
    ) -> np.ndarray:
        if rng.random() < self.threshold_prob:  # random cut points, at least a few rows per class
            cuts = np.sort(np.quantile(t, rng.uniform(0.02, 0.98, c - 1)))
        else:
            cuts = np.quantile(t, np.cumsum(p)[:-1])
        return rng.permutation(c)[np.searchsorted(cuts, t, side="right")]

    def _gen_tree_scm(self, rng: np.random.Generator, n: int, d: int, c: int, p: np.ndarray):
        X, t = self._scm(rng, n, d, ("tree",))
        return X, self._classes(rng, t, c, p)

    def _gen_mix_scm(self, rng: np.random.Generator, n: int, d: int, c: int, p: np.ndarray):
        k = int(rng.integers(1, len(_FAMILIES) + 1))
        families = tuple(rng.choice(_FAMILIES, size=k, replace=False))
        X, t = self._scm(rng, n, d, families)
        return X, self._classes(rng, t, c, p)


class InContextPriorV2(InContextPrior):
    """:class:`~autometa.tasks.InContextPrior` whose synthetic tasks come from :class:`SyntheticPriorV2`.

    Parameters
    ----------
    binary_prob, categorical_share, threshold_prob
        Passed to :class:`SyntheticPriorV2`.
    **kwargs
        Passed to :class:`~autometa.tasks.InContextPrior` (``categorical_prob`` is unused: the
        categorical share is drawn per task).
    """

    def __init__(
        self,
        d_max: int = 64,
        c_max: int = 10,
        *,
        binary_prob: float = 0.5,
        categorical_share: tuple[float, float] = (0.3, 0.7),
        threshold_prob: float = 0.5,
        **kwargs: object,
    ) -> None:
        self.v2_options = {
            "binary_prob": float(binary_prob),
            "categorical_share": tuple(float(v) for v in categorical_share),
            "threshold_prob": float(threshold_prob),
        }
        super().__init__(d_max, c_max, **kwargs)  # type: ignore[arg-type]
        self.name = "in-context-prior-v2"

    def synthetic_for(self, n_support: int) -> SyntheticPriorV2:
        """The synthetic generator of one batch shape."""
        options = {k: v for k, v in self.synthetic_options.items() if k != "categorical_prob"}
        return SyntheticPriorV2(
            self.d_max, self.c_max, n_range=(n_support, n_support), n_query=self.n_query,
            d_range=(1, self.max_features), kinds=KINDS_V2, **self.v2_options, **options,
        )  # fmt: skip
