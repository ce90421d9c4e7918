"""``autometa bench classifier``: AutoMetaClassifier against the small-data peers.

Protocol (BENCHMARKS.md): for each evaluation data set (dev sets held out of everything the
classifier's shipped parts were trained on, see :mod:`autometa.estimators._dev_data`) and
each ``n_train`` in {32, 128, 512} (when the set has at least ``n_train + 100`` rows), 5
seeds of a stratified subsample; the rest (at most 2,000 rows) is the test set. Metrics:
ROC-AUC (macro one-vs-rest), log-loss, accuracy, fit+predict wall time. Each row of the table
is one estimator at one size: mean metrics, median time and the mean rank by ROC-AUC among
the estimators of the run (rank 1 is best, averaged over data sets and seeds).

Peers: LogisticRegression, RandomForest(300), HistGradientBoosting (defaults), kNN(7),
SVC(probability=True) (one-hot + standardized inputs for the linear/distance/kernel models,
ordinal codes for the trees) and FLAML's zero-shot ``flaml.default.LGBMClassifier``.

``--ablation`` adds AutoMetaClassifier variants (classical members only, neural member only,
meta-learned vs random initialization, no view ensemble, uniform vs learned combination).
``--raw PATH`` writes every per-cell result as JSON lines; ``--reuse PATH`` loads such a file
and skips the (estimator, data set, size, seed) cells it already holds, so peers and
variants can run in separate processes and be reported together.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from autometa._metrics import mean_ovr_auc
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
from autometa.tasks._cells import Cell, held_out_cells

DESCRIPTION = __doc__

PEERS = ("logreg", "rf300", "hgb", "knn7", "svc", "flaml_lgbm")
MAIN = ("autometa", *PEERS)
ABLATION = (
    "autometa",
    "am_icl_only",
    "am_with_neural",
    "am_classical",
    "am_plus_metalstm",
    "am_plus_augment",
    "am_no_view_ensemble",
    "am_uniform",
    "am_prior",
    "am_evidence",
    "am_neural_only",
    "am_hypernet_only",
    "am_neural_random_init",
)
CLASSICAL = ["et", "gbm", "knn", "lr", "rf"]
#: the row of the best peer per data set picked with hindsight (see :func:`hindsight_rows`)
HINDSIGHT = "best_peer_hindsight"
#: the Meta-LSTM learner meta-trained WITHOUT augmentation, for the "+ Meta-LSTM member" row
ABLATION_CHECKPOINT = "runs/ablation-meta-lstm/neural/best.pt"
ABLATION_COMMAND = (
    "python -m autometa.estimators.train_default --stage neural --learner meta-lstm --ship none "
    "--steps 1500 --out runs/ablation-meta-lstm"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="32,128,512", help="comma-separated n_train values")
    parser.add_argument(
        "--datasets",
        default=None,
        help="comma-separated dev data sets (default: the held-out evaluation sets)",
    )
    parser.add_argument(
        "--estimators",
        default=None,
        help=f"comma-separated subset of {list(MAIN) + list(ABLATION[1:])}",
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="run the AutoMetaClassifier ablation variants instead of the peers",
    )
    parser.add_argument("--max-test", type=int, default=2000, help="largest test set")
    parser.add_argument("--raw", metavar="PATH", help="write per-cell results as JSON lines")
    parser.add_argument(
        "--reuse",
        metavar="PATH",
        action="append",
        default=[],
        help="per-cell results to reuse (repeatable)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="only summarize the --reuse results (run nothing)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core CPU)"
    )
    add_learner_arguments(parser, "AutoMetaClassifier")
    parser.add_argument("--ablation-checkpoint", default=ABLATION_CHECKPOINT,
                        help=f"Meta-LSTM learner trained without augmentation, for am_plus_metalstm "
                             f"(made by `{ABLATION_COMMAND}`)")  # fmt: skip


# ----------------------------------------------------------------------------- estimators
def _split_columns(X: Any) -> tuple[list[str], list[str]]:
    import pandas as pd

    cat = [
        c
        for c in X.columns
        if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
    ]
    return [c for c in X.columns if c not in cat], cat


def linear_preprocessing(X: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num, cat = _split_columns(X)
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                cat,
            ),
        ],
        sparse_threshold=0.0,
    )


def tree_preprocessing(X: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    num, cat = _split_columns(X)
    return ColumnTransformer(
        [
            ("num", "passthrough", num),
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
                cat,
            ),
        ]
    )


def _random_init_checkpoint() -> str:
    """A checkpoint with the shipped learner's architecture but no meta-training (same seed)."""

    import torch

    from autometa.estimators import load_classifier_meta_learner
    from autometa.meta import build_learner, save_meta_learner

    shipped = load_classifier_meta_learner("default")
    shipped = getattr(shipped, "base", shipped)  # the bare learner, without an augmentation policy
    torch.manual_seed(0)
    learner = build_learner(shipped.algo, **shipped.get_config())
    path = Path(tempfile.gettempdir()) / "autometa_bench_random_init.pt"
    save_meta_learner(learner, path, metadata={"note": "untrained, for the ablation"})
    return str(path)


