"""Stratified row sampling shared by the task pools."""

from __future__ import annotations

import numpy as np

__all__ = ["allocate", "legacy_stratified_split", "stratified_sample", "support_query_split"]


def allocate(counts: np.ndarray, n: int, min_per_class: int = 1) -> np.ndarray:
    """Split ``n`` draws over classes with ``counts`` rows: ``min_per_class`` per class first, the rest proportionally.

    Leftover draws after flooring go to the largest fractional shares (ties: lower class
    index). The result never exceeds ``counts`` (a class with fewer than ``min_per_class``
    rows gives all of them). With ``min_per_class=1``, if ``n`` is smaller than the number of
    non-empty classes, the ``n`` largest classes get one row each.

    Raises
    ------
    ValueError
        If ``min_per_class > 1`` and ``n`` cannot give every class its minimum.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = int(min(n, counts.sum()))
    out = np.zeros_like(counts)
    present = np.flatnonzero(counts > 0)
    first = np.minimum(counts, int(min_per_class))
    if min_per_class > 1 and n < first.sum():
        raise ValueError(
            f"Cannot draw {n} rows with {min_per_class} per class from {present.size} classes."
        )
    if n <= present.size:
        order = present[np.lexsort((present, -counts[present]))]
        out[order[:n]] = 1
        return out
    out[present] = first[present]
    rest = n - int(out.sum())
    avail = counts - out
    share = avail / avail.sum() * rest
    base = np.minimum(np.floor(share).astype(np.int64), avail)
    left = rest - int(base.sum())
    frac = np.where(base < avail, share - base, -1.0)
    order = np.lexsort((np.arange(len(counts)), -frac))
    for k in order:
        if left == 0:
            break
        if base[k] < avail[k]:
            base[k] += 1
            left -= 1
    return out + base


def stratified_sample(
    y: np.ndarray, n: int, rng: np.random.Generator, min_per_class: int = 1
) -> np.ndarray:
    """Indices of ``n`` rows of ``y`` drawn without replacement, class shares preserved.

    Every class with rows gets at least ``min_per_class`` (when ``n`` allows; see
    :func:`allocate`). The indices are shuffled.
    """
    y = np.asarray(y)
    classes, inverse = np.unique(y, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(classes))
    take = allocate(counts, n, min_per_class)
    picked = [
        rng.choice(np.flatnonzero(inverse == k), size=int(t), replace=False)
        for k, t in enumerate(take)
        if t > 0
    ]
    idx = np.concatenate(picked) if picked else np.empty(0, dtype=np.int64)
    return rng.permutation(idx)


def support_query_split(
    y: np.ndarray, n_support: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into a stratified support set of ``n_support`` rows and a query set (the rest).

    Every class of ``y`` has at least one support row when ``n_support`` is at least the
    number of classes, so query labels always occur in the support set; query rows of a
    class missing from the support (only possible when ``n_support`` is too small) are
    dropped.
    """
    y = np.asarray(y)
    support = stratified_sample(y, n_support, rng)
    rest = np.setdiff1d(np.arange(len(y)), support)
    in_support = np.isin(y[rest], y[support])
    query = rng.permutation(rest[in_support])
    return support, query


def legacy_stratified_split(y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, rest)``: scikit-learn's stratified ``train_test_split`` of ``range(len(y))``.

    Kept for one caller: the in-context campaign's held-out learning curve (its committed
    ``curve.json`` was scored on these rows, and later points must stay comparable with it).
    Everything new samples with :func:`support_query_split`.
    """
    from sklearn.model_selection import train_test_split

    train, rest = train_test_split(
        np.arange(len(y)), train_size=int(n), stratify=y, random_state=int(seed)
    )
    return train, rest
