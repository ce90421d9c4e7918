"""``autometa bench regressor``: AutoMetaRegressor against the small-data regression peers.

Protocol (BENCHMARKS.md, issue 14): for each evaluation table
(:data:`autometa.tasks.roles.REGRESSOR_EVALUATION`: dev regression tables held out of
everything the regressor's shipped parts were trained or tuned on) and each ``n_train`` in
{32, 128, 512} (when the table has at least ``n_train + 50`` rows), 5 seeds of a random
subsample; the rest (at most 2,000 rows) is the test set. Metrics per cell:

* ``r2``; ``nrmse``: RMSE divided by the test targets' standard deviation;
* ``crps``: the continuous ranked probability score approximated from 19 predicted quantiles
  (levels 0.05, 0.10, ..., 0.95: twice the mean pinball loss), divided by the test targets'
  standard deviation (lower is better);
* ``cover80``: share of test targets inside the predicted central 80% interval (q 0.1 to 0.9);
* ``time_s``: fit + predict wall time (the peers' spread, below, is not timed).

Peers (one-hot + standardized inputs for the linear/distance/kernel models, ordinal codes for
the trees): RidgeCV, RandomForest(300), HistGradientBoosting (defaults), kNN(7), SVR (on a
standardized target) and FLAML's zero-shot ``flaml.default.LGBMRegressor``. A peer's spread is
a Gaussian around its prediction with the standard deviation of its 3-fold cross-validated
residuals on the training rows (the same recipe for every peer). Each summary row is one
estimator at one size: mean metrics, median time and the mean rank by R² (rank 1 is best);
``best_peer_hindsight`` is, per table and size, the peer with the best mean R² chosen after
seeing the test results, averaged over tables.

Estimators ``am_uniform`` (equal blend weights), ``am_no_icl`` (without the in-context member),
``am_no_maml`` (without the MAML member), ``am_classical`` (classical members only),
``am_icl_only`` (the in-context member alone), ``am_maml_only``, ``am_prior`` (the meta-learned
prior weights alone), ``am_evidence`` (greedy ensemble selection on out-of-fold predictions
alone, from uniform), ``am_oob_spread`` (one spread for every row) and ``am_unbounded``
(``extrapolate=True``) are the ablation. ``--raw PATH`` writes every
cell as a JSON line; ``--reuse PATH`` skips the cells a file already holds.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from autometa.bench._common import (
    BenchResult,
    CellRecords,
    add_learner_arguments,
    autometa_overrides,
    complete_cells,
    held_out_params,
    held_out_protocol,
    hindsight_peer,
    mean_rows,
)
from autometa.bench.classifier import linear_preprocessing, tree_preprocessing
from autometa.tasks._cells import Cell, held_out_cells

DESCRIPTION = __doc__

PEERS = ("ridge", "rf300", "hgb", "knn7", "svr", "flaml_lgbm")
MAIN = ("autometa", *PEERS)
ABLATION = {"am_uniform": {"blend": "uniform"}, "am_no_icl": {"in_context_learner": None},
            "am_no_maml": {"maml_learner": None}, "am_classical": {"in_context_learner": None, "maml_learner": None},
            "am_icl_only": {"members": ["icl"]}, "am_maml_only": {"members": ["maml"]},
            "am_prior": {"blend": "prior"}, "am_evidence": {"blend": "evidence"}, "am_oob_spread": {"spread": "oob"},
            "am_unbounded": {"extrapolate": True}}  # fmt: skip
HINDSIGHT = "best_peer_hindsight"
LEVELS = np.round(np.arange(1, 20) * 0.05, 2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="32,128,512", help="comma-separated n_train values")
    parser.add_argument(
        "--datasets", default=None, help="comma-separated tables (default: REGRESSOR_EVALUATION)"
    )
    parser.add_argument(
        "--estimators", default=None, help=f"comma-separated subset of {[*MAIN, *ABLATION]}"
    )
    parser.add_argument("--max-test", type=int, default=2000, help="largest test set")
    parser.add_argument("--raw", metavar="PATH", help="write per-cell results as JSON lines")
    parser.add_argument(
        "--reuse", metavar="PATH", action="append", default=[], help="per-cell results to reuse"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core CPU)"
    )
    add_learner_arguments(parser, "AutoMetaRegressor")


class GaussianPeer:
    """A scikit-learn regressor plus a Gaussian spread from its cross-validated residuals."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make

    def fit(self, X: Any, y: np.ndarray) -> GaussianPeer:
        self.model_ = self.make().fit(X, y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.model_.predict(X), dtype=np.float64)

    def fit_spread(self, X: Any, y: np.ndarray) -> None:
        from sklearn.model_selection import KFold, cross_val_predict

        folds = KFold(n_splits=min(3, len(y)), shuffle=True, random_state=0)
        resid = y - cross_val_predict(self.make(), X, y, cv=folds)
        self.sigma_ = float(np.sqrt(np.mean(resid**2))) or 1e-9

    def predict_quantiles(self, X: Any, q: Any) -> np.ndarray:
        from scipy.stats import norm

        return self.predict(X)[:, None] + norm.ppf(np.asarray(q))[None, :] * self.sigma_


