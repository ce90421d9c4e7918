"""Dev-only task source for meta-training augmentation policies, and the policy's data roles.

The data-set lists come from :mod:`autometa.tasks.roles` (the one registry of which data set
trains or evaluates which shipped part) and are re-exported here as bare KEEL names:
:data:`META_TRAIN_SETS` (the shipped policy's meta-training and meta-validation sets) and
:data:`EVAL_SETS` (what ``autometa bench augment`` evaluates on). Loading goes through
:mod:`autometa.tasks.datasets`, which refuses reserved sets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from autometa.tasks import datasets as _datasets
from autometa.tasks import roles as _roles
from autometa.tasks._split import stratified_sample as stratified_indices

__all__ = ["EVAL_SETS", "META_TRAIN_SETS", "RESERVED_SETS", "KeelTaskSource", "load_keel", "stratified_indices"]


def _bare(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(n.split("/", 1)[1] for n in names)


#: reserved KEEL balanced sets: never used here (BENCHMARKS.md)
RESERVED_SETS: tuple[str, ...] = _bare(sorted(n for n in _datasets.RESERVED if n.startswith("keel/")))
#: dev sets the augmentation policy is evaluated on (held out of its meta-training)
EVAL_SETS: tuple[str, ...] = _bare(_roles.AUGMENT_EVALUATION)
#: dev sets the shipped policy (and its companion learner) are meta-trained and meta-validated on
META_TRAIN_SETS: tuple[str, ...] = _bare(sorted(_roles.AUGMENT_TRAIN + _roles.AUGMENT_VALIDATION))


def load_keel(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A KEEL balanced data set as ``(X DataFrame, y ndarray of str)``; ``?`` is missing.

    Raises
    ------
    ValueError
        For a reserved set or an unknown name.
    """
    if name in RESERVED_SETS:
        raise ValueError(f"{name!r} is a reserved KEEL set (BENCHMARKS.md): it must not be used here.")
    if f"keel/{name}" not in _datasets.list_datasets("dev", "keel-balanced"):
        raise ValueError(f"Unknown KEEL balanced data set {name!r}.")
    return _datasets.load_dev_table(f"keel/{name}")


class KeelTaskSource:
    """Tasks drawn from whole KEEL dev sets (implements the TaskPool protocol).

    Each data set is encoded once, whole, with :class:`~autometa.tasks.TabularEncoder`
    (quantile-normalized numeric columns, encoded categorical columns, missing
    indicators). A task then picks a set, at most ``c_max`` of its classes, a random subset
    of at most ``d_max`` encoded columns in random order, a stratified support set of
    ``n_support`` rows (uniform in ``n_range``) and a query set of other rows, and relabels
    the classes at random. Encoding once per set keeps sampling cheap (milliseconds), which
    is what meta-training needs; evaluation (``autometa bench augment``) instead fits the
    encoder on the support rows only.
    """

    def __init__(
        self,
        names: Sequence[str] = META_TRAIN_SETS,
        d_max: int = 16,
        c_max: int = 10,
        n_range: tuple[int, int] = (16, 128),
        n_query: int = 128,
        name: str = "keel-dev",
    ) -> None:
        for n in names:
            if n in RESERVED_SETS:
                raise ValueError(f"{n!r} is a reserved KEEL set (BENCHMARKS.md) and cannot be in a task pool.")
        self.names, self.d_max, self.c_max = tuple(names), int(d_max), int(c_max)
        self.n_range, self.n_query, self.name = tuple(n_range), int(n_query), name
        self._encoded: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def encoded(self, ds: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole set ``ds`` encoded: ``(x [n, n_features] float32, y [n] int64)``."""
        if ds not in self._encoded:
            from autometa.tasks._encoder import TabularEncoder

            X, y = load_keel(ds)
            enc = TabularEncoder(d_max=max(2 * X.shape[1], 1), c_max=max(2, len(np.unique(y))))
            x, mask = enc.fit_transform(X, y)
            self._encoded[ds] = (x[:, mask].astype(np.float32), enc.encode_labels(y).astype(np.int64))
        return self._encoded[ds]

    def sample(self, rng: np.random.Generator):
        import torch

        from autometa.tasks._task import Task

        ds = self.names[int(rng.integers(len(self.names)))]
        x, y = self.encoded(ds)
        classes = np.unique(y)
        if len(classes) > self.c_max:
            keep = rng.choice(classes, size=self.c_max, replace=False)
            rows = np.flatnonzero(np.isin(y, keep))
            x, y = x[rows], y[rows]
        n_support = int(rng.integers(self.n_range[0], self.n_range[1] + 1))
        n_support = min(n_support, len(y) // 2)
        idx = stratified_indices(y, n_support + min(self.n_query, len(y) - n_support), rng, min_per_class=2)
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
            name=f"keel/{ds}",
        )
