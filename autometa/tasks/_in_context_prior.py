"""The task prior the in-context learner is meta-trained on: synthetic generators mixed with dev tables.

:class:`InContextPrior` draws tasks from

* :class:`~autometa.tasks.SyntheticPrior` with all four generator families (random MLPs,
  structural causal models, Gaussian mixtures, random decision trees), categorical features,
  missing values, class imbalance, label noise, and irrelevant noise features; and
* a :class:`~autometa.tasks.DatasetPool` of whole dev data sets (by default
  :data:`autometa.tasks.roles.IN_CONTEXT_TRAIN`; never a reserved set, never an evaluation set).

The number of support rows is log-uniform over ``n_support_range`` (as many tasks with 8-32
rows as with 128-512), and every task of one batch shares one shape (support rows, query rows,
feature budget): :meth:`sample_batch` draws the shape once, so a batch carries no padding and
an attention step wastes no compute. :class:`~autometa.meta.MetaTrainer` calls
:meth:`sample_batch` when a pool has it.

Monotone feature warping, which TabPFN's prior applies, is not drawn: the
:class:`~autometa.tasks.TabularEncoder` maps every numeric column through its empirical CDF, so
a monotone warp of a column leaves its encoding unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from autometa.tasks._pools import DatasetPool
from autometa.tasks._synthetic import SyntheticPrior
from autometa.tasks._task import Task
from autometa.tasks.roles import IN_CONTEXT_TRAIN

__all__ = ["InContextPrior"]

_KINDS = ("mlp", "scm", "gmm", "tree")


class InContextPrior:
    """Mixed synthetic + dev-table tasks, one shape per batch (see the module docstring).

    Parameters
    ----------
    d_max : int, default=64
        Width of the encoded feature axis.
    c_max : int, default=10
        Largest number of classes.
    datasets : sequence of str or None, default=None
        Dev data sets mixed in (registry names such as ``"keel/wine"``); None uses
        :data:`autometa.tasks.roles.IN_CONTEXT_TRAIN`. An empty sequence means synthetic tasks only.
    dataset_weight : float, default=0.3
        Probability that a task comes from a dev data set rather than a generator.
    n_support_range : (int, int), default=(4, 512)
        Support rows, drawn log-uniformly per batch.
    n_query : int, default=96
        Query rows per task (fewer when a data set is small).
    max_features : int, default=64
        Largest number of raw features of a synthetic task (clipped to ``d_max``).
    noise_range, imbalance_range, categorical_prob, missing_prob, irrelevant_prob
        Passed to :class:`~autometa.tasks.SyntheticPrior`.
    name : str, default="in-context-prior"

    Examples
    --------
    >>> import numpy as np
    >>> from autometa.tasks import InContextPrior
    >>> prior = InContextPrior(d_max=16, c_max=4, datasets=[], n_support_range=(8, 32))
    >>> tasks = prior.sample_batch(np.random.default_rng(0), 3)
    >>> len({t.x_support.shape[0] for t in tasks})
    1
    """

    def __init__(
        self,
        d_max: int = 64,
        c_max: int = 10,
        *,
        datasets: Sequence[str] | None = None,
        dataset_weight: float = 0.3,
        n_support_range: tuple[int, int] = (4, 512),
        n_query: int = 96,
        max_features: int = 64,
        noise_range: tuple[float, float] = (0.0, 0.2),
        imbalance_range: tuple[float, float] = (0.0, 1.0),
        categorical_prob: float = 0.2,
        missing_prob: float = 0.2,
        irrelevant_prob: float = 0.3,
        name: str = "in-context-prior",
    ) -> None:
        lo, hi = (int(v) for v in n_support_range)
        if not 2 <= lo <= hi:
            raise ValueError(
                f"n_support_range must satisfy 2 <= low <= high; got {n_support_range!r}."
            )
        if not 0.0 <= dataset_weight <= 1.0:
            raise ValueError(f"dataset_weight must be in [0, 1]; got {dataset_weight!r}.")
        if int(n_query) < 1 or int(max_features) < 1:
            raise ValueError("n_query and max_features must be positive ints.")
        self.d_max, self.c_max = int(d_max), int(c_max)
        self.n_support_range = (lo, hi)
        self.n_query = int(n_query)
        self.max_features = min(int(max_features), self.d_max)
        self.synthetic_options = {
            "noise_range": tuple(noise_range),
            "imbalance_range": tuple(imbalance_range),
            "categorical_prob": float(categorical_prob),
            "missing_prob": float(missing_prob),
            "irrelevant_prob": float(irrelevant_prob),
        }
        if datasets is None:
            datasets = self._default_datasets()
        self.datasets = list(datasets)
        self.dataset_weight = float(dataset_weight) if self.datasets else 0.0
        self._tables = self._table_pool(self.datasets) if self.datasets else None
        self.name = name
        # the shape-specific pools of the last shape (cheap to build; reused while the shape repeats)
        self._shape: tuple[int, int] | None = None
        self._pools: tuple[Any, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"InContextPrior(d_max={self.d_max}, c_max={self.c_max}, n_support_range={self.n_support_range}, "
            f"datasets={len(self.datasets)}, dataset_weight={self.dataset_weight})"
        )

    # ------------------------------------------------------------------ what a subclass changes
    def _default_datasets(self) -> tuple[str, ...]:

        return IN_CONTEXT_TRAIN

    def _table_pool(self, datasets: Sequence[str]) -> DatasetPool:
        return DatasetPool(datasets, d_max=self.d_max, c_max=self.c_max)

    def synthetic_for(self, n_support: int) -> SyntheticPrior:
        """The synthetic generator of one batch shape."""
        return SyntheticPrior(
            self.d_max,
            self.c_max,
            n_range=(n_support, n_support),
            n_query=self.n_query,
            d_range=(1, self.max_features),
            kinds=_KINDS,
            **self.synthetic_options,
        )

    # ------------------------------------------------------------------ sampling
    def _draw_support(self, rng: np.random.Generator) -> int:
        lo, hi = self.n_support_range
        return int(np.clip(round(float(np.exp(rng.uniform(np.log(lo), np.log(hi + 1))))), lo, hi))

    def _pools_for(self, n_support: int) -> tuple[Any, Any]:
        if self._shape != (n_support, self.n_query) or self._pools is None:
            synthetic = self.synthetic_for(n_support)
            tables = None
            if self._tables is not None:
                tables = copy.copy(self._tables)  # shares the loaded tables; only the shape differs
                tables.n_support_range = (n_support, n_support)
                tables.n_query = self.n_query
            self._shape, self._pools = (n_support, self.n_query), (synthetic, tables)
        return self._pools

    def _task(self, rng: np.random.Generator, n_support: int) -> Task:
        synthetic, tables = self._pools_for(n_support)
        use_table = tables is not None and rng.random() < self.dataset_weight
        return (tables if use_table else synthetic).sample(rng)

    def sample(self, rng: np.random.Generator) -> Task:
        """Draw one task (its own shape)."""
        return self._task(rng, self._draw_support(rng))

    def sample_batch(self, rng: np.random.Generator, n_tasks: int) -> list[Task]:
        """Draw ``n_tasks`` tasks sharing one number of support rows (drawn once)."""
        n_support = self._draw_support(rng)
        return [self._task(rng, n_support) for _ in range(int(n_tasks))]