def _standardized_svr() -> Any:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    return TransformedTargetRegressor(SVR(), transformer=StandardScaler())


def make_estimator(name: str, X: Any, seed: int, overrides: dict[str, Any] | None = None) -> Any:
    """The estimator behind a bench name (peers get their spread wrapper).

    ``overrides`` (``--in-context-learner``, ``--n-ensemble``) are set on every
    ``AutoMetaRegressor`` variant, except where the variant itself leaves the learner out
    (``am_no_icl``, ``am_classical``); the peers ignore them.
    """
    from sklearn.pipeline import make_pipeline

    if name == "autometa" or name in ABLATION:
        from autometa import AutoMetaRegressor

        params = {**(overrides or {}), **ABLATION.get(name, {})}
        return AutoMetaRegressor(random_state=seed, n_jobs=1, **params)
    n = len(X)
    if name == "ridge":
        from sklearn.linear_model import RidgeCV

        return GaussianPeer(
            lambda: make_pipeline(linear_preprocessing(X), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        )
    if name == "rf300":
        from sklearn.ensemble import RandomForestRegressor

        return GaussianPeer(lambda: make_pipeline(tree_preprocessing(X),
                                                  RandomForestRegressor(300, n_jobs=1, random_state=seed)))  # fmt: skip
    if name == "hgb":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return GaussianPeer(
            lambda: make_pipeline(
                tree_preprocessing(X), HistGradientBoostingRegressor(random_state=seed)
            )
        )
    if name == "knn7":
        from sklearn.neighbors import KNeighborsRegressor

        k = max(1, min(7, n // 2))
        return GaussianPeer(lambda: make_pipeline(linear_preprocessing(X), KNeighborsRegressor(k)))
    if name == "svr":
        return GaussianPeer(lambda: make_pipeline(linear_preprocessing(X), _standardized_svr()))
    if name == "flaml_lgbm":
        try:
            from flaml.default import LGBMRegressor
        except ImportError as exc:  # pragma: no cover - installed with the bench extra
            raise ValueError("flaml_lgbm needs `pip install 'flaml[autozero]'`.") from exc

        return GaussianPeer(lambda: make_pipeline(tree_preprocessing(X), LGBMRegressor(random_state=seed, n_jobs=1,
                                                                                      verbose=-1)))  # fmt: skip
    raise ValueError(f"Unknown estimator {name!r}; choose from {[*MAIN, *ABLATION]}.")


def regression_metrics(y: np.ndarray, mean: np.ndarray, quantiles: np.ndarray) -> dict[str, float]:
    """R², normalized RMSE, normalized CRPS (from the :data:`LEVELS` quantiles) and 80% coverage."""
    sd = float(np.std(y)) or 1.0
    mse = float(np.mean((y - mean) ** 2))
    diff = y[:, None] - quantiles
    pinball = np.mean(np.maximum(LEVELS * diff, (LEVELS - 1) * diff))
    lo, hi = quantiles[:, list(LEVELS).index(0.1)], quantiles[:, list(LEVELS).index(0.9)]
    return {
        "r2": 1.0 - mse / sd**2,
        "nrmse": float(np.sqrt(mse)) / sd,
        "crps": 2.0 * float(pinball) / sd,
        "cover80": float(np.mean((y >= lo) & (y <= hi))),
        # how much the 80% interval's width varies from row to row (0: the same width everywhere)
        "width80_cv": float(np.std(hi - lo) / max(float(np.mean(hi - lo)), 1e-300)),
    }


def _cells(datasets: list[str], sizes: list[int], n_seeds: int, max_test: int) -> Iterator[Cell]:
    # seeds outermost: a run stopped early covers every table and size
    return held_out_cells(datasets, sizes, range(n_seeds), n_test=max_test, sampler="random", salt="table",
                          seeds_outer=True)  # fmt: skip


def run_cells(estimators, datasets, sizes, n_seeds, max_test, done, sink, overrides=None) -> None:
    for name, n, seed, Xtr, ytr, Xte, yte in _cells(datasets, sizes, n_seeds, max_test):
        for est_name in estimators:
            if (est_name, name, n, seed) in done:
                continue
            est = make_estimator(est_name, Xtr, seed, overrides)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                est.fit(Xtr, ytr)
                mean = est.predict(Xte)
                elapsed = time.perf_counter() - t0
                if isinstance(est, GaussianPeer):
                    est.fit_spread(Xtr, ytr)
                quantiles = est.predict_quantiles(Xte, LEVELS)
            sink({"estimator": est_name, "dataset": name, "n_train": n, "seed": seed, "n_test": int(len(yte)),
                  "time_s": elapsed, **regression_metrics(yte, mean, quantiles)})  # fmt: skip


def hindsight_rows(records: list[dict[str, Any]], peers: list[str]) -> list[dict[str, Any]]:
    """Per size: the mean over tables of the best peer's mean R² (picked after seeing the test results)."""
    out = []
    for n, best in hindsight_peer(records, peers, "r2", also=("nrmse",)).items():
        out.append({"n_train": n, "estimator": HINDSIGHT, "r2": float(np.mean([b["r2"] for b in best])),
                    "nrmse": float(np.mean([b["nrmse"] for b in best])), "crps": float("nan"), "cover80": float("nan"),
                    "median_time_s": float("nan"), "mean_rank": float("nan"), "cells": len(best)})  # fmt: skip
    return out


def summarize(
    records: list[dict[str, Any]], estimators: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Mean metrics, median time and mean R² rank per (estimator, n_train), plus the hindsight row."""
    complete = complete_cells(records, estimators)
    sizes = sorted({n for _, n, _ in complete})
    rows = mean_rows(complete, "r2", sizes, estimators, ("r2", "nrmse", "crps", "cover80"),
                     optional=("width80_cv",))  # fmt: skip
    rows += hindsight_rows([r for r in records if (r["dataset"], r["n_train"], r["seed"]) in complete],
                           [e for e in estimators if e in PEERS])  # fmt: skip
    summary: dict[str, Any] = {}
    for n in sizes:
        at = {r["estimator"]: r for r in rows if r["n_train"] == n and r["estimator"] != HINDSIGHT}
        peers = {e: r for e, r in at.items() if e in PEERS}
        if "autometa" in at and peers:
            summary[f"r2_margin_vs_best_peer@{n}"] = at["autometa"]["r2"] - max(
                r["r2"] for r in peers.values()
            )
            summary[f"best_mean_rank@{n}"] = min(at, key=lambda e: at[e]["mean_rank"])
            cells = [c for (_, nn, _), c in complete.items() if nn == n]
            summary[f"cells_below_worst_peer@{n}"] = sum(
                c["autometa"]["r2"] < min(c[e]["r2"] for e in peers) for c in cells
            )
            hind = [r for r in rows if r["n_train"] == n and r["estimator"] == HINDSIGHT]
            if hind:
                summary[f"r2_margin_vs_hindsight_peer@{n}"] = at["autometa"]["r2"] - hind[0]["r2"]
    return rows, summary


def compute(args: argparse.Namespace) -> BenchResult:
    import torch

    from autometa.tasks.roles import REGRESSOR_EVALUATION

    torch.set_num_threads(int(args.threads))  # a long benchmark script, not library code
    sizes, datasets, n_seeds = held_out_protocol(args, REGRESSOR_EVALUATION)
    estimators = (
        [e.strip() for e in args.estimators.split(",") if e.strip()]
        if args.estimators
        else list(MAIN)
    )
    unknown = [e for e in estimators if e not in (*MAIN, *ABLATION)]
    if unknown:
        raise ValueError(f"Unknown estimator(s) {unknown}; choose from {[*MAIN, *ABLATION]}.")

    def describe(rec: dict[str, Any]) -> str:
        return (f"{rec['estimator']:>12} {rec['dataset']:>30} n={rec['n_train']:<4} seed={rec['seed']} "
                f"r2={rec['r2']:.4f} t={rec['time_s']:.2f}s")  # fmt: skip

    overrides = autometa_overrides(args)
    with CellRecords(args.reuse, args.raw, describe) as store:
        run_cells(estimators, datasets, sizes, n_seeds, int(args.max_test), store.done, store.add,
                  overrides)  # fmt: skip
    rows, summary = summarize(store.select(sizes, datasets, n_seeds), estimators)
    return BenchResult(
        name="regressor",
        rows=rows,
        columns=[
            "n_train",
            "estimator",
            "r2",
            "nrmse",
            "crps",
            "cover80",
            "width80_cv",
            "median_time_s",
            "mean_rank",
            "cells",
        ],  # fmt: skip
        key_columns=["n_train", "estimator"],
        params={
            **held_out_params(args, sizes, datasets, n_seeds, estimators),
            **({"autometa_overrides": overrides} if overrides else {}),
        },
        summary=summary,
        notes=[
            "evaluation tables: dev regression tables held out of the regressor's meta-training and blend fitting",
            "crps and nrmse are divided by the test targets' standard deviation; cover80 should be near 0.8",
            "peers' spread: Gaussian with their 3-fold cross-validated residual scale (not timed)",
        ],
    )
