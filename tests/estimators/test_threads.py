"""n_jobs: one thread budget for torch, BLAS/OpenMP and the classical members, scoped to the call."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_info, threadpool_limits

from autometa._threads import effective_n_jobs, limit_threads
from autometa.augment import MetaAugmenter
from autometa.estimators import AutoMetaClassifier, _members

FAST = {"members": ["neural", "rf", "lr"], "n_ensemble": 2}


def _pools() -> list[int]:
    return sorted(p["num_threads"] for p in threadpool_info())


@pytest.fixture
def caller_threads():
    """The caller runs with 3 torch threads and 3-thread BLAS/OpenMP pools."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    with threadpool_limits(limits=3):
        yield 3, _pools()
    torch.set_num_threads(before)


def test_effective_n_jobs_follows_scikit_learn():
    assert effective_n_jobs(None) == 1
    assert effective_n_jobs(2) == 2
    assert effective_n_jobs(-1) >= 1
    assert effective_n_jobs(-1) == effective_n_jobs(-2) + 1 or effective_n_jobs(-1) == 1
    with pytest.raises(ValueError, match="n_jobs == 0"):
        effective_n_jobs(0)


def test_limit_threads_sets_and_restores_even_on_error(caller_threads):
    n_torch, pools = caller_threads
    with pytest.raises(RuntimeError, match="boom"):
        with limit_threads(1) as n:
            assert n == 1
            assert torch.get_num_threads() == 1
            assert set(_pools()) == {1}
            raise RuntimeError("boom")
    assert torch.get_num_threads() == n_torch
    assert _pools() == pools


def test_classifier_uses_n_jobs_inside_fit_and_predict_and_restores(caller_threads, monkeypatch):
    n_torch, pools = caller_threads
    X, y = make_classification(n_samples=80, n_features=6, random_state=0)
    seen: list[tuple] = []
    original = _members.ClassicalMember.fit

    def spy(self, context, y, seed):
        out = original(self, context, y, seed)
        seen.append(
            (
                self.name,
                torch.get_num_threads(),
                set(_pools()),
                self.estimator_.get_params().get("n_jobs"),
            )
        )
        return out

    monkeypatch.setattr(_members.ClassicalMember, "fit", spy)
    clf = AutoMetaClassifier(random_state=0, n_jobs=2, **FAST).fit(X, y)
    assert seen and all(s[1] == 2 and s[2] == {2} for s in seen)
    assert dict((s[0], s[3]) for s in seen)["rf"] == 2
    assert torch.get_num_threads() == n_torch and _pools() == pools
    clf.predict_proba(X[:5])
    assert torch.get_num_threads() == n_torch and _pools() == pools


def test_default_is_one_thread(caller_threads, monkeypatch):
    X, y = make_classification(n_samples=60, n_features=5, random_state=1)
    seen = []
    original = _members.ClassicalMember.fit

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_members.ClassicalMember, "fit", spy)
    AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    assert seen and set(seen) == {1}


def test_results_equal_across_n_jobs():
    X, y = make_classification(n_samples=120, n_features=8, n_informative=4, random_state=2)
    probas = [
        AutoMetaClassifier(random_state=0, n_jobs=n, **FAST)
        .fit(X[:90], y[:90])
        .predict_proba(X[90:])
        for n in (1, 2, None)
    ]
    np.testing.assert_allclose(probas[0], probas[1], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(probas[0], probas[2])


def test_augmenter_n_jobs_restores_and_matches(caller_threads):
    n_torch, pools = caller_threads
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), np.array([0, 1] * 30)
    outs = [MetaAugmenter(random_state=0, n_jobs=n).fit_resample(X, y) for n in (1, 2)]
    assert torch.get_num_threads() == n_torch and _pools() == pools
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
