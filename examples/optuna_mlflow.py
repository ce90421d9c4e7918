"""Tune a scikit-learn model with MetaSampler and log every trial to MLflow.

Each trial becomes an MLflow run (parameters and cross-validated accuracy) in the default local
store of autometa (``./mlruns/mlflow.db``, or ``$MLFLOW_TRACKING_URI``), through
optuna-integration's ``MLflowCallback``. Look at the runs with::

    mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db

Run::

    python examples/optuna_mlflow.py --n-trials 20
"""

from __future__ import annotations

import argparse

import optuna
from optuna_integration import MLflowCallback
from sklearn.datasets import load_wine
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_score

from autometa.optuna import MetaSampler
from autometa.tracking import default_tracking_uri


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--experiment", default="autometa-optuna-example", help="study and MLflow experiment name"
    )
    args = parser.parse_args()

    X, y = load_wine(return_X_y=True)

    def objective(trial: optuna.Trial) -> float:
        model = HistGradientBoostingClassifier(
            learning_rate=trial.suggest_float("learning_rate", 1e-3, 1.0, log=True),
            max_leaf_nodes=trial.suggest_int("max_leaf_nodes", 4, 64, log=True),
            min_samples_leaf=trial.suggest_int("min_samples_leaf", 2, 40, log=True),
            l2_regularization=trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
            max_iter=100,
            random_state=args.seed,
        )
        return float(cross_val_score(model, X, y, cv=3, scoring="accuracy").mean())

    uri = default_tracking_uri()
    # MLflowCallback logs into the MLflow experiment named after the study.
    callback = MLflowCallback(tracking_uri=uri, metric_name="cv_accuracy")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=args.experiment, direction="maximize", sampler=MetaSampler(seed=args.seed)
    )
    study.optimize(objective, n_trials=args.n_trials, callbacks=[callback])
    print(f"best cv accuracy {study.best_value:.4f} with {study.best_params}")
    print(f"{len(study.trials)} trials logged to MLflow at {uri} (experiment {args.experiment!r})")


if __name__ == "__main__":
    main()
