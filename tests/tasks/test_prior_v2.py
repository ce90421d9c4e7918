"""Prior v2: the TabICL-style draws (half binary, per-task categorical share, tree/mixed SCMs, both sides)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from autometa.tasks import InContextPriorV2, SyntheticPrior, SyntheticPriorV2


def draw(prior, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [prior.sample(rng) for _ in range(n)]


def test_every_kind_gives_valid_tasks_with_every_class_on_both_sides():
    prior = SyntheticPriorV2(d_max=12, c_max=6, n_range=(24, 48), n_query=32)
    tasks = draw(prior, 120)
    kinds = collections.Counter(t.name.split("/")[1] for t in tasks)
    assert set(kinds) == {"mlp", "scm", "gmm", "tree", "tree_scm", "mix_scm"}
    for t in tasks:
        assert np.array_equal(np.unique(t.y_support), np.unique(t.y_query))
        assert np.isfinite(t.x_support).all() and t.x_support.shape[1] == 12


def test_about_half_of_the_tasks_are_binary():
    tasks = draw(SyntheticPriorV2(d_max=8, c_max=10, n_range=(64, 64), n_query=32), 200)
    share = np.mean([t.n_classes == 2 for t in tasks])
    assert 0.45 <= share <= 0.75  # binary_prob=0.5 plus the binary draws of the class range
    tasks = draw(
        SyntheticPriorV2(d_max=8, c_max=10, n_range=(64, 64), n_query=32, binary_prob=0.0), 200
    )
    assert np.mean([t.n_classes == 2 for t in tasks]) < 0.25


def test_categorical_share_is_drawn_per_task():
    prior = SyntheticPriorV2(
        d_max=8, c_max=4, n_range=(32, 32), n_query=16, categorical_share=(0.5, 1.0)
    )
    shares = []
    for seed in range(120):
        X, _, categorical, _, _ = prior.generate(seed)
        shares.append(categorical.mean())
    shares = np.array(shares)
    assert 0.3 < np.mean(shares == 0) < 0.7  # no categorical columns in about half of the tasks
    assert np.ptp(shares[shares > 0]) > 0.3  # and a varying share in the rest


@pytest.mark.parametrize(
    "kind, digest",
    [
        ("mlp", "1417330b28850d63"),
        ("scm", "9a0374e70e55fe1d"),
        ("gmm", "fb570948cadf46dc"),
        ("tree", "1944ce90e1fec6f0"),
    ],
)
def test_the_first_prior_stream_is_unchanged_by_the_hooks(kind, digest):
    """SyntheticPrior draws exactly what it drew before the v2 hooks (digests taken on the code before them)."""
    import hashlib

    X, y, *_ = SyntheticPrior(d_max=8, c_max=4, n_range=(16, 16), n_query=8, kinds=(kind,), categorical_prob=0.3,
                              missing_prob=0.5).generate(123)  # fmt: skip
    t = SyntheticPrior(d_max=8, c_max=4, n_range=(16, 16), n_query=8, kinds=(kind,)).task_from_seed(
        7
    )
    blob = (
        np.round(np.nan_to_num(X), 8).tobytes()
        + y.tobytes()
        + np.round(np.asarray(t.x_support), 6).tobytes()
    )
    assert hashlib.sha256(blob).hexdigest()[:16] == digest


@pytest.mark.parametrize(
    "bad", [{"binary_prob": 1.5}, {"categorical_share": (0.5, 0.0)}, {"kinds": ("nope",)}]
)
def test_bad_options_are_refused(bad):
    with pytest.raises(ValueError):
        SyntheticPriorV2(**bad)


def test_in_context_prior_v2_batches_share_one_shape():
    prior = InContextPriorV2(
        d_max=16, c_max=4, datasets=[], n_support_range=(8, 32), n_query=8, max_features=8
    )
    tasks = prior.sample_batch(np.random.default_rng(0), 4)
    assert len({t.x_support.shape for t in tasks}) == 1
    assert all(t.name.startswith("in-context-prior-v2") or "/" in t.name for t in tasks)
