"""Synthetic families for leave-one-family-out validation."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from autometa.optuna._families import FAMILIES, make_instance

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("family", FAMILIES)
def test_instances_are_seeded_and_regret_is_a_percentile(family: str) -> None:
    a, b, c = make_instance(family, 0), make_instance(family, 0), make_instance(family, 1)
    rng = np.random.default_rng(0)
    params = [a.sample(rng) for _ in range(50)]
    assert [a.loss(p) for p in params] == [b.loss(p) for p in params]
    assert [a.loss(p) for p in params] != [c.loss(p) for p in params]
    regrets = [a.percentile_regret(p) for p in params]
    assert all(0.0 <= r <= 1.0 for r in regrets) and len(set(regrets)) > 1
    # The objective asks Optuna for exactly the parameters that the loss reads.
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(a.objective(np.random.default_rng(0)), n_trials=5)
    for t in study.trials:
        value = a.loss(t.params)
        assert (
            t.value == pytest.approx(value) if a.noise == 0 else abs(t.value - value) < 10 * a.noise
        )


def test_unknown_family() -> None:
    with pytest.raises(ValueError, match="unknown synthetic family 'nope'"):
        make_instance("nope", 0)
