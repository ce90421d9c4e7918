"""Tasks cut from a fixed list of whole dev data sets, built the way a ``fit`` call builds them.

:class:`DevDatasetPool` is the pool the classifier's neural members are meta-trained and
meta-validated on (:mod:`autometa.tasks.roles` names the lists): each task draws one named data
set, keeps at most ``c_max`` classes, splits a stratified support set (log-uniform size) from
a query set and encodes both with a :class:`~autometa.tasks.TabularEncoder` fitted on the
support rows only, exactly as :class:`~autometa.estimators.AutoMetaClassifier` encodes its
training rows. (:class:`~autometa.tasks.DatasetPool` instead samples data-set families and
random column subsets.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autometa.tasks._encoder import encode_task
from autometa.tasks._split import support_query_split
from autometa.tasks.datasets import load_dev_table

__all__ = ["DevDatasetPool"]


class DevDatasetPool:
    """Tasks cut from whole dev data sets: stratified support/query split, encoder fit on support.

    Parameters
    ----------
    names : sequence of str
        Canonical dev data set names (:func:`~autometa.tasks.datasets.load_dev_table`).
    d_max, c_max : int
    n_range : (int, int)
        Support size, drawn log-uniformly.
    n_query : int
        Query rows (at most; fewer when the data set is small).
    name : str
    """

    def __init__(self, names: tuple[str, ...], d_max: int = 32, c_max: int = 10,
                 n_range: tuple[int, int] = (16, 512), n_query: int = 128, name: str = "dev") -> None:  # fmt: skip
        self.names, self.d_max, self.c_max = tuple(names), d_max, c_max
        self.n_range, self.n_query, self.name = n_range, n_query, name

    def sample(self, rng: np.random.Generator) -> Any:
        """One encoded task of a randomly chosen data set."""
        name = self.names[int(rng.integers(len(self.names)))]
        X, y = load_dev_table(name)
        classes = np.unique(y)
        if len(classes) > self.c_max:
            keep = rng.choice(classes, size=self.c_max, replace=False)
            rows = np.isin(y, keep)
            X, y = X[rows].reset_index(drop=True), y[rows]
        lo, hi = self.n_range
        n_support = int(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        n_support = max(2 * len(np.unique(y)), min(n_support, len(y) - 16))
        s, q = support_query_split(y, n_support, rng)
        q = q[: self.n_query]
        k = len(np.unique(y[s]))
        return encode_task(
            X.iloc[s], y[s], X.iloc[q], y[q], d_max=self.d_max, c_max=self.c_max,
            class_permutation=rng.permutation(k), name=name,
        )  # fmt: skip
