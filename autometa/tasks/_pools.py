"""Real data sets as task sources, and mixtures of pools.

:class:`DatasetPool` turns whole tables into an endless stream of small tasks: per task it
picks a data set (uniformly over data-set *families*, then over the family's members), keeps
at most ``c_max`` classes, draws a stratified subsample of rows, a random subset and order of
at most ``max_features`` columns, splits the rows into support and query sets (every class
has support rows) and encodes them with :class:`~autometa.tasks.TabularEncoder` fitted on
the support rows only. Class indices are randomly permuted per task.

:class:`MixturePool` samples from several pools with fixed weights.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa.tasks import datasets as _datasets
from autometa.tasks._encoder import CATEGORICAL, Columns, encode_task, sort_key
from autometa.tasks._split import stratified_sample, support_query_split
from autometa.tasks._task import SeededPool, Task, TaskPool

__all__ = ["DatasetPool", "MixturePool"]

_GROUPS = {
    "keel-dev": "keel",
    "keel-balanced-dev": "keel-balanced",
    "keel-imbalanced-dev": "keel-imbalanced",
    "sklearn": "sklearn",
    "dev": None,
}
_TABLE_SUFFIXES = (".csv", ".parquet", ".pq")

Loader = Callable[[], "tuple[pd.DataFrame, pd.Series]"]


@dataclass
class _Prepared:
    """A data set converted once to floats: category codes in sorted-value order, NaN missing."""

    X: np.ndarray
    categorical: np.ndarray
    y: np.ndarray
    n_classes: int


def _prepare(X: pd.DataFrame, y: pd.Series, name: str) -> _Prepared:
    if len(X) != len(y):
        raise ValueError(f"Data set {name!r}: X has {len(X)} rows but y has {len(y)}.")
    y_obj = pd.Series(y).to_numpy(dtype=object)
    keep = ~np.asarray(pd.isna(y_obj), dtype=bool)
    cols = Columns(X.iloc[keep] if not keep.all() else X, what=f"data set {name!r}")
    out = np.empty((cols.n_samples, cols.n_features))
    categorical = np.zeros(cols.n_features, dtype=bool)
    for j in range(cols.n_features):
        if cols.infer_kind(j) == CATEGORICAL:
            categorical[j] = True
            raw = np.asarray(cols.raw(j), dtype=object)
            missing = np.asarray(pd.isna(raw), dtype=bool)
            values = sorted(set(raw[~missing].tolist()), key=sort_key)
            codes = pd.Categorical(raw, categories=pd.Index(values, dtype=object)).codes.astype(
                np.float64
            )
            codes[codes < 0] = np.nan
            out[:, j] = codes
        else:
            values = cols.numeric(j)
            out[:, j] = np.where(np.isinf(values), np.nan, values)
    labels = y_obj[keep].tolist()
    classes = sorted(set(labels), key=sort_key)
    index = {c: i for i, c in enumerate(classes)}
    y_idx = np.fromiter((index[v] for v in labels), dtype=np.int64, count=len(labels))
    if len(classes) < 2:
        raise ValueError(
            f"Data set {name!r} has {len(classes)} class; a classification task needs at least 2."
        )
    return _Prepared(out, categorical, y_idx, len(classes))


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


def _load_file(path: Path, target: str) -> tuple[pd.DataFrame, pd.Series]:
    df = _read_table(path)
    return df.drop(columns=[target]), df[target]


def _in_memory(X: pd.DataFrame, y: Any) -> tuple[pd.DataFrame, pd.Series]:
    return X, pd.Series(np.asarray(y))


def _table_columns(path: Path) -> list[str]:
    if path.suffix.lower() == ".csv":
        return list(pd.read_csv(path, nrows=0).columns)
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def _check_range(name: str, value: Sequence[int]) -> tuple[int, int]:
    if len(value) != 2 or not 1 <= int(value[0]) <= int(value[1]):
        raise ValueError(f"{name} must be a (low, high) pair with 1 <= low <= high; got {value!r}.")
    return int(value[0]), int(value[1])


class DatasetPool(SeededPool):
    """Tasks drawn from real tables: the bundled registry, in-memory frames, or a folder of files.

    Parameters
    ----------
    datasets : str, sequence of str, or mapping, default="keel-dev"
        ``"keel-dev"``, ``"keel-balanced-dev"``, ``"keel-imbalanced-dev"``, ``"sklearn"`` or
        ``"dev"`` (all dev sets of that group), one registry name, a list of registry names
        (see :mod:`autometa.tasks.datasets`), or a mapping ``name -> (X, y)`` of in-memory
        tables. Ignored when ``folder`` is given.
    d_max : int, default=32
        Width of the encoded feature axis.
    c_max : int, default=10
        Largest number of classes per task; data sets with more classes contribute tasks on a
        random subset of ``c_max`` classes.
    n_support_range : (int, int), default=(16, 256)
        Range (inclusive) of support rows per task (capped at half the rows of small sets).
    n_query : int, default=64
        Query rows per task (fewer when the set is small).
    max_features : int, optional
        At most this many (randomly chosen, randomly ordered) columns per task; defaults to
        ``d_max``.
    evaluation_only : bool, default=False
        Must be True to put a reserved data set in the pool.
    folder : str or path, optional
        Read every ``.csv``/``.parquet`` file of this folder instead of ``datasets``.
    target : str, default="target"
        Label column of the files in ``folder``.
    permute_classes : bool, default=True
        Randomly permute class indices per task.
    balance : {"family", "dataset"}, default="family"
        Pick a family first (so KEEL's 19 ``ecoli`` relabelings count once), or pick data
        sets uniformly.
    name : str, optional
        Pool name (default: the ``datasets`` shortcut or ``"datasets"``).

    Attributes
    ----------
    datasets : list of str
        The data sets of the pool.

    Examples
    --------
    >>> import numpy as np
    >>> from autometa.tasks import DatasetPool
    >>> pool = DatasetPool(["sklearn/iris", "sklearn/wine"], d_max=16, c_max=3, n_query=8)
    >>> task = pool.sample(np.random.default_rng(0))
    >>> task.name in ("sklearn/iris", "sklearn/wine"), task.d_max
    (True, 16)
    """

    def __init__(
        self,
        datasets: str | Sequence[str] | Mapping[str, tuple[Any, Any]] | None = "keel-dev",
        *,
        d_max: int = 32,
        c_max: int = 10,
        n_support_range: tuple[int, int] = (16, 256),
        n_query: int = 64,
        max_features: int | None = None,
        evaluation_only: bool = False,
        folder: str | os.PathLike[str] | None = None,
        target: str = "target",
        permute_classes: bool = True,
        balance: str = "family",
        name: str | None = None,
    ) -> None:
        if int(d_max) < 1 or int(c_max) < 2:
            raise ValueError(f"DatasetPool needs d_max >= 1 and c_max >= 2; got {d_max}, {c_max}.")
        self.d_max, self.c_max = int(d_max), int(c_max)
        self.n_support_range = _check_range("n_support_range", n_support_range)
        if int(n_query) < 1:
            raise ValueError(f"n_query must be a positive int; got {n_query!r}.")
        self.n_query = int(n_query)
        self.max_features = (
            self.d_max if max_features is None else min(int(max_features), self.d_max)
        )
        if self.max_features < 1:
            raise ValueError(f"max_features must be a positive int; got {max_features!r}.")
        if balance not in ("family", "dataset"):
            raise ValueError(f"balance must be 'family' or 'dataset'; got {balance!r}.")
        self.balance = balance
        self.permute_classes = bool(permute_classes)
        self.evaluation_only = bool(evaluation_only)
        self._loaders: dict[str, Loader] = {}
        self._families: dict[str, str] = {}
        if folder is not None:
            self._add_folder(Path(folder), target)
            default_name = f"folder:{Path(folder).name}"
        elif isinstance(datasets, Mapping):
            for key, (X, y) in datasets.items():
                frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
                self._add(str(key), functools.partial(_in_memory, frame, y), str(key))
            default_name = "datasets"
        else:
            if datasets is None:
                raise ValueError(
                    "Give datasets (names, a group such as 'keel-dev', or frames) or folder."
                )
            if isinstance(datasets, str) and datasets in _GROUPS:
                names = _datasets.list_datasets("dev", _GROUPS[datasets])
                default_name = datasets
            else:
                names = [datasets] if isinstance(datasets, str) else list(datasets)
                default_name = "datasets" if len(names) != 1 else _datasets.resolve_name(names[0])
            self._add_registry(names)
        if not self._loaders:
            raise ValueError("DatasetPool has no data sets.")
        self.name = name or default_name
        self._cache: dict[str, _Prepared] = {}
        fams: dict[str, list[str]] = {}
        for ds in self._loaders:
            fams.setdefault(self._families[ds], []).append(ds)
        self._by_family = [sorted(v) for _, v in sorted(fams.items())]

    # ------------------------------------------------------------------ construction helpers
    def _add(self, name: str, loader: Loader, family: str) -> None:
        if name in self._loaders:
            raise ValueError(f"Data set {name!r} appears twice in the pool.")
        self._loaders[name] = loader
        self._families[name] = family

    def _add_registry(self, names: Sequence[str]) -> None:
        reserved = []
        for raw in names:
            canonical = _datasets.resolve_name(raw)
            info = _datasets.dataset_info(canonical)
            if info.split == "reserved":
                reserved.append(canonical)
            loader = functools.partial(
                _datasets.load_dataset, canonical, evaluation_only=self.evaluation_only
            )
            self._add(canonical, loader, info.family)
        if reserved and not self.evaluation_only:
            raise ValueError(
                f"Reserved data sets {reserved} may not be in a training pool; they are for "
                "evaluation only. Pass evaluation_only=True to build an evaluation pool."
            )

    def _add_folder(self, folder: Path, target: str) -> None:
        if not folder.is_dir():
            raise ValueError(f"Folder {str(folder)!r} does not exist or is not a directory.")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _TABLE_SUFFIXES)
        if not files:
            raise ValueError(f"Folder {str(folder)!r} has no .csv or .parquet files.")
        for path in files:
            columns = _table_columns(path)
            if target not in columns:
                raise ValueError(
                    f"File {path.name!r} has no target column {target!r}; its columns are "
                    f"{columns[:10]}. Pass target=<label column>."
                )
            self._add(path.stem, functools.partial(_load_file, path, target), path.stem)

    @classmethod
    def from_folder(
        cls, path: str | os.PathLike[str], target: str = "target", **kwargs: Any
    ) -> DatasetPool:
        """A pool over every ``.csv``/``.parquet`` file in ``path`` (label column ``target``)."""
        return cls(None, folder=path, target=target, **kwargs)

    # ------------------------------------------------------------------ sampling
    @property
    def datasets(self) -> list[str]:
        return sorted(self._loaders)

    def __repr__(self) -> str:
        return f"DatasetPool(name={self.name!r}, n_datasets={len(self._loaders)}, d_max={self.d_max}, c_max={self.c_max})"

    def prepared(self, name: str) -> _Prepared:
        """The cached float version of data set ``name`` (loaded on first use)."""
        if name not in self._cache:
            X, y = self._loaders[name]()
            self._cache[name] = _prepare(X, y, name)
        return self._cache[name]

    def preload(self) -> DatasetPool:
        """Load and cache every data set now (instead of on first use); returns ``self``."""
        for name in self._loaders:
            self.prepared(name)
        return self

    def task_from_seed(self, seed: int) -> Task:
        """The task whose provenance ``seed`` is ``seed`` (what :meth:`sample` returns)."""
        rng = np.random.default_rng(seed)
        if self.balance == "family":
            family = self._by_family[int(rng.integers(len(self._by_family)))]
            name = family[int(rng.integers(len(family)))]
        else:
            names = self.datasets
            name = names[int(rng.integers(len(names)))]
        return self._task(name, rng, seed)

    def _task(self, name: str, rng: np.random.Generator, seed: int) -> Task:
        data = self.prepared(name)
        n_support = int(rng.integers(self.n_support_range[0], self.n_support_range[1] + 1))
        k = min(data.n_classes, self.c_max, max(2, n_support // 2))
        rows = np.arange(len(data.y))
        if k < data.n_classes:
            present = np.unique(data.y)
            chosen = rng.choice(present, size=k, replace=False)
            rows = rows[np.isin(data.y, chosen)]
        n_rows = len(rows)
        if n_support + self.n_query > n_rows:
            n_support = min(n_support, n_rows // 2)
        n_support = max(n_support, min(k, n_rows - 1))
        n_query = min(self.n_query, n_rows - n_support)
        picked = rows[stratified_sample(data.y[rows], n_support + n_query, rng)]
        support, query = support_query_split(data.y[picked], n_support, rng)
        support, query = picked[support], picked[query]
        d = data.X.shape[1]
        cols = rng.permutation(d)[: min(d, self.max_features)]
        n_task_classes = np.unique(data.y[support]).size
        perm = rng.permutation(n_task_classes) if self.permute_classes else None
        return encode_task(
            data.X[np.ix_(support, cols)],
            data.y[support],
            data.X[np.ix_(query, cols)],
            data.y[query],
            d_max=self.d_max,
            c_max=self.c_max,
            categorical_features=data.categorical[cols],
            class_permutation=perm,
            name=name,
            seed=seed,
        )


class MixturePool:
    """Sample each task from one of several pools, chosen with fixed probabilities.

    Parameters
    ----------
    pools : sequence of TaskPool
        Pools sharing ``d_max``.
    weights : sequence of float, optional
        Relative weights (default: equal).
    name : str, optional
        Default: the sub-pool names joined by ``"+"``.

    Attributes
    ----------
    d_max : int
    c_max : int
        The largest ``c_max`` of the sub-pools.
    probabilities : ndarray
        Normalized weights.
    """

    def __init__(
        self,
        pools: Sequence[TaskPool],
        weights: Sequence[float] | None = None,
        name: str | None = None,
    ) -> None:
        pools = list(pools)
        if not pools:
            raise ValueError("MixturePool needs at least one pool.")
        d = {int(p.d_max) for p in pools}
        if len(d) != 1:
            raise ValueError(
                f"All pools of a mixture must share d_max; got {[(p.name, p.d_max) for p in pools]}."
            )
        w = np.ones(len(pools)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (len(pools),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                f"weights must be {len(pools)} non-negative numbers with a positive sum; got {weights!r}."
            )
        self.pools = pools
        self.probabilities = w / w.sum()
        self.d_max = d.pop()
        self.c_max = max(int(p.c_max) for p in pools)
        self.name = name or "+".join(p.name for p in pools)

    def __repr__(self) -> str:
        return f"MixturePool({self.pools!r}, weights={self.probabilities.round(3).tolist()})"

    def sample(self, rng: np.random.Generator) -> Task:
        """Pick a sub-pool with ``rng`` and draw a task from it with the same ``rng``."""
        k = int(rng.choice(len(self.pools), p=self.probabilities))
        return self.pools[k].sample(rng)
