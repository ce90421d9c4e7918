"""Name collisions: a study that reuses the archive's parameter names for another landscape."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from autometa.optuna import MetaSampler
from autometa.optuna._collision import COLLISIONS, collision_objective
from autometa.optuna._families import FAMILIES, make_instance
from autometa.optuna._pool import hpobench_space
from autometa.optuna._trust import compatibility, relevance, trust

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _mean_best(make, objective, seeds: range, n_trials: int = 40) -> float:
    out = []
    for seed in seeds:
        study = optuna.create_study(sampler=make(seed))
        study.optimize(objective, n_trials=n_trials)
        out.append(study.best_value)
    return float(np.mean(out))


def test_colliding_names_reach_tpe() -> None:
    # mlp5 has the archive's five names and ranges but its optimum where the archive's MLPs do
    # badly. Before trust by behaviour (and the ARD study GP) MetaSampler followed the archive:
    # mean best 0.0225 against TPE's 0.0161 on these 10 seeds (this test failed); now 0.0021.
    objective = collision_objective("mlp5").objective()
    meta = _mean_best(lambda s: MetaSampler(seed=s), objective, range(10))
    tpe = _mean_best(lambda s: optuna.samplers.TPESampler(seed=s), objective, range(10))
    assert math.isfinite(meta) and meta <= tpe, (meta, tpe)


def test_trust_prior_is_sceptical_and_follows_the_evidence() -> None:
    archive = hpobench_space()
    assert compatibility(archive, archive) == 1.0
    other = {
        "width": optuna.distributions.IntDistribution(16, 1024, log=True),
        "lr": optuna.distributions.FloatDistribution(1e-5, 1.0, log=True),
    }
    assert compatibility(archive, other) == 0.5  # one name of two, same range and kind
    wider = {"depth": optuna.distributions.IntDistribution(1, 8)}
    assert compatibility(archive, wider) == pytest.approx(2 / 7)  # archive covers depth 1-3 of 1-8
    assert relevance(0.9, 2, 0.25) == 0.25  # no evidence yet
    # smooth: chance-level agreement lowers trust step by step, agreement raises it
    trust = [relevance(0.0, n, 0.25) for n in (5, 10, 20, 40)]
    assert all(a > b for a, b in zip(trust, trust[1:], strict=False)) and trust[-1] < 0.01
    assert relevance(0.5, 20, 0.25) > 0.9


def test_the_archive_fades_from_a_study_it_does_not_predict() -> None:
    sampler = MetaSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(collision_objective("depth_alpha_batch").objective(), n_trials=30)
    from autometa.optuna._space import NormalizedSpace

    space = NormalizedSpace(study.trials[-1].distributions)
    state = sampler._space_state(space)
    assert state.tasks and all(t.archived for t in state.tasks)
    obs_x, obs_y, _, _ = sampler._history(study, study.trials[-1], space)
    _, trust, archive_on = sampler._task_weights(state.tasks, state.task_means(obs_x), obs_y)
    assert trust == 0.0 and not archive_on, trust


def test_an_unconfirmed_archive_changes_nothing() -> None:
    # Before the study's own trials favour an archived task (posterior relevance above 1/2),
    # the task proposes nothing, adds no candidates and no prior mean: on a colliding study the
    # default MetaSampler proposes exactly the trials of MetaSampler(knowledge=None). Before
    # this rule the first trial was the archive's pick and its picks took a share of the design.
    objective = collision_objective("depth_alpha_batch").objective()
    trials = []
    for knowledge in ("default", None):
        study = optuna.create_study(sampler=MetaSampler(knowledge=knowledge, seed=3))
        study.optimize(objective, n_trials=25)
        trials.append([t.params for t in study.trials])
    assert trials[0] == trials[1]


def test_trust_is_zero_until_the_odds_favour_the_task() -> None:
    assert trust(0.25) == 0.0 and trust(0.5) == 0.0
    assert trust(0.75) == pytest.approx(0.5) and trust(1.0) == 1.0
    # at the sceptical prior a task needs a few trials it ranks well before it acts
    assert trust(relevance(1.0, 3, 0.25)) == 0.0
    assert trust(relevance(0.8, 8, 0.25)) > 0.0


@pytest.mark.parametrize("family", FAMILIES)
def test_no_source_design_is_not_worse_than_random(family: str) -> None:
    # The first 10 trials without sources (scrambled Sobol, categorical combinations each once,
    # conditional parameters stratified) against random search (TPE's first 10 trials are
    # random too), 20 instances of each family the knowledge never saw. Before, with the learned
    # design, this failed on categorical, conditional and noisy.
    def regret(make) -> float:
        out = []
        for seed in range(20):
            inst = make_instance(family, seed)
            study = optuna.create_study(sampler=make(seed))
            study.optimize(inst.objective(np.random.default_rng(1000 + seed)), n_trials=10)
            out.append(inst.percentile_regret(study.best_trial.params))
        return float(np.mean(out))

    meta = regret(lambda s: MetaSampler(seed=s))
    rand = regret(lambda s: optuna.samplers.RandomSampler(seed=s))
    assert meta <= rand, (meta, rand)


def test_collision_objectives_have_optimum_zero() -> None:
    assert set(COLLISIONS) >= {"lr_width", "depth_alpha_batch", "lri_width_depth", "mlp5"}
    with pytest.raises(ValueError, match="unknown collision objective"):
        collision_objective("nope")
