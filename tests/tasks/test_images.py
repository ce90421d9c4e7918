"""Omniglot-format image folders and N-way K-shot image episodes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autometa.tasks import EpisodicPool
from autometa.tasks._images import ImageFolderPool, load_image_folder

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageDraw  # noqa: E402

ALPHABETS = {"Alpha": 4, "Beta": 3, "Gamma": 3}  # 10 characters in all
IMAGES_PER_CHARACTER = 5


def _draw(character: int, variant: int, size: int = 20) -> Image.Image:
    """A white image with a black shape that depends on the character, jittered per variant."""
    im = Image.new("L", (size, size), color=255)
    d = ImageDraw.Draw(im)
    j = variant % 3
    box = (2 + j, 2 + j, size - 3 - j, size - 3 - j)
    kind = character % 5
    if kind == 0:
        d.ellipse(box, outline=0, width=2)
    elif kind == 1:
        d.rectangle(box, outline=0, width=2)
    elif kind == 2:
        d.line((box[0], box[1], box[2], box[3]), fill=0, width=2)
    elif kind == 3:
        d.line((box[0], box[3], box[2], box[1]), fill=0, width=2)
    else:
        d.polygon([(size // 2, box[1]), (box[0], box[3]), (box[2], box[3])], outline=0)
    if character >= 5:  # second family: add a dot in a corner
        d.rectangle((0, 0, 3, 3), fill=0)
    d.rectangle((4 * variant, size - 3, 4 * variant + 2, size - 1), fill=0)  # every image unique
    return im


@pytest.fixture(scope="module")
def omniglot_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("omniglot")
    c = 0
    for alphabet, n_chars in ALPHABETS.items():
        for i in range(n_chars):
            folder = root / alphabet / f"character{i + 1:02d}"
            folder.mkdir(parents=True)
            for v in range(IMAGES_PER_CHARACTER):
                _draw(c, v).save(folder / f"{c:04d}_{v:02d}.png")
            c += 1
    (root / "README.txt").write_text("not an image folder")  # stray files are ignored
    return root


def test_load_image_folder_reads_greyscale_resized_and_flattened(omniglot_dir):
    folder = load_image_folder(omniglot_dir, image_size=8)
    n = sum(ALPHABETS.values()) * IMAGES_PER_CHARACTER
    assert folder.x.shape == (n, 64) and folder.x.dtype == np.float32
    assert folder.y.shape == (n,) and folder.image_shape == (1, 8, 8)
    assert folder.classes[0] == "Alpha/character01" and len(folder.classes) == 10
    assert folder.x.min() >= 0.0 and folder.x.max() <= 1.0
    assert folder.x.mean() > 0.5  # white background
    inverted = load_image_folder(omniglot_dir, image_size=(8, 8), invert=True)
    np.testing.assert_allclose(inverted.x, 1.0 - folder.x, atol=1e-6)
    assert np.bincount(folder.y).tolist() == [IMAGES_PER_CHARACTER] * 10


def test_loader_errors(tmp_path, omniglot_dir):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="No images found"):
        load_image_folder(tmp_path)
    bad = tmp_path / "A" / "c1"
    bad.mkdir(parents=True)
    (bad / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="Cannot read image"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="image_size"):
        load_image_folder(omniglot_dir, image_size=(8, 8, 1))


def test_folder_pool_splits_characters_disjointly(omniglot_dir):
    kw = dict(
        image_size=8, n_way=2, k_shot=1, n_query=2, split_seed=3, split_fractions=(0.6, 0.2, 0.2)
    )
    pools = {s: ImageFolderPool(omniglot_dir, split=s, **kw) for s in ("train", "val", "test")}
    assert isinstance(pools["train"], EpisodicPool)
    classes = {s: set(p.classes_by_split[s]) for s, p in pools.items()}
    assert classes["train"].isdisjoint(classes["val"]) and classes["train"].isdisjoint(
        classes["test"]
    )
    assert classes["val"].isdisjoint(classes["test"])
    assert set().union(*classes.values()) == set(pools["train"].folder_classes)
    assert [len(classes[s]) for s in ("train", "val", "test")] == [6, 2, 2]
    other_seed = ImageFolderPool(omniglot_dir, split="train", **{**kw, "split_seed": 4})
    assert set(other_seed.classes_by_split["train"]) != classes["train"]
    pool = pools["train"]
    assert (pool.d_max, pool.c_max, pool.image_shape) == (64, 2, (1, 8, 8))
    assert "split='train'" in repr(pool)


def test_episodes_have_the_right_shapes_labels_and_images(omniglot_dir):
    pool = ImageFolderPool(
        omniglot_dir, image_size=8, n_way=3, k_shot=2, n_query=3, split_fractions=(1, 0, 0)
    )
    task = pool.sample(np.random.default_rng(0))
    assert task.x_support.shape == (6, 64) and task.x_query.shape == (9, 64)
    assert sorted(task.y_support.tolist()) == [0, 0, 1, 1, 2, 2]
    assert sorted(task.y_query.tolist()) == [0] * 3 + [1] * 3 + [2] * 3
    assert task.n_classes == 3 and bool(task.feature_mask.all())
    # support and query rows of a class are different images of the same character
    folder = load_image_folder(omniglot_dir, image_size=8)
    rows = {
        tuple(np.round(r, 5)): folder.classes[c] for r, c in zip(folder.x, folder.y, strict=True)
    }
    for k in range(3):
        names = {
            rows[tuple(np.round(r.numpy(), 5))]
            for r in torch.cat(
                [task.x_support[task.y_support == k], task.x_query[task.y_query == k]]
            )
        }
        assert len(names) == 1
    support = {tuple(r.tolist()) for r in task.x_support}
    assert not support & {tuple(r.tolist()) for r in task.x_query}


def test_same_rng_same_episode(omniglot_dir):
    pool = ImageFolderPool(omniglot_dir, image_size=8, n_way=2, k_shot=1, n_query=1)
    a, b = pool.sample(np.random.default_rng(7)), pool.sample(np.random.default_rng(7))
    torch.testing.assert_close(a.x_support, b.x_support)
    torch.testing.assert_close(a.y_query, b.y_query)
    c = pool.sample(np.random.default_rng(8))
    assert not (torch.equal(a.x_support, c.x_support) and torch.equal(a.y_support, c.y_support))


def test_pool_errors(omniglot_dir):
    with pytest.raises(ValueError, match="n_query"):
        ImageFolderPool(omniglot_dir, image_size=8, n_way=2, k_shot=1, n_query=IMAGES_PER_CHARACTER)
    with pytest.raises(ValueError, match="Lower n_way"):
        ImageFolderPool(omniglot_dir, image_size=8, split="val", n_way=5, n_query=1)
    with pytest.raises(ValueError, match="split must be one of"):
        ImageFolderPool(omniglot_dir, image_size=8, split="dev")


@settings(max_examples=15, deadline=None)
@given(
    n_way=st.integers(2, 5),
    k_shot=st.integers(1, 2),
    n_query=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
)
def test_episode_invariants_hold_for_any_sizes(omniglot_dir, n_way, k_shot, n_query, seed):
    pool = ImageFolderPool(
        omniglot_dir,
        image_size=6,
        n_way=n_way,
        k_shot=k_shot,
        n_query=n_query,
        split_fractions=(1, 0, 0),
    )
    task = pool.sample(np.random.default_rng(seed))
    assert np.bincount(task.y_support.numpy(), minlength=n_way).tolist() == [k_shot] * n_way
    assert np.bincount(task.y_query.numpy(), minlength=n_way).tolist() == [n_query] * n_way
    assert task.x_support.shape == (n_way * k_shot, 36)
    assert float(task.x_query.min()) >= 0.0 and float(task.x_query.max()) <= 1.0


def test_protonet_meta_trains_on_folder_episodes(omniglot_dir):
    from autometa.meta import MetaTrainer, build_learner

    torch.manual_seed(0)
    train = ImageFolderPool(omniglot_dir, image_size=8, n_way=2, k_shot=1, n_query=3, split="train")
    learner = build_learner(
        "protonet",
        net={"kind": "conv4", "image_shape": list(train.image_shape), "c_max": 2, "channels": 8},
    )
    result = MetaTrainer(
        learner,
        train,
        meta_batch_size=2,
        device="cpu",
        tracking=False,
        progress=False,
        eval_every=10_000,
        checkpoint_every=10_000,
    ).fit(steps=3)
    assert result is not None
    test = ImageFolderPool(omniglot_dir, image_size=8, n_way=2, k_shot=1, n_query=3, split="test")
    from autometa.tasks import collate_tasks

    rng = np.random.default_rng(0)
    metrics = learner.evaluate(collate_tasks([test.sample(rng) for _ in range(4)], c_max=2))
    assert 0.0 <= metrics["accuracy"] <= 1.0 and np.isfinite(metrics["loss"])