def _ablation_checkpoint(path: str) -> str:
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"am_plus_metalstm needs the Meta-LSTM learner meta-trained without augmentation at {path}; "
            f"make it with `{ABLATION_COMMAND}` or pass --ablation-checkpoint PATH."
        )
    return path


def make_estimator(
    name: str,
    X: Any,
    seed: int,
    ablation_checkpoint: str = ABLATION_CHECKPOINT,
    overrides: dict[str, Any] | None = None,
) -> Any:
    """A fresh estimator (with its preprocessing) for one benchmark cell.

    ``overrides`` are ``AutoMetaClassifier`` parameters set on every AutoMetaClassifier variant
    (``--in-context-learner``, ``--n-ensemble``); the peers ignore them.

    ``am_icl_only`` is the in-context member alone; ``am_with_neural`` the default members plus
    the opt-in Meta-LSTM and hypernetwork members (the shipped portfolio has no weights for
    them, so that blend is uniform; compare it with ``am_uniform``).
    The older ablation variants, cumulative: ``am_classical`` (classical members only),
    ``am_plus_metalstm`` (+ a Meta-LSTM member meta-trained without augmentation),
    ``am_plus_augment`` (+ the shipped Meta-LSTM member, meta-trained with and adapted on
    policy-augmented rows), ``autometa`` (+ the hypernetwork member), then
    ``am_no_view_ensemble`` (one view per neural member instead of 8) and ``am_uniform``
    (equal instead of learned weights). ``am_prior`` and ``am_evidence`` are the combiner's
    ablations: the meta-learned portfolio weights alone, and greedy ensemble selection on
    out-of-fold predictions alone (``blend="prior"`` / ``"evidence"``).
    """
    from autometa.estimators import AutoMetaClassifier

    est = _make_estimator(name, X, seed, ablation_checkpoint)
    if overrides and isinstance(est, AutoMetaClassifier):
        est.set_params(**overrides)
    return est


