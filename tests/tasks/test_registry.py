from __future__ import annotations

import numpy as np
import pytest

from autometa.tasks import SyntheticPrior, TaskPool, list_pools, make_pool


def test_list_pools_describes_every_spec():
    pools = list_pools()
    for name in ("synthetic", "keel-dev", "sklearn", "episodic:<dataset>[:<N>way<K>shot]"):
        assert name in pools and pools[name]


def test_synthetic_specs():
    pool = make_pool("synthetic", d_max=12, c_max=4)
    assert isinstance(pool, SyntheticPrior) and isinstance(pool, TaskPool)
    assert (pool.d_max, pool.c_max) == (12, 4)
    task = pool.sample(np.random.default_rng(0))
    assert task.d_max == 12 and task.n_classes <= 4
    assert make_pool("synthetic:mlp+gmm").kinds == ("mlp", "gmm")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("", "non-empty"),
        ("imagenet", "Unknown pool"),
        ("synthetic:trees", "kinds"),
        ("synthetic@-1", "positive"),
        ("synthetic@abc", "not a number"),
        ("episodic:letter:5x1", "<N>way<K>shot"),
        ("dataset:", "at least one"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        make_pool(spec)
