"""N-way K-shot episodes with class-disjoint meta-train / meta-val / meta-test splits.

The classes of a many-class data set are partitioned once, deterministically from
``split_seed``: the sorted class labels are permuted with
``numpy.random.default_rng(split_seed)`` and cut into consecutive blocks of sizes
``split_fractions`` (largest-remainder rounding), in the order train, val, test.
``EpisodicPool.classes_by_split`` shows which original classes landed where.

Features:

* **Images** (scikit-learn ``digits`` and KEEL ``optdigits``, both 8x8 with values 0-16):
  raw pixels scaled to [0, 1], flattened, ``d_max = 64``, ``image_shape = (1, 8, 8)``: what
  :class:`~autometa.functional.Conv4` with that ``image_shape`` consumes.
* **Tabular** (KEEL ``letter``, ``penbased`` and any other array): one global
  :class:`~autometa.tasks.TabularEncoder` fitted without labels on the rows of the *train-split
  classes only* (no information from val/test classes leaks into the normalization), applied
  to every row once.

Each episode picks ``n_way`` classes of its split in random order (so labels ``0..n_way-1``
are a fresh random relabeling), then ``k_shot`` support and ``n_query`` query rows per class
without replacement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from autometa.tasks import datasets as _datasets
from autometa.tasks._encoder import TabularEncoder, sort_key
from autometa.tasks._task import SeededPool, Task

__all__ = ["EpisodicPool"]

_SPLITS = ("train", "val", "test")
# registry name -> (image shape, pixel maximum)
_IMAGES: dict[str, tuple[tuple[int, int, int], float]] = {
    "sklearn/digits": ((1, 8, 8), 16.0),
    "keel/optdigits": ((1, 8, 8), 16.0),
}


def _split_sizes(n: int, fractions: Sequence[float]) -> list[int]:
    raw = np.asarray(fractions, dtype=np.float64) * n
    sizes = np.floor(raw).astype(np.int64)
    order = np.lexsort((np.arange(len(raw)), -(raw - sizes)))
    for k in order[: n - int(sizes.sum())]:
        sizes[k] += 1
    return sizes.tolist()


class EpisodicPool(SeededPool):
    """Few-shot episodes from a many-class data set, with class-disjoint splits.

    Parameters
    ----------
    dataset : str or (X, y), default="letter"
        A registry name (``"letter"``, ``"penbased"``, ``"optdigits"``, ``"digits"``, ...) or
        an ``(X, y)`` pair of arrays/frames.
    n_way : int, default=5
        Classes per episode.
    k_shot : int, default=1
        Support rows per class.
    n_query : int, default=15
        Query rows per class.
    split : {"train", "val", "test"}, default="train"
    split_seed : int, default=0
        Seed of the class partition.
    split_fractions : (float, float, float), default=(0.6, 0.2, 0.2)
        Shares of the classes in train, val, test (a share may be 0; it must sum to 1). With
        10-class sets use for example ``(0.5, 0.0, 0.5)`` for 5-way episodes.
    d_max : int, optional
        Encoded width for tabular data (default: the number of features). Image data sets
        need ``d_max`` None or equal to the image size.
    image_shape : (int, int, int), optional
        For an ``(X, y)`` pair of flattened images: values are used as given (scale them to
        [0, 1] yourself) and ``d_max`` is ``C * H * W``.
    evaluation_only : bool, default=False
        Needed for a reserved registry data set.
    name : str, optional

    Attributes
    ----------
    d_max, c_max : int
        ``c_max == n_way``.
    image_shape : tuple or None
    classes_by_split : dict of str -> list
        The original class labels of each split.
    """

    def __init__(
        self,
        dataset: str | tuple[Any, Any] = "letter",
        *,
        n_way: int = 5,
        k_shot: int = 1,
        n_query: int = 15,
        split: str = "train",
        split_seed: int = 0,
        split_fractions: Sequence[float] = (0.6, 0.2, 0.2),
        d_max: int | None = None,
        image_shape: tuple[int, int, int] | None = None,
        evaluation_only: bool = False,
        name: str | None = None,
    ) -> None:
        for pname, value, lo in (
            ("n_way", n_way, 2),
            ("k_shot", k_shot, 1),
            ("n_query", n_query, 1),
        ):
            if isinstance(value, bool) or int(value) != value or value < lo:
                raise ValueError(f"{pname} must be an int >= {lo}; got {value!r}.")
        if split not in _SPLITS:
            raise ValueError(f"split must be one of {_SPLITS}; got {split!r}.")
        fractions = np.asarray(split_fractions, dtype=np.float64)
        if fractions.shape != (3,) or np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
            raise ValueError(
                f"split_fractions must be three non-negative shares (train, val, test) summing to 1; "
                f"got {split_fractions!r}."
            )
        self.n_way, self.k_shot, self.n_query = int(n_way), int(k_shot), int(n_query)
        self.split, self.split_seed = split, int(split_seed)
        self.split_fractions = tuple(fractions.tolist())

        if isinstance(dataset, str):
            canonical = _datasets.resolve_name(dataset)
            X, y = _datasets.load_dataset(canonical, evaluation_only=evaluation_only)
            label = canonical.split("/", 1)[1]
            if canonical in _IMAGES:
                image_shape, scale = _IMAGES[canonical]
                X = X.to_numpy(dtype=np.float64) / scale
        else:
            if len(dataset) != 2:
                raise ValueError("dataset must be a registry name or an (X, y) pair.")
            X, y = dataset
            label = "arrays"
        y_arr = np.asarray(y.to_numpy(dtype=object) if hasattr(y, "to_numpy") else y, dtype=object)
        classes = sorted(set(y_arr.tolist()), key=sort_key)
        index = {c: i for i, c in enumerate(classes)}
        y_idx = np.fromiter((index[v] for v in y_arr.tolist()), dtype=np.int64, count=len(y_arr))
        n_rows = len(y_idx)

        # deterministic class partition
        order = np.random.default_rng(self.split_seed).permutation(len(classes))
        sizes = _split_sizes(len(classes), self.split_fractions)
        bounds = np.cumsum([0, *sizes])
        parts = {s: np.sort(order[bounds[i] : bounds[i + 1]]) for i, s in enumerate(_SPLITS)}
        self.classes_by_split = {s: [classes[k] for k in parts[s].tolist()] for s in _SPLITS}
        self._classes = parts[split]
        if self._classes.size < self.n_way:
            raise ValueError(
                f"Split {split!r} of {label!r} has {self._classes.size} classes (split_fractions="
                f"{self.split_fractions}, {len(classes)} classes in all); n_way={self.n_way} needs at "
                "least that many. Lower n_way or change split_fractions."
            )

        # features
        if image_shape is not None:
            self.image_shape: tuple[int, int, int] | None = tuple(int(v) for v in image_shape)  # type: ignore[assignment]
            size = int(np.prod(self.image_shape))
            feats = np.asarray(X, dtype=np.float32).reshape(n_rows, -1)
            if feats.shape[1] != size:
                raise ValueError(
                    f"image_shape {self.image_shape} needs {size} features; X has {feats.shape[1]}."
                )
            if d_max is not None and int(d_max) != size:
                raise ValueError(
                    f"{label!r} holds {self.image_shape} images: d_max must be {size} (or None); got {d_max}."
                )
            self._x = feats
            self._mask = np.ones(size, dtype=bool)
            self.d_max = size
        else:
            self.image_shape = None
            train_rows = np.isin(y_idx, parts["train"])
            n_features = np.asarray(X).shape[1] if not hasattr(X, "columns") else len(X.columns)
            width = n_features if d_max is None else int(d_max)
            encoder = TabularEncoder(
                d_max=width, c_max=max(2, len(classes)), missing_indicators=True
            )
            fit_rows = train_rows if train_rows.any() else np.ones(n_rows, dtype=bool)
            encoder.fit(X.iloc[fit_rows] if hasattr(X, "iloc") else np.asarray(X)[fit_rows])
            self._x, self._mask = encoder.transform(X)
            self.encoder_ = encoder
            self.d_max = width
        self.c_max = self.n_way
        self.name = name or f"episodic/{label}/{split}"

        need = self.k_shot + self.n_query
        self._rows = {int(k): np.flatnonzero(y_idx == k) for k in self._classes.tolist()}
        short = {classes[k]: r.size for k, r in self._rows.items() if r.size < need}
        if short:
            raise ValueError(
                f"Classes {list(short)[:5]} of split {split!r} have fewer than k_shot + n_query = {need} "
                f"rows ({list(short.values())[:5]}); lower k_shot or n_query."
            )
        self._x_t = torch.from_numpy(np.ascontiguousarray(self._x, dtype=np.float32))
        self._mask_t = torch.from_numpy(self._mask.copy())

    def __repr__(self) -> str:
        return (
            f"EpisodicPool(name={self.name!r}, n_way={self.n_way}, k_shot={self.k_shot}, "
            f"n_query={self.n_query}, classes={len(self._classes)})"
        )

    def task_from_seed(self, seed: int) -> Task:
        """The episode whose provenance ``seed`` is ``seed`` (what :meth:`sample` returns)."""
        rng = np.random.default_rng(seed)
        chosen = rng.choice(self._classes, size=self.n_way, replace=False)
        support, query = [], []
        for rows in (self._rows[int(k)] for k in chosen):
            picked = rng.choice(rows, size=self.k_shot + self.n_query, replace=False)
            support.append(picked[: self.k_shot])
            query.append(picked[self.k_shot :])
        ys = np.repeat(np.arange(self.n_way), self.k_shot)
        yq = np.repeat(np.arange(self.n_way), self.n_query)
        ps, pq = rng.permutation(ys.size), rng.permutation(yq.size)
        s_idx, q_idx = np.concatenate(support)[ps], np.concatenate(query)[pq]
        return Task(
            x_support=self._x_t[torch.from_numpy(s_idx)],
            y_support=torch.from_numpy(ys[ps]),
            x_query=self._x_t[torch.from_numpy(q_idx)],
            y_query=torch.from_numpy(yq[pq]),
            feature_mask=self._mask_t.clone(),
            n_classes=self.n_way,
            name=self.name,
            seed=seed,
        )
