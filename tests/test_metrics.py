"""The project's one ROC-AUC."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from autometa._metrics import mean_ovr_auc


def test_binary_is_the_usual_auc():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p1 = np.clip(0.3 * y + 0.7 * rng.random(200), 0, 1)
    assert mean_ovr_auc(y, np.c_[1 - p1, p1]) == pytest.approx(roc_auc_score(y, p1))


def test_multiclass_equals_sklearn_macro_ovr_when_every_class_is_present():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4)) + 1.5 * np.eye(4)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert mean_ovr_auc(y, p) == pytest.approx(
        roc_auc_score(y, p, multi_class="ovr", average="macro")
    )


def test_absent_classes_are_skipped_and_nan_counts_as_uniform():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [np.nan, np.nan, np.nan]])
    auc = mean_ovr_auc(y, p)  # class 2 has no positive row: skipped
    filled = np.nan_to_num(p, nan=1 / 3)
    assert auc == pytest.approx(np.mean([roc_auc_score(y == c, filled[:, c]) for c in (0, 1)]))
    assert np.isnan(mean_ovr_auc(np.zeros(3, int), np.full((3, 2), 0.5)))
    with pytest.raises(ValueError, match="one row per label"):
        mean_ovr_auc(y, p[:3])
