"""Tasks cut from whole dev tables that are encoded once, for cheap sampling.

:class:`EncodedDatasetPool` encodes each table once, whole, with
:class:`~autometa.tasks.TabularEncoder`; a task then takes rows and columns of that matrix.
Sampling costs milliseconds, which is what meta-training many small learners (the
augmentation policies) needs. The price: the encoder has seen the query rows, unlike a
``fit`` call, which is why evaluation and the estimators' meta-training use
:class:`~autometa.tasks.DatasetPool` / :class:`~autometa.tasks.DevDatasetPool` (encoder fitted on
the support rows) instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from autometa.tasks._encoder import TabularEncoder
from autometa.tasks._split import stratified_sample
from autometa.tasks._task import Task
from autometa.tasks.datasets import load_dev_table

__all__ = ["EncodedDatasetPool"]


class EncodedDatasetPool:
    """Tasks drawn from whole dev tables encoded once (implements the TaskPool protocol).

    A task picks a table uniformly, at most ``c_max`` of its classes, a random subset of at
    most ``d_max`` encoded columns in random order, a stratified support set of ``n_support``
    rows (uniform in ``n_range``, at most half the rows) and a query set of other rows whose
    classes all occur in the support set, and relabels the classes at random.

    Parameters
    ----------
    names : sequence of str
        Canonical dev table names (:func:`~autometa.tasks.datasets.load_dev_table`; reserved
        sets are refused there).
    d_max, c_max : int
    n_range : (int, int)
        Support rows per task (inclusive range).
    n_query : int
        Query rows per task (fewer when the table is small).
    name : str
    """

    def __init__(
        self,
        names: Sequence[str],
        d_max: int = 16,
        c_max: int = 10,
        n_range: tuple[int, int] = (16, 128),
        n_query: int = 128,
        name: str = "encoded-dev",
    ) -> None:
        self.names, self.d_max, self.c_max = tuple(names), int(d_max), int(c_max)
        self.n_range, self.n_query, self.name = tuple(n_range), int(n_query), name
        self._encoded: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def encoded(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole table ``name`` encoded: ``(x [n, n_features] float32, y [n] int64)``."""
        if name not in self._encoded:
            X, y = load_dev_table(name)
            enc = TabularEncoder(d_max=max(2 * X.shape[1], 1), c_max=max(2, len(np.unique(y))))
            x, mask = enc.fit_transform(X, y)
            self._encoded[name] = (
                x[:, mask].astype(np.float32),
                enc.encode_labels(y).astype(np.int64),
            )
        return self._encoded[name]

    def sample(self, rng: np.random.Generator) -> Task:
        """One task of a randomly chosen table."""
        table = self.names[int(rng.integers(len(self.names)))]
        x, y = self.encoded(table)
        classes = np.unique(y)
        if len(classes) > self.c_max:
            keep = rng.choice(classes, size=self.c_max, replace=False)
            rows = np.flatnonzero(np.isin(y, keep))
            x, y = x[rows], y[rows]
        n_support = int(rng.integers(self.n_range[0], self.n_range[1] + 1))
        n_support = min(n_support, len(y) // 2)
        idx = stratified_sample(
            y, n_support + min(self.n_query, len(y) - n_support), rng, min_per_class=2
        )
        s, q = idx[:n_support], idx[n_support:]
        q = q[np.isin(y[q], y[s])]  # every query class occurs in the support set
        present = np.unique(y[s])
        relabel = np.full(int(y.max()) + 1, -1)
        relabel[present] = rng.permutation(len(present))
        cols = rng.permutation(x.shape[1])[: self.d_max]
        xs = np.zeros((len(s), self.d_max), np.float32)
        xq = np.zeros((len(q), self.d_max), np.float32)
        xs[:, : len(cols)], xq[:, : len(cols)] = x[s][:, cols], x[q][:, cols]
        mask = np.arange(self.d_max) < len(cols)
        return Task(
            x_support=torch.from_numpy(xs),
            y_support=torch.from_numpy(relabel[y[s]]),
            x_query=torch.from_numpy(xq),
            y_query=torch.from_numpy(relabel[y[q]]),
            feature_mask=torch.from_numpy(mask),
            n_classes=len(present),
            name=table,
        )
