"""Meta-training of the sampler's knowledge: portfolios, designs, GP hyperparameters."""

from __future__ import annotations

import numpy as np

from autometa.optuna._pool import HPOBenchTable
from autometa.optuna._train import greedy_portfolio, learn_designs, learn_gp_hyperparameters


def test_greedy_portfolio_covers_tasks() -> None:
    # Two tasks, each with one good candidate: the portfolio takes both before anything else.
    ranks = np.array([[0.0, 0.9, 0.5, 0.6], [0.9, 0.0, 0.5, 0.6]])
    assert sorted(greedy_portfolio(ranks, 2)) == [0, 1]
    assert len(greedy_portfolio(ranks, 10)) == 4


def test_learned_designs_beat_random_points_on_held_out_functions() -> None:
    designs, metrics = learn_designs(2, 5, 24, 64, seed=0)
    assert set(designs) == {1, 2} and all(len(v) == 5 for v in designs.values())
    assert np.all((np.asarray(designs[2]) >= 0) & (np.asarray(designs[2]) <= 1))
    # The meta-learned design is compared with the untrained alternative (uniform random points).
    assert metrics["design_regret@5/learned"] < metrics["design_regret@5/random"]


def test_gp_hyperparameters_beat_the_untuned_default() -> None:
    ell, noise, metrics = learn_gp_hyperparameters(
        [HPOBenchTable("car"), HPOBenchTable("kc1")], 24, seed=0
    )
    assert ell > 0 and noise > 0
    assert metrics["gp_lml/meta_learned"] >= metrics["gp_lml/untuned_default"]
