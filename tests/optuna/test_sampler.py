"""Behaviour of MetaSampler beyond Optuna's contract suites."""

from __future__ import annotations

import copy
import math
import pickle
import subprocess
import sys

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from autometa.optuna import MetaKnowledge, MetaSampler, TuningTask, task_from_study
from autometa.optuna._space import NormalizedSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", 1e-3, 1e3, log=True)
    k = trial.suggest_int("k", 0, 10)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    return (x - 1.5) ** 2 + (math.log10(y) - 1.0) ** 2 + 0.1 * (k - 7) ** 2 + (c != "b")


def _params(study: optuna.Study) -> list[dict]:
    return [t.params for t in study.trials]


def _run(seed: int | None, n_trials: int = 14, **kwargs) -> optuna.Study:
    study = optuna.create_study(sampler=MetaSampler(seed=seed, **kwargs))
    study.optimize(_quadratic, n_trials=n_trials)
    return study


def test_same_seed_same_suggestions() -> None:
    assert _params(_run(0)) == _params(_run(0))
    assert _params(_run(0)) != _params(_run(1))


_SUBPROCESS = """
import optuna, json, math
optuna.logging.set_verbosity(optuna.logging.WARNING)
from autometa.optuna import MetaSampler
study = optuna.create_study(sampler=MetaSampler(seed=3))
study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2 + t.suggest_int("k", 0, 4), n_trials=12)
print(json.dumps([t.params for t in study.trials]))
"""


def test_same_seed_same_suggestions_in_another_process() -> None:
    import json

    out = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS], capture_output=True, text=True, check=True
    )
    study = optuna.create_study(sampler=MetaSampler(seed=3))
    study.optimize(
        lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2 + t.suggest_int("k", 0, 4), n_trials=12
    )
    assert json.loads(out.stdout) == _params(study)


def test_finds_a_good_point_on_a_mixed_space() -> None:
    study = _run(0, n_trials=30)
    assert study.best_value < 1.0
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_warm_start_from_source_study_helps_early() -> None:
    source = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    source.optimize(_quadratic, n_trials=40)
    warm = optuna.create_study(sampler=MetaSampler(source_studies=[source], knowledge=None, seed=0))
    warm.optimize(_quadratic, n_trials=3)
    cold = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    cold.optimize(_quadratic, n_trials=3)
    assert warm.best_value < cold.best_value
    assert warm.best_value <= source.best_value + 1.0


def test_maximize_source_is_negated() -> None:
    source = optuna.create_study(direction="maximize")
    source.add_trial(
        optuna.create_trial(
            params={"x": 1.0}, distributions={"x": FloatDistribution(0, 2)}, value=3.0
        )
    )
    task = task_from_study(source)
    assert task.losses == [-3.0]


def test_failed_pruned_nan_and_inf_trials_do_not_break_it() -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        n = trial.number % 5
        if n == 1:
            raise RuntimeError("boom")
        if n == 2:
            raise optuna.TrialPruned()
        if n == 3:
            return float("nan")
        if n == 4:
            return float("inf")
        return x * x

    study = optuna.create_study(sampler=MetaSampler(seed=0))
    study.optimize(objective, n_trials=30, catch=(RuntimeError,))
    states = {t.state for t in study.trials}
    assert {TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED} <= states
    assert study.best_value < 1.0


def test_running_trials_get_distinct_suggestions() -> None:
    # Constant liar: asked-but-not-told trials must not all get the same configuration.
    for n_done in (0, 3, 12):
        study = optuna.create_study(sampler=MetaSampler(seed=0))
        study.optimize(_quadratic, n_trials=n_done)
        asked = [study.ask() for _ in range(4)]
        for t in asked:
            _quadratic(t)
        configs = {tuple(sorted(t.params.items())) for t in asked}
        assert len(configs) == 4, n_done


