"""The HPO task pool: HPOBench tables (dev), synthetic GP-prior functions and landscapes."""

from __future__ import annotations

import numpy as np
import pytest

from autometa.optuna._pool import (
    HPOBENCH_DATASETS,
    HPOBenchTable,
    hpobench_space,
    synthetic_gp_functions,
    synthetic_landscapes,
)


def test_only_dev_tables() -> None:
    assert len(HPOBENCH_DATASETS) == 8
    assert not any("hpolib" in d or "nas" in d for d in HPOBENCH_DATASETS)
    with pytest.raises(ValueError, match="dataset_name must be one of"):
        HPOBenchTable("naval_propulsion")  # an HPOLib (reserved) table


def test_table_lookup_regret_and_task() -> None:
    table = HPOBenchTable("car")
    best = table.params_of(table.top_rows(1))[0]
    assert table.percentile_regret(best) == 0.0
    space = hpobench_space()
    for name, value in best.items():
        assert space[name]._contains(space[name].to_internal_repr(value))
    worst = table.params_of(np.argsort(table.mean_acc)[:1])[0]
    assert table.percentile_regret(worst) > 0.9
    noisy = [table.evaluate(best, np.random.default_rng(s)) for s in range(5)]
    assert table.evaluate(best) == pytest.approx(np.mean(table.seed_acc[table.row(best)]))
    assert min(noisy) <= table.evaluate(best) <= max(noisy)
    task = table.as_task(table.top_rows(10))
    assert (
        task.name == "hpobench/car"
        and len(task.losses) == 10
        and task.losses[0] == -table.mean_acc.max()
    )


def test_synthetic_gp_functions_are_seeded_and_smooth() -> None:
    pts = np.linspace(0, 1, 50)[:, None]
    f = synthetic_gp_functions(pts, 4, np.random.default_rng(0))
    g = synthetic_gp_functions(pts, 4, np.random.default_rng(0))
    assert f.shape == (4, 50) and np.array_equal(f, g)
    assert np.abs(np.diff(f, axis=1)).mean() < 0.5 * f.std()


def test_synthetic_landscapes_are_seeded_finite_and_varied() -> None:
    x = np.random.default_rng(0).random((128, 3))
    a = synthetic_landscapes(x, 40, np.random.default_rng(1))
    assert a.shape == (40, 128) and np.isfinite(a).all()
    assert np.array_equal(a, synthetic_landscapes(x, 40, np.random.default_rng(1)))
    n_levels = np.array([len(np.unique(f)) for f in a])
    assert (n_levels <= 6).any() and (n_levels == 128).any()  # plateaus and smooth kinds both occur
