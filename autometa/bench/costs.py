"""``autometa bench costs``: what each member of the default blends costs, and the whole fit.

One thread, process CPU time (robust to other jobs on a shared machine), median of
``--repeats``. For AutoMetaRegressor and AutoMetaClassifier with their default members, on a
synthetic table (10 numeric and 2 categorical columns) of ``--rows`` training rows and 500
rows to predict: each member's ``fit`` on all rows, its out-of-fold predictions for the
combiner (3 folds, light variant; the random forest's come free from its out-of-bag
predictions) and its ``predict``; and the estimator's whole ``fit`` + ``predict``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import numpy as np

from autometa.bench._common import BenchResult

DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", default="128,512", help="comma-separated training-row counts")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timings per cell (the median is reported)"
    )


def _table(n: int, seed: int, task: str) -> tuple[Any, np.ndarray]:
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 10))
    signal = X[:, 0] + np.sin(2 * X[:, 1]) + 0.5 * X[:, 2] * X[:, 3]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)])
    frame["c1"] = rng.choice(["a", "b", "c"], n)
    frame["c2"] = rng.choice(["u", "v", "w", "z"], n)
    signal = signal + (frame["c1"] == "a").to_numpy()
    noise = 0.5 * rng.standard_normal(n)
    y = (
        (signal + noise > 0).astype(int)
        if task == "classifier"
        else np.exp(0.3 * (signal + noise)) * 100
    )
    return frame, y


def _cpu(fn: Any, *args: Any) -> tuple[float, Any]:
    t0 = time.process_time()
    out = fn(*args)
    return time.process_time() - t0, out


def _member_costs(est: Any, X: Any, y: np.ndarray, Xte: Any) -> dict[str, dict[str, float]]:
    """CPU seconds of each fitted member's fit, cross-fit and predict, rebuilt as ``est`` built them."""
    from autometa.estimators._base import FOLDS
    from autometa.estimators._combiner import fold_ids, oof_predictions

    df = X.iloc[:, est.informative_columns_]
    context = est._context(df)
    target = est._prepare(context, est._check_target(y, len(df)), 0)
    test = est._rows(Xte)
    learners = est._load_learners(list(est.prior_weights_))
    folds = fold_ids(len(target), FOLDS, 0, y=target if est._PREDICT == "predict_proba" else None)
    out = {}
    for name in est.prior_weights_:
        fit_s, member = _cpu(est._make_member(name, learners.get(name)).fit, context, target, 0)
        predict_s, _ = _cpu(getattr(member, est._PREDICT), test)

        def fit_predict(train: np.ndarray, held: np.ndarray, name: str = name) -> np.ndarray:
            inner, outer = context.take(np.flatnonzero(train)), context.take(np.flatnonzero(held))
            light = est._make_member(name, learners.get(name), light=True).fit(
                inner, target[train], 0
            )
            return getattr(light, est._PREDICT)(est._fold_rows(outer, inner))

        free = est._oof_shortcut(name, member, target) is not None
        oof_s = 0.0 if free else _cpu(oof_predictions, fit_predict, folds)[0]
        out[name] = {"fit_s": fit_s, "oof_s": oof_s, "predict_s": predict_s}
    return out


def compute(args: argparse.Namespace) -> BenchResult:
    import torch

    from autometa import AutoMetaClassifier, AutoMetaRegressor

    torch.set_num_threads(1)
    sizes = [int(s) for s in str(args.rows).split(",") if s]
    if args.quick:
        sizes = sizes[:1]
    repeats = max(1, int(args.repeats))
    rows, summary = [], {}
    for task, make in (("regressor", AutoMetaRegressor), ("classifier", AutoMetaClassifier)):
        for n in sizes:
            X, y = _table(n + 500, seed=n, task=task)
            Xtr, ytr, Xte = X.iloc[:n], y[:n], X.iloc[n:]
            totals, per_member = [], []
            for r in range(repeats):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est = make(random_state=r, n_jobs=1)
                    fit_s, _ = _cpu(est.fit, Xtr, ytr)
                    predict_s, _ = _cpu(est.predict, Xte)
                    totals.append(fit_s + predict_s)
                    per_member.append(_member_costs(est, Xtr, ytr, Xte))
            for name in per_member[0]:
                cell = {
                    k: statistics.median(p[name][k] for p in per_member)
                    for k in ("fit_s", "oof_s", "predict_s")
                }
                rows.append({"estimator": task, "n_train": n, "member": name, **cell})
            total = statistics.median(totals)
            rows.append({"estimator": task, "n_train": n, "member": "(whole fit + predict)", "fit_s": total,
                         "oof_s": float("nan"), "predict_s": float("nan")})  # fmt: skip
            summary[f"{task}_fit_predict_cpu_s@{n}"] = total
    return BenchResult(
        name="costs",
        rows=rows,
        columns=["estimator", "n_train", "member", "fit_s", "oof_s", "predict_s"],
        key_columns=["estimator", "n_train", "member"],
        params={"rows": sizes, "repeats": repeats, "predict_rows": 500, "threads": 1},
        summary=summary,
        notes=[
            "process CPU seconds, one thread, median of the repeats",
            "oof_s: the combiner's 3-fold out-of-fold predictions (light variants); 0 for the forest (out-of-bag)",
            "(whole fit + predict): fit_s holds the estimator's fit + predict of 500 rows",
        ],  # fmt: skip
    )
