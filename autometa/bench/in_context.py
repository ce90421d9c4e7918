"""``autometa bench in-context``: how the in-context member's cost grows with rows.

One thread, process CPU time (robust to other jobs on the machine), median of ``--repeats``.
For every number of training rows (support) and rows to classify (query), the shipped
in-context learner's ``fit + predict_proba`` inside ``AutoMetaClassifier(members=["icl"])``
is timed next to RandomForest(300)'s (the peer the issue compares with) on the same synthetic
table (20 numeric columns, 2 classes). The summary gives the growth factor of the predict
time from 512 to the largest query size, to compare with the growth of the rows (linear
growth means equal factors).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from autometa.bench._common import BenchResult

DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--support", default="32,128,512,1024", help="comma-separated training-row counts"
    )
    parser.add_argument(
        "--query", default="512,2000,10000", help="comma-separated rows to classify"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timings per cell (the median is reported)"
    )
    parser.add_argument(
        "--learners",
        default="default",
        help="comma-separated in-context learners to time side by side: 'default' (the shipped one) or checkpoint "
        "paths, e.g. default,campaigns/in-context-v2/last.pt (rows are named icl, icl:<file>)",
    )


def _table(n: int, seed: int) -> tuple[Any, np.ndarray]:
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 20))
    y = (X[:, 0] + np.sin(2 * X[:, 1]) + 0.5 * rng.standard_normal(n) > 0).astype(int)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(20)]), y


def _cpu(fn: Any, *args: Any) -> float:
    """CPU seconds of this process spent in ``fn(*args)``."""
    t0 = time.process_time()
    fn(*args)
    return time.process_time() - t0


def compute(args: argparse.Namespace) -> BenchResult:
    import torch
    from sklearn.ensemble import RandomForestClassifier

    from autometa import AutoMetaClassifier

    torch.set_num_threads(1)
    supports = [int(s) for s in str(args.support).split(",") if s]
    queries = [int(s) for s in str(args.query).split(",") if s]
    if args.quick:
        supports, queries = supports[:2], queries[:2]
    repeats = max(1, int(args.repeats))
    learners = [s for s in str(getattr(args, "learners", "default")).split(",") if s]
    names = {src: "icl" if src == "default" else f"icl:{src}" for src in learners}
    rows = []
    for n in supports:
        X, y = _table(n + max(queries), seed=n)
        Xtr, ytr = X.iloc[:n], y[:n]
        for q in queries:
            Xte = X.iloc[n : n + q]
            cells = {name: {"fit": [], "predict": []} for name in [*names.values(), "rf300"]}
            for r in range(repeats):
                ests = [(names[src], AutoMetaClassifier(members=["icl"], in_context_learner=src, random_state=r))
                        for src in learners]  # fmt: skip
                ests.append(("rf300", RandomForestClassifier(300, n_jobs=1, random_state=r)))
                for name, est in ests:
                    cells[name]["fit"].append(_cpu(est.fit, Xtr, ytr))
                    cells[name]["predict"].append(_cpu(est.predict_proba, Xte))
            for name, c in cells.items():
                rows.append({"estimator": name, "support": n, "query": q,
                             "fit_s": statistics.median(c["fit"]), "predict_s": statistics.median(c["predict"])})  # fmt: skip
    summary: dict[str, Any] = {}
    if len(queries) > 1:
        lo, hi = min(queries), max(queries)
        for name in [*names.values(), "rf300"]:
            for n in supports:
                at = {
                    r["query"]: r["predict_s"]
                    for r in rows
                    if r["estimator"] == name and r["support"] == n
                }
                summary[f"{name}_predict_growth@support={n}"] = at[hi] / max(at[lo], 1e-9)
        summary["query_rows_growth"] = hi / lo
    return BenchResult(
        name="in-context",
        rows=rows,
        columns=["estimator", "support", "query", "fit_s", "predict_s"],
        key_columns=["estimator", "support", "query"],
        params={
            "support": supports,
            "query": queries,
            "repeats": repeats,
            "threads": 1,
            "learners": learners,
        },
        summary=summary,
        notes=["CPU seconds of this process (one torch/BLAS thread), median over repeats"],
    )
