"""Held-out cells: the "table x training size x seed" samples that benchmarks and campaigns score on.

Every benchmark (``autometa bench classifier | regressor``), every campaign learning curve and
every training script that reports held-out numbers walks the same loop: for each dev table,
each training size ``n`` and each seed, draw ``n`` training rows and a test set from the other
rows. :func:`held_out_cells` is that loop, once. The rows come from the samplers of
:mod:`autometa.tasks._split`; each caller names its sampler and its seed ``salt``, so the rows it
has always drawn (and the numbers committed from them) stay the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np

from autometa.tasks._split import legacy_stratified_split, support_query_split

__all__ = ["Cell", "held_out_cells", "cell_rng_key"]

Sampler = Literal["stratified", "random", "legacy-stratified"]


class Cell(NamedTuple):
    """One held-out sample of a table: ``n`` training rows and a disjoint test set."""

    dataset: str
    n: int
    seed: int
    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray


def cell_rng_key(dataset: str, n: int, seed: int, salt: int | str | None) -> list[int]:
    """The entropy of a cell's generator: ``[seed, n]`` plus the ``salt``.

    ``salt`` is None (nothing added), an int, or ``"table"`` (the sum of the table name's
    character codes, so that tables of one size and seed draw independently).
    """
    key = [int(seed), int(n)]
    if salt == "table":
        key.append(sum(map(ord, dataset)))
    elif salt is not None:
        key.append(int(salt))
    return key


def _rows(y: np.ndarray, dataset: str, n: int, seed: int, n_test: int, sampler: str,
          salt: int | str | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    if sampler == "legacy-stratified":
        train, rest = legacy_stratified_split(y, n, seed)
        return train, rest[:n_test]
    rng = np.random.default_rng(cell_rng_key(dataset, n, seed, salt))
    if sampler == "stratified":
        train, test = support_query_split(y, n, rng)
        return train, test[:n_test]
    rows = rng.permutation(len(y))
    return rows[:n], rows[n : n + n_test]


def held_out_cells(
    datasets: Sequence[str],
    sizes: Sequence[int],
    seeds: Sequence[int],
    *,
    n_test: int,
    sampler: Sampler = "stratified",
    salt: int | str | None = "table",
    spare: int = 50,
    seeds_outer: bool = False,
    load: Callable[[str], tuple[Any, np.ndarray]] | None = None,
) -> Iterator[Cell]:
    """Yield a :class:`Cell` per table, training size and seed.

    Parameters
    ----------
    datasets : sequence of str
        Dev table names (:func:`autometa.tasks.datasets.load_dev_table`).
    sizes : sequence of int
        Training sizes; a table with fewer than ``n + spare`` rows is skipped at size ``n``.
    seeds : sequence of int
    n_test : int
        At most this many test rows (taken from the rows not drawn for training).
    sampler : {"stratified", "random", "legacy-stratified"}
        ``"stratified"``: :func:`~autometa.tasks._split.support_query_split` (class shares
        kept, every class in the training rows when ``n`` allows); ``"random"``: a random
        permutation (regression); ``"legacy-stratified"``:
        :func:`~autometa.tasks._split.legacy_stratified_split`, kept for the in-context
        campaign's committed learning curve.
    salt : int, "table" or None
        Added to ``[seed, n]`` in each cell's generator (:func:`cell_rng_key`); unused by
        ``"legacy-stratified"``.
    spare : int
        Rows beyond ``n`` a table needs at size ``n``.
    seeds_outer : bool
        Loop order: seeds outermost (a benchmark stopped early still covers every table and
        size) instead of tables outermost.
    load : callable, optional
        ``name -> (X, y)``; default :func:`autometa.tasks.datasets.load_dev_table`.

    Notes
    -----
    For classification samplers the test rows of a class absent from the training rows are
    dropped (a model cannot predict a class it never saw).
    """
    if sampler not in ("stratified", "random", "legacy-stratified"):
        raise ValueError(
            f"sampler must be 'stratified', 'random' or 'legacy-stratified'; got {sampler!r}."
        )
    if load is None:
        from autometa.tasks.datasets import load_dev_table as load
    tables: dict[str, tuple[Any, np.ndarray]] = {}

    def cells_of(name: str, seed_list: Sequence[int]) -> Iterator[Cell]:
        if name not in tables:
            tables[name] = load(name)
        X, y = tables[name]
        for n in sizes:
            if len(y) < int(n) + spare:
                continue
            for seed in seed_list:
                train, test = _rows(y, name, int(n), int(seed), int(n_test), sampler, salt)
                if sampler != "random":
                    test = test[np.isin(y[test], y[train])]
                yield Cell(name, int(n), int(seed), X.iloc[train], y[train], X.iloc[test], y[test])

    if seeds_outer:
        for seed in seeds:
            for name in datasets:
                yield from cells_of(name, (seed,))
    else:
        for name in datasets:
            yield from cells_of(name, seeds)
            tables.pop(name, None)