def _make_estimator(name: str, X: Any, seed: int, ablation_checkpoint: str) -> Any:
    """:func:`make_estimator` before the overrides."""
    from sklearn.pipeline import make_pipeline

    from autometa.estimators import AutoMetaClassifier

    if name == "autometa":
        return AutoMetaClassifier(random_state=seed)
    if name == "am_icl_only":
        return AutoMetaClassifier(members=["icl"], random_state=seed)
    if name == "am_with_neural":
        return AutoMetaClassifier(members=["icl", "neural", "hypernet", *CLASSICAL], blend="uniform",
                                  random_state=seed)  # fmt: skip
    if name == "am_classical":
        return AutoMetaClassifier(members=CLASSICAL, random_state=seed)
    if name == "am_plus_metalstm":
        path = _ablation_checkpoint(ablation_checkpoint)
        return AutoMetaClassifier(
            members=["neural", *CLASSICAL], meta_learner=path, random_state=seed
        )
    if name == "am_plus_augment":
        return AutoMetaClassifier(members=["neural", *CLASSICAL], random_state=seed)
    if name == "am_hypernet_only":
        return AutoMetaClassifier(members=["hypernet"], random_state=seed)
    if name == "am_uniform":
        return AutoMetaClassifier(blend="uniform", random_state=seed)
    if name in (
        "am_prior",
        "am_evidence",
    ):  # the combiner's two ends: portfolio weights alone / selection alone
        return AutoMetaClassifier(blend=name[3:], random_state=seed)
    if name == "am_neural_only":
        return AutoMetaClassifier(members=["neural"], random_state=seed)
    if name == "am_neural_random_init":
        return AutoMetaClassifier(
            members=["neural"], meta_learner=_random_init_checkpoint(), random_state=seed
        )
    if name == "am_no_view_ensemble":
        return AutoMetaClassifier(n_ensemble=1, random_state=seed)
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        return make_pipeline(linear_preprocessing(X), LogisticRegression(max_iter=1000))
    if name == "rf300":
        from sklearn.ensemble import RandomForestClassifier

        return make_pipeline(
            tree_preprocessing(X),
            RandomForestClassifier(n_estimators=300, n_jobs=1, random_state=seed),
        )
    if name == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return make_pipeline(
            tree_preprocessing(X), HistGradientBoostingClassifier(random_state=seed)
        )
    if name == "knn7":
        from sklearn.neighbors import KNeighborsClassifier

        return make_pipeline(linear_preprocessing(X), KNeighborsClassifier(n_neighbors=7))
    if name == "svc":
        from sklearn.svm import SVC

        return make_pipeline(linear_preprocessing(X), SVC(probability=True, random_state=seed))
    if name == "flaml_lgbm":
        from flaml.default import LGBMClassifier

        return make_pipeline(
            tree_preprocessing(X), LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1)
        )
    raise ValueError(f"Unknown estimator {name!r}; known: {list(MAIN) + list(ABLATION[1:])}.")


