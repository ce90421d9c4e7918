"""Cost per trial, by counting work (never by timing): bounded GP size, each trial encoded once."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from autometa.optuna import MetaSampler
from autometa.optuna import _gp as gp_module
from autometa.optuna._gp import gp_window
from autometa.optuna._space import NormalizedSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)
N_HISTORY = 300


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    k = trial.suggest_int("k", 1, 32, log=True)
    c = trial.suggest_categorical("c", ["a", "b"])
    return (x - 1.0) ** 2 + 0.1 * k + (c == "a")


@pytest.fixture(scope="module")
def history() -> list[optuna.trial.FrozenTrial]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(_objective, n_trials=N_HISTORY)
    return study.get_trials(deepcopy=False)


def test_gp_window_keeps_the_best_half_and_is_seeded() -> None:
    z = np.random.default_rng(0).standard_normal(1000)
    a = gp_window(z, 100, np.random.default_rng(1))
    b = gp_window(z, 100, np.random.default_rng(1))
    assert a.shape == (100,) and np.array_equal(a, b) and np.all(np.diff(a) > 0)
    assert set(np.argsort(z)[:50]) <= set(a)
    assert np.array_equal(gp_window(z[:80], 100, np.random.default_rng(1)), np.arange(80))


def test_study_gp_size_is_bounded(history, monkeypatch) -> None:
    sizes: list[int] = []
    original = gp_module.GP.fit

    def counting_fit(self, x, y):
        sizes.append(len(y))
        return original(self, x, y)

    monkeypatch.setattr(gp_module.GP, "fit", counting_fit)
    study = optuna.create_study(sampler=MetaSampler(seed=0, knowledge=None))
    study.add_trials(history)
    study.optimize(_objective, n_trials=3)
    from autometa.optuna._sampler import _MAX_GP_POINTS

    assert sizes and max(sizes) <= _MAX_GP_POINTS < N_HISTORY


def test_each_finished_trial_is_encoded_once(history, monkeypatch) -> None:
    calls = [0]
    original = NormalizedSpace.internal_from_params

    def counting(self, params):
        calls[0] += 1
        return original(self, params)

    monkeypatch.setattr(NormalizedSpace, "internal_from_params", counting)
    study = optuna.create_study(sampler=MetaSampler(seed=0, knowledge=None))
    study.add_trials(history)
    study.optimize(_objective, n_trials=1)
    first = calls[0]
    assert first >= N_HISTORY  # the first proposal reads the whole history
    calls[0] = 0
    study.optimize(_objective, n_trials=5)
    # Later proposals encode only new trials (plus a few per trial for bookkeeping), not 300 each.
    assert calls[0] <= 5 * 10
