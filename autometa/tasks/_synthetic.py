"""An endless stream of random classification tasks: the synthetic task prior.

Three generator families, each a cheap NumPy program:

``"mlp"``
    Correlated Gaussian inputs pushed through a randomly initialized MLP (1-3 hidden layers,
    random width and activation) with one output per class; labels are the arg-max of the
    outputs, with per-class biases tuned so the class shares match the drawn proportions.
``"scm"``
    A random structural causal model: a random DAG whose nodes are random nonlinear functions
    of their parents plus noise. Features are a random subset of the nodes; the label is
    another node cut at quantiles into ordered classes with the drawn proportions.
``"gmm"``
    A Gaussian mixture: one randomly placed, randomly shaped Gaussian per class (some
    features are irrelevant: equal means across classes); exact class counts.
``"tree"`` (opt-in)
    Axis-aligned structure: a random decision tree (depth 2-6, splits on random features at
    random quantiles) whose leaves carry random classes drawn with the class proportions; the
    kind of task where tree ensembles shine.

Then, for every task: label noise (a share ``noise`` of the rows gets a uniformly random
label), optional discretization of features into nominal categories (``categorical_prob``),
optional missing values (``missing_prob``), a stratified support/query split, and encoding
with :class:`~autometa.tasks.TabularEncoder` fitted on the support rows only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autometa.tasks._encoder import encode_task
from autometa.tasks._random_functions import correlated_inputs, random_mlp, random_scm
from autometa.tasks._split import support_query_split
from autometa.tasks._task import SeededPool, Task

__all__ = ["SyntheticPrior", "corrupt_features"]

_KINDS = ("mlp", "scm", "gmm", "tree")
_DEFAULT_KINDS = ("mlp", "scm", "gmm")


def corrupt_features(
    X: np.ndarray,
    rng: np.random.Generator,
    *,
    irrelevant_prob: float,
    categorical_prob: float,
    missing_prob: float,
) -> np.ndarray:
    """Make generated features look like real tables, in place; return the categorical-column mask.

    In order (the order is part of every generator's random stream): with probability
    ``irrelevant_prob`` a share in (0, 0.5] of the columns (at least one, never all) is
    replaced by noise unrelated to the target (drawn only when enabled, so the default stream
    is unchanged); each column is discretized into 2-8 nominal categories with probability
    ``categorical_prob``; with probability ``missing_prob`` cells go missing completely at
    random (rate uniform in [0, 0.2]).
    """
    n, d = X.shape
    if irrelevant_prob > 0 and d > 1 and rng.random() < irrelevant_prob:
        k = int(np.clip(round(d * rng.uniform(0.0, 0.5)), 1, d - 1))
        X[:, rng.choice(d, size=k, replace=False)] = rng.standard_normal((n, k))
    categorical = rng.random(d) < categorical_prob
    for j in np.flatnonzero(categorical):
        k = int(rng.integers(2, 9))
        cuts = np.quantile(X[:, j], np.sort(rng.uniform(0.02, 0.98, k - 1)))
        codes = np.searchsorted(cuts, X[:, j])
        X[:, j] = rng.permutation(k)[codes]
    if rng.random() < missing_prob:
        X[rng.random(X.shape) < rng.uniform(0.0, 0.2)] = np.nan
    return categorical


def _check_range(name: str, value: Sequence[float], lo: float, hi: float, integer: bool) -> tuple:
    if len(value) != 2:
        raise ValueError(f"{name} must be a (low, high) pair; got {value!r}.")
    a, b = value
    if integer and (int(a) != a or int(b) != b):
        raise ValueError(f"{name} must hold integers; got {value!r}.")
    if not lo <= a <= b <= hi:
        raise ValueError(f"{name} must satisfy {lo} <= low <= high <= {hi}; got {value!r}.")
    return (int(a), int(b)) if integer else (float(a), float(b))


def _proportions(n_classes: int, imbalance: float, rng: np.random.Generator) -> np.ndarray:
    """Class shares with largest/smallest ratio ``exp(3 * imbalance)``, in random class order."""
    ranks = np.arange(n_classes) / max(n_classes - 1, 1)
    p = np.exp(-3.0 * imbalance * ranks)
    p = p[rng.permutation(n_classes)]
    return p / p.sum()


def _argmax_with_shares(scores: np.ndarray, p: np.ndarray, iters: int = 8) -> np.ndarray:
    """Arg-max labels whose class shares approach ``p`` (per-class biases, fixed-point updates)."""
    scores = (scores - scores.mean(axis=0)) / (scores.std(axis=0) + 1e-9)
    bias = np.log(p)
    n, c = scores.shape
    for _ in range(iters):
        y = np.argmax(scores + bias, axis=1)
        freq = (np.bincount(y, minlength=c) + 0.5) / (n + 0.5 * c)
        bias = bias + 0.7 * (np.log(p) - np.log(freq))
    logits = scores + bias
    y = np.argmax(logits, axis=1)
    # top-up: every class gets at least half its share, taken from the rows closest to it
    need = np.maximum(1, np.floor(0.5 * n * p)).astype(np.int64)
    for k in np.argsort(p):
        counts = np.bincount(y, minlength=c)
        short = int(need[k] - counts[k])
        if short <= 0:
            continue
        donors = np.flatnonzero((y != k) & (counts[y] > need[y]))
        margin = logits[donors, k] - logits[donors, y[donors]]
        y[donors[np.argsort(-margin, kind="stable")[:short]]] = k
    return y


class SyntheticPrior(SeededPool):
    """Random classification tasks from random-MLP, structural-causal-model and Gaussian-mixture generators.

    Implements the :class:`~autometa.tasks.TaskPool` protocol. Every number of a task is
    drawn from a generator seeded by one integer taken from the ``rng`` passed to
    :meth:`sample`, so the stream is deterministic and each task can be regenerated from
    its ``seed`` with :meth:`task_from_seed`.

    Parameters
    ----------
    d_max : int, default=32
        Width of the encoded feature axis.
    c_max : int, default=10
        Largest number of classes.
    n_range : (int, int), default=(16, 256)
        Range (inclusive) of the number of support rows.
    d_range : (int, int), default=(2, 32)
        Range of the number of features (clipped to ``d_max``).
    class_range : (int, int), default=(2, 10)
        Range of the number of classes (clipped to ``c_max``, and to half the support rows
        so each class can have support rows).
    noise_range : (float, float), default=(0.0, 0.2)
        Range of the label-noise rate: that share of rows gets a uniformly random label.
    imbalance_range : (float, float), default=(0.0, 1.0)
        Range of the imbalance ``a`` in [0, 1]: class shares decay geometrically so the largest
        over the smallest is ``exp(3 a)`` (1 at ``a = 0``, about 20 at ``a = 1``).
    kinds : sequence of {"mlp", "scm", "gmm", "tree"}, default=("mlp", "scm", "gmm")
        Generator families, drawn uniformly (``"tree"`` is opt-in).
    categorical_prob : float, default=0.2
        Probability that a feature is discretized into 2-8 nominal categories (passed to the
        encoder as categorical).
    missing_prob : float, default=0.1
        Probability that a task gets missing values (MCAR, rate uniform in [0, 0.2]).
    irrelevant_prob : float, default=0.0
        Probability that a task gets irrelevant features: a uniform share in (0, 0.5] of its
        columns (at least one, never all) is replaced by noise independent of the label.
    query_fraction : float, default=0.5
        Share of the generated rows that go to the query set (when ``n_query`` is None).
    n_query : int, optional
        Fixed number of query rows; overrides ``query_fraction``.
    name : str, default="synthetic"
        Pool name; tasks are named ``"{name}/{kind}"``.

    Examples
    --------
    >>> import numpy as np
    >>> from autometa.tasks import SyntheticPrior
    >>> pool = SyntheticPrior(d_max=8, c_max=4, n_range=(16, 32))
    >>> task = pool.sample(np.random.default_rng(0))
    >>> task.x_support.shape[1], 2 <= task.n_classes <= 4
    (8, True)
    """

    def __init__(
        self,
        d_max: int = 32,
        c_max: int = 10,
        *,
        n_range: tuple[int, int] = (16, 256),
        d_range: tuple[int, int] = (2, 32),
        class_range: tuple[int, int] = (2, 10),
        noise_range: tuple[float, float] = (0.0, 0.2),
        imbalance_range: tuple[float, float] = (0.0, 1.0),
        kinds: Sequence[str] = _DEFAULT_KINDS,
        categorical_prob: float = 0.2,
        missing_prob: float = 0.1,
        irrelevant_prob: float = 0.0,
        query_fraction: float = 0.5,
        n_query: int | None = None,
        name: str = "synthetic",
    ) -> None:
        if int(d_max) < 1 or int(c_max) < 2:
            raise ValueError(
                f"SyntheticPrior needs d_max >= 1 and c_max >= 2; got {d_max}, {c_max}."
            )
        self.d_max, self.c_max = int(d_max), int(c_max)
        self.n_range = _check_range("n_range", n_range, 4, 10**7, True)
        self.d_range = _check_range("d_range", d_range, 1, 10**6, True)
        self.class_range = _check_range("class_range", class_range, 2, 10**6, True)
        self.noise_range = _check_range("noise_range", noise_range, 0.0, 1.0, False)
        self.imbalance_range = _check_range("imbalance_range", imbalance_range, 0.0, 1.0, False)
        kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        unknown = [k for k in kinds if k not in _KINDS]
        if not kinds or unknown:
            raise ValueError(f"kinds must be a non-empty subset of {_KINDS}; got {kinds!r}.")
        self.kinds = kinds
        for pname, value in (
            ("categorical_prob", categorical_prob),
            ("missing_prob", missing_prob),
            ("irrelevant_prob", irrelevant_prob),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{pname} must be in [0, 1]; got {value!r}.")
        if not 0.0 < query_fraction < 1.0:
            raise ValueError(f"query_fraction must be in (0, 1); got {query_fraction!r}.")
        if n_query is not None and int(n_query) < 1:
            raise ValueError(f"n_query must be a positive int or None; got {n_query!r}.")
        self.categorical_prob = float(categorical_prob)
        self.missing_prob = float(missing_prob)
        self.irrelevant_prob = float(irrelevant_prob)
        self.query_fraction = float(query_fraction)
        self.n_query = None if n_query is None else int(n_query)
        self.name = name

    def __repr__(self) -> str:
        return (
            f"SyntheticPrior(d_max={self.d_max}, c_max={self.c_max}, n_range={self.n_range}, "
            f"d_range={self.d_range}, class_range={self.class_range}, kinds={self.kinds})"
        )

    # ------------------------------------------------------------------ public
    def task_from_seed(self, seed: int) -> Task:
        """The task whose provenance ``seed`` is ``seed`` (what :meth:`sample` returns)."""
        rng = np.random.default_rng(seed)
        for _ in range(50):
            task = self._try(rng, seed)
            if task is not None:
                return task
        raise RuntimeError(  # pragma: no cover - needs 50 degenerate draws in a row
            "SyntheticPrior could not draw a task with two classes in 50 attempts; widen n_range."
        )

    def generate(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, int]:
        """Raw generator output for ``seed``: ``(X, y, categorical_mask, kind, n_support)`` (for inspection)."""
        rng = np.random.default_rng(seed)
        return self._draw(rng)

    # ------------------------------------------------------------------ internals
    def _draw(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, int]:
        n_support = int(rng.integers(self.n_range[0], self.n_range[1] + 1))
        if self.n_query is not None:
            n_query = self.n_query
        else:
            n_query = max(
                1, int(round(n_support * self.query_fraction / (1.0 - self.query_fraction)))
            )
        n = n_support + n_query
        d_hi = min(self.d_range[1], self.d_max)
        d_lo = min(self.d_range[0], d_hi)
        d = int(rng.integers(d_lo, d_hi + 1))
        c_hi = max(2, min(self.class_range[1], self.c_max, n_support // 2))
        c_lo = min(self.class_range[0], c_hi)
        c = self._n_classes(rng, c_lo, c_hi)
        noise = float(rng.uniform(*self.noise_range))
        imbalance = float(rng.uniform(*self.imbalance_range))
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        p = _proportions(c, imbalance, rng)
        X, y = getattr(self, f"_gen_{kind}")(rng, n, d, c, p)
        if noise > 0:
            flip = rng.random(n) < noise
            y = np.where(flip, rng.integers(0, c, n), y)
        categorical = corrupt_features(
            X, rng, irrelevant_prob=self.irrelevant_prob, categorical_prob=self._categorical_prob(rng),
            missing_prob=self.missing_prob,
        )  # fmt: skip
        return X, y, categorical, kind, n_support

    # hooks a derived prior overrides (the defaults draw nothing extra, so the stream is unchanged)
    def _n_classes(self, rng: np.random.Generator, low: int, high: int) -> int:
        """The task's number of classes in ``[low, high]``."""
        return int(rng.integers(low, high + 1))

    def _categorical_prob(self, rng: np.random.Generator) -> float:
        """The probability that one column of this task is made categorical."""
        return self.categorical_prob

    def _split_ok(self, y_support: np.ndarray, y_query: np.ndarray) -> bool:
        """Whether a support/query split is kept (at least two classes in the support rows)."""
        return np.unique(y_support).size >= 2

    def _try(self, rng: np.random.Generator, seed: int) -> Task | None:
        X, y, categorical, kind, n_support = self._draw(rng)
        present = np.unique(y)
        if present.size < 2:
            return None
        support, query = support_query_split(y, n_support, rng)
        if query.size == 0 or not self._split_ok(y[support], y[query]):
            return None
        # relabel to 0..k-1 in the order of a random permutation (classes absent from support vanish)
        return encode_task(
            X[support],
            y[support],
            X[query],
            y[query],
            d_max=self.d_max,
            c_max=self.c_max,
            categorical_features=categorical,
            class_permutation=rng.permutation(np.unique(y[support]).size),
            name=f"{self.name}/{kind}",
            seed=seed,
        )

    @staticmethod
    def _inputs(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
        return correlated_inputs(rng, n, d)

    def _gen_mlp(self, rng: np.random.Generator, n: int, d: int, c: int, p: np.ndarray):
        X = self._inputs(rng, n, d)
        scores = random_mlp(rng, X, c, relevant_share=(0.4, 1.0), hidden_noise=True)
        return X, _argmax_with_shares(scores, p)

    def _gen_scm(self, rng: np.random.Generator, n: int, d: int, c: int, p: np.ndarray):
        X, t = random_scm(rng, n, d, target_after=d // 2)
        cuts = np.quantile(t, np.cumsum(p)[:-1])
        y = np.searchsorted(cuts, t, side="right")
        y = rng.permutation(c)[y]
        return X, y

    def _gen_gmm(self, rng: np.random.Generator, n: int, d: int, c: int, p: np.ndarray):
        counts = rng.multinomial(n - c, p) + 1
        y = rng.permutation(np.repeat(np.arange(c), counts))
        sep = rng.uniform(0.3, 2.5)
        relevant = rng.random(d) < rng.uniform(0.3, 1.0)
        relevant[int(rng.integers(d))] = True
        means = rng.standard_normal((c, d)) * sep * relevant
        scales = rng.uniform(0.5, 1.5, (c, d))
        rot = rng.standard_normal((d, d)) * rng.uniform(0.0, 1.0) / np.sqrt(d) + np.eye(d)
        X = (means[y] + rng.standard_normal((n, d)) * scales[y]) @ rot
        return X, y

    def _gen_tree(self, rng: np.random.Generator, n: int, d: int, c: int, p: np.ndarray):
        X = self._inputs(rng, n, d)
        depth = int(rng.integers(2, 7))
        n_leaves = 2**depth
        # complete binary tree in array layout: node i has children 2i+1, 2i+2
        S = np.sort(X, axis=0)
        node = np.zeros(n, dtype=np.int64)
        rows = np.arange(n)
        for level in range(depth):
            width = 2 ** (level + 1) - 1  # nodes 0 .. width-1 cover this level and the ones above
            feats = rng.integers(0, d, size=width)
            ranks = (rng.uniform(0.2, 0.8, size=width) * (n - 1)).astype(np.int64)
            thresholds = S[ranks, feats]
            node = 2 * node + 1 + (X[rows, feats[node]] > thresholds[node])
        leaf = node - (n_leaves - 1)
        leaf_class = rng.choice(c, size=n_leaves, p=p)
        leaf_class[rng.permutation(n_leaves)[: min(c, n_leaves)]] = np.arange(min(c, n_leaves))
        return X, leaf_class[leaf]
