"""One loop for held-out "table x size x seed" cells; each caller keeps the rows it always drew."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from autometa.tasks._cells import cell_rng_key, held_out_cells
from autometa.tasks._split import support_query_split
from autometa.tasks.datasets import load_dev_table
from autometa.tasks.roles import REGRESSOR_VALIDATION

CLS = ("sklearn/wine", "keel/iris")
REG = tuple(REGRESSOR_VALIDATION[:2])


def _rows(cells):
    return [(c.dataset, c.n, c.seed, list(c.X_train.index), list(c.X_test.index)) for c in cells]


def test_bench_classifier_recipe_seed_major_stratified_with_the_table_salt():
    # the recipe of `autometa bench classifier` before the loop was shared
    expected = []
    for seed in range(2):
        for name in CLS:
            X, y = load_dev_table(name)
            for n in (32, 64):
                if len(y) < n + 100:
                    continue
                rng = np.random.default_rng([seed, n, sum(map(ord, name))])
                train, test = support_query_split(y, n, rng)
                test = test[:40]
                test = test[np.isin(y[test], np.unique(y[train]))]
                expected.append((name, n, seed, list(X.index[train]), list(X.index[test])))
    got = held_out_cells(CLS, (32, 64), range(2), n_test=40, spare=100, seeds_outer=True)
    assert _rows(got) == expected and expected


def test_campaign_recipe_keeps_its_committed_sampler():
    # the in-context campaign's curve.json was scored on scikit-learn's stratified split
    expected = []
    for name in CLS:
        X, y = load_dev_table(name)
        for n in (32, 64):
            for seed in (0, 1):
                train, rest = train_test_split(
                    np.arange(len(y)), train_size=n, stratify=y, random_state=seed
                )
                test = rest[:50]
                test = test[np.isin(y[test], y[train])]
                expected.append((name, n, seed, list(X.index[train]), list(X.index[test])))
    got = held_out_cells(CLS, (32, 64), (0, 1), n_test=50, sampler="legacy-stratified")
    assert _rows(got) == expected


@pytest.mark.parametrize("salt", [None, 7, 31, "table"])
def test_random_recipes_of_the_regression_callers(salt):
    expected = []
    for name in REG:
        X, y = load_dev_table(name)
        for n in (32, 128):
            if len(y) < n + 50:
                continue
            for seed in range(3):
                extra = [] if salt is None else [sum(map(ord, name)) if salt == "table" else salt]
                rows = np.random.default_rng([seed, n, *extra]).permutation(len(y))
                expected.append(
                    (name, n, seed, list(X.index[rows[:n]]), list(X.index[rows[n : n + 100]]))
                )
    got = held_out_cells(REG, (32, 128), range(3), n_test=100, sampler="random", salt=salt)
    assert _rows(got) == expected and expected


def test_cells_are_disjoint_and_the_key_names_the_salt():
    for cell in held_out_cells(CLS, (32,), (0, 1, 2), n_test=60):
        assert not set(cell.X_train.index) & set(cell.X_test.index)
        assert set(cell.y_test) <= set(cell.y_train) and len(cell.y_train) == 32
    assert cell_rng_key("ab", 32, 1, "table") == [1, 32, 97 + 98]
    assert cell_rng_key("ab", 32, 1, None) == [1, 32]
    with pytest.raises(ValueError, match="sampler"):
        next(held_out_cells(CLS, (32,), (0,), n_test=5, sampler="sklearn"))
