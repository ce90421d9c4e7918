"""Warm-start a study from a past one with the OptunaHub package ``samplers/autometa``.

Run from the repository root::

    python plugins/optunahub/samplers/autometa/example.py
"""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import optunahub


def objective(trial: optuna.Trial, shift: float) -> float:
    x = trial.suggest_float("x", -5.0, 10.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    return (x - 2.0 - shift) ** 2 + (math.log10(lr) + 3.0) ** 2 + 0.5 * (layers - 2) ** 2


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    registry_root = Path(__file__).resolve().parents[2]  # plugins/optunahub
    module = optunahub.load_local_module(
        package="samplers/autometa", registry_root=str(registry_root)
    )

    # 1. A past study on a related task (in practice: optuna.load_study from your storage).
    past = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    past.optimize(lambda t: objective(t, shift=0.0), n_trials=40)

    # 2. A new, related task, warm-started from the past study.
    study = optuna.create_study(sampler=module.MetaSampler(source_studies=[past], seed=0))
    study.optimize(lambda t: objective(t, shift=0.5), n_trials=15)
    print(f"best value after 15 trials: {study.best_value:.4f} with {study.best_params}")


if __name__ == "__main__":
    main()
