"""Table preparation shared by the estimators: target-ordered categorical levels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autometa.estimators._table import TableSpec, TargetOrder


def _frame():
    rng = np.random.default_rng(0)
    level = rng.choice(["low", "mid", "high"], size=300)
    effect = pd.Series(level).map({"low": -2.0, "mid": 0.0, "high": 2.0}).to_numpy()
    df = pd.DataFrame(
        {"x": rng.normal(size=300), "level": level, "flag": rng.choice(["a", "b"], size=300)}
    )
    return df, effect + 0.1 * rng.normal(size=300)


def test_levels_are_ranked_by_their_mean_target():
    df, z = _frame()
    order = TargetOrder().fit(df, z, TableSpec().fit(df).categorical)
    out = order.transform(df)
    assert order.columns == [1]  # the two-level column is left alone
    assert order.codes[0] == {"low": 0.0, "mid": 1.0, "high": 2.0}
    assert out["level"].dtype == np.float64 and out["flag"].tolist() == df["flag"].tolist()
    assert np.corrcoef(out["level"], z)[0, 1] > 0.95  # the codes move with the target
    assert list(out.columns) == list(df.columns) and out["x"].tolist() == df["x"].tolist()


def test_unseen_and_missing_levels_become_nan_and_rare_levels_are_shrunk():
    df = pd.DataFrame({"c": ["a", "a", "a", "b", "b", "b", "rare"]})
    z = np.array([0.0, 0.1, -0.1, 1.0, 1.1, 0.9, 1.2])
    raw = TargetOrder(smoothing=0.0).fit(df, z, [0]).codes[0]
    assert raw == {"a": 0.0, "b": 1.0, "rare": 2.0}  # one row above 'b' ranks first unshrunk ...
    shrunk = TargetOrder(smoothing=2.0).fit(df, z, [0])
    assert shrunk.codes[0] == {"a": 0.0, "rare": 1.0, "b": 2.0}  # ... but not after shrinkage
    out = shrunk.transform(pd.DataFrame({"c": ["b", "new", None]}))
    assert out["c"].iloc[0] == 2.0 and out["c"].iloc[1:].isna().all()
