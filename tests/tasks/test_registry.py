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


def test_episode_shape_parsing():
    from autometa.tasks._registry import _episode_shape

    assert _episode_shape("letter:20way5shot", "episodic", "", True) == ("letter", 20, 5)
    assert _episode_shape("letter", "episodic", "", True) == ("letter", 5, 1)
    assert _episode_shape("/data/a:b/omni:3way2shot", "images", "", False) == (
        "/data/a:b/omni",
        3,
        2,
    )
    assert _episode_shape("/data/a:b", "images", "", False) == ("/data/a:b", 5, 1)
    with pytest.raises(ValueError, match="needs a source"):
        _episode_shape("", "images", "images:/x", False)


def test_every_listed_pattern_is_understood(tmp_path):
    import pandas as pd

    pd.DataFrame({"a": range(20), "target": [0, 1] * 10}).to_csv(tmp_path / "t.csv", index=False)
    specs = [
        "synthetic",
        "keel-dev",
        "keel-balanced-dev",
        "keel-imbalanced-dev",
        "dev",
        "dataset:tae+wine",
        "episodic:letter:5way1shot",
        f"folder:{tmp_path}",
    ]
    for spec in specs:
        pool = make_pool(spec, d_max=16, c_max=5)
        assert isinstance(pool, TaskPool) and pool.d_max == 16
    assert make_pool("sklearn", split="all").datasets == [
        "sklearn/breast_cancer",
        "sklearn/digits",
        "sklearn/iris",
        "sklearn/wine",
    ]


def test_images_spec_builds_an_image_folder_pool(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for a in range(2):
        for c in range(5):
            folder = tmp_path / f"alphabet{a}" / f"character{c:02d}"
            folder.mkdir(parents=True)
            for i in range(3):
                pixels = (rng.random((6, 6)) * 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    pool = make_pool(f"images:{tmp_path}:2way1shot", split="val", image_size=6, n_query=2)
    assert pool.image_shape == (1, 6, 6) and pool.c_max == 2
    task = pool.sample(np.random.default_rng(0))
    assert task.x_support.shape == (2, 36) and task.x_query.shape == (4, 36)


def test_options_reach_the_pools_that_accept_them():
    mix = make_pool(
        "synthetic,dataset:tae",
        d_max=8,
        c_max=3,
        n_range=(16, 20),
        n_support_range=(10, 12),
        n_query=7,
    )
    synth, real = mix.pools
    assert synth.n_range == (16, 20) and synth.n_query == 7
    assert real.n_support_range == (10, 12) and real.n_query == 7
    with pytest.raises(ValueError, match="no pool accepts: \\['n_rows'\\]"):
        make_pool("synthetic", n_rows=3)