def test_reseed_rng_changes_suggestions_and_pickle_keeps_them() -> None:
    sampler = MetaSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(_quadratic, n_trials=12)
    clone = pickle.loads(pickle.dumps(sampler))
    deep = copy.deepcopy(sampler)
    t1 = study.ask()
    _quadratic(t1)
    for other in (clone, deep):
        s2 = optuna.create_study(sampler=other)
        for t in study.trials[:-1]:
            s2.add_trial(t)
        t2 = s2.ask()
        _quadratic(t2)
        assert t2.params == t1.params
    reseeded = pickle.loads(pickle.dumps(sampler))
    reseeded.reseed_rng()
    s3 = optuna.create_study(sampler=reseeded)
    for t in study.trials[:-1]:
        s3.add_trial(t)
    t3 = s3.ask()
    _quadratic(t3)
    assert t3.params != t1.params


def test_conditional_parameters_use_the_independent_sampler() -> None:
    calls: list[str] = []

    class Recording(optuna.samplers.RandomSampler):
        def sample_independent(self, study, trial, param_name, param_distribution):
            calls.append(param_name)
            return super().sample_independent(study, trial, param_name, param_distribution)

    def objective(trial: optuna.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["lin", "sq"])
        if kind == "lin":
            return abs(trial.suggest_float("a", -1, 1))
        return trial.suggest_float("b", -1, 1) ** 2

    study = optuna.create_study(sampler=MetaSampler(independent_sampler=Recording(seed=0), seed=0))
    study.optimize(objective, n_trials=15)
    assert {"a", "b"} <= set(calls)
    assert len(study.trials) == 15


def test_multi_objective_source_is_rejected() -> None:
    mo = optuna.create_study(directions=["minimize", "minimize"])
    with pytest.raises(ValueError, match="single-objective"):
        MetaSampler(source_studies=[mo])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_startup_trials": 0}, ValueError, "n_startup_trials"),
        ({"knowledge": 3}, TypeError, "knowledge must be"),
        ({"source_studies": ["not a study"]}, TypeError, "optuna.Study"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        MetaSampler(**kwargs)


def test_a_source_study_drives_the_first_trial_an_archived_task_does_not() -> None:
    # A source study under matching parameter names decides the very first configuration. The
    # same results archived in the meta-knowledge do not: an archived task is not trusted before
    # the study's own trials favour it, so the first trial is that of knowledge=None.
    rng = np.random.default_rng(0)
    xs = rng.uniform(-5, 5, size=60)
    task = TuningTask(
        "quad",
        {"x": FloatDistribution(-5, 5)},
        [{"x": float(x)} for x in xs],
        list((xs - 2.0) ** 2),
    )
    source = optuna.create_study()
    for x in xs:
        source.add_trial(
            optuna.trial.create_trial(
                params={"x": float(x)},
                distributions={"x": FloatDistribution(-5, 5)},
                value=float((x - 2.0) ** 2),
            )
        )

    def first(sampler: MetaSampler) -> float:
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 2.0) ** 2, n_trials=1)
        return study.trials[0].params["x"]

    assert abs(first(MetaSampler([source], knowledge=None, seed=0)) - 2.0) < 0.5
    archived = first(MetaSampler(knowledge=MetaKnowledge(tasks=[task]), seed=0))
    assert archived == first(MetaSampler(knowledge=None, seed=0))


def test_study_gp_fits_a_length_scale_per_parameter() -> None:
    # docs/sampler.md: the study GP fits one length scale per parameter (ARD) and a noise level
    # of at most 1e-2; a parameter the objective ignores gets a longer length scale.
    sampler = MetaSampler(seed=0)
    space = NormalizedSpace({"a": FloatDistribution(0, 1), "b": FloatDistribution(0, 1)})
    x = np.random.default_rng(0).random((25, 2))
    y = np.sin(6 * x[:, 0])
    gp = sampler._fit_study_gp(space, x, y, x, y)
    assert gp.lengthscale[1] > 2 * gp.lengthscale[0] and gp.noise <= 1e-2