# ----------------------------------------------------------------------------- metrics
def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray
) -> dict[str, float]:
    from sklearn.metrics import log_loss

    idx = np.searchsorted(classes, y_true)
    proba = np.clip(proba, 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return {
        "roc_auc": mean_ovr_auc(idx, proba),
        "log_loss": float(log_loss(idx, proba, labels=range(len(classes)))),
        "accuracy": float(np.mean(np.argmax(proba, axis=1) == idx)),
    }


def _cells(datasets: list[str], sizes: list[int], n_seeds: int, max_test: int) -> Iterator[Cell]:
    # seeds outermost: a run stopped early still covers every data set and size
    return held_out_cells(datasets, sizes, range(n_seeds), n_test=max_test, sampler="stratified", salt="table",
                          spare=100, seeds_outer=True)  # fmt: skip


def fit_predict_timed(
    est: Any, X_train: Any, y_train: Any, X_test: Any
) -> tuple[np.ndarray, float]:
    """``est.fit`` then ``est.predict_proba`` (warnings silenced); the probabilities and the seconds taken."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X_train, y_train)
        proba = est.predict_proba(X_test)
        return proba, time.perf_counter() - t0


def run_cells(
    estimators: list[str],
    datasets: list[str],
    sizes: list[int],
    n_seeds: int,
    max_test: int,
    done: set[tuple[str, str, int, int]],
    sink: Callable[[dict[str, Any]], None],
    ablation_checkpoint: str = ABLATION_CHECKPOINT,
    overrides: dict[str, Any] | None = None,
) -> None:
    for name, n, seed, Xtr, ytr, Xte, yte in _cells(datasets, sizes, n_seeds, max_test):
        classes = np.unique(ytr)
        for est_name in estimators:
            if (est_name, name, n, seed) in done:
                continue
            est = make_estimator(est_name, Xtr, seed, ablation_checkpoint, overrides)
            proba, elapsed = fit_predict_timed(est, Xtr, ytr, Xte)
            est_classes = np.asarray(getattr(est, "classes_", classes))
            full = np.zeros((len(yte), len(classes)))
            full[:, np.searchsorted(classes, est_classes)] = proba
            rec = {"estimator": est_name, "dataset": name, "n_train": n, "seed": seed,
                   "n_test": int(len(yte)), "time_s": elapsed, **classification_metrics(yte, full, classes)}  # fmt: skip
            sink(rec)


def hindsight_rows(records: list[dict[str, Any]], peers: list[str]) -> list[dict[str, Any]]:
    """The best peer picked per data set with hindsight: one row per ``n_train``.

    For each (data set, ``n_train``) the peer with the highest mean ROC-AUC over the seeds is
    chosen after seeing the test results; the row holds the mean over data sets of that
    peer's AUC (a bar no single peer reaches, and no user can pick without the test set).
    """
    out = []
    for n, best in hindsight_peer(records, peers, "roc_auc").items():
        out.append({"n_train": n, "estimator": HINDSIGHT, "roc_auc": float(np.mean([b["roc_auc"] for b in best])),
                    "log_loss": float("nan"), "accuracy": float("nan"), "median_time_s": float("nan"),
                    "mean_rank": float("nan"), "cells": len(best)})  # fmt: skip
    return out


def summarize(
    records: list[dict[str, Any]], estimators: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Mean metrics, median time and mean AUC rank per (estimator, n_train)."""
    complete = complete_cells(records, estimators)  # only cells where every estimator ran
    sizes = sorted({r["n_train"] for r in records})
    rows = mean_rows(complete, "roc_auc", sizes, estimators, ("roc_auc", "log_loss", "accuracy"))
    rows += hindsight_rows(records, [e for e in estimators if e in PEERS])
    summary: dict[str, Any] = {}
    for n in sizes:
        at = {r["estimator"]: r for r in rows if r["n_train"] == n and r["estimator"] != HINDSIGHT}
        if "autometa" in at:
            others = {e: r for e, r in at.items() if e != "autometa"}
            if others:
                best_auc = max(r["roc_auc"] for r in others.values())
                summary[f"auc_margin_vs_best_other@{n}"] = at["autometa"]["roc_auc"] - best_auc
                summary[f"best_mean_rank@{n}"] = min(at, key=lambda e: at[e]["mean_rank"])
            hindsight = [r for r in rows if r["n_train"] == n and r["estimator"] == HINDSIGHT]
            if hindsight:
                summary[f"auc_margin_vs_hindsight_peer@{n}"] = (
                    at["autometa"]["roc_auc"] - hindsight[0]["roc_auc"]
                )
            if "hgb" in at:
                summary[f"time_ratio_to_hgb@{n}"] = at["autometa"]["median_time_s"] / max(
                    at["hgb"]["median_time_s"], 1e-9
                )
    return rows, summary


def compute(args: argparse.Namespace) -> BenchResult:
    import torch

    from autometa.estimators._dev_data import EVALUATION

    torch.set_num_threads(int(args.threads))  # a long benchmark script, not library code
    sizes, datasets, n_seeds = held_out_protocol(args, EVALUATION)
    if args.estimators:
        estimators = [e.strip() for e in args.estimators.split(",") if e.strip()]
    else:
        estimators = list(ABLATION if args.ablation else MAIN)

    def describe(rec: dict[str, Any]) -> str:
        return (f"{rec['estimator']:>22} {rec['dataset']:>20} n={rec['n_train']:<4} seed={rec['seed']} "
                f"auc={rec['roc_auc']:.4f} t={rec['time_s']:.2f}s")  # fmt: skip

    overrides = autometa_overrides(args)
    with CellRecords(args.reuse, args.raw, describe) as store:
        if not getattr(args, "report_only", False):
            run_cells(estimators, datasets, sizes, n_seeds, int(args.max_test), store.done, store.add,
                      getattr(args, "ablation_checkpoint", ABLATION_CHECKPOINT), overrides)  # fmt: skip
    all_estimators = list(dict.fromkeys([*estimators, *(r["estimator"] for r in store.records)]))
    if args.estimators:  # report exactly the requested estimators (reused files may hold more)
        all_estimators = estimators
    rows, summary = summarize(store.select(sizes, datasets, n_seeds), all_estimators)
    return BenchResult(
        name="classifier",
        rows=rows,
        columns=[
            "n_train",
            "estimator",
            "roc_auc",
            "log_loss",
            "accuracy",
            "median_time_s",
            "mean_rank",
            "cells",
        ],
        key_columns=["n_train", "estimator"],
        params={
            **held_out_params(args, sizes, datasets, n_seeds, all_estimators),
            **({"autometa_overrides": overrides} if overrides else {}),
        },
        summary=summary,
        notes=[
            "evaluation data sets are dev sets held out of the checkpoint's meta-training and of the portfolio",
            "mean_rank: rank by ROC-AUC among the estimators of this table per (data set, n_train, seed), averaged",
        ],
    )
