"""Held-out scores of the in-context learners (and of peers on the same rows).

The learning curves of the in-context campaigns (:mod:`autometa.meta._campaign`) and the
numbers on the shipped in-context learners' model cards are these scores: the mean ROC-AUC
(classification) or R² and 80%-interval coverage (regression) on held-out dev tables, one
:func:`~autometa.tasks._cells.held_out_cells` cell per table, training size and seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from autometa._metrics import mean_ovr_auc
from autometa.functional._bar import bar_mean, bar_quantiles
from autometa.meta._in_context import in_context_proba
from autometa.meta._in_context_regression import in_context_regression_distribution
from autometa.tasks._cells import held_out_cells
from autometa.tasks._encoder import TabularEncoder
from autometa.tasks.roles import IN_CONTEXT_VALIDATION, REGRESSOR_VALIDATION

__all__ = ["EVAL_DATASETS", "EVAL_SIZES", "REGRESSION_EVAL_SIZES", "held_out_auc", "held_out_r2"]

#: the held-out tables the classification campaign scores on (dev sets no in-context training task comes from)
EVAL_DATASETS: tuple[str, ...] = IN_CONTEXT_VALIDATION
EVAL_SIZES: tuple[int, ...] = (32, 128, 512)
#: the regression campaign's held-out sizes (its validation tables are small)
REGRESSION_EVAL_SIZES: tuple[int, ...] = (32, 128)


def held_out_auc(
    learner: Any,
    datasets: Sequence[str] = EVAL_DATASETS,
    sizes: Sequence[int] = EVAL_SIZES,
    *,
    seeds: Sequence[int] = (0,),
    n_test: int = 500,
    n_members: int = 4,
    max_support: int = 1024,
) -> dict[str, float]:
    """Mean ROC-AUC (macro one-vs-rest) of ``learner`` on stratified samples of dev tables.

    For each data set, size ``n`` and seed: a stratified training sample of ``n`` rows, the
    test set ``n_test`` other rows (the campaign's committed sampler,
    ``held_out_cells(..., sampler="legacy-stratified")``; cells whose test rows hold fewer than
    two classes are skipped), the rows encoded by a :class:`~autometa.tasks.TabularEncoder`
    fitted on the training rows, probabilities from
    :func:`~autometa.meta._in_context.in_context_proba`. Returns ``{"auc@n": mean}`` per size.
    ``learner`` may also be a callable ``make() -> scikit-learn classifier`` (a peer on the
    same splits, fitted on the same encoded rows). ``n_members`` and ``max_support`` are
    :func:`~autometa.meta._in_context.in_context_proba`'s.
    """
    is_learner = hasattr(learner, "d_max")  # else a factory of a scikit-learn peer
    d_max, c_max = (learner.d_max, learner.c_max) if is_learner else (64, 10)
    scores: dict[int, list[float]] = {int(n): [] for n in sizes}
    cells = held_out_cells(datasets, sizes, seeds, n_test=n_test, sampler="legacy-stratified")
    for _, n, _, X_train, y_train, X_test, y_test in cells:
        if np.unique(y_test).size < 2:  # no AUC on one class
            continue
        enc = TabularEncoder(d_max=d_max, c_max=c_max).fit(X_train, y_train)
        k = len(enc.classes_)
        if k > c_max:
            continue
        xs, fm = enc.transform(X_train)
        xq, _ = enc.transform(X_test)
        ys = enc.encode_labels(y_train)
        if is_learner:
            proba = in_context_proba(
                learner, torch.from_numpy(xs), torch.from_numpy(ys), torch.from_numpy(xq),
                torch.from_numpy(fm), k, n_members=n_members, seed=0, max_support=max_support,
            ).numpy()  # fmt: skip
        else:
            est = learner().fit(xs[:, fm], ys)
            proba = np.zeros((len(xq), k))
            proba[:, est.classes_] = est.predict_proba(xq[:, fm])
        scores[n].append(mean_ovr_auc(enc.encode_labels(y_test), proba))
    return {f"auc@{n}": float(np.mean(v)) for n, v in scores.items() if v}


def held_out_r2(
    learner: Any,
    datasets: Sequence[str] | None = None,
    sizes: Sequence[int] = REGRESSION_EVAL_SIZES,
    *,
    seeds: Sequence[int] = (0, 1),
    n_test: int = 500,
    n_members: int = 4,
) -> dict[str, float]:
    """Mean R² of the predictive mean and 80%-interval coverage on random samples of dev tables.

    For each data set, size ``n`` and seed: ``n`` random training rows, up to ``n_test`` other
    rows as the test set (``held_out_cells(..., sampler="random", salt=None)``), rows encoded
    by a :class:`~autometa.tasks.TabularEncoder` fitted on the training rows, the bar
    distribution from
    :func:`~autometa.meta._in_context_regression.in_context_regression_distribution`.
    ``learner`` may also be a callable ``make() -> scikit-learn regressor`` (a peer on the same
    encoded rows; no coverage). Returns ``{"r2@n": ..., "cover80@n": ...}`` per size.
    """
    from sklearn.metrics import r2_score

    if datasets is None:
        datasets = REGRESSOR_VALIDATION
    is_learner = hasattr(learner, "d_max")
    d_max = learner.d_max if is_learner else 64
    r2: dict[int, list[float]] = {int(n): [] for n in sizes}
    cover: dict[int, list[float]] = {int(n): [] for n in sizes}
    cells = held_out_cells(datasets, sizes, seeds, n_test=n_test, sampler="random", salt=None)
    for _, n, _, X_train, y_train, X_test, y_test in cells:
        y_train, y_test = (
            np.asarray(y_train, dtype=np.float64),
            np.asarray(y_test, dtype=np.float64),
        )
        enc = TabularEncoder(d_max=d_max, c_max=2, spacing=getattr(learner, "spacing", False))
        enc = enc.fit(X_train)
        xs, fm = enc.transform(X_train)
        xq, _ = enc.transform(X_test)
        if is_learner:
            probs, borders = in_context_regression_distribution(
                learner, torch.from_numpy(xs), y_train, torch.from_numpy(xq), torch.from_numpy(fm),
                n_members=n_members, seed=0,
            )  # fmt: skip
            p, b = torch.from_numpy(probs), torch.from_numpy(borders)
            pred = bar_mean(p, b).numpy()
            lo, hi = bar_quantiles(p, b, torch.tensor([0.1, 0.9])).numpy().T
            cover[n].append(float(np.mean((y_test >= lo) & (y_test <= hi))))
        else:
            pred = learner().fit(xs[:, fm], y_train).predict(xq[:, fm])
        r2[n].append(float(r2_score(y_test, pred)))
    out = {f"r2@{n}": float(np.mean(v)) for n, v in r2.items() if v}
    out.update({f"cover80@{n}": float(np.mean(v)) for n, v in cover.items() if v})
    return out
