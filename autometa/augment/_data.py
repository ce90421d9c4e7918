"""The augmentation policy's data roles and task pool, under their historical names.

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
from autometa.tasks._encoded_pool import EncodedDatasetPool
from autometa.tasks._split import stratified_sample as stratified_indices

__all__ = [
    "EVAL_SETS",
    "META_TRAIN_SETS",
    "RESERVED_SETS",
    "KeelTaskSource",
    "load_keel",
    "stratified_indices",
]


def _bare(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(n.split("/", 1)[1] for n in names)


#: reserved KEEL balanced sets: never used here (BENCHMARKS.md)
RESERVED_SETS: tuple[str, ...] = _bare(
    sorted(n for n in _datasets.RESERVED if n.startswith("keel/"))
)
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
        raise ValueError(
            f"{name!r} is a reserved KEEL set (BENCHMARKS.md): it must not be used here."
        )
    if f"keel/{name}" not in _datasets.list_datasets("dev", "keel-balanced"):
        raise ValueError(f"Unknown KEEL balanced data set {name!r}.")
    return _datasets.load_dev_table(f"keel/{name}")


class KeelTaskSource(EncodedDatasetPool):
    """:class:`~autometa.tasks.EncodedDatasetPool` over KEEL balanced dev sets named bare (``"iris"``).

    The augmentation policy's meta-training pool (``python -m autometa.augment.train``); the
    sampling itself lives in :mod:`autometa.tasks._encoded_pool`.
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
                raise ValueError(
                    f"{n!r} is a reserved KEEL set (BENCHMARKS.md) and cannot be in a task pool."
                )
        super().__init__([f"keel/{n}" for n in names], d_max, c_max, n_range, n_query, name)
